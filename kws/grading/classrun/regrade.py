"""One student's regrade into an existing gradebook: `kws grade SUBMISSIONS --student NAME`.

Only that student's row and results are replaced; the earlier result is kept under
``OUT/history/`` and the season applied again. What it writes, and what a regrade stopped
half-way leaves, is on docs/how-to/adjustments.md ("Regrade one student").
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from kws.grading.classrun.batch import plan_file
from kws.grading.classrun.graders import GraderFault, GraderProcesses, RunStopped
from kws.grading.classrun.one import remove_staging, stage_one
from kws.grading.records.files import record_time, write_whole
from kws.grading.records.gradebook import Graded, safe_name, ungraded_reason, write_gradebook
from kws.grading.records.grades import LostResults, read_result
from kws.grading.records.lock import holding, student_scope
from kws.grading.records.plan import record_student
from kws.grading.season.apply import apply_season

if TYPE_CHECKING:
    from kws.grading.classrun.plan import GradingPlan
    from kws.grading.records.standings import Standings

HISTORY = "history"
REGRADES = "regrades.csv"
ADDED = ("similar_to",)  # columns `kws report` adds to the gradebook, kept by a regrade


def gradebook_entries(out_dir: Path) -> tuple[list[Graded], list[dict[str, str]]]:
    """The gradebook's rows as `Graded` entries (results read back), in the gradebook's order,
    and the rows as read."""
    path = Path(out_dir) / "gradebook.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no gradebook to regrade into; grade the class first "
                                "(kws grade SUBMISSIONS --out FOLDER)")  # fmt: skip
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    entries = []
    for row in rows:
        document, lost = read_result(out_dir, row["student"])
        problem = ungraded_reason(document) or ""
        if document is None:  # no score, not a 0 (`write_gradebook` leaves it blank)
            problem = f"results/{safe_name(row['student'])}.json {lost}: grade them again"
        entries.append(Graded(row["student"], document, problem, float(row.get("seconds") or 0)))
    return entries, rows


def keep_earlier(out_dir: Path, student: str) -> float | None:
    """Copy `student`'s results into ``history/`` (whole, as they are), before the new ones
    replace them; their earlier raw total (None when there was no result, or it cannot be
    read: a results file cut short is kept as it was, and replaced)."""
    results = Path(out_dir) / "results" / f"{safe_name(student)}.json"
    if not results.is_file():
        return None
    history = Path(out_dir) / HISTORY
    history.mkdir(mode=0o700, exist_ok=True)
    history.chmod(0o700)  # the instructor's alone, as results/ is
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    data = results.read_bytes()
    write_whole(history / f"{safe_name(student)}-{stamp}.json", data)
    try:
        earlier = json.loads(data).get("score")
    except (ValueError, AttributeError):
        return None
    return earlier if isinstance(earlier, int | float) else None


def _pending(out_dir: Path, student: str) -> Path:
    """Where a regrade keeps the earlier raw total of `student` until ``regrades.csv`` has it."""
    return Path(out_dir) / HISTORY / f".{safe_name(student)}.earlier.json"


def earlier_score(out_dir: Path, student: str) -> float | None:
    """`student`'s earlier raw total for ``regrades.csv``, their results copied into
    ``history/`` first (`keep_earlier`). A regrade stopped after its new result was in place
    and before ``regrades.csv`` said so left the earlier total beside the history: the new
    result in place is not the earlier one, so the total kept then is used again."""
    pending = _pending(out_dir, student)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return json.loads(pending.read_text(encoding="utf-8"))["earlier"]
    earlier = keep_earlier(out_dir, student)
    pending.parent.mkdir(mode=0o700, exist_ok=True)  # a student graded for the first time
    write_whole(pending, json.dumps({"earlier": earlier}) + "\n")
    return earlier


def record_regrade(out_dir: Path, student: str, earlier: float | None, now: Graded) -> Path:
    """``history/regrades.csv`` with one more line (student, when, earlier and new raw total),
    written whole."""
    path = Path(out_dir) / HISTORY / REGRADES
    path.parent.mkdir(mode=0o700, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    line = io.StringIO(newline="")
    writer = csv.writer(line)
    if not text:
        writer.writerow(["student", "when", "earlier_raw_total", "raw_total", "problem"])
    score = now.document["score"] if now.document else None
    when = record_time()
    writer.writerow([student, when, earlier, score, now.problem])
    return write_whole(path, text + line.getvalue())


def replace_row(out_dir: Path, graded: Graded) -> Path:
    """Rewrite the gradebook with `graded` in place of that student's row (added at the end
    when the student had none); the columns added after grading (``similar_to``) are kept."""
    entries, rows = gradebook_entries(out_dir)
    names = [e.student for e in entries]
    if graded.student in names:
        entries[names.index(graded.student)] = graded
    else:
        entries.append(graded)
    kept = {c: {r["student"]: r[c] for r in rows} for c in ADDED if rows and c in rows[0]}
    return write_gradebook(entries, Path(out_dir) / "gradebook.csv", kept)


def _not_regraded(stop: RunStopped | GraderFault, student: str, out_dir: Path) -> Exception:
    """`stop`, saying that `student` was not regraded and `out_dir` is as it was."""
    if isinstance(stop, GraderFault):
        fix = getattr(stop, "fix", "fix the machine (free space, memory), then run the same "
                      "command")  # fmt: skip
        return type(stop)(f"{stop}; {out_dir} is as it was: {fix}")
    return RunStopped(stop.number, f"{student} was not regraded; {out_dir} is as it was")


def regrade(
    plan: GradingPlan, *, timeout: float = 3600.0, wait: bool = False
) -> tuple[Path, Standings]:
    """Grade the hand-in of `plan.student` again into the gradebook of `plan.out` (the module
    says what changes); return the gradebook and the standings.

    Raises `kws.grading.classrun.graders.RunStopped` (Ctrl-C, SIGTERM) or `GraderFault` (the
    grading machine failed), the folder as it was unless the new result was in place already;
    LostResults when another student's results file is missing or unreadable (this student's
    result is in place, the folder not sealed: the message names the regrades that finish it).
    """
    student, out_dir, handin = plan.student, plan.out, plan.chosen[0]
    gradebook_entries(out_dir)  # a gradebook to regrade into, before anything moves
    with GraderProcesses() as graders:  # from here on, Ctrl-C leaves no grader running
        scope = student_scope(student)
        with holding(out_dir, "kws grade --student", scope=scope, wait=wait) as run:
            run.said = f"{student} not regraded"
            try:
                with plan_file(plan) as planned:
                    staged = stage_one(handin, plan.data, out_dir,
                                       hide=[plan.submissions, out_dir], timeout=timeout,
                                       processes=graders, plan=planned,
                                       target=plan.targets.get(student))  # fmt: skip
            except (RunStopped, GraderFault) as stop:
                remove_staging(out_dir)
                raise _not_regraded(stop, student, out_dir) from None
            except BaseException:
                remove_staging(out_dir)
                raise
            if graders.signals:  # stopped as the grader ended: nothing moves
                staged.discard()
                remove_staging(out_dir)
                raise _not_regraded(RunStopped(graders.signals[0]), student, out_dir)
            try:
                earlier = earlier_score(out_dir, student)  # kept before the new one is in place
                graded = staged.commit()
                remove_staging(out_dir)
                run.said = f"{student} regraded, not yet in the gradebook"
                record_regrade(out_dir, student, earlier, graded)
                _pending(out_dir, student).unlink(missing_ok=True)
                gradebook = replace_row(out_dir, graded)
                kept = record_student(out_dir, student, plan.held.get(student, set()))
                standings = apply_season(out_dir, season=plan.season, kept=kept,
                                         command="kws grade --student")  # fmt: skip
            except RunStopped as stop:
                finish = f"{out_dir}: {run.said}; run the same command to finish"
                raise RunStopped(stop.number, finish) from None
            except LostResults as lost:
                run.said = f"{student} regraded; other results are missing"
                raise LostResults(f"{student} regraded (results/{safe_name(student)}.json), "
                                  f"but the folder cannot be sealed: {lost}") from None  # fmt: skip
        return gradebook, standings
