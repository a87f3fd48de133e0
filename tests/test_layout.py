"""The import rules of the kit, read from every import with `ast` (function-level ones too), so a
module that breaks one fails here, naming the file and the line (the reading itself:
tests/layout_helpers.py; each rule shown to fail on a fake tree: tests/test_layout_rules.py and
tests/test_layout_cycles.py):

1. no import cycle: the graph of the kit's modules has none, and the packages `kws.check` and
   `kws.grading` never import each other both ways (the grading child may use the self-check's
   judges; the self-check never imports the grader);
2. the grader's folder layout is its process boundary: the parent (every package of
   `kws/grading/` but the child — the pytest plugin and its verdicts among them —, the sandbox,
   the protocol, each assignment's graded tests in ``kws/assignments/<name>/graded_tests/`` and
   the shim in `grader/`) never imports the child's code (`kws/grading/child/`), the tracer
   (`kws.tracing`), the self-check (`kws.check`) or an assignment's modules that use it (its
   ``checks.py``, ``selfcheck.py`` and the judges they run), which run next to student code; it
   only starts the child as a module string and reads its checked payload (the judges both sides
   apply, such as ``rules.py`` or ``token_budget.py``, import neither side);
3. the child never imports the hidden labels or the grade (`kws.grading.testsets.hidden`, the
   judge's `notebook` and `results`); of the kit it imports only itself, the protocol and what
   runs next to student code in a notebook too (`CHILD_IMPORTS`);
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
   hides neither a crossing above nor a cycle;
7. the grading engine's packages keep the order of `LAYERS`: a module imports its own package
   and lower layers, never a higher layer or another package of its own layer, and every
   package of `kws/grading/` is in a layer;
8. a module path written as a string (``"-m", "kws.grading.child.runner"``, the plugin's name,
   the tracer's `GRADER_MODULES`, a layout's ``"module:Class"``, a Gradescope or Slurm script's
   ``python -m kws....``) names a module that exists, or a name that module defines.
"""

from pathlib import Path

from layout_helpers import (
    ROOT,
    crossings,
    find_cycle,
    imports,
    layer_breaks,
    module_graph,
    module_strings,
    names_nothing,
    package_graph,
    where,
)

KWS = ROOT / "kws"
GRADING = KWS / "grading"

# The grading engine's packages, lowest first (rule 7; kws/grading/__init__.py says the same and
# docs/development/architecture.md draws it): `plugin` and `command` are its two top-level modules.
LAYERS = [
    ["protocol", "jaccard"],
    ["sandbox", "child", "testsets"],
    ["judge"],
    ["plugin", "command"],
    ["records"],
    ["season"],
    ["classrun", "publish", "marking"],
]
# What the grading child imports of the kit (rule 3): itself, the protocol, and the modules that
# run next to student code in a notebook too.
CHILD_IMPORTS = (
    "kws.grading.child",
    "kws.grading.protocol",
    "kws.tracing",
    "kws.check",
    "kws.spec",
    "kws.notebooks",
    "kws.counts",
    "kws.device",  # the device the run names, read as the notebook's training reads it
    "kws.i18n",  # the course's language, for what the child writes for students
)


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
    graph = module_graph()
    assert len(graph) > 80  # the walk really found the kit's modules
    assert find_cycle(graph) == []


def test_the_kit_has_no_package_cycle():
    """No two of the kit's packages import each other, even through a re-export: the graded
    tests of ``kws/assignments/`` import the grader (through `kws.author`), so the grader never
    imports ``kws.assignments`` (it imports `kws.spec`, which finds the folders)."""
    packages = package_graph(module_graph())
    assert {"kws.grading", "kws.assignments", "kws.author"} <= set(packages)
    assert "kws.grading" in packages["kws.author"]  # the re-exports were followed
    assert find_cycle(packages) == []


def test_check_never_imports_the_grader():
    paths = list((KWS / "check").rglob("*.py"))
    assert crossings(paths, "kws.grading") == []


def test_parent_and_sandbox_never_import_the_child():
    paths = _parent_side()
    assert len(paths) > 15  # the walk really found the grader's modules
    for child_side in ("kws.grading.child", "kws.tracing", "kws.check"):
        assert crossings(paths, child_side) == []
    checks = [
        f"kws.assignments.{p.parent.name}.checks" for p in KWS.glob("assignments/*/checks.py")
    ]
    assert checks  # every assignment has its checks
    self_check_side = [  # an assignment's modules that use the self-check
        f"kws.assignments.{p.parent.name}.{p.stem}"
        for p in KWS.glob("assignments/*/*.py")
        if crossings([p], "kws.check")
    ]
    assert set(checks) < set(self_check_side)  # selfcheck.py and the judges they run too
    for module in self_check_side:
        assert crossings(paths, module) == []


