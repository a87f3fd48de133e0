"""The marks a person gives written answers (`kws mark`), kept in the grades folder's ``marks/``:

    marks/rubrics.json    each question: its assignment, id, kind, points, prompt, model answer
                          and rubric items, as marking left them (a grader may change an item)
    marks/marks.json      each question's marks, by student: the rubric items given, a points
                          adjustment, a comment, the answer's digest, who, when, a version
    marks/history.jsonl   every change, one JSON object a line, appended and never rewritten

    store = MarkStore(Path("grades"), students=["ann", "bob"])
    store.save("speaker_id/norm-classifier", ["ann"], items=["scale"], digests={"ann": "3f2a…"},
               by="kim")                                   # saved at once
    store.change_item("speaker_id/norm-classifier", "scale", points=1.5, by="kim")
    rubric, mark = store.rubrics()[key], store.marks()[key]["ann"]
    rubric.score(mark)                                     # from the rubric as it is now

A mark records the rubric items' ids, never their points: an item's points changed later reach
every answer that has it. A mark records the digest of the answer it was given to
(`kws.written.answers.Answer.digest`): when the hand-in is collected again and the answer
changed, the mark is stale and the marking page asks for it again. A mark for a student the
gradebook does not list, a question ``rubrics.json`` does not hold, or an item its rubric does
not have is refused with the fix.

Each change is one read-modify-write under a lock (``marks/.lock``, an exclusive ``flock``: two
browsers on one server, or two servers on one folder, lose no mark): read the file, change the
entry, append the change to the history, write the file whole
(`kws.grading.records.files.write_whole`), and seal the grades folder again
(`kws.grading.records.seal`, which covers ``rubrics.json`` and ``marks.json``). A mark given with
the version the grader saw is refused (`MarkConflict`) when someone else changed it since, and
so is one mark for several students whose marks differ, unless the grader chose to replace them
(`save(..., alike=False)`). `unmark` takes marks back. A rubric item change that makes the items
giving points add up to more than the question's points is refused (`shortfall` says when they
add up to less).
While another command writes the folder (`kws grade`, `kws season`: ``run.lock``,
`kws.grading.records.lock`), a mark is saved in ``marks.json`` as ever but the folder is not
sealed: that command seals it when it finishes, and a mark saved after it read the marks makes
its standings stale, which the exports refuse (`check_marked`).

The marks reach the grades through `written_part`: `kws.grading.season.compute` adds each
student's written points to the raw score of the assignment whose notebook asks them (and the
questions' points to its maximum), so a late penalty and the adjustments apply to the whole.
``standings.json`` records the digest of the marks it counted; `check_marked` refuses to publish
standings the marks changed since (``kws season GRADES`` counts them again), and, unless told to
count them as 0, standings with answers no one marked yet.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from kws.grading.records.files import write_whole
from kws.grading.records.lock import exclusive, running
from kws.grading.records.seal import RecordsError, digests, read_seal, seal

MARKS_DIR = "marks"
RUBRICS_FILE = "marks/rubrics.json"
MARKS_FILE = "marks/marks.json"
HISTORY_FILE = "marks/history.jsonl"
VERSION = 1
MOST_COMMENT = 5000  # characters
MOST_POINTS = 1000.0  # a question's points, at most (what a hand edit may not exceed)
KINDS = ("markdown", "code", "task")
_threads = threading.Lock()  # this process's threads; flock keeps other processes out


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


def _owner_only(path: str, flags: int) -> int:
    """`open`'s opener for the files of ``marks/``: made mode 0600, the instructor's alone."""
    return os.open(path, flags, 0o600)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class MarkStore:
    """The marks of one grades folder (see the module).

    Args:
        grades_dir: the grades folder (``kws grade --out``).
        students: the class, as the gradebook lists it: marks for anyone else are refused.
    """

    def __init__(self, grades_dir: Path, students: Iterable[str]):
        self.folder = Path(grades_dir)
        self.students = frozenset(students)
        self.sealed = True  # False when the last change left the seal alone (see `_reseal`)
        self._closed = False

    # ---- reading ------------------------------------------------------------------------------

    def rubrics(self) -> dict[str, Rubric]:
        """{question key: `Rubric`}, as ``rubrics.json`` holds them now, each value checked
        as when it was typed (MarksError naming the file, the question and the fix)."""
        data = self._read(RUBRICS_FILE, "questions")
        found = {}
        for key, value in data.items():
            try:
                found[key] = Rubric.from_dict(value)
                if found[key].key != key:
                    raise ValueError(f"it is filed under {key!r} but names {found[key].key!r}")
            except ValueError as error:
                raise self._damaged(RUBRICS_FILE, f"question {key!r}: {error}") from None
        return found

    def marks(self) -> dict[str, dict[str, Mark]]:
        """{question key: {student: `Mark`}}, as ``marks.json`` holds them now (MarksError
        naming the file, the mark and the fix for a value no page would record)."""
        data = self._read(MARKS_FILE, "marks")
        found: dict[str, dict[str, Mark]] = {}
        for key, by in data.items():
            if not isinstance(by, dict):
                raise self._damaged(MARKS_FILE, f"question {key!r}: not marks by student")
            for student, mark in by.items():
                try:
                    found.setdefault(key, {})[student] = Mark.from_dict(mark)
                except ValueError as error:
                    raise self._damaged(
                        MARKS_FILE, f"{student}'s mark of {key!r}: {error}"
                    ) from None
        return found

    def _damaged(self, name: str, what: str) -> MarksError:
        """The error for a file of ``marks/`` holding what no page records: the file, what is
        wrong, and the two ways out."""
        folder = self.folder
        return MarksError(f"{folder / name}: {what}. Correct it by hand, or rebuild the marks "
                          f"from their history: `kws marks restore {folder}`")  # fmt: skip

    def history(self) -> list[dict]:
        """Every change recorded, oldest first."""
        path = self.folder / HISTORY_FILE
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def _read(self, name: str, key: str) -> dict:
        path = self.folder / name
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != VERSION or not isinstance(data.get(key), dict):
                raise ValueError("not this kit's")
        except (ValueError, AttributeError):
            raise MarksError(f"{path} cannot be read (cut short, or not this kit's); rebuild "
                             f"the marks from their history ({self.folder / HISTORY_FILE}): "
                             f"`kws marks restore {self.folder}`") from None  # fmt: skip
        return data[key]

    # ---- changing -----------------------------------------------------------------------------

    def add_questions(self, rubrics: list[Rubric], *, by: str) -> list[str]:
        """Record the questions of `rubrics` that ``rubrics.json`` lacks, and the items their
        rubrics have that it lacks. What it holds already is kept: a grader's changes outlive
        the notebook's. Returns a sentence for each difference kept."""
        with self._locked():
            stored, added, notes = with_questions(self.rubrics(), rubrics)
            if added:
                whole = {key: asdict(stored[key]) for key in added if key in stored}
                self._append({"event": "questions", "added": added, "rubrics": whole, "by": by})
                self._write_rubrics(stored)
        return notes

    def save(
        self,
        key: str,
        students: list[str],
        *,
        items: list[str],
        digests: dict[str, str],
        by: str,
        adjust: float = 0.0,
        comment: str = "",
        versions: dict[str, int | None] | None = None,
        alike: bool = True,
    ) -> dict[str, Mark]:
        """Give each of `students` the same mark of question `key` (one answer, or a group of
        the same answer), at once. Several students are marked together only while they hold
        the same mark (none, or the same items, adjustment and comment for the same answer):
        one key never replaces a mark someone gave one of them on purpose.

        Args:
            key: the question (``assignment/question``).
            students: who gets the mark.
            items: the rubric items given (their ids).
            digests: {student: the digest of the answer marked}.
            by: who marks.
            adjust: points added or taken off beyond the items.
            comment: for the student.
            versions: {student: the mark's version the grader saw, None for no mark}; a mark
                changed since is a `MarkConflict`. Leave out to overwrite.
            alike: refuse students whose marks differ (False: replace them all, which the
                grader chose knowing they differ).

        Returns:
            {student: the `Mark` recorded}.

        Raises:
            MarksError: an unknown question, student or item, a bad adjustment or comment.
            MarkConflict: a mark changed since the grader saw it, or students of differing
                marks with `alike` (nothing is recorded).
        """
        comment = self._checked(key, students, items, adjust, comment, by)
        with self._locked():
            every = self._read(MARKS_FILE, "marks")
            current = every.setdefault(key, {})
            _check_versions(current, students, versions)
            held = {_held(current.get(s), digests.get(s, "")) for s in students}
            if alike and len(held) > 1:
                raise MarkConflict(
                    f"{', '.join(students)} hold different marks of {key}; mark those with the "
                    "same mark together, or replace them all on purpose",
                    {s: Mark.from_dict(current[s]) if s in current else None for s in students},
                    "differ",
                )
            when, saved = _now(), {}
            for student in students:
                version = (current.get(student) or {}).get("version", 0) + 1
                mark = Mark(tuple(items), float(adjust), comment, digests.get(student, ""), by,
                            when, version)  # fmt: skip
                current[student], saved[student] = asdict(mark), mark
                self._append({"event": "mark", "question": key, "student": student, **asdict(mark)})
            self._write(MARKS_FILE, {"version": VERSION, "marks": every})
        return saved

    def unmark(
        self, key: str, students: list[str], *, by: str, versions: dict | None = None
    ) -> None:
        """Take the marks of `students` for question `key` back: their answers are unmarked
        again (the history keeps what they were).

        Raises:
            MarksError: an unknown question or student; MarkConflict: a mark changed since
                the grader saw it (`versions`, as for `save`).
        """
        self._rubric(self.rubrics(), key)
        self._students(students)
        with self._locked():
            every = self._read(MARKS_FILE, "marks")
            current = every.setdefault(key, {})
            _check_versions(current, students, versions)
            for student in students:
                if student in current:
                    was = current.pop(student)
                    self._append({"event": "unmark", "question": key, "student": student,
                                  "by": by, "was": was})  # fmt: skip
            self._write(MARKS_FILE, {"version": VERSION, "marks": every})

    def change_item(
        self, key: str, item: str, *, by: str, points: float | None = None, text: str | None = None
    ) -> Rubric:
        """Change an item of `key`'s rubric (its points, its sentence): every mark that gives
        it counts the new points. Returns the rubric as it is now."""
        with self._locked():
            rubrics = self.rubrics()
            rubric = self._rubric(rubrics, key)
            found = {i.id: i for i in rubric.items}
            if item not in found:
                raise MarksError(f"{key} has no rubric item {item!r}; its items are "
                                 f"{', '.join(found) or 'none'}")  # fmt: skip
            old = found[item]
            new = Item(item, old.points if points is None else self._points(points, rubric),
                       old.text if text is None else self._text(text))  # fmt: skip
            rubrics[key] = _within(
                replace(rubric, items=tuple(new if i.id == item else i for i in rubric.items))
            )
            self._append({"event": "item", "question": key, "by": by, "item": asdict(new),
                          "was": asdict(old)})  # fmt: skip
            self._write_rubrics(rubrics)
            return rubrics[key]

    def add_item(self, key: str, *, points: float, text: str, by: str) -> Rubric:
        """Add an item to `key`'s rubric (its id: ``added-N``). Returns the rubric now."""
        with self._locked():
            rubrics = self.rubrics()
            rubric = self._rubric(rubrics, key)
            ids = {item.id for item in rubric.items}
            number = next(n for n in range(1, len(ids) + 2) if f"added-{n}" not in ids)
            item = Item(f"added-{number}", self._points(points, rubric), self._text(text))
            rubrics[key] = _within(replace(rubric, items=rubric.items + (item,)))
            self._append({"event": "item", "question": key, "by": by, "item": asdict(item)})
            self._write_rubrics(rubrics)
            return rubrics[key]

    def close(self) -> None:
        """Wait for a change being written in this process, and refuse any after: what a
        stopping `kws mark` calls, so that no mark is cut half-way."""
        _threads.acquire()
        self._closed = True

    # ---- checks -------------------------------------------------------------------------------

    def _rubric(self, rubrics: dict[str, Rubric], key: str) -> Rubric:
        if key not in rubrics:
            known = ", ".join(sorted(rubrics)) or "none yet"
            raise MarksError(
                f"{self.folder / RUBRICS_FILE} has no question {key!r} (it has: {known}); "
                "start `kws mark` with the solution notebooks that ask it (--solutions)"
            )
        return rubrics[key]

    def _students(self, students) -> None:
        unknown = [s for s in students if s not in self.students]
        if unknown or not students:
            raise MarksError(
                f"no student {', '.join(map(repr, unknown)) or '(none given)'} in "
                f"{self.folder / 'gradebook.csv'}: marks are for the class graded there; "
                "grade the hand-in first (kws grade --student NAME)"
            )

    def _checked(self, key, students, items, adjust, comment, by) -> str:
        rubric = self._rubric(self.rubrics(), key)
        self._students(students)
        known = {item.id for item in rubric.items}
        if any(item not in known for item in items) or len(set(items)) != len(items):
            raise MarksError(f"{key}: items {items} are not its rubric's ({', '.join(known)}), "
                             "each once")  # fmt: skip
        if not math.isfinite(adjust) or abs(adjust) > rubric.points:
            raise MarksError(f"{key}: an adjustment of {adjust} points; give one between "
                             f"-{rubric.points:g} and {rubric.points:g}")  # fmt: skip
        if not isinstance(by, str) or not by.strip():
            raise MarksError("a mark needs who gave it (by)")
        return self._text(comment, empty=True)

    def _points(self, points: float, rubric: Rubric) -> float:
        points = float(points)
        if not math.isfinite(points) or points == 0 or abs(points) > rubric.points:
            raise MarksError(f"{rubric.key}: an item of {points} points; give it between "
                             f"-{rubric.points:g} and {rubric.points:g}, not 0")  # fmt: skip
        return points

    def _text(self, text: str, *, empty: bool = False) -> str:
        if (
            not isinstance(text, str)
            or len(text) > MOST_COMMENT
            or (not empty and not text.strip())
        ):
            raise MarksError(f"a text of up to {MOST_COMMENT} characters, please"
                             + ("" if empty else ", not empty"))  # fmt: skip
        return text

    # ---- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One change at a time, in this process and any other, then the seal."""
        if self._closed:
            raise MarksError("kws mark is stopping: this change was not saved; start it again")
        folder = self.folder / MARKS_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        with _threads, exclusive(folder / ".lock"):
            yield
            self.sealed = self._reseal()

    def _append(self, event: dict) -> None:
        line = json.dumps({"when": _now(), **event}, ensure_ascii=False) + "\n"
        with open(self.folder / HISTORY_FILE, "a", encoding="utf-8", opener=_owner_only) as history:
            history.write(line)
            history.flush()

    def _write(self, name: str, data: dict) -> None:
        write_whole(self.folder / name, json.dumps(data, indent=1, ensure_ascii=False) + "\n")

    def _write_rubrics(self, rubrics: dict[str, Rubric]) -> None:
        questions = {key: asdict(rubric) for key, rubric in sorted(rubrics.items())}
        self._write(RUBRICS_FILE, {"version": VERSION, "questions": questions})

    def _reseal(self) -> bool:
        """Seal the folder with the marks as they are now, unless another record changed since
        the last seal (edited by hand, or a command half-way): that is `kws season`'s to put
        right, and sealing now would hide it; nor while another command writes the folder
        (``run.lock``: it seals the folder when it finishes). Returns whether it sealed."""
        if running(self.folder) is not None:
            return False
        try:
            record = read_seal(self.folder)
        except RecordsError:  # cut short: `kws season` writes it again, not a mark
            return False
        if record is not None:
            now, then = digests(self.folder), record["files"]
            own = (RUBRICS_FILE, MARKS_FILE)
            if any(now.get(n) != then.get(n) for n in set(now) | set(then) if n not in own):
                return False
        seal(self.folder, "kws mark")
        return True


