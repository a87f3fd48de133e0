"""Marks that the grades say exist are there, and rebuilt from their history when they are not.

    check_marks_kept(Path("grades"))        # MarksError: marks/marks.json is gone, though ...
    restore_marks(Path("grades"), asked)    # `kws marks restore grades`: from history.jsonl

A lost marks file is never "no marks" (docs/reference/written-questions.md, "The marks"). The
restore replays ``marks/history.jsonl``: the rubrics as recorded (the notebook's for a question
an older kit recorded by name only), each item changed since, and each student's last mark
(none, where it was taken back).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from kws.grading.records.files import write_whole
from kws.grading.records.marks.rubric import (
    HISTORY_FILE,
    MARKS_FILE,
    RUBRICS_FILE,
    VERSION,
    Item,
    Mark,
    MarksError,
    Rubric,
)
from kws.grading.records.marks.store import MarkStore
from kws.grading.records.seal import readable_seal

_MARK_FIELDS = ("items", "adjust", "comment", "digest", "by", "when", "version")


def history_events(grades_dir: Path) -> list[dict]:
    """The events of ``marks/history.jsonl``, oldest first; a last line cut short (a command
    killed as it appended) is left out. MarksError for a damaged line before the last."""
    path = Path(grades_dir) / HISTORY_FILE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if not isinstance(event, dict):
                raise ValueError
        except ValueError:
            if number == len(lines):
                break
            raise MarksError(f"{path}, line {number}: not a change this kit records; restore "
                             "the file from a backup") from None  # fmt: skip
        events.append(event)
    return events


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
    return why


def check_marks_kept(grades_dir: Path) -> None:
    """MarksError when a marks file the grades say exists is gone (never read as no marks),
    naming the file, why it should be there and the command that rebuilds it."""
    folder = Path(grades_dir)
    for name, why in _expected(folder).items():
        if (folder / name).is_file():
            continue
        if not (folder / HISTORY_FILE).is_file():
            fix = (f"its history ({folder / HISTORY_FILE}) is gone too: restore {folder / 'marks'} "
                   f"from a backup, then run `kws season {folder}`")  # fmt: skip
        else:
            fix = f"rebuild it from the marks' history: `kws marks restore {folder}`"
        raise MarksError(f"{folder / name} is gone, though {why}: without it the written "
                         f"answers would count as unmarked or not asked; {fix}")  # fmt: skip


def _readable(store: MarkStore, name: str) -> bool:
    if not (store.folder / name).is_file():
        return False
    try:
        store.rubrics() if name == RUBRICS_FILE else store.marks()
    except MarksError:
        return False
    return True


def restore_marks(grades_dir: Path, asked: list[Rubric]) -> list[str]:
    """Rebuild ``rubrics.json`` and ``marks.json`` of `grades_dir` from the marks' history
    where they are gone or cannot be read; `asked`: the notebooks' questions
    (`kws.grading.season.written.notebook_rubrics`), for questions recorded by name only.
    Returns the files rebuilt (none: both were whole). The caller holds the folder's lock and
    counts the marks again (`kws.grading.season.apply.apply_season`).

    Raises:
        MarksError: no history to rebuild from, or a mark of a question it cannot rebuild.
    """
    folder = Path(grades_dir)
    store = MarkStore(folder, ())
    wanted = [name for name in (RUBRICS_FILE, MARKS_FILE) if not _readable(store, name)]
    if not wanted:
        return []
    events = history_events(folder)
    if not events:
        raise MarksError(f"{folder / HISTORY_FILE} is missing or empty: nothing to rebuild "
                         f"{', '.join(wanted)} from; restore {folder / 'marks'} from a backup")  # fmt: skip
    notebooks = {rubric.key: rubric for rubric in asked}
    rubrics: dict[str, Rubric] = {}
    marks: dict[str, dict[str, dict]] = {}
    for event in events:
        kind = event.get("event")
        if kind == "questions":
            recorded = event.get("rubrics") or {}
            for added in event.get("added", []):
                key, _, item = added.partition(": ")
                if key in recorded and key not in rubrics:
                    rubrics[key] = Rubric.from_dict(recorded[key])
                elif key in notebooks and (key not in rubrics or item):
                    rubric = rubrics.setdefault(key, notebooks[key])
                    new = [i for i in notebooks[key].items if i.id == item]
                    if item and new and item not in {i.id for i in rubric.items}:
                        rubrics[key] = replace(rubric, items=rubric.items + tuple(new))
        elif kind == "item" and event.get("question") in rubrics:
            rubric, data = rubrics[event["question"]], event["item"]
            item = Item(data["id"], float(data["points"]), data["text"])
            items = [item if i.id == item.id else i for i in rubric.items]
            items += [] if item.id in {i.id for i in rubric.items} else [item]
            rubrics[rubric.key] = replace(rubric, items=tuple(items))
        elif kind == "mark":
            mark = {name: event[name] for name in _MARK_FIELDS if name in event}
            marks.setdefault(event["question"], {})[event["student"]] = mark
        elif kind == "unmark":  # taken back in `kws mark`: unmarked again
            marks.get(event["question"], {}).pop(event["student"], None)
    if MARKS_FILE in wanted:
        known = set(rubrics) | (set(store.rubrics()) if RUBRICS_FILE not in wanted else set())
        lost = sorted(set(marks) - known)
        if lost:
            raise MarksError(f"{folder / HISTORY_FILE} has marks of {', '.join(lost)}, whose "
                             "questions it cannot rebuild: restore the marks from a backup")  # fmt: skip
        checked = {k: {s: asdict(Mark.from_dict(m)) for s, m in by.items()}
                   for k, by in marks.items()}  # fmt: skip
        text = json.dumps({"version": VERSION, "marks": checked}, indent=1, ensure_ascii=False)
        write_whole(folder / MARKS_FILE, text + "\n")
    if RUBRICS_FILE in wanted:
        store._write_rubrics(rubrics)
    return wanted