def test_child_never_imports_the_hidden_labels():
    paths = [*(GRADING / "child").glob("*.py"), *(KWS / "tracing").glob("*.py")]
    for parent_only in (
        "kws.grading.testsets.hidden",
        "kws.grading.judge.notebook",
        "kws.grading.judge.results",
        "kws.grading.judge.document",
    ):
        assert crossings(paths, parent_only) == []


def test_the_engine_imports_no_assignment_folder():
    assignments = KWS / "assignments"
    engine = [p for p in KWS.rglob("*.py") if not p.is_relative_to(assignments)]
    folders = [p.parent.name for p in assignments.glob("*/spec.toml")]
    assert folders
    for name in folders:
        assert crossings(engine, f"kws.assignments.{name}") == []


# What the self-check and the tracer may import of the kit: themselves, the registry, leaf modules.
LOW_LAYERS = ("kws.check", "kws.tracing", "kws.spec", "kws.params", "kws.counts", "kws.compat",
              "kws.i18n")  # fmt: skip


def _kit_imports(paths) -> list[tuple[str, str]]:
    """("file:line", module) for every import of a module of the kit in `paths`."""
    return [
        (where(path, line), module)
        for path in paths
        for line, module in imports(path)
        if module == "kws" or module.startswith("kws.")
    ]


def _low(module: str) -> bool:
    """The package itself (probes reads its folder) or one of `LOW_LAYERS`."""
    return module == "kws" or any(module == m or module.startswith(m + ".") for m in LOW_LAYERS)


def test_the_registry_imports_nothing_of_the_kit():
    paths = list((KWS / "spec").glob("*.py"))
    assert len(paths) >= 3
    found = [f"{at} imports {module}" for at, module in _kit_imports(paths)]
    below = ("kws.spec", "kws.i18n")  # the language a spec names is one the catalogs have
    assert [line for line in found if not line.split(" imports ")[1].startswith(below)] == []


def test_the_catalogs_module_imports_nothing_of_the_kit():
    """`kws.i18n` is below every layer: the self-check, the registry and the pages use it."""
    assert _kit_imports([KWS / "i18n.py"]) == []


def test_check_and_tracing_import_nothing_above_them():
    paths = [*(KWS / "check").rglob("*.py"), *(KWS / "tracing").rglob("*.py")]
    assert len(paths) >= 6  # the walk really found both packages
    above = [f"{at} imports {module}" for at, module in _kit_imports(paths) if not _low(module)]
    assert above == []
    assert not _low("kws.assignments") and not _low(
        "kws.grading.testsets.hidden"
    )  # the check can fail


def test_the_grading_engine_keeps_its_layers():
    """`LAYERS` names every package of `kws/grading/` once, and no import breaks its order."""
    declared = [package for layer in LAYERS for package in layer]
    found = [p.parent.name for p in GRADING.glob("*/__init__.py")]
    found += [p.stem for p in GRADING.glob("*.py") if p.stem != "__init__"]
    assert sorted(declared) == sorted(found)
    assert layer_breaks(LAYERS) == []


def test_the_child_imports_only_what_runs_next_to_student_code():
    paths = list((GRADING / "child").rglob("*.py"))
    found = _kit_imports(paths)
    assert any(module.startswith("kws.grading.protocol.") for _, module in found)
    allowed = tuple(f"{name}." for name in CHILD_IMPORTS)
    assert [
        f"{at} imports {module}"
        for at, module in found
        if module not in CHILD_IMPORTS and not module.startswith(allowed)
    ] == []


def _named_module_files() -> list[Path]:
    """The files that name the kit's modules as strings: its Python files (the kit's, the
    `grader/` shim's, the tests' and the benchmarks'), the Gradescope and Slurm scripts; not
    tests/test_layout_rules.py, whose strings name the modules of its fake trees."""
    fake_trees = ROOT / "tests/test_layout_rules.py"
    return [
        *KWS.rglob("*.py"),
        *(ROOT / "grader").rglob("*.py"),
        *(p for p in (ROOT / "tests").glob("*.py") if p != fake_trees),
        *(ROOT / "benchmarks").glob("*.py"),
        *(GRADING / "publish/gradescope/scripts").iterdir(),
        *(GRADING / "classrun/slurm").iterdir(),
    ]


def test_module_paths_written_as_strings_exist():
    named = module_strings(_named_module_files())
    names = {name for _, name in named}
    assert {  # the walk found the strings that start the grader's processes and layouts
        "kws.grading.plugin",  # command.py's PLUGIN, grader/conftest.py
        "kws.grading.child.runner",  # judge/notebook.py: the child's entry point
        "kws.grading.sandbox.launch",  # sandbox/run.py
        "kws.grading.command",  # the Gradescope autograder's run_autograder
        "kws.grading.testsets.layouts.hw4:HW4Layout",  # the layouts' registry
        "kws.grading.child.channel",  # the tracer's GRADER_MODULES
    } <= names
    assert [f"{at}: {name} names no module" for at, name in named if names_nothing(name)] == []
