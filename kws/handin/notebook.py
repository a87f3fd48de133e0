"""What ``kws handin`` reads of a student's notebook itself, beside what the grader checks: which
course notebooks a path holds (`course_notebooks`), its settings (`notebook_settings`: where its
``parameters`` cell puts ``DATA_DIR`` and ``OUT_DIR``), the code cells the saved file shows as
never run (`cells_not_run`) and the TODOs left in it (`todos_left`).

The file is read, never run, but for the ``parameters`` cell, which `notebook_settings` runs as
the notebook does (its settings come from environment variables): the student's own cell, on
the student's own machine.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import NamedTuple

from kws.grading.protocol.handin import find_notebook, notebooks, relative
from kws.notebooks import TODO_RAISE
from kws.spec import ASSIGNMENTS, Spec

HANDIN_TAG = "handin"  # the "Ready to hand in?" cell: it runs after the notebook was saved


class Found(NamedTuple):
    """A course notebook in a hand-in: its assignment's `spec` and the `notebook` file."""

    spec: Spec
    notebook: Path


def course_notebooks(path: Path) -> tuple[Path, list[Found]]:
    """The hand-in folder `path` names and the course notebooks in it, as the grader finds them.

    Args:
        path: a notebook (its folder is the hand-in) or a folder of them.

    Returns:
        (the hand-in folder, [`Found`] in the order of the course's notebook names).

    Raises:
        FileNotFoundError: `path` does not exist, or holds no course notebook (the message
            lists the notebooks the course has).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such notebook or folder")
    expected = ", ".join(sorted(spec.notebook for spec in ASSIGNMENTS.values()))
    if path.is_file():
        spec = _assignment_of(path)
        if spec is None:
            raise FileNotFoundError(
                f"{path.name} is no notebook of the course: it is named none of {expected} and "
                "defines none of their model classes"
            )
        return path.parent, [Found(spec, path)]
    found = []
    for spec in sorted(ASSIGNMENTS.values(), key=lambda spec: spec.notebook):
        try:
            found.append(Found(spec, find_notebook(path, spec.notebook, _classes(spec))))
        except FileNotFoundError:
            continue
    if not found:
        seen = ", ".join(relative(p, path) for p in notebooks(path)[:5]) or "none"
        raise FileNotFoundError(
            f"{path} holds no notebook of the course (expected one of {expected}; found: "
            f"{seen}); give the notebook you filled in, or its folder"
        )
    return path, found


def _classes(spec: Spec) -> list[str]:
    return list(spec.model_tasks.values())


def _assignment_of(notebook: Path) -> Spec | None:
    """The assignment of the notebook file `notebook`: by its name, else (a browser's
    ``02_speaker_id (1).ipynb``) by the model classes it defines; None when neither."""
    specs = sorted(ASSIGNMENTS.values(), key=lambda spec: spec.name)
    by_name = [spec for spec in specs if spec.notebook == notebook.name]
    if by_name:
        return by_name[0]
    text = notebook.read_text(errors="replace")
    defining = [
        s for s in specs if any(re.search(rf"class {re.escape(c)}\b", text) for c in _classes(s))
    ]
    return defining[0] if len(defining) == 1 else None


def notebook_settings(notebook: Path) -> dict[str, Path]:
    """``DATA_DIR`` and ``OUT_DIR`` as the notebook's ``parameters`` cell sets them, with the
    environment variables it reads (``KWS_DATA_DIR``, ``KWS_OUT_DIR``), relative paths taken
    from the notebook's folder (where Jupyter runs it).

    Returns:
        {"DATA_DIR": path, "OUT_DIR": path}, each left out when the cell does not set it.

    Raises:
        ValueError: the notebook has no ``parameters`` cell, or the cell fails (naming the
            error).
    """
    from kws.notebooks import NoShell, cells_with_tag, python_source, read_notebook

    cells = [c for c in cells_with_tag(read_notebook(notebook), "parameters")]
    if not cells:
        raise ValueError(f"{notebook.name} has no cell tagged 'parameters'")
    namespace: dict = {"__name__": "__main__"}
    namespace["get_ipython"] = lambda: NoShell(namespace, "<parameters cell>")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its settings
            exec(compile(python_source(cells[0].source), "<parameters cell>", "exec"), namespace)
    except Exception as error:  # the student's cell: anything can come out
        raise ValueError(
            f"{notebook.name}'s parameters cell failed ({type(error).__name__}: {error})"
        ) from None
    settings = {}
    for name in ("DATA_DIR", "OUT_DIR"):
        if isinstance(namespace.get(name), str | Path):
            value = Path(namespace[name]).expanduser()
            settings[name] = value if value.is_absolute() else notebook.parent / value
    return settings


def cells_not_run(nb) -> list[int]:
    """The indices (into ``nb.cells``) of the code cells the saved notebook `nb` shows as never
    run (no execution count), but for the hand-in cell (tagged `HANDIN_TAG`), which is running
    or about to when the file is saved."""
    return [
        number
        for number, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and cell.get("execution_count") is None
        and HANDIN_TAG not in cell.get("metadata", {}).get("tags", [])
    ]


def todos_left(nb) -> list[tuple[int, str]]:
    """(cell index, hint) of every TODO `kws release` wrote that is still in a code cell of
    notebook `nb` (``raise NotImplementedError("TODO: ...")``), in order."""
    return [
        (number, match[1])
        for number, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for match in TODO_RAISE.finditer(cell.source)
    ]


def first_line(cell) -> str:
    """The first line of a cell's source that is not blank, shortened: how a student finds a
    cell (Jupyter shows no cell numbers)."""
    line = next((line for line in cell.source.splitlines() if line.strip()), "")
    line = line.strip()
    return line if len(line) <= 60 else line[:57] + "..."