def _check_versions(current: dict, students: list[str], versions: dict | None) -> None:
    """MarkConflict when a mark of `students` in `current` is no longer the version the grader
    saw (`versions`: {student: version, None for none}; None: no check)."""
    if versions is None:
        return
    moved = [s for s in students if (current.get(s) or {}).get("version") != versions.get(s)]
    if moved:
        raise MarkConflict(
            f"{', '.join(moved)}: marked by someone else since you looked; the page shows "
            "their mark now",
            {s: Mark.from_dict(current[s]) if s in current else None for s in moved},
        )


def _held(entry: dict | None, digest: str) -> tuple | None:
    """What a student holds as a mark, to compare: None for none, else the items, adjustment,
    comment and whether it was given to this answer (`digest`) or to an earlier one."""
    if entry is None:
        return None
    items = tuple(sorted(entry.get("items") or ()))
    return items, float(entry.get("adjust", 0)), entry.get("comment", ""), entry["digest"] == digest


def shortfall(rubric: Rubric) -> str:
    """A sentence when the items of `rubric` that give points add up to less than its points
    (no answer can reach full points by the items), "" otherwise."""
    given = sum(item.points for item in rubric.items if item.points > 0)
    if 0 < given < rubric.points - 1e-9:
        return (f"{rubric.key}: the items that give points add up to {given:g} of "
                f"{rubric.points:g}: a best answer reaches {given:g}; raise an item or add "
                "one")  # fmt: skip
    return ""


