"""`kws rehearse`: the tutorial (docs/tutorial/rehearsal.md) as an instructor follows it, in a
folder of their own with relative paths: the course file with three mistakes rehearsed, its
warnings and page read, the file fixed and rehearsed again (the class and its grading kept),
nothing written outside the rehearsal's folder; and (full run) every file the rehearsal wrote
is what the real commands write, run one by one as separate processes on the same class.

The class the rehearsal makes (`kws demo --preset tiny`'s reference hand-in) is seeded here from
the session's reference hand-in, as an earlier rehearsal of this kit would have left it: the
notebooks then run once a test session, not once more here (`kws demo` has its own tests).
"""

import csv
import difflib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from course_helpers import ROOT
from graded_class import kws, snapshot

from kws.cli import main
from kws.demo.run import make_data
from kws.grading.season.course import read_course
from kws.pages import STYLE
from kws.rehearsal.handins import kit_digest, leave_todo, rename_argument, write_handin
from kws.rehearsal.marker import COMMENT, mark_class
from kws.rehearsal.season import RehearsalError, check_out, notebook_results
from kws.rehearsal.stories import Story, class_stories
from kws.spec import ASSIGNMENTS

# The full run's (docs/development/tests.md, "The two tiers"): rehearsals: a whole term played with the real commands.
pytestmark = [pytest.mark.slow, pytest.mark.full]
TUTORIAL = (ROOT / "docs" / "tutorial" / "rehearsal.md").read_text()
DRAFT, FIXED = re.findall(r"```toml\n(.*?)```", TUTORIAL, re.S)


def test_the_tutorial_s_fixed_file_is_the_kit_s_example_course():
    assert FIXED == (ROOT / "docs" / "tutorial" / "course.toml").read_text()


def _seed(folder: Path, tiny_data: Path, reference_submission: Path) -> None:
    """The class an earlier rehearsal of this kit leaves in ``folder/rehearsal/class/``."""
    kept = folder / "rehearsal" / "class"
    shutil.copytree(tiny_data, kept / "reference" / "data")
    make_data(kept / "reference" / "data", "tiny", 0)  # adds the private test sets
    shutil.copytree(reference_submission, kept / "reference" / "submission")
    stamp = {"kit": kit_digest(), "preset": "tiny", "seed": 0}
    (kept / "reference.json").write_text(json.dumps(stamp))
    (folder / "rehearsal" / "rehearsal.json").write_text("{}\n")


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory, tiny_data, reference_submission) -> dict:
    """The tutorial's two runs in the instructor's folder ``term/``: {"first": its output,
    "second": ..., "folder": term/, "first_files": a copy of rehearsal/ after the first run}."""
    folder = tmp_path_factory.mktemp("instructor") / "term"
    folder.mkdir()
    _seed(folder, tiny_data, reference_submission)
    (folder / "course.toml").write_text(DRAFT)
    first = kws(folder, "rehearse", "course.toml")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    kept = folder.parent / "first"
    shutil.copytree(
        folder / "rehearsal", kept, symlinks=True, ignore=shutil.ignore_patterns("class")
    )
    (folder / "course.toml").write_text(FIXED)
    second = kws(folder, "rehearse", "course.toml")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return {"first": first, "second": second, "folder": folder, "first_files": kept}


def test_the_first_run_says_each_mistake_with_its_line_and_fix(tutorial):
    out = tutorial["first"].stdout
    assert out.startswith('warning: course.toml, line 2: timezone = "EST" is a fixed UTC−05:00')
    assert 'did you mean timezone = "America/New_York"?' in out
    assert "warning: course.toml, line 18: [due] speaker_id = 2026-10-17 00:00 is midnight" in out
    assert "warning: course.toml, line 8: [late] cap = 0.1 is reached on the first day late" in out
    assert str(tutorial["folder"]) not in out  # every path as typed
    grade = (tutorial["first_files"] / "logs" / "01-grade.txt").read_text()  # kws grade --course
    assert 'warning: course.toml, line 2: timezone = "EST"' in grade


