"""`kws feedback`: a page per student and notebook, from what the real grader wrote.

A class of three notebook-01 hand-ins (the reference's Task 1 and recipe, independent work, the
released notebook) is graded by the real `kws grade` command in an instructor's folder; a late
hand-in and an adjustment are recorded with the season's own writer
(`kws.grading.season.apply.write_records`: standings.json, the gradebook, the seal); the pages are written by `kws feedback` run there with relative
paths, then read as text and in headless Chromium."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

import pytest
from in_process import kws_here
from records_helpers import ungraded
from report_helpers import RECIPES, ROOT, TASK1, solution_cells, write_handin

from kws.grading.judge.document import TestResult, results_document, write_results
from kws.grading.judge.tiers import TierSet, tier_credit
from kws.grading.publish.feedback.html import write_feedback
from kws.grading.publish.feedback.rerun import KIT_NOTEBOOKS, rerun_for, self_check_cells
from kws.grading.records.gradebook import Graded, write_gradebook, write_similar_to
from kws.grading.records.grades import read_grades
from kws.grading.records.seal import seal
from kws.grading.records.standings import (
    Adjustment,
    Late,
    Standing,
    Standings,
    StandingsError,
    write_standings,
)
from kws.grading.season.apply import write_records
from kws.grading.season.compute import class_standings, with_standings
from kws.pages import CSP, STYLE
from kws.spec import ASSIGNMENTS

SPEC = ASSIGNMENTS["keyword_spotting"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
KWS = [sys.executable, "-m", "kws.cli"]
LATE = Late(
    submitted="2026-10-03T04:59:00+02:00",
    due="2026-10-02T23:59:00+02:00",
    hours_late=5.0,
    grace_days_used=0,
    penalty=3.0,
    rule="10 % of the maximum a day late, capped at 50 %",
    source="times CSV",
)
BONUS = Adjustment(
    2.5, "Task 2 regraded by hand: the stem was right", "Dr. Ng", "2026-10-09T10:00:00Z"
)


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`kws ARGS` typed in `folder`: `kws grade` in a process of its own, `kws feedback` (records
    read, pages written) in this process."""
    if args[0] != "grade":
        return kws_here(folder, *args)
    return subprocess.run([*KWS, *args], cwd=folder, capture_output=True, text=True)


@pytest.fixture(scope="module")
def course(tmp_path_factory, tiny_data):
    """The instructor's folder: data/ (a copy of the session's tiny data), submissions/ (ann,
    dee, fresh) and grades/ as the real `kws grade` wrote it, with a standings.json and the
    gradebook's similar_to column."""
    folder = tmp_path_factory.mktemp("course")
    shutil.copytree(tiny_data, folder / "data", symlinks=True)
    write_handin(folder / "submissions" / "ann", *solution_cells())
    write_handin(folder / "submissions" / "dee", TASK1["C"], RECIPES["C"])
    (folder / "submissions" / "fresh").mkdir()
    shutil.copy(ROOT / "assignments" / SPEC.notebook, folder / "submissions" / "fresh")
    graded = _run(folder, "grade", "submissions", "--data", "data", "--out", "grades",
                  "--assignment", SPEC.name)  # fmt: skip
    assert graded.returncode == 0, graded.stderr
    grades = with_standings(read_grades(folder / "grades"))
    write_similar_to(grades, {"ann": "dee 91 %", "dee": "ann 91 %"})  # what `kws report` adds
    raw = {s.name: round(sum(t["score"] for t in s.tests), 4) for s in grades.students}
    standings = Standings(
        {SPEC.name: {"title": "Notebook 01 - keyword spotting", "due": LATE.due, "maximum": 30.0}},
        {name: {SPEC.name: Standing("graded", score, 30.0, score)} for name, score in raw.items()},
        marks=grades.standings.marks,  # the written questions `kws grade` recorded, counted
    )
    final = max(0.0, raw["dee"] - LATE.penalty + BONUS.points)
    standings.students["dee"][SPEC.name] = Standing(
        "graded", raw["dee"], 30.0, final, LATE, (BONUS,)
    )
    write_records(read_grades(folder / "grades"), standings, "kws season")  # as it writes them
    written = _run(folder, "feedback", "grades", "--out", "feedback")
    assert written.returncode == 0, written.stderr
    return folder, raw, written.stdout


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_every_graded_check_of_every_notebook_has_a_self_check_cell_to_run_again(name):
    """Each numeric test's check, and each model task's tests, lead to a cell of the released
    notebook that runs public checks on the name they judge, in the section of its task."""
    spec = ASSIGNMENTS[name]
    cells = self_check_cells(KIT_NOTEBOOKS / spec.notebook)
    checks = spec.checks().NUMERIC
    for test, numeric in spec.numeric.items():
        cell = rerun_for(spec, {"name": numeric.title, "extra_data": {"test": test}}, cells)
        assert cell is not None and "check." in cell.code, test
        task = re.match(r"Task \d+", numeric.title)
        uses = re.search(rf"\b{checks[numeric.component].name}\b", cell.code)
        assert uses or (task and task.group() in cell.section), (test, cell.section)
    for task in spec.model_tasks:
        facts = {"test": "test_accuracy", "task": task}
        cell = rerun_for(spec, {"name": "Accuracy", "extra_data": facts}, cells)
        assert cell is not None and "check." in cell.code, task


