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
the version the grader saw is refused (`MarkConflict`) when someone else changed it since.
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
_threads = threading.Lock()  # this process's threads; flock keeps other processes out


class MarksError(ValueError):
    """A mark or rubric change that cannot be recorded; the message names what and the fix."""


class MarkConflict(MarksError):
    """Someone changed a mark since the grader saw it: `current` holds the marks as they are."""

    def __init__(self, message: str, current: dict[str, Mark | None]):
        super().__init__(message)
        self.current = current


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
        """The prompt's heading: its bold opening (``**Question: ...**``) or its first line."""
        text = self.prompt.strip()
        bold = re.match(r"^\*\*(.+?)\*\*", text, re.S)
        line = bold[1] if bold else next((ln for ln in text.splitlines() if ln.strip()), "")
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
        items = tuple(Item(i["id"], float(i["points"]), i["text"]) for i in data["items"])
        fields = {k: data[k] for k in ("assignment", "question", "kind", "prompt", "model_answer")}
        return cls(**fields, points=float(data["points"]), items=items)


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
        return cls(**{**data, "items": tuple(data["items"]), "adjust": float(data["adjust"])})


def question_key(assignment: str, question: str) -> str:
    """How the records name a question: ``assignment/question``."""
    return f"{assignment}/{question}"


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
        """{question key: `Rubric`}, as ``rubrics.json`` holds them now."""
        data = self._read(RUBRICS_FILE, "questions")
        return {key: Rubric.from_dict(value) for key, value in data.items()}

    def marks(self) -> dict[str, dict[str, Mark]]:
        """{question key: {student: `Mark`}}, as ``marks.json`` holds them now."""
        data = self._read(MARKS_FILE, "marks")
        return {key: {s: Mark.from_dict(m) for s, m in by.items()} for key, by in data.items()}

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
            raise MarksError(f"{path} cannot be read; restore it from the history ("
                             f"{self.folder / HISTORY_FILE}) or a backup") from None  # fmt: skip
        return data[key]

    # ---- changing -----------------------------------------------------------------------------

    def add_questions(self, rubrics: list[Rubric], *, by: str) -> list[str]:
        """Record the questions of `rubrics` that ``rubrics.json`` lacks, and the items their
        rubrics have that it lacks. What it holds already is kept: a grader's changes outlive
        the notebook's. Returns a sentence for each difference kept."""
        with self._locked():
            stored = self.rubrics()
            notes, added = [], []
            for rubric in rubrics:
                old = stored.get(rubric.key)
                if old is None:
                    stored[rubric.key] = rubric
                    added.append(rubric.key)
                    continue
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
            if added:
                self._append({"event": "questions", "added": added, "by": by})
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
    ) -> dict[str, Mark]:
        """Give each of `students` the same mark of question `key` (one answer, or a group of
        the same answer), at once.

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

        Returns:
            {student: the `Mark` recorded}.

        Raises:
            MarksError: an unknown question, student or item, a bad adjustment or comment.
            MarkConflict: a mark changed since the grader saw it (nothing is recorded).
        """
        comment = self._checked(key, students, items, adjust, comment, by)
        with self._locked():
            every = self._read(MARKS_FILE, "marks")
            current = every.setdefault(key, {})
            if versions is not None:
                moved = [
                    s for s in students if (current.get(s) or {}).get("version") != versions.get(s)
                ]
                if moved:
                    raise MarkConflict(
                        f"{', '.join(moved)}: marked by someone else since you looked; "
                        "the page shows their mark now",
                        {s: Mark.from_dict(current[s]) if s in current else None for s in moved},
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
            rubrics[key] = replace(
                rubric, items=tuple(new if i.id == item else i for i in rubric.items)
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
            rubrics[key] = replace(rubric, items=rubric.items + (item,))
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

    def _checked(self, key, students, items, adjust, comment, by) -> str:
        rubric = self._rubric(self.rubrics(), key)
        unknown = [s for s in students if s not in self.students]
        if unknown or not students:
            raise MarksError(
                f"no student {', '.join(map(repr, unknown)) or '(none given)'} in "
                f"{self.folder / 'gradebook.csv'}: marks are for the class graded there; "
                "grade the hand-in first (kws grade --student NAME)"
            )
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
        folder.mkdir(exist_ok=True)
        with _threads, exclusive(folder / ".lock"):
            yield
            self.sealed = self._reseal()

    def _append(self, event: dict) -> None:
        line = json.dumps({"when": _now(), **event}, ensure_ascii=False) + "\n"
        with open(self.folder / HISTORY_FILE, "a", encoding="utf-8") as history:
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
        record = read_seal(self.folder)
        if record is not None:
            now, then = digests(self.folder), record["files"]
            own = (RUBRICS_FILE, MARKS_FILE)
            if any(now.get(n) != then.get(n) for n in set(now) | set(then) if n not in own):
                return False
        seal(self.folder, "kws mark")
        return True


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


def written_part(grades_dir: Path) -> Written:
    """The written questions and marks of `grades_dir` (`Written`); MarksError naming the file
    when one cannot be read."""
    store = MarkStore(grades_dir, ())
    rubrics, marks = store.rubrics(), store.marks()
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