def test_the_page_shows_the_hour_est_moves_and_what_it_does_to_a_grade(tutorial):
    page = (tutorial["first_files"] / "rehearsal.txt").read_text()
    assert page == tutorial["first"].stdout.split("\n\n", 1)[1].rsplit("\nrehearsal: ", 1)[0]
    assert re.search(r"\[due\] keyword_spotting +2026-10-02 23:59 +Fri 02 Oct 23:59 EST +Fri 02 "
                     r"Oct 23:59 EDT +\+1 h", page)  # fmt: skip
    assert re.search(r"\[due\] patch_transformer .* no change", page)  # after the clocks go back
    assert ("A hand-in of keyword_spotting at Sat 03 Oct 00:30 EDT, 31 minutes after its "
            "deadline on America/New_York's clock, is on time under the course file as written; "
            "on America/New_York's clock it is 0.52 h late, -3.3 points") in page  # fmt: skip
    costs = next(line for line in page.splitlines() if line.startswith("speaker_id (of 48)"))
    assert costs.split()[3:] == ["-4.8", "(10%)"] * 6  # the cap, reached on the first day
    html = (tutorial["first_files"] / "rehearsal.html").read_text()
    assert "The deadlines the time zone moves" in html and "scores are synthetic" in html
    assert f"<style>{STYLE}</style>" in html  # the kit's one style sheet (kws.pages)


def test_each_student_s_dates_penalty_and_final_come_from_the_standings(tutorial):
    rows = {tuple(line.split()[:2]): line for line in
            (tutorial["first_files"] / "rehearsal.txt").read_text().splitlines()}  # fmt: skip
    standings = json.loads((tutorial["first_files"] / "grades" / "standings.json").read_text())
    late = standings["students"]["day-late"]
    # two grace days, spent on the first two notebooks; the third pays a day, as does the zip
    assert [late[n]["late"]["grace_days_used"] for n in
            ("keyword_spotting", "speaker_id", "patch_transformer")] == [1, 1, 0]  # fmt: skip
    # one rule, two channels: kws season takes 10 % of the notebook's 30 (27 of tests and 3 of
    # written questions), the zip 10 % of the 27 it grades; the page says why (and which counts)
    day_late = rows[("day-late", "patch_transformer")].split()
    assert day_late[-10:-7] == ["-3", "of", "30"]  # then the raw score
    assert day_late[-6:] == ["27", "/", "30", "-2.7", "of", "27"]
    assert rows[("day-late", "keyword_spotting")].split()[-6:] == ["33", "/", "33", "-3", "of",
                                                                   "30"]  # fmt: skip
    page = (tutorial["first_files"] / "rehearsal.txt").read_text()
    assert "the zip takes its share of the points it grades, the notebook's tests" in page
    assert (
        "The exported grades (kws export, the feedback pages, the report) are kws season's" in page
    )
    assert "Mon 19 Oct 23:59 EST" in rows[("alice", "speaker_id")]  # her own due date
    assert rows[("no-hand-in", "every")].split()[-1] == "missing"
    adjusted = standings["students"]["renamed-arg"]["keyword_spotting"]
    assert [a["points"] for a in adjusted["adjustments"]] == [2.0]
    regraded = standings["students"]["regraded"]
    assert {n: s["final"] == s["maximum"] for n, s in regraded.items()} == dict.fromkeys(
        regraded, True
    )  # graded again with the outputs: full marks (tiny data: tiers at 0)
    history = (tutorial["first_files"] / "grades" / "history" / "regrades.csv").read_text()
    assert history.startswith("student,when,earlier_raw_total,raw_total") and "regraded," in history
    todo = standings["students"]["todo-left"]["patch_transformer"]
    assert todo["raw"] < todo["maximum"]  # the TODO costs its tests


