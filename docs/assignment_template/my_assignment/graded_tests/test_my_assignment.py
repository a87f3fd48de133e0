"""The template's graded tests: each reads the grading child's payload through the grader's
fixtures `grading`, `child`, `hidden` and `score` (see the Authoring API page, `kws.author`) and
never imports student code. A test's points are spec.toml's [points] entry for its function
name; its docstring is what students read."""

from kws.author import spec_of, tier_credit

SPEC = spec_of(__file__)  # this folder's spec.toml
TASK = "task1"


def test_model_loads(grading, child):
    """Task 1: the model builds from config.json and loads model.pt"""
    report = grading.loaded_model(child, TASK)
    expected = SPEC.tasks[TASK].model_class
    assert report["class"] == expected, (
        f"{TASK}/config.json names class {report['class']}; this task's model must be your {expected}."
    )


def test_norm_before_classifier(grading, child):
    """Task 1: a normalization feeds the classifier's final Linear"""
    passed, explanation = grading.probe_facts(child, TASK)["norm_before_classifier"]
    assert passed, explanation


def test_accuracy(grading, child, hidden, score):
    """Task 1: accuracy on the hidden test labels (partial credit by tier)"""
    report = grading.loaded_model(child, TASK)
    assert report["predictions"] is not None, (
        f"Your {TASK} model could not be evaluated: {report['errors'].get('evaluate')}"
    )
    accuracy = hidden.accuracy(report["predictions"])
    target = SPEC.tasks[TASK].target
    fraction, message = tier_credit(accuracy, grading.tiers(SPEC.name), target)
    score.set(fraction, message if fraction == 1.0 else "")
    assert fraction == 1.0, message
