"""What the marking page reads and changes: the class's answers to each written question,
rendered once, and the marks (`kws.grading.records.marks`), read and written at each request.

    session = MarkingSession(Path("grades"), solutions=Path("solutions"), grader="kim")
    session.question("speaker_id/norm-classifier")   # the page's data for one question
    session.save({"key": ..., "aliases": ["#3"], "items": ["scale"], ...}, by="kim")

Students are shown by alias (``#1`` ... in an order drawn from a hash of their names, the same at
every start), never by name unless the page asks (`names`): marking is anonymous by default.
Everything is computed when `kws mark` starts (the notebooks read, the answers rendered to safe
HTML by `kws.written.render`, the same answers grouped by `kws.grading.marking.groups`), so a
request only reads the marks file: the page's data for 300 hand-ins comes back at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

from kws.grading.marking.collect import course_questions, handin_answers, measures
from kws.grading.marking.groups import group_answers
from kws.grading.records.grades import read_grades
from kws.grading.records.marks import Mark, MarksError, MarkStore, Rubric
from kws.grading.records.seal import check_seal
from kws.written.render import answer_html, code_html, markdown_html


class MarkingSession:
    """The marking of one grades folder (see the module).

    Args:
        grades_dir: the folder ``kws grade --out`` wrote.
        solutions: the folder of solution notebooks that ask the questions.
        submissions: the hand-ins' folder when ``run.json`` does not record where it is now.
        grader: who marks when the page does not say.

    Raises:
        FileNotFoundError: no gradebook, no hand-ins folder, no solutions.
        ValueError: the folder's records are not those its last command sealed; no written
            question in the solutions; a question that cannot be read.
    """

    def __init__(
        self, grades_dir: Path, *, solutions: Path, submissions: Path | None = None, grader: str
    ):
        grades = read_grades(Path(grades_dir), submissions)
        check_seal(grades.folder)  # before a mark seals the folder again
        if grades.submissions is None or not grades.submissions.is_dir():
            raise FileNotFoundError(
                f"{grades.submissions or grades.folder / 'run.json'}: the hand-ins folder is "
                "not there; pass --submissions DIR (the folder kws grade read)"
            )
        self.course = course_questions(Path(solutions))
        if not self.course:
            raise ValueError(f"{solutions}: no notebook there asks a written question (cells "
                             "tagged question:ID, or nbgrader's or otter's manually graded "
                             "ones); docs: reference/written-questions")  # fmt: skip
        self.grader = grader
        names = [student.name for student in grades.students]
        self.store = MarkStore(grades.folder, names)
        self.notes = self.store.add_questions(
            [rubric for asked in self.course for rubric in asked.rubrics()], by=grader
        )
        order = sorted(names, key=lambda name: hashlib.sha256(name.encode()).hexdigest())
        self.alias = {name: f"#{n}" for n, name in enumerate(order, start=1)}
        self.named = {alias: name for name, alias in self.alias.items()}
        self.answers: dict[str, dict[str, object]] = {}  # key -> alias -> Answer
        self.problems: dict[str, str] = {}  # alias -> why a notebook is missing
        self.measured: dict[tuple[str, str], list] = {}  # (assignment, alias) -> measures
        for student in grades.students:
            alias = self.alias[student.name]
            answers, self.problems[alias] = handin_answers(student.handin, self.course)
            for key, answer in answers.items():
                self.answers.setdefault(key, {})[alias] = answer
            for asked in self.course:
                name = asked.spec.name
                self.measured[(name, alias)] = measures(student.document, name)
        self.html: dict[str, str] = {}  # digest -> the answer's HTML, rendered once
        self.groups: dict[str, list[list[str]]] = {}
        for key, by_alias in self.answers.items():
            by_alias = dict(sorted(by_alias.items(), key=lambda item: int(item[0][1:])))
            self.answers[key] = by_alias
            for answer in by_alias.values():
                if answer.digest not in self.html:
                    self.html[answer.digest] = answer_html(answer)
            texts = {alias: a.text if a.answered else "" for alias, a in by_alias.items()}
            self.groups[key] = group_answers(texts)

    # ---- what the page reads ----------------------------------------------------------------

    def questions(self) -> list[dict]:
        """Each question with its points, the answers and how many are left to mark."""
        rubrics, marks = self.store.rubrics(), self.store.marks()
        return [
            {
                "key": key,
                "assignment": rubric.assignment,
                "question": rubric.question,
                "points": rubric.points,
                "title": rubric.title,
                "answers": len(self.answers.get(key, {})),
                "left": self._left(key, marks.get(key, {})),
            }
            for key, rubric in rubrics.items()
            if key in self.answers
        ]

    def question(self, key: str) -> dict:
        """The page's data for question `key`: its prompt, model answer and rubric, and each
        answer (alias, HTML, what the grader measured, its mark and whether the answer changed
        since), the answers' groups, and the rendered answers (by index)."""
        rubric = self._rubric(key)
        marks = self.store.marks().get(key, {})
        htmls, index = [], {}
        answers = []
        for alias, answer in self.answers[key].items():
            if answer.digest not in index:
                index[answer.digest] = len(htmls)
                htmls.append(self.html[answer.digest])
            answers.append(
                {
                    "alias": alias,
                    "digest": answer.digest,
                    "answered": answer.answered,
                    "html": index[answer.digest],
                    "measures": self.measured.get((rubric.assignment, alias), []),
                    "problem": self.problems.get(alias, ""),
                    "mark": self._mark(rubric, marks.get(self.named[alias]), answer.digest),
                }
            )
        model = rubric.model_answer
        return {
            "key": key,
            "assignment": rubric.assignment,
            "question": rubric.question,
            "kind": rubric.kind,
            "points": rubric.points,
            "prompt_html": markdown_html(rubric.prompt),
            "model_html": code_html(model) if rubric.kind == "code" else markdown_html(model),
            "items": [asdict(item) for item in rubric.items],
            "answers": answers,
            "groups": self.groups[key],
            "htmls": htmls,
        }

    def marks(self, key: str) -> dict[str, dict | None]:
        """{alias: mark} of question `key` as the file holds them now (another grader's too)."""
        rubric = self._rubric(key)
        marks = self.store.marks().get(key, {})
        return {
            alias: self._mark(rubric, marks.get(self.named[alias]), answer.digest)
            for alias, answer in self.answers[key].items()
        }

    def names(self) -> dict[str, str]:
        """{alias: student}: what the page shows when names are switched on."""
        return dict(self.named)

    # ---- what the page changes ----------------------------------------------------------------

    def save(self, data: dict, *, by: str) -> dict[str, dict]:
        """Record one mark for the answers of ``data["aliases"]`` of ``data["key"]`` (see
        `kws.grading.records.marks.MarkStore.save`); {alias: the mark as the page shows it}.

        Raises:
            MarksError: an unknown question, alias or item; MarkConflict: marked since.
        """
        key = str(data.get("key"))
        rubric = self._rubric(key)
        aliases = data.get("aliases")
        if not isinstance(aliases, list) or not aliases:
            raise MarksError("a mark needs the answers it is for (aliases)")
        unknown = [a for a in aliases if a not in self.named]
        if unknown:
            raise MarksError(f"no hand-in {', '.join(map(str, unknown))} in this class; reload "
                             "the page")  # fmt: skip
        students = [self.named[alias] for alias in aliases]
        answers = self.answers[key]
        versions = data.get("versions")
        if isinstance(versions, dict):
            versions = {self.named[a]: v for a, v in versions.items() if a in self.named}
        saved = self.store.save(
            key,
            students,
            items=[str(item) for item in data.get("items") or []],
            digests={self.named[a]: answers[a].digest for a in aliases},
            by=by,
            adjust=_number(data.get("adjust", 0.0)),
            comment=data.get("comment", ""),
            versions=versions if isinstance(versions, dict) else None,
        )
        rubric = self.store.rubrics()[key]
        return {
            self.alias[s]: self._mark(rubric, mark, answers[self.alias[s]].digest)
            for s, mark in saved.items()
        }

    def change_rubric(self, data: dict, *, by: str) -> list[dict]:
        """Change an item of ``data["key"]``'s rubric (``item`` with ``points`` and/or ``text``)
        or add one (``add``: ``points`` and ``text``); the rubric's items as they are now."""
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
        return [asdict(item) for item in rubric.items]

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


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MarksError(f"{value!r} is not a number of points")
    try:
        return float(value)
    except ValueError:
        raise MarksError(f"{value!r} is not a number of points") from None
