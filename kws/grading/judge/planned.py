"""The decisions of a grading run and the graders' part of its plan (`GraderPlan`, the ``--plan``
file), made once by `decide_handins` and `Decided.grader_plan` on every path that grades
(docs/development/architecture.md, steps 1 to 3). A plan file lacking a decision is refused
(`read_plan`), never completed by deciding again; the shards of a class record the digest of the
decisions they share (`shared_decisions`, `plan_digest`), which `kws merge` compares.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the assignments load when a plan is made, not when `kws` starts
    from kws.grading.judge.tiers import TierSet
    from kws.grading.testsets.split import Split

PLAN_FILE = "plan.json"  # in a folder of the run's own, gone when the run ends
PLAN_VERSION = 5
DECISIONS = ("data", "assignment", "tier_sets", "public_test_set", "missing", "held", "split",
             "written", "season", "language")  # fmt: skip
# What one shard plans for its own share only (each hand-in's notebooks), or applies not at all
# (the season: `kws merge` applies the one kept in the grades folder to the merged class): the
# decisions every shard of one class shares are the others (`shared_decisions`).
NOT_SHARED = ("held", "season")
# A plan of an older kit is read, not refused: a class graded mid-term by it keeps working. Each
# decision added since the oldest version read, with the version that added it and what a plan
# made before it decided (a version-4 plan's graders wrote English).
OLDEST_READ = 4
ADDED = {"language": (5, "en")}


@dataclass(frozen=True)
class Decided:
    """What a run's data and selection decide, once (`decide_grading`): the assignments its
    data can grade and the tier set each is graded against."""

    gradable: list[str]
    tier_sets: dict[str, TierSet]
    assignment: str | None = None  # the selection (--assignment), None: every notebook held
    held: dict[str, set[str]] = field(default_factory=dict)  # `decide_handins`'s hand-ins
    public_only: list[str] = field(default_factory=list)  # of the notebooks graded
    missing: dict[str, str] = field(default_factory=dict)  # {not gradable: why}
    holds: dict[str, set[str]] = field(default_factory=dict)  # `held`, gradable or not
    written: dict[str, list[dict]] = field(default_factory=dict)  # the course's, by notebook

    def grader_plan(
        self,
        data: Path,
        handins: list[Path],
        *,
        split: Split | None = None,
        split_from: Path | None = None,
        season: dict | None = None,
        language: str | None = None,
    ) -> GraderPlan:
        """The graders' part of these decisions, for a run of `data` grading `handins`, with
        the Kaggle `split` (read from the course file `split_from`) checked on `data`
        (`checked_split`: SplitError naming `split_from` when a part would be empty) and the
        digest of the `season` the run applies (`SeasonInputs.digest`; None: none), and the
        `language` of what the graders write for students (the course file's; None: English or
        ``KWS_LANGUAGE``'s, `kws.i18n`)."""
        held = {str(Path(h).resolve()): sorted(self.holds[Path(h).name]) for h in handins
                if Path(h).name in self.holds}  # fmt: skip
        split = checked_split(split, split_from, data, self.gradable)
        return GraderPlan(Path(data).resolve(), self.tier_sets, self.public_only,
                          self.missing, held, self.assignment, split, self.written,
                          season, language)  # fmt: skip


def decide_grading(
    data: Path,
    assignment: str | None,
    *,
    dataset: str | None = None,
    tiers: Path | None = None,
    handin: bool = False,
) -> Decided:
    """The assignments of this selection `data` can grade and their tier sets, once the data
    and tier sets are known to be fine, and the written questions of every notebook of the
    course (`written_questions`: a regrade applies the season to a class graded in any of
    them); `handin`: a student's own check (`kws handin`), whose data has no labels, so no
    tier set is chosen.

    Raises FileNotFoundError when `data` holds no test set of the selection, ValueError
    (naming --tiers / --dataset) when an assignment's data has no tier set, and QuestionError
    (naming the notebook and cell) when a written question cannot be read.
    """
    from kws.grading.judge.notebook import missing_test_data
    from kws.grading.judge.tiers import tier_set
    from kws.grading.judge.written import written_questions
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
    chosen = {} if handin else {name: tier_set(data, name, dataset=dataset, tiers_file=tiers)
                                for name in gradable}  # fmt: skip
    missing = {name: why for name, why in missing.items() if why}
    written = written_questions(ASSIGNMENTS)
    return Decided(gradable, chosen, assignment, missing=missing, written=written)


def decide_handins(
    data: Path,
    handins: list[Path],
    assignment: str | None = None,
    *,
    dataset: str | None = None,
    tiers: Path | None = None,
    handin: bool = False,
) -> Decided:
    """`decide_grading`, and for `handins` (those a run grades; no folder beside them is
    looked at) the notebooks each holds and those graded on a public test set.

    Args:
        data: the data folder (--data); handins: the hand-in folders graded (one for
            `pytest grader/` and a regrade, a share or all of a class for `kws grade`, none
            for the Gradescope zip's plan, made before any comes: then the public test sets
            are those of every notebook of the selection).
        assignment, dataset, tiers: the selection (``--assignment``, ``--dataset``,
            ``--tiers``).
        handin: a student's own check (`kws handin`): no tier set, no public test set.

    Returns:
        The decisions, `held` and `public_only` filled in.

    Raises:
        FileNotFoundError / ValueError: as `decide_grading`.
    """
    from kws.grading.testsets.public_only import public_only

    decided = decide_grading(data, assignment, dataset=dataset, tiers=tiers, handin=handin)
    holds = held_notebooks(handins, [*decided.gradable, *decided.missing])
    held = {name: notebooks & set(decided.gradable) for name, notebooks in holds.items()}
    # no hand-in yet (the Gradescope zip's plan): every notebook a submission may hold
    every = sorted(set().union(*held.values())) if handins else decided.gradable
    found = [] if handin else public_only(data, [assignment] if assignment else every)
    return replace(decided, held=held, public_only=found, holds=holds)


def plan_handins(
    data: Path,
    handins: list[Path],
    assignment: str | None = None,
    *,
    dataset: str | None = None,
    tiers: Path | None = None,
    split: Split | None = None,
    split_from: Path | None = None,
    handin: bool = False,
    language: str | None = None,
) -> GraderPlan:
    """The graders' plan of a run grading `handins` (one, for the Gradescope autograder, `kws
    handin` and a grader started without ``--plan``), made as `kws grade` makes its own:
    `decide_handins`, then `Decided.grader_plan` with the Kaggle `split` (from the course file
    `split_from`) and the course's `language`. Raises as those do."""
    decided = decide_handins(data, handins, assignment, dataset=dataset, tiers=tiers,
                             handin=handin)  # fmt: skip
    return decided.grader_plan(data, handins, split=split, split_from=split_from,
                               language=language)  # fmt: skip


def checked_split(
    split: Split | None, source: Path | None, data: Path, names: list[str]
) -> Split | None:
    """The Kaggle `split` (from the course file `source`; None: the run has no such rule), once
    it splits each of `names`' graded items in `data` into two non-empty parts (SplitError
    naming `source` if not)."""
    from kws.grading.testsets.layouts import layout_of
    from kws.grading.testsets.split import SplitError
    from kws.spec import ASSIGNMENTS

    if split is None:
        return None
    for name in names:
        items = layout_of(ASSIGNMENTS[name]).graded_items(data)
        try:
            split.counts(items, f"{name}'s graded items in {data}")
        except SplitError as error:
            raise SplitError(f"{source}: {error}" if source else str(error)) from None
    return split


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
    assignment: str | None = None  # the selection: None grades every notebook a hand-in holds
    split: Split | None = None  # the Kaggle rule (`kws.grading.testsets.split`), or None
    written: dict[str, list[dict]] = field(default_factory=dict)  # `written_questions`'s
    season: dict | None = None  # the digest of the season applied, or None: none applied
    language: str | None = None  # what the graders write for students (`kws.i18n`): None, English

    def text(self) -> str:
        """The plan file's JSON (`read_plan` reads it)."""
        tier_sets = {name: asdict(tier_set) for name, tier_set in self.tier_sets.items()}
        split = asdict(self.split) if self.split else None
        part = {"version": PLAN_VERSION, "data": str(self.data), "assignment": self.assignment,
                "tier_sets": tier_sets, "public_test_set": self.public_only,
                "missing": self.missing, "held": self.held, "split": split,
                "written": self.written, "season": self.season,
                "language": self.language}  # fmt: skip
        return json.dumps(part, indent=2)


def shared_decisions(text: str) -> dict:
    """The decisions of the plan file's JSON `text` that every shard of one class shares: all
    but `NOT_SHARED` (each hand-in's notebooks, the season)."""
    return {key: value for key, value in json.loads(text).items() if key not in NOT_SHARED}


def plan_digest(decisions: dict) -> str:
    """sha256 of `decisions` (`shared_decisions`'s): what a shard records of its plan, and
    `kws merge` compares."""
    text = json.dumps({"graders": decisions}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


VERSIONS_READ = f"version {OLDEST_READ} to {PLAN_VERSION}"


def readable(part: object) -> bool:
    """Whether the plan JSON `part` is a plan of a version this kit reads (`OLDEST_READ` to
    `PLAN_VERSION`)."""
    version = part.get("version") if isinstance(part, dict) else None
    return isinstance(version, int) and OLDEST_READ <= version <= PLAN_VERSION


def lacking_decisions(part: dict) -> list[str]:
    """The decisions a readable plan `part` lacks that a plan of its version holds."""
    since = {key: added for key, (added, _) in ADDED.items()}
    return [key for key in DECISIONS
            if key not in part and since.get(key, OLDEST_READ) <= part["version"]]  # fmt: skip


def completed(part: dict) -> dict:
    """A readable plan `part` with every decision: one added after its version as a plan made
    before it decided (`ADDED`: a version-4 plan speaks English)."""
    before = {key: value for key, (added, value) in ADDED.items() if part["version"] < added}
    return before | part


def read_plan(path: Path, data: Path) -> GraderPlan:
    """The graders' part of a plan written at `path`, for a grader of the data folder `data`;
    ValueError naming the file when it is unreadable or was made for other data."""
    try:
        part = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"--plan {path}: cannot read the run's plan ({error})") from None
    if not readable(part):
        raise ValueError(f"--plan {path}: not a grading plan this kit reads ({VERSIONS_READ})")
    lacking = lacking_decisions(part)
    if lacking:  # refused, never decided again here
        raise ValueError(
            f"--plan {path} lacks the run's decision{'s' if len(lacking) > 1 else ''} "
            f"{', '.join(lacking)}: make the plan again with the kit that grades "
            "(`kws grade`, `python -m kws.grading.command`), which writes every decision"
        )
    if Path(part["data"]) != Path(data).resolve():
        raise ValueError(
            f"--plan {path} was made for the data folder {part['data']}, not {data}: leave "
            "--plan out, or pass the data folder the run planned"
        )
    try:
        return grader_plan_of(part)
    except ValueError as error:
        raise ValueError(f"--plan {path}: {error}") from None


def grader_plan_of(part: dict) -> GraderPlan:
    """The graders' plan of a plan file's JSON `part` (`GraderPlan.text`'s, or a kept plan's
    decisions), its data folder as written there; ValueError when a tier set or the split is
    not as the kit writes it."""
    from kws.grading.judge.tiers import TierSet
    from kws.grading.testsets.split import Split

    part = completed(part)
    try:
        tier_sets = {name: TierSet(**t) for name, t in part["tier_sets"].items()}
        split = Split(part["split"]["share"], part["split"]["seed"]) if part["split"] else None
    except (TypeError, KeyError, AttributeError) as error:
        raise ValueError(f"a tier set or the split is not as the kit writes it ({error})") from None
    return GraderPlan(Path(part["data"]), tier_sets, list(part["public_test_set"]),
                      dict(part["missing"]), dict(part["held"]), part["assignment"],
                      split, dict(part["written"]), part["season"],
                      part["language"])  # fmt: skip


def handin_plan(decisions: dict, data: Path, handin: Path) -> GraderPlan:
    """The graders' plan of one `handin` graded under `decisions` made before it came (the
    Gradescope zip's plan, `kws gradescope`), on the data folder `data` the decisions were
    made for: those decisions as made, and the notebooks `handin` holds (`held_notebooks`),
    the one decision that waits for the hand-in, made as `kws grade` makes it for each
    hand-in of a class. ValueError as `grader_plan_of`."""
    plan = grader_plan_of({**decisions, "data": str(Path(data).resolve()), "held": {}})
    handin = Path(handin)
    holds = held_notebooks([handin], [*plan.tier_sets, *plan.missing])
    held = {str(handin.resolve()): sorted(holds[handin.name])} if handin.name in holds else {}
    return replace(plan, held=held)


def checked_plan_file(path: Path, fix: str, sha256: str | None = None) -> dict:
    """The JSON of the plan written at `path` (a grades folder's ``plan.json``, or the one the
    Gradescope zip carries: `GraderPlan.text`'s decisions and ``notebooks``, the notebooks
    graded by hand-in), once it holds every decision of the run (`DECISIONS`) and the notebooks,
    each in the shape the kit writes; with `sha256`, once it is the file of that digest (the
    one written). ValueError naming `path` and ending with `fix` (what to do) when not."""
    try:
        text = Path(path).read_bytes()
        part = json.loads(text.decode("utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read ({error}); {fix}") from None
    if not readable(part):
        raise ValueError(f"{path}: not a grading plan this kit reads ({VERSIONS_READ}); {fix}")
    lacking = [*lacking_decisions(part), *(["notebooks"] if "notebooks" not in part else [])]
    if lacking:
        raise ValueError(f"{path} lacks the run's decision{'s' if len(lacking) > 1 else ''} "
                         f"{', '.join(lacking)}; {fix}")  # fmt: skip
    if sha256 is not None and hashlib.sha256(text).hexdigest() != sha256:
        raise ValueError(f"{path} is not the plan it was written as (edited since); {fix}")
    shapes = {"tier_sets": dict, "written": dict, "missing": dict, "held": dict,
              "notebooks": dict, "public_test_set": list}  # fmt: skip
    wrong = [key for key, shape in shapes.items() if not isinstance(part[key], shape)]
    if wrong:
        raise ValueError(f"{path}: the decision{'s' if len(wrong) > 1 else ''} "
                         f"{', '.join(wrong)} {'are' if len(wrong) > 1 else 'is'} not as the kit "
                         f"writes {'them' if len(wrong) > 1 else 'it'}; {fix}")  # fmt: skip
    return part