def test_the_token_budget_tests_lead_to_their_task_self_check_cell():
    """Task 2's budget tests carry their task (a pytest marker the results record), so a failed
    budget leads the student to a self-check cell to run again."""
    from kws.assignments.keyword_spotting.graded_tests import test_01_tasks as grader

    cells = self_check_cells(KIT_NOTEBOOKS / SPEC.notebook)
    for test in (grader.test_tokens_budget, grader.test_tokens_attention_memory):
        tasks = [m.args[0] for m in getattr(test, "pytestmark", []) if m.name == "task"]
        assert tasks == [grader.MODEL_TASK], test.__name__
        facts = {"test": test.__name__, "task": tasks[0]}
        title = test.__doc__.split(":")[0]
        cell = rerun_for(SPEC, {"name": title, "extra_data": facts}, cells)
        assert cell is not None and "check." in cell.code, test.__name__


def _page(folder: Path, student: str) -> str:
    return (folder / "feedback" / student / f"{SPEC.name}.html").read_text(encoding="utf-8")


def test_the_command_writes_a_folder_and_a_zip_per_student(course):
    """A page per student in their own folder and a zip of it, which holds only the pages this
    run wrote (a stale page from an earlier run stays out)."""
    folder, raw, printed = course
    assert "3 page(s) in feedback/<student>/, 3 zip(s)" in printed
    (folder / "feedback" / "ann" / "speaker_id.html").write_text("an earlier run's page")
    assert _run(folder, "feedback", "grades", "--out", "feedback").returncode == 0
    for student in raw:
        with zipfile.ZipFile(folder / "feedback" / "zips" / f"{student}.zip") as bundle:
            assert bundle.namelist() == [f"{student}/{SPEC.name}.html"]
            page = bundle.read(f"{student}/{SPEC.name}.html").decode()
        assert page == _page(folder, student) and f"Feedback for <b>{student}</b>" in page
        assert f"<style>{STYLE}</style>" in page  # the kit's one style sheet (kws.pages)


def test_each_test_shows_its_points_message_and_the_self_check_to_run_again(course):
    """Every test the grader wrote is on the page with its points and message; a failed Task 1
    test points to the cell running check.twelve_class_data, a failed Task 2 token test to the
    one running check.conv_tokenizer, and a passed test to nothing."""
    folder, raw, _ = course
    results = json.loads((folder / "grades/results/fresh.json").read_text())
    page = _page(folder, "fresh")
    for test in results["tests"]:
        points = f"{test['score']:.4g} / {test['max_score']:.4g}"
        assert f'<td>{escape(test["name"])}</td><td class="n">{points}</td>' in page
    assert re.search(r"<pre class='cell'>[^<]*check\.twelve_class_data\(", page)
    assert re.search(r"<pre class='cell'>[^<]*check\.conv_tokenizer\(ConvTokenizer\)", page)
    assert "run again: <i>1. Twelve classes" in page
    dee = _page(folder, "dee")  # dee's Task 1 passes: its cell is not listed to run again
    assert "check.twelve_class_data" not in dee and "check.conv_tokenizer" in dee
    assert f"<b>{raw['fresh']:.4g} / 30</b>" in page


