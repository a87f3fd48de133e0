"""What `kws mark` shows, gathered once when it starts: each written question of the course
(`course_questions`, from the solution notebooks), each student's answer to it (`handin_answers`,
keyed by question id against the notebook the students were given) and what the grader measured
of that hand-in (`measures`, from ``results/<student>.json``); `read_class` reads the class.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from kws.counts import format_count
from kws.grading.marking.groups import group_answers
from kws.grading.protocol.handin import find_notebook
from kws.grading.records.marks.rubric import Item, Rubric, question_key
from kws.notebooks import read_notebook, student_version
from kws.spec import ASSIGNMENTS, Spec
from kws.written.answers import Answer, read_answers
from kws.written.model import Question
from kws.written.questions import read_questions
from kws.written.render import answer_html


@dataclass(frozen=True)
class Asked:
    """One notebook's written questions.

    Attributes:
        spec: its assignment.
        questions: the questions its solution notebook asks.
        released: the student version of the notebook, as JSON (what the answers are read
            against).
    """

    spec: Spec
    questions: tuple[Question, ...]
    released: dict

    def rubrics(self) -> list[Rubric]:
        """Each question as the grades folder records it (`kws.grading.records.marks`)."""
        items = [tuple(Item(i.id, i.points, i.text) for i in q.rubric) for q in self.questions]
        return [
            Rubric(self.spec.name, q.id, q.kind, q.points, q.prompt, q.model_answer, given)
            for q, given in zip(self.questions, items, strict=True)
        ]


def course_questions(solutions: Path) -> list[Asked]:
    """The written questions of every course notebook in the folder `solutions` (those that ask
    any), in the order of the assignments' names.

    Raises:
        FileNotFoundError: `solutions` is no folder, or holds no course notebook.
        QuestionError: a question of a notebook cannot be read (naming the notebook and cell).
    """
    solutions = Path(solutions)
    if not solutions.is_dir():
        raise FileNotFoundError(f"{solutions}: no such folder of solution notebooks; give the "
                                "folder `kws release` reads with --solutions")  # fmt: skip
    found, seen = [], []
    for spec in sorted(ASSIGNMENTS.values(), key=lambda s: s.name):
        path = solutions / spec.notebook
        if not path.is_file():
            continue
        seen.append(path)
        nb = read_notebook(path)
        questions = tuple(read_questions(nb, name=str(path)))
        if questions:
            released = json.loads(nbformat.writes(student_version(nb, name=str(path))))
            found.append(Asked(spec, questions, released))
    if not seen:
        expected = ", ".join(sorted(spec.notebook for spec in ASSIGNMENTS.values()))
        raise FileNotFoundError(f"{solutions} holds none of the course's notebooks ({expected}); "
                                "give the solutions folder with --solutions")  # fmt: skip
    return found


def handin_answers(
    folder: Path | None, course: list[Asked]
) -> tuple[dict[str, Answer], str, dict[str, Path]]:
    """Each question's answer in the hand-in `folder` (None: no folder), a sentence for a
    notebook that is missing or cannot be read ("" when every one was read), and the notebooks
    read: ({question key: Answer}, problems, {assignment: its notebook's path}); a question
    whose notebook is missing has an answer with no parts."""
    answers, problems, notebooks = {}, [], {}
    for asked in course:
        spec, found = asked.spec, None
        if folder is not None:
            try:
                notebook = find_notebook(folder, spec.notebook, list(spec.model_tasks.values()))
                found = read_answers(json.loads(notebook.read_text(encoding="utf-8")),
                                     asked.released)  # fmt: skip
                notebooks[spec.name] = notebook
            except FileNotFoundError as error:
                problems.append(str(error).replace(str(folder), "the hand-in"))
            except (ValueError, UnicodeDecodeError):
                problems.append(f"{spec.notebook} is not a notebook (damaged JSON)")
        else:
            problems.append("no hand-in folder")
        for question in asked.questions:
            key = question_key(spec.name, question.id)
            answers[key] = (found or {}).get(question.id) or Answer(question.id, question.kind)
    return answers, "; ".join(dict.fromkeys(problems)), notebooks


# What a test measured (`kws.grading.judge.document.MEASURES`), as the page labels it.
_MEASURE_LABELS = {
    "accuracy": ("accuracy", lambda value: f"{value:.4f}"),
    "weights": ("weights in model.pt", format_count),
    "encoder_weights": ("encoder block", format_count),
    "layers_run": ("encoder layers that ran", str),
}


def measures(document: dict | None, assignment: str) -> list[tuple[str, str]]:
    """What the grader measured of a hand-in in `assignment`, from its results document:
    the points its tests gave, then each test's measured fields by task ("task1 accuracy",
    "0.7612"), each once. [] without a document."""
    tests = [
        t for t in (document or {}).get("tests", [])
        if isinstance(t, dict) and (t.get("extra_data") or {}).get("assignment") == assignment
    ]  # fmt: skip
    if not tests:
        return []
    score = sum(float(t.get("score", 0)) for t in tests)
    maximum = sum(float(t.get("max_score", 0)) for t in tests)
    shown = {"tests": f"{score:g} / {maximum:g} points"}
    for test in tests:
        facts = test.get("extra_data") or {}
        measured = facts.get("measured")
        for name, value in (measured if isinstance(measured, dict) else {}).items():
            if name in _MEASURE_LABELS and isinstance(value, int | float):
                label, form = _MEASURE_LABELS[name]
                task = facts.get("task")
                shown.setdefault(f"{task} {label}" if task else label, form(value))
    return list(shown.items())


_MOST_TEST_OUTPUT = 2000  # characters of a test's output shown in a student's notebook


def autograded_tests(document: dict | None, assignment: str, name: str, alias: str) -> list[dict]:
    """The autograded tests of `assignment` in a hand-in's results `document`, as the page
    lists them beside the student's notebook: [{"name", "score", "max_score", "status",
    "output"}], the output cut at 2,000 characters with the student's `name` written as their
    `alias` (a test prints the hand-in's path). [] without a document."""
    found = []
    for test in (document or {}).get("tests", []):
        if not isinstance(test, dict):
            continue
        facts = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
        if facts.get("assignment") != assignment:
            continue
        output = test.get("output") if isinstance(test.get("output"), str) else ""
        found.append({
            "name": str(test.get("name", "")).replace(name, alias),
            "score": _points(test.get("score")),
            "max_score": _points(test.get("max_score")),
            "status": str(test.get("status", "")),
            "output": output[:_MOST_TEST_OUTPUT].replace(name, alias),
        })  # fmt: skip
    return found


def _points(value) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


@dataclass(frozen=True)
class ClassAnswers:
    """The class's answers as `kws mark` shows them (`read_class`).

    Attributes:
        alias: {student: their alias, ``#1`` ...}.
        answers: {question key: {alias: `Answer`}}, in alias order.
        problems: {alias: why a notebook of theirs is missing ("" for none)}.
        measured: {(assignment, alias): what the grader measured, `measures`}.
        html: {answer digest: the answer rendered to safe HTML, once}.
        groups: {question key: the aliases of the same answers, `group_answers`}.
        notebooks: {(assignment, alias): the notebook read}.
        tests: {(assignment, alias): its autograded tests, `autograded_tests`}.
    """

    alias: dict[str, str]
    answers: dict[str, dict[str, Answer]]
    problems: dict[str, str]
    measured: dict[tuple[str, str], list]
    html: dict[str, str]
    groups: dict[str, list[list[str]]]
    notebooks: dict[tuple[str, str], Path]
    tests: dict[tuple[str, str], list[dict]]


def read_class(grades, course: list[Asked], kept: dict[str, str]) -> ClassAnswers:
    """Each hand-in of `grades` (`kws.grading.records.grades.read_grades`) read against
    `course`: its answers and measures, rendered and grouped. Students are shown by alias, in an
    order drawn from a hash of their names; `kept`: the aliases of an earlier read."""
    names = [student.name for student in grades.students]
    order = sorted(names, key=lambda name: hashlib.sha256(name.encode()).hexdigest())
    # read again: a student keeps their alias (a page's queued mark still means them), and
    # one new to the class gets the next number
    alias = {name: a for name, a in kept.items() if name in names}
    start = max((int(a[1:]) for a in alias.values()), default=0) + 1
    alias |= {name: f"#{n}" for n, name in enumerate(
        (name for name in order if name not in alias), start=start)}  # fmt: skip
    answers: dict[str, dict[str, Answer]] = {}  # key -> alias -> Answer
    problems: dict[str, str] = {}  # alias -> why a notebook is missing
    measured: dict[tuple[str, str], list] = {}  # (assignment, alias) -> measures
    notebooks: dict[tuple[str, str], Path] = {}  # (assignment, alias) -> the notebook read
    tests: dict[tuple[str, str], list[dict]] = {}  # (assignment, alias) -> its tests
    for student in sorted(grades.students, key=lambda s: int(alias[s.name][1:])):  # alias order
        shown = alias[student.name]
        found, problems[shown], read = handin_answers(student.handin, course)
        notebooks |= {(name, shown): path for name, path in read.items()}
        for key, answer in found.items():
            answers.setdefault(key, {})[shown] = answer
        measured |= {(a.spec.name, shown): measures(student.document, a.spec.name) for a in course}
        tests |= {
            (a.spec.name, shown): autograded_tests(
                student.document, a.spec.name, student.name, shown
            )
            for a in course
        }
    html: dict[str, str] = {}  # digest -> the answer's HTML, rendered once
    groups: dict[str, list[list[str]]] = {}
    for key, by_alias in answers.items():
        for answer in by_alias.values():
            if answer.digest not in html:
                html[answer.digest] = answer_html(answer)
        texts = {a: answer.text if answer.answered else "" for a, answer in by_alias.items()}
        groups[key] = group_answers(texts)
    return ClassAnswers(alias, answers, problems, measured, html, groups, notebooks, tests)
