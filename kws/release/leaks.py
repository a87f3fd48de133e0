"""Code of an assignment folder that ships to students and looks like a reference solution.

    reference_code_warnings(spec)    # sentences, [] when nothing looks like one

Every Python file of an assignment folder goes into the student bundle's kit archive (what
``kws handin`` and the self-check run), but for ``grader_checks.py``, which stays with the
grader. A numeric check that compares the student's code with the author's own version of it
(a reference module, a reference function) hands that version to every student. Read with
`ast` (nothing is run), a shipped file is named when it defines at top level:

- a class or function of a name the student writes: a numeric check's component, or a model
  task's class;
- a class deriving from a torch module (``nn.Module`` or a subclass of it by name), which a
  check needs only to build a reference;
- a class or function whose name says it (``reference``, ``solution``, ``expected``).

The warning says how to keep it: move the component to ``grader_checks.py``. ``kws assign`` and
``kws release bundle`` print these; neither refuses (a helper may look like one and be none).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kws.spec import Spec

TELLING = ("reference", "solution", "expected")  # words in a name that say what it is
MODULE_BASES = ("Module", "Sequential", "ModuleList")  # torch module classes, by name


def _student_names(spec: Spec) -> set[str]:
    """The names students write: the numeric checks' components' and the model tasks' classes."""
    names = {task.model_class for task in spec.tasks.values() if task.model_class}
    try:
        components = spec.numeric_components()
    except Exception:  # the author's module; `kws assign` names what is wrong with it
        components = {}
    return names | {component.name for component in components.values()}


def _base_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _looks_like(node: ast.stmt, names: set[str]) -> str | None:
    """Why the top-level definition `node` looks like a reference solution, or None."""
    if not isinstance(node, ast.ClassDef | ast.FunctionDef):
        return None
    kind = "class" if isinstance(node, ast.ClassDef) else "function"
    args = node.args.args if isinstance(node, ast.FunctionDef) else []
    if args and args[0].arg == "checker":  # a check (checker, function, ns), named for its target
        return None
    if node.name in names:
        return f"{kind} {node.name}, a name the students write"
    if isinstance(node, ast.ClassDef) and any(_base_name(b) in MODULE_BASES for b in node.bases):
        return f"class {node.name}, a torch module"
    if any(word in node.name.lower() for word in TELLING):
        return f"{kind} {node.name}"
    return None


def reference_code_warnings(spec: Spec) -> list[str]:
    """Sentences naming each definition of `spec`'s shipped Python files that looks like a
    reference solution (see the module), with the fix; [] when none does."""
    names, found = _student_names(spec), []
    for path in sorted(spec.folder.rglob("*.py")):
        if path == spec.grader_checks_file or "graded_tests" in path.relative_to(spec.folder).parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            why = _looks_like(node, names)
            if why:
                found.append(f"{path}, line {node.lineno}: {why}")
    if not found:
        return []
    return [
        f"{'; '.join(found)}: ships to students in the bundle's kit archive and looks like a "
        f"reference solution; keep it with the grader: move it, and the numeric check that uses "
        f"it, into {spec.grader_checks_file} (never shipped; the self-check says the grader "
        "runs it)"
    ]