def test_the_late_penalty_and_adjustments_come_from_standings(course):
    folder, raw, _ = course
    page = _page(folder, "dee")
    final = raw["dee"] - LATE.penalty + BONUS.points
    assert f"<b>{final:.4g} / 30</b>" in page
    assert "5.0 h late" in page and LATE.rule in page and "−3</td>" in page
    assert BONUS.reason in page and "Dr. Ng" in page and "+2.5</td>" in page
    assert "Late:" not in _page(folder, "ann") and "Adjustment:" not in _page(folder, "ann")


def test_no_page_shows_another_student_similarity_or_hidden_data(course):
    """Nothing of another student (names, scores), the similar_to column, the grading
    machine's folders or sandbox, or the hidden test set's clips reaches a page."""
    folder, raw, _ = course
    clips = [p.name for p in (folder / "data/speech_commands_test_set_v0.02").rglob("*.wav")]
    assert clips
    for student in raw:
        page = _page(folder, student)
        others = [name for name in raw if name != student]
        assert not [name for name in others if re.search(rf"\b{name}\b", page)], student
        assert "91 %" not in page and "similar" not in page.lower()
        assert str(folder) not in page and "sandbox" not in page and "bubblewrap" not in page
        assert not [clip for clip in clips if clip in page]


def read_results(path: Path) -> dict:
    return json.loads(path.read_text())


def _writer_class(folder: Path, visibility: dict[str, str], due: str | None) -> Path:
    """A one-student grade folder written with the grader's own writers: an accuracy test
    (partial credit by tier) and two Task 1 tests whose visibility is `visibility`."""
    tiers = TierSet("synthetic-small", SPEC.tiers["synthetic-small"], "--dataset")
    fraction, message = tier_credit(0.874, tiers.tiers, "strong")
    facts = {"assignment": SPEC.name}
    tests = [
        TestResult(
            "Accuracy on the hidden test set",
            8 * fraction,
            8.0,
            "passed",
            message,
            "visible",
            facts | {"test": "test_accuracy", "task": "kws"},
        ),  # fmt: skip
        TestResult(
            "Task 1: keywords keep their word",
            0.0,
            1.0,
            "failed",
            "SECRET-ONE",
            visibility["one"],
            facts | {"test": "test_data_keywords"},
        ),  # fmt: skip
        TestResult(
            "Task 1: unknown down-sampled",
            0.0,
            2.0,
            "failed",
            "SECRET-TWO",
            visibility["two"],
            facts | {"test": "test_data_unknown"},
        ),  # fmt: skip
    ]
    output = f"Accuracy tiers for keyword_spotting: {tiers.describe()}."
    write_results(folder / "results/eve.json", results_document(tests, output=output,
                  execution_time=3, extra_data={}))  # fmt: skip
    write_gradebook([Graded("eve", read_results(folder / "results/eve.json"), "", 3.0)],
                    folder / "gradebook.csv")  # fmt: skip
    write_standings(folder, Standings({SPEC.name: {"title": "Notebook 01", "due": due}}, {}))
    seal(folder, "kws grade")  # the folder as the command that wrote it finished it
    return folder


def test_accuracy_stands_against_the_tiers_in_a_picture(tmp_path):
    grades = _writer_class(tmp_path / "grades", {"one": "visible", "two": "visible"}, None)
    page = write_feedback(grades, tmp_path / "out").pages[0].read_text()
    assert "accuracy 0.8740 reaches the strong tier; full marks at strong (0.85)" in page
    assert "<svg" in page and "you: 0.8740" in page
    assert re.search(r'font-weight="bold">strong 0.85</text>', page)
    assert re.search(r'font-weight="normal">boss 0.92</text>', page)
    offline = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in offline and "https://" not in offline  # no remote resource


