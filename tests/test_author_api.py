"""The authoring API (`kws.author`): what an assignment folder imports from the kit, and nothing
else. Every Python file of the kit's assignment folders, of the templates in the docs and of the
toy layout imports only `kws.author` from the kit (its own folder's modules aside); every
published name loads, from the module the static imports name, and is documented."""

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from course_helpers import ROOT

import kws.author

FOLDERS = [
    *sorted((ROOT / "kws" / "assignments").glob("*/")),
    ROOT / "docs" / "assignment_template",
    ROOT / "docs" / "keyword_template",
    ROOT / "tests" / "data" / "toy_layout",
]


def kit_imports_besides_the_api(path: Path, own: str | None = None) -> list[str]:
    """ "file:line imports X" for every import in `path` of a module of the kit other than
    `kws.author` and `own` (the folder's package, ``kws.assignments.<name>``, or None)."""

    def allowed(module: str) -> bool:
        if module == "kws.author" or (own and (module == own or module.startswith(own + "."))):
            return True
        return module != "kws" and not module.startswith("kws.")

    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        found += [f"{where}:{node.lineno} imports {m}" for m in modules if not allowed(m)]
    return found


def _own_package(path: Path) -> str | None:
    kit = ROOT / "kws" / "assignments"
    return f"kws.assignments.{path.relative_to(kit).parts[0]}" if path.is_relative_to(kit) else None


def test_assignment_folders_import_only_the_authoring_api():
    files = [path for folder in FOLDERS for path in sorted(folder.rglob("*.py"))]
    assert len(files) > 30  # the walk found the three assignments, the templates, the toy
    found = [
        line for path in files for line in kit_imports_besides_the_api(path, _own_package(path))
    ]
    assert found == [], "import these from kws.author (the Authoring API page):\n" + "\n".join(
        found
    )


def test_the_import_rule_fails_on_an_engine_import(tmp_path):
    graded = tmp_path / "test_mine.py"
    graded.write_text(
        "import torch\nfrom kws.author import spec_of\n"
        "from kws.grading.judge.tiers import tier_credit\nimport kws.check.selfcheck\n"
    )
    assert kit_imports_besides_the_api(graded) == [
        f"{graded}:3 imports kws.grading.judge.tiers",
        f"{graded}:4 imports kws.check.selfcheck",
    ]


def _static_homes() -> dict[str, str]:
    """{name: module} of the imports under ``if TYPE_CHECKING:`` in kws/author.py."""
    tree = ast.parse(Path(kws.author.__file__).read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    return {
        alias.name: node.module
        for node in ast.walk(guarded)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_the_api_is_small():
    """At most 29 names: what an author must learn, each with its place on the API page (the
    last three: a check's sentences in the course's language, `N_`, `Text`, `shown`)."""
    assert len(kws.author.__all__) <= 29, kws.author.__all__


def test_every_published_name_loads_from_its_home():
    assert kws.author.__all__ == sorted(kws.author.HOMES)
    assert _static_homes() == kws.author.HOMES  # what the docs read is what the run time loads
    for name, home in kws.author.HOMES.items():
        value = getattr(kws.author, name)
        assert value is getattr(sys.modules[home], name), name


def test_an_unpublished_name_says_what_is_published():
    with pytest.raises(AttributeError, match="publishes no 'Grader'.*spec_of"):
        kws.author.Grader  # noqa: B018


def _documented() -> list[str]:
    """Each published function and class, and those of a published module (``layers.x``)."""
    found = []
    for name in kws.author.__all__:
        value = getattr(kws.author, name)
        if inspect.ismodule(value):
            found += [f"{name}.{member}" for member in value.__all__]
        else:
            found.append(name)
    return [name for name in found if _function_or_class(_resolve(name))]


def _resolve(name: str):
    value = kws.author
    for part in name.split("."):
        value = getattr(value, part)
    return value


def _function_or_class(value) -> bool:
    return inspect.isfunction(value) or inspect.isclass(value)


def test_a_published_module_publishes_functions_of_the_toolkit():
    assert "layers.compare_layer" in _documented() and "layers.copy_weights" in _documented()
    assert kws.author.layers.torchaudio.models.Conformer  # the checked torchaudio, when read


@pytest.mark.parametrize("name", _documented())
def test_every_published_function_and_class_is_documented(name):
    """A Google-style docstring: a summary, Args (when it takes any), Returns (functions) and
    an Example, which the Authoring API page shows."""
    value = _resolve(name)
    doc = inspect.getdoc(value) or ""
    assert doc.strip(), f"{name} has no docstring"
    assert "Example:" in doc, f"{name}'s docstring has no Example: section"
    if inspect.isfunction(value):
        takes = [p for p in inspect.signature(value).parameters if p not in ("self", "cls")]
        assert not takes or "Args:" in doc, f"{name}'s docstring has no Args: section"
        assert "Returns:" in doc or "Raises:" in doc, f"{name}'s docstring has no Returns:"


@pytest.mark.parametrize(
    ("names", "never"),
    [
        ("spec_of, tier_credit, numeric_tests, Grading", "kws.check"),  # a graded test
        ("Checker, Component, call, build, differs", "kws.grading"),  # a checks.py
        ("layers, probe_facts, trace_forward", "kws.grading"),  # a judge, a selfcheck.py
        ("", "kws."),  # importing the module alone loads nothing
    ],
)
def test_importing_a_name_loads_only_its_side(names, never):
    """A graded test's imports load no self-check; a ``checks.py``'s, run next to student code,
    load no grader (the hidden labels live there)."""
    code = (
        "import sys\nimport kws.author\n"
        + (f"from kws.author import {names}\n" if names else "")
        + f"print([m for m in sys.modules if m.startswith({never!r}) and m != 'kws.author'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_authoring_api_page_is_written_from_the_docstrings():
    """docs/reference/authoring-api.md holds the API in Markdown (it reads the same on GitHub as
    on the built site): what `python docs/hooks/authoring.py` writes from `kws.author`'s
    docstrings, so a changed docstring fails here until the page is written again."""
    import importlib.util

    path = ROOT / "docs" / "hooks" / "authoring.py"
    spec = importlib.util.spec_from_file_location("docs_authoring", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.PAGE.read_text(encoding="utf-8")
    assert written == module.page_text(), "run: python docs/hooks/authoring.py"
    for name in kws.author.__all__:
        assert f"{{#kws.author.{name}}}" in written, name
    assert "::: kws.author" not in written  # the names themselves, not a directive to build
