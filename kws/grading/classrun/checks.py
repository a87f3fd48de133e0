"""What a class run finds before the first hand-in is graded: the hand-in folders
(`handin_folders`); the notebooks each holds are decided with the rest of the run
(`kws.grading.judge.planned.decide_handins`). The plan of the run
(`kws.grading.classrun.plan.plan_run`) checks the season's inputs against them, in seconds:
a course file, a times CSV or a roster with a mistake in it would otherwise be found after
hours of grading (`kws.grading.season.inputs` says what is checked).
"""

from __future__ import annotations

from pathlib import Path

from kws.grading.records.gradebook import safe_name


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
