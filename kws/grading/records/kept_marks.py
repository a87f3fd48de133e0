"""Marks that the grades say exist are there and agree with their history, and are rebuilt from
that history when they do not.

    check_marks_kept(Path("grades"))        # MarksError: marks/marks.json is gone, though ...
    restore_marks(Path("grades"), asked)    # `kws marks restore grades`: from history.jsonl

A lost marks file is never "no marks", and an older ``marks.json`` put back (a backup, a sync)
is never the marks: the last event of each answer in ``marks/history.jsonl`` is
(docs/reference/written-questions.md, "The marks"). The restore replays the history
(`kws.grading.records.marks.history.replay`) and keeps what it rebuilds only when it is the file
``records.json`` sealed; where the history is the one that disagrees with the sealed
``marks.json`` (lines lost, or edited by hand), it records the sealed marks in it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from kws.grading.records.files import write_whole
from kws.grading.records.marks.comments import COMMENTS_FILE, comments_text
from kws.grading.records.marks.history import MARK_FIELDS, history_events, replay
from kws.grading.records.marks.rubric import (
    HISTORY_FILE,
    MARKS_FILE,
    RUBRICS_FILE,
    Mark,
    MarksError,
    Rubric,
    afresh,
)
from kws.grading.records.marks.store import MarkStore, marks_text
from kws.grading.records.seal import readable_seal


def _expected(grades_dir: Path) -> dict[str, str]:
    """{marks file: why the grades say it exists}."""
    folder, why = Path(grades_dir), {}
    record = readable_seal(folder)
    for name in (RUBRICS_FILE, MARKS_FILE):
        if record is not None and name in record["files"]:
            why[name] = f"{folder / 'records.json'} recorded it (`{record['command']}`)"
    written = []
    with contextlib.suppress(OSError, ValueError, KeyError, AttributeError, TypeError):
        standings = json.loads((folder / "standings.json").read_text(encoding="utf-8"))
        written = [n for n, a in standings["assignments"].items() if a.get("written")]
    if written:
        why.setdefault(RUBRICS_FILE, f"{folder / 'standings.json'} counts the written questions "
                       f"of {', '.join(written)}")  # fmt: skip
    events = set()
    with contextlib.suppress(MarksError):
        events = {e.get("event") for e in history_events(folder)}
    if "questions" in events:
        why.setdefault(RUBRICS_FILE, f"{folder / HISTORY_FILE} records its questions")
    if "mark" in events:
        why.setdefault(MARKS_FILE, f"{folder / HISTORY_FILE} records marks")
    if "comment" in events:
        why.setdefault(COMMENTS_FILE, f"{folder / HISTORY_FILE} records saved comments")
    return why


def check_marks_kept(grades_dir: Path) -> None:
    """MarksError when a marks file the grades say exists is gone (never read as no marks),
    naming the file, why it should be there and the command that rebuilds it; or when
    ``marks.json`` and its history disagree (`check_marks_agree`)."""
    folder = Path(grades_dir)
    for name, why in _expected(folder).items():
        if (folder / name).is_file():
            continue
        if not (folder / HISTORY_FILE).is_file():
            fix = (f"its history ({folder / HISTORY_FILE}) is gone too: restore {folder / 'marks'} "
                   f"from a backup, then run `kws season {folder}`; {afresh(folder)}")  # fmt: skip
        else:
            fix = f"rebuild it from the marks' history: `kws marks restore {folder}`"
        raise MarksError(f"{folder / name} is gone, though {why}: without it the written "
                         f"answers would count as unmarked or not asked; {fix}")  # fmt: skip
    check_marks_agree(folder)


def check_marks_agree(grades_dir: Path) -> None:
    """MarksError when ``marks.json`` does not hold the last mark the history gives each
    answer, saying which of the two is newer (an older file put back by a backup or a sync
    tool, lines lost from the history) or that one was edited by hand, and the command that
    brings them in line (`kws marks restore`). Nothing to compare where either file is gone
    or cannot be read: `check_marks_kept` and `MarkStore` say so."""
    folder = Path(grades_dir)
    if not (folder / HISTORY_FILE).is_file() or not (folder / MARKS_FILE).is_file():
        return
    try:
        held = MarkStore(folder, ()).marks()
        events = history_events(folder)
    except MarksError:
        return
    found = _disagreements(held, events)
    if not found:
        return
    marks, history = folder / MARKS_FILE, folder / HISTORY_FILE
    newer = {kind for kind, _ in found}
    (_, (key, student)), more = found[0], len(found) - 1
    what = f"{student}'s mark of {key}" + (f" and {more} more" if more else "")
    if newer == {"history"}:
        said = (f"{marks} is older than {history}: the history holds later marks ({what}); an "
                "older marks.json was put back (a backup, a sync tool?)")  # fmt: skip
    elif newer == {"file"}:
        said = (f"{history} is older than {marks}: marks.json holds marks the history lacks "
                f"({what}); an older history was put back, or lines of it lost")  # fmt: skip
    else:
        said = (f"{marks} and {history} disagree ({what}): one of them was edited by hand, or "
                "put back from a backup")  # fmt: skip
    raise MarksError(f"{said}. The marks are the history's last mark of each answer: "
                     f"`kws marks restore {folder}` brings the two files in line, keeping only "
                     f"the marks {folder / 'records.json'} sealed; then run this command "
                     "again")  # fmt: skip


def _disagreements(held: dict[str, dict[str, Mark]], events: list[dict]) -> list:
    """[(which is newer: "history", "file" or "edited", (question, student))] for each answer
    whose mark in ``marks.json`` (`held`) is not the history's last."""
    replayed = replay(events)
    given: dict[tuple, list[int]] = {}  # (question, student, the mark) -> where in the history
    for at, event in enumerate(events):
        if event.get("event") == "mark":
            with contextlib.suppress(ValueError, TypeError):
                mark = Mark.from_dict({n: event.get(n) for n in MARK_FIELDS})
                given.setdefault((event["question"], event["student"], mark), []).append(at)
    position = {id(event): at for at, event in enumerate(events)}
    at_last = {answer: position[id(event)] for answer, event in replayed.last.items()}
    found = []
    answers = {(k, s) for k, by in held.items() for s in by} | {
        (k, s) for k, by in replayed.marks.items() for s in by
    }
    for key, student in sorted(answers):
        mine, theirs = held.get(key, {}).get(student), replayed.marks.get(key, {}).get(student)
        if mine is not None and theirs is not None and asdict(mine) == theirs:
            continue
        if mine is None:  # the history marks it: marks.json is from before (or edited)
            found.append(("history", (key, student)))
            continue
        places = given.get((key, student, mine), [])
        if places and places[-1] < at_last.get((key, student), -1):
            found.append(("history", (key, student)))  # an earlier mark of the history's
        elif not places and mine.version > (theirs or {}).get("version", 0):
            found.append(("file", (key, student)))  # later than any the history records
        else:
            found.append(("edited", (key, student)))
    return found


