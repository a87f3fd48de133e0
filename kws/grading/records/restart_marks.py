"""Start the written answers' marks afresh, when they are gone with a history that gives them
back (`kws marks restart GRADES --lose-marks`): what is lost said first, refused while the marks
can still be had (``marks.json`` the record sealed, or a history that rebuilds it).

    lost = marks_lost(Path("grades"), asked)           # sentences: what starting afresh loses
    restart_marks(Path("grades"), asked, by="kim")     # marks/ afresh; the caller counts again

What was left of ``marks/`` (a history edited by hand, a file cut short) is moved aside into
``marks-lost-<when>/`` in the grades folder, never deleted; the new history opens with a
``restart`` event saying what was lost, and replays from there
(`kws.grading.records.marks.history.replay`).
"""

from __future__ import annotations

import getpass
import hashlib
import os
from pathlib import Path

from kws.grading.records.files import record_time, write_whole
from kws.grading.records.marks.history import history_events, replay
from kws.grading.records.marks.rubric import MARKS_DIR, MARKS_FILE, MarksError, Rubric
from kws.grading.records.marks.store import MarkStore, marks_text
from kws.grading.records.seal import readable_seal
from kws.grading.records.standings import read_standings


def _sealed_marks(folder: Path) -> str | None:
    """The digest of ``marks.json`` the record holds, or None where it holds none."""
    return (readable_seal(folder) or {}).get("files", {}).get(MARKS_FILE)


def check_lost(grades_dir: Path, asked: list[Rubric]) -> None:
    """MarksError when the marks of `grades_dir` are not lost: ``marks.json`` is there as
    the record sealed it, or its history rebuilds that file (`kws marks restore`)."""
    folder = Path(grades_dir)
    sealed, path = _sealed_marks(folder), folder / MARKS_FILE
    if path.is_file():
        with open(path, "rb") as file:
            whole = hashlib.sha256(file.read()).hexdigest()
        if sealed is None or whole == sealed:
            raise MarksError(f"{path} holds the marks {folder / 'records.json'} sealed: nothing "
                             "is lost, and nothing was changed. To take a mark back, unmark it "
                             f"in `kws mark {folder}`; to bring the files in line with their "
                             f"history, `kws marks restore {folder}`")  # fmt: skip
    try:
        rebuilt = marks_text(replay(history_events(folder), asked).marks)
    except (MarksError, ValueError, KeyError, TypeError):
        return
    if history_events(folder) and hashlib.sha256(rebuilt.encode()).hexdigest() == sealed:
        raise MarksError(f"{folder / 'marks' / 'history.jsonl'} gives back the marks "
                         f"{folder / 'records.json'} sealed: nothing is lost, and nothing was "
                         f"changed; rebuild them with `kws marks restore {folder}`")  # fmt: skip


def marks_lost(grades_dir: Path, asked: list[Rubric]) -> list[str]:
    """What starting the marks of `grades_dir` afresh loses, a sentence each: the marked
    answers ``standings.json`` counted (how many, of how many hand-ins, their points, the
    students), the rubric changes made while marking, what is left of ``marks/``."""
    folder = Path(grades_dir)
    standings = read_standings(folder)
    asks = {}
    for rubric in asked:
        asks[rubric.assignment] = asks.get(rubric.assignment, 0) + 1
    answers, points, who = 0, 0.0, {}
    for student, entries in standings.students.items():
        for name, standing in entries.items():
            marked = asks.get(name, 0) - standing.unmarked if standing.status != "missing" else 0
            if marked > 0:
                answers += marked
                points += standing.written
                who[student] = who.get(student, 0.0) + standing.written
    listed = ", ".join(f"{s} {p:g}" for s, p in list(sorted(who.items()))[:8])
    more = f" and {len(who) - 8} more" if len(who) > 8 else ""
    lost = [
        f"the marks of {answers} written answer(s) of {len(who)} student(s), {points:g} points "
        f"in all, as {folder / 'standings.json'} counted them"
        + (f" ({listed}{more})" if who else "")
        + ", and any mark given since: every written answer is unmarked again, to mark again "
        f"in `kws mark {folder}`",
        "the changes made to the rubrics while marking (items' points, sentences, items "
        "added): the notebooks' rubrics are used again",
    ]
    if (folder / MARKS_DIR).exists():
        lost.append(f"what is left of {folder / MARKS_DIR} is moved aside into "
                    f"{folder / 'marks-lost-WHEN'} (kept, never counted)")  # fmt: skip
    return lost


def restart_marks(grades_dir: Path, asked: list[Rubric], *, by: str | None = None) -> Path | None:
    """Start the marks of `grades_dir` afresh: what is left of ``marks/`` moved aside, then a
    new ``marks/`` with no mark, the notebooks' rubrics of `asked`, and a history that opens
    with a ``restart`` event. The caller holds the folder's lock, has checked `check_lost` and
    counts the marks again (`kws.grading.season.apply.apply_season`), which seals the folder.
    `by`: who, as the history records it (default: the login name). Returns where the old
    ``marks/`` went (None: it was gone)."""
    folder = Path(grades_dir)
    by = by or _login()
    check_lost(folder, asked)
    lost = marks_lost(folder, asked)
    kept = None
    if (folder / MARKS_DIR).exists():
        stamp = record_time().replace(":", "").replace("+0000", "Z")
        kept = folder / f"marks-lost-{stamp}"
        os.replace(folder / MARKS_DIR, kept)
    (folder / MARKS_DIR).mkdir(mode=0o700)
    store = MarkStore(folder, ())
    store._append({"event": "restart", "by": by, "lost": lost})
    write_whole(folder / MARKS_FILE, marks_text({}))
    store._write_rubrics({})
    store.add_questions(asked, by=by)
    return kept


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name known to the system (a bare container)
        return "kws marks restart"
