"""Where things are in a student's hand-in, for the grader and the grading child alike: the
notebook to grade (`find_notebook`: nested folders, a browser's renamed copy; never checkpoint
copies or archive debris), the OUT_DIR beside it (`outputs_folder`), and what the sandbox copies
(`copy_plan`: the notebooks and each task's output files, nothing else). Pure file look-ups.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kws.spec import Cells

# Never needed to grade, never searched: tool caches, archive debris, environments, history.
SKIPPED_FOLDERS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".ipynb_checkpoints", "__MACOSX", ".venv", "venv"}
    | {"node_modules", ".Trash", ".cache", "wandb", "lightning_logs"}
)
# Per task, in OUT_DIR, whatever their size: the checkpoint, and what the run recorded
# (history.json, which a numeric check may read: `kws.check.registry.Component.history`).
# With the notebooks, the only files grading copies: a side file (answers in a JSON beside the
# checkpoint, a helper module) never reaches the model the child re-runs.
OUTPUT_FILES = frozenset({"config.json", "model.pt", "predictions.csv", "history.json"})


def _skipped(rel: Path) -> bool:
    """True for files inside a skipped folder and for macOS resource forks (``._name``)."""
    return any(part in SKIPPED_FOLDERS for part in rel.parts[:-1]) or rel.name.startswith("._")


def notebooks(folder: Path) -> list[Path]:
    """Every notebook under `folder` a student could mean, shallowest first (junk left out)."""
    found = [
        p
        for p in folder.rglob("*.ipynb")
        if not _skipped(p.relative_to(folder)) and p.is_file() and not p.is_symlink()
    ]
    return sorted(found, key=lambda p: (len(p.relative_to(folder).parts), str(p)))


def _defines(path: Path, class_names: list[str]) -> bool:
    text = path.read_text(errors="replace")
    return any(re.search(rf"class {re.escape(c)}\b", text) for c in class_names)


def find_notebook(folder: Path, name: str, class_names: list[str]) -> Path:
    """The notebook of `folder` to grade as `name`; FileNotFoundError says why there is none.

    In order: `folder/name`; the only `name` deeper down; the only notebook (any name, e.g. a
    browser's ``name (1).ipynb``) that defines one of `class_names`; among several, the only one
    whose name starts like `name`. Checkpoint copies and archive debris are never picked.
    """
    if (folder / name).is_file():
        return folder / name
    found = notebooks(folder)
    same_name = [p for p in found if p.name == name]
    if len(same_name) == 1:
        return same_name[0]
    candidates = same_name or [p for p in found if _defines(p, class_names)]
    if len(candidates) > 1:
        stem = Path(name).stem
        similar = [p for p in candidates if p.name.startswith(stem)]
        candidates = similar if len(similar) == 1 else candidates
    if len(candidates) == 1:
        return candidates[0]
    listed = ", ".join(relative(p, folder) for p in candidates[:5])
    if candidates:
        raise FileNotFoundError(
            f"the submission holds several notebooks that could be {name} ({listed}); hand in "
            f"one notebook named {name}, with the outputs/ folder its saving cells wrote"
        )
    seen = ", ".join(relative(p, folder) for p in found[:5]) or "no notebook at all"
    raise FileNotFoundError(
        f"the submission has no {name} and no notebook defining {', '.join(class_names)} "
        f"(found: {seen}); hand in the notebook under its original name"
    )


def outputs_folder(submission: Path, notebook: Path, name: str = "outputs") -> Path:
    """OUT_DIR as the notebook's saving cells wrote it: beside the notebook (Jupyter runs a
    notebook in its own folder), else at the top of the submission."""
    beside = notebook.parent / name
    return beside if beside.is_dir() else submission / name


def predictions_csv(submission: Path, notebook: str, class_names: list[str], task: str) -> Path:
    """Where the saving cell of the `notebook` (its file name) of the hand-in `submission` wrote
    `task`'s ``predictions.csv`` (``<OUT_DIR>/<task>/predictions.csv``; it may not exist), the
    notebook told among several by the `class_names` it defines (`find_notebook`)."""
    try:
        found = find_notebook(submission, notebook, class_names)
    except FileNotFoundError:  # the tests reading the child's report say why
        return submission / "outputs" / task / "predictions.csv"
    return outputs_folder(submission, found) / task / "predictions.csv"


def _source_defines(source: str, name: str) -> bool:
    """True when the Python `source` defines `name` at its top level (def or assignment)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
    return False


def tagged_cell(nb, tag: str, defines: str | None = None):
    """The first code cell of notebook `nb` tagged `tag`; else (a notebook handed out before the
    tag) the first code cell defining `defines`; None when there is neither."""
    from kws.notebooks import cells_with_tag, python_source

    tagged = [c for c in cells_with_tag(nb, tag) if c.cell_type == "code"]
    if tagged:
        return tagged[0]
    if defines is None:
        return None
    code = [c for c in nb.cells if c.cell_type == "code"]
    return next((c for c in code if _source_defines(python_source(c.source), defines)), None)