def _readable(store: MarkStore, name: str) -> bool:
    if not (store.folder / name).is_file():
        return False
    reads = {RUBRICS_FILE: store.rubrics, MARKS_FILE: store.marks, COMMENTS_FILE: store.comments}
    try:
        reads[name]()
    except MarksError:
        return False
    return True


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def restore_marks(grades_dir: Path, asked: list[Rubric]) -> list[str]:
    """Bring ``rubrics.json`` and ``marks.json`` of `grades_dir` in line with the marks'
    history: rebuild each that is gone, cannot be read, or (``marks.json``) disagrees with the
    history's last marks, keeping what it rebuilds only when it is the file ``records.json``
    sealed; where the history is the one that disagrees with the sealed ``marks.json``, record
    those marks in the history again. `asked`: the notebooks' questions
    (`kws.grading.season.written.notebook_rubrics`), for questions recorded by name only.
    Returns the files written (none: both were whole and agree). The caller holds the folder's
    lock and counts the marks again (`kws.grading.season.apply.apply_season`).

    Raises:
        MarksError: no history to rebuild from; a history that does not give back the marks
            the record sealed (nothing is written); a mark of a question it cannot rebuild.
    """
    folder = Path(grades_dir)
    store = MarkStore(folder, ())
    wanted = [name for name in (RUBRICS_FILE, MARKS_FILE) if not _readable(store, name)]
    events = history_events(folder)
    if any(e.get("event") == "comment" for e in events) and not _readable(store, COMMENTS_FILE):
        wanted.append(COMMENTS_FILE)
    if MARKS_FILE not in wanted and events and _disagreements(store.marks(), events):
        wanted.append(MARKS_FILE)
    if not wanted:
        return []
    if not events:
        raise MarksError(f"{folder / HISTORY_FILE} is missing or empty: nothing to rebuild "
                         f"{', '.join(wanted)} from; restore {folder / 'marks'} from a backup, "
                         f"then run `kws season {folder}`; {afresh(folder)}")  # fmt: skip
    replayed = replay(events, asked)
    sealed = (readable_seal(folder) or {}).get("files", {})
    written = []
    if MARKS_FILE in wanted:
        known = set(replayed.rubrics) | (
            set(store.rubrics()) if RUBRICS_FILE not in wanted else set()
        )
        lost = sorted(set(replayed.marks) - known)
        if lost:
            raise MarksError(f"{folder / HISTORY_FILE} has marks of {', '.join(lost)}, whose "
                             f"questions it cannot rebuild: restore the marks from a backup; "
                             f"{afresh(folder)}")  # fmt: skip
        text = marks_text(replayed.marks)
        if MARKS_FILE not in sealed or _digest(text) == sealed[MARKS_FILE]:
            write_whole(folder / MARKS_FILE, text)
            written.append(MARKS_FILE)
        elif (
            _readable(store, MARKS_FILE) and _file_digest(folder / MARKS_FILE) == sealed[MARKS_FILE]
        ):
            _record_again(store, replayed)
            written.append(HISTORY_FILE)
        else:
            raise MarksError(_not_sealed(folder))
    if RUBRICS_FILE in wanted:
        store._write_rubrics(replayed.rubrics)
        written.append(RUBRICS_FILE)
    if COMMENTS_FILE in wanted:
        write_whole(folder / COMMENTS_FILE, comments_text(replayed.comments))
        written.append(COMMENTS_FILE)
    return written


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _not_sealed(folder: Path) -> str:
    record = readable_seal(folder) or {}
    return (f"{folder / HISTORY_FILE} does not give back the marks {folder / 'records.json'} "
            f"sealed (`{record.get('command')}`, {record.get('when')}): the history was edited "
            f"by hand, or is not this folder's, and {folder / MARKS_FILE} is not the sealed "
            "file either; nothing was written. Put back the history's lines as they were, or "
            f"restore {folder / 'marks'} from a backup, then run `kws marks restore {folder}`; "
            f"{afresh(folder)}")  # fmt: skip


def _record_again(store: MarkStore, replayed) -> None:
    """Append to the history the marks of the sealed ``marks.json`` its last events do not
    give (and the taking back of those it gives that the file has not), so that its last
    event of each answer is the file's mark again."""
    held = store.marks()
    answers = {(k, s) for k, by in held.items() for s in by} | {
        (k, s) for k, by in replayed.marks.items() for s in by
    }
    for key, student in sorted(answers):
        mine, theirs = held.get(key, {}).get(student), replayed.marks.get(key, {}).get(student)
        if mine is not None and asdict(mine) == theirs:
            continue
        said = {"question": key, "student": student, "restored": "kws marks restore"}
        if mine is None:
            store._append({"event": "unmark", **said, "by": "kws marks restore", "was": theirs})
        else:
            store._append({"event": "mark", **said, **asdict(mine)})