def test_the_fixed_file_rehearses_again_without_a_warning_and_keeps_the_grading(tutorial):
    out, folder = tutorial["second"].stdout, tutorial["folder"]
    assert "warning:" not in out and "None: the course file reads as" in out
    summary = json.loads((folder / "rehearsal" / "rehearsal.json").read_text())
    assert summary["reused_grading"] is True and summary["warnings"] == []
    assert (
        summary["commands"][0]
        == "kws season rehearsal/grades --course course.toml --times rehearsal/times.csv"
    )
    costs = next(line for line in out.splitlines() if line.startswith("speaker_id (of 48)"))
    assert costs.split()[3:] == ["-4.8", "(10%)", "-4.8", "(10%)", "-4.8", "(10%)", "-9.6",
                                 "(20%)", "-9.6", "(20%)", "-24", "(50%)"]  # fmt: skip
    standings = json.loads((folder / "rehearsal" / "grades" / "standings.json").read_text())
    assert standings["assignments"]["speaker_id"]["due"] == "2026-10-16T23:59:00-04:00"


def test_a_stand_in_marks_every_written_answer_and_the_marks_count(tutorial):
    folder = tutorial["folder"] / "rehearsal"
    summary = json.loads((folder / "rehearsal.json").read_text())
    assert len(summary["marked"]) == 3  # a question in each of the kit's notebooks
    assert summary["commands"][summary["marked_after"]].startswith("kws season rehearsal/grades")
    standings = json.loads((folder / "grades" / "standings.json").read_text())
    assert standings["marks"]  # the marks the standings counted
    students = standings["students"]
    for entries in students.values():  # every answer marked: none left to count as 0
        assert all(e.get("unmarked", 0) == 0 for e in entries.values() if isinstance(e, dict))
    written = {name: sum(students[name][a].get("written", 0) for a in ASSIGNMENTS)
               for name in ("on-time", "todo-left")}  # fmt: skip
    assert 0 < written["todo-left"] < written["on-time"]  # the first rubric item only
    pages = sorted((folder / "feedback" / "todo-left").glob("*.html"))
    assert pages and all("Written answers" in p.read_text() and COMMENT in p.read_text()
                         for p in pages)  # fmt: skip
    assert "marked by a stand-in person through kws mark's page" in tutorial["second"].stdout


def test_nothing_is_written_outside_the_rehearsal_s_folder(tutorial):
    folder = tutorial["folder"]
    assert sorted(p.name for p in folder.iterdir()) == ["course.toml", "rehearsal"]
    assert (folder / "course.toml").read_text() == FIXED  # only read


def test_the_rehearsal_s_page_and_folder_are_the_instructor_s_alone(tutorial):
    """Its page holds a class's grades, as a real class's exports do: the folder 0700 and the
    pages 0600, whatever the umask (the environment's: 022 on most machines)."""
    out = tutorial["folder"] / "rehearsal"
    modes = {p.name: oct(p.stat().st_mode & 0o777)
             for p in (out, out / "rehearsal.html", out / "rehearsal.txt")}  # fmt: skip
    assert modes == {"rehearsal": "0o700", "rehearsal.html": "0o600", "rehearsal.txt": "0o600"}


def test_strict_refuses_the_draft_before_anything_is_written(
    tutorial, tmp_path, monkeypatch, capsys
):
    # `kws rehearse` as typed runs in the fixture; the refusal through `kws.cli.main` here
    folder = tutorial["folder"]
    (tmp_path / "course.toml").write_text(DRAFT)
    before = snapshot(folder)
    monkeypatch.chdir(folder)
    capsys.readouterr()
    code = main(["rehearse", str(tmp_path / "course.toml"), "--strict"])
    assert code == 2 and "3 warning(s) about the course file" in capsys.readouterr().err
    assert snapshot(folder) == before


