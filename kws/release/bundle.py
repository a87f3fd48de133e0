"""The student bundle: what an instructor hands out instead of the repository.

`build_bundle(OUT)` (the command `kws release bundle OUT`) writes into OUT, for the course
(``KWS_COURSE``; by default the kit's example course):

    README.md                    set-up for students: on their machine and on Colab, the data of
                                 each of the course's notebooks, what to hand in
    01_keyword_spotting.ipynb    the course's student notebooks, made from its solution notebooks
    02_speaker_id.ipynb          by `kws.release.notebooks` (TODOs instead of solutions, no
                                 outputs, the kit's set-up, self-check and hand-in cells)
    kws-0.1.0.tar.gz             the kit as a source distribution, with the course's assignments
                                 as its own, which the notebooks' set-up cell installs where the
                                 kit is missing (`KIT_SOURCE`)
    OUT.zip                      all of the above under one folder (`kws release bundle handout`
                                 writes handout/handout.zip, whose files are under handout/)

The kit's archive is built offline from a copy of `pyproject.toml`, `README.md` and `kws/` alone,
its ``kws/assignments/`` holding the course's assignment folders (their Python files, spec and
graded tests, which a student's ``kws handin`` runs; never a notebook), without the Gradescope
and cluster scripts, so nothing else of the repository can slip in. A student of any course so
has what a student of the kit's notebooks has: ``kws handin``, the self-checks, the settings.
Before anything is written to OUT, `scan_bundle` checks what was built: no `solutions/`,
`grader/` or hidden test labels anywhere (inside the archives too), no solution marker in a
notebook or text file, and nothing in the kit's archive but the package, its metadata and its
README.
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
from collections.abc import Collection
from pathlib import Path

import nbformat

from kws.data.private_variant import PRIVATE_SUFFIX
from kws.i18n import N_, speaking
from kws.i18n import gettext as _
from kws.release.leaks import reference_code_warnings
from kws.release.notebooks import stale_notebooks, student_notebook
from kws.spec import SPEC_FILE, Spec, assignments, course

KIT_ROOT = Path(__file__).resolve().parents[2]  # the repository: pyproject.toml, solutions/, ...
KIT_SOURCE = re.compile(r'^(KIT_SOURCE = os\.environ\.get\("KWS_KIT_SOURCE", )"[^"]*"\)', re.M)
FORBIDDEN = (
    "solutions",
    "grader",
    "speaker_features_hidden",
)  # folder names never handed out
# What the kit's archive may hold: the package's modules, setuptools' metadata, the README, the
# catalogs (the kit's messages; the notebooks' Markdown, taken from the student notebooks).
_KIT_FILES = re.compile(
    r"^kws-[^/]+/(PKG-INFO|setup\.cfg|pyproject\.toml|README\.md|kws/.*\.py|kws/assignments/\w+/spec\.toml|kws/locale/(\w+\.pot|\w+/LC_MESSAGES/\w+\.po)|kws\.egg-info/.*)$"
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
        solutions: the folder of solution notebooks (default: the course's ``solutions/``).
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
    solutions = Path(solutions) if solutions is not None else course().solutions
    _check_target(out, solutions, force)
    notebooks = sorted(solutions.glob("*.ipynb"))
    if not notebooks:
        raise BundleError(
            f"{solutions}: no solution notebooks (*.ipynb); pass --solutions with the folder that "
            "holds them, put them in the course's solutions/, or run from a clone of the kit"
        )
    registry = assignments()
    specs = {registry[name].notebook: registry[name] for name in registry}
    students = {path: student_notebook(path, specs.get(path.name)) for path in notebooks}
    with tempfile.TemporaryDirectory(prefix="kws-bundle-") as temporary:
        staging = Path(temporary) / "bundle"
        staging.mkdir()
        kit = _build_kit_archive(staging, [registry[name] for name in registry])
        titles = []
        for path, student in students.items():
            _point_setup_at_kit(student, kit_url or kit.name, path)
            (staging / path.name).write_text(nbformat.writes(student), encoding="utf-8")
            titles.append((path.name, student.metadata.get("title", path.stem)))
        fetching = [path.name for path, student in students.items() if _fetches(student)]
        tested = [path.name for path, student in students.items() if _has_test_cells(student)]
        chosen = [specs[n] for n, _ in titles if n in specs]
        language = next((spec.language for spec in chosen if spec.language), None)
        with speaking(language):  # the course's assignments', else KWS_LANGUAGE's
            readme = student_readme(titles, kit.name, chosen, fetching, tested)
        (staging / "README.md").write_text(readme, encoding="utf-8")
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


def bundled(solutions: str | Path | None = None) -> list[str]:
    """The assignments of the course whose notebooks a bundle of `solutions` (default: the
    course's solution notebooks) holds."""
    solutions = Path(solutions) if solutions is not None else course().solutions
    registry = assignments()
    return [name for name in registry if (solutions / registry[name].notebook).is_file()]


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


def _build_kit_archive(folder: Path, specs: list[Spec]) -> Path:
    """The kit's source distribution, built offline from a copy of the package alone, its
    ``kws/assignments/`` holding the assignments of `specs` (`_copy_assignments`)."""
    if not (KIT_ROOT / "pyproject.toml").is_file():
        raise BundleError(
            f"{KIT_ROOT} has no pyproject.toml: the kit is installed, not a checkout; run "
            "`kws release` from a clone of the kit's repository (pip install -e .)"
        )
    with tempfile.TemporaryDirectory(prefix="kws-sdist-") as temporary:
        source = Path(temporary)
        for name in ("pyproject.toml", "README.md"):
            shutil.copyfile(KIT_ROOT / name, source / name)
        # The Gradescope image's scripts (kws/grading/publish/gradescope/scripts/) and the
        # cluster's (kws/grading/classrun/slurm/), the marking page's (kws/grading/marking/static/),
        # the instructor's pages' templates (kws/templates/), the empty data folder of a written-
        # only run (kws/grading/testsets/no_data/), and the measured figures `kws demo` and the
        # docs quote (kws/figures.json) stay with the instructor: students need none. The
        # course's assignments take the place of the kit's own.
        ignore = shutil.ignore_patterns(
            "__pycache__",
            "*.pyc",
            "scripts",
            "slurm",
            "static",
            "templates",
            "no_data",
            "figures.json",
            "assignments",
        )
        shutil.copytree(KIT_ROOT / "kws", source / "kws", ignore=ignore)
        _copy_assignments(specs, source / "kws" / "assignments")
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


def _copy_assignments(specs: list[Spec], target: Path) -> None:
    """Each assignment folder of `specs` into `target` (the archive's ``kws/assignments/``) as a
    package of the kit: its spec and Python files, its graded tests included (what a student's
    ``kws handin`` runs), ``__init__.py`` files where it has none; its other files are left out
    and named."""
    target.mkdir(parents=True)
    (target / "__init__.py").write_text('"""The assignments of the course, one folder each."""\n')
    left_out, kept = [], []
    for spec in specs:
        for path in sorted(spec.folder.rglob("*")):
            relative = path.relative_to(spec.folder)
            if not path.is_file() or "__pycache__" in relative.parts:
                continue
            if path.suffix != ".py" and relative != Path(SPEC_FILE):
                left_out.append(f"{spec.folder.name}/{relative.as_posix()}")
                continue
            if path == spec.grader_checks_file:  # the grader's checks: never in the bundle
                kept.append(f"{spec.folder.name}/{relative.as_posix()}")
                continue
            (target / spec.name / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / spec.name / relative)
        for package in (target / spec.name, target / spec.name / "graded_tests"):
            if package.is_dir() and not (package / "__init__.py").is_file():
                (package / "__init__.py").write_text(f'"""{spec.title}."""\n')
    if left_out:
        print(f"note: left out of the kit's archive (it takes each assignment folder's Python "
              f"files and {SPEC_FILE}): {', '.join(left_out)}")  # fmt: skip
    if kept:
        print(f"kept with the grader, not in the kit's archive: {', '.join(kept)} (their "
              "numeric checks run when you grade; the self-check names them)")  # fmt: skip
    for spec in specs if course().named else ():  # the kit's own checks are public by design
        for warning in reference_code_warnings(spec):
            print(f"Warning: {warning}")


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
    """Say when the course's student notebooks' folder is out of date with the solution notebooks
    the bundle was made from (only those of the course: another folder has no such folder)."""
    taught = course()
    if solutions.resolve() != taught.solutions.resolve() or not taught.students.is_dir():
        return
    if stale_notebooks(solutions, taught.students):
        print(
            f"note: {taught.students} is out of date (the bundle was made from {solutions}); "
            f"refresh it with: kws release notebooks {taught.students}"
        )


def scan_bundle(folder: str | Path) -> list[str]:
    """What in `folder` (files, and members of its .zip and .tar.gz archives, nested too) students
    must not get: a path through solutions/, grader/, speaker_features_hidden/, a
    test-set folder or a private test set (``*_private/``); a solution marker in a notebook or text file; anything in the kit's archive but its
    package, metadata and README. An empty list means the bundle is clean."""
    problems: list[str] = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            _scan(path.relative_to(folder).as_posix(), path.read_bytes(), problems)
    return problems


def _has_test_cells(nb: nbformat.NotebookNode) -> bool:
    """Whether the notebook holds one of nbgrader's autograded test cells (a code cell graded,
    not a solution): code answers its tests check, beside any written one."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            return True
    return False


def _fetches(nb: nbformat.NotebookNode) -> bool:
    """Whether the notebook's code downloads Speech Commands itself (``prepare_keyword_data``)."""
    return any(c.cell_type == "code" and "prepare_keyword_data(" in c.source for c in nb.cells)


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


KEYWORD_DATA = N_(
    "- **{names}**: Google Speech Commands v0.02 and its 12-class test set in `DATA_DIR`\n"
    "  (default `data/`). {fetch} (2.5 GB, with a progress bar; run it again to resume an\n"
    "  interrupted download); it does nothing when they are there. On Colab keep `DATA_DIR` on\n"
    "  the runtime's disk (`/content/data`): unpacking 105,000 clips into Google Drive is very\n"
    "  slow."
)
# How the keyword data arrives: the notebook's own cell that calls prepare_keyword_data, or the
# same call run by the student (a notebook that does not make it, as `kws assign` writes one).
FETCH_IN_NOTEBOOK = N_(
    "The notebook's *Data* cell (`prepare_keyword_data(DATA_DIR)`) downloads them"
)
FETCH_BY_HAND = N_("Download them before you start, once the kit is installed: `{command}`")
FETCH_COMMAND = (
    "python -c \"from kws.data.prepare import prepare_keyword_data; prepare_keyword_data('data')\""
)
SPEAKER_DATA = N_(
    "- **{names}**: the course's HW4 feature folder (`metadata.json`,\n"
    "  `testdata.json`, `mapping.json` and the `uttr-*.pt` files side by side), which your\n"
    "  instructor hands out; the kit cannot download it. (Some training utterances of every\n"
    "  speaker may be kept back: your models are graded on utterances you never had.) Unzip it\n"
    "  into `data/speaker_features/` (the default `DATA_DIR`) or set `DATA_DIR` to where it is.\n"
    "  On Colab, put it in your Google Drive and mount the Drive\n"
    '  (`from google.colab import drive; drive.mount("/content/drive")`), then set `DATA_DIR` to\n'
    "  the folder, e.g. `/content/drive/MyDrive/speaker_features`; or upload the zip and unzip it\n"
    "  with `!unzip -q speaker_features.zip -d /content/data`. The Set-up cell checks the folder\n"
    "  and says what is wrong with it."
)
SYNTH = {"speech_commands": "kws synth speech-commands data --preset small",
         "hw4": "kws synth speaker-features data --preset small"}  # fmt: skip


def _data_section(specs: list[Spec], fetching: Collection[str] = ()) -> str:
    """The README's data items: one per data layout of `specs`' notebooks (Speech Commands, the
    HW4 features, or what a spec's ``[data] how_to_get`` says), and the synthetic twins;
    `fetching`: the notebooks whose own code downloads Speech Commands."""
    by_layout: dict[str, list[Spec]] = {}
    for spec in specs:
        by_layout.setdefault(str(spec.data.get("layout", "")), []).append(spec)
    items = []
    for layout, group in by_layout.items():
        names = ", ".join(f"`{spec.notebook}`" for spec in group)
        if layout == "speech_commands":
            by_notebook = all(spec.notebook in fetching for spec in group)
            fetch = (_(FETCH_IN_NOTEBOOK) if by_notebook
                     else _(FETCH_BY_HAND).format(command=FETCH_COMMAND))  # fmt: skip
            items.append(_(KEYWORD_DATA).format(names=names, fetch=fetch))
        elif layout == "hw4":
            items.append(_(SPEAKER_DATA).format(names=names))
        else:
            for spec in group:
                how = spec.data.get("how_to_get") or _("your instructor hands it out")
                said = _("- **`{notebook}`** needs its data in `DATA_DIR`: {how}")
                items.append(said.format(notebook=spec.notebook, how=how))
    twins = [SYNTH[layout] for layout in by_layout if layout in SYNTH]
    if twins:
        commands = " and\n  ".join(f"`{command}`" for command in twins)
        folder = _(" (then `DATA_DIR = data/speaker_features`)") if "hw4" in by_layout else ""
        offline = _("- **Offline**, or to try a notebook in seconds, the kit writes synthetic "
                    "data in the same layouts:\n  {commands}{folder}.\n  Accuracies on synthetic "
                    "data say nothing about real speech.")  # fmt: skip
        items.append(offline.format(commands=commands, folder=folder))
    return "\n".join(items)


def student_readme(
    notebooks: list[tuple[str, str]],
    kit: str,
    specs: list[Spec] = (),
    fetching: Collection[str] = (),
    tested: Collection[str] = (),
) -> str:
    """The README.md of the bundle: set-up, data and hand-in, for `notebooks` [(file, title)] of
    the assignments `specs` (the course's: its data, its notebooks' names); `fetching`: the
    notebooks whose code downloads their data (``prepare_keyword_data``); `tested`: those with
    nbgrader's autograded test cells. When every notebook is written-only (`Spec.written_only`:
    no task, no numeric check, so no data, no model and no ``parameters`` cell), it asks for no
    data, no GPU and no settings (`_written_readme`)."""
    listing = "\n".join(f"- `{name}`: {title}" for name, title in notebooks)
    example = notebooks[0][0] if notebooks else "NOTEBOOK.ipynb"
    kit_line = _("- `{kit}`: the course kit (`kws`), which the notebooks use").format(kit=kit)
    head = ["# " + _("Course notebooks: set-up"), f"{listing}\n{kit_line}"]
    install = [
        "## " + _("On your machine"),
        _("Python 3.10 to 3.13. In this folder:"),
        README_INSTALL.format(kit=kit, brings=_("brings PyTorch (2.11 to 2.14) and the rest")),
        "## " + _("On Google Colab"),
    ]
    handin = f"```bash\nkws handin {example}\n```"
    described = {spec.notebook for spec in specs}
    if (
        notebooks
        and all(name in described for name, _title in notebooks)
        and all(spec.written_only for spec in specs)
    ):
        return _written_readme(head, install, handin, kit, any(tested))
    parts = [
        *head,
        _(README_START),
        *install,
        _(README_COLAB).format(kit=kit),
        _(README_COLAB_FILES),
        "## " + _("The data"),
        _(README_SETTINGS),
        _data_section(list(specs), fetching),
        "## " + _("Hand in"),
        _(README_HANDIN),
        handin,
        _("The grader re-runs the cells tagged `model`: keep them self-contained and keep their "
          "tags."),
    ]  # fmt: skip
    return "\n\n".join(parts) + "\n"


def _written_readme(head: list[str], install: list[str], handin: str, kit: str, tested: bool):
    """The README of a bundle whose notebooks are all written-only: the Set-up cell first, no
    data, no GPU, no ``parameters`` cell; `tested`: some notebook has nbgrader's autograded
    test cells (code answers too, so not "written answers only")."""
    start = README_NO_MODEL_START if tested else README_WRITTEN_START
    parts = [*head, _(start), *install, _(README_COLAB_WRITTEN).format(kit=kit),
             _("A Colab runtime forgets its files when it stops: download what you want to keep "
               "(see *Hand in*)."),
             "## " + _("Hand in"), _(README_HANDIN_WRITTEN), handin]  # fmt: skip
    return "\n\n".join(parts) + "\n"


README_START = N_(
    "Each notebook's **Set-up** cell, before its settings, installs the kit where it is missing. "
    "Run\nthe notebooks from the top; fill in each `TODO` (it raises `NotImplementedError` until "
    "you do) and\nrun the self-check cell after each task: it checks your code the way the "
    "grader does."
)
README_WRITTEN_START = N_(
    "These notebooks have written answers only: there is no model to train, so you need no data, "
    "no GPU\nand no `parameters` cell. Each notebook's **Set-up** cell comes first: run it, and it "
    "installs the kit\nwhere it is missing. Then write each answer in the cell below its "
    "question."
)
README_NO_MODEL_START = N_(
    "These notebooks train no model: you need no data, no GPU and no `parameters` cell. Each "
    "notebook's\n**Set-up** cell comes first: run it, and it installs the kit where it is "
    "missing. Then run the\nnotebook from the top and answer each question in the cells below it; "
    "the notebook's own tests\ncheck your code."
)
README_INSTALL = """```bash
python -m venv .venv && . .venv/bin/activate    # Windows: .venv\\Scripts\\activate
pip install {kit} jupyterlab    # {brings}
jupyter lab
```"""
README_COLAB = N_(
    "1. File → Upload notebook, and choose the notebook.\n"
    "2. Runtime → Change runtime type → a GPU.\n"
    "3. In the Files panel (the folder icon on the left), upload `{kit}` into `/content`, where "
    "the\n   notebook runs. (If your instructor gave a web address for the kit, the notebook "
    "already installs\n   from it: skip this step.)\n"
    "4. Run the cells from the top. The Set-up cell installs the kit the first time; it keeps "
    "Colab's\n   own PyTorch when that is 2.11 to 2.14 (otherwise it installs one: a few "
    "minutes, then restart\n   the runtime when Colab asks)."
)
README_COLAB_WRITTEN = N_(
    "1. File → Upload notebook, and choose the notebook. (No GPU needed: keep the default "
    "runtime.)\n"
    "2. In the Files panel (the folder icon on the left), upload `{kit}` into `/content`, where "
    "the\n   notebook runs. (If your instructor gave a web address for the kit, the notebook "
    "already installs\n   from it: skip this step.)\n"
    "3. Run the Set-up cell first, then the cells below it. The Set-up cell installs the kit the "
    "first time;\n   it keeps Colab's own PyTorch when that is 2.11 to 2.14 (otherwise it "
    "installs one: a few\n   minutes, then restart the runtime when Colab asks)."
)
README_COLAB_FILES = N_(
    "A Colab runtime forgets its files when it stops: download what you want to keep (see *Hand "
    "in*),\nor set `OUT_DIR` in the `parameters` cell to a folder of your Google Drive."
)
README_SETTINGS = N_(
    "Settings come from the `parameters` cell, or from environment variables (`KWS_DATA_DIR`,\n"
    "`KWS_OUT_DIR`, `KWS_STEPS`, ...)."
)
README_HANDIN = N_(
    "Save the notebook, then run its last cell, *Ready to hand in?*. It checks the saved "
    "notebook and\nwhat it wrote to `outputs/` the way the grader reads them (✓, or ✗ with the "
    "fix and the points at\nstake), then writes `handin.zip`: the notebook and, per task, the "
    "`model.pt`, `config.json` and\nthe other files grading reads, nothing else. Upload that "
    "file. On Colab the cell checks the\nnotebook as it is open and downloads the zip. From a "
    "terminal, in the notebook's folder:"
)
README_HANDIN_WRITTEN = N_(
    "Save the notebook, then run its last cell, *Ready to hand in?*. It checks the saved "
    "notebook the way\nthe grader reads it (each written question answered), then writes "
    "`handin.zip`, the file to upload.\nOn Colab the cell checks the notebook as it is open and "
    "downloads the zip. From a terminal, in the\nnotebook's folder:"
)
