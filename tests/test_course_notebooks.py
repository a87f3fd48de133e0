"""The course notebooks: solutions run end to end on the tiny synthetic data and write what the
grader reads; the student notebooks are exactly their released versions and stop at the first TODO."""

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from course_helpers import NOTEBOOK_STEPS, ROOT, notebook_env
from nbclient.exceptions import CellExecutionError

from kws.notebooks import (
    cells_with_tag,
    check_released,
    execute_notebook,
    read_notebook,
    release_source,
)

TASKS = {
    "01_keyword_spotting.ipynb": {"kws": "KeywordTransformer"},
    "02_speaker_id.ipynb": {
        "task1": "SpeakerTransformer",
        "task2": "SpeakerConformer",
        "task3": "SpeakerAttentionAMS",
    },
    "03_patch_transformer.ipynb": {"patch": "PatchKWT"},
}


def test_assignments_are_the_released_solutions():
    stale = check_released(ROOT / "solutions", ROOT / "assignments")
    assert not stale, f"out of date: {stale}; run `kws release solutions assignments`"


def test_every_notebook_has_one_parameters_cell_and_model_cells():
    for name in TASKS:
        notebook = read_notebook(ROOT / "solutions" / name)
        assert len(cells_with_tag(notebook, "parameters")) == 1, name
        model_code = "\n".join(cell.source for cell in cells_with_tag(notebook, "model"))
        for class_name in TASKS[name].values():
            assert f"class {class_name}(" in model_code, f"{name}: {class_name} not in a model cell"


