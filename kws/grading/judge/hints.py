"""What to do about a failure the grading child reports (`hint`), read in the grader's process
from the child's error and the notebook's source (never run); the graded tests append it to the
sentence they fail with, so the grader and ``kws handin`` say the same.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

_NAME_ERROR = re.compile(r"NameError: name '(\w+)' is not defined")


def _binds(source: str, name: str) -> bool:
    """True when the top level of the Python `source` binds `name`: a def, a class, an import,
    an assignment or a for loop's target."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in tree.body:
        bound = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound = [node.name]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound = [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.For):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        if name in bound:
            return True
    return False


def hint(error: str, stage: str, task: str, notebook: Path | None) -> str:
    """What to do about `error`, the child's sentence for a failed `stage` ("model_cells",
    "build", "evaluate", ...) of `task` in `notebook` (the hand-in's, None when it was not
    found): `name_hint` for a NameError, `build_hint` for the arguments of a build.

    Returns:
        Sentences to append to `error` (`with_hint` joins them), or "".
    """
    if _NAME_ERROR.search(error) and notebook is not None:
        return name_hint(_NAME_ERROR.search(error)[1], notebook)
    return build_hint(error, task) if stage == "build" else ""


def name_hint(name: str, notebook: Path) -> str:
    """What to do when code of the cells tagged ``model`` uses `name`, which they do not define:
    which untagged code cell of `notebook` defines it, and the fix."""
    from kws.notebooks import NotebookError, python_source, read_notebook

    try:
        nb = read_notebook(notebook)
    except (NotebookError, OSError):
        nb = None
    for cell in nb.cells if nb is not None else []:
        if cell.cell_type != "code" or not _binds(python_source(cell.source), name):
            continue
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        where = f"the cell starting `{first.strip()[:60]}`"
        if "model" in cell.get("metadata", {}).get("tags", []):
            return (
                f"The grader runs the cells tagged 'model' in the notebook's order, and `{name}` "
                f"is used before the model cell defining it ({where}): move that cell up."
            )
        return (
            f"The grader runs only the cells tagged 'model', and `{name}` is defined in a cell "
            f"without that tag ({where}): define or import `{name}` in a model cell too."
        )
    return f"The grader runs only the cells tagged 'model': define or import `{name}` in one."


def build_hint(error: str, task: str) -> str:
    """What to do when building `task`'s model from its config.json raised `error` (the
    child's sentence) because an argument was renamed or removed since the model was saved; ""
    for another error."""
    if not error.startswith("TypeError") or "argument" not in error:
        return ""
    return (
        f"Your {task}/config.json holds the arguments your model was trained with, and your class "
        "no longer takes them: name its arguments as they were, or run the notebook's training "
        "and saving cells again."
    )


def with_hint(error: str, hint: str) -> str:
    """`error` (the child's sentence, often without a final period) and `hint` after it."""
    if not hint:
        return error
    return f"{error.rstrip()}{'' if error.rstrip().endswith('.') else '.'} {hint}"