def test_a_grades_folder_or_another_folder_is_refused_as_its_folder(tmp_path):
    grades = tmp_path / "grades"
    (grades / "results").mkdir(parents=True)
    (grades / "gradebook.csv").write_text("student,total\n")
    for out in (grades, grades / "rehearsal"):
        with pytest.raises(RehearsalError, match="holds a season's grades"):
            check_out(out)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(RehearsalError, match="not an earlier rehearsal's folder"):
        check_out(tmp_path / "notes")
    check_out(tmp_path / "new")  # a new folder


def test_a_rehearsal_before_the_term_grades_its_made_up_times_on_purpose(tmp_path):
    """The tutorial's fixed course file with its due dates a year ahead (a rehearsal before the
    term): the made-up hand-in times lie ahead of now, which `kws grade` refuses from an LMS
    export; the rehearsal's own commands take them with --accept-future-times, and a season
    that is over takes no such option."""
    from datetime import datetime, timezone

    from kws.rehearsal.season import Season, season_options
    from kws.rehearsal.stories import handin_times

    year = datetime.now(timezone.utc).year
    for shift, expected in ((-1, []), (1, ["--accept-future-times"])):
        (tmp_path / "course.toml").write_text(FIXED.replace("2026-", f"{year + shift}-"))
        course = read_course(tmp_path / "course.toml", sorted(ASSIGNMENTS))
        season = Season(course, tmp_path / "rehearsal", [], class_stories(course), {}, {})
        season.times = handin_times(season.stories, course)
        options = season_options(season, Path("course.toml"))
        assert (
            options[:3] == ["--course", Path("course.toml"), "--times"] and options[4:] == expected
        )


def test_a_mistake_is_made_in_the_hand_in_s_own_files_never_through_a_link(tmp_path):
    """The class's hand-ins are hard links of the reference's files: a TODO left and a renamed
    argument replace the notebook, and the reference stays as it was."""
    reference = tmp_path / "reference"
    (reference / "outputs" / "kws").mkdir(parents=True)
    notebook = ROOT / "solutions" / "01_keyword_spotting.ipynb"
    shutil.copy(notebook, reference / notebook.name)
    config = {"task": "kws", "class": "KeywordTransformer",
              "kwargs": {"n_classes": 12, "d_model": 64, "dim_feedforward": 128}}  # fmt: skip
    (reference / "outputs" / "kws" / "config.json").write_text(json.dumps(config))
    before = snapshot(reference)
    story = Story("renamed-arg", "", mistake="renamed-argument", mistake_in="keyword_spotting")
    said = write_handin(reference, tmp_path / "a", story)
    assert said == "dim_feedforward -> feedforward_dim in 01_keyword_spotting.ipynb"
    text = (tmp_path / "a" / notebook.name).read_text()
    assert "feedforward_dim" in text and snapshot(reference) == before
    assert os.stat(tmp_path / "a" / "outputs" / "kws" / "config.json").st_nlink == 2  # linked
    leave_todo(tmp_path / "a" / notebook.name)
    assert 'raise NotImplementedError(\\"TODO: ' in (tmp_path / "a" / notebook.name).read_text()
    assert rename_argument(tmp_path / "a", tmp_path / "a" / notebook.name, ["Nothing"]) is None


# ---- the same files as the real commands write --------------------------------------------

# What differs between two runs of the same commands: when they ran, how long each grader took,
# the sandbox's user id for each child (random), and the seal's digests of those files.
WHEN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)")
RUN_SPECIFIC = [
    (re.compile(r"graded in [\d.]+ s"), "graded in … s"),
    (re.compile(r"unprivileged user id \d+"), "unprivileged user id …"),
    (re.compile(r"\(rehearsal, \d{4}-\d{2}-\d{2} \d{2}:\d{2} \w+\)"), "(rehearsal, WHEN)"),
    (re.compile(r"<h2>Grading time</h2>.*?(?=<h2>|</body>)", re.S), "GRADING TIME"),
]
NUMBERS = {"execution_time", "generation", "when", "seconds"}


