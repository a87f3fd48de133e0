"""The kit's imports and module names read with `ast`, for the layout tests (tests/test_layout.py
over the real tree, tests/test_layout_rules.py and tests/test_layout_cycles.py over fake trees).

Every function takes the tree's `root` (the checkout, or a fake tree in ``tmp_path`` that
`write_tree` writes); nothing is imported, so a module that would fail to import is still read.
"""

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write `files` ({relative path: source}) under `root`, a fake tree for the checks below;
    returns `root`."""
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source)
    return root


@functools.cache
def parsed(path: Path) -> ast.Module:
    """The syntax tree of the Python file `path`, read once a run."""
    return ast.parse(path.read_text(), str(path))


@functools.cache
def own_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for every import in `path`, function-level ones too: name None for
    ``import a``."""
    found = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
    return found


def file_of(module: str, root: Path) -> Path | None:
    """The file of `module` (``a.b``: ``a/b.py`` or ``a/b/__init__.py``) under `root`, if any."""
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def homes(module: str, name: str, root: Path, seen: frozenset = frozenset()) -> list[str]:
    """Where `name` of `module` comes from when `module` re-exports it (``from b import name``
    in its file, at any depth, ``if TYPE_CHECKING:`` too): [b, b.name] and so on down the
    chain of re-exports; [] when `module` defines `name` itself or is not under `root`."""
    path = file_of(module, root)
    if path is None or module in seen:
        return []
    for _, source, imported in own_imports(path):
        if imported == name and source != module:
            return [source, f"{source}.{name}", *homes(source, name, root, seen | {module})]
    return []


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, module) for every import in `path`, ``from a import b`` also as ``a.b``, and a name
    a module of `root` re-exports also as its home: ``from kws.author import call`` is an import
    of ``kws.author``, ``kws.author.call``, ``kws.check.selfcheck`` and
    ``kws.check.selfcheck.call``, so a re-export hides no crossing and no cycle."""
    found = []
    for line, module, name in own_imports(path):
        found.append((line, module))
        if name is not None:
            found.append((line, f"{module}.{name}"))
            found += [(line, home) for home in homes(module, name, root)]
    return found


def where(path: Path, line: int | None = None) -> str:
    """`path` relative to the checkout when it is in it, with ``:line``."""
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{shown}:{line}" if line is not None else str(shown)


def crossings(paths, forbidden: str) -> list[str]:
    """Every import in `paths` of `forbidden` or a module under it, as "file:line imports X"."""
    return [
        f"{where(path, line)} imports {module}"
        for path in paths
        for line, module in imports(path)
        if module == forbidden or module.startswith(forbidden + ".")
    ]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph(root: Path = ROOT, package: str = "kws") -> dict[str, set[str]]:
    """{module: the modules of `package` it imports} over every module of `package` (a folder of
    `root`), re-exported names followed to their homes."""
    modules = {module_name(p, root): p for p in (root / package).rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for _, m in imports(path, root) if m in modules and m != name}
    return graph


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
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


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
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


def layer_breaks(layers, engine: str = "kws.grading", root: Path = ROOT) -> list[str]:
    """Every import in the packages of `engine` that breaks `layers` (lists of its packages,
    lowest first; a top-level module such as ``plugin.py`` is a package of its own): a module
    may import its own package and the packages of lower layers, never a package of a higher
    layer or another package of its own layer. Each break as "file:line: A imports M (B, a
    higher layer)", A and B the two packages; a package in no layer is a break too."""
    rank = {package: at for at, layer in enumerate(layers) for package in layer}

    def package(module: str) -> str | None:
        inside = module.startswith(engine + ".")
        return module.removeprefix(engine + ".").split(".")[0] if inside else None

    breaks = []
    for path in sorted(root.joinpath(*engine.split(".")).rglob("*.py")):
        own = package(module_name(path, root))
        if own is None:
            continue  # the engine's own __init__
        if own not in rank:
            breaks.append(f"{where(path)}: package {own} is in no layer")
            continue
        said = set()
        for line, module in imports(path, root):
            other = package(module)
            if other is None or other == own or (line, other) in said:
                continue
            said.add((line, other))  # ``from a import b`` is a and a.b: one break
            if other not in rank:
                breaks.append(f"{where(path, line)}: {own} imports {module} (package {other})")
            elif rank[other] >= rank[own]:
                how = "a higher layer" if rank[other] > rank[own] else "its own layer"
                breaks.append(f"{where(path, line)}: {own} imports {module} ({other}, {how})")
    return breaks


# A module path written as a string: ``kws.a.b``, ``kws.a.b.Name`` or ``kws.a.b:Name``, alone.
DOTTED = re.compile(r"kws(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_][\w.]*)?")
IN_A_SCRIPT = re.compile(r"\bkws(?:\.[A-Za-z_]\w*)+")


def module_strings(paths) -> list[tuple[str, str]]:
    """("file:line", name) for every module path written as a string in `paths`: in a Python
    file, each string literal that is exactly a dotted path (``"kws.grading.plugin"``,
    ``"kws.x.layouts.hw4:HW4Layout"``; prose and docstrings that mention one are left alone);
    in any other file (a shell script), each ``kws.a.b`` it holds, comments included."""
    found = []
    for path in paths:
        if path.suffix == ".py":
            strings = [
                node
                for node in ast.walk(parsed(path))
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and DOTTED.fullmatch(node.value)
            ]
            strings.sort(key=lambda node: (node.lineno, node.col_offset))  # in reading order
            found += [(where(path, node.lineno), node.value) for node in strings]
        else:
            for number, text in enumerate(path.read_text().splitlines(), 1):
                found += [(where(path, number), name) for name in IN_A_SCRIPT.findall(text)]
    return found


def _defines(path: Path, name: str) -> bool:
    """Whether the module in `path` has `name` at its top level: a def, a class, an assignment
    or an import, in ``if``/``try`` blocks too."""
    body = list(parsed(path).body)
    while body:
        node = body.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any((a.asname or a.name.split(".")[0]) == name for a in node.names):
                return True
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(n, ast.Name) and n.id == name for t in targets for n in ast.walk(t)):
                return True
        elif isinstance(node, ast.If):
            body += [*node.body, *node.orelse]
        elif isinstance(node, ast.Try):
            body += [*node.body, *node.orelse, *node.finalbody]
            body += [statement for handler in node.handlers for statement in handler.body]
    return False


def names_nothing(name: str, root: Path = ROOT) -> bool:
    """Whether `name` (``a.b.c``, ``a.b.Name`` or ``a.b:Name``) names no module of `root` and no
    top-level name of one: the longest prefix that is a module must define what follows it."""
    module, colon, attribute = name.partition(":")
    parts = module.split(".")
    for cut in range(len(parts), 0, -1):
        path = file_of(".".join(parts[:cut]), root)
        if path is not None:
            if colon and cut < len(parts):
                return True  # ``a.b:Name`` names a module that is not there
            rest = parts[cut:] + attribute.split(".") if colon else parts[cut:]
            return bool(rest) and not _defines(path, rest[0])
        if root.joinpath(*parts[:cut]).is_dir():  # a folder without __init__.py (kws.assignments)
            return cut < len(parts) or bool(colon)  # a namespace package defines no names
    return True
