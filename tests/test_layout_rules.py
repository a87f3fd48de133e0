"""The layout test's checks on fake trees (tests/test_layout.py): each one catches what it is
there to catch — an import across the process boundary, a cycle, an import that climbs the
grading engine's layers, a module path written as a string that names nothing — and passes a
clean tree. (Cycles hidden behind re-exports: tests/test_layout_cycles.py.)"""

from layout_helpers import (
    crossings,
    find_cycle,
    layer_breaks,
    module_strings,
    names_nothing,
    write_tree,
)

LAYERS = [["protocol"], ["sandbox", "child"], ["judge"], ["plugin"], ["records"]]


# A small engine in the real one's order: the judge reads the protocol, the plugin the judge,
# the records the plugin's command; each package's __init__ re-exports nothing.
ENGINE = {
    "pkg/__init__.py": "",
    "pkg/grading/__init__.py": "",
    "pkg/grading/protocol/__init__.py": "",
    "pkg/grading/protocol/payload.py": "STAGES = ('start', 'done')\n",
    "pkg/grading/sandbox/__init__.py": "",
    "pkg/grading/sandbox/run.py": "from pkg.grading.protocol.payload import STAGES\n",
    "pkg/grading/child/__init__.py": "",
    "pkg/grading/child/runner.py": "from pkg.grading.protocol import payload\n",
    "pkg/grading/judge/__init__.py": "",
    "pkg/grading/judge/verdicts.py": "import json\n\nfrom pkg.grading.sandbox.run import STAGES\n",
    "pkg/grading/plugin.py": "from pkg.grading.judge.verdicts import STAGES\n",
    "pkg/grading/records/__init__.py": "",
    "pkg/grading/records/gradebook.py": "def write():\n    from pkg.grading import plugin\n",
}


def test_a_clean_engine_keeps_its_layers(tmp_path):
    assert layer_breaks(LAYERS, "pkg.grading", write_tree(tmp_path, ENGINE)) == []


def test_an_import_that_climbs_a_layer_is_caught_with_its_file_and_line(tmp_path):
    """The judge reaching up to the records (in a function, through the package's name) and
    the sandbox reaching across to the child, a package of its own layer."""
    verdicts = "import json\n\ndef gradebook():\n    from pkg.grading.records import gradebook\n"
    files = {
        **ENGINE,
        "pkg/grading/judge/verdicts.py": verdicts,
        "pkg/grading/sandbox/run.py": "import pkg.grading.child.runner\n",
    }
    root = write_tree(tmp_path, files)
    assert layer_breaks(LAYERS, "pkg.grading", root) == [
        f"{root}/pkg/grading/judge/verdicts.py:4: judge imports pkg.grading.records"
        " (records, a higher layer)",
        f"{root}/pkg/grading/sandbox/run.py:1: sandbox imports pkg.grading.child.runner"
        " (child, its own layer)",
    ]


def test_a_package_in_no_layer_is_caught(tmp_path):
    files = {**ENGINE, "pkg/grading/season/__init__.py": "", "pkg/grading/season/late.py": ""}
    root = write_tree(tmp_path, files)
    assert layer_breaks(LAYERS, "pkg.grading", root) == [
        f"{root}/pkg/grading/season/__init__.py: package season is in no layer",
        f"{root}/pkg/grading/season/late.py: package season is in no layer",
    ]


def test_a_module_path_written_as_a_string_must_exist(tmp_path):
    """Exact dotted strings in Python files (a module, ``module.Name``, ``module:Name``) and
    ``kws.x`` in a script are read; a docstring or a sentence that mentions one is not."""
    root = write_tree(
        tmp_path,
        {
            "kws/__init__.py": "",
            "kws/grading/__init__.py": "",
            "kws/grading/child/__init__.py": "",
            "kws/grading/child/runner.py": "def main():\n    return 0\n",
            "kws/grading/sandbox.py": (
                '"""Starts kws.grading.child.gone, in prose: not read."""\n'
                'RUNNER = ["-m", "kws.grading.child.runner"]\n'
                'ENTRY = "kws.grading.child.runner:main"\n'
                'GONE = ["-m", "kws.grading.child.gone"]\n'
                'NO_NAME = "kws.grading.child.runner:start"\n'
                'NO_ATTRIBUTE = "kws.grading.child.runner.start"\n'
                'SENTENCE = "see kws.grading.child.gone"\n'
            ),
            "kws/grading/run_autograder": "python -m kws.grading.child.runner\n"
            "python -m kws.grading.gone --results r.json\n",
        },
    )
    paths = [root / "kws/grading/sandbox.py", root / "kws/grading/run_autograder"]
    named = module_strings(paths)
    assert [name for _, name in named] == [
        "kws.grading.child.runner",
        "kws.grading.child.runner:main",
        "kws.grading.child.gone",
        "kws.grading.child.runner:start",
        "kws.grading.child.runner.start",
        "kws.grading.child.runner",
        "kws.grading.gone",
    ]
    assert [f"{at}: {name}" for at, name in named if names_nothing(name, root)] == [
        f"{paths[0]}:4: kws.grading.child.gone",
        f"{paths[0]}:5: kws.grading.child.runner:start",
        f"{paths[0]}:6: kws.grading.child.runner.start",
        f"{paths[1]}:2: kws.grading.gone",
    ]


def test_the_cycle_check_is_not_vacuous():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_an_import_of_the_child_is_caught(tmp_path):
    """A parent module that imported the runner would be caught (rule 2 is not vacuous)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from kws.grading.child.runner import main\nimport kws.grading.child.probes\n")
    assert crossings([bad], "kws.grading.child") == [
        f"{bad}:1 imports kws.grading.child.runner",
        f"{bad}:1 imports kws.grading.child.runner.main",
        f"{bad}:2 imports kws.grading.child.probes",
    ]
