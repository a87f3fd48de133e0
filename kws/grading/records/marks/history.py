"""The marks' history, ``marks/history.jsonl``: one change a line, oldest first, and what its
last events say the marks are (`replay`), the truth `kws marks restore` rebuilds and every
command that reads marks checks ``marks.json`` against (`kws.grading.records.kept_marks`).

    events = history_events(Path("grades"))
    replayed = replay(events, asked)        # Replayed: rubrics, marks, last
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from kws.grading.records.marks.comments import Comment
from kws.grading.records.marks.rubric import (
    HISTORY_FILE,
    Item,
    Mark,
    MarksError,
    Rubric,
    afresh,
)

MARK_FIELDS = ("items", "adjust", "comment", "digest", "by", "when", "version")


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
                             f"the file from a backup; {afresh(grades_dir)}") from None  # fmt: skip
        events.append(event)
    return events


@dataclass
class Replayed:
    """What the history says the marks are.

    Attributes:
        rubrics: {question key: `Rubric`} (the questions it recorded whole, or by name only
            where the notebook's `asked` gave them).
        marks: {question key: {student: the mark as ``marks.json`` holds it}}, in the order
            ``marks.json`` holds them (a question first marked first, a student first marked
            first, a mark taken back and given again last).
        last: {(question key, student): the last ``mark`` or ``unmark`` event of that answer}.
        comments: {question key: its saved comments} (`kws.grading.records.marks.comments`).
    """

    rubrics: dict[str, Rubric]
    marks: dict[str, dict[str, dict]]
    last: dict[tuple[str, str], dict]
    comments: dict[str, list[Comment]] = field(default_factory=dict)


def replay(events: list[dict], asked: list[Rubric] = ()) -> Replayed:
    """The rubrics and marks `events` (`history_events`) leave, from the last ``restart``
    (`kws marks restart`) on: the rubrics as recorded (the notebooks' `asked` for a question
    an older kit recorded by name only), each item changed since, and each student's last mark
    (none, where it was taken back).

    Raises:
        MarksError: a mark event that is not a mark this kit records (naming the history).
    """
    notebooks = {rubric.key: rubric for rubric in asked}
    rubrics: dict[str, Rubric] = {}
    marks: dict[str, dict[str, dict]] = {}
    last: dict[tuple[str, str], dict] = {}
    comments: dict[str, list[Comment]] = {}
    for event in events:
        kind = event.get("event")
        if kind == "restart":  # the marks started afresh: nothing before counts
            rubrics, marks, last, comments = {}, {}, {}, {}
        elif kind == "comment" and "removed" in event:  # taken out of a question's library
            saved = comments.get(event.get("question"), [])
            comments[event.get("question")] = [c for c in saved if c.id != event["removed"]]
        elif kind == "comment":  # saved in a question's library, or edited there
            try:
                comment = Comment.from_dict(event.get("comment"))
            except ValueError as error:
                raise MarksError(f"{HISTORY_FILE}: a saved comment of {event.get('question')!r}: "
                                 f"{error}; restore the file from a backup") from None  # fmt: skip
            saved = comments.setdefault(event.get("question"), [])
            kept = [c for c in saved if c.id != comment.id]
            at = next((n for n, c in enumerate(saved) if c.id == comment.id), len(saved))
            comments[event.get("question")] = [*kept[:at], comment, *kept[at:]]
        elif kind == "questions":
            _questions(rubrics, event, notebooks)
        elif kind == "item" and event.get("question") in rubrics:
            rubric, data = rubrics[event["question"]], event["item"]
            item = Item(data["id"], float(data["points"]), data["text"])
            items = [item if i.id == item.id else i for i in rubric.items]
            items += [] if item.id in {i.id for i in rubric.items} else [item]
            rubrics[rubric.key] = replace(rubric, items=tuple(items))
        elif kind == "mark":
            key, student = event.get("question"), event.get("student")
            try:
                mark = Mark.from_dict({name: event.get(name) for name in MARK_FIELDS})
            except ValueError as error:
                raise MarksError(f"{HISTORY_FILE}: {student}'s mark of {key!r}: {error}; "
                                 "restore the file from a backup") from None  # fmt: skip
            marks.setdefault(key, {})[student] = asdict(mark)
            last[key, student] = event
        elif kind == "unmark":  # taken back in `kws mark`: unmarked again
            marks.get(event.get("question"), {}).pop(event.get("student"), None)
            last[event.get("question"), event.get("student")] = event
    return Replayed(rubrics, marks, last, comments)


def _questions(rubrics: dict[str, Rubric], event: dict, notebooks: dict[str, Rubric]) -> None:
    """The questions (and items) a ``questions`` event added, into `rubrics`."""
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
