"""One grading run, decided once and passed down: the plan.

    plan = plan_run("submissions", "data", "grades", course=Path("course.toml"), say=print)
    plan.chosen        # the hand-in folders this run grades (a shard's share, one student)
    plan.tier_sets     # {assignment: TierSet}, each chosen once for the whole run
    plan.graders       # the part every pytest grader reads (`--plan FILE`), as JSON

`plan_run` decides, before the first hand-in is graded, everything the run is (the steps are
on docs/development/architecture.md); what it finds wrong is raised before anything is
written, naming the file and the fix. The grading modules take the plan and derive none of it
again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kws.grading.judge.tiers import TierSet
from kws.grading.records.gradebook import safe_name

NO_DATA = Path(__file__).resolve().parent.parent / "testsets" / "no_data"
"""The data folder of a run of written-only assignments: they read no test set."""

if TYPE_CHECKING:
    from kws.grading.classrun.shards import Shard
    from kws.grading.records.roster import Roster
    from kws.grading.season.inputs import SeasonInputs


@dataclass
class GradingPlan:
    """What one grading run is, decided by `plan_run` before anything is graded."""

    submissions: Path  # every path resolved
    data: Path
    out: Path
    handins: list[Path]  # every hand-in folder of `submissions`, sorted by name
    held: dict[str, set[str]]  # {hand-in: the notebooks graded in it (held, and gradable)}
    season: SeasonInputs
    gradable: list[str]  # the selection's assignments the data holds a test set of
    tier_sets: dict[str, TierSet]  # each of `gradable`'s, chosen once
    public_only: list[str]  # of the notebooks graded: those on a public test set (no private one)
    assignment: str | None = None
    dataset: str | None = None
    tiers: Path | None = None  # resolved
    student: str | None = None
    shard: Shard | None = None
    roster: Roster | None = None
    graders: str = ""  # the graders' part, as its file's JSON (`kws.grading.judge.planned`)
    # {hand-in: the folder its entry of `submissions` was when planned (a link: its target)}
    targets: dict[str, str] = field(default_factory=dict)

    def shared(self) -> dict:
        """The decisions of the graders' part every shard of one class shares, which the shards
        record and `kws merge` compares (`kws.grading.judge.planned.shared_decisions`: each
        hand-in's notebooks and the season left out)."""
        from kws.grading.judge.planned import shared_decisions

        return shared_decisions(self.graders) if self.graders else {}

    @property
    def chosen(self) -> list[Path]:
        """The hand-in folders this run grades: one student's, a shard's share, or all."""
        if self.student is not None:
            return [self.submissions / self.student]
        if self.shard is not None:
            share = self.shard.share([p.name for p in self.handins])
            return [self.submissions / name for name in share]
        return self.handins


def plan_run(
    submissions: Path,
    data: Path | None,
    out: Path,
    *,
    assignment: str | None = None,
    dataset: str | None = None,
    tiers: Path | None = None,
    student: str | None = None,
    shard: Shard | None = None,
    roster: Roster | None = None,
    course: Path | None = None,
    times: Path | None = None,
    file_times: bool | None = None,
    strict: bool = False,
    accept_future_times: bool = False,
    say: Callable[[str], None] | None = None,
) -> GradingPlan:
    """Decide a grading run of the hand-ins in `submissions` against `data` into `out`.

    Args:
        data: the hidden grading data (``--data``); None where every assignment the chosen
            hand-ins hold is written-only (`data_of_written_only`).
        assignment, dataset, tiers: the selection (``--assignment``, ``--dataset``,
            ``--tiers``).
        student: one hand-in folder to regrade (``--student``); shard: a share of the class
            (``--shard``); roster: the class list given (``--roster``).
        course, times, file_times: the season's inputs as given (default: the copies kept in
            `out`).
        strict: refuse the course file's warnings (``--strict``).
        accept_future_times: grade with hand-in times later than now (``--accept-future-times``;
            default: refused, `kws.grading.season.times.check_not_future`).
        say: where the instructor reads the run's notes as they are found, in the order
            `kws grade` prints them (the public-test-set warning first, the roster's report,
            the course file's warnings, printed by `warn_or_refuse`, and notes); None says
            nothing and refuses no warning.

    Raises:
        FileNotFoundError / ValueError: no `data` where an assignment needs it, a missing
            folder, no test set for the selection, no tier set (naming --tiers / --dataset);
            a graded test file that does not compile
            (`kws.grading.judge.loading.check_graded_tests`); CourseError
            naming the course file or the times; SplitError naming the course file whose
            Kaggle share leaves a part empty; a regraded hand-in whose results file is
            another hand-in folder's (`check_results_owner`).
    """
    from kws.grading.judge.loading import check_graded_tests
    from kws.grading.judge.planned import decide_handins
    from kws.grading.records.roster import match_roster
    from kws.grading.season.cli import warn_or_refuse
    from kws.grading.testsets.public_only import warning

    speak, say = say is not None, say or (lambda line: None)
    if data is None:
        data = data_of_written_only(submissions, student, assignment)
    submissions, data, out = Path(submissions), Path(data), Path(out)  # as typed, for messages
    try:  # named as typed in its messages; said after the public test sets' warning
        handins, missing = handin_folders(submissions), None
    except (FileNotFoundError, ValueError) as error:
        handins, missing = [], error
    chosen = [submissions / student] if student is not None else handins
    decided = decide_handins(data, chosen, assignment, dataset=dataset, tiers=tiers)
    check_graded_tests()  # in seconds, before any hand-in is graded
    check_questions(decided.written, decided.held)
    held, found = decided.held, decided.public_only
    if student is not None and not (submissions / student).is_dir():  # named as typed
        raise FileNotFoundError(f"{submissions / student}: no such hand-in folder (--student "
                                f"names a folder of {submissions})")  # fmt: skip
    if student is not None:  # before anything is graded: a classmate's results are not its own
        check_results_owner(submissions / student, out)
    if found:  # first, before anything is graded: the instructor may rather make one
        say(warning(found, data))
    if missing is not None:
        raise missing
    if roster is not None:  # before grading: a typo in a folder name shows at once
        say("\n".join(match_roster(roster, [p.name for p in handins]).report()))
    # Every input of the season, checked against the hand-ins.
    season = season_to_grade(submissions, out, handins, held, student=student, course=course,
                             times=times, file_times=file_times, roster=roster,
                             accept_future_times=accept_future_times)  # fmt: skip
    if speak:  # the course file's warnings, printed (or refused under --strict)
        warn_or_refuse(season.warnings, strict)
    for note in season.notes:
        say(f"note: {note}")
    # The Kaggle rule of the course file given (for a regrade: or the kept one), as read.
    given = course is not None or student is not None
    split = season.course.split if given and season.course is not None else None
    typed = data  # as typed: a Kaggle share that leaves a part empty is said with it
    submissions, data, out = (Path(p).resolve() for p in (submissions, data, out))
    plan = GradingPlan(
        submissions=submissions,
        data=data,
        out=out,
        handins=[submissions / p.name for p in handins],
        held=held,
        season=season,
        gradable=decided.gradable,
        tier_sets=decided.tier_sets,
        public_only=found,
        assignment=assignment,
        dataset=dataset,
        tiers=Path(tiers).resolve() if tiers is not None else None,
        student=student,
        shard=shard,
        roster=roster,
    )
    graders = decided.grader_plan(typed, plan.chosen, split=split,
                                  split_from=season.course.path if split else None,
                                  season=season.digest(),
                                  language=season.course.language if season.course else None)  # fmt: skip
    plan.graders = graders.text()
    plan.targets = {p.name: os.path.realpath(p) for p in plan.chosen}
    return plan


def check_questions(written: dict[str, list[dict]], held: dict[str, set[str]]) -> None:
    """ValueError, before anything is graded, when a written-only notebook a hand-in holds has
    no written question worth points in the plan (`written`): its solution notebook is not
    on this machine, or asks none. Its points are its questions': graded without them, every
    student would have 0 out of 0."""
    from kws.spec import ASSIGNMENTS, course

    for name in sorted(set().union(set(), *held.values())):
        spec = ASSIGNMENTS.get(name)
        if spec is None or not spec.written_only or written.get(name):
            continue
        path = course().solutions / spec.notebook
        why = "is not there" if not path.is_file() else "asks no written question worth points"
        raise ValueError(
            f"{path} {why}: {name} is written-only, its points are its solution notebook's "
            "questions; put the solution notebook there (the course folder, KWS_COURSE), "
            "then run the same command"
        )


def handin_folders(submissions_dir: Path) -> list[Path]:
    """The hand-in folders of `submissions_dir`, sorted by name (hidden folders left out);
    FileNotFoundError / ValueError saying what the folder should hold, or naming two folders
    whose results files would be one (``dan x`` and ``dan_x``)."""
    given = Path(submissions_dir)  # named as typed in every message
    submissions_dir = given.resolve()
    if not submissions_dir.is_dir():
        raise FileNotFoundError(f"{given}: no such folder of submissions (one folder per student)")
    students = sorted(
        p for p in submissions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if not students:
        raise ValueError(f"{given} has no student folders; put each submission in its own folder")
    by_file: dict[str, list[str]] = {}
    for folder in students:  # results/<name>.json: one file a hand-in, or one overwrites another
        by_file.setdefault(safe_name(folder.name), []).append(folder.name)
    clash = next((names for names in by_file.values() if len(names) > 1), None)
    if clash:
        raise ValueError(
            f"{given}: the hand-in folders {' and '.join(map(repr, clash))} would share "
            f"one results file ({safe_name(clash[0])}.json); rename one apart"
        )
    return students


def check_results_owner(handin: Path, out: Path) -> None:
    """ValueError when the results file the hand-in folder `handin` would be graded into (a
    regrade: `kws grade --student`) belongs to another hand-in folder of the gradebook in
    `out`: ``late/ann_smith`` and the class's ``ann smith`` share ``ann_smith.json``
    (`safe_name`), and one would take the other's grade. The gradebook's ``student`` column
    records each results file's hand-in folder. The message names that folder and the fix."""
    import csv
    import shlex

    gradebook, student = Path(out) / "gradebook.csv", Path(handin).name
    if not gradebook.is_file():
        return
    with open(gradebook, newline="", encoding="utf-8") as file:
        folders = {row.get("student") or "" for row in csv.DictReader(file)}
    others = sorted(f for f in folders if f != student and safe_name(f) == safe_name(student))
    if not others:
        return
    owner = others[0]
    own = Path(handin).with_name(owner)
    raise ValueError(
        f"{handin}: its results file {Path(out) / 'results' / safe_name(student)}.json is the "
        f"hand-in folder {owner!r}'s ({gradebook}); graded as {student!r}, it would take "
        f"{owner!r}'s grade. If it is {owner!r}'s hand-in, name its folder so "
        f"(mv {shlex.quote(str(handin))} {shlex.quote(str(own))}) and regrade with --student "
        f"{shlex.quote(owner)}; if it is another student's, give its folder a name of its own"
    )


def data_of_written_only(submissions: Path, student: str | None, assignment: str | None) -> Path:
    """The data folder of a run given no ``--data``: `NO_DATA`, where every assignment of the
    selection the chosen hand-ins hold (or, holding none, the selection) is written-only.

    Raises:
        ValueError: naming the assignments graded on a hidden test set and a hand-in holding
            each, with the fix (pass ``--data``).
    """
    from kws.grading.judge.planned import held_notebooks
    from kws.spec import ASSIGNMENTS

    names = [assignment] if assignment else sorted(ASSIGNMENTS)
    try:  # a missing folder is said by `plan_run`, as typed
        folders = [Path(submissions) / student] if student else handin_folders(submissions)
    except (FileNotFoundError, ValueError):
        folders = []
    held = held_notebooks(folders, names)
    graded = set().union(*held.values()) or set(names)
    needing = sorted(name for name in graded if not ASSIGNMENTS[name].written_only)
    if not needing:
        return NO_DATA
    said = []
    for name in needing:
        holders = sorted(h for h, notebooks in held.items() if name in notebooks)
        more = f" and {len(holders) - 1} more" if len(holders) > 1 else ""
        held_by = f", held by {holders[0]}{more}" if holders else ""
        said.append(f"{name} ({ASSIGNMENTS[name].notebook}{held_by})")
    raise ValueError(
        f"--data is needed: {', '.join(said)} {'is' if len(said) == 1 else 'are'} graded on a "
        "hidden test set; pass --data DIR, the folder holding its test set (only a run whose "
        "assignments are all written-only needs none)"
    )


def season_to_grade(
    submissions_dir: Path,
    out_dir: Path,
    folders: list[Path],
    held: dict[str, set[str]],
    *,
    student: str | None = None,
    course: Path | None = None,
    times: Path | None = None,
    file_times: bool | None = None,
    roster: Roster | None = None,
    accept_future_times: bool = False,
) -> SeasonInputs:
    """The season of a class run, checked against what it will grade before it grades
    (`plan_run` asks).

    Args:
        submissions_dir: the hand-ins' folder; folders: its hand-in folders.
        out_dir: the grades folder (its kept course file, times and roster, if any).
        held: the notebooks the run grades in each hand-in it grades (`held_notebooks`).
        student: the one hand-in regraded (`kws grade --student`), or None for the class.
        course, times, roster: as given (default: the kept ones; the roster's students may
            have an extension or a times row before they hand in); file_times:
            ``--file-times`` (None: the folder's recorded choice); accept_future_times:
            ``--accept-future-times``.

    Returns:
        The season read, with notes for the instructor (file times used, slash dates' order).

    Raises:
        CourseError: a mistake, naming the file given, its line and the fix.
    """
    from kws.grading.records.grades import read_grades
    from kws.grading.season.apply import checked_season, graded_assignments
    from kws.grading.season.inputs import read_season

    season = read_season(out_dir, course, times, file_times, accept_future_times)
    chosen = [f for f in folders if f.name == student] if student else folders
    handins: dict[str, Path | None] = {f.name: f for f in chosen}
    graded: dict[str, set[str]] = {}
    if student is not None and (Path(out_dir) / "gradebook.csv").is_file():
        grades = read_grades(out_dir, submissions_dir)  # the rest of the class, as graded
        handins = {s.name: s.handin for s in grades.students} | handins
        graded = graded_assignments(grades)
    if season.course is not None:
        graded |= {name: held[name] for name in handins if name in held}
    names = (
        {row[roster.key] for row in roster.rows if row[roster.key]} if roster is not None else None
    )
    return checked_season(season, Path(out_dir), handins, graded, roster=names,
                          roster_file=roster.path if roster is not None else None)  # fmt: skip
