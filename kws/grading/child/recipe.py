"""Notebook 01, Task 4 in the grading child: the notebook's own `learning_rate_factor`, and the
learning rates its run recorded.

The schedule is judged from the notebook's source, never from a file a later cell can rewrite:
the child runs the recipe cell (tagged ``recipe``; in a notebook handed out before that tag
existed, the code cell that defines ``learning_rate_factor``) after the model cells, evaluates
``learning_rate_factor(step, N)`` itself for the N steps the run recorded in
``OUT_DIR/kws/history.json``, and the assignment's judge (its checks.py component for
``learning_rate_factor``, `recorded_schedule`) judges that curve and checks that the recorded learning rates are a peak times it (a run that used another
schedule, or a history.json edited afterwards, disagrees).

    graded = with_recipe(ns, notebook, outputs / "kws")   # ns + learning_rate_factor + RECORDED_LR
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

from kws.grading.shared.handin import RECIPE_FUNCTION, RECORDED_LR, child_cells


def run_recipe_cell(notebook: Path, ns: dict) -> dict:
    """A copy of `ns` (the model cells' namespace) after the notebook's `parameters` cells and
    its recipe cell ran in it, statement by statement: a statement that raises (a TODO, a
    setting the grader does not have) is skipped, so the function below it is still defined.
    If learning_rate_factor is not defined after all, it is a stand-in raising the first error."""
    from kws.notebooks import NoShell, python_source

    cells = [(label, c) for label, c in child_cells(notebook) if not label.startswith("model")]
    if not cells:
        return dict(ns)  # the check says the notebook does not define learning_rate_factor
    namespace = dict(ns)
    shell = NoShell(namespace, "<recipe cell>")
    namespace["get_ipython"] = lambda: shell
    cell = cells[-1][1]  # the recipe cell, after the parameters cells
    errors = []  # the recipe cell's; a parameters cell the grader cannot run costs nothing itself
    for label, each in cells:
        name = f"<{label}>"
        shell.filename = name
        try:
            tree = ast.parse(python_source(each.source), name)
        except SyntaxError as error:
            if each is cell:
                errors.append(f"SyntaxError: {error.msg} ({name[1:-1]}, line {error.lineno})")
            continue
        for statement in tree.body:
            try:
                code = compile(ast.Module([statement], type_ignores=[]), name, "exec")
                exec(code, namespace)
            except (Exception, SystemExit) as error:  # student code: a TODO, a missing name
                if each is cell:
                    errors.append(f"{type(error).__name__}: {error} ({name[1:-1]})")
    if not callable(namespace.get(RECIPE_FUNCTION)):
        problem = errors[0] if errors else f"it does not define {RECIPE_FUNCTION}"
        namespace[RECIPE_FUNCTION] = _stand_in(problem)
    return namespace


def _stand_in(problem: str):
    def learning_rate_factor(step: int, total_steps: int) -> float:
        raise RuntimeError(f"the cell defining learning_rate_factor failed: {problem}")

    return learning_rate_factor


def recorded_lr(folder: Path) -> list[float] | str:
    """The learning rates `fit` recorded in `folder`/history.json (OUT_DIR/kws), one per step;
    or a sentence saying why there are none."""
    shown = f"{folder.parent.name}/{folder.name}/history.json"
    fix = (
        f"{shown} is missing or is not the history fit() wrote; hand it in with model.pt "
        "(fit(..., out_dir=OUT_DIR / 'kws') writes it)"
    )
    try:
        lrs = json.loads((folder / "history.json").read_text())["lr"]
    except (OSError, ValueError, KeyError, TypeError):
        return fix
    numbers = isinstance(lrs, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in lrs
    )
    return [float(v) for v in lrs] if numbers and lrs else fix


def with_recipe(ns: dict, notebook: Path, folder: Path) -> dict:
    """The namespace the numeric checks get: `ns` with the recipe cell's names, and under
    RECORDED_LR the learning rates of `folder`/history.json (or why there are none)."""
    graded = run_recipe_cell(notebook, ns)
    graded[RECORDED_LR] = recorded_lr(folder)  # set last: no cell can have put it there
    return graded