def _within(rubric: Rubric) -> Rubric:
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


# ---- the marks in the grades ------------------------------------------------------------------

UNMARKED = ("refuse", "zero")  # what publishing does with answers no one marked yet


@dataclass
class Written:
    """The written part of a class's grades, from ``rubrics.json`` and ``marks.json``.

    Attributes:
        maxima: {assignment: the points of its written questions}.
        questions: {assignment: its questions' keys, in order}.
        digest: the digest of the two files (what ``standings.json`` records it counted).
    """

    maxima: dict[str, float]
    questions: dict[str, list[str]]
    digest: str
    rubrics: dict[str, Rubric]
    marks: dict[str, dict[str, Mark]]

    def of(self, student: str, assignment: str) -> tuple[float, int]:
        """(`student`'s written points in `assignment` under the rubrics as they are now, how
        many of its questions have no mark of theirs)."""
        points, unmarked = 0.0, 0
        for key in self.questions.get(assignment, []):
            mark = self.marks.get(key, {}).get(student)
            if mark is None:
                unmarked += 1
            else:
                points += self.rubrics[key].score(mark)
        return round(points, 4), unmarked


def marks_digest(grades_dir: Path) -> str:
    """The digest of ``rubrics.json`` and ``marks.json`` as they are ("" where neither is)."""
    paths = [Path(grades_dir) / name for name in (RUBRICS_FILE, MARKS_FILE)]
    if not any(path.is_file() for path in paths):
        return ""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes() if path.is_file() else b"-")
        digest.update(b"\0")
    return digest.hexdigest()


