"""The figures of `kws report`: scores, tests, accuracy against the tiers, grading time.

Each function takes the plain data of `kws.grading.publish.report.analysis` and returns a matplotlib Figure,
built without pyplot (headless, no global state), or None when there is nothing to draw.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from kws.grading.publish.report.analysis import TOTAL, TaskAccuracy, TestRow, summary
from kws.spec import TIER_ORDER

BLUE, GREY, RED = "#3b6ea8", "#9aa5b1", "#c0392b"
TIER_COLOURS = {"simple": "#95a5a6", "medium": "#e1a33b", "strong": "#3b8e5a", "boss": "#7d3c98"}
_MAX_TESTS = 24


def _bins(maximum: float) -> np.ndarray:
    """Bin edges: one bin per whole point up to 25 points, else 20 bins over 0 .. maximum."""
    top = max(maximum, 1.0)
    return np.arange(-0.5, top + 1.0, 1.0) if top <= 25 else np.linspace(0.0, top, 21)


def score_histograms(
    final: dict[str, tuple[list[float], float]],
    raw: dict[str, tuple[list[float], float]] | None = None,
) -> Figure:
    """One histogram per assignment and one of the total: the final scores (`final`, of
    `kws.grading.publish.report.analysis.score_distributions`), their median marked, and the
    raw scores (`raw`) drawn as an outline over them where they differ."""
    names = [n for n in final if n != TOTAL] + [TOTAL] * (TOTAL in final)
    figure = Figure(figsize=(4.2 * len(names), 3.2), layout="constrained")
    for number, name in enumerate(names, start=1):
        scores, maximum = final[name]
        facts = summary(scores, maximum)
        axes = figure.add_subplot(1, len(names), number)
        bins = _bins(maximum)
        axes.hist(scores, bins=bins, color=BLUE if name != TOTAL else "#2c3e50", label="final")
        before = (raw or {}).get(name, (scores, maximum))[0]
        if sorted(before) != sorted(scores):
            axes.hist(before, bins=bins, histtype="step", color=GREY, linewidth=1.5, label="raw")
            axes.legend(fontsize=8, loc="upper left")
        axes.axvline(facts["median"], color=RED, linestyle="--", linewidth=2, zorder=3)
        axes.set_title(
            f"{name}: final median {facts['median']:.3g} / {maximum:g}\n"
            f"{facts['full_share']:.0%} with full marks",
            fontsize=10,
        )
        axes.set(xlabel="points", xlim=(-0.5, max(maximum, 1.0) + 0.5))
        axes.set_ylabel("hand-ins" if number == 1 else "")
        axes.yaxis.get_major_locator().set_params(integer=True)
    return figure


def tests_chart(rows: list[TestRow]) -> Figure | None:
    """Points the class lost per test (the worst first), each bar labelled with its pass rate."""
    rows = [r for r in rows if r.points_lost > 0][:_MAX_TESTS]
    if not rows:
        return None
    figure = Figure(figsize=(9.5, 0.34 * len(rows) + 1.2), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(rows))[::-1]
    axes.barh(positions, [r.points_lost for r in rows], color=BLUE)
    axes.set_yticks(positions, [_short(r.name, 70) for r in rows], fontsize=8)
    for y, row in zip(positions, rows, strict=True):
        axes.text(row.points_lost, y, f"  {row.pass_rate:.0%} pass", va="center", fontsize=8)
    axes.set(xlabel="points lost by the class", xlim=(0, max(r.points_lost for r in rows) * 1.25))
    axes.set_title("Where the points went (worst first)", fontsize=10)
    return figure


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def accuracy_chart(tasks: list[TaskAccuracy]) -> Figure | None:
    """Per task, every hand-in's hidden-test accuracy (a dot) against the tier lines."""
    if not tasks:
        return None
    figure = Figure(figsize=(3.6 * len(tasks) + 1.0, 3.6), layout="constrained")
    rng = np.random.default_rng(0)  # the same jitter every time
    for number, task in enumerate(tasks, start=1):
        axes = figure.add_subplot(1, len(tasks), number)
        values = np.array(list(task.accuracies.values()))
        axes.scatter(rng.uniform(-0.3, 0.3, len(values)), values, s=14, color=BLUE, alpha=0.7)
        for tier in TIER_ORDER if task.tiers else ():
            bold, colour = tier == task.target, TIER_COLOURS[tier]
            style = {"linewidth": 2.2, "linestyle": "-"} if bold else {"linestyle": "--"}
            axes.hlines(task.tiers[tier], -0.45, 0.45, color=colour, **style)
            axes.text(0.5, task.tiers[tier], tier, color=colour, fontsize=8, va="center")
        axes.set(xlim=(-0.5, 0.9), xticks=[], ylim=(-0.02, 1.02))
        reached = ""
        if task.tiers and task.target:
            count = int((values >= task.tiers[task.target]).sum())
            reached = f"; {count} of {len(values)} reach it"
        axes.set_title(
            f"{task.assignment} / {task.task}\n(target {task.target}{reached})", fontsize=10
        )
        axes.set_ylabel("hidden-test accuracy" if number == 1 else "")
    return figure


def time_histogram(times: dict[str, float]) -> Figure | None:
    """How long grading each hand-in took."""
    if not times:
        return None
    figure = Figure(figsize=(6.0, 2.8), layout="constrained")
    axes = figure.add_subplot()
    axes.hist(list(times.values()), bins=20, color=GREY)
    axes.set(xlabel="seconds to grade one hand-in", ylabel="hand-ins")
    axes.yaxis.get_major_locator().set_params(integer=True)
    median, total = np.median(list(times.values())), sum(times.values())
    axes.set_title(f"median {median:.0f} s, total {total / 60:.1f} min", fontsize=10)
    return figure
