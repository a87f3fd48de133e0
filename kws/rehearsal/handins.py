"""The synthetic class's hand-ins, made from the kit's own reference solutions and kept.

    reference = reference_handin(folder / "class")      # data/ and submission/, made once
    write_class(folder / "class", stories)               # submissions/<student>/ per story

The reference hand-in is what `kws demo --preset tiny` makes (`kws.demo`): the tiny synthetic
datasets with their private test sets, and the solution notebooks run on them in the preset's
small budget, as a student runs them. Its scores are synthetic: the rehearsal rehearses the
arithmetic and the files, not accuracy. It is kept in ``class/reference/`` under the kit's
digest (`kit_digest`), so a second rehearsal reuses it.

Every hand-in of the class is that one, its files hard-linked (a class costs no copies), with
the story's mistake made in its own files (a file is replaced, never written through a link):

- ``todo``: the last solution region of a notebook's model cells put back as the TODO students
  got (`kws.notebooks.release_source`);
- ``no-outputs``: the notebooks without ``outputs/``;
- ``renamed-argument``: in the model cell of a notebook's first graded model class, the longest
  constructor argument its saved ``config.json`` names renamed (``dim_feedforward`` ->
  ``feedforward_dim``) after training, so the saved config no longer builds the model.

Which notebook a mistake is made in comes from the story; nothing here names an assignment.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
from pathlib import Path

import nbformat

from kws.notebooks import BEGIN, END, release_source
from kws.rehearsal.stories import REGRADED, Story
from kws.spec import ASSIGNMENTS, course

KIT = Path(__file__).resolve().parents[1]  # the kws package
ROOT = KIT.parent  # the clone
PRESET, SEED = "tiny", 0


def kit_digest() -> str:
    """sha256 of the kit's files (code, page templates, tier tables: every file of the package)
    and reference notebooks: what the reference hand-in and its grading depend on (a changed kit
    makes them again); the rehearsal's own code aside."""
    digest = hashlib.sha256()
    taught = course()  # the course's folders and solutions (KWS_COURSE), the kit's without
    paths = [*KIT.rglob("*"), *taught.solutions.glob("*.ipynb")]
    if taught.named:
        paths += [*taught.folder.rglob("*.py"), *taught.folder.rglob("*.toml")]
    paths = [path for path in paths if path.is_file() and path.suffix != ".pyc"]
    own = KIT / "rehearsal"  # this module's own folder
    for path in sorted(p for p in paths if "__pycache__" not in p.parts and own not in p.parents):
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        digest.update(name.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def reference_handin(folder: Path) -> tuple[Path, Path]:
    """(the data folder, the reference hand-in) under `folder`: kept from an earlier rehearsal
    of this kit, else made now as `kws demo --preset tiny` makes them (a minute or two)."""
    from kws.demo.progress import PhaseClock
    from kws.demo.run import Runner, make_data_and_run

    reference, stamp = Path(folder) / "reference", Path(folder) / "reference.json"
    data, submission = reference / "data", reference / "submission"
    key = {"kit": kit_digest(), "preset": PRESET, "seed": SEED}
    if stamp.is_file() and json.loads(stamp.read_text()) == key:
        return data, submission
    if not course().solutions.is_dir():
        raise FileNotFoundError(f"{course().solutions}: no reference notebooks; the rehearsal, "
                                "like kws demo, runs the course's solution notebooks (the kit's "
                                "from a clone of it)")  # fmt: skip
    shutil.rmtree(reference, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    make_data_and_run(Runner(submission, data, PRESET, SEED, None), PRESET, PhaseClock())
    stamp.write_text(json.dumps(key))
    return data, submission


def _replace(path: Path, nb: nbformat.NotebookNode) -> None:
    """Write `nb` to `path` as a new file: the old one may be a link to the reference's."""
    partial = path.with_name(path.name + ".partial")
    nbformat.write(nb, partial)
    os.replace(partial, path)


def _model_cells(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and "model" in c.metadata.get("tags", [])]


def leave_todo(notebook: Path) -> None:
    """Put the last solution region of the notebook's model cells back as its TODO."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in reversed(_model_cells(nb)):
        lines = cell.source.splitlines(keepends=True)
        begins = [i for i, line in enumerate(lines) if BEGIN.match(line.rstrip("\r\n"))]
        if begins:
            start = begins[-1]
            end = next(i for i in range(start, len(lines)) if END.match(lines[i].rstrip("\r\n")))
            todo = release_source("".join(lines[start : end + 1]))
            cell.source = "".join(lines[:start]) + todo + "".join(lines[end + 1 :])
            _replace(notebook, nb)
            return


def _configs(handin: Path) -> dict[str, dict]:
    """{class name: its saved constructor arguments} of the hand-in's ``outputs/*/config.json``."""
    found = {}
    for path in sorted((handin / "outputs").glob("*/config.json")):
        config = json.loads(path.read_text())
        if "class" in config and isinstance(config.get("kwargs"), dict):
            found[config["class"]] = config["kwargs"]
    return found


def _renamed(name: str) -> str:
    words = name.split("_")
    return "_".join(reversed(words)) if len(words) > 1 else f"{name}_value"


def rename_argument(handin: Path, notebook: Path, classes: list[str]) -> str | None:
    """Rename, in the first of `classes` the notebook's model cells define with an argument its
    saved config names, the longest such argument (its uses in ``__init__`` too); the old and
    new names as ``old -> new``, or None when no class has one."""
    nb, saved = nbformat.read(notebook, as_version=4), _configs(handin)
    for cell in _model_cells(nb):
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython lines: not this cell
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ClassDef) and node.name in classes):
                continue
            init = next((f for f in node.body if isinstance(f, ast.FunctionDef)
                         and f.name == "__init__"), None)  # fmt: skip
            named = [a.arg for a in init.args.args + init.args.kwonlyargs] if init else []
            named = [a for a in named if a in saved.get(node.name, {})]
            if not named:
                continue
            old = max(named, key=lambda a: ("_" in a, len(a)))
            spots = [n for n in ast.walk(init) if isinstance(n, ast.arg) and n.arg == old]
            spots += [n for n in ast.walk(init) if isinstance(n, ast.Name) and n.id == old]
            lines = [line.encode() for line in cell.source.splitlines(keepends=True)]
            for spot in sorted(spots, key=lambda n: (n.lineno, n.col_offset), reverse=True):
                row, col = spot.lineno - 1, spot.col_offset  # col: UTF-8 bytes
                lines[row] = (
                    lines[row][:col] + _renamed(old).encode() + lines[row][col + len(old) :]
                )
            cell.source = b"".join(lines).decode()
            _replace(notebook, nb)
            return f"{old} -> {_renamed(old)}"
    return None