def written_part(grades_dir: Path, asked: Iterable[Rubric] = ()) -> Written:
    """The written questions and marks of `grades_dir` (`Written`), with the questions of
    `asked` (the graded notebooks' own, `kws.grading.season.written`) that ``rubrics.json``
    does not hold yet; MarksError naming the file when one cannot be read, or holds a mark no
    page would give."""
    store = MarkStore(grades_dir, ())
    rubrics, _, _ = with_questions(store.rubrics(), asked)
    marks = store.marks()
    for key, by in marks.items():
        for student, mark in by.items():
            rubric = rubrics.get(key)
            ids = {item.id for item in rubric.items} if rubric else set()
            if rubric is None or not set(mark.items) <= ids or abs(mark.adjust) > rubric.points:
                what = ("no such question in rubrics.json" if rubric is None else
                        f"items {list(mark.items)} or an adjustment of {mark.adjust:g} its rubric "
                        f"does not allow (items {', '.join(sorted(ids)) or 'none'}, at most "
                        f"{rubric.points:g} points)")  # fmt: skip
                raise store._damaged(MARKS_FILE, f"{student}'s mark of {key!r}: {what}")
    maxima: dict[str, float] = {}
    questions: dict[str, list[str]] = {}
    for key, rubric in rubrics.items():
        maxima[rubric.assignment] = maxima.get(rubric.assignment, 0.0) + rubric.points
        questions.setdefault(rubric.assignment, []).append(key)
    return Written(maxima, questions, marks_digest(grades_dir), rubrics, marks)


def check_marked(grades_dir: Path, standings, unmarked: str = "refuse") -> None:
    """RecordsError when the `standings` of `grades_dir` are not the marks' to publish: the
    marks changed since they were counted (the fix: ``kws season GRADES``), or, with
    `unmarked` "refuse", written answers of a graded hand-in have no mark yet (the fix:
    ``kws mark GRADES``, or count them as 0: ``--unmarked zero``)."""
    folder = Path(grades_dir)
    if marks_digest(folder) != standings.marks:
        raise RecordsError(
            f"{folder}: the written answers' marks changed since {folder / 'standings.json'} "
            f"counted them; run `kws season {folder}` to count them, then this command"
        )
    if unmarked not in UNMARKED:
        raise ValueError(f"--unmarked {unmarked!r}: choose from {', '.join(UNMARKED)}")
    left = sum(
        standing.unmarked
        for entries in standings.students.values()
        for standing in entries.values()
        if standing.status == "graded"
    )
    if left and unmarked == "refuse":
        raise RecordsError(
            f"{folder}: {left} written answer{'s' if left != 1 else ''} not marked yet; mark "
            f"them (`kws mark {folder}`, then `kws season {folder}`), or count them as 0 "
            "points with --unmarked zero"
        )
