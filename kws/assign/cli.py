"""``kws assign`` (`kws.cli` lists it under "prepare a course"):

    kws assign [NAME ...] [--check]

For each assignment of the course (``KWS_COURSE``; the names given, else all): its problems
first (`kws.assign.checks`: nothing is written while one remains), then the files made from its
spec and solution notebook (`kws.assign.generate`), and the graded tests it now has with their
points. ``--check`` writes nothing and exits 1 when a file would change.

A mistake in what the author wrote is raised (`kws.assign.checks.AssignmentError`, a
`ValueError`), its paths as the user typed them (`as_typed`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kws.verbs import NAMES, Arg, Verb


def as_typed(text: str) -> str:
    """`text` with the paths under the working directory written relative to it, as the user
    typed them (``KWS_COURSE=course`` is made absolute for the children the command starts)."""
    return text.replace(f"{Path.cwd()}{os.sep}", "")


def _tests_line(spec, solution: Path) -> str:
    """What `spec` grades: its graded tests with their points (the spec's, then nbgrader's
    autograded test cells of its solution notebook, by ``grade_id``), and the written questions
    of its `solution` notebook (marked by hand) when it asks any, with the points in all."""
    from kws.assign.checks import graded_names
    from kws.grading.judge.autograded import test_cells
    from kws.notebooks import read_notebook
    from kws.written.questions import read_questions

    tests = {name: spec.points.get(name, 0) for name in graded_names(spec)}
    tests |= {cell.grade_id: cell.points for cell in test_cells(spec)}
    total = sum(tests.values())
    listed = ", ".join(f"{name} ({points:g})" for name, points in tests.items())
    line = f"{spec.name}: {len(tests)} graded tests, {total:g} points" + (
        f": {listed}" * bool(tests)
    )
    questions = read_questions(read_notebook(solution), name=str(solution))
    if questions:  # what a person marks, counted in the same grade
        written = sum(question.points for question in questions)
        line += (f"\n  written questions: {len(questions)}, {written:g} points, marked by hand "
                 f"(kws mark); {total + written:g} points in all")  # fmt: skip
    return line


def _assign(args: argparse.Namespace) -> int:
    from kws.spec import SpecError

    try:
        return _assign_course(args)
    except (SpecError, ValueError, FileNotFoundError) as error:  # named as the user typed them
        raise type(error)(as_typed(str(error))) from None


def _assign_course(args: argparse.Namespace) -> int:
    from kws.assign.checks import AssignmentError, assignment_problems, solution_path
    from kws.assign.generate import planned_files, write_files
    from kws.grading.season.course import course_language
    from kws.i18n import speaking
    from kws.release.leaks import reference_code_warnings
    from kws.spec import COURSE_ENV, assignments, course

    language = course_language(args.course)  # a bad course file: refused before the work
    taught = course()
    if taught.kit:
        raise ValueError(
            f"{COURSE_ENV} is not set: the kit's example course keeps its graded tests by hand "
            f"(kws/assignments/); name your course's folder, e.g. {COURSE_ENV}=course"
        )
    registry = assignments()
    names = args.names or [
        name for name in registry if registry.folder(name).parent == taught.folder
    ]
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: no such assignment in {taught.describe()} "
                         f"(it has {', '.join(registry)})")  # fmt: skip
    specs = [registry[name] for name in names]
    problems = [problem for spec in specs for problem in assignment_problems(spec, taught)]
    if problems:  # before anything is written
        raise AssignmentError(
            f"{len(problems)} problem(s), nothing written:\n"
            + "\n".join(f"- {p}" for p in problems)
        )
    planned = {}
    with speaking(language):  # where a spec names no language
        for spec in specs:
            planned |= planned_files(spec, solution_path(spec, taught), taught.students)
    if args.check:
        for path in planned:
            print(as_typed(f"out of date: {path}  (run: kws assign)"))
    else:
        for path in write_files(planned):
            print(as_typed(f"wrote {path}"))
    for spec in specs:
        print(as_typed(_tests_line(spec, solution_path(spec, taught))))
        for warning in reference_code_warnings(spec):
            print(as_typed(f"  Warning: {warning}"))
        if any(task.target for task in spec.tasks.values()) and not spec.tiers:
            print(as_typed(f"  note: {spec.path} has no [tiers] yet: `kws reference {spec.name}` "
                           "sets them from the reference solution"))  # fmt: skip
    return 1 if args.check and planned else 0


ASSIGN = Verb(
    "assign",
    "an assignment of your own: its graded tests and student notebook, from its spec and "
    "solution notebook",
    _assign,
    description="For each assignment of the course (KWS_COURSE): check its spec and solution "
    "notebook (a rule the kit does not know, a marker that does not close, a task no cell "
    "defines, a test without points: refused, naming the file, line and fix, before anything "
    "is written), then write what the spec declares: graded_tests/test_spec.py (model loads, "
    "layers, budgets, from-scratch layers, a norm before the classifier, accuracy by tier), "
    "test_numeric.py, the __init__.py files, and the student notebook with the kit's set-up, "
    "self-check and hand-in cells into the course's students/.",
    arguments=(
        NAMES,
        Arg("--check", action="store_true", help="write nothing; exit 1 when a file would change"),
        Arg("--course", type=Path,
            help="course file (TOML): its `language` for the student notebooks where a spec "
            "names none (default: KWS_LANGUAGE's, else English)"),
    ),
)  # fmt: skip