def _drop(value, keys: set[str]):
    if isinstance(value, dict):
        return {k: "…" if k in keys else _drop(v, keys) for k, v in value.items()}
    return [_drop(v, keys) for v in value] if isinstance(value, list) else value


def _normalised(relative: str, data: bytes, roots: list[str]) -> str:
    """The file without what says when it was written or how long its command took."""
    text = data.decode("utf-8", errors="replace")
    for root in roots:
        text = text.replace(root, "OUT")
    for pattern, same in RUN_SPECIFIC:
        text = pattern.sub(same, text)
    if relative.endswith(".json"):
        seal = relative.endswith("records.json")  # its digests: of the files compared here
        counted = relative.endswith("standings.json")  # "marks": the digest of the marks' files
        # the plan's season: the digest of the course file and times the class was graded
        # with, the first rehearsal's (the second reuses its grading, then applies the fixed
        # course file with kws season; a plan is never written again)
        planned = relative.endswith("grades/plan.json")
        dropped = ({"files"} if seal else set()) | ({"marks"} if counted else set())
        dropped |= {"season"} if planned else set()
        text = json.dumps(_drop(json.loads(text), NUMBERS | dropped))
    if relative.endswith("gradebook.csv"):  # its seconds column: each grader's wall time
        rows = list(csv.reader(io.StringIO(text)))
        column = rows[0].index("seconds")
        text = repr([row[:column] + row[column + 1 :] for row in rows])
    return WHEN.sub("WHEN", text)


def _python(cwd: Path, module: str, *args) -> subprocess.CompletedProcess:
    """`python -m MODULE ARGS` in `cwd`, as the Gradescope zip's run_autograder runs it."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    # a guard against a hang, never a measure: a rehearsal grades a class (75 s of this suite's
    # run on 2 cores; it ran past 300 s on a machine loaded 3.5 times over)
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1800)  # fmt: skip


def _files(folder: Path) -> dict[str, bytes]:
    """{relative path: bytes} of `folder`, a zip's members as files of their own."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                found |= {f"{relative}!{n}": archive.read(n) for n in archive.namelist()}
        else:
            found[relative] = path.read_bytes()
    return found


