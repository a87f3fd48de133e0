"""Notebook 01's Task 4 checks: the RECIPE's settings and the training's learning-rate schedule.

Task 4 checks the shape of a learning-rate schedule, the student's `learning_rate_factor`: over
a long run and over the notebook's own budget (the self-check), and over the steps the graded run
recorded in ``history.json``, whose learning rates must follow it (the grader,
`recorded_schedule`); one judge for both, `kws.assignments.keyword_spotting.schedule`.
"""

from __future__ import annotations

import math

from kws.author import N_, Checker, Text, call


def schedule_shape(checker: Checker, values: list[float], where: str | Text) -> None:
    """A warm-up then a decay, judged as the grader judges the learning rates a run wrote
    (`kws.assignments.keyword_spotting.schedule`)."""
    from kws.author import spec_of

    schedule = spec_of(__file__).module("schedule")  # the grader's judge
    for topic, passed, what, fix in schedule.schedule_items(values, where):
        if topic == "build":
            checker.stop(what, fix)
        checker.topic = topic
        checker.expect(passed, what, fix)


def _factors(checker: Checker, function, total_steps: int) -> list[float]:
    """`function(step, total_steps)` for every step of a run of `total_steps`."""
    return call(
        checker,
        Text(N_("{call} runs"), call=f"learning_rate_factor(step, {total_steps})"),
        lambda: [float(function(step, total_steps)) for step in range(total_steps)],
    )


def learning_rate_factor(checker: Checker, function, total_steps: int = 1000) -> None:
    """The notebook's `learning_rate_factor(step, total_steps)` over a run of `total_steps`."""
    values = _factors(checker, function, total_steps)
    checker.expect(
        max(values) <= 1.0 + 1e-9,
        Text(
            N_("the factor peaks at {peak:.3g}, at most 1 (the peak learning rate itself)"),
            peak=max(values),
        ),
        N_("return a factor of the peak learning rate: between 0 and 1"),
    )
    where = Text.counted("the schedule over {n} step", "the schedule over {n} steps", total_steps)
    schedule_shape(checker, values, where)


RECIPE_SHAPE = "{'lr': ..., 'weight_decay': ..., 'label_smoothing': ...}"  # as the skeleton has it
RECORDED_TOLERANCE = 1e-6  # of the peak: the recorded rates are float64 products peak x factor


def recorded_schedule(checker: Checker, function, recorded: list[float] | str) -> None:
    """The grader's Task 4 check (run by `kws.grading.child.numeric`): the notebook's
    `learning_rate_factor` over the N steps its run recorded (`recorded`, from history.json; a
    str says why there is none) warms up and decays, and the recorded learning rates are a peak
    times that curve, step by step (else the run used another schedule, or the file was
    edited). Topics: "build" (the history, the function runs), "recorded", "warm-up", "decay"."""
    if isinstance(recorded, str):
        checker.stop(N_("the run's learning rates (history.json)"), recorded)
    total = len(recorded)
    values = _factors(checker, function, total)
    top = max(range(total), key=values.__getitem__)
    if all(math.isfinite(v) for v in values) and values[top] > 0:
        checker.topic = "recorded"
        peak = max(recorded) / values[top]  # the peak learning rate, if the run followed it
        off = [
            i
            for i in range(total)
            if abs(recorded[i] - peak * values[i]) > RECORDED_TOLERANCE * peak
        ]
        shown = f"learning_rate_factor(step, {total})"
        step = N_(" (step {step}: {recorded:.3g} recorded, {yours:.3g} from your function)")
        example = (
            Text(step, step=off[0], recorded=recorded[off[0]], yours=peak * values[off[0]])
            if off
            else ""
        )
        said = Text.counted(
            "history.json's {n} learning rate is a peak times {call}{example}",
            "history.json's {n} learning rates are a peak times {call}{example}",
            total,
            call=shown,
            example=example,
        )
        checker.expect(
            not off,
            said,
            N_(
                "the run did not use this learning_rate_factor, or history.json was edited after "
                "it: run the training cell again with the recipe cell as it is now "
                "(fit(..., lr_factor=learning_rate_factor)) and hand in the history.json it writes"
            ),
        )
    where = Text.counted(
        "learning_rate_factor over your run's {n} step",
        "learning_rate_factor over your run's {n} steps",
        total,
    )
    schedule_shape(checker, values, where)


def recipe(checker: Checker, settings: dict) -> None:
    """The notebook's RECIPE: AdamW's peak lr and weight decay, and the label smoothing."""
    expected = {"lr", "weight_decay", "label_smoothing"}
    if not isinstance(settings, dict) or set(settings) != expected:
        checker.stop(
            Text(N_("RECIPE has the keys {keys}"), keys=sorted(expected)),
            Text(N_("keep the skeleton's RECIPE = {recipe}"), recipe=RECIPE_SHAPE),
        )
    lr, decay, smoothing = (settings[k] for k in ("lr", "weight_decay", "label_smoothing"))
    checker.expect(
        isinstance(lr, (int, float)) and 1e-5 <= lr <= 1e-1,
        Text(N_("peak learning rate {lr}"), lr=lr),
        N_("AdamW trains a Transformer with a peak between 1e-5 and 1e-1 (e.g. 1e-3)"),
    )
    checker.expect(
        isinstance(decay, (int, float)) and 0 <= decay <= 1,
        Text(N_("weight decay {decay}"), decay=decay),
        N_("a weight decay between 0 and 1 (AdamW's decoupled decay; e.g. 0.01 to 0.1)"),
    )
    checker.expect(
        isinstance(smoothing, (int, float)) and 0 <= smoothing < 0.5,
        Text(N_("label smoothing {smoothing}"), smoothing=smoothing),
        N_("label smoothing between 0 and 0.5 (e.g. 0.1)"),
    )
