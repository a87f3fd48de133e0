"""`MarkStore`: the marks of one grades folder, each change one read-modify-write under a
lock, appended to the history and sealed (`kws.grading.records.marks`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from kws.grading.records.files import record_time, write_whole
from kws.grading.records.lock import exclusive, running
from kws.grading.records.marks.comments import (
    COMMENTS_FILE,
    Comment,
    comments_from,
    comments_text,
    next_id,
    with_comment,
)
from kws.grading.records.marks.graders import GRADERS_FILE, Share, shares_from, shares_text
from kws.grading.records.marks.rubric import (
    HISTORY_FILE,
    MARKS_DIR,
    MARKS_FILE,
    MOST_COMMENT,
    RUBRICS_FILE,
    VERSION,
    Item,
    Mark,
    MarkConflict,
    MarksError,
    Rubric,
    with_questions,
    within,
)
from kws.grading.records.seal import RecordsError, digests, read_seal, seal

_threads = threading.Lock()  # this process's threads; flock keeps other processes out


@dataclass(frozen=True)
class Given:
    """One mark of `MarkStore.save_all`: `save`'s arguments for one student's answer."""

    key: str
    student: str
    items: tuple[str, ...]
    adjust: float
    comment: str
    zero: bool
    digest: str


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

    def comments(self) -> dict[str, list[Comment]]:
        """{question key: its saved comments} (`kws.grading.records.marks.comments`), as
        ``comments.json`` holds them now (MarksError naming the file and the fix)."""
        try:
            return comments_from(self._read(COMMENTS_FILE, "comments"))
        except ValueError as error:
            if isinstance(error, MarksError):
                raise
            raise self._damaged(COMMENTS_FILE, str(error)) from None

    def shares(self) -> list[Share]:
        """Who marks what (`kws.grading.records.marks.graders`), as ``graders.json`` holds it
        now ([] where no share was set)."""
        path = self.folder / GRADERS_FILE
        if not path.is_file():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != VERSION:
                raise ValueError("not this kit's")
            return shares_from(data.get("shares"))
        except (ValueError, AttributeError) as error:
            raise MarksError(f"{path}: {error}; correct it by hand, or delete it and assign the "
                             "shares again (on the page, or kws mark --graders FILE)") from None  # fmt: skip

    def set_shares(self, shares: list[Share], *, by: str, source: str) -> None:
        """Record `shares` as who marks what (replacing the shares before), from `source`
        (the page, or a file)."""
        with self._locked():
            self._append({"event": "graders", "shares": [asdict(s) for s in shares], "by": by,
                          "source": source})  # fmt: skip
            write_whole(self.folder / GRADERS_FILE, shares_text(shares))

    def _damaged(self, name: str, what: str) -> MarksError:
        """The error for a file of ``marks/`` holding what no page records: the file, what is
        wrong, and the two ways out."""
        folder = self.folder
        return MarksError(f"{folder / name}: {what}. Correct it by hand, or rebuild the marks "
                          f"from their history: `kws marks restore {folder}`")  # fmt: skip

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
        zero: bool = False,
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
            zero: no item and no adjustment given on purpose (0 points: the page's 0 key);
                without it such a mark is refused: a comment alone is not a mark.

        Returns:
            {student: the `Mark` recorded}.

        Raises:
            MarksError: an unknown question, student or item, a bad adjustment or comment,
                or no points given (no item, no adjustment, and not `zero`).
            MarkConflict: a mark changed since the grader saw it, or students of differing
                marks with `alike` (nothing is recorded).
        """
        comment = self.check_mark(key, students, items=items, adjust=adjust, comment=comment,
                                  by=by, zero=zero)  # fmt: skip
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
            when, saved = record_time(), {}
            for student in students:
                version = (current.get(student) or {}).get("version", 0) + 1
                mark = Mark(tuple(items), float(adjust), comment, digests.get(student, ""), by,
                            when, version)  # fmt: skip
                current[student], saved[student] = asdict(mark), mark
                self._append({"event": "mark", "question": key, "student": student, **asdict(mark)})
            write_whole(self.folder / MARKS_FILE, marks_text(every))
        return saved

    def save_all(self, given: list[Given], *, by: str, source: str) -> int:
        """Record every mark of `given` at once, or none: each checked as `save` checks it
        (`check_mark`) before the first is written, then ``marks.json`` written once. Each
        replaces the student's mark of that question; its history event names `source`.

        Returns:
            How many marks were recorded.

        Raises:
            MarksError: the first mark `save` would refuse (nothing is recorded).
        """
        checked = [
            replace(
                g,
                comment=self.check_mark(
                    g.key,
                    [g.student],
                    items=list(g.items),
                    adjust=g.adjust,
                    comment=g.comment,
                    by=by,
                    zero=g.zero,
                ),
            )  # fmt: skip
            for g in given
        ]
        with self._locked():
            every = self._read(MARKS_FILE, "marks")
            when = record_time()
            for g in checked:
                current = every.setdefault(g.key, {})
                version = (current.get(g.student) or {}).get("version", 0) + 1
                mark = Mark(tuple(g.items), float(g.adjust), g.comment, g.digest, by, when, version)
                current[g.student] = asdict(mark)
                self._append({"event": "mark", "question": g.key, "student": g.student,
                              **asdict(mark), "source": source})  # fmt: skip
            write_whole(self.folder / MARKS_FILE, marks_text(every))
        return len(checked)

    def check_mark(
        self,
        key: str,
        students: list[str],
        *,
        items: list[str],
        adjust: float,
        comment: str,
        by: str,
        zero: bool,
    ) -> str:
        """The checks of a mark before it is saved (`save`'s arguments): MarksError naming
        what is wrong and the fix; the comment as it is recorded."""
        comment = self._checked(key, students, items, adjust, comment, by)
        if not items and adjust == 0 and not zero:
            raise MarksError(f"{key}: a comment alone is not a mark (nothing was saved): give a "
                             "rubric item, or 0 points on purpose (the 0 key); until then the "
                             "answer is left to mark")  # fmt: skip
        return comment

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
            current = every.get(key, {})
            _check_versions(current, students, versions)
            for student in students:
                if student in current:
                    was = current.pop(student)
                    self._append({"event": "unmark", "question": key, "student": student,
                                  "by": by, "was": was})  # fmt: skip
            write_whole(self.folder / MARKS_FILE, marks_text(every))

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
            rubrics[key] = within(
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
            rubrics[key] = within(replace(rubric, items=rubric.items + (item,)))
            self._append({"event": "item", "question": key, "by": by, "item": asdict(item)})
            self._write_rubrics(rubrics)
            return rubrics[key]

    def save_comment(
        self, key: str, text: str, *, by: str, id: str | None = None, everywhere: bool = False
    ) -> tuple[list[Comment], list[str]]:
        """Save `text` in question `key`'s comment library: a new comment, or (`id`) a saved
        one edited; with `everywhere`, the edit is written into every mark of `key` whose
        comment holds the old text (who gave the mark kept, its version one more).

        Returns:
            (the question's saved comments now, the students whose marks changed).

        Raises:
            MarksError: an unknown question or comment, a text empty or too long, a new
                comment the library holds already.
        """
        text = self._text(text)
        with self._locked():
            self._rubric(self.rubrics(), key)
            library = self.comments()
            saved = library.setdefault(key, [])
            when, was = record_time(), None
            if id is None:
                if any(comment.text == text for comment in saved):
                    raise MarksError(f"{key}: the library holds this comment already")
                new = Comment(next_id(saved), text, by, when)
                saved.append(new)
            else:
                found = [comment for comment in saved if comment.id == id]
                if not found:
                    raise MarksError(f"{key} has no saved comment {id!r}; reload the page")
                was, new = found[0], Comment(id, text, by, when)
                saved[saved.index(was)] = new
            changed = []
            if was is not None and everywhere and was.text != text:
                every = self._read(MARKS_FILE, "marks")
                current = every.get(key, {})
                changed = with_comment(current, was.text, text)
                for student in changed:
                    mark = current[student]
                    mark.update(when=when, version=mark.get("version", 0) + 1)
                    self._append({"event": "mark", "question": key, "student": student, **mark,
                                  "source": f"comment library: {id} edited by {by}"})  # fmt: skip
                if changed:
                    write_whole(self.folder / MARKS_FILE, marks_text(every))
            self._append({"event": "comment", "question": key, "comment": asdict(new),
                          "was": asdict(was) if was else None, "by": by,
                          "marks": changed})  # fmt: skip
            write_whole(self.folder / COMMENTS_FILE, comments_text(library))
        return library[key], changed

    def remove_comment(self, key: str, id: str, *, by: str) -> list[Comment]:
        """Take saved comment `id` out of question `key`'s library (the marks that hold its
        text keep it); the question's saved comments now.

        Raises:
            MarksError: an unknown question or comment."""
        with self._locked():
            self._rubric(self.rubrics(), key)
            library = self.comments()
            saved = library.get(key, [])
            found = [comment for comment in saved if comment.id == id]
            if not found:
                raise MarksError(f"{key} has no saved comment {id!r}; reload the page")
            saved.remove(found[0])
            self._append({"event": "comment", "question": key, "removed": id,
                          "was": asdict(found[0]), "by": by})  # fmt: skip
            write_whole(self.folder / COMMENTS_FILE, comments_text(library))
        return saved

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
        line = json.dumps({"when": record_time(), **event}, ensure_ascii=False) + "\n"
        owner_only = functools.partial(os.open, mode=0o600)  # made the instructor's alone
        with open(self.folder / HISTORY_FILE, "a", encoding="utf-8", opener=owner_only) as history:
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
            own = (RUBRICS_FILE, MARKS_FILE, COMMENTS_FILE)
            if any(now.get(n) != then.get(n) for n in set(now) | set(then) if n not in own):
                return False
        seal(self.folder, "kws mark")
        return True


def marks_text(marks: dict[str, dict[str, dict]]) -> str:
    """``marks.json``'s text for `marks` ({question key: {student: the mark's fields}}), as
    every change writes it: what `kws marks restore` rebuilds must be the same bytes to be the
    file ``records.json`` sealed."""
    return json.dumps({"version": VERSION, "marks": marks}, indent=1, ensure_ascii=False) + "\n"


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