def _printed(notebook: Path) -> str:
    """Everything the executed `notebook`'s code cells printed."""
    return "".join(
        output.get("text", "")
        for cell in read_notebook(notebook).cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def _csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_keyword_notebook_writes_a_gradable_submission(reference_submission, tiny_data):
    out = reference_submission / "outputs" / "kws"
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "kws" and config["class"] == "KeywordTransformer"
    state = torch.load(out / "model.pt", weights_only=True)
    assert any(key.startswith("encoder.layers.") for key in state)
    test_clips = sorted((tiny_data / "speech_commands_test_set_v0.02").glob("*/*.wav"))
    rows = _csv_rows(out / "predictions.csv")
    assert sorted(row["Id"] for row in rows) == sorted(
        f"{p.parent.name}/{p.name}" for p in test_clips
    )
    for figure in ("curves.png", "lr.png", "confusion.png", "attention.png"):
        assert (out / figure).stat().st_size > 1000, f"{figure} is missing or empty"
    results = json.loads(
        (reference_submission / "outputs" / "keyword_spotting_summary.json").read_text()
    )
    assert set(results) == {"KeywordTransformer", "CRNN baseline"}
    assert len(json.loads((out / "history.json").read_text())["lr"]) == int(
        NOTEBOOK_STEPS["01_keyword_spotting.ipynb"]["KWS_STEPS"]
    )
    printed = _printed(reference_submission / "01_keyword_spotting.ipynb")
    assert "keyword model (KeywordTransformer): all 13 checks passed." in printed
    # the settings (3), then the schedule over 1,000 steps and over the run's STEPS (3 each)
    assert "training recipe: all 9 checks passed." in printed
    assert "✗" not in printed, "a self-check failed on the reference solution"


@pytest.mark.slow
def test_speaker_notebook_writes_a_gradable_submission(reference_submission, tiny_data):
    test_ids = [
        entry["feature_path"]
        for entry in json.loads((tiny_data / "speaker_features" / "testdata.json").read_text())[
            "utterances"
        ]
    ]
    speakers = set(
        json.loads((tiny_data / "speaker_features" / "mapping.json").read_text())["speaker2id"]
    )
    for task, class_name in TASKS["02_speaker_id.ipynb"].items():
        out = reference_submission / "outputs" / task
        config = json.loads((out / "config.json").read_text())
        assert (config["task"], config["class"]) == (task, class_name)
        assert config["kwargs"]["n_classes"] == len(speakers)
        torch.load(out / "model.pt", weights_only=True)
        rows = _csv_rows(out / "predictions.csv")
        assert [row["Id"] for row in rows] == test_ids
        assert {row["Category"] for row in rows} <= speakers
    printed = _printed(reference_submission / "02_speaker_id.ipynb")
    assert "The parameter size of encoder block is 149.95k" in printed
    assert "✗" not in printed, "a self-check failed on the reference solution"
    summary = json.loads((reference_submission / "outputs" / "speaker_id_summary.json").read_text())
    assert set(summary) == {"baseline", "task1", "task2", "task3"}


@pytest.mark.slow
def test_patch_notebook_writes_a_gradable_submission(reference_submission, tiny_data):
    out = reference_submission / "outputs" / "patch"
    config = json.loads((out / "config.json").read_text())
    assert (config["task"], config["class"]) == ("patch", "PatchKWT")
    assert config["kwargs"]["distillation"] is True and "patchout" not in config["kwargs"]
    state = torch.load(out / "model.pt", weights_only=True)
    assert {"dist_token", "dist_classifier.weight"} <= set(state)
    assert not any(key.startswith("teacher.") or key.startswith("student.") for key in state)
    test_clips = sorted((tiny_data / "speech_commands_test_set_v0.02").glob("*/*.wav"))
    rows = _csv_rows(out / "predictions.csv")
    assert sorted(row["Id"] for row in rows) == sorted(
        f"{p.parent.name}/{p.name}" for p in test_clips
    )
    for figure in ("curves.png", "confusion.png", "patchout.png"):
        assert (out / figure).stat().st_size > 1000, f"{figure} is missing or empty"
    summary = json.loads(
        (reference_submission / "outputs" / "patch_transformer_summary.json").read_text()
    )
    assert {"PatchKWT (distilled)", "PatchKWT no teacher", "CRNN teacher"} <= set(summary)
    printed = _printed(reference_submission / "03_patch_transformer.ipynb")
    for summary_line in (
        "patches: all 7 checks passed.",
        "FreqTimePositions: all 10 checks passed.",
        "StructuredPatchout: all 11 checks passed.",
        "distillation: all 11 checks passed.",
        "patch model (PatchKWT): all 6 checks passed.",
    ):
        assert summary_line in printed
    assert "✗" not in printed, "a self-check failed on the reference solution"
    # patch-out's speed-up, measured in the notebook: one line per patch shape
    assert printed.count("CPU-s a step (") == 2


@pytest.mark.slow
def test_set_up_cells_fetch_nothing_when_the_data_is_there(reference_submission, tiny_data):
    printed = {}
    for name in TASKS:
        executed = read_notebook(reference_submission / name)
        (cell,) = [c for c in executed.cells if c.get("id") == "setup-code"]
        printed[name] = "".join(output.get("text", "") for output in cell.outputs)
    for name in ("01_keyword_spotting.ipynb", "03_patch_transformer.ipynb"):
        assert "nothing to fetch" in printed[name]
        assert "Downloading" not in printed[name]
    assert "HW4 features in" in printed["02_speaker_id.ipynb"]
    assert sorted(p.name for p in tiny_data.iterdir() if p.suffix == ".gz") == []


def _first_todo(name: str) -> str:
    notebook = read_notebook(ROOT / "solutions" / name)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "# BEGIN SOLUTION" in cell.source:
            released = release_source(cell.source)
            line = next(
                line for line in released.splitlines() if "raise NotImplementedError" in line
            )
            return line.split('NotImplementedError("', 1)[1].rsplit('")', 1)[0]
    raise AssertionError(f"{name} has no solution region")


@pytest.mark.slow
@pytest.mark.full  # each released notebook run in a kernel: 20 CPU-s for the three
@pytest.mark.parametrize("name", sorted(TASKS))
def test_fresh_student_notebook_stops_at_its_first_todo(name, tiny_data, tmp_path):
    shutil.copy(ROOT / "assignments" / name, tmp_path / name)
    env = notebook_env(name, tiny_data, tmp_path / "outputs")
    with pytest.raises(CellExecutionError) as failure:
        execute_notebook(tmp_path / name, env=env, timeout=300, save_to=tmp_path / name)
    assert "NotImplementedError" in str(failure.value)
    assert _first_todo(name) in str(failure.value)
    graded = [tmp_path / "outputs" / task / "model.pt" for task in TASKS[name]]
    assert not any(path.exists() for path in graded), "a graded task saved a checkpoint"


def test_notebook_settings_cover_every_notebook():
    assert set(NOTEBOOK_STEPS) == set(TASKS)
    assert sorted(path.name for path in (ROOT / "solutions").glob("*.ipynb")) == sorted(TASKS)


# Which graded tests (graded_tests/test_01_*.py, by function name) make up each task of notebook 01.
KEYWORD_TASK_TESTS = {
    "1": lambda name: name.startswith("test_data_"),
    "2": lambda name: name.startswith("test_tokens_"),
    "3": lambda name: name.startswith("test_task3_"),
    "4": lambda name: name in ("test_accuracy", "test_recipe_schedule"),
}
KEYWORD_OTHER_TESTS = {"test_model_loads", "test_output_shape", "test_retrains_on_gpu"}


def test_keyword_intro_states_the_points_of_the_spec():
    from kws.spec import ASSIGNMENTS

    points = ASSIGNMENTS["keyword_spotting"].points
    intro = read_notebook(ROOT / "solutions" / "01_keyword_spotting.ipynb").cells[0].source
    rows = [line.split("|") for line in intro.splitlines() if line.startswith("| ")]
    stated = {cells[1].strip().split(".")[0]: float(cells[-2]) for cells in rows[1:]}
    assert sorted(stated) == sorted(KEYWORD_TASK_TESTS), "cell 0's table lists the four tasks"
    unassigned = [
        name
        for name in points
        if name not in KEYWORD_OTHER_TESTS and not any(f(name) for f in KEYWORD_TASK_TESTS.values())
    ]
    assert not unassigned, f"{unassigned}: add them to KEYWORD_TASK_TESTS and to cell 0's table"
    for task, belongs in KEYWORD_TASK_TESTS.items():
        spec = sum(p for name, p in points.items() if belongs(name))
        if spec:  # a task whose tests are in the spec (Task 1 and 2 come with their own grader)
            assert stated[task] == spec, f"cell 0 gives Task {task} {stated[task]} points"
    total = sum(points.values())
    if all(sum(p for n, p in points.items() if f(n)) for f in KEYWORD_TASK_TESTS.values()):
        assert f"tasks ({total:g} points)" in intro, f"cell 0 must state the total, {total:g}"


# Which graded tests (kws/assignments/patch_transformer/graded_tests/, by function name) make up each
# task of notebook 03; the others are the model's loading, its output shape and re-training.
PATCH_TASK_TESTS = {
    "1": lambda name: name.startswith("test_task1_"),
    "2": lambda name: name.startswith("test_task2_"),
    "3": lambda name: name.startswith("test_task3_"),
    "4": lambda name: name.startswith("test_task4_"),
    "5": lambda name: (
        name in ("test_accuracy", "test_parameters", "test_no_ready_made_transformer")
    ),
}


def test_patch_intro_states_the_points_of_the_spec():
    from kws.spec import ASSIGNMENTS

    points = ASSIGNMENTS["patch_transformer"].points
    intro = read_notebook(ROOT / "solutions" / "03_patch_transformer.ipynb").cells[0].source
    rows = [line.split("|") for line in intro.splitlines() if line.startswith("| ")]
    stated = {cells[1].strip().split(".")[0]: float(cells[-2]) for cells in rows[1:]}
    assert sorted(stated) == sorted(PATCH_TASK_TESTS), "cell 0's table lists the five tasks"
    others = set(points) - {n for n in points if any(f(n) for f in PATCH_TASK_TESTS.values())}
    assert others == {"test_model_loads", "test_output_shape", "test_retrains_on_gpu"}
    for task, belongs in PATCH_TASK_TESTS.items():
        assert stated[task] == sum(p for n, p in points.items() if belongs(n)), f"Task {task}"
    total = sum(stated.values())
    assert f"tasks ({total:g} points)" in intro, f"cell 0 must state the tasks' total, {total:g}"
