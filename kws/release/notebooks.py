"""The student notebooks of a course: the solution notebook's student version
(`kws.notebooks.student_version`: TODOs for the marked solutions) with the kit's cells a student
needs, added where the solution notebook has none of its own (`with_kit_cells`):

- the **Set-up** cell, before the settings (a notebook without settings: first, after its
  title): it installs the kit where it is missing, from ``KIT_SOURCE`` (the archive beside the
  notebook, or a URL; `kws release bundle` points it);
- a **self-check** cell after the last cell tagged ``model``: ``check.assignment(NAME)`` runs the
  assignment's numeric checks and judges each model's rules as the graded tests do
  (`kws.check.declared`);
- the **Ready to hand in?** cell at the end (tagged ``handin``): the hand-in checked as the
  grader reads it, then zipped (`kws.handin.cell`).

The kit's own notebooks hold all three already, so their student versions are as they were.
In a language other than English (the assignment's, `kws.i18n`), each Markdown cell a notebook's
own catalog translates is written in it (`in_language`; ``kws/locale/<lang>/LC_MESSAGES/
notebook_<name>.po``): the instructions, task text and hints; the code cells are as they were.
`release_notebooks` writes a course's student notebooks, `stale_notebooks` lists those out of
date; `kws release notebooks` and `kws assign` call them, and `kws release bundle` makes the
same notebooks for the bundle.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from kws.i18n import ENGLISH, ENV, N_, active, notebook_domain, speaking, translations
from kws.i18n import gettext as _
from kws.notebooks import NotebookError, cells_with_tag, read_notebook, student_version
from kws.spec import Spec, assignments

# The Markdown cells' texts, in English: translated where a notebook is made (`kws.i18n`).
SETUP_TEXT = N_("""## Set-up
Run this cell first, on Colab or on your own machine. Where the kit is not installed (a fresh Colab
runtime), it installs it from `KIT_SOURCE`: the file your instructor handed out, next to the notebook
(on Colab, upload it in the Files panel), or a URL. Where the kit is installed it does nothing.""")
SETUP_CODE = """import importlib
import importlib.util
import os

# the kit your instructor handed out: a file next to this notebook, or a URL
KIT_SOURCE = os.environ.get("KWS_KIT_SOURCE", "{archive}")
if importlib.util.find_spec("kws") is None:  # a fresh Colab runtime, or another environment
    %pip install --quiet "{{KIT_SOURCE}}"
    importlib.invalidate_caches()"""
# the course's language, for the kit's messages in the notebook's kernel (`kws.i18n`)
SETUP_LANGUAGE = """
os.environ.setdefault("{env}", "{language}")"""
CHECK_TEXT = N_("""### Check your code
The cell below checks your functions and classes the way the grader does: ✓ for what passed, ✗
with what to fix. Run it after the cells above; it stops at the first TODO left.""")
CHECK_CODE = """from kws import check

check.assignment("{name}")"""
HANDIN_TEXT = N_("""## Ready to hand in?
Save the notebook (File > Save), then run the cell below. It checks the saved notebook and what it
wrote to `OUT_DIR` the way the grader reads them: the grader's own tests, run on a few test inputs
of `DATA_DIR` (your accuracy is graded after you hand in). It prints ✓ for what passed and ✗ with
what to fix and the points at stake, then writes `handin.zip`: the notebook and the files grading
uses, the file to upload. On Colab it downloads the zip. From a terminal, `kws handin {notebook}`
does the same.""")
HANDIN_CODE = """from kws.handin.cell import ready_to_hand_in

ready_to_hand_in("{name}", data=DATA_DIR, outputs=OUT_DIR)"""
# a written-only assignment (no task): no data, no outputs, no parameters cell setting them
WRITTEN_HANDIN_TEXT = N_("""## Ready to hand in?
Save the notebook (File > Save), then run the cell below. It checks the saved notebook the way
the grader reads it (each written question answered) and writes `handin.zip`, the file to
upload. On Colab it downloads the zip. From a terminal, `kws handin {notebook}` does the same.""")
WRITTEN_HANDIN_CODE = """from kws.handin.cell import ready_to_hand_in

ready_to_hand_in("{name}", data=None, outputs=None)"""


def kit_archive_name() -> str:
    """The file name of the kit's archive a bundle holds, ``kws-<version>.tar.gz``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"kws-{version('kws')}.tar.gz"
    except PackageNotFoundError:  # the kit run from a folder on PYTHONPATH
        return "kws-0.1.0.tar.gz"


def _has_setup(nb) -> bool:
    return any(c.cell_type == "code" and "KIT_SOURCE = " in c.source for c in nb.cells)


def _cell(kind: str, source: str, cell_id: str, tags: list[str] | None = None):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source, id=cell_id)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def _after_title(cells: list) -> int:
    """Where a Set-up cell goes in a notebook without a ``parameters`` cell: after its title
    (a first markdown cell that starts with ``# ``), else at the top."""
    titled = cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    return 1 if titled else 0


def with_kit_cells(nb, spec: Spec) -> nbformat.NotebookNode:
    """`nb` (a student version) with the kit's Set-up, self-check and Ready to hand in? cells of
    `spec`'s assignment, each added only where the notebook has none (see the module), their
    text in the assignment's language (its spec's, else ``KWS_LANGUAGE``'s, `kws.i18n`)."""
    with speaking(spec.language):
        return _with_kit_cells(nb, spec)


