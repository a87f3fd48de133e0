"""Accuracy from a hand-in's predictions.csv, checked against its model on a secret sample
(kws.grading.judge.accuracy): the arithmetic the documentation quotes, what counts as agreeing, and
the messages."""

import numpy as np
import pytest
import torch

from kws.grading.child.predictions import _near_ties
from kws.grading.judge.accuracy import (
    AccuracyError,
    csv_accuracy,
    disagreement_message,
    escape_rate,
    model_accuracy,
)
from kws.grading.testsets.hidden import HiddenTest, secret_sample
from kws.spec import AccuracySource

RULE = AccuracySource("predictions.csv", sample=4, tolerance=0.25, margin=0.01, excused=0.25)
TRUTH = {"u0.pt": 0, "u1.pt": 1, "u2.pt": 2, "u3.pt": 0, "u4.pt": 1, "u5.pt": 2}


def _hidden(tmp_path, sampled=("u4.pt", "u1.pt", "u0.pt", "u2.pt")) -> HiddenTest:
    labels = [TRUTH[key] for key in sampled]
    return HiddenTest(tmp_path / "inputs.bin", labels, ("a", "b", "c"), sampled, TRUTH)


def _csv(tmp_path, classes: dict[str, str]) -> object:
    path = tmp_path / "outputs" / "task1" / "predictions.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Id,Category\n" + "".join(f"{k},{v}\n" for k, v in classes.items()))
    return path


def test_the_file_is_scored_on_every_item_and_checked_on_the_sample(tmp_path):
    hidden = _hidden(tmp_path)
    path = _csv(
        tmp_path,
        {"u0.pt": "a", "u1.pt": "b", "u2.pt": "c", "u3.pt": "b", "u4.pt": "b", "u5.pt": "a"},
    )
    report = {"predictions": [1, 1, 0, 2], "near": [[], [], [], []], "errors": {}}
    check = csv_accuracy(path, tmp_path, hidden, report, RULE)
    assert check.accuracy == pytest.approx(4 / 6)  # u3 and u5 are wrong, outside the sample
    assert check.passed and check.disagree == () and (check.checked, check.allowed) == (4, 1)


def test_a_near_tie_agrees_and_other_differences_count(tmp_path):
    hidden = _hidden(tmp_path)
    path = _csv(tmp_path, {k: "abc"[v] for k, v in TRUTH.items()})  # the true labels
    near = {"predictions": [1, 1, 2, 2], "near": [[], [], [0], []], "errors": {}}
    assert csv_accuracy(path, tmp_path, hidden, near, RULE).passed  # u0: the runner-up
    far = {"predictions": [1, 0, 2, 2], "near": [[], [], [], []], "errors": {}}
    check = csv_accuracy(path, tmp_path, hidden, far, RULE)
    assert check.disagree == ("u1.pt", "u0.pt") and not check.passed
    message = disagreement_message(check, "outputs/task1/predictions.csv", "task1")
    assert message.startswith(
        "outputs/task1/predictions.csv disagrees with your task1 model on 2 of the 4 test items "
        "the grader re-ran with model.pt (at most 1 may differ"
    )
    assert "mask the padded frames" in message


def test_near_ties_beyond_what_honest_models_show_count_as_disagreements(tmp_path):
    """A model lifting its runner-up to a near tie on every item, its file naming whichever of
    the two is right: one near tie is forgiven (excused = 0.25 of 4), the others disagree."""
    hidden = _hidden(tmp_path)
    path = _csv(tmp_path, {k: "abc"[v] for k, v in TRUTH.items()})  # the true labels
    # the model's top class is wrong on u4, u1 and u0, and the true class its close runner-up
    tied = {"predictions": [0, 2, 1, 2], "near": [[1], [1], [0], [0]], "errors": {}}
    check = csv_accuracy(path, tmp_path, hidden, tied, RULE)
    assert (check.excused, check.forgiven) == (3, 1)
    assert check.disagree == ("u1.pt", "u0.pt") and not check.passed
    message = disagreement_message(check, "outputs/task1/predictions.csv", "task1")
    assert "Of these, 2 name your model's runner-up in a near tie: at most 1 near ties" in message
    honest = {"predictions": [1, 1, 1, 2], "near": [[], [], [0], []], "errors": {}}
    check = csv_accuracy(path, tmp_path, hidden, honest, RULE)  # one near tie: forgiven
    assert check.passed and check.disagree == () and check.excused == 1


def test_a_file_that_cannot_be_scored_says_why(tmp_path):
    hidden = _hidden(tmp_path)
    report = {"predictions": [1, 1, 0, 2], "near": None, "errors": {}}
    missing = tmp_path / "outputs" / "task1" / "predictions.csv"
    with pytest.raises(AccuracyError, match="outputs/task1/predictions.csv is missing"):
        csv_accuracy(missing, tmp_path, hidden, report, RULE)
    short = _csv(tmp_path, {"u0.pt": "a"})
    with pytest.raises(AccuracyError, match="does not give one known class for every test item"):
        csv_accuracy(short, tmp_path, hidden, report, RULE)
    path = _csv(tmp_path, {k: "a" for k in TRUTH})
    broken = {"predictions": None, "near": None, "errors": {"evaluate": "RuntimeError: boom"}}
    with pytest.raises(AccuracyError, match="could not be re-run .*RuntimeError: boom"):
        csv_accuracy(path, tmp_path, hidden, broken, RULE)
    with pytest.raises(AccuracyError, match="Your kws model could not be evaluated"):
        model_accuracy(hidden, broken, "kws")


def test_the_arithmetic_the_documentation_quotes():
    """400 re-run items, 1 % tolerance: a file differing on 3.65 % of the rows passes with
    probability 1e-3, on 1.2 % with probability 1/2 (binomial tail)."""
    assert escape_rate(400, 0.01) == pytest.approx(0.0365, abs=5e-4)
    assert escape_rate(400, 0.01, chance=0.5) == pytest.approx(0.0117, abs=5e-4)
    assert escape_rate(800, 0.01) < escape_rate(400, 0.01) < escape_rate(400, 0.02)


def test_only_the_runner_up_of_a_near_tie_is_excused():
    logits = torch.tensor(
        [
            [5.0, 4.99, 0.0, 1.0],  # runner-up within 1 % of the range (5): excused
            [5.0, 4.0, 0.0, 1.0],  # runner-up 20 % below: not
            [1.0, 0.999, 0.999, 0.0],  # all but one class tied: only the runner-up is
            [2.0, 2.0, 2.0, 2.0],  # a flat row: no range, nothing excused
        ]
    )
    near = _near_ties(logits, 0.01)
    assert near[:2] == [[1], []] and len(near[2]) == 1 and near[3] == []


def test_the_sample_is_secret_and_uniform():
    draws = [secret_sample(8000, 400) for _ in range(3)]
    assert all(len(set(d.tolist())) == 400 and d.max() < 8000 for d in draws)
    assert not np.array_equal(draws[0], draws[1])  # drawn afresh from the OS every time
    assert sorted(secret_sample(6, 400).tolist()) == list(range(6))  # fewer items: all of them
