"""The graders' part of a grading run's plan: what `kws grade` decided once for the whole class
(`kws.grading.classrun.plan.plan_run`) and every pytest grader of the run reads from a file
(``--plan FILE``, `kws.grading.plugin`) instead of deciding it again from --data: the data
folder it was made for, the tier set of each assignment, and the notebooks graded on a public
test set.

    part = GraderPlan(data, {"keyword_spotting": tier_set}, ["keyword_spotting"])
    Path(folder, PLAN_FILE).write_text(part.text())
    read_plan(Path(folder, PLAN_FILE), data) == part
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kws.grading.judge.tiers import TierSet

PLAN_FILE = "plan.json"  # in a folder of the run's own, gone when the run ends
PLAN_VERSION = 1


@dataclass(frozen=True)
class GraderPlan:
    """What one pytest grader reads of the run's plan."""

    data: Path  # resolved
    tier_sets: dict[str, TierSet]
    public_only: list[str]  # of the notebooks graded: those on a public test set

    def text(self) -> str:
        """The plan file's JSON (`read_plan` reads it)."""
        tier_sets = {
            name: {"name": t.name, "tiers": t.tiers, "source": t.source}
            for name, t in self.tier_sets.items()
        }
        part = {"version": PLAN_VERSION, "data": str(self.data), "tier_sets": tier_sets,
                "public_test_set": self.public_only}  # fmt: skip
        return json.dumps(part, indent=2)


def read_plan(path: Path, data: Path) -> GraderPlan:
    """The graders' part of a plan written at `path`, for a grader of the data folder `data`;
    ValueError naming the file when it is unreadable or was made for other data."""
    try:
        part = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"--plan {path}: cannot read the run's plan ({error})") from None
    if not isinstance(part, dict) or part.get("version") != PLAN_VERSION:
        raise ValueError(f"--plan {path}: not a grading plan of this kit (version {PLAN_VERSION})")
    if Path(part["data"]) != Path(data).resolve():
        raise ValueError(
            f"--plan {path} was made for the data folder {part['data']}, not {data}: leave "
            "--plan out, or pass the data folder the run planned"
        )
    tier_sets = {name: TierSet(**t) for name, t in part["tier_sets"].items()}
    return GraderPlan(Path(part["data"]), tier_sets, list(part["public_test_set"]))
