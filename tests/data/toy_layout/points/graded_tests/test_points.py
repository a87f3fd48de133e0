"""The toy assignment's graded tests: the model loads, and its accuracy on the hidden labels
its data layout read (layout.py)."""

from kws.author import spec_of, tier_credit

SPEC = spec_of(__file__)
TASK = "task1"


def test_model_loads(grading, child):
    """Task 1: the model builds from config.json and loads model.pt"""
    report = grading.loaded_model(child, TASK)
    assert report["class"] == SPEC.tasks[TASK].model_class


def test_accuracy(grading, child, hidden, score):
    """Task 1: accuracy on the hidden labels (partial credit by tier)"""
    report = grading.loaded_model(child, TASK)
    assert report["predictions"] is not None, report["errors"].get("evaluate")
    accuracy = hidden.accuracy(report["predictions"])
    fraction, message = tier_credit(accuracy, grading.tiers(SPEC.name), SPEC.tasks[TASK].target)
    score.set(fraction, message if fraction == 1.0 else "")
    assert fraction == 1.0, message