def _with_kit_cells(nb, spec: Spec) -> nbformat.NotebookNode:
    cells = list(nb.cells)
    if _has_setup(nb) and active() != ENGLISH:  # the notebook's own Set-up cell says it too
        own = next(c for c in cells if c.cell_type == "code" and "KIT_SOURCE = " in c.source)
        line = SETUP_LANGUAGE.format(env=ENV, language=active())
        if line.strip() not in own.source:
            imported = "import os" in own.source.splitlines()
            own.source = own.source.rstrip("\n") + ("" if imported else "\n" + "import os") + line
    if not _has_setup(nb):
        first = next(
            (i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])),
            _after_title(cells),  # no settings (a written-only notebook): first of all
        )
        setup = SETUP_CODE.format(archive=kit_archive_name())
        if active() != ENGLISH:
            setup += SETUP_LANGUAGE.format(env=ENV, language=active())
        cells[first:first] = [
            _cell("markdown", _(SETUP_TEXT), "kws-setup-text"),
            _cell("code", setup, "kws-setup"),
        ]
    if not cells_with_tag(nb, "self-check") and spec.tasks:
        models = [i for i, c in enumerate(cells) if "model" in c.metadata.get("tags", [])]
        at = models[-1] + 1 if models else len(cells)
        cells[at:at] = [
            _cell("markdown", _(CHECK_TEXT), "kws-check-text"),
            _cell("code", CHECK_CODE.format(name=spec.name), "kws-check", ["self-check"]),
        ]
    if not cells_with_tag(nb, "handin"):
        written_only = not spec.tasks and not spec.numeric
        text = WRITTEN_HANDIN_TEXT if written_only else HANDIN_TEXT
        code = WRITTEN_HANDIN_CODE if written_only else HANDIN_CODE
        cells += [
            _cell("markdown", _(text).format(notebook=spec.notebook), "kws-handin-text"),
            _cell("code", code.format(name=spec.name), "kws-handin", ["handin"]),
        ]
    nb.cells = cells
    return nb


def spec_of_notebook(path: Path) -> Spec | None:
    """The assignment of the course whose notebook is named like `path`, or None."""
    registry = assignments()
    return next((registry[n] for n in registry if registry[n].notebook == path.name), None)


def student_notebook(solution: str | Path, spec: Spec | None = None) -> nbformat.NotebookNode:
    """The student notebook of the solution notebook `solution`: its student version, with the
    kit's cells of its assignment (`spec`, default: the course's assignment of that notebook;
    none: the student version alone), in the assignment's language (`in_language`).
    NotebookError naming the cell and line of a marker that does not close."""
    solution = Path(solution)
    spec = spec if spec is not None else spec_of_notebook(solution)
    student = student_version(read_notebook(solution), name=str(solution))
    if spec is None:
        return student
    with speaking(spec.language):
        return in_language(with_kit_cells(student, spec), solution.name)


def in_language(nb, notebook: str) -> nbformat.NotebookNode:
    """`nb` with each Markdown cell its notebook's catalog (of the notebook named `notebook`,
    `kws.i18n.notebook_domain`) translates into the active language written in it; a cell the
    catalog does not hold, a written answer's cell and every code cell as it was."""
    catalog = translations(active(), notebook_domain(notebook))
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not _answer(cell):
            cell.source = catalog.gettext(cell.source)
    return nb


def _answer(cell) -> bool:
    """Whether `cell` is a written answer's (tagged ``answer:<id>``): the student's, its
    placeholder the one the hand-in check knows unanswered (`kws.written.model.PLACEHOLDERS`)."""
    return any(tag.startswith("answer:") for tag in cell.metadata.get("tags", []))


def _solutions(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise NotebookError(f"{folder}: no such folder of solution notebooks")
    return sorted(folder.glob("*.ipynb"))


def release_notebooks(solutions: str | Path, out: str | Path) -> list[Path]:
    """Write the student notebook of every solution notebook in `solutions` into `out` (same file
    names). Every notebook is made before any is written: a marker that does not close stops
    the release with nothing written."""
    solutions, out = Path(solutions), Path(out)
    made = {}
    for path in _solutions(solutions):
        if (out / path.name).resolve() == path.resolve():
            raise NotebookError(
                f"{out / path.name}: releasing onto the solution notebook itself would erase the "
                "solutions; write the student notebooks to another folder"
            )
        made[out / path.name] = nbformat.writes(student_notebook(path))
    out.mkdir(parents=True, exist_ok=True)
    for target, text in made.items():
        target.write_text(text, encoding="utf-8")
    return list(made)


def stale_notebooks(solutions: str | Path, out: str | Path) -> list[Path]:
    """The student notebooks of `out` that are missing, out of date, or have no solution notebook
    in `solutions`; an empty list means `out` is what `release_notebooks` would write."""
    solutions, out = Path(solutions), Path(out)
    stale = []
    found = _solutions(solutions)
    for path in found:
        target = out / path.name
        text = nbformat.writes(student_notebook(path))
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            stale.append(target)
    names = {path.name for path in found}
    stale += [path for path in sorted(out.glob("*.ipynb")) if path.name not in names]
    return stale