def _link_copy(source: Path, target: Path, outputs: bool = True) -> None:
    """`source` into `target`, every file a hard link (a copy where the file system refuses)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    ignore = None if outputs else shutil.ignore_patterns("outputs")
    shutil.copytree(source, target, copy_function=link, ignore=ignore)


def write_handin(reference: Path, target: Path, story: Story) -> str | None:
    """`story`'s hand-in in `target`, made from the reference hand-in; what its mistake changed,
    in a few words (None without one)."""
    _link_copy(reference, target, outputs=story.mistake != "no-outputs")
    spec = ASSIGNMENTS.get(story.mistake_in) if story.mistake_in else None
    if story.mistake == "todo" and spec is not None:
        leave_todo(target / spec.notebook)
        return f"a TODO left in {spec.notebook}"
    if story.mistake == "renamed-argument" and spec is not None:
        renamed = rename_argument(target, target / spec.notebook, list(spec.model_tasks.values()))
        return f"{renamed} in {spec.notebook}" if renamed else None
    return "no outputs/" if story.mistake == "no-outputs" else None


def write_class(folder: Path, stories: list[Story], reference: Path) -> dict[str, str | None]:
    """The hand-in folders of `stories` in ``folder/submissions/`` (made afresh), and the
    regraded student's complete hand-in in ``folder/regrade/``; {student: what their mistake
    changed}."""
    submissions, regrade = Path(folder) / "submissions", Path(folder) / "regrade"
    for old in (submissions, regrade):
        shutil.rmtree(old, ignore_errors=True)
    submissions.mkdir(parents=True)
    made = {}
    for story in stories:
        if story.hands_in:
            made[story.student] = write_handin(reference, submissions / story.student, story)
        if story.student == REGRADED:
            _link_copy(reference, regrade / story.student)
    return made
