"""What `kws mark` shows, gathered once when it starts: each written question of the course
(from the solution notebooks), each student's answer to it (from their hand-in folder) and what
the grader measured of that hand-in (from ``results/<student>.json``).

    course = course_questions(Path("solutions"))          # [Asked]: spec, questions, released
    answers, problems, notebooks = handin_answers(Path("submissions/ann"), course)
    measured = measures(grades.students[0].document, "speaker_id")  # [("task1 accuracy", "0.7612")]

A hand-in's notebook is found as the grader finds it (`kws.grading.protocol.handin`) and read
as JSON: the answers are keyed by question id (`kws.written.answers.read_answers`), against the
notebook the students were given (`kws.notebooks.student_version` of the solution).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from kws.counts import format_count
from kws.grading.protocol.handin import find_notebook
from kws.grading.records.marks import Item, Rubric, question_key
from kws.notebooks import read_notebook, student_version
from kws.spec import ASSIGNMENTS, Spec
from kws.written.answers import Answer, read_answers
from kws.written.model import Question
from kws.written.questions import read_questions


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
        return [
            Rubric(
                self.spec.name,
                q.id,
                q.kind,
                q.points,
                q.prompt,
                q.model_answer,
                tuple(Item(i.id, i.points, i.text) for i in q.rubric),
            )
            for q in self.questions
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
    read.

    Returns:
        ({question key: Answer}, problems, {assignment: its notebook's path}); a question whose
        notebook is missing has an answer with no parts.
    """
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
