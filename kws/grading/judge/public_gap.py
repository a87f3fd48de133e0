"""A model that scores far better on the public test clips than on the private ones.

Where a private test set is graded (`kws.grading.testsets.hidden.HiddenTest.private`: the instructor's own
recordings or the secret variant of the public clips, `kws.data.private_variant`), the grading
child also predicts a secret sample of the public clips, shuffled in among the private ones.
An honest model scores about the same on both; a model that carries the public answers (a lookup
table of the public clips, in its weights or its buffers) scores far better on the public ones.
Such a hand-in keeps the grade its private accuracy earns, and is named for a person to read
(a review finding in its results, on the report's "hand-ins to look at").

`PUBLIC_GAP` is the largest gap that passes without a flag: the honest reference model's
largest gap over the real-speech folds measured, plus three standard errors of the difference on
the sample sizes graded (``benchmarks/bench_private_variant.py``, ``private_variant`` in
``kws/figures.json``).
"""

from __future__ import annotations

from collections.abc import Sequence

from kws.grading.testsets.hidden import HiddenTest

# How far (a fraction) the public accuracy may lead the private one without a flag: the
# reference's largest gap on the variant over the folds measured (3.6 points on fold 0), plus
# three standard errors of the difference at the real sizes (4,890 private, 1,000 public: 1.0).
PUBLIC_GAP = 0.07


def public_gap(
    hidden: HiddenTest,
    predictions: Sequence[int],
    notebook: str,
    task: str,
    *,
    compared: float | None = None,
) -> tuple[list[str], str | None]:
    """What the results say about the private test set: notes for the run's output (the private,
    graded, and public accuracies of `task`'s `predictions`), and a review finding's sentence when
    the public one leads by more than `PUBLIC_GAP` (else None); ([], None) without a private set.

    `compared`: under the Kaggle rule, the accuracy on the public part of the private test set
    (`kws.grading.testsets.split`), stated and compared in place of the whole private set's,
    which together with the public part's would give the held-out part's away before the due
    date. On a public share of 0.3 that part holds 1,467 of the real 4,890 clips: at an accuracy
    near 0.9, one standard error of the difference grows from 1.0 to about 1.2 points, so three
    of them come to about 0.7 points more than `PUBLIC_GAP` allows for: an honest model is
    flagged a little more often (a binomial estimate, not a measurement)."""
    public = hidden.public_accuracy(predictions)
    if public is None:
        return [], None
    private = hidden.accuracy(predictions) if compared is None else compared
    which = (
        "private test clips (graded)"
        if compared is None
        else "public part of the private test clips"
    )
    notes = [
        f"{notebook}: {task} accuracy on the {which}: {private:.4f}; on "
        f"a sample of the public test clips: {public:.4f}."
    ]
    if public - private <= PUBLIC_GAP:
        return notes, None
    ones = "private ones" if compared is None else "public part of the private ones"
    review = (
        f"{notebook}: the {task} model scores {public:.4f} on the public test clips but "
        f"{private:.4f} on the {ones} the students do not have, "
        f"{100 * (public - private):.1f} points apart (honest models stay within "
        f"{100 * PUBLIC_GAP:.0f}); it may carry the public answers rather than earn them. Its "
        "grade is the private accuracy"
    )
    return notes, review
