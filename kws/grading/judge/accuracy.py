"""A model task's hidden-test accuracy, from where its assignment's spec says (``[accuracy]``):
the child's predictions of every input (`model_accuracy`), or the hand-in's predictions.csv
checked against the child's re-run of a secret sample (`csv_accuracy`). The rule and its
arithmetic (`escape_rate`): docs/reference/csv-accuracy.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from kws.data.labels_csv import read_labels_csv
from kws.grading.protocol.handin import relative
from kws.grading.testsets.hidden import HiddenTest
from kws.spec import AccuracySource


class AccuracyError(ValueError):
    """The accuracy cannot be given; the message says why and what to hand in."""


@dataclass(frozen=True)
class CsvCheck:
    """What the sampled check of a predictions.csv found.

    Attributes:
        accuracy: the file's accuracy on every test item.
        checked: the items the child re-ran (the sample).
        disagree: Ids of the sample whose class in the file the model neither predicts nor
            scores as its runner-up within the margin of its top score, then the near ties
            beyond the `forgiven` ones.
        allowed: how many disagreements the tolerance lets pass.
        excused: rows of the sample naming the model's runner-up within the margin.
        forgiven: how many of those the spec's ``excused`` fraction forgives; the others are
            in `disagree`.
        correct: {Id: whether the file's class is right} for every test item (the Kaggle
            rule's parts, `kws.grading.testsets.split`).
    """

    accuracy: float
    checked: int
    disagree: tuple[str, ...]
    allowed: int
    excused: int = 0
    forgiven: int = 0
    correct: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return len(self.disagree) <= self.allowed


def model_accuracy(hidden: HiddenTest, report: dict, task: str) -> float:
    """The accuracy of the child's predictions of every test input (`report`: the task's
    report in the child's payload); AccuracyError when the model gave none."""
    return hidden.accuracy(_model_predictions(report, task))


def _model_predictions(report: dict, task: str) -> list[int]:
    if report["predictions"] is None:
        raise AccuracyError(
            f"Your {task} model could not be evaluated: {report['errors'].get('evaluate')}"
        )
    return report["predictions"]


def csv_rows(path: Path, submission: Path, hidden: HiddenTest, report: dict) -> dict[str, int]:
    """{Id: class index} of every test item in the predictions file `path`, once the model
    re-ran (`report`: the task's report in the child's payload): all `csv_accuracy` needs but
    the labels; AccuracyError naming the file (relative to `submission`) otherwise."""
    shown = relative(path, submission)
    if report["predictions"] is None:
        raise AccuracyError(
            f"Your model could not be re-run to check {shown} "
            f"({report['errors'].get('evaluate')}), so its accuracy cannot be given."
        )
    return _rows(path, shown, hidden)


def check_scorable(
    rule: AccuracySource,
    path: Path | None,
    submission: Path,
    hidden: HiddenTest,
    report: dict,
    task: str,
) -> None:
    """Check what a task's accuracy needs besides the hidden labels, as `model_accuracy` or
    `csv_accuracy` (by `rule`, the spec's ``[accuracy]``) checks it: the model's predictions,
    and from a predictions file (`path`, None where the rule reads none) one known class for
    every test item. ``kws handin`` runs it on the student's own data, which has no labels
    (`HiddenTest.labelled`).

    Raises:
        AccuracyError: with the sentence the grader's accuracy test fails with.
    """
    if rule.from_csv:
        csv_rows(path, submission, hidden, report)
    else:
        _model_predictions(report, task)


def csv_accuracy(
    path: Path, submission: Path, hidden: HiddenTest, report: dict, rule: AccuracySource
) -> CsvCheck:
    """Score the predictions file `path` on every test item and check it against the model's
    predictions of the sample (`report`: the task's report in the child's payload, its
    ``predictions`` and ``near`` per input, in the order of ``hidden.ids``; the inputs of a
    private test set among them have no row in the file and are left out); AccuracyError
    naming the file (relative to `submission`) when it cannot be scored or checked."""
    rows = csv_rows(path, submission, hidden, report)
    correct = {key: rows[key] == label for key, label in hidden.test_labels.items()}
    disagree, excused, checked = [], [], 0
    nearby = report.get("near") or [[] for _ in report["predictions"]]
    inputs = zip(hidden.ids, report["predictions"], nearby, hidden.private, strict=True)
    for key, predicted, near, private in inputs:
        if private:  # a private test item: the file has no row for it
            continue
        checked += 1
        if rows[key] != predicted:
            (excused if rows[key] in near else disagree).append(key)
    forgiven = math.floor(rule.excused * checked)
    return CsvCheck(
        accuracy=sum(correct.values()) / len(correct),
        checked=checked,
        disagree=tuple(disagree + excused[forgiven:]),  # near ties beyond honest rounding
        allowed=math.floor(rule.tolerance * checked),
        excused=len(excused),
        forgiven=forgiven,
        correct=correct,
    )


def _rows(path: Path, shown: str, hidden: HiddenTest) -> dict[str, int]:
    """{Id: class index} of every test item in the file; AccuracyError unless it has exactly
    one row of a known class for each (test_predictions_csv says which rows are wrong)."""
    if not path.is_file():
        raise AccuracyError(f"{shown} is missing, so this task's accuracy cannot be given.")
    try:
        rows = read_labels_csv(path)
    except (ValueError, UnicodeDecodeError, OSError) as error:
        raise AccuracyError(f"{shown} cannot be read ({error}), so no accuracy.") from None
    index = {name: number for number, name in enumerate(hidden.classes)}
    usable = set(rows) == set(hidden.test_labels) and set(rows.values()) <= set(index)
    if not usable:
        raise AccuracyError(
            f"{shown} does not give one known class for every test item, so its accuracy "
            "cannot be given (the predictions.csv test says which rows are wrong)."
        )
    return {key: index[name] for key, name in rows.items()}


def disagreement_message(check: CsvCheck, shown: str, task: str) -> str:
    """Why a predictions file that failed its check (`CsvCheck.passed` False) earns no
    accuracy points, with the counts and what to hand in."""
    example = check.disagree[0]
    return (
        f"{shown} disagrees with your {task} model on {len(check.disagree)} of the "
        f"{check.checked} test items the grader re-ran with model.pt (at most {check.allowed} "
        f"may differ, for rounding; e.g. {example}), so it is not what this model predicts and "
        "its accuracy earns no points. Hand in the predictions.csv and model.pt of the same run "
        "(the notebook's saving cell writes both); a model whose output changes with the "
        f"padding of its batch also disagrees: mask the padded frames.{_near_text(check)}"
    )


def _near_text(check: CsvCheck) -> str:
    """What the message adds when near ties beyond the forgiven ones were counted."""
    if check.excused <= check.forgiven:
        return ""
    return (
        f" Of these, {check.excused - check.forgiven} name your model's runner-up in a near "
        f"tie: at most {check.forgiven} near ties are forgiven (honest models show about 2 in "
        "400), so a model scoring its top two classes alike cannot let the file name either."
    )


def escape_rate(sample: int, tolerance: float, chance: float = 1e-3) -> float:
    """The largest fraction p of disagreeing rows that a sample of `sample` items with
    `tolerance` lets pass with probability >= `chance` (binomial tail, to 1e-6)."""
    allowed = math.floor(tolerance * sample)

    def passes(p: float) -> float:
        return sum(
            math.comb(sample, k) * p**k * (1 - p) ** (sample - k) for k in range(allowed + 1)
        )

    low, high = 0.0, 1.0
    while high - low > 1e-6:
        middle = (low + high) / 2
        low, high = (middle, high) if passes(middle) >= chance else (low, middle)
    return low
