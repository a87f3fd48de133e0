"""The import rules of the kit, read from every import with `ast` (function-level ones too), so a
module that breaks one fails here, naming the file and the line:

1. no import cycle: the graph of the kit's modules has none, and the packages `kws.check` and
   `kws.grading` never import each other both ways (the grading child may use the self-check's
   judges; the self-check never imports the grader);
2. the grader's folder layout is its process boundary: the parent (the top-level modules of
   `kws/grading/` — the pytest plugin and its verdicts among them —, the sandbox, the shared
   formats, each assignment's graded tests in ``kws/assignments/<name>/graded_tests/`` and the shim in
   `grader/`) never imports the child's code (`kws/grading/child/`), the tracer (`kws.tracing`),
   the self-check (`kws.check`) or an assignment's modules that use it (its ``checks.py``,
   ``selfcheck.py`` and the judges they run), which run next to student code; it only starts
   the child as a module string and reads its checked payload (the judges both sides apply,
   such as ``rules.py`` or ``token_budget.py``, import neither side);
3. the child never imports the hidden labels or the grade: `kws.grading.testsets.hidden`, `grade`,
   `results`;
4. the engine is generic: outside `kws/assignments/`, the kit's modules import no assignment's
   folder (only `kws.spec`, which finds the folders, and loads a folder's module by path:
   `Spec.module`, how `kws.check` reaches a notebook's checks, ``check.task1``);
5. the layers below the grader stay below it: the registry of assignments (`kws.spec`) imports
   nothing of the kit, and the self-check (`kws.check`) and the tracer (`kws.tracing`), which a
   student's notebook imports, import only each other, the registry and the kit's small leaf
   modules (`kws.params` and the `kws.counts` it re-exports, `kws.compat`) — never the
   assignments' folders, the grader, the models or the data readers above them;
6. no two packages import each other: ``from pkg import name`` counts as an import of the
   module that defines `name` too, so a re-export (a package's ``__init__``, `kws.author`)
   hides neither a crossing above nor a cycle.
"""

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KWS = ROOT / "kws"
GRADING = KWS / "grading"


@functools.cache
def _own_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for every import in `path`: name None for ``import a``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
    return found


def _file_of(module: str, root: Path) -> Path | None:
    """The file of `module` (``a.b``: ``a/b.py`` or ``a/b/__init__.py``) under `root`, if any."""
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _home(module: str, name: str, root: Path, seen: frozenset = frozenset()) -> list[str]:
    """Where `name` of `module` comes from when `module` re-exports it (``from b import name``
    in its file, at any depth, ``if TYPE_CHECKING:`` too): [b, b.name] and so on down the
    chain of re-exports; [] when `module` defines `name` itself or is not under `root`."""
    path = _file_of(module, root)
    if path is None or module in seen:
        return []
    for _, source, imported in _own_imports(path):
        if imported == name and source != module:
            return [source, f"{source}.{name}", *_home(source, name, root, seen | {module})]
    return []


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, module) for every import in `path`, ``from a import b`` also as ``a.b``, and a name
    a module of `root` re-exports also as its home: ``from kws.author import call`` is an import
    of ``kws.author``, ``kws.author.call``, ``kws.check.selfcheck`` and
    ``kws.check.selfcheck.call``, so a re-export hides no crossing and no cycle."""
    found = []
    for line, module, name in _own_imports(path):
        found.append((line, module))
        if name is not None:
            found.append((line, f"{module}.{name}"))
            found += [(line, home) for home in _home(module, name, root)]
    return found


def _crossings(paths, forbidden: str) -> list[str]:
    """Every import in `paths` of `forbidden` or a module under it, as "file:line imports X"."""
    return [
        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line} imports {module}"
        for path in paths
        for line, module in _imports(path)
        if module == forbidden or module.startswith(forbidden + ".")
    ]


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph(root: Path = ROOT, package: str = "kws") -> dict[str, set[str]]:
    """{module: the modules of `package` it imports} over every module of `package` (a folder of
    `root`), re-exported names followed to their homes."""
    modules = {_module_name(p, root): p for p in (root / package).rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for _, m in _imports(path, root) if m in modules and m != name}
    return graph


def _packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """`graph` between packages: a module ``kws.grading.judge.tiers`` stands for ``kws.grading`` (the
    top-level package it is in), an edge between two modules of one package is dropped."""

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, imported in graph.items():
        edges = packages.setdefault(package(module), set())
        edges.update(package(m) for m in imported if package(m) != package(module))
    for edges in list(packages.values()):
        for target in edges:
            packages.setdefault(target, set())
    return packages


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of `graph` as [a, b, ..., a], or [] when there is none."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def _parent_side() -> list[Path]:
    """The modules that run in the grader's own process (and the sandbox that starts the child)."""
    return [
        *GRADING.glob("*.py"),
        *(p for p in GRADING.rglob("*.py") if not p.is_relative_to(GRADING / "child")),
        *(ROOT / "grader").rglob("*.py"),
        *KWS.glob("assignments/*/graded_tests/*.py"),  # each assignment's graded tests
    ]


