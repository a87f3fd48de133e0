"""Notebook 01, Task 4: does a learning-rate schedule warm up, then decay?

The one judge of the rule the notebook states: the notebook's self-check and the grading child
(`kws.assignments.keyword_spotting.recipe_checks`, run by `kws.grading.child.numeric`) both pass the student's
`learning_rate_factor`, evaluated step by step, to `schedule_items`; the hidden grader
(graded_tests/test_01_keyword_spotting.py) reads the items back from the child's payload.
"""

from __future__ import annotations

import math

from kws.author import N_, Text


def schedule_items(values: list, where: str | Text) -> list[tuple[str, bool, str, str]]:
    """[(topic, passed, what, fix)] for `values` (one learning rate or factor per step): a
    warm-up (the first step at most half the peak, the peak reached before the middle of the
    run) and a decay (never rise again, end below a quarter of the peak; a cosine over a short
    run does not reach 0 by its last step). The notebook's Task 4 states these rules. Values
    that cannot be judged give one failed "build" item."""
    n = len(values)
    numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    )
    if n < 4 or not numbers:
        return [
            (
                "build",
                False,
                Text(N_("{where}: at least 4 finite values"), where=where),
                N_("train for at least 4 steps"),
            )
        ]
    peak_at = max(range(n), key=values.__getitem__)
    peak = values[peak_at]
    if peak <= 0:
        return [
            (
                "build",
                False,
                Text(N_("{where}: the learning rate is positive"), where=where),
                N_("use a positive peak learning rate"),
            )
        ]
    rises = [i for i in range(peak_at + 1, n) if values[i] > values[i - 1] * (1 + 1e-9)]
    return [
        (
            "warm-up",
            values[0] <= 0.5 * peak and 0 < peak_at < n // 2,
            Text(
                N_(
                    "{where}: warms up (starts at {start:.2f} of the peak, peaks at step {step} "
                    "of {n})"
                ),
                where=where,
                start=values[0] / peak,
                step=peak_at + 1,
                n=n,
            ),
            N_(
                "the first step must use at most half the peak rate and the peak must come "
                "before the middle of the run: rise linearly from 0, e.g. step / warmup for "
                "step < warmup, with warmup = max(1, round(0.1 * total_steps)) so that even a "
                "short run warms up for at least one step ((step + 1) / warmup with warmup = 1 "
                "starts at the peak); a constant rate has no warm-up"
            ),
        ),
        (
            "decay",
            not rises and values[-1] <= 0.25 * peak,
            Text(
                N_("{where}: decays after the peak (ends at {end:.2f} of it)"),
                where=where,
                end=values[-1] / peak,
            ),
            N_(
                "after the warm-up, decay to (near) 0 without rising again, e.g. a cosine: "
                "0.5 * (1 + cos(pi * progress))"
            ),
        ),
    ]
