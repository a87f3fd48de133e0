"""Which cell of the notebook a student should run again for a failed test: the self-check cell
that uses the class or function the test judges, through its spec (`rerun_for` gives the rules).

    rerun_for(spec, test, self_check_cells(course_notebooks() / spec.notebook))  # a Rerun, or None
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from kws.spec import Spec

KIT_NOTEBOOKS = Path(__file__).resolve().parents[4] / "assignments"  # the released notebooks
SELF_CHECK = "self-check"  # the tag of the cells that run a task's public checks


@dataclass(frozen=True)
class Rerun:
    """A cell of the notebook to run again: the heading of its section and its code."""

    section: str
    code: str


def course_notebooks() -> Path:
    """The released notebooks of the course (``KWS_COURSE``'s ``students/``; the kit's
    ``assignments/`` without one), whose self-check cells the pages point to."""
    from kws.spec import course

    taught = course()
    return taught.students if taught.named and taught.students.is_dir() else KIT_NOTEBOOKS


def self_check_cells(notebook: Path) -> list[Rerun]:
    """The cells that run public checks: those tagged ``self-check`` first, then other code cells
    calling ``check.``; each with the heading of its section. Empty when the notebook is absent."""
    if not notebook.is_file():
        return []
    section, tagged, others = "", [], []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
            section = cell.source.lstrip().splitlines()[0].lstrip("#").strip()
        elif cell.cell_type == "code" and SELF_CHECK in cell.get("metadata", {}).get("tags", []):
            tagged.append(Rerun(section, cell.source))
        elif cell.cell_type == "code" and "check." in cell.source:
            others.append(Rerun(section, cell.source))
    return tagged + others


def _component_name(spec: Spec, test: dict) -> list[str]:
    """The class or function a numeric test's component judges (none for other tests)."""
    numeric = spec.numeric.get((test.get("extra_data") or {}).get("test", ""))
    component = spec.numeric_components().get(numeric.component) if numeric else None
    return [component.name] if component is not None else []


def _task_names(spec: Spec, test: dict) -> list[str]:
    """The model class of the test's task and the classes the task's rules name."""
    task = spec.tasks.get((test.get("extra_data") or {}).get("task") or "")
    if task is None:
        return []
    named = [task.model_class, task.rules.get("layer_class"), *task.rules.get("own_classes", [])]
    return [name for name in named if name]


def _using(cells: list[Rerun], name: str) -> Rerun | None:
    word = re.compile(rf"\b{re.escape(name)}\b")
    return next((cell for cell in cells if word.search(cell.code)), None)


def rerun_for(spec: Spec, test: dict, cells: list[Rerun]) -> Rerun | None:
    """The self-check cell that covers `test`, or None: the first that uses the class or
    function its numeric check judges; else the first in a section whose heading names the
    "Task N" the test's name starts with; else the first that uses its task's model class;
    else, but for an accuracy test, the cell that checks the whole assignment
    (``check.assignment``)."""
    for name in _component_name(spec, test):
        if (found := _using(cells, name)) is not None:
            return found
    number = re.match(r"\s*Task (\d+)\b", test.get("name", ""))
    if number is not None:
        heading = re.compile(rf"\bTask {number.group(1)}\b")
        found = next((cell for cell in cells if heading.search(cell.section)), None)
        if found is not None:
            return found
    for name in _task_names(spec, test):
        if (found := _using(cells, name)) is not None:
            return found
    extra = test.get("extra_data") or {}  # an accuracy test needs the labels: no self-check
    labels = "accuracy" in (extra.get("measured") or {}) or "accuracy" in str(extra.get("test"))
    if not test.get("max_score", 0) or labels:
        return None
    # the self-check cell ``kws assign`` writes: check.assignment("name")
    call = re.compile(rf"""check\.assignment\(\s*["']{re.escape(spec.name)}["']""")
    return next((cell for cell in cells if call.search(cell.code)), None)
