"""The student bundle: what an instructor hands out instead of the repository.

`build_bundle(OUT)` (the command `kws release OUT`) writes into OUT:

    README.md                    set-up for students: on their machine and on Colab, the data of
                                 each assignment, what to hand in
    01_keyword_spotting.ipynb    the student notebooks, made from solutions/ by `kws.notebooks`
    02_speaker_id.ipynb          (TODOs instead of solutions, no outputs)
    kws-0.1.0.tar.gz             the kit as a source distribution, which the notebooks' set-up cell
                                 installs where the kit is missing (`KIT_SOURCE`)
    OUT.zip                      all of the above under one folder (`kws release handout` writes
                                 handout/handout.zip, whose files are under handout/)

The kit's archive is built offline from a copy of `pyproject.toml`, `README.md` and `kws/` alone
(without the assignments' graded tests, ``kws/assignments/<name>/graded_tests/``, and the Gradescope
scripts), so nothing else of the repository can slip in. Before anything is written to OUT, `scan_bundle`
checks what was built: no `solutions/`, `grader/` or hidden test labels anywhere (inside the
archives too), no solution marker in a notebook or text file, and nothing in the kit's archive but
the package, its metadata and its README.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import nbformat

from kws.data.private_variant import PRIVATE_SUFFIX
from kws.notebooks import check_released, read_notebook, student_version

KIT_ROOT = Path(__file__).resolve().parents[2]  # the repository: pyproject.toml, solutions/, ...
KIT_SOURCE = re.compile(r'^(KIT_SOURCE = os\.environ\.get\("KWS_KIT_SOURCE", )"[^"]*"\)', re.M)
FORBIDDEN = (
    "solutions",
    "grader",
    "graded_tests",
    "speaker_features_hidden",
)  # folder names never handed out
# What the kit's archive may hold: the package's modules, setuptools' metadata, the README.
_KIT_FILES = re.compile(
    r"^kws-[^/]+/(PKG-INFO|setup\.cfg|pyproject\.toml|README\.md|kws/.*\.py|kws/assignments/\w+/spec\.toml|kws\.egg-info/.*)$"
)


class BundleError(ValueError):
    """The bundle cannot be built, or what was built holds something students must not get."""


def build_bundle(
    out: str | Path,
    *,
    solutions: str | Path | None = None,
    kit_url: str | None = None,
    force: bool = False,
) -> list[Path]:
    """Build the student bundle in the folder `out` (see the module docstring).

    Args:
        out: the folder to write; it must be empty or missing, unless `force`.
        solutions: the folder of solution notebooks (default: the kit's `solutions/`).
        kit_url: where students' notebooks install the kit from (e.g. the course website's copy
            of the archive); default: the archive in the bundle, next to the notebooks.
        force: write into a non-empty `out`, replacing the bundle's files; other files there are
            left alone and left out of the zip.

    Returns:
        the files written, the zip last.

    Raises:
        BundleError: `out` is not empty (without `force`) or holds the solutions; a solution
            notebook has no set-up cell; the scan found something students must not get.
    """
    out = Path(out)
    solutions = Path(solutions) if solutions is not None else KIT_ROOT / "solutions"
    _check_target(out, solutions, force)
    notebooks = sorted(solutions.glob("*.ipynb"))
    if not notebooks:
        raise BundleError(
            f"{solutions}: no solution notebooks (*.ipynb); pass --solutions with the folder that "
            "holds them, or run from a clone of the kit's repository"
        )
    with tempfile.TemporaryDirectory(prefix="kws-bundle-") as temporary:
        staging = Path(temporary) / "bundle"
        staging.mkdir()
        kit = _build_kit_archive(staging)
        titles = []
        for path in notebooks:
            student = student_version(read_notebook(path), name=str(path))
            _point_setup_at_kit(student, kit_url or kit.name, path)
            (staging / path.name).write_text(nbformat.writes(student), encoding="utf-8")
            titles.append((path.name, student.metadata.get("title", path.stem)))
        (staging / "README.md").write_text(student_readme(titles, kit.name), encoding="utf-8")
        name = out.resolve().name
        files = sorted(staging.iterdir())
        _zip(files, staging / f"{name}.zip", name)
        problems = scan_bundle(staging)
        if problems:
            raise BundleError("the bundle was not written: " + "; ".join(problems))
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for path in [*files, staging / f"{name}.zip"]:
            shutil.copyfile(path, out / path.name)
            written.append(out / path.name)
    _note_stale_assignments(solutions)
    return written


def _check_target(out: Path, solutions: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise BundleError(f"{out} is a file; give a folder for the bundle")
    resolved = out.resolve()
    if resolved == solutions.resolve() or resolved in solutions.resolve().parents:
        raise BundleError(
            f"{out} holds the solution notebooks ({solutions}); write the bundle to a folder of "
            "its own, e.g. handout/"
        )
    if out.is_dir() and any(out.iterdir()) and not force:
        raise BundleError(
            f"{out} is not empty; choose a new folder, or add --force to write the bundle's files "
            "into it (other files are left alone and left out of the zip)"
        )


def _build_kit_archive(folder: Path) -> Path:
    """The kit's source distribution, built offline from a copy of the package alone."""
    if not (KIT_ROOT / "pyproject.toml").is_file():
        raise BundleError(
            f"{KIT_ROOT} has no pyproject.toml: the kit is installed, not a checkout; run "
            "`kws release` from a clone of the kit's repository (pip install -e .)"
        )
    with tempfile.TemporaryDirectory(prefix="kws-sdist-") as temporary:
        source = Path(temporary)
        for name in ("pyproject.toml", "README.md"):
            shutil.copyfile(KIT_ROOT / name, source / name)
        # Each assignment's graded tests (kws/assignments/<name>/graded_tests/) stay with the grader,
        # and so do the Gradescope image's scripts (kws/grading/publish/gradescope/scripts/) and the
        # cluster's (kws/grading/classrun/slurm/), the marking page's (kws/grading/marking/static/),
        # and the measured figures `kws demo` and the docs quote (kws/figures.json): students need none.
        ignore = shutil.ignore_patterns(
            "__pycache__", "*.pyc", "graded_tests", "scripts", "slurm", "static", "figures.json"
        )
        shutil.copytree(KIT_ROOT / "kws", source / "kws", ignore=ignore)
        build = (
            "import sys, setuptools.build_meta as backend; print(backend.build_sdist(sys.argv[1]))"
        )
        done = subprocess.run(
            [sys.executable, "-c", build, str(folder.resolve())],
            cwd=source,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BundleError(
                f"building the kit's archive failed (setuptools' build_sdist):\n{done.stderr[-2000:]}"
            )
    return folder / done.stdout.strip().splitlines()[-1]


def _point_setup_at_kit(notebook: nbformat.NotebookNode, kit: str, path: Path) -> None:
    """Make the set-up cell's default KIT_SOURCE `kit` (the archive's name or its URL)."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and KIT_SOURCE.search(cell.source):
            cell.source = KIT_SOURCE.sub(lambda m: f'{m[1]}"{kit}")', cell.source, count=1)
            return
    raise BundleError(
        f"{path} has no set-up cell with a line "
        'KIT_SOURCE = os.environ.get("KWS_KIT_SOURCE", "..."): students on Colab could not '
        "install the kit; add the set-up cell of the kit's solutions/ notebooks"
    )


def _zip(files: list[Path], archive: Path, top: str) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in files:
            zipped.write(path, f"{top}/{path.name}")


def _note_stale_assignments(solutions: Path) -> None:
    assignments = solutions.parent / "assignments"
    if assignments.is_dir() and check_released(solutions, assignments):
        print(
            f"note: {assignments} is out of date (the bundle was made from {solutions}); "
            f"refresh it with: kws release {solutions} {assignments}"
        )


def scan_bundle(folder: str | Path) -> list[str]:
    """What in `folder` (files, and members of its .zip and .tar.gz archives, nested too) students
    must not get: a path through solutions/, grader/, graded_tests/, speaker_features_hidden/, a
    test-set folder or a private test set (``*_private/``); a solution marker in a notebook or text file; anything in the kit's archive but its
    package, metadata and README. An empty list means the bundle is clean."""
    problems: list[str] = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            _scan(path.relative_to(folder).as_posix(), path.read_bytes(), problems)
    return problems


def _scan(name: str, data: bytes, problems: list[str]) -> None:
    parts = name.split("/")
    if any(
        p in FORBIDDEN or p.startswith("speech_commands_test_set") or p.endswith(PRIVATE_SUFFIX)
        for p in parts
    ):
        problems.append(f"{name}: a folder students must not get")
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            for member in zipped.namelist():
                _scan(f"{name}/{member}", zipped.read(member), problems)
    elif name.endswith(".tar.gz"):
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                if not _KIT_FILES.match(member.name):
                    problems.append(f"{name}/{member.name}: not part of the kit's package")
                _scan(f"{name}/{member.name}", b"", problems)  # its path; the package is public
    elif name.endswith((".ipynb", ".md", ".txt", ".json", ".py", ".csv")):
        text = data.decode("utf-8", errors="replace")
        if "BEGIN SOLUTION" in text or "END SOLUTION" in text:
            problems.append(f"{name}: holds a solution marker")


def student_readme(notebooks: list[tuple[str, str]], kit: str) -> str:
    """The README.md of the bundle: set-up, data and hand-in, for `notebooks` [(file, title)]."""
    listing = "\n".join(f"- `{name}`: {title}" for name, title in notebooks)
    return f"""# Course notebooks: set-up

{listing}
- `{kit}`: the course kit (`kws`), which the notebooks use

Each notebook's **Set-up** cell, right after its settings, installs the kit where it is missing,
then fetches or checks the data. Run the notebooks from the top; fill in each `TODO` (it raises
`NotImplementedError` until you do) and run the self-check cell after each task.

## On your machine

Python 3.10 to 3.13. In this folder:

```bash
python -m venv .venv && . .venv/bin/activate    # Windows: .venv\\Scripts\\activate
pip install {kit} jupyterlab    # brings PyTorch (2.11 to 2.14) and the rest
jupyter lab
```

## On Google Colab

1. File → Upload notebook, and choose the notebook.
2. Runtime → Change runtime type → a GPU.
3. In the Files panel (the folder icon on the left), upload `{kit}` into `/content`, where the
   notebook runs. (If your instructor gave a web address for the kit, the notebook already installs
   from it: skip this step.)
4. Run the cells from the top. The Set-up cell installs the kit the first time; it keeps Colab's
   own PyTorch when that is 2.11 to 2.14 (otherwise it installs one: a few minutes, then restart
   the runtime when Colab asks).

A Colab runtime forgets its files when it stops: download what you want to keep (see *Hand in*),
or set `OUT_DIR` in the `parameters` cell to a folder of your Google Drive.

## The data

Settings come from the `parameters` cell, or from environment variables (`KWS_DATA_DIR`,
`KWS_OUT_DIR`, `KWS_STEPS`, ...).

- **Keyword spotting** needs Google Speech Commands v0.02 and its 12-class test set in `DATA_DIR`
  (default `data/`). The Set-up cell downloads them when they are missing (2.5 GB, with a progress
  bar; run the cell again to resume an interrupted download) and does nothing when they are there.
  On Colab keep `DATA_DIR` on the runtime's disk (`/content/data`): unpacking 105,000 clips into
  Google Drive is very slow.
- **Speaker identification** needs the course's HW4 feature folder (`metadata.json`,
  `testdata.json`, `mapping.json` and the `uttr-*.pt` files side by side), which your instructor
  hands out; the kit cannot download it. (Some training utterances of every speaker may be kept
  back: your models are graded on utterances you never had.) Unzip it into
  `data/speaker_features/` (the default
  `DATA_DIR`) or set `DATA_DIR` to where it is. On Colab, put it in your Google Drive and mount the
  Drive (`from google.colab import drive; drive.mount("/content/drive")`), then set `DATA_DIR` to
  the folder, e.g. `/content/drive/MyDrive/speaker_features`; or upload the zip and unzip it with
  `!unzip -q speaker_features.zip -d /content/data`. The Set-up cell checks the folder and says
  what is wrong with it.
- **Offline**, or to try a notebook in seconds, the kit writes synthetic data in the same layouts:
  `kws synth speech-commands data --preset small` and
  `kws synth speaker-features data --preset small` (then `DATA_DIR = data/speaker_features`).
  Accuracies on synthetic data say nothing about real speech.

## Hand in

Save the notebook, then run its last cell, *Ready to hand in?*. It checks the saved notebook and
what it wrote to `outputs/` the way the grader reads them (✓, or ✗ with the fix and the points at
stake), then writes `handin.zip`: the notebook and, per task, the `model.pt`, `config.json` and
`predictions.csv` it wrote, nothing else. Upload that file. On Colab the cell checks the
notebook as it is open and downloads the zip. From a terminal, in the notebook's folder:

```bash
kws handin 02_speaker_id.ipynb
```

The grader re-runs the cells tagged `model`: keep them self-contained and keep their tags.
"""
