"""One student's regrade into an existing gradebook: `kws grade SUBMISSIONS --student NAME`.

Only that student's hand-in is graded again; their gradebook row and results are replaced, every
other row is kept as it was, and the earlier result is kept under ``OUT/history/``: the results
file as ``<student>-<UTC time>.json`` and a line of ``history/regrades.csv`` (student, when, the
earlier and the new raw total). Adjustments (``adjustments.csv``) and the course file are
applied again afterwards (`kws.grading.season.apply`), so none is lost.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from kws.grading.classrun.batch import GraderProcesses, grade_one
from kws.grading.classrun.checks import season_to_grade
from kws.grading.records.files import write_whole
from kws.grading.records.gradebook import Graded, safe_name, write_gradebook
from kws.grading.season.apply import apply_season
from kws.grading.season.course import checked_grader_options

HISTORY = "history"
REGRADES = "regrades.csv"
ADDED = ("similar_to",)  # columns `kws report` adds to the gradebook, kept by a regrade


def gradebook_entries(out_dir: Path) -> list[Graded]:
    """The gradebook's rows as `Graded` entries (results read back), in the gradebook's order."""
    path = Path(out_dir) / "gradebook.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no gradebook to regrade into; grade the class first "
                                "(kws grade SUBMISSIONS --out FOLDER)")  # fmt: skip
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    entries = []
    for row in rows:
        results = Path(out_dir) / "results" / f"{safe_name(row['student'])}.json"
        try:
            document = json.loads(results.read_text())
        except (OSError, ValueError):
            document = None
        problem = row.get("notes", "") if document is None else ""
        entries.append(Graded(row["student"], document, problem, float(row.get("seconds") or 0)))
    return entries


def keep_earlier(out_dir: Path, student: str) -> float | None:
    """Move `student`'s results into ``history/`` before the regrade; their earlier raw total
    (None when there was no result)."""
    results = Path(out_dir) / "results" / f"{safe_name(student)}.json"
    if not results.is_file():
        return None
    history = Path(out_dir) / HISTORY
    history.mkdir(exist_ok=True)
    history.chmod(0o700)  # the instructor's alone, as results/ is
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    earlier = json.loads(results.read_text()).get("score")
    shutil.move(results, history / f"{safe_name(student)}-{stamp}.json")
    return earlier


def record_regrade(out_dir: Path, student: str, earlier: float | None, now: Graded) -> Path:
    """``history/regrades.csv`` with one more line (student, when, earlier and new raw total),
    written whole."""
    path = Path(out_dir) / HISTORY / REGRADES
    path.parent.mkdir(exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    line = io.StringIO(newline="")
    writer = csv.writer(line)
    if not text:
        writer.writerow(["student", "when", "earlier_raw_total", "raw_total", "problem"])
    score = now.document["score"] if now.document else None
    when = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    writer.writerow([student, when, earlier, score, now.problem])
    return write_whole(path, text + line.getvalue())


def replace_row(out_dir: Path, graded: Graded) -> Path:
    """Rewrite the gradebook with `graded` in place of that student's row (added at the end
    when the student had none); the columns added after grading (``similar_to``) are kept."""
    entries = gradebook_entries(out_dir)
    names = [e.student for e in entries]
    if graded.student in names:
        entries[names.index(graded.student)] = graded
    else:
        entries.append(graded)
    with open(Path(out_dir) / "gradebook.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    kept = {c: {r["student"]: r[c] for r in rows} for c in ADDED if rows and c in rows[0]}
    return write_gradebook(entries, Path(out_dir) / "gradebook.csv", kept)


def regrade_student(
    submissions_dir: Path, student: str, data: Path, out_dir: Path, **options
) -> Path:
    """Grade `student`'s hand-in again into the gradebook of `out_dir` (`kws.grading.classrun.regrade`):
    only their row changes, the earlier result is kept under ``history/``; `options`:
    `grade_batch`'s assignment, dataset, tiers, timeout, course, times and file_times, or
    `season` (what `kws.grading.classrun.checks.season_to_grade` read of them already). Every
    input is checked before the hand-in is graded or anything moves."""
    if not (Path(submissions_dir) / student).is_dir():  # named as typed
        raise FileNotFoundError(f"{Path(submissions_dir) / student}: no such hand-in folder "
                                f"(--student names a folder of {submissions_dir})")  # fmt: skip
    with GraderProcesses() as graders:  # from here on, Ctrl-C leaves no grader running
        submissions_dir, out_dir = Path(submissions_dir).resolve(), Path(out_dir).resolve()
        handin = submissions_dir / student
        gradebook_entries(out_dir)  # a gradebook to regrade into, before anything moves
        selection = {k: options.get(k) for k in ("dataset", "tiers")}
        season = options.get("season") or season_to_grade(
            submissions_dir, out_dir, data, assignment=options.get("assignment"), student=student,
            **{k: options.get(k) for k in ("course", "times", "file_times")},
        )  # fmt: skip
        # The course file given, else the one kept: its Kaggle rule, checked against the data.
        flags = checked_grader_options(data, options.get("assignment"), **selection,
                                       course=season.course_file)  # fmt: skip
        earlier = keep_earlier(out_dir, student)
        graded = grade_one(handin, data, out_dir, hide=[submissions_dir, out_dir],
                           pytest_args=flags, timeout=options.get("timeout", 3600.0),
                           processes=graders)  # fmt: skip
        if graders.signals:  # stopped: nothing is written
            raise KeyboardInterrupt
        record_regrade(out_dir, student, earlier, graded)
        gradebook = replace_row(out_dir, graded)
        apply_season(out_dir, season=season, command="kws grade --student")
        return gradebook
