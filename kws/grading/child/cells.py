"""The notebook's cells in the grading child: the model cells, run as a kernel would
(`run_model_cells`), and what a numeric check needs besides, as the assignment declares it: a
task's spec ``cells``, run after the model cells (`run_cells`), and the values its run recorded
in history.json, set last so that no cell can have put them there (`with_needs`). A check can
then judge the notebook's code against what its run recorded (a history.json edited afterwards,
or a run of other code, disagrees).
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kws.check.registry import HISTORY_FILE, history_key
from kws.grading.child.kernel import KernelShell, main_namespace, record_input
from kws.grading.protocol.handin import needed_cells
from kws.i18n import N_, Text

if TYPE_CHECKING:
    from kws.spec import Cells


def run_model_cells(notebook: Path) -> dict:
    """Execute the cells tagged `model`, in order, in a fresh module named ``__main__``, as a
    kernel running the notebook top to bottom would: every code cell up to the last model cell
    enters the input history (``In``), only the model cells run. Returns the module's namespace."""
    from kws.notebooks import cells_with_tag, python_source, read_notebook

    nb = read_notebook(notebook)
    cells = [c for c in cells_with_tag(nb, "model") if c.cell_type == "code"]
    if not cells:
        raise ValueError(
            f"{notebook.name} has no code cell tagged 'model'; keep the tags of the notebook you "
            "were given (View > Cell toolbar > Tags)"
        )
    namespace, shell = main_namespace()
    model = {id(cell) for cell in cells}
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    last = max(i for i, cell in enumerate(code_cells) if id(cell) in model)
    number = 0
    for cell in code_cells[: last + 1]:
        if id(cell) not in model:  # in the history as written (IPython's own parser costs 0.3 s)
            record_input(namespace, cell.source, cell.source)
            continue
        source = python_source(cell.source)
        record_input(namespace, cell.source, source)
        number += 1
        shell.filename = f"<model cell {number}>"
        exec(compile(source, shell.filename, "exec"), namespace)
    return namespace


def first_todo(notebook: Path) -> str | None:
    """The first unfinished TODO left by `kws release` in the notebook's code, or None."""
    from kws.notebooks import TODO_RAISE, read_notebook

    for cell in read_notebook(notebook).cells:
        if cell.cell_type == "code" and (match := TODO_RAISE.search(cell.source)):
            return match[1]
    return None


def run_cells(notebook: Path, ns: dict, cells: Sequence[Cells]) -> dict:
    """A copy of `ns` (the model cells' namespace) after the cells each of `cells` asks for ran
    in it (`kws.grading.protocol.handin.needed_cells`), statement by statement: a statement that
    raises (a TODO, a setting the grader does not have) is skipped, so the function below it is
    still defined. If the name a group's last cell `defines` is not callable after all, it is a
    stand-in raising that cell's first error."""
    from kws.notebooks import python_source, read_notebook

    nb = read_notebook(notebook)
    groups = [(each, needed_cells(nb, each)) for each in cells]
    if not any(found for _, found in groups):
        return dict(ns)  # the check says the notebook does not define the name it checks
    namespace = dict(ns)
    shell = KernelShell(namespace, "<cell>")
    namespace["get_ipython"] = lambda: shell
    for each, found in groups:
        if not found:
            continue
        cell = found[-1][1]  # the cell the last tag marks, after the others
        errors = []  # its own; a parameters cell the grader cannot run costs nothing itself
        for label, code_cell in found:
            name = f"<{label}>"
            shell.filename = name
            try:
                tree = ast.parse(python_source(code_cell.source), name)
            except SyntaxError as error:
                if code_cell is cell:
                    errors.append(f"SyntaxError: {error.msg} ({name[1:-1]}, line {error.lineno})")
                continue
            for statement in tree.body:
                try:
                    code = compile(ast.Module([statement], type_ignores=[]), name, "exec")
                    exec(code, namespace)
                except (Exception, SystemExit) as error:  # student code: a TODO, a missing name
                    if code_cell is cell:
                        errors.append(f"{type(error).__name__}: {error} ({name[1:-1]})")
        if each.defines and not callable(namespace.get(each.defines)):
            problem = errors[0] if errors else f"it does not define {each.defines}"
            namespace[each.defines] = _stand_in(each.defines, problem)
    return namespace


def _stand_in(name: str, problem: str):
    def stand_in(*args, **kwargs):
        raise RuntimeError(f"the cell defining {name} failed: {problem}")

    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in


def recorded(folder: Path, key: str) -> list[float] | str:
    """The values `fit` recorded under `key` in `folder`/history.json (OUT_DIR/<task>), one per
    step; or a sentence saying why there are none."""
    said = N_(
        "{file} is missing or is not the history fit() wrote; hand it in with model.pt "
        "(fit(..., out_dir=OUT_DIR / '{task}') writes it)"
    )
    fix = Text(said, file=f"{folder.parent.name}/{folder.name}/{HISTORY_FILE}", task=folder.name)
    try:
        values = json.loads((folder / HISTORY_FILE).read_text())[key]
    except (OSError, ValueError, KeyError, TypeError):
        return fix
    numbers = isinstance(values, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    )
    return [float(v) for v in values] if numbers and values else fix


def with_needs(
    ns: dict, notebook: Path, outputs: Path, cells: Sequence[Cells], history: Iterable[tuple]
) -> dict:
    """The namespace the numeric checks get: `ns` with the names of the `cells` run after it
    (`run_cells`), and under `history_key(task, key)` the values of
    ``outputs/<task>/history.json`` for each (task, key) of `history` (`recorded`), set last: no
    cell can have put them there. `ns` itself when nothing more is needed."""
    history = list(history)
    if not cells and not history:
        return ns
    graded = run_cells(notebook, ns, cells)
    for task, key in history:
        graded[history_key(task, key)] = recorded(outputs / task, key)
    return graded
