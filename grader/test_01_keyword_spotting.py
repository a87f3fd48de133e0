"""Notebook 01, keyword spotting: the KeywordTransformer the student trained, graded on the
hidden 12-class test set, and the training recipe it used (Task 4). Every test reads the one
grading child's payload (see conftest); test_recipe_schedule also reads the history.json that
fit() wrote beside model.pt.

This notebook builds on the kit's own encoder layers (kws.models), so there is no
"from scratch" check here; notebook 02 has them."""

import json

import pytest

from kws.assignments import ASSIGNMENTS
from kws.grading.shared.handin import find_notebook, outputs_folder
from kws.grading.shared.schedule import schedule_items
from kws.grading.tiers import tier_credit

ASSIGNMENT = "keyword_spotting"  # grader/conftest.py selects tests by it (--assignment)
SPEC = ASSIGNMENTS[ASSIGNMENT]  # kws/assignments/keyword_spotting.toml
TASK = "kws"


def test_model_loads(grading, kws_child):
    """Model: KeywordTransformer builds from config.json and loads model.pt"""
    report = grading.loaded_model(kws_child, TASK)
    expected = SPEC.tasks[TASK].model_class
    assert report["class"] == expected, (
        f"config.json names class {report['class']}; the keyword-spotting model must be your "
        f"{expected}."
    )


def test_output_shape(grading, kws_child):
    """Model: one score per class (B, 12) for a batch of 1-second waveforms"""
    report = grading.loaded_model(kws_child, TASK)
    assert "evaluate" not in report["errors"], (
        f"Running your model failed: {report['errors'].get('evaluate')}"
    )


def test_accuracy(grading, kws_child, hidden_kws, score):
    """Accuracy on the hidden 12-class test set (partial credit by tier)"""
    report = grading.loaded_model(kws_child, TASK)
    assert report["predictions"] is not None, (
        f"Your model could not be evaluated: {report['errors'].get('evaluate')}"
    )
    accuracy = hidden_kws.accuracy(report["predictions"])
    grading.report.add_leaderboard("Keyword spotting accuracy", accuracy)
    fraction, message = tier_credit(accuracy, grading.tiers(ASSIGNMENT), SPEC.tasks[TASK].target)
    score.set(fraction, message if fraction == 1.0 else "")  # a passing test shows its accuracy
    assert fraction == 1.0, message


def test_recipe_schedule(grading, kws_child):
    """Task 4: the learning rate the training used warms up, then decays (OUT_DIR/kws/history.json)"""
    grading.loaded_model(kws_child, TASK)  # the notebook's model was graded at all
    spec = ASSIGNMENTS[ASSIGNMENT]
    try:
        notebook = find_notebook(grading.submission, spec.notebook, list(spec.model_tasks.values()))
    except FileNotFoundError as error:
        pytest.fail(str(error))
    path = outputs_folder(grading.submission, notebook) / TASK / "history.json"
    shown = f"{path.parent.parent.name}/{TASK}/history.json"
    try:
        lrs = json.loads(path.read_text())["lr"]
    except (OSError, ValueError, KeyError, TypeError):
        pytest.fail(
            f"{shown} is missing or is not the history fit() wrote; hand it in with model.pt "
            "(fit(..., out_dir=OUT_DIR / 'kws') writes it)"
        )
    items = schedule_items(lrs if isinstance(lrs, list) else [], "the learning rate used")
    failed = [(what, fix) for _, passed, what, fix in items if not passed]
    assert not failed, f"{shown}: ✗ {failed[0][0]} — {failed[0][1]}"


@pytest.mark.gpu
def test_retrains_on_gpu(grading, hidden_kws):
    """Re-training: the notebook trains from scratch on the GPU and reaches the simple tier"""
    test_folders = [grading.data / name for name in SPEC.data["test_folders"]]
    child = grading.retrain(ASSIGNMENT, hidden_kws, test_folders)
    steps = grading.config.getoption("--retrain-steps")
    report = grading.loaded_model(child, TASK)
    assert report["predictions"] is not None, (
        f"The re-trained model could not be evaluated: {report['errors']}"
    )
    accuracy = hidden_kws.accuracy(report["predictions"])
    simple = grading.tiers(ASSIGNMENT)["simple"]
    assert accuracy >= simple, (
        f"Re-trained for {steps} steps on {grading.retrain_device}, your notebook's model reaches "
        f"{accuracy:.4f}, below "
        f"the simple tier {simple:.4f}; check that the training cells run from a fresh kernel."
    )
