"""One run of a reference notebook and what its grading measured (`kws reference`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kws.spec import Spec


@dataclass
class Run:
    """One notebook run and its grading.

    Attributes:
        spec: the assignment.
        seed: ``KWS_SEED``.
        tenth: a tenth of the budget (every ``*STEPS`` setting, at least 1).
        folder: where it ran.
        accuracies: {task: accuracy} the grader measured.
        score, max_score: the grader's.
        lost: the tests that lost points, accuracy tests included.
        lost_checks: those of `lost` that are not accuracy tests (what a reference must never
            lose, whatever the tiers).
    """

    spec: Spec
    seed: int
    tenth: bool
    folder: Path
    accuracies: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    max_score: float = 0.0
    lost: list[str] = field(default_factory=list)
    lost_checks: list[str] = field(default_factory=list)
    gaps: dict[str, float] = field(default_factory=dict)  # {task: public - private accuracy}

    @property
    def name(self) -> str:
        return f"seed{self.seed}" + ("-tenth" if self.tenth else "")
