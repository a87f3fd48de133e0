"""Build the Gradescope autograder zip: the kit (with the hidden graded tests), the hidden test data.

    kws gradescope --data DATA --out autograder.zip [--assignment speaker_id] [--tiers FILE]

The zip's root holds what Gradescope expects — ``setup.sh`` (run once to build the image) and
``run_autograder`` (run per submission), shipped in the package (``gradescope_scripts/``) — plus:

- ``kit/``: pyproject.toml, README.md and the ``kws`` package (installed by setup.sh), with the
  assignment folders, ``kws/assignments/<name>/``: their specs (the zip grades with the points,
  limits and tiers it was built with) and their graded tests (``grader/``);
- ``data/``: only what grading reads — the 12-class Speech Commands test set, the HW4 test
  utterances with ``mapping.json``, ``testdata.json`` and ``metadata.json``, and the hidden
  labels. Training data stays out (Gradescope has no GPU, so the re-training tests are skipped
  there). The test set loader needs the dataset folder to exist, so ``speech_commands_<version>/``
  is added with the (empty) word folders that tell the version;
- ``tiers.json`` when ``--tiers FILE`` was given.

The grading child's wall clock (``--child-timeout``) is raised in ``run_autograder`` when the
test sets are large enough to need it on Gradescope's half a CPU (`child_timeouts`).

The selection (``--assignment``) and the tier set (``--dataset`` / ``--tiers``) are checked
against the data when the zip is built, and baked into ``run_autograder``, so Gradescope grades
exactly what was checked.
"""

import shlex
import zipfile
from pathlib import Path

from kws.assignments import ASSIGNMENTS
from kws.grading.batch import check_grading_data
from kws.grading.layouts import files_to_zip, layout_of

KIT_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "gradescope_scripts"  # setup.sh, run_autograder

# benchmarks/bench_grading_memory.py: the reference hand-in (both notebooks) graded on synthetic
# test sets of the real sizes (4,890 clips; 8,000 HW4 utterances of ~775 frames), one torch
# thread, on 2 cores shared with other jobs. Memory: the summed RSS of the grader's process tree
# peaked at 1,349 MiB (2,250 before the test sets were streamed); 1,413 MiB is the sum of the
# per-process peaks of a speaker-ID run that got further (parent 524, child 885, bubblewrap 4).
# Time: each assignment's spec says what its grading child took ([grading], `Spec.grading`).
MEASURED = {"peak_mib": 1413, "largest_mib": 885}
DEFAULT_CHILD_TIMEOUT = 600  # the grader's --child-timeout
HALF_A_CPU = 2  # Gradescope's default container has half a CPU: twice the wall time of one


def test_set_sizes(data: Path) -> dict[str, int]:
    """Per assignment with a test set in `data`: its size in its data layout's units."""
    sizes = {name: layout_of(spec).test_set_size(data) for name, spec in ASSIGNMENTS.items()}
    return {name: size for name, size in sizes.items() if size}


