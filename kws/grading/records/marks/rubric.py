"""The rubric and the mark of a written question, as the files of ``marks/`` hold them, each
value checked as the marking page checks what a grader types (`kws.grading.records.marks`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from kws.written.model import KINDS

MARKS_DIR = "marks"
RUBRICS_FILE = "marks/rubrics.json"
MARKS_FILE = "marks/marks.json"
HISTORY_FILE = "marks/history.jsonl"
VERSION = 1
MOST_COMMENT = 5000  # characters
MOST_POINTS = 1000.0  # a question's points, at most (what a hand edit may not exceed)


def afresh(grades_dir) -> str:
    """The advice where the marks can be had back from nowhere (no backup, no history that
    gives them back): `kws marks restart`, which starts them afresh and says what is lost."""
    return (f"with no backup, start the marks afresh (every written answer unmarked again; it "
            f"says what is lost): `kws marks restart {grades_dir} --lose-marks`")  # fmt: skip


class MarksError(ValueError):
    """A mark or rubric change that cannot be recorded; the message names what and the fix."""


class MarkConflict(MarksError):
    """Someone changed a mark since the grader saw it (`reason` "changed"), or one mark was
    asked for students whose marks differ (`reason` "differ"): `current` holds the marks of
    those students as they are."""

    def __init__(self, message: str, current: dict[str, Mark | None], reason: str = "changed"):
        super().__init__(message)
        self.current = current
        self.reason = reason


@dataclass(frozen=True)
class Item:
    """A rubric item: its id, the points it gives (or takes off: negative) and its sentence."""

    id: str
    points: float
    text: str


@dataclass(frozen=True)
class Rubric:
    """A written question as the grades folder marks it.

    Attributes:
        assignment: the assignment whose notebook asks it.
        question: its id in that notebook.
        kind: ``markdown``, ``code`` or ``task``.
        points: what it is worth.
        prompt: the question's text (Markdown).
        model_answer: the graders' model answer (Markdown, or code).
        items: the rubric's items, in order.
    """

    assignment: str
    question: str
    kind: str
    points: float
    prompt: str
    model_answer: str
    items: tuple[Item, ...]

    @property
    def title(self) -> str:
        """The prompt's heading: its bold opening (``**Question: ...**``) or its first line
        that is more than a rule (nbgrader's prompts open with ``---``)."""
        text = self.prompt.strip()
        bold = re.match(r"^\*\*(.+?)\*\*", text, re.S)
        lines = [ln for ln in text.splitlines() if ln.strip(" \t-=*_#")]  # not a rule (---)
        line = bold[1] if bold else next(iter(lines), "")
        line = " ".join(line.replace("**", "").strip(" #").split())
        return line if len(line) <= 90 else line[:87] + "..."

    @property
    def key(self) -> str:
        """``assignment/question``: how marks name the question."""
        return question_key(self.assignment, self.question)

    def score(self, mark: Mark) -> float:
        """`mark`'s points under this rubric: the items given, plus the adjustment, between 0
        and the question's points. Where no item gives points (every one takes some off), the
        count starts from full points."""
        given = sum(item.points for item in self.items if item.id in mark.items)
        start = self.points if self.items and all(i.points < 0 for i in self.items) else 0.0
        return min(self.points, max(0.0, start + given + mark.adjust))

    @classmethod
    def from_dict(cls, data: dict) -> Rubric:
        """The rubric `data` holds, checked as the page checks what a grader types: ValueError
        saying which value is wrong and what it may be (`MarkStore.rubrics` adds the file)."""
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ValueError("not a question (its assignment, question, kind, points, prompt, "
                             "model_answer and items)")  # fmt: skip
        fields = {k: data.get(k) for k in ("assignment", "question", "kind", "prompt",
                                           "model_answer")}  # fmt: skip
        if not all(isinstance(v, str) for v in fields.values()) or fields["kind"] not in KINDS:
            raise ValueError(f"its assignment, question, prompt and model answer are texts and "
                             f"its kind one of {', '.join(KINDS)}")  # fmt: skip
        points = _number(data.get("points"), "its points")
        if not 0 < points <= MOST_POINTS:
            raise ValueError(f"points {data.get('points')!r}: a question is worth more than 0 "
                             f"and at most {MOST_POINTS:g} points")  # fmt: skip
        items, seen = [], set()
        for item in data["items"]:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("id"), str)
                or not item["id"].strip()
                or item["id"] in seen
                or not isinstance(item.get("text"), str)
            ):
                raise ValueError(f"item {item!r}: each item has an id of its own and a text")
            given = _number(item.get("points"), f"item {item['id']}'s points")
            if given == 0 or abs(given) > points:
                raise ValueError(f"item {item['id']} gives {item.get('points')!r} points; an "
                                 f"item gives between -{points:g} and {points:g}, not 0")  # fmt: skip
            seen.add(item["id"])
            items.append(Item(item["id"], given, item["text"]))
        return cls(**fields, points=points, items=tuple(items))