@pytest.mark.full  # a second grading of the class, by the real commands (about 2 CPU-minutes)
def test_every_file_is_what_the_real_commands_write_on_the_same_class(tutorial):
    """The real commands, one process each, as the page lists them, on the same class with the
    fixed course file into real/: the same files as the second rehearsal's (whose grading was
    kept from the first and applied with kws season), byte for byte but for the times they ran
    at, how long each grader took (the gradebook's seconds, "graded in N s", the report's
    grading-time figure), the sandbox's random user id of each child, the regrade's history
    file name, the seal's digests and count of commands, the standings' digest of the marks,
    the plan's digest of the season it was graded with (the first rehearsal's course file), and the logs (the graders' console output, with their timings)."""
    folder, out = tutorial["folder"], "rehearsal"
    summary = json.loads((folder / out / "rehearsal.json").read_text())
    given = ["--course", "course.toml", "--times", f"{out}/times.csv"]
    data, submissions = f"{out}/class/reference/data", f"{out}/class/submissions"
    run = [["grade", submissions, "--data", data, "--out", "real/grades", "--jobs", "2", *given,
            "--roster", f"{out}/roster.csv"]]  # fmt: skip
    for words in run:
        assert kws(folder, *words).returncode == 0
    shutil.rmtree(folder / submissions / "regraded")  # the completed hand-in arrives
    (folder / out / "class" / "regrade" / "regraded").rename(folder / submissions / "regraded")
    later = [["grade", submissions, "--data", data, "--out", "real/grades", "--student",
              "regraded"]] + [shlex.split(line)[1:] for line in summary["commands"][1:]]  # fmt: skip
    stories = class_stories(read_course(folder / "course.toml", sorted(ASSIGNMENTS)))
    for number, words in enumerate(later):
        if number == summary["marked_after"]:  # the stand-in marks, through kws mark's page
            assert mark_class(folder / "real" / "grades", ROOT / "solutions", stories)
        words = [w.replace(f"{out}/grades", "real/grades").replace(f"{out}/", "real/")
                 if not w.startswith((f"{out}/class", f"{out}/times.csv")) else w
                 for w in words]  # fmt: skip
        done = kws(folder, *words)
        assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(folder / "real" / "autograder.zip") as archive:
        (folder / "real" / "gradescope").mkdir()
        (folder / "real" / "gradescope" / "course.toml").write_bytes(archive.read("course.toml"))
    for metadata in sorted((folder / out / "gradescope").glob("*/*/submission_metadata.json")):
        student, name = metadata.parent.parent.name, metadata.parent.name
        target = folder / "real" / "gradescope" / student / name
        target.mkdir(parents=True)
        shutil.copyfile(metadata, target / metadata.name)
        results = folder / "real" / "grades" / "results" / f"{student}.json"
        document = notebook_results(json.loads(results.read_text()), name)
        (target / "results.json").write_text(json.dumps(document, indent=1))
        done = _python(folder, "kws.grading.publish.gradescope.season", "--results",
                          target / "results.json", "--metadata", target / metadata.name,
                          "--course", folder / "real" / "gradescope" / "course.toml",
                          "--now", summary["gradescope_now"])  # fmt: skip
        assert done.returncode == 0, done.stderr
    roots = [str(folder / out), str(folder / "real"), f"{out}/", "real/"]
    ours, theirs = _files(folder / out), _files(folder / "real")
    for files in (ours, theirs):  # the last run's record: its command and pid are the run's own
        assert json.loads(files.pop("grades/run.lock"))["state"] == "finished"
    left_out = ("class/", "logs/", "rehearsal.", "times.csv", "roster.csv", "grades/logs/")
    ours = {k: v for k, v in ours.items() if not k.startswith(left_out)}
    stamp = re.compile(r"history/regraded-\d{8}T\d{6}Z\.json")
    ours = {stamp.sub("history/regraded-STAMP.json", k): v for k, v in ours.items()}
    theirs = {stamp.sub("history/regraded-STAMP.json", k): v for k, v in theirs.items()
              if not k.startswith("grades/logs/")}  # fmt: skip
    assert sorted(ours) == sorted(theirs)
    differ = {}
    for name in [n for n in ours if not n.endswith("report-time.png")]:  # the graders' times
        a, b = (_normalised(name, f[name], roots) for f in (ours, theirs))
        if a != b:
            lines = difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            differ[name] = "\n".join(list(lines)[2:8])
    assert differ == {}


def test_the_kit_digest_follows_every_file_of_the_kit_not_only_its_code(tmp_path, monkeypatch):
    """A changed page template, tier table or script of the kit makes the rehearsal grade its
    class again rather than reuse a grading the changed kit would not give; compiled caches and
    the rehearsal's own code do not count."""
    from kws.rehearsal import handins

    kit = tmp_path / "kws"
    for name in ("grading/plugin.py", "templates/report.html", "testsets/tiers.json",
                 "rehearsal/season.py"):  # fmt: skip
        (kit / name).parent.mkdir(parents=True, exist_ok=True)
        (kit / name).write_text(name)
    monkeypatch.setattr(handins, "KIT", kit)
    before = handins.kit_digest()
    (kit / "grading" / "__pycache__").mkdir()
    (kit / "grading" / "__pycache__" / "plugin.cpython-311.pyc").write_bytes(b"\0")
    (kit / "rehearsal" / "season.py").write_text("changed")
    (kit / "rehearsal" / "__init__.py").write_text("")
    assert handins.kit_digest() == before
    for name in ("templates/report.html", "testsets/tiers.json"):
        (kit / name).write_text(name + " changed")
        assert handins.kit_digest() != before, name
        (kit / name).write_text(name)
    assert handins.kit_digest() == before