def needed_cells(nb, cells: Cells) -> list[tuple[str, object]]:
    """(label, cell) of what the grading child runs of notebook `nb` for `cells` (a task's
    ``cells`` in its spec, `kws.spec.Cells`): the code cells of each tag but the last, then the
    last tag's cell (`tagged_cell`); [] when the notebook has no such last cell."""
    from kws.notebooks import cells_with_tag

    last = tagged_cell(nb, cells.tags[-1], cells.defines)
    if last is None:
        return []
    found = [
        (f"{tag} cell", c)
        for tag in cells.tags[:-1]
        for c in cells_with_tag(nb, tag)
        if c.cell_type == "code"
    ]
    return found + [(f"{cells.tags[-1]} cell", last)]


def child_cells(notebook: Path, cells: Iterable[Cells] = ()) -> list[tuple[str, object]]:
    """(label, cell) of every cell the grading child runs: the cells tagged ``model``, then
    those each of `cells` asks for (the spec's, `kws.spec.Spec.cells`; `needed_cells`)."""
    from kws.notebooks import cells_with_tag, read_notebook

    nb = read_notebook(notebook)
    model = [c for c in cells_with_tag(nb, "model") if c.cell_type == "code"]
    found = [(f"model cell {number}", c) for number, c in enumerate(model, start=1)]
    for each in cells:
        found += needed_cells(nb, each)
    return found


def relative(path: Path, folder: Path) -> str:
    """The file `path` of the hand-in as the student sees it: its POSIX path relative to the
    hand-in `folder`, or its name alone when it is outside `folder`."""
    try:
        return Path(path).relative_to(folder).as_posix()
    except ValueError:
        return Path(path).name


@dataclass
class CopyPlan:
    """What of a hand-in the sandbox copies: `files` (relative paths) and their `total` bytes;
    `ignored` maps a top folder or file (``data/``) to the bytes left out; `links`: links and
    special files, never copied."""

    files: list[Path] = field(default_factory=list)
    total: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)

    def ignored_text(self) -> str:
        """ "data/ (2.1 GB), .git/ (12.0 MB)": what was left out, largest first."""
        items = sorted(self.ignored.items(), key=lambda item: -item[1])
        return ", ".join(f"{label} ({size_text(size)})" for label, size in items)

    def note(self) -> str:
        """What the student reads about the files left out: that nothing is wrong, what the
        grader used instead, and what was left out (`ignored_text`)."""
        used = ", ".join(sorted(OUTPUT_FILES))
        return (
            f"grading used only the notebook and each task's {used} (other files of the hand-in "
            f"are not given to your model; nothing to fix): left out {self.ignored_text()}"
        )


def size_text(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def needed_for_grading(rel: Path, size: int) -> bool:
    """Only the notebooks and the per-task output files (OUTPUT_FILES) are needed, whatever
    their `size`; nothing else a hand-in holds (plots, data, side files, Python files)."""
    return not _skipped(rel) and (rel.suffix == ".ipynb" or rel.name in OUTPUT_FILES)


def _ignored_label(rel: Path) -> str:
    """How a left-out file is reported: by the skipped folder holding it, by its top folder
    (``data/``), or by its own name at the top."""
    for depth, part in enumerate(rel.parts[:-1]):
        if part in SKIPPED_FOLDERS:
            return Path(*rel.parts[: depth + 1]).as_posix() + "/"
    return f"{rel.parts[0]}/" if len(rel.parts) > 1 else rel.name


def copy_plan(source: Path) -> CopyPlan:
    """Walk the hand-in `source` (links not followed) and decide file by file what is copied."""
    plan = CopyPlan()
    for folder, dirs, names in os.walk(source):
        rel_folder = Path(folder).relative_to(source)
        for name in list(dirs):
            if os.path.islink(os.path.join(folder, name)):
                dirs.remove(name)
                plan.links.append((rel_folder / name).as_posix())
        for name in names:
            rel = rel_folder / name
            stat = os.lstat(os.path.join(folder, name))
            if not (stat.st_mode & 0o170000 == 0o100000):  # not a regular file (link, fifo, ...)
                plan.links.append(rel.as_posix())
            elif needed_for_grading(rel, stat.st_size):
                plan.files.append(rel)
                plan.total += stat.st_size
            else:
                label = _ignored_label(rel)
                plan.ignored[label] = plan.ignored.get(label, 0) + stat.st_size
    return plan


def largest(plan: CopyPlan, source: Path, count: int = 3) -> str:
    """The `count` largest files the plan copies, with sizes: what to cut when it is too big."""
    sizes = sorted(((os.lstat(source / rel).st_size, rel) for rel in plan.files), reverse=True)
    return ", ".join(f"{rel.as_posix()} ({size_text(size)})" for size, rel in sizes[:count])
