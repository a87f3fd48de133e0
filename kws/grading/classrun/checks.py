"""What a class run checks before the first hand-in is graded: the hand-in folders
(`handin_folders`) and the season's inputs against the hand-ins about to be graded
(`season_to_grade`, for `kws grade` and `kws grade --student`).

A course file, a times CSV or a roster with a mistake in it would otherwise be found after
hours of grading: the course file's extensions, the times' students and each handed-in
notebook's hand-in time are checked here, against the hand-in folders and the notebooks each
holds (found as the grader finds them, `kws.grading.judge.notebook.holds_notebook`), in
seconds. `kws.grading.season.inputs` says what is checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kws.grading.judge.notebook import holds_notebook, missing_test_data
from kws.grading.records.gradebook import ROSTER_FILE, safe_name
from kws.grading.records.grades import read_grades
from kws.grading.season.apply import graded_assignments, kept_roster_names
from kws.grading.season.inputs import SeasonInputs, check_class, read_season
from kws.spec import ASSIGNMENTS

if TYPE_CHECKING:
    from kws.grading.records.roster import Roster


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


def gradable_of(data: Path, assignment: str | None) -> list[str]:
    """The assignments a run grades (`assignment` alone, else each one) that `data` holds a
    test set of."""
    names = [assignment] if assignment else sorted(ASSIGNMENTS)
    return [n for n in names if not missing_test_data(data, n)]


def held_notebooks(handins: list[Path], gradable: list[str]) -> dict[str, set[str]]:
    """{hand-in folder name: the notebooks the grader will grade in it: those of `gradable`
    it holds}, for each of `handins` that is a folder."""
    return {
        h.name: {n for n in gradable if holds_notebook(h, ASSIGNMENTS[n])}
        for h in handins
        if h.is_dir()
    }


def season_to_grade(
    submissions_dir: Path,
    out_dir: Path,
    data: Path,
    *,
    assignment: str | None = None,
    student: str | None = None,
    course: Path | None = None,
    times: Path | None = None,
    file_times: bool | None = None,
    roster: Roster | None = None,
    folders: list[Path] | None = None,
    held: dict[str, set[str]] | None = None,
) -> SeasonInputs:
    """The season of a class run, checked against what it will grade before it grades.

    Args:
        submissions_dir: the hand-ins' folder (one folder a student).
        out_dir: the grades folder (its kept course file, times and roster, if any).
        data: the grading data (a notebook its data cannot grade is not graded).
        assignment: the one notebook graded, or None for each one a hand-in holds.
        student: the one hand-in regraded (`kws grade --student`), or None for the class.
        course: the course file given (default: the kept one).
        times: the times file given (default: the kept one).
        file_times: ``--file-times`` (None: the folder's recorded choice).
        roster: the roster given (default: the kept one), whose students may have an
            extension or a times row before they hand in.
        folders: `handin_folders` of `submissions_dir`, found already (default: looked for).
        held: `held_notebooks` of the hand-ins graded, found already (default: looked for).

    Returns:
        The season read, with notes for the instructor (file times used, slash dates' order).

    Raises:
        CourseError: a mistake, naming the file given, its line and the fix.
    """
    season = read_season(out_dir, course, times, file_times)
    folders = folders if folders is not None else handin_folders(submissions_dir)
    chosen = [f for f in folders if f.name == student] if student else folders
    handins: dict[str, Path | None] = {f.name: f for f in chosen}
    graded: dict[str, set[str]] = {}
    if student is not None and (Path(out_dir) / "gradebook.csv").is_file():
        grades = read_grades(out_dir, submissions_dir)  # the rest of the class, as graded
        handins = {s.name: s.handin for s in grades.students} | handins
        graded = graded_assignments(grades)
    if season.course is not None:
        if held is None:
            held = held_notebooks(chosen, gradable_of(data, assignment))
        graded |= {name: held[name] for name in handins if name in held}
    if roster is not None:
        names = {row[roster.key] for row in roster.rows if row[roster.key]}
    else:
        names = kept_roster_names(out_dir)
    kept = Path(out_dir) / ROSTER_FILE
    check_class(season, handins, graded, names, roster.path if roster is not None else kept)
    return season