def test_hidden_tests_and_tests_after_the_due_date_show_what_gradescope_would(tmp_path):
    """A hidden test never appears (its name, message or points); one shown after the due date
    appears only once the due date has passed, and until then the total is withheld."""
    visibility = {"one": "hidden", "two": "after_due_date"}
    due = "2026-10-02T23:59:00+02:00"
    grades = _writer_class(tmp_path / "grades", visibility, due)
    before = datetime.fromisoformat(due) - timedelta(hours=1)
    page = write_feedback(grades, tmp_path / "before", now=before).pages[0].read_text()
    assert "SECRET" not in page and "keywords keep their word" not in page
    assert "unknown down-sampled" not in page and "2 tests are not shown here" in page
    assert "shown after the due date" in page and "/ 11</b>" not in page
    after = datetime.fromisoformat(due).astimezone(timezone.utc) + timedelta(minutes=1)
    page = write_feedback(grades, tmp_path / "after", now=after).pages[0].read_text()
    assert "SECRET-ONE" not in page and "keywords keep their word" not in page
    assert "SECRET-TWO" in page and "1 test is not shown here" in page
    assert "/ 11</b>" in page  # the total counts the hidden test's points, as Gradescope's does


def test_a_due_date_without_an_offset_is_read_as_utc():
    from kws.grading.publish.feedback.pages import is_shown

    test = {"visibility": "after_due_date"}
    due = datetime(2026, 10, 2, 22, 0, tzinfo=timezone.utc)
    assert not is_shown(test, "2026-10-02T22:00:00", due - timedelta(seconds=1))
    assert is_shown(test, "2026-10-02T22:00:00", due)
    assert not is_shown(test, None, due) and not is_shown({"visibility": "hidden"}, None, due)
    with pytest.raises(StandingsError, match="'next friday' is no ISO 8601 time"):
        is_shown(test, "next friday", due)


def test_a_hand_in_the_grader_could_not_grade_gets_a_page_saying_so(tmp_path):
    """A crash leaves results that grade nothing, with the reason: the student's page says the
    grader could not grade it and shows their adjustment, never the reason (it names the
    grading machine's folders)."""
    grades = _writer_class(tmp_path / "grades", {"one": "visible", "two": "visible"}, None)
    eve = Graded("eve", read_results(grades / "results/eve.json"), "", 3.0)
    crash = "the grader exited with code 1: /srv/grading/secret/kws_child.py failed"
    write_gradebook([eve, ungraded(grades, "gus", crash, 1.0)], grades / "gradebook.csv")
    kept = Standing("ungraded", 0.0, 30.0, 4.0, None, (replace(BONUS, points=4.0),))
    standings = class_standings(read_grades(grades))
    standings.students["gus"] = {SPEC.name: kept}
    write_records(read_grades(grades), standings, "kws adjust")
    done = _run(tmp_path, "feedback", "grades")
    assert done.returncode == 0 and "not graded (their page says so" in done.stdout
    page = (tmp_path / "feedback" / "gus" / f"{SPEC.name}.html").read_text()
    assert "could not grade your hand-in: it stopped with an error" in page
    assert "/srv/grading" not in page and "exited with code" not in page
    assert "+4</td>" in page and BONUS.reason in page and "eve" not in page


