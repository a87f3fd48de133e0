"""What is wrong with an assignment of the course, found before ``kws assign`` writes anything
(`assignment_problems`): each problem names the file (as the instructor typed its folder), the
line where there is one, and the fix.

- the spec: a key the kit does not know, a rule of the wrong kind (`kws.spec.load`, which
  refuses them with their line), a graded test without points;
- the solution notebook: missing, a solution marker that does not close (`kws.notebooks`), no
  ``parameters`` cell setting ``DATA_DIR`` and ``OUT_DIR`` (a written-only assignment, with no
  task, needs none, but asks at least one written question);
- a task the spec lists that no cell tagged ``model`` defines, a numeric check whose component
  ``checks.py`` does not register or whose function no cell defines.
"""

from __future__ import annotations

import re
from pathlib import Path

from kws.notebooks import NotebookError, cells_with_tag, read_notebook, student_version
from kws.spec import Course, Spec
from kws.spec.rules import declared
from kws.spec.toml import line_of
from kws.written.questions import read_questions

SETTINGS = ("DATA_DIR", "OUT_DIR")


class AssignmentError(ValueError):
    """An assignment ``kws assign`` refuses; the message lists each problem with its fix."""


def _at(path: Path, line: int | None) -> str:
    return f"{path}, line {line}" if line else f"{path}"


def _defines(source: str, name: str) -> bool:
    """Whether Python `source` defines `name` at the top of a line: a class, a function or an
    assignment."""
    pattern = (
        rf"^(?:class\s+{re.escape(name)}\b|def\s+{re.escape(name)}\s*\(|{re.escape(name)}\s*[:=])"
    )
    return re.search(pattern, source, re.M) is not None


def solution_path(spec: Spec, course: Course) -> Path:
    """The solution notebook of `spec` in `course` (its ``solutions/`` folder)."""
    return course.solutions / spec.notebook


def hand_written(spec: Spec) -> set[str]:
    """The graded tests the folder's own modules write (`kws.grading.judge.declared`)."""
    from kws.grading.judge.declared import written_by_hand

    folder = spec.graded_tests
    return written_by_hand(folder, folder / "test_spec.py") if folder.is_dir() else set()


def _notebook_problems(spec: Spec, path: Path, text: str) -> tuple[list[str], str | None]:
    """The solution notebook's problems, and the code of its cells tagged ``model`` (for the
    tasks' checks; None when the notebook cannot be read that far)."""
    if not path.is_file():
        line = line_of(text, "notebook")
        return [
            f"{_at(spec.path, line)}: notebook = {spec.notebook!r}, but {path} does not exist; "
            "write the solution notebook there (or fix the name)"
        ], None
    try:
        nb = read_notebook(path)
        student_version(nb, name=str(path))  # every solution marker closes, with its hint
    except NotebookError as error:
        return [str(error)], None
    problems = []
    if not spec.tasks and not spec.numeric:  # written-only: no data, no run, no settings
        if not read_questions(nb, name=str(path)):
            problems.append(
                f"{_at(spec.path, None)}: no [tasks] and {path} asks no written question; "
                "describe a task under [tasks], or ask a question (a cell tagged "
                "question:ID, or nbgrader's manually graded cells)"
            )
        return problems, ""
    parameters = [c for c in cells_with_tag(nb, "parameters") if c.cell_type == "code"]
    if not parameters:
        problems.append(
            f"{path}: no code cell tagged 'parameters'; tag the cell that sets DATA_DIR and "
            "OUT_DIR from KWS_DATA_DIR and KWS_OUT_DIR (Jupyter: View > Cell Toolbar > Tags)"
        )
    else:
        number = nb.cells.index(parameters[0])
        for name in SETTINGS:
            if not _defines(parameters[0].source, name):
                variable = f"KWS_{name}"
                default = "data" if name == "DATA_DIR" else "outputs"
                problems.append(
                    f"{path}, cell {number}: the parameters cell sets no {name}; add {name} = "
                    f'Path(os.environ.get("{variable}", "{default}")) (the grader and the '
                    "hand-in cell read it)"
                )
    models = [c.source for c in cells_with_tag(nb, "model") if c.cell_type == "code"]
    if spec.model_tasks and not models:
        problems.append(
            f"{path}: no code cell tagged 'model'; tag the cells that define the graded classes "
            f"({', '.join(spec.model_tasks.values())}): the grader runs those cells only"
        )
    return problems, "\n".join(models)


