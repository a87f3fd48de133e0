"""The parts of `kws handin` that need no grading child: which notebooks a path holds, what the
notebook's parameters cell sets, the cells the saved file shows as never run, the TODOs left,
the files gathered and zipped (only what grading reads), the lines printed, the hints the graded
tests add to a failure, the student's own copy of a test set (no labels), and the checks of the
accuracy tests that need no labels. `kws handin` end to end, on a real student notebook and its
mistakes: tests/test_handin_mistakes.py."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from course_helpers import ROOT
from grading_helpers import make_notebook

from kws.grading.judge.accuracy import AccuracyError, check_scorable
from kws.grading.judge.hints import build_hint, hint, name_hint, with_hint
from kws.grading.protocol.handin import copy_plan
from kws.grading.protocol.inputs import inputs_header
from kws.grading.sandbox.staging import SubmissionTooLarge
from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.layouts import PUBLIC_INPUTS, public_test
from kws.handin.bundle import stage_notebook, write_zip
from kws.handin.lines import Line, NotebookReport, files_line, outputs_line, written_lines
from kws.handin.notebook import (
    cells_not_run,
    course_notebooks,
    notebook_settings,
    todos_left,
)
from kws.spec import ASSIGNMENTS

SPEAKER = ASSIGNMENTS["speaker_id"]
MODEL = "class SpeakerTransformer:\n    pass\n"
PARAMETERS = """import os
from pathlib import Path
DATA_DIR = Path(os.environ.get("KWS_DATA_DIR", "data/speaker_features"))
OUT_DIR = Path(os.environ.get("KWS_OUT_DIR", "outputs"))
print(DATA_DIR)
"""


def _write(path: Path, cells, counts: list | None = None) -> Path:
    nb = make_notebook(cells)
    for cell, count in zip(nb.cells, counts or [], strict=False):
        cell.execution_count = count
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# ---- the notebook itself ----------------------------------------------------------------------


def test_a_folder_is_searched_as_the_grader_searches_it(tmp_path):
    renamed = _write(tmp_path / "hw" / "02_speaker_id (1).ipynb", [(MODEL, ["model"])])
    _write(tmp_path / "hw" / ".ipynb_checkpoints" / "02_speaker_id-checkpoint.ipynb", [(MODEL, [])])
    _write(tmp_path / "scratch.ipynb", [("print(1)", [])])
    folder, found = course_notebooks(tmp_path)
    assert folder == tmp_path and [(f.spec.name, f.notebook) for f in found] == [
        ("speaker_id", renamed)
    ]
    assert course_notebooks(renamed) == (renamed.parent, found)  # the file, by its classes


def test_a_path_with_no_course_notebook_says_which_it_expected(tmp_path):
    other = _write(tmp_path / "mine.ipynb", [("print(1)", [])])
    with pytest.raises(FileNotFoundError, match=r"mine.ipynb is no notebook of the course: it is "
                       r"named none of 01_keyword_spotting.ipynb, 02_speaker_id.ipynb"):  # fmt: skip
        course_notebooks(other)
    with pytest.raises(FileNotFoundError, match=r"holds no notebook of the course .*found: mine"):
        course_notebooks(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such notebook or folder"):
        course_notebooks(tmp_path / "nothing.ipynb")


def test_settings_come_from_the_parameters_cell_and_its_variables(tmp_path, monkeypatch):
    notebook = _write(tmp_path / "02_speaker_id.ipynb", [(PARAMETERS, ["parameters"])])
    monkeypatch.delenv("KWS_DATA_DIR", raising=False)
    monkeypatch.setenv("KWS_OUT_DIR", "/elsewhere/out")
    assert notebook_settings(notebook) == {
        "DATA_DIR": tmp_path / "data" / "speaker_features",  # from the notebook's folder
        "OUT_DIR": Path("/elsewhere/out"),
    }
    _write(notebook, [("DATA_DIR = 1 / 0", ["parameters"])])
    with pytest.raises(ValueError, match=r"parameters cell failed \(ZeroDivisionError"):
        notebook_settings(notebook)


def test_cells_never_run_and_todos_left_are_found_but_the_hand_in_cell(tmp_path):
    todo = 'def f():\n    raise NotImplementedError("TODO: scale the scores")\n'
    notebook = _write(
        tmp_path / "nb.ipynb",
        [("x = 1", []), (todo, ["model"]), ("y = 2", []), ("ready_to_hand_in()", ["handin"])],
        counts=[1, 2, None, None],
    )
    nb = nbformat.read(notebook, as_version=4)
    assert cells_not_run(nb) == [2]  # the hand-in cell runs after the file was saved
    assert todos_left(nb) == [(1, "scale the scores")]


def _released_02(folder: Path, answer: str | None = None) -> Path:
    """The released notebook 02 saved in `folder`, with `answer` in its written answer cell."""
    nb = nbformat.read(ROOT / "assignments" / "02_speaker_id.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "answer:norm-classifier" in c.metadata.get("tags", []))
    cell.source = cell.source if answer is None else answer
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "02_speaker_id.ipynb")
    return folder / "02_speaker_id.ipynb"


def test_a_written_question_left_unanswered_is_a_warning_not_a_failed_check(tmp_path):
    lines, warnings = written_lines(_released_02(tmp_path / "empty"))
    assert lines == [] and len(warnings) == 1
    assert warnings[0].startswith(
        "the written question norm-classifier has no answer yet (it asks `Question: why a "
        "normalization right before the classifier...`). Write each answer in the cell after "
        "its question, save, and check again."
    )
    report = NotebookReport("02_speaker_id.ipynb", "speaker_id", warnings=warnings)
    report.lines.append(Line(True, "Model loads", points=1))
    assert report.text().splitlines()[2] == f"    ! {warnings[0]}"
    assert all(line.passed for line in report.lines)  # kws handin still exits 0
    lines, warnings = written_lines(_released_02(tmp_path / "done", "The scale drifts."))
    assert [line.text() for line in lines] == ["✓ every written question has an answer (1)"]
    assert warnings == []


def test_the_zip_carries_the_written_answers_the_grader_reads(tmp_path):
    from kws.written.answers import read_answers

    notebook = _released_02(tmp_path / "hw", "Its scale drifts; **BatchNorm1d** fixes it.")
    stage = tmp_path / "stage"
    stage_notebook(stage, SPEAKER, notebook, tmp_path / "hw" / "outputs")
    write_zip(stage, tmp_path / "handin.zip")
    with zipfile.ZipFile(tmp_path / "handin.zip") as archive:
        zipped = json.loads(archive.read("02_speaker_id.ipynb"))
    released = json.loads((ROOT / "assignments" / "02_speaker_id.ipynb").read_text())
    answer = read_answers(zipped, released)["norm-classifier"]
    assert answer.text == "Its scale drifts; **BatchNorm1d** fixes it." and answer.answered


# ---- the files gathered and zipped --------------------------------------------------------------


def _hand_in(folder: Path) -> Path:
    """A hand-in as a run leaves it: the notebook, what grading reads, and what it does not."""
    notebook = _write(folder / "02_speaker_id (1).ipynb", [(MODEL, ["model"])])
    for task in ("task1", "task2", "task3", "baseline"):
        for name in ("config.json", "model.pt", "predictions.csv", "curves.png", "last.pt"):
            (folder / "outputs" / task).mkdir(parents=True, exist_ok=True)
            (folder / "outputs" / task / name).write_text(f"{task}/{name}")
    (folder / "data" / "speaker_features").mkdir(parents=True)
    (folder / "data" / "speaker_features" / "testdata.json").write_text("{}")
    (folder / "helper.py").write_text("ANSWERS = {}")
    return notebook


def test_the_zip_holds_the_notebook_and_each_tasks_graded_files_nothing_else(tmp_path):
    notebook = _hand_in(tmp_path / "hw")
    stage = tmp_path / "stage"
    staged = stage_notebook(stage, SPEAKER, notebook, tmp_path / "hw" / "outputs")
    members = write_zip(stage, tmp_path / "handin.zip")
    expected = ["02_speaker_id.ipynb"] + [
        f"outputs/{task}/{name}"
        for task in ("task1", "task2", "task3")
        for name in ("config.json", "model.pt", "predictions.csv")
    ]
    assert members == expected and sorted(p.as_posix() for p in staged) == expected
    with zipfile.ZipFile(tmp_path / "handin.zip") as archive:
        assert archive.read("outputs/task2/model.pt") == b"task2/model.pt"
    # what the sandbox copies of the hand-in holds every file the zip does (not the reverse)
    assert set(members) - {"02_speaker_id.ipynb"} <= {
        p.as_posix() for p in copy_plan(tmp_path / "hw").files
    }


def test_a_hand_in_too_large_to_grade_is_refused_before_anything_is_copied(tmp_path):
    notebook = _hand_in(tmp_path / "hw")
    with open(tmp_path / "hw" / "outputs" / "task1" / "model.pt", "wb") as file:
        file.truncate(2_200_000_000)  # sparse: over the sandbox's 2 GiB
    with pytest.raises(SubmissionTooLarge, match=r"largest: outputs/task1/model.pt \(2.2 GB\)"):
        stage_notebook(tmp_path / "stage", SPEAKER, notebook, tmp_path / "hw" / "outputs")
    assert not (tmp_path / "stage").exists()


# ---- the lines printed --------------------------------------------------------------------------


def test_a_line_shows_its_points_and_under_a_cross_its_fix():
    assert Line(True, "Model loads", points=1).text() == "✓ Model loads (1 point)"
    failed = Line(False, "Task 1 budget", "over the 500k budget;\nuse a smaller d_model", 2)
    assert (
        failed.text()
        == "✗ Task 1 budget (2 points)\n    over the 500k budget;\n    use a smaller d_model"
    )


def test_the_outputs_and_files_lines_name_what_the_grader_would_miss(tmp_path):
    read = tmp_path / "outputs"
    assert outputs_line({}, read, tmp_path) is None  # OUT_DIR unknown: no line
    assert outputs_line({"OUT_DIR": read}, read, tmp_path).passed
    line = outputs_line({"OUT_DIR": tmp_path / "results"}, read, tmp_path)
    assert (
        not line.passed
        and f"its OUT_DIR is {tmp_path / 'results'}, the grader reads outputs/" in line.why
    )
    for task in ("task1", "task2"):
        (read / task).mkdir(parents=True)
        for name in ("config.json", "model.pt", "predictions.csv"):
            (read / task / name).write_text("")
    line = files_line(SPEAKER, read)
    assert not line.passed and line.why.startswith(
        "missing: task3/config.json, task3/model.pt, task3/predictions.csv."
    )


# ---- the hints the graded tests add -------------------------------------------------------------


def test_a_name_defined_only_in_an_untagged_cell_is_found_with_the_fix(tmp_path):
    notebook = _write(
        tmp_path / "nb.ipynb",
        [
            ("import torch.nn.functional as F\nSCALE = 2", []),
            (MODEL, ["model"]),
            ("class Late:\n    pass", ["model"]),
        ],  # fmt: skip
    )
    error = "NameError: name 'F' is not defined (model cell 1, line 3)"
    assert hint(error, "evaluate", "task1", notebook) == (
        "The grader runs only the cells tagged 'model', and `F` is defined in a cell without that "
        "tag (the cell starting `import torch.nn.functional as F`): define or import `F` in a "
        "model cell too."
    )
    assert "`SCALE` is defined in a cell without that tag" in name_hint("SCALE", notebook)
    assert "used before the model cell defining it" in name_hint("Late", notebook)
    assert name_hint("nowhere", notebook).endswith("define or import `nowhere` in one.")


def test_a_config_the_class_no_longer_takes_is_explained_once():
    error = "TypeError: SpeakerTransformer.__init__() got an unexpected keyword argument 'd_model'"
    assert build_hint(error, "task1").startswith("Your task1/config.json holds the arguments")
    assert build_hint("ValueError: bad shape", "task1") == ""
    assert hint(error, "probes", "task1", None) == ""  # only a build's arguments
    assert with_hint("an error (model cell 1, line 2)", "Fix it.") == (
        "an error (model cell 1, line 2). Fix it."
    )
    assert with_hint("an error.", "") == "an error."


# ---- the student's own data, and what the accuracy needs besides its labels --------------------


def test_the_students_speaker_features_give_a_few_inputs_and_every_id_no_label(tiny_data, tmp_path):
    student = tmp_path / "data"
    shutil.copytree(tiny_data / "speaker_features", student / "speaker_features")  # no labels
    public = public_test(SPEAKER, student, tmp_path / "inputs.bin")
    listed = {p.name for p in (student / "speaker_features").glob("uttr-*.pt")}
    assert not public.labelled and set(public.test_labels) <= listed
    assert set(public.test_labels.values()) == {-1} and set(public.labels.tolist()) == {-1}
    assert set(public.ids) <= set(public.test_labels)
    assert len(public.ids) == min(PUBLIC_INPUTS, len(public.test_labels))
    assert inputs_header(public.inputs_file)["kind"] == "features"


def test_the_students_speech_commands_test_set_gives_a_few_clips_labels_dropped(
    tiny_data, tmp_path
):
    spec = ASSIGNMENTS["keyword_spotting"]
    public = public_test(spec, tiny_data, tmp_path / "inputs.bin")
    header = inputs_header(public.inputs_file)
    assert header["kind"] == "waves" and len(header["lengths"]) == PUBLIC_INPUTS
    assert not public.labelled and set(public.labels.tolist()) == {-1}


def test_accuracy_tests_fail_without_labels_only_for_what_labels_do_not_decide(tmp_path):
    csv = tmp_path / "outputs" / "task1" / "predictions.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text("Id,Category\nuttr-a.pt,spk0\n")
    public = HiddenTest(tmp_path / "inputs.bin", [-1], ("spk0", "spk1"), ("uttr-a.pt",),
                        {"uttr-a.pt": -1, "uttr-b.pt": -1}, labelled=False)  # fmt: skip
    report = {"predictions": [0], "errors": {}, "near": None}
    with pytest.raises(AccuracyError, match="does not give one known class for every test item"):
        check_scorable(SPEAKER.accuracy, csv, tmp_path, public, report, "task1")
    csv.write_text("Id,Category\nuttr-a.pt,spk0\nuttr-b.pt,spk1\n")
    check_scorable(SPEAKER.accuracy, csv, tmp_path, public, report, "task1")  # scorable
    stopped = {"predictions": None, "errors": {"evaluate": "RuntimeError: shapes"}}
    with pytest.raises(AccuracyError, match=r"could not be re-run .*RuntimeError: shapes"):
        check_scorable(SPEAKER.accuracy, csv, tmp_path, public, stopped, "task1")
    keyword = ASSIGNMENTS["keyword_spotting"].accuracy
    with pytest.raises(AccuracyError, match="could not be evaluated: RuntimeError: shapes"):
        check_scorable(keyword, csv, tmp_path, public, stopped, "kws")
    assert np.array_equal(public.labels, [-1])


def test_kws_handin_says_what_is_wrong_with_the_path_it_was_given(tmp_path):
    done = subprocess.run([sys.executable, "-m", "kws.cli", "handin", str(tmp_path)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith(f"kws handin: {tmp_path} holds no")
