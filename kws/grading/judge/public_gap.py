"""A model that scores far better on the public test set than on the private one may carry the
public answers: such a hand-in keeps the grade its private accuracy earns, and is named for a
person to read (a review finding the student never sees). The honest gaps measured:
``benchmarks/bench_private_variant.py``, ``benchmarks/bench_speaker_private.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kws.grading.testsets.hidden import HiddenTest
from kws.i18n import gettext as _

# How far (a fraction) the public accuracy may lead the private one without a flag, at least:
# the keyword reference's largest gap on the variant over the folds measured (3.6 points on fold
# 0), plus three standard errors of the difference at the real sizes (4,890 private, 1,000
# public: 1.0).
PUBLIC_GAP = 0.07
STANDARD_ERRORS = 3  # beyond this many standard errors, a gap is not chance


def allowed_gap(
    public: float, n_public: int, private: float, n_private: int, honest: float | None = None
) -> float:
    """The gap (a fraction) by which an accuracy of `public` on `n_public` items may lead one of
    `private` on `n_private` items without a flag: `honest` (the course's reference measured on
    this private set, the spec's ``[public_gap]``), else `PUBLIC_GAP`; or `STANDARD_ERRORS`
    standard errors of their difference when that is more."""
    variance = public * (1 - public) / max(n_public, 1)
    variance += private * (1 - private) / max(n_private, 1)
    floor = PUBLIC_GAP if honest is None else honest
    return max(floor, STANDARD_ERRORS * math.sqrt(variance))


def public_gap(
    hidden: HiddenTest,
    predictions: Sequence[int],
    notebook: str,
    task: str,
    items: str = "clips",
    csv_accuracy: float | None = None,
    *,
    compared: float | None = None,
    honest: float | None = None,
) -> tuple[list[str], str | None]:
    """What the results say about the private test set: notes for the run's output, in the
    active language (the private, graded, and public accuracies of `task`'s `predictions`, and
    `csv_accuracy`, the hand-in's predictions.csv's on every public test item, when given), and
    a review finding's sentence when a public one leads by more than `allowed_gap` (else None);
    ([], None) without a private set. `items`: what the test set holds, for the sentences ("clips", "utterances"). `honest`:
    the gap the course's reference showed on this private set (`allowed_gap`).

    `compared`: under the Kaggle rule, the accuracy on the public part of the private test set
    (`kws.grading.testsets.split`), stated and compared in place of the whole private set's,
    which together with the public part's would give the held-out part's away before the due
    date. The standard errors are still counted on the whole private set: on a public share of
    0.3 of the real 4,890 clips, at an accuracy near 0.9, one standard error of the difference
    grows from 1.0 to about 1.2 points, so three of them come to about 0.7 points more than
    `PUBLIC_GAP` allows for: an honest model is flagged a little more often (a binomial
    estimate, not a measurement)."""
    public = hidden.public_accuracy(predictions)
    if public is None:
        return [], None
    private = hidden.accuracy(predictions) if compared is None else compared
    n_private = int(hidden.private.sum())
    # the note a student reads, in the course's language; the items' name ("clips") too
    values = {"notebook": notebook, "task": task, "items": _(items),
              "private": f"{private:.4f}", "public": f"{public:.4f}"}  # fmt: skip
    if compared is None:
        said = _("{notebook}: {task} accuracy on the private test {items} (graded): {private}; "
                 "on a sample of the public test {items}: {public}")  # fmt: skip
    else:
        said = _("{notebook}: {task} accuracy on the public part of the private test {items}: "
                 "{private}; on a sample of the public test {items}: {public}")  # fmt: skip
    note = said.format(**values)
    if csv_accuracy is not None:
        total = f"{len(hidden.test_labels):,}"
        said = _("; predictions.csv's on all {total} public test {items}: {csv}")
        note += said.format(total=total, items=values["items"], csv=f"{csv_accuracy:.4f}")
    leads = [(public, len(hidden.labels) - n_private, f"the {task} model scores", "")]
    if csv_accuracy is not None:
        csv = f"the {task} predictions.csv scores"
        leads.append((csv_accuracy, len(hidden.test_labels), csv, "its model "))
    gaps = [(lead - private, allowed_gap(lead, n, private, n_private, honest), lead, who, model)
            for lead, n, who, model in leads]  # fmt: skip
    gap, allowed, lead, who, model = max(gaps, key=lambda g: g[0] - g[1])
    if gap <= allowed:
        return [note + "."], None
    ones = "private ones" if compared is None else "public part of the private ones"
    measured = "on this private set, as the course's reference measured"
    where = "at these sizes" if honest is None else measured
    review = (
        f"{notebook}: {who} {lead:.4f} on the public test {items} but {model}"
        f"{private:.4f} on the {ones} the students do not have, {100 * gap:.1f} points "
        f"apart (honest models stay within {100 * allowed:.0f} {where}); it may carry the "
        "public answers rather than earn them. Its grade is the private accuracy"
    )
    return [note + "."], review
