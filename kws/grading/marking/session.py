"""What the marking page reads and changes: the class's answers to each written question,
rendered and grouped once when `kws mark` starts, and the marks (`kws.grading.records.marks`),
read and written at each request. Students are shown by alias (``#1`` ..., in an order drawn from
a hash of their names), never by name unless the page asks (`names`).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from kws.grading.marking.collect import course_questions, read_class
from kws.grading.records.grades import read_grades
from kws.grading.records.kept_marks import check_marks_kept
from kws.grading.records.lock import check_finished, refuse_running
from kws.grading.records.marks.blanks import BLANK_BY, mark_blanks
from kws.grading.records.marks.comments import uses
from kws.grading.records.marks.rubric import (
    MARKS_DIR,
    Mark,
    MarkConflict,
    MarksError,
    Rubric,
    question_key,
    shortfall,
)
from kws.grading.records.marks.store import MarkStore
from kws.written.math_text import title_text
from kws.written.render import (
    code_html,
    context_html,
    markdown_html,
    note_html,
    notebook_html,
)


def check_writable(grades_dir: Path) -> None:
    """`kws mark` can write `grades_dir` (the seal) and its marks/ folder, where each mark is
    saved: checked at the start rather than at the first mark.

    Raises:
        ValueError: naming the folder that cannot be written and the fix.
    """
    for folder in (grades_dir, grades_dir / MARKS_DIR):
        if folder.is_dir() and not os.access(folder, os.W_OK):
            raise ValueError(_unwritable(grades_dir, folder))


def _unwritable(grades_dir: Path, path: object) -> str:
    """The line saying `path` (in `grades_dir`) cannot be written, and the fix."""
    return (f"{path}: cannot be written (read-only), and kws mark saves every mark in "
            f"{grades_dir}; make it writable (chmod -R u+w {grades_dir}), or copy the grades "
            "folder somewhere you can write and mark the copy")  # fmt: skip


class MarkingSession:
    """The marking of one grades folder (see the module).

    Args:
        grades_dir: the folder ``kws grade --out`` wrote.
        solutions: the folder of solution notebooks that ask the questions.
        submissions: the hand-ins' folder when ``run.json`` does not record where it is now.
        grader: who marks when the page does not say.
        blanks: give each blank answer its 0 as the class is read (`_collect`); False for a
            command that must change nothing before its input is known good.

    Raises:
        FileNotFoundError: no gradebook, no hand-ins folder, no solutions.
        FolderBusy: a command (`kws grade`) is writing the folder now.
        ValueError: the folder's records are not those its last command sealed (or a run
            stopped before it finished); the folder cannot be written; no written question in
            the solutions; a question that cannot be read.
    """

    def __init__(
        self,
        grades_dir: Path,
        *,
        solutions: Path,
        submissions: Path | None = None,
        grader: str,
        blanks: bool = True,
    ):
        self._submissions = submissions
        self._blanks = blanks
        refuse_running(  # its records are half-written until it ends
            Path(grades_dir), "wait for it to finish, then start kws mark again"
        )
        grades = read_grades(Path(grades_dir), submissions)
        check_marks_kept(grades.folder)  # a mark saved over lost or older marks loses the rest
        check_finished(grades.folder)  # before a mark seals the folder again
        check_writable(grades.folder)
        self.course = course_questions(Path(solutions))
        if not self.course:
            raise ValueError(f"{solutions}: no notebook there asks a written question (cells "
                             "tagged question:ID, or nbgrader's or otter's manually graded "
                             "ones); docs: reference/written-questions")  # fmt: skip
        self.grader = grader
        self.store = MarkStore(grades.folder, [student.name for student in grades.students])
        try:
            self.notes = self.store.add_questions(
                [rubric for asked in self.course for rubric in asked.rubrics()], by=grader
            )
        except PermissionError as error:  # a file inside the folder that cannot be written
            raise ValueError(_unwritable(grades.folder, error.filename or grades.folder)) from None
        self.generation = 0  # one more each time the class is read again (`reread`)
        self._reading = threading.Lock()
        self._collect(grades)

    def _collect(self, grades) -> None:
        """Read each hand-in's answers and measures, rendered and grouped (`read_class`), and
        give each blank answer its 0 (`kws.grading.records.marks.blanks`)."""
        if grades.submissions is None or not grades.submissions.is_dir():
            raise FileNotFoundError(
                f"{grades.submissions or grades.folder / 'run.json'}: the hand-ins folder is "
                "not there; pass --submissions DIR (the folder kws grade read)"
            )
        read = read_class(grades, self.course, getattr(self, "alias", {}))
        self.alias, self.named = read.alias, {a: name for name, a in read.alias.items()}
        self.answers, self.problems, self.measured = read.answers, read.problems, read.measured
        self.html, self.groups, self.notebooks = read.html, read.groups, read.notebooks
        self.tests = read.tests
        self.store.students = frozenset(read.alias)
        self._seen = _stamp(grades.folder)
        if self._blanks:  # 0 for "no answer", with no key pressed
            answered = {
                key: {self.named[a]: (answer.digest, answer.answered) for a, answer in by.items()}
                for key, by in self.answers.items()
            }
            mark_blanks(self.store, answered)

    def reread(self) -> bool:
        """Read the class again when the gradebook changed since it was read (a regrade, a
        hand-in collected again while the page is open); whether it did. `generation` counts
        the reads: the page reloads its question when it changes."""
        with self._reading:
            if _stamp(self.store.folder) == self._seen:
                return False
            try:
                self._collect(read_grades(self.store.folder, self._submissions))
            except (OSError, ValueError):  # a command half-way through: read it next time
                return False
            self.generation += 1
            return True

    # ---- what the page reads ----------------------------------------------------------------

    def questions(self) -> list[dict]:
        """Each question with its points, the answers, how many are left to mark and how many
        are blank answers the kit marked 0 ("no answer"), in the notebooks' order (the
        assignments by name, each notebook's questions as it asks them)."""
        rubrics, marks = self.store.rubrics(), self.store.marks()
        asked = [question_key(a.spec.name, q.id) for a in self.course for q in a.questions]
        order = {key: n for n, key in enumerate(asked)}
        rubrics = dict(sorted(rubrics.items(), key=lambda kv: order.get(kv[0], len(order))))
        return [
            {
                "key": key,
                "assignment": rubric.assignment,
                "question": rubric.question,
                "points": rubric.points,
                "title": rubric.title,
                "label": title_text(rubric.title),  # the menu's: its maths drawn as text
                "answers": len(self.answers.get(key, {})),
                "left": self._left(key, marks.get(key, {})),
                "blank": sum(m.by == BLANK_BY for m in marks.get(key, {}).values()),
            }
            for key, rubric in rubrics.items()
            if key in self.answers
        ]

    def question(self, key: str) -> dict:
        """The page's data for question `key`: its prompt, model answer and rubric, and each
        answer (alias, HTML, what the grader measured, its mark and whether the answer changed
        since), the answers' groups, and the rendered answers (by index)."""
        rubric = self._rubric(key)
        marks, given = self.store.marks().get(key, {}), self.answers[key]
        texts = {answer.digest: answer.text for answer in given.values()}  # each digest's last
        index = {digest: n for n, digest in enumerate(texts)}  # in the order first seen
        answers = [
            {
                "alias": alias,
                "digest": answer.digest,
                "answered": answer.answered,
                "html": index[answer.digest],
                "measures": self.measured.get((rubric.assignment, alias), []),
                "problem": self.problems.get(alias, ""),
                "mark": self._mark(rubric, marks.get(self.named[alias]), answer.digest),
            }
            for alias, answer in given.items()
        ]
        stale = {a["alias"] for a in answers if a["mark"] is not None and a["mark"]["stale"]}
        groups = [
            piece
            for group in self.groups[key]
            for piece in (
                [[a for a in group if a not in stale]] + [[a] for a in group if a in stale]
            )  # fmt: skip
            if piece
        ]  # a changed answer is its own card until it is marked again
        model = rubric.model_answer
        return {
            "generation": self.generation,
            "key": key,
            "assignment": rubric.assignment,
            "question": rubric.question,
            "kind": rubric.kind,
            "points": rubric.points,
            "prompt_html": markdown_html(rubric.prompt),
            "model_html": code_html(model) if rubric.kind == "code" else markdown_html(model),
            "items": [asdict(item) for item in rubric.items],
            "answers": answers,
            "groups": groups,
            "htmls": [self.html[digest] for digest in texts],
            "texts": list(texts.values()),
            "note": shortfall(rubric),
        }

    def marks(self, key: str) -> dict[str, dict | None]:
        """{alias: mark} of question `key` as the file holds them now (another grader's too)."""
        rubric = self._rubric(key)
        marks = self.store.marks().get(key, {})
        return {
            alias: self._mark(rubric, marks.get(self.named[alias]), answer.digest)
            for alias, answer in self.answers[key].items()
        }

    def context(self, key: str, alias: str) -> dict[str, str]:
        """{"html": the cells of `alias`'s notebook around their answer to `key`, rendered as
        answers are (`kws.written.render.context_html`)}, read from the notebook now."""
        rubric = self._rubric(key)
        answer = self.answers[key].get(alias)
        if answer is None:
            raise MarksError(f"no hand-in {alias} in this class; reload the page")
        path = self.notebooks.get((rubric.assignment, alias))
        try:
            nb = json.loads(path.read_text(encoding="utf-8")) if path else None
        except (OSError, ValueError):
            nb = None
        if nb is None:
            return {"html": note_html("The notebook cannot be read now.")}
        return {"html": context_html(nb, answer)}

    def notebook(self, alias: str) -> dict:
        """One hand-in whole, for walking it question by question: {"alias", "problem" (why a
        notebook of theirs is missing, or ""), "questions": each written question's key,
        assignment, label, points, whether it was answered and its mark, in the menu's order;
        "notebooks": each assignment's name, its notebook's cells rendered inert
        (`kws.written.render.notebook_html`, the answers' cells carrying their question's key),
        what the grader measured and its autograded tests (`collect.autograded_tests`)}, read from
        the notebooks now.

        Raises:
            MarksError: no hand-in `alias` in the class.
        """
        if alias not in self.named:
            raise MarksError(f"no hand-in {alias} in this class; reload the page")
        marks, rubrics = self.store.marks(), self.store.rubrics()
        by_key = {q["key"]: q for q in self.questions()}
        questions, notebooks = [], []
        for asked in self.course:
            name = asked.spec.name
            keys = [k for q in asked.questions if (k := question_key(name, q.id)) in by_key]
            if not keys:
                continue
            for key in keys:
                answer = self.answers[key][alias]
                shown = by_key[key]
                questions.append({
                    "key": key, "assignment": name, "label": shown["label"],
                    "points": shown["points"], "answered": answer.answered,
                    "mark": self._mark(rubrics[key], marks.get(key, {}).get(self.named[alias]),
                                       answer.digest),
                })  # fmt: skip
            notebooks.append({
                "assignment": name,
                "html": self._notebook_html(name, alias, keys),
                "measures": self.measured.get((name, alias), []),
                "tests": self.tests.get((name, alias), []),
            })  # fmt: skip
        return {"alias": alias, "problem": self.problems.get(alias, ""), "questions": questions,
                "notebooks": notebooks}  # fmt: skip

    def _notebook_html(self, assignment: str, alias: str, keys: list[str]) -> str:
        """`alias`'s notebook of `assignment` rendered whole (`notebook_html`), or a line
        saying it cannot be read."""
        path = self.notebooks.get((assignment, alias))
        try:
            nb = json.loads(path.read_text(encoding="utf-8")) if path else None
        except (OSError, ValueError):
            nb = None
        if nb is None:
            return note_html("This notebook was not handed in, or cannot be read now.")
        return notebook_html(nb, {key: self.answers[key][alias] for key in keys})

    def library(self, key: str) -> list[dict]:
        """Question `key`'s saved comments (`kws.grading.records.marks.comments`), each with
        how many marks hold it now: [{"id", "text", "by", "when", "uses"}]."""
        self._rubric(key)
        marks = {s: asdict(m) for s, m in self.store.marks().get(key, {}).items()}
        return [
            asdict(comment) | {"uses": uses(marks, comment.text)}
            for comment in self.store.comments().get(key, [])
        ]

    def save_comment(self, data: dict, *, by: str) -> dict:
        """Save ``data["text"]`` in ``data["key"]``'s library: a new comment, or ``data["id"]``
        edited, into every mark that holds it with ``data["everywhere"]`` true, or taken out
        of the library with ``data["remove"]`` true (the marks keep its text). {"comments":
        `library`, "marks": {alias: mark} of the marks changed}.

        Raises:
            MarksError: an unknown question or comment, a text empty or too long."""
        key = str(data.get("key"))
        self._rubric(key)
        given = data.get("id")
        if data.get("remove") is True:  # out of the library; the marks keep its text
            self.store.remove_comment(key, str(given), by=by)
            return {"comments": self.library(key), "marks": {}}
        _, changed = self.store.save_comment(
            key,
            data.get("text"),
            by=by,
            id=str(given) if given is not None else None,
            everywhere=data.get("everywhere") is True,
        )
        marks = self.marks(key)
        shown = [self.alias[s] for s in changed if s in self.alias]
        return {"comments": self.library(key), "marks": {a: marks[a] for a in shown}}

    def names(self) -> dict[str, str]:
        """{alias: student}: what the page shows when names are switched on."""
        return dict(self.named)

    # ---- what the page changes ----------------------------------------------------------------

    def save(self, data: dict, *, by: str) -> dict[str, dict]:
        """Record one mark for the answers of ``data["aliases"]`` of ``data["key"]`` (see
        `kws.grading.records.marks.store.MarkStore.save`: ``zero`` true for 0 points on purpose,
        a mark with no item nor adjustment); {alias: the mark as the page shows it}.

        Raises:
            MarksError: an unknown question, alias or item; MarkConflict: marked since.
        """
        key = str(data.get("key"))
        rubric = self._rubric(key)
        aliases, students, versions = self._aliases(data)
        answers = self.answers[key]
        with self._by_alias():
            saved = self.store.save(
                key,
                students,
                items=[str(item) for item in data.get("items") or []],
                digests={self.named[a]: answers[a].digest for a in aliases},
                by=by,
                adjust=_number(data.get("adjust", 0.0)),
                comment=data.get("comment", ""),
                versions=versions,
                alike=data.get("replace") is not True,
                zero=data.get("zero") is True,
            )
        rubric = self.store.rubrics()[key]
        return {
            self.alias[s]: self._mark(rubric, mark, answers[self.alias[s]].digest)
            for s, mark in saved.items()
        }

    def unmark(self, data: dict, *, by: str) -> dict[str, None]:
        """Take back the marks of ``data["aliases"]`` of ``data["key"]`` (``versions`` as for
        `save`): unmarked again. {alias: None}.

        Raises:
            MarksError: an unknown question or alias; MarkConflict: marked since.
        """
        key = str(data.get("key"))
        self._rubric(key)
        aliases, students, versions = self._aliases(data)
        with self._by_alias():
            self.store.unmark(key, students, by=by, versions=versions)
        return dict.fromkeys(aliases)

    def _aliases(self, data: dict) -> tuple[list[str], list[str], dict | None]:
        """(aliases, their students, {student: version seen} or None) of a change's `data`."""
        aliases = data.get("aliases")
        if not isinstance(aliases, list) or not aliases:
            raise MarksError("a mark needs the answers it is for (aliases)")
        unknown = [a for a in aliases if a not in self.named]
        if unknown:
            raise MarksError(f"no hand-in {', '.join(map(str, unknown))} in this class; reload "
                             "the page")  # fmt: skip
        given, versions = data.get("versions"), None
        if isinstance(given, dict):
            versions = {self.named[a]: v for a, v in given.items() if a in self.named}
        return aliases, [self.named[alias] for alias in aliases], versions

    @contextlib.contextmanager
    def _by_alias(self) -> Iterator[None]:
        """A `MarkConflict` of the records (which name students) told by alias: the page is
        anonymous, and so is every message it shows."""
        try:
            yield
        except MarkConflict as conflict:
            current = {self.alias[s]: mark for s, mark in conflict.current.items()}
            listed = ", ".join(current)
            if conflict.reason == "differ":
                message = (f"{listed} hold different marks: one key marks only those with the "
                           "same mark; choose which in the card, or split one out")  # fmt: skip
            else:
                message = (f"{listed}: marked by someone else since you looked; the page shows "
                           "their mark now")  # fmt: skip
            raise MarkConflict(message, current, conflict.reason) from None

    def change_rubric(self, data: dict, *, by: str) -> dict:
        """Change an item of ``data["key"]``'s rubric (``item`` with ``points`` and/or ``text``)
        or add one (``add``: ``points`` and ``text``); {"items": the rubric's items as they are
        now, "note": a sentence when they no longer reach the question's points, else ""}.

        Raises:
            MarksError: an unknown item, or items that would give more than the points."""
        key = str(data.get("key"))
        self._rubric(key)
        if isinstance(data.get("add"), dict):
            add = data["add"]
            rubric = self.store.add_item(
                key, points=_number(add.get("points")), text=add.get("text", ""), by=by
            )
        else:
            points = data.get("points")
            rubric = self.store.change_item(
                key,
                str(data.get("item")),
                by=by,
                points=None if points is None else _number(points),
                text=data.get("text"),
            )
        return {"items": [asdict(item) for item in rubric.items], "note": shortfall(rubric)}

    # ---- helpers ------------------------------------------------------------------------------

    def _rubric(self, key: str) -> Rubric:
        rubrics = self.store.rubrics()
        if key not in rubrics or key not in self.answers:
            known = ", ".join(k for k in rubrics if k in self.answers)
            raise MarksError(f"no written question {key!r} to mark; the questions are {known}")
        return rubrics[key]

    def _left(self, key: str, marks: dict[str, Mark]) -> int:
        """The answers of `key` with no mark, or a mark given to another answer than this one."""
        return sum(
            1
            for alias, answer in self.answers[key].items()
            if (mark := marks.get(self.named[alias])) is None or mark.digest != answer.digest
        )

    @staticmethod
    def _mark(rubric: Rubric, mark: Mark | None, digest: str) -> dict | None:
        if mark is None:
            return None
        shown = asdict(mark) | {"score": rubric.score(mark), "stale": mark.digest != digest}
        shown.pop("digest")
        return shown


def _stamp(folder: Path) -> tuple[int, int] | None:
    """When and how big the gradebook of `folder` is: what a regrade changes."""
    try:
        stat = (Path(folder) / "gradebook.csv").stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MarksError(f"{value!r} is not a number of points")
    try:
        return float(value)
    except ValueError:
        raise MarksError(f"{value!r} is not a number of points") from None
