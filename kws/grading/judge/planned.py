"""The decisions of a grading run (`decide_handins`, the one function every path that grades
plans with) and the graders' part of its plan: what `kws grade` decided once for the whole class
(`kws.grading.classrun.plan.plan_run`) and every pytest grader of the run reads from a file
(``--plan FILE``, `kws.grading.plugin`) instead of deciding it again from --data: the data
folder it was made for, the tier set of each assignment, the notebooks graded on a public
test set, why the data cannot grade an assignment, and the notebooks each hand-in holds.

    part = GraderPlan(data, {"keyword_spotting": tier_set}, ["keyword_spotting"])
    Path(folder, PLAN_FILE).write_text(part.text())
    read_plan(Path(folder, PLAN_FILE), data) == part

`decide_handins` decides, for the hand-in folders a run grades and nothing beside them, the
assignments the data can grade, the tier set of each, the notebooks each hand-in holds and
those graded on a public test set: `kws grade` (`kws.grading.classrun.plan.plan_run`) and
`pytest grader/` without --plan (``grader/conftest.py``) both plan with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the assignments load when a plan is made, not when `kws` starts
    from kws.grading.judge.tiers import TierSet

PLAN_FILE = "plan.json"  # in a folder of the run's own, gone when the run ends
PLAN_VERSION = 2


@dataclass(frozen=True)
class Decided:
    """What a run's data and selection decide, once (`decide_grading`): the assignments its
    data can grade, the tier set each is graded against, and the grader's options."""

    gradable: list[str]
    tier_sets: dict[str, TierSet]
    options: list[str]
    held: dict[str, set[str]] = field(default_factory=dict)  # `decide_handins`'s hand-ins
    public_only: list[str] = field(default_factory=list)  # of the notebooks graded
    missing: dict[str, str] = field(default_factory=dict)  # {not gradable: why}
    holds: dict[str, set[str]] = field(default_factory=dict)  # `held`, gradable or not

    def grader_plan(self, data: Path, handins: list[Path]) -> GraderPlan:
        """The graders' part of these decisions, for a run of `data` grading `handins`."""
        held = {str(Path(h).resolve()): sorted(self.holds[Path(h).name]) for h in handins
                if Path(h).name in self.holds}  # fmt: skip
        return GraderPlan(Path(data).resolve(), self.tier_sets, self.public_only,
                          self.missing, held)  # fmt: skip


def decide_grading(
    data: Path, assignment: str | None, *, dataset: str | None = None, tiers: Path | None = None
) -> Decided:
    """The assignments of this selection `data` can grade, their tier sets and the grader's
    options, once the data and tier sets are known to be fine.

    Raises FileNotFoundError when `data` holds no test set of the selection, and ValueError
    (naming --tiers / --dataset) when an assignment's data has no tier set.
    """
    from kws.grading.judge.notebook import missing_test_data
    from kws.grading.judge.tiers import tier_set
    from kws.spec import ASSIGNMENTS

    if not Path(data).is_dir():
        raise FileNotFoundError(f"{data}: no such data folder (pass the grader's --data folder)")
    names = [assignment] if assignment else sorted(ASSIGNMENTS)
    missing = {name: missing_test_data(data, name) for name in names}
    gradable = [name for name in names if not missing[name]]
    if not gradable:
        raise FileNotFoundError(
            "; ".join(missing.values()) + ": pass the data folder with the hidden test sets"
        )
    chosen = {name: tier_set(data, name, dataset=dataset, tiers_file=tiers) for name in gradable}
    options = ["--assignment", assignment] if assignment else []
    options += ["--dataset", dataset] if dataset else []
    options += ["--tiers", str(Path(tiers).resolve())] if tiers else []
    missing = {name: why for name, why in missing.items() if why}
    return Decided(gradable, chosen, options, missing=missing)


def decide_handins(
    data: Path,
    handins: list[Path],
    assignment: str | None = None,
    *,
    dataset: str | None = None,
    tiers: Path | None = None,
) -> Decided:
    """`decide_grading`, and for `handins` (those a run grades; no folder beside them is
    looked at) the notebooks each holds and those graded on a public test set.

    Args:
        data: the data folder (--data); handins: the hand-in folders graded (one for
            `pytest grader/` and a regrade, a share or all of a class for `kws grade`).
        assignment, dataset, tiers: the selection (``--assignment``, ``--dataset``,
            ``--tiers``).

    Returns:
        The decisions, `held` and `public_only` filled in.

    Raises:
        FileNotFoundError / ValueError: as `decide_grading`.
    """
    from kws.grading.testsets.public_only import public_only

    decided = decide_grading(data, assignment, dataset=dataset, tiers=tiers)
    holds = held_notebooks(handins, [*decided.gradable, *decided.missing])
    held = {name: notebooks & set(decided.gradable) for name, notebooks in holds.items()}
    graded = [assignment] if assignment else sorted(set().union(*held.values()))
    found = public_only(data, graded if handins else None)
    return Decided(decided.gradable, decided.tier_sets, decided.options, held, found,
                   decided.missing, holds)  # fmt: skip


def held_notebooks(handins: list[Path], gradable: list[str]) -> dict[str, set[str]]:
    """{hand-in folder name: the notebooks the grader will grade in it: those of `gradable`
    it holds}, for each of `handins` that is a folder."""
    from kws.grading.judge.notebook import holds_notebook
    from kws.spec import ASSIGNMENTS

    return {
        h.name: {n for n in gradable if holds_notebook(h, ASSIGNMENTS[n])}
        for h in handins
        if h.is_dir()
    }


@dataclass(frozen=True)
class GraderPlan:
    """What one pytest grader reads of the run's plan."""

    data: Path  # resolved
    tier_sets: dict[str, TierSet]
    public_only: list[str]  # of the notebooks graded: those on a public test set
    missing: dict[str, str] = field(default_factory=dict)  # {assignment: why data can't grade it}
    held: dict[str, list[str]] = field(default_factory=dict)  # {hand-in folder: its notebooks}

    def text(self) -> str:
        """The plan file's JSON (`read_plan` reads it)."""
        tier_sets = {
            name: {"name": t.name, "tiers": t.tiers, "source": t.source}
            for name, t in self.tier_sets.items()
        }
        part = {"version": PLAN_VERSION, "data": str(self.data), "tier_sets": tier_sets,
                "public_test_set": self.public_only, "missing": self.missing,
                "held": self.held}  # fmt: skip
        return json.dumps(part, indent=2)


def read_plan(path: Path, data: Path) -> GraderPlan:
    """The graders' part of a plan written at `path`, for a grader of the data folder `data`;
    ValueError naming the file when it is unreadable or was made for other data."""
    from kws.grading.judge.tiers import TierSet

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
    return GraderPlan(Path(part["data"]), tier_sets, list(part["public_test_set"]),
                      dict(part["missing"]), dict(part["held"]))  # fmt: skip