def assignment_problems(spec: Spec, course: Course) -> list[str]:
    """Every problem of assignment `spec` of `course` (see the module), each a sentence with the
    file, the line and the fix; empty when ``kws assign`` may write its files."""
    text = spec.path.read_text(encoding="utf-8")
    notebook = solution_path(spec, course)
    problems, models = _notebook_problems(spec, notebook, text)
    for task, name in spec.model_tasks.items() if models is not None else ():
        if not _defines(models, name):
            line = line_of(text, "tasks", task, "class")
            problems.append(
                f"{_at(spec.path, line)}: task {task} is graded on class {name}, but no cell "
                f"tagged 'model' of {notebook} defines it; define `class {name}` in a model "
                "cell, or fix the class name"
            )
    if spec.numeric:
        problems += _numeric_problems(spec, text, models, notebook)
    points = _table_line(text, "points")
    for name, source in graded_names(spec).items():
        if name not in spec.points:
            problems.append(
                f"{_at(spec.path, points)}: [points] has no entry for {name} ({source}); add "
                f"`{name} = 2` (its points) under [points]"
            )
    return problems


def _table_line(text: str, table: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith(f"[{table}]"):
            return number
    return None


def graded_names(spec: Spec) -> dict[str, str]:
    """{graded test name: what makes it} of every test the grader runs for `spec`."""
    names = {t.name: f"declared by {t.source}" for t in declared(spec)}
    names |= {name: f"the numeric check [numeric.{name}]" for name in spec.numeric}
    names |= {name: f"written in {spec.graded_tests.name}/" for name in hand_written(spec)}
    return names


def _numeric_problems(spec: Spec, text: str, models: str | None, notebook: Path) -> list[str]:
    """The numeric checks' problems: no checks.py, a component it does not register, a
    function no model cell (nor a task's cells) defines (`models`: their code; None: unread)."""
    if not spec.checks_file.is_file():
        return [
            f"{spec.checks_file} is missing: [numeric] of {spec.path} names components; write "
            "checks.py with NUMERIC = {component: Component(task, name, check)}"
        ]
    try:
        table = spec.numeric_components()
    except Exception as error:  # the author's own module: anything can come out
        return [f"{spec.checks_file} or {spec.grader_checks_file.name}: importing it failed "
                f"({type(error).__name__}: {error})"]  # fmt: skip
    problems = []
    also = f" (nor {spec.grader_checks_file.name}'s)" if spec.grader_checks_file.is_file() else ""
    for test in spec.numeric.values():
        component = table.get(test.component)
        if component is None:
            line = line_of(text, "numeric", test.name, "component")
            problems.append(
                f"{_at(spec.path, line)}: [numeric.{test.name}] component = "
                f"{test.component!r}, which NUMERIC of {spec.checks_file}{also} does not register "
                f"(it has {', '.join(table) or 'none'}); register it or fix the name"
            )
        elif component.task not in spec.tasks:
            problems.append(
                f"{spec.checks_file}: the component {test.component!r} belongs to task "
                f"{component.task!r}, which {spec.path} does not list (it has "
                f"{', '.join(spec.tasks)}); fix the task's name in checks.py"
            )
        elif (
            models is not None
            and spec.tasks[component.task].cells is None
            and not _defines(models, component.name)
        ):
            problems.append(
                f"{spec.checks_file}: the component {test.component!r} checks {component.name}, "
                f"but no cell tagged 'model' of {notebook} defines it; define it in a model cell "
                f"(or name its cell in [tasks.{component.task}] cells)"
            )
    return problems