def child_timeouts(data: Path, assignment: str | None = None) -> dict[str, int]:
    """Wall seconds each graded notebook's child needs on half a CPU, with a margin of 2 for
    hand-ins slower than the reference: the time its spec measured ([grading]) scaled by the
    test set's size, in whole minutes, at least the grader's default (the default alone for an
    assignment whose spec measured nothing)."""
    timeouts = {}
    for name, size in test_set_sizes(data).items():
        if assignment in (None, name):
            seconds = ASSIGNMENTS[name].grading.expected_seconds(size) or 0
            need = seconds * HALF_A_CPU * 2
            timeouts[name] = max(DEFAULT_CHILD_TIMEOUT, 60 * -(-int(need) // 60))
    return timeouts


def settings_advice(timeouts: dict[str, int] | None = None) -> str:
    """The container settings an instructor must choose on Gradescope, from the measured run
    and the zip's child timeouts (`child_timeouts`)."""
    memory_gb = -(-MEASURED["peak_mib"] * 1.25 // 1024)  # a quarter more, rounded up to a GB
    timeouts = timeouts or {name: DEFAULT_CHILD_TIMEOUT for name in ASSIGNMENTS}
    minutes = max(10, -(-(sum(timeouts.values()) + 120) // 60))  # + the grader's own start
    return (
        "Gradescope settings (Configure Autograder -> Autograder settings):\n"
        f"  memory: at least {memory_gb:.0f} GB. Grading one hand-in on real-size test sets "
        f"(synthetic) peaks at {MEASURED['peak_mib']:,} MiB summed over the grader's processes "
        f"(largest {MEASURED['largest_mib']:,} MiB); Gradescope's default 768 MB kills the run.\n"
        f"  timeout: at least {minutes:.0f} minutes: each notebook's grading child may take "
        + ", ".join(f"{name} {seconds:,} s" for name, seconds in sorted(timeouts.items()))
        + " (measured time x 2 for half a CPU x 2 for slower hand-ins; Gradescope's default is "
        "10 minutes on half a CPU).\n"
        "  Measure your own data with benchmarks/bench_grading_memory.py."
    )


def _add(archive: zipfile.ZipFile, path: Path, name: str, executable: bool = False) -> None:
    _add_text(archive, path.read_bytes(), name, executable)


def _add_text(archive: zipfile.ZipFile, content, name: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: reproducible zips
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, content)


def _add_dir(archive: zipfile.ZipFile, name: str) -> None:
    info = zipfile.ZipInfo(name.rstrip("/") + "/", date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o40755 << 16) | 0x10
    archive.writestr(info, b"")


def grading_data_files(data: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """(file, name in the zip) for the test data grading reads, and the empty folders the zip
    needs beside it, from each assignment's data layout; FileNotFoundError if none."""
    files, folders = [], []
    for spec in ASSIGNMENTS.values():
        more_files, more_folders = layout_of(spec).grading_files(data)
        files += [entry for entry in more_files if entry not in files]
        folders += [folder for folder in more_folders if folder not in folders]
    if not files:
        missing = "; ".join(layout_of(spec).missing(data) or "" for spec in ASSIGNMENTS.values())
        raise FileNotFoundError(
            f"{data} holds no test set of any assignment ({missing}); pass the data folder the "
            "grader uses"
        )
    return files, folders


def make_autograder(
    zip_path: Path,
    data: Path,
    *,
    assignment: str | None = None,
    dataset: str | None = None,
    tiers: Path | None = None,
    kit_root: Path = KIT_ROOT,
) -> Path:
    """Write the autograder zip to `zip_path` and return it (relative paths: the caller's).

    `assignment` (an assignment's name) grades only that notebook; by default a
    submission's every notebook is. `dataset` / `tiers` name the accuracy tier set for data the
    kit does not recognise (see `kws.grading.tiers`). Raises ValueError / FileNotFoundError,
    before writing anything, when the data cannot grade the selection.
    """
    zip_path, data, kit_root = (Path(p).resolve() for p in (zip_path, data, kit_root))
    options = check_grading_data(data, assignment, dataset=dataset, tiers=tiers)
    if tiers is not None:  # the zip's copy: run_autograder runs the grader in source/kit/
        options[options.index("--tiers") + 1] = "../tiers.json"
    longest = max(child_timeouts(data, assignment).values(), default=DEFAULT_CHILD_TIMEOUT)
    if longest > DEFAULT_CHILD_TIMEOUT:  # real-size test sets on half a CPU
        options += ["--child-timeout", str(longest)]
    scripts = kit_root / SCRIPTS.relative_to(KIT_ROOT)  # the zipped kit's own scripts
    run_script = (scripts / "run_autograder").read_text()
    baked = " ".join(shlex.quote(option) for option in options)
    run_script = run_script.replace("SELECTION=()", f"SELECTION=({baked})", 1)
    with zipfile.ZipFile(zip_path, "w") as archive:
        if tiers is not None:
            _add(archive, Path(tiers), "tiers.json")
        _add(archive, scripts / "setup.sh", "setup.sh", executable=True)
        _add_text(archive, run_script, "run_autograder", executable=True)
        for name in ("pyproject.toml", "README.md"):
            if (kit_root / name).is_file():
                _add(archive, kit_root / name, f"kit/{name}")
        for path in files_to_zip(
            kit_root / "kws"
        ):  # the graded tests too: kws/assignments/*/grader/
            _add(archive, path, f"kit/{path.relative_to(kit_root)}")
        files, folders = grading_data_files(data)
        for path, name in files:
            _add(archive, path, name)
        for folder in folders:
            _add_dir(archive, folder)
    return zip_path