def test_the_cells_to_run_again_come_from_the_notebooks_given(tmp_path):
    """`--notebooks DIR` (an instructor's own released notebooks) is where the cells to run
    again are read; without it, the kit's assignments/."""
    import nbformat

    _writer_class(tmp_path / "grades", {"one": "visible", "two": "visible"}, None)
    notebook = nbformat.read(ROOT / "assignments" / SPEC.notebook, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## 1."):
            cell.source = "## Our own Task 1 section\n\nAs our course words it."
    (tmp_path / "handout").mkdir()
    nbformat.write(notebook, tmp_path / "handout" / SPEC.notebook)
    assert _run(tmp_path, "feedback", "grades", "--notebooks", "handout").returncode == 0
    page = (tmp_path / "feedback" / "eve" / f"{SPEC.name}.html").read_text()
    assert "In “Our own Task 1 section”" in page and "check.twelve_class_data(" in page
    assert _run(tmp_path, "feedback", "grades", "--out", "kit").returncode == 0
    page = (tmp_path / "kit" / "eve" / f"{SPEC.name}.html").read_text()
    assert "Our own Task 1" not in page and "In “1. Twelve classes" in page


def test_errors_name_the_folder_and_the_fix(tmp_path):
    done = _run(tmp_path, "feedback", "nowhere")
    assert done.returncode == 2 and "nowhere/gradebook.csv: no gradebook" in done.stderr
    grades = _writer_class(tmp_path / "grades", {"one": "visible", "two": "visible"}, None)
    (grades / "standings.json").write_text('{"version": 7}')
    done = _run(tmp_path, "feedback", "grades")
    assert done.returncode == 2 and "grades/standings.json cannot be read" in done.stderr


CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--virtual-time-budget=3000"]  # fmt: skip
PROBE = """<script>window.addEventListener("load", () => { const b = document.body.dataset;
b.finalShown = document.querySelector("#final b").innerText;
b.failedRows = document.querySelectorAll("tr.failed").length;
b.passedRows = document.querySelectorAll("tr.passed").length; });</script>"""


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium)"
)
def test_a_page_opens_in_headless_chromium_with_the_right_numbers(course, tmp_path):
    """Chromium renders dee's page (not blank), shows the final score the standings give and a
    row per test, and prints it to PDF with the print stylesheet."""
    folder, raw, _ = course
    flags = [*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    page = folder / "feedback" / "dee" / f"{SPEC.name}.html"
    probe = tmp_path / "probe.html"
    policy = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'  # lets no script run
    probe.write_text(page.read_text().replace(policy, "").replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout  # fmt: skip
    results = json.loads((folder / "grades/results/dee.json").read_text())["tests"]
    failed = sum(1 for t in results if t["score"] < t["max_score"])
    final = raw["dee"] - LATE.penalty + BONUS.points
    assert f'data-final-shown="{final:.4g} / 30"' in dom
    assert f'data-failed-rows="{failed}"' in dom
    assert f'data-passed-rows="{len(results) - failed}"' in dom
    pdf = tmp_path / "dee.pdf"
    subprocess.run([CHROMIUM, *flags, f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                    page.as_uri()], capture_output=True, timeout=120)  # fmt: skip
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5000


WORKSHEET = """Identifier,Full name,Email address,Status,Grade,Maximum Grade,Feedback comments,folder
Participant 1001,Ann Lee,ann@example.edu,Submitted for grading,,30,,ann
Participant 1002,Dee_Dee Roe,dee@example.edu,Submitted for grading,,30,,dee
"""


def test_a_moodle_zip_names_each_folder_as_moodles_importer_reads_it(course):
    """With Moodle's grading worksheet, one zip per notebook: a folder per participant,
    ``<full name>_<participant id>_assignfeedback_file_``, which Moodle splits at ``_`` into
    the name, the participant id and the feedback plugin; a student the worksheet lacks is
    named, and a worksheet without Identifier is refused with the fix."""
    folder, _, _ = course
    (folder / "worksheet.csv").write_text(WORKSHEET)
    done = _run(folder, "feedback", "grades", "--out", "lms", "--moodle", "worksheet.csv")
    assert done.returncode == 0, done.stderr
    assert "not in the worksheet, so not in the Moodle zip: fresh" in done.stdout
    with zipfile.ZipFile(folder / "lms" / f"moodle-{SPEC.name}.zip") as bundle:
        names = sorted(bundle.namelist())
        assert bundle.read(names[0]).decode() == _page(folder, "ann")
    assert names == [
        f"Ann Lee_1001_assignfeedback_file_/{SPEC.name}.html",
        f"Dee Dee Roe_1002_assignfeedback_file_/{SPEC.name}.html",
    ]
    for name in names:
        parts = name.split("/")[0].split("_", 4)
        assert parts[1].isdigit() and parts[2:4] == ["assignfeedback", "file"]
    (folder / "plain.csv").write_text("folder,Email address\nann,ann@example.edu\n")
    done = _run(folder, "feedback", "grades", "--out", "lms", "--moodle", "plain.csv")
    assert done.returncode == 2 and "no Identifier column" in done.stderr
    assert "Download grading worksheet" in done.stderr


@pytest.mark.slow
def test_the_reference_hand_in_graded_for_real_has_its_accuracies_on_every_page(
    tmp_path, tiny_data, real_class
):
    """The reference hand-in (every notebook, executed on the tiny data) graded by `kws grade`
    among its class (the session's `real_class`, tests/conftest.py): a page per notebook, each
    task's accuracy against the tier lines the run used, every test passed, and nothing of the
    hidden speaker labels."""
    shutil.copytree(real_class, tmp_path / "grades", symlinks=True)
    assert _run(tmp_path, "feedback", "grades").returncode == 0
    pages = {p.stem: p.read_text() for p in (tmp_path / "feedback" / "ref").glob("*.html")}
    assert set(pages) == set(ASSIGNMENTS)
    labels = (tiny_data / "speaker_features_hidden" / "test_labels.csv").read_text()
    hidden = {cell for line in labels.splitlines()[1:] for cell in line.split(",") if cell}
    for name, page in pages.items():
        spec = ASSIGNMENTS[name]
        targeted = [task for task in spec.tasks.values() if task.target]
        assert page.count("<svg") == len(targeted), name
        for task in targeted:
            line = spec.tiers["synthetic-tiny"][task.target]
            assert f"Task {task.name}: accuracy " in page
            assert f"full marks at {task.target} ({line:.4g})" in page
        assert 'class="failed"' not in page and "What to run again" not in page
        assert not [cell for cell in hidden if cell in page], name


def test_a_page_gives_the_students_own_due_date_and_every_time_in_the_courses_zone(tmp_path):
    """eve has an extension to 5 October; her hand-in time came in UTC (a times CSV), the due
    date in New York time: her page names her own due date, says it is her extension, and
    gives both times in the course's zone. A test shown after the due date waits for hers."""
    grades = _writer_class(tmp_path / "grades", {"one": "visible", "two": "after_due_date"},
                           "2026-10-02T23:59:00-04:00")  # fmt: skip
    (grades / "course.toml").write_text(
        'timezone = "America/New_York"\n[late]\nper_day = 0.1\n'
        '[due]\nkeyword_spotting = "2026-10-02 23:59"\n'
        '[extensions.eve]\nkeyword_spotting = "2026-10-05 23:59"\n'
    )
    late = replace(LATE, submitted="2026-10-06T05:30:00+00:00", due="2026-10-05T23:59:00-04:00")
    standing = Standing("graded", 8.0, 11.0, 7.0, late)
    write_records(read_grades(grades), Standings({SPEC.name: {"title": "Notebook 01",
                                                              "due": "2026-10-02T23:59:00-04:00"}},
                                                 {"eve": {SPEC.name: standing}}), "kws season")  # fmt: skip
    between = datetime(2026, 10, 4, 12, 0, tzinfo=timezone.utc)  # after the class's, before hers
    page = write_feedback(grades, tmp_path / "out", now=between).pages[0].read_text()
    assert "· due 2026-10-05 23:59 EDT (your extension)</div>" in page
    assert "2026-10-02" not in page
    assert "SECRET-TWO" not in page and "shown after the due date" in page
    after = datetime(2026, 10, 6, 4, 0, tzinfo=timezone.utc)  # 00:00 EDT, her due date passed
    page = write_feedback(grades, tmp_path / "out", now=after).pages[0].read_text()
    assert "SECRET-TWO" in page and "<b>7 / 11</b>" in page
    assert "handed in 2026-10-06 01:30 EDT, due 2026-10-05 23:59 EDT" in page
    assert "2026-10-02" not in page and "+00:00" not in page and "05:30" not in page


def test_the_pages_speak_the_language_kws_language_names(course):
    """`kws feedback` with KWS_LANGUAGE=zh-TW (no course file names one): the pages' own
    sentences in Traditional Chinese (tests/test_languages.py: every part of a page, and Polish)."""
    folder, raw, _ = course
    env = dict(os.environ, KWS_LANGUAGE="zh-TW")
    assert kws_here(folder, "feedback", "grades", "--out", "feedback-zh", env=env).returncode == 0
    page = (folder / "feedback-zh" / "fresh" / f"{SPEC.name}.html").read_text(encoding="utf-8")
    assert '<html lang="zh-TW">' in page and "<b>fresh</b> 的回饋" in page
    assert "<h2>測試</h2>" in page and "要重新執行的部分" in page
    assert "Feedback for" not in page and "<h2>Tests</h2>" not in page
    assert "Feedback for <b>fresh</b>" in _page(folder, "fresh")  # English without it
