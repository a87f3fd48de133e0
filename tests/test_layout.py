"""The grader's folder layout is its process boundary: the parent never imports the child's code.

`kws/grading/child/` runs next to student code inside the sandbox; the parent (the top-level
modules of `kws/grading/`, the sandbox and the pytest grader in `grader/`) only starts it as a
module string and reads its checked payload. These tests read every import with `ast`, so a
module that reaches across the boundary fails here, naming the file and the line.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRADING = ROOT / "kws" / "grading"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in `path`, ``from a import b`` also as ``a.b``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _crossings(paths, forbidden: str) -> list[str]:
    """Every import in `paths` of `forbidden` or a module under it, as "file:line imports X"."""
    return [
        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line} imports {module}"
        for path in paths
        for line, module in _imports(path)
        if module == forbidden or module.startswith(forbidden + ".")
    ]


def _parent_side() -> list[Path]:
    """The modules that run in the grader's own process (and the sandbox that starts the child)."""
    return [
        *GRADING.glob("*.py"),
        *(GRADING / "sandbox").glob("*.py"),
        *(GRADING / "shared").glob("*.py"),
        *(ROOT / "grader").rglob("*.py"),
    ]


def test_layout_has_the_three_sides():
    for folder in ("sandbox", "child", "shared"):
        assert (GRADING / folder / "__init__.py").is_file(), f"kws/grading/{folder}/ is missing"
    assert (GRADING / "child" / "runner.py").is_file() and (GRADING / "grade.py").is_file()
    assert not (GRADING / "selfcheck.py").exists(), "the self-checks live in kws/check/"


def test_parent_and_sandbox_never_import_the_child():
    paths = _parent_side()
    assert len(paths) > 15  # the walk really found the grader's modules
    assert _crossings(paths, "kws.grading.child") == []
    assert _crossings(paths, "kws.check") == []  # kws.check pulls in the child's probes


def test_child_never_imports_the_hidden_labels():
    paths = list((GRADING / "child").glob("*.py"))
    for parent_only in ("kws.grading.hidden", "kws.grading.grade", "kws.grading.results"):
        assert _crossings(paths, parent_only) == []


def test_the_rule_is_checked_on_real_imports(tmp_path):
    """A parent module that imported the runner would be caught (the check is not vacuous)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from kws.grading.child.runner import main\nimport kws.grading.child.probes\n")
    assert _crossings([bad], "kws.grading.child") == [
        f"{bad}:1 imports kws.grading.child.runner",
        f"{bad}:1 imports kws.grading.child.runner.main",
        f"{bad}:2 imports kws.grading.child.probes",
    ]
