"""The tutorial "Your own keyword-spotting assignment" (docs/tutorial/own-keyword.md), as an
instructor follows it: from an empty folder outside the kit, the page's files written as it
shows them and its commands run as written (`kws` on the PATH). Its course is released with
its private test set, a student checks a hand-in with the bundle alone, the class is graded,
given feedback and a Gradescope zip, and its season rehearsed: what an own course on Speech
Commands clips needs of every command, with nothing done by hand in between."""

import json
import re
import shutil
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from course_helpers import ROOT
from test_own_tutorial import Shell, run_handin, sections

# The full run's (docs/development/tests.md, "The two tiers"): the own-keyword tutorial as written: notebooks run, models trained, a class graded.
pytestmark = [pytest.mark.slow, pytest.mark.full]
PAGE = ROOT / "docs" / "tutorial" / "own-keyword.md"
NOTEBOOK = ROOT / "docs" / "tutorial" / "own" / "05_keyword_cnn.ipynb"
NAME = "keyword_cnn"
NORMALIZE = "Task 1: normalize_frames"

# Hand-ins that each break one thing: (the model cell's text, what replaces it, the tests they
# must lose, by the start of their names).
BROKEN = {
    "variance": ("return (x - mean) / (std + eps)", "return (x - mean) / (std**2 + eps)",
                 [NORMALIZE, NORMALIZE]),
    "wide": ("channels=24", "channels=64", ["Task 1: the model holds at most 20k weights"]),
}  # fmt: skip


def section(name: str) -> list[tuple[str, str]]:
    return next(blocks for heading, blocks in sections(PAGE.read_text()).items() if name in heading)


def _write_files(shell: Shell, blocks: list[tuple[str, str]]) -> int:
    """Write each block whose first line names its file (``# course/...``); the lines written."""
    written = 0
    for lang, code in blocks:
        first = code.splitlines()[0]
        if (
            lang in ("toml", "python")
            and first.startswith("# ")
            and "/" in first
            or (first == "# course.toml")
        ):
            (shell.cwd / first[2:].strip()).write_text(code)
            written += len(code.splitlines())
    return written


def _hand_in(shell: Shell, student: str) -> Path:
    """`student`'s hand-in: the solution notebook broken as `BROKEN` says, run at the tiny
    budget in its folder under ``subs/``."""
    old, new, _ = BROKEN[student]
    folder = shell.cwd / "subs" / student
    folder.mkdir(parents=True)
    nb = nbformat.read(shell.cwd / "course" / "solutions" / NOTEBOOK.name, as_version=4)
    cell = next(c for c in nb.cells if "model" in c.metadata.get("tags", []))
    assert old in cell.source, old
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, folder / NOTEBOOK.name)
    run_handin(shell, folder / NOTEBOOK.name, shell.cwd / "data", "30")
    return folder


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory) -> dict:
    """The page followed from an empty folder: {"shell", "written"}."""
    shell = Shell.started(tmp_path_factory, section("1. An empty folder")[0][1], NOTEBOOK)
    written = _write_files(shell, section("3. The spec") + section("4. The numeric checks"))
    shell.run(section("5. Let the kit write the rest")[0][1])
    shell.run(section("6. Data, a private test set")[0][1])
    shell.run(section("7. The student bundle")[0][1])
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda student: _hand_in(shell, student), BROKEN))
    shutil.copytree(shell.cwd / "reference" / NAME / "seed0", shell.cwd / "subs" / "ada",
                    ignore=shutil.ignore_patterns("results"))  # fmt: skip
    shell.run(section("8. Grade the class")[0][1])
    _write_files(shell, section("9. Rehearse the season"))
    shell.run(section("9. Rehearse the season")[1][1])
    return {"shell": shell, "written": written}


def _run(shell: Shell, *words: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(list(words), cwd=cwd or shell.cwd, env=env or shell.env,
                          capture_output=True, text=True)  # fmt: skip


def test_the_page_shows_the_notebook_it_links_and_counts_the_lines_written(tutorial):
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells]
    shown = [code.rstrip("\n") for _, code in section("2. The solution notebook")]
    assert shown == cells
    assert f"{tutorial['written']} lines together" in PAGE.read_text()


