"""The layout test's cycle check on fake package trees (tests/test_layout.py, rule 6): a cycle
between packages is caught even when a re-export hides it module by module — a package's
``__init__`` that only re-exports (a shim), or an author module that loads its names lazily
(imports under ``if TYPE_CHECKING:``, like `kws.author`) — and a clean tree passes."""

from layout_helpers import find_cycle, module_graph, package_graph, write_tree

# A grader whose plugin imports the assignments package, which only re-exports the registry,
# while an assignment's graded test imports the grader: no module cycle, a package cycle.
CYCLE_THROUGH_A_SHIM = {
    "pkg/__init__.py": "",
    "pkg/spec.py": "def spec_of(path): ...\n",
    "pkg/grading/__init__.py": "",
    "pkg/grading/tiers.py": "def tier_credit(accuracy): ...\n",
    "pkg/grading/plugin.py": "from pkg.assignments import spec_of\n",
    "pkg/assignments/__init__.py": "from pkg.spec import spec_of\n",
    "pkg/assignments/one/__init__.py": "",
    "pkg/assignments/one/graded_tests/test_one.py": "from pkg.grading.tiers import tier_credit\n",
}


def test_a_package_cycle_through_a_re_export_is_caught(tmp_path):
    root = write_tree(tmp_path, CYCLE_THROUGH_A_SHIM)
    graph = module_graph(root, "pkg")
    assert find_cycle(graph) == []  # module by module, the shim hides it
    assert "pkg.spec" in graph["pkg.grading.plugin"]  # the re-exported name's home is followed
    assert find_cycle(package_graph(graph)) == ["pkg.assignments", "pkg.grading", "pkg.assignments"]


def test_a_cycle_behind_a_lazy_re_export_is_caught(tmp_path):
    """An author module that loads its names lazily (imports under ``if TYPE_CHECKING:``, like
    `kws.author`) still counts as importing their homes."""
    files = {
        **CYCLE_THROUGH_A_SHIM,
        "pkg/grading/plugin.py": "from pkg.spec import spec_of\n",
        "pkg/author.py": "if TYPE_CHECKING:\n    from pkg.grading.tiers import tier_credit\n",
        "pkg/assignments/one/graded_tests/test_one.py": "from pkg.author import tier_credit\n",
        "pkg/grading/tiers.py": "from pkg.assignments.one import grader\n",
    }
    graph = package_graph(module_graph(write_tree(tmp_path, files), "pkg"))
    assert find_cycle(graph) == ["pkg.assignments", "pkg.author", "pkg.grading", "pkg.assignments"]


def test_a_clean_tree_passes(tmp_path):
    """The same tree with the engine importing the registry itself: no cycle."""
    files = {**CYCLE_THROUGH_A_SHIM, "pkg/grading/plugin.py": "from pkg.spec import spec_of\n"}
    del files["pkg/assignments/__init__.py"]  # no shim: a namespace package of folders
    assert find_cycle(package_graph(module_graph(write_tree(tmp_path, files), "pkg"))) == []