@dataclass(frozen=True)
class Mark:
    """A person's mark of one student's answer to one question.

    Attributes:
        items: the ids of the rubric items given.
        adjust: points added (or taken off) beyond the items.
        comment: for the student.
        digest: the digest of the answer marked.
        by: who marked it.
        when: when (ISO 8601, UTC).
        version: 1 for the first mark, then one more at each change.
    """

    items: tuple[str, ...]
    adjust: float
    comment: str
    digest: str
    by: str
    when: str
    version: int

    @classmethod
    def from_dict(cls, data: dict) -> Mark:
        """The mark `data` holds; ValueError saying which value is wrong (`MarkStore.marks`
        adds the file; `Written` checks it against its rubric)."""
        texts = ("comment", "digest", "by", "when")
        if (
            not isinstance(data, dict)
            or set(data) != {"items", "adjust", "version", *texts}
            or not isinstance(data["items"], list)
            or not all(isinstance(i, str) for i in data["items"])
            or not all(isinstance(data[k], str) for k in texts)
            or not isinstance(data["version"], int)
            or data["version"] < 1
        ):
            raise ValueError("a mark holds items (their ids), adjust, comment, digest, by, when "
                             "and a version from 1")  # fmt: skip
        adjust = _number(data["adjust"], "its adjustment")
        return cls(**{**data, "items": tuple(data["items"]), "adjust": adjust})


def _number(value, what: str) -> float:
    """`value` as a finite number of points; ValueError naming `what` (a decimal comma: the
    fix)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        fix = (
            f"; write {value.replace(',', '.')}" if isinstance(value, str) and "," in value else ""
        )
        raise ValueError(f"{what} {value!r} is not a number of points{fix}")
    return float(value)


def with_questions(
    stored: dict[str, Rubric], rubrics: Iterable[Rubric]
) -> tuple[dict[str, Rubric], list[str], list[str]]:
    """`stored` with the questions of `rubrics` it lacks and the items their rubrics have that
    it lacks (what it holds is kept: a grader's changes outlive the notebook's).

    Returns:
        (the rubrics, what was added: question keys and ``key: item`` , a sentence for each
        item whose points differ).

    Raises:
        MarksError: a question's points differ from its notebook's (no page changes them:
            ``rubrics.json`` was edited by hand, or the notebook changed).
    """
    stored, notes, added = dict(stored), [], []
    for rubric in rubrics:
        old = stored.get(rubric.key)
        if old is None:
            stored[rubric.key] = rubric
            added.append(rubric.key)
            continue
        if old.points != rubric.points:
            raise MarksError(
                f"{RUBRICS_FILE}: question {rubric.key!r} is worth {old.points:g} points there, "
                f"{rubric.points:g} in its notebook; set its points back to {rubric.points:g} "
                "(or the notebook's to what the course decided) and run the command again"
            )
        known = {item.id: item for item in old.items}
        new = [item for item in rubric.items if item.id not in known]
        notes += [
            f"{rubric.key}: item {item.id} gives {known[item.id].points:g} points in the "
            f"grades folder, {item.points:g} in the notebook; marking keeps "
            f"{known[item.id].points:g}"
            for item in rubric.items
            if item.id in known and known[item.id].points != item.points
        ]
        if new:
            stored[rubric.key] = replace(old, items=old.items + tuple(new))
            added += [f"{rubric.key}: {item.id}" for item in new]
    return stored, added, notes


def question_key(assignment: str, question: str) -> str:
    """How the records name a question: ``assignment/question``."""
    return f"{assignment}/{question}"


def shortfall(rubric: Rubric) -> str:
    """A sentence when the items of `rubric` that give points add up to less than its points
    (no answer can reach full points by the items), "" otherwise."""
    given = sum(item.points for item in rubric.items if item.points > 0)
    if 0 < given < rubric.points - 1e-9:
        return (f"{rubric.key}: the items that give points add up to {given:g} of "
                f"{rubric.points:g}: a best answer reaches {given:g}; raise an item or add "
                "one")  # fmt: skip
    return ""


def within(rubric: Rubric) -> Rubric:
    """`rubric`, or MarksError when its items that give points add up to more than its points
    (a mark could never count them all)."""
    given = sum(item.points for item in rubric.items if item.points > 0)
    if given > rubric.points + 1e-9:
        raise MarksError(
            f"{rubric.key}: the items that give points would add up to {given:g}, more than "
            f"the question's {rubric.points:g}; lower another item first, or this one by "
            f"{given - rubric.points:g}"
        )
    return rubric