def test_kws_assign_writes_what_the_page_shows_and_counts_the_written_points(
    tutorial, tmp_path, monkeypatch, capsys
):
    shell = tutorial["shell"]
    assert shell.outputs["kws assign"].stdout == section("5. Let the kit write the rest")[1][1]
    # a reference solution in a shipped file: kws assign names it, and where it belongs
    course = shutil.copytree(shell.cwd / "course", tmp_path / "course")
    checks = course / NAME / "checks.py"
    checks.write_text(checks.read_text() + "\n\ndef reference_normalize(x):\n    return x\n")
    done = shell.here("assign", cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    assert done.returncode == 0, done.stderr
    assert "checks.py, line" in done.stdout
    assert "function reference_normalize: ships to students" in done.stdout
    assert f"the numeric check that uses it, into course/{NAME}/grader_checks.py" in done.stdout


def test_the_reference_names_the_tiers_by_their_data_and_measures_gap_and_cost(tutorial):
    shell = tutorial["shell"]
    out = shell.outputs["kws reference --data data --seeds 0 1 2 --write-tiers"].stdout
    assert "✓ the reference gets full marks at every seed; a tenth of the budget does not" in out
    for line in section("6. Data, a private test set")[1][1].splitlines():
        for part in line.strip().split("..."):
            assert part.strip() in out, part
    spec = (shell.cwd / "course" / NAME / "spec.toml").read_text()
    assert re.search(r"^synthetic-tiny-variant = \{ simple = [\d.]+, .* \}  # kws", spec, re.M)
    assert "synthetic-tiny =" not in spec  # measured on the private variant: named so
    gap = re.search(r"^\[public_gap\].*\nsynthetic-tiny-variant = ([\d.]+)", spec, re.M)
    gaps = re.findall(r"public accuracy leads by ((?:[+-][\d.]+ )+)", out)[0].split()
    assert float(gap[1]) >= max(float(g) for g in gaps) + 0.03 - 1e-9
    assert re.search(r"^\[grading\].*\ncpu_seconds = [\d.]+\nmeasured_size = 96\npeak_mib = \d+",
                     spec, re.M)  # fmt: skip
    record = json.loads((shell.cwd / "reference" / "reference.json").read_text())
    tenth = next(r for r in record["assignments"][NAME]["runs"] if r["tenth"])
    assert tenth["score"] < tenth["max_score"] and tenth["lost"]  # what it lost, accuracy too
    assert any(name.startswith("Accuracy") for name in tenth["lost"])


def test_the_release_keeps_the_test_sets_and_the_grader_s_checks_back(tutorial, tmp_path):
    shell = tutorial["shell"]
    said = shell.outputs["kws release bundle handout --data data"].stdout
    assert "keep with the grader, never hand out: data/speech_commands_test_set_v0.02, " \
        "data/speech_commands_test_set_v0.02_private" in said  # fmt: skip
    assert "hand out to students" not in said  # the notebook's data is downloaded
    assert f"kept with the grader, not in the kit's archive: {NAME}/grader_checks.py" in said
    readme = (shell.cwd / "handout" / "README.md").read_text()
    assert "prepare_keyword_data('data')" in readme and "Set-up cell downloads" not in readme
    with tarfile.open(shell.cwd / "handout" / "kws-0.1.0.tar.gz") as archive:
        names = archive.getnames()
    assert any(n.endswith(f"assignments/{NAME}/checks.py") for n in names)
    assert not any(n.endswith("grader_checks.py") for n in names)
    # a notebook whose DATA_DIR is the whole data folder: named entry by entry, never the
    # folder holding the private test set
    course = shutil.copytree(shell.cwd / "course", tmp_path / "course")
    spec = course / NAME / "spec.toml"
    spec.write_text(spec.read_text().replace('folder = ""', 'folder = "."'))
    done = _run(shell, "kws", "release", "bundle", "out", "--data", str(shell.cwd / "data"),
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    given = next(line for line in done.stdout.splitlines() if "hand out to students" in line)
    assert f"{shell.cwd / 'data' / 'speech_commands_v0.02'} (in the notebook's ./)" in given
    assert "test_set" not in given


def _student(tutorial, tmp_path: Path) -> tuple[Path, dict, nbformat.NotebookNode]:
    """A student's folder: the bundle's notebook with each TODO written (the solution's code),
    the question answered, run; the data; the bundle's kit on PYTHONPATH (no KWS_COURSE)."""
    shell = tutorial["shell"]
    kit = tmp_path / "kit"
    with tarfile.open(shell.cwd / "handout" / "kws-0.1.0.tar.gz") as archive:
        archive.extractall(kit, filter="data")
    kit = next(kit.iterdir())
    student = tmp_path / "student"
    for name in ("speech_commands_v0.02", "speech_commands_test_set_v0.02"):
        shutil.copytree(shell.cwd / "data" / name, student / "data" / name)
    nb = nbformat.read(shell.cwd / "handout" / NOTEBOOK.name, as_version=4)
    solved = {c.id: c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells}
    for number, cell in enumerate(nb.cells):
        cell.source = solved.get(cell.id, cell.source)
        if cell.cell_type == "code" and "handin" not in cell.metadata.get("tags", []):
            cell.execution_count = number + 1
    nbformat.write(nb, student / NOTEBOOK.name)
    shutil.copytree(shell.cwd / "reference" / NAME / "seed0" / "outputs", student / "outputs")
    env = {k: v for k, v in shell.env.items() if k != "KWS_COURSE"} | {"PYTHONPATH": str(kit)}
    return student, env, nb


def test_a_student_s_check_names_the_grader_s_check_and_counts_every_point(tutorial, tmp_path):
    student, env, nb = _student(tutorial, tmp_path)
    check = next(c.source for c in nb.cells if "self-check" in c.metadata.get("tags", []))
    model = next(c.source for c in nb.cells if "model" in c.metadata.get("tags", []))
    program = f"OUT_DIR = __import__('pathlib').Path('outputs')\n{model}\n{check}"
    done = subprocess.run([sys.executable, "-c", program], cwd=student, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✗" not in done.stdout
    assert "matches the course's own on random clips: checked by the grader only" in done.stdout
    # the model as config.json builds it: a wider one there fails here, as in the grader
    config = student / "outputs" / "task1" / "config.json"
    wide = json.loads(config.read_text())
    config.write_text(json.dumps(wide | {"kwargs": wide["kwargs"] | {"channels": 64}}))
    done = subprocess.run([sys.executable, "-c", program], cwd=student, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert "✗ KeywordCNN holds 42.76k weights (the limit: at most 20k)" in done.stdout
    config.write_text(json.dumps(wide))
    command = next(code for lang, code in section("7. The student bundle") if lang == "console")
    done = subprocess.run(["bash", "-c", command.strip()], cwd=student, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    shown = next(code for lang, code in section("7. The student bundle") if lang == "text")
    for line in shown.splitlines():
        assert line in done.stdout, line


def test_the_class_is_graded_each_break_loses_its_tests_and_feedback_says_what_to_rerun(
    tutorial,
):
    shell = tutorial["shell"]
    results = {p.stem: json.loads(p.read_text())
               for p in (shell.cwd / "grades" / "results").glob("*.json")}  # fmt: skip
    assert sorted(results) == ["ada", *sorted(BROKEN)]
    assert results["ada"]["score"] == 11
    for student, (_, _, loses) in BROKEN.items():
        lost = [t["name"] for t in results[student]["tests"] if t["score"] < t["max_score"]]
        lost = [name for name in lost if not name.startswith("Accuracy")]  # 30 steps: by chance
        assert len(lost) == len(loses), (student, lost)
        assert all(name.startswith(start) for name, start in zip(lost, loses, strict=True)), (
            student,
            lost,
        )
    for document in results.values():  # a suspicion is never in what students read
        assert "Manual review" not in document["output"]
    page = (shell.cwd / "feedback" / "variance" / f"{NAME}.html").read_text()
    assert f"check.assignment(&quot;{NAME}&quot;)" in page or f'check.assignment("{NAME}")' in page
    said = shell.outputs["kws gradescope --data data --out autograder.zip"].stdout
    assert f"The reference hand-in takes {NAME}" in said and "Not measured" not in said


def test_kws_mark_finds_the_course_s_questions_by_itself(tutorial):
    shell = tutorial["shell"]
    process = subprocess.Popen(["kws", "mark", "grades", "--port", "0"], cwd=shell.cwd,
                               env=shell.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)  # fmt: skip
    try:
        first = process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert first.startswith("Marking 1 written question"), first


def test_the_season_is_rehearsed_and_the_reference_gets_every_written_point(tutorial):
    shell = tutorial["shell"]
    folder = shell.cwd / "rehearsal"
    standings = json.loads((folder / "grades" / "standings.json").read_text())
    assert standings["assignments"][NAME]["written"] == 2
    entry = standings["students"]["on-time"][NAME]
    assert entry["written"] == 2 and entry["unmarked"] == 0  # the positive items only


def test_rehearse_without_the_tier_set_it_grades_on_stops_at_once_with_the_commands(
    tutorial, tmp_path
):
    shell = tutorial["shell"]
    course = shutil.copytree(shell.cwd / "course", tmp_path / "course")
    spec = course / NAME / "spec.toml"
    spec.write_text(re.sub(r"^synthetic-tiny-variant = \{.*\n", "", spec.read_text(), flags=re.M))
    shutil.copy(shell.cwd / "course.toml", tmp_path / "course.toml")
    done = _run(shell, "kws", "rehearse", "course.toml", "--out", "rehearsal", cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    assert "has no tier set synthetic-tiny-variant" in done.stderr
    for command in ("kws synth speech-commands data-tiny --preset tiny",
                    "kws private data-tiny --secret tiny.secret",
                    f"kws reference {NAME} --data data-tiny --preset tiny --seeds 0 1 2 "
                    "--write-tiers"):  # fmt: skip
        assert command in done.stderr
    assert not (tmp_path / "rehearsal").exists()


def test_the_grading_benchmark_measures_an_own_assignment(tutorial, tmp_path):
    """benchmarks/bench_grading_memory.py on the course (KWS_COURSE): its test set grown, its
    reference hand-in graded, the peak memory and CPU seconds written."""
    shell = tutorial["shell"]
    script = ROOT / "benchmarks" / "bench_grading_memory.py"
    done = _run(shell, sys.executable, str(script), "--data", "data", "--submission",
                f"reference/{NAME}/seed0", "--work", str(tmp_path / "work"), "--assignment",
                NAME, "--clips", "100")  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    measured = json.loads((tmp_path / "work" / "memory.json").read_text())
    assert measured["exit_code"] == 0 and measured["score"] == measured["max_score"] == 11
    assert measured["peak_tree_rss_mib"] > 0 and measured["cpu_seconds"] > 0


def test_standings_keep_the_written_part_when_the_marks_come_to_0(tmp_path):
    """A notebook that asks questions keeps each student's ``written`` and ``unmarked`` in
    standings.json, 0 included (a student whose answers earned nothing); one that asks none
    has neither."""
    from kws.grading.records.standings import Standing, Standings, write_standings

    asks = {"title": "A", "maximum": 13.0, "due": None, "written": 2.0}
    standings = Standings({"asks": asks, "plain": {"title": "B", "maximum": 5.0, "due": None}},
                          {"kim": {"asks": Standing("graded", 11.0, 13.0, 11.0),
                                   "plain": Standing("graded", 5.0, 5.0, 5.0)}})  # fmt: skip
    written = json.loads(write_standings(tmp_path, standings).read_text())["students"]["kim"]
    assert written["asks"]["written"] == 0 and written["asks"]["unmarked"] == 0
    assert "written" not in written["plain"] and "unmarked" not in written["plain"]
