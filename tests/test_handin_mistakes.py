"""`kws handin` on a real student notebook: the released notebook 02 filled with the reference's
code and executed on the tiny data passes every check, and the zip it writes gets full marks from
`kws grade`; each mistake students make (tests/handin_mistakes.py) gets its ✗ with the fix named,
and the grader, on the same hand-in, takes exactly the points of the tests `kws handin` failed.

The notebook's last cell ("Ready to hand in?") is checked here too: in Jupyter on the saved
notebook, on Colab on the notebook open in the browser, with the zip offered for download.
"""

import json
import shutil
import sys
import types
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from batch_helpers import grade_batch
from course_helpers import notebook_env
from grader_corpus import TESTS
from handin_mistakes import EXECUTED, MISTAKES, NOTEBOOK, write_student
from nbclient.exceptions import CellExecutionError
from recorded_children import grader_options

from kws.grading.judge.fixture import ACCURACY_AFTER_HAND_IN
from kws.handin.cell import ready_to_hand_in
from kws.handin.check import WRITTEN_LATER, check_handin
from kws.notebooks import execute_notebook

# The full run's (docs/development/tests.md, "The two tiers"): `kws handin` on executed notebooks, each mistake graded by a real child.
pytestmark = [pytest.mark.slow, pytest.mark.full]
TASKS = ("task1", "task2", "task3")
ZIPPED = [NOTEBOOK] + [
    f"outputs/{task}/{name}"
    for task in TASKS
    for name in ("config.json", "history.json", "model.pt", "predictions.csv")
]


@pytest.fixture(scope="module")
def student_data(tiny_data, tmp_path_factory) -> Path:
    """A student's data folder: the tiny speaker features, without the hidden labels beside."""
    folder = tmp_path_factory.mktemp("student-data")
    (folder / "speaker_features").symlink_to(tiny_data / "speaker_features")
    return folder


@pytest.fixture(scope="module")
def handins(student_data, tmp_path_factory) -> Path:
    """One folder per case: ``clean`` (the student notebook, executed as a student runs it on
    the tiny data), the mistakes made while it runs (`EXECUTED`), and those made to a copy of
    the clean hand-in afterwards."""
    root = tmp_path_factory.mktemp("handins")

    def run(name: str) -> None:
        folder = root / name
        write_student(folder, EXECUTED.get(name))
        env = notebook_env(NOTEBOOK, student_data, folder / "outputs")
        try:
            execute_notebook(folder / NOTEBOOK, env=env, timeout=600, save_to=folder / NOTEBOOK)
        except CellExecutionError:
            assert name == "todo_left"  # Task 3's training stops at the TODO

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(run, ["clean", *EXECUTED]))
    for name, mistake in MISTAKES.items():
        if mistake.damage is not None:
            shutil.copytree(root / "clean", root / name)
            mistake.damage(root / name)
    return root


@pytest.fixture(scope="module")
def verdicts(handins, student_data, tiny_data, tmp_path_factory):
    """({case: `kws handin`'s report}, {case: {test name: the grader's result}}): the grader on
    every hand-in as it is, and on the clean hand-in's zip, unpacked (``clean_zip``)."""
    out = tmp_path_factory.mktemp("verdicts")
    cases = sorted(p.name for p in handins.iterdir())

    def check(name: str):
        data, zip_path = student_data / "speaker_features", out / "zips" / f"{name}.zip"
        return name, check_handin(handins / name, data=data, zip_path=zip_path)

    with ThreadPoolExecutor(2) as pool:
        reports = dict(pool.map(check, cases))
    submissions = out / "submissions"
    for name in cases:
        shutil.copytree(handins / name, submissions / name)
    with zipfile.ZipFile(out / "zips" / "clean.zip") as archive:
        archive.extractall(submissions / "clean_zip")
    # the children's reports from their records (tests/plugins/recorded_children.py)
    grade_batch(submissions, tiny_data, out / "grades", jobs=2, pytest_args=grader_options())
    results = {}
    for name in [*cases, "clean_zip"]:
        document = json.loads((out / "grades" / "results" / f"{name}.json").read_text())
        results[name] = {test["name"]: test for test in document["tests"]}
    return reports, results