def test_layout_has_the_three_sides():
    for folder in ("sandbox", "child", "protocol"):
        assert (GRADING / folder / "__init__.py").is_file(), f"kws/grading/{folder}/ is missing"
    assert (GRADING / "child" / "runner.py").is_file() and (GRADING / "judge/notebook.py").is_file()
    assert not (GRADING / "selfcheck.py").exists(), "the self-checks live in kws/check/"


def test_the_kit_has_no_import_cycle():
    graph = _graph()
    assert len(graph) > 80  # the walk really found the kit's modules
    assert _cycle(graph) == []


def test_the_kit_has_no_package_cycle():
    """No two of the kit's packages import each other, even through a re-export: the graded
    tests of ``kws/assignments/`` import the grader (through `kws.author`), so the grader never
    imports ``kws.assignments`` (it imports `kws.spec`, which finds the folders)."""
    packages = _packages(_graph())
    assert {"kws.grading", "kws.assignments", "kws.author"} <= set(packages)
    assert "kws.grading" in packages["kws.author"]  # the re-exports were followed
    assert _cycle(packages) == []


def test_check_never_imports_the_grader():
    paths = list((KWS / "check").rglob("*.py"))
    assert _crossings(paths, "kws.grading") == []


def test_the_cycle_check_is_not_vacuous():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_parent_and_sandbox_never_import_the_child():
    paths = _parent_side()
    assert len(paths) > 15  # the walk really found the grader's modules
    for child_side in ("kws.grading.child", "kws.tracing", "kws.check"):
        assert _crossings(paths, child_side) == []
    checks = [
        f"kws.assignments.{p.parent.name}.checks" for p in KWS.glob("assignments/*/checks.py")
    ]
    assert checks  # every assignment has its checks
    self_check_side = [  # an assignment's modules that use the self-check
        f"kws.assignments.{p.parent.name}.{p.stem}"
        for p in KWS.glob("assignments/*/*.py")
        if _crossings([p], "kws.check")
    ]
    assert set(checks) < set(self_check_side)  # selfcheck.py and the judges they run too
    for module in self_check_side:
        assert _crossings(paths, module) == []


def test_child_never_imports_the_hidden_labels():
    paths = [*(GRADING / "child").glob("*.py"), *(KWS / "tracing").glob("*.py")]
    for parent_only in (
        "kws.grading.testsets.hidden",
        "kws.grading.judge.notebook",
        "kws.grading.judge.results",
    ):
        assert _crossings(paths, parent_only) == []


def test_the_engine_imports_no_assignment_folder():
    assignments = KWS / "assignments"
    engine = [p for p in KWS.rglob("*.py") if not p.is_relative_to(assignments)]
    folders = [p.parent.name for p in assignments.glob("*/spec.toml")]
    assert folders
    for name in folders:
        assert _crossings(engine, f"kws.assignments.{name}") == []


# What the self-check and the tracer may import of the kit: themselves, the registry, leaf modules.
LOW_LAYERS = ("kws.check", "kws.tracing", "kws.spec", "kws.params", "kws.counts", "kws.compat")


def _kit_imports(paths) -> list[tuple[str, str]]:
    """("file:line", module) for every import of a module of the kit in `paths`."""
    return [
        (f"{path.relative_to(ROOT)}:{line}", module)
        for path in paths
        for line, module in _imports(path)
        if module == "kws" or module.startswith("kws.")
    ]


def _low(module: str) -> bool:
    """The package itself (probes reads its folder) or one of `LOW_LAYERS`."""
    return module == "kws" or any(module == m or module.startswith(m + ".") for m in LOW_LAYERS)


def test_the_registry_imports_nothing_of_the_kit():
    paths = list((KWS / "spec").glob("*.py"))
    assert len(paths) >= 3
    found = [f"{where} imports {module}" for where, module in _kit_imports(paths)]
    assert [line for line in found if not line.split(" imports ")[1].startswith("kws.spec")] == []


def test_check_and_tracing_import_nothing_above_them():
    paths = [*(KWS / "check").rglob("*.py"), *(KWS / "tracing").rglob("*.py")]
    assert len(paths) >= 6  # the walk really found both packages
    above = [
        f"{where} imports {module}" for where, module in _kit_imports(paths) if not _low(module)
    ]
    assert above == []
    assert not _low("kws.assignments") and not _low(
        "kws.grading.testsets.hidden"
    )  # the check can fail


def test_the_rule_is_checked_on_real_imports(tmp_path):
    """A parent module that imported the runner would be caught (the check is not vacuous)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from kws.grading.child.runner import main\nimport kws.grading.child.probes\n")
    assert _crossings([bad], "kws.grading.child") == [
        f"{bad}:1 imports kws.grading.child.runner",
        f"{bad}:1 imports kws.grading.child.runner.main",
        f"{bad}:2 imports kws.grading.child.probes",
    ]
