"""The gradebook of a graded class and the record of what was graded: ``OUT/gradebook.csv``
(`write_gradebook`) and ``OUT/run.json`` (`write_run_record`), what `kws grade` writes beside
the results and `kws merge`, `kws report` and `kws export` read.

Every row of a gradebook has its ``results/<student>.json``: a hand-in the grader could not
grade for a reason of its own has `ungraded_document` (no test, 0 points, the reason in its
``extra_data``). So a results file that is missing or unreadable is never a grade
(`kws.grading.records.grades.check_results`).
"""

import csv
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kws.grading.records.files import write_whole
from kws.grading.records.lock import SEASON, check_finished, holding
from kws.grading.records.seal import seal

RUN_FILE = "run.json"  # what was graded: {"submissions", "data", "assignment"}
ROSTER_FILE = "roster.csv"  # `kws grade --roster FILE`'s copy, for `kws export`


@dataclass
class Graded:
    """One student's outcome: the results.json document, or None and why."""

    student: str
    document: dict | None
    problem: str
    seconds: float


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def ungraded_document(reason: str, seconds: float) -> dict:
    """The results of a hand-in the grader could not grade for a reason of the hand-in's
    (`reason`, e.g. "the grader ran longer than 3600 s and was stopped"): no test, 0 points,
    the reason for the student (``output``) and for the records (``extra_data["ungraded"]``).
    Its standing in every assignment is ``ungraded``; the reason may name the grading
    machine's folders, so what a student reads (``output``) does not give it."""
    output = "The grader could not grade this hand-in; the course staff have the details."
    return {"score": 0.0, "execution_time": int(round(seconds)), "output": output, "tests": [],
            "extra_data": {"ungraded": reason}}  # fmt: skip


def ungraded_reason(document: dict | None) -> str | None:
    """Why a results document (`ungraded_document`) graded nothing, or None for one that
    graded its hand-in."""
    if not isinstance(document, dict):
        return None
    reason = (document.get("extra_data") or {}).get("ungraded")
    return reason if isinstance(reason, str) else None


def write_run_record(
    out_dir: Path,
    submissions: Path,
    data: Path,
    assignment: str | None,
    *,
    roster_key: str | None = None,
    season: dict[str, str] | None = None,
) -> Path:
    """``OUT/run.json``: the absolute submissions and data folders and the assignment graded;
    with `roster_key`, the roster copied beside it (``roster.csv``) and its hand-in column;
    with `season`, the season's files the run applies ({"course": path, "times": path}), so
    that a run stopped before it kept them is never sealed without them
    (`kws.grading.season.inputs.read_season`)."""
    run = {"submissions": str(Path(submissions).resolve()), "data": str(Path(data).resolve())}
    run |= {"assignment": assignment}
    if roster_key is not None:
        run |= {"roster": ROSTER_FILE, "roster_key": roster_key}
    if season:
        run |= {"season": {name: str(Path(path).resolve()) for name, path in season.items()}}
    # The instructor's alone, like results/ and logs/: it names the folders.
    return write_whole(Path(out_dir) / RUN_FILE, json.dumps(run, indent=2) + "\n")


def write_gradebook(
    graded: list[Graded], path: Path, kept: dict[str, dict[str, str]] | None = None
) -> Path:
    """The `gradebook_csv` of `graded` (and `kept`), written whole at `path`."""
    return write_whole(path, gradebook_csv(graded, kept))


def gradebook_csv(graded: list[Graded], kept: dict[str, dict[str, str]] | None = None) -> str:
    """One row a student, one column a test (its score), then total, maximum, the tier sets
    the accuracy was graded against, seconds and notes; `kept`: {column: {student: value}} of
    columns added after grading (``similar_to``), kept as they were."""
    # Here, not at the top: the results module imports pytest, which the season's commands
    # (`kws season`, `kws adjust`, `kws export`) never need; they stop on a mistake in a second.
    from kws.grading.judge.document import REVIEW_PREFIX, findings_of

    maximum: dict[str, float] = {}  # in the order the tests first come: the columns
    for entry in graded:
        for test in (entry.document or {}).get("tests", []):
            maximum[test["name"]] = max(maximum.get(test["name"], 0.0), test["max_score"])
    columns = list(maximum)
    kept = kept or {}
    file = io.StringIO(newline="")
    writer = csv.writer(file)
    header = ["student", *columns, "total", "max_score", "tier_sets", "seconds", "notes"]
    writer.writerow(header + list(kept))
    for entry in graded:
        scores = {t["name"]: t["score"] for t in (entry.document or {}).get("tests", [])}
        # No results (a regrade beside a classmate's lost results file): no score, not a 0.
        total = entry.document["score"] if entry.document else ""
        row = [scores.get(name, 0.0) if entry.document else "" for name in columns]
        review = [f"{REVIEW_PREFIX} {f['text']}." for f in findings_of(entry.document, "review")]
        notes = "; ".join(([entry.problem] if entry.problem else []) + review)
        chosen = ((entry.document or {}).get("extra_data") or {}).get("tier_sets") or {}
        tier_sets = "; ".join(f"{name}={tiers}" for name, tiers in sorted(chosen.items()))
        cells = [total, sum(maximum.values()), tier_sets, round(entry.seconds, 1), notes]
        writer.writerow(
            [entry.student, *row, *cells, *(v.get(entry.student, "") for v in kept.values())]
        )
    return file.getvalue()


def write_similar_to(grades, notes: dict[str, str]) -> Path:
    """Rewrite the gradebook of `grades` (`kws.grading.records.grades.Grades`) with a
    ``similar_to`` column (replaced if it is already there), whole, and seal the folder
    (`kws.grading.records.seal`) as `kws report` left it."""
    path = grades.folder / "gradebook.csv"
    header = [c for c in grades.header if c != "similar_to"] + ["similar_to"]
    by_student = defaultdict(str, notes)
    file = io.StringIO(newline="")
    writer = csv.DictWriter(file, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    for student in grades.students:
        writer.writerow(student.row | {"similar_to": by_student[student.name]})
    with holding(grades.folder, "kws report", scope=SEASON):
        check_finished(grades.folder)  # as `grades` read it: no run changed it since
        write_whole(path, file.getvalue())
        seal(grades.folder, "kws report")
    grades.header = header
    return path