def test_the_executed_student_notebook_passes_every_check_and_zips_what_grading_uses(verdicts):
    reports, _ = verdicts
    report = reports["clean"]
    (notebook,) = report.notebooks
    assert report.passed, report.text()
    text = report.text()
    assert "✗" not in text and text.count("✓") == len(notebook.lines)
    graded = [line for line in notebook.lines if line.points]
    assert len(graded) == 22 and sum(line.points for line in graded) == 30
    retraining = "graded after you hand in: the grader re-trains on a GPU"
    assert notebook.later == {  # the tests that need the hidden labels, or a GPU
        **{TESTS[f"acc{n}"]: (5.0, ACCURACY_AFTER_HAND_IN) for n in (1, 2, 3)},
        "Re-training: the notebook trains from scratch on the GPU and its task1 model reaches "
        "the simple tier": (2.0, retraining),
        "written questions": (3.0, WRITTEN_LATER),  # its question, marked by a person
    }
    assert report.members == ZIPPED  # no curves.png, no last.pt, no baseline/: what grading uses
    assert "30 of the 30 points checked here are safe.\n" in text
    assert f"15 points more {ACCURACY_AFTER_HAND_IN}.\n    2 points more {retraining}." in text
    assert f"3 points more {WRITTEN_LATER}." in text
    assert f"Wrote {report.zip} (" in text and "(ready to upload)" in text


def test_its_zip_gets_full_marks_from_the_grader(verdicts):
    _, results = verdicts
    graded = {n: t for n, t in results["clean_zip"].items() if not n.startswith("Re-training")}
    assert len(graded) == 25
    assert {n: t["output"] for n, t in graded.items() if t["score"] < t["max_score"]} == {}
    assert sum(t["max_score"] for t in graded.values()) == 45


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_gets_its_fix_and_the_grader_takes_the_same_points(verdicts, name):
    reports, results = verdicts
    mistake = MISTAKES[name]
    (notebook,) = reports[name].notebooks
    failed = {line.what for line in notebook.lines if line.points and not line.passed}
    lost = {n for n, test in results[name].items() if test["score"] < test["max_score"]}
    assert failed == lost  # kws handin and the grader agree, test by test
    assert failed == {TESTS[short] for short in mistake.lost}
    for start, phrases in mistake.fixes.items():
        line = next(line for line in notebook.lines if line.what.startswith(start))
        assert not line.passed, line.what
        for phrase in (phrases,) if isinstance(phrases, str) else phrases:
            assert phrase in line.why, (line.what, line.why)
    assert reports[name].passed == (not mistake.lost and not mistake.fixes)


def test_the_last_cell_says_to_save_first_when_the_saved_file_never_ran(handins):
    """Run by nbclient, the cell sees the file as it was before the run: nothing ran yet."""
    nb = nbformat.read(handins / "clean" / NOTEBOOK, as_version=4)
    (printed,) = [out["text"] for out in nb.cells[-1].outputs]
    assert printed.startswith("Not checked yet: the saved 02_speaker_id.ipynb shows no code cell")
    assert "Save the notebook (File > Save, or Ctrl+S), then run this cell again" in printed
    assert not (handins / "clean" / "handin.zip").exists()


def test_the_last_cell_in_jupyter_checks_the_saved_notebook(
    handins, student_data, tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "hw"
    shutil.copytree(handins / "clean", folder)
    monkeypatch.chdir(folder)  # Jupyter starts a notebook's kernel in its folder
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    ready_to_hand_in("speaker_id", data=student_data / "speaker_features", outputs=Path("outputs"))
    printed = capsys.readouterr().out
    assert "✓ Model builds from config.json and loads model.pt [task3]" in printed
    assert "✗" not in printed
    with zipfile.ZipFile(folder / "handin.zip") as archive:
        assert sorted(archive.namelist()) == ZIPPED


def test_the_last_cell_on_colab_checks_the_open_notebook_and_downloads_the_zip(
    handins, student_data, tmp_path, monkeypatch, capsys
):
    """On Colab no file holds the notebook: the cell asks the browser for it, zips it with
    OUT_DIR (here on a mounted Drive) as outputs/, and offers the zip for download."""
    live = json.loads((handins / "clean" / NOTEBOOK).read_text())
    downloaded = []
    colab = types.ModuleType("google.colab")
    colab._message = types.SimpleNamespace(blocking_request=lambda kind, **_: {"ipynb": live})
    colab.files = types.SimpleNamespace(download=downloaded.append)
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    content = tmp_path / "content"  # Colab's working directory: no notebook there
    content.mkdir()
    monkeypatch.chdir(content)
    drive = tmp_path / "drive" / "hw4-outputs"
    shutil.copytree(handins / "clean" / "outputs", drive)
    ready_to_hand_in("speaker_id", data=student_data / "speaker_features", outputs=drive)
    printed = capsys.readouterr().out
    assert "✗" not in printed and "30 of the 30 points checked here are safe" in printed
    assert downloaded == [str(content / "handin.zip")]
    with zipfile.ZipFile(content / "handin.zip") as archive:
        assert sorted(archive.namelist()) == ZIPPED
        assert json.loads(archive.read(NOTEBOOK))["cells"][-1]["metadata"]["tags"] == ["handin"]
