"""Build the Gradescope autograder zip: the kit (with the hidden graded tests), the hidden test data.

The zip's root holds ``setup.sh`` and ``run_autograder`` (``scripts/``), ``kit/`` (the ``kws``
package with its assignments' specs and graded tests), ``data/`` (only what grading reads: the
test sets and their hidden labels), ``assignments/<name>/`` (the instructor's own assignment
folders), the ``--course`` file and ``plan.json``: the grading plan every submission is graded
under (`zip_plan`), made when the zip is built by the functions that plan every run
(`kws.grading.judge.planned`) and written as `kws grade` writes its grades folder's
(`kws.grading.records.plan`): the selection, the tier sets, the public test sets, the Kaggle
split, the written questions of every notebook and the season's digest. ``run_autograder``
passes it to the grader (``python -m kws.grading.command --plan``), which reads it with the same
reader and adds only the notebooks each submission holds. The container's settings (`plan`,
`settings_advice`) come from what each spec measured (``[grading]``), scaled to the zip's test
sets and CPU. docs/how-to/gradescope.md and docs/reference/gradescope-limits.md say more.
"""

import hashlib
import json
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from kws.compat import setup_script as setup_script_of
from kws.grading.judge.planned import decide_handins
from kws.grading.records.plan import KEPT_PLAN, plan_text
from kws.grading.season.course import read_course
from kws.grading.testsets.layouts import layout_of
from kws.grading.testsets.layouts.base import files_to_zip
from kws.spec import ASSIGNMENTS, KIT_FOLDER
from kws.spec import course as taught

KIT_ROOT = Path(__file__).resolve().parents[4]
SCRIPTS = Path(__file__).resolve().parent / "scripts"  # setup.sh, run_autograder
OWN_FOLDER = "assignments"  # in the zip: the instructor's own assignment folders
ZIP_PLAN = KEPT_PLAN  # in the zip: the plan every submission is graded under (`zip_plan`)
ZIP_DATA = "data"  # in the zip: the test data, which the plan names relative to its own folder

# Gradescope's documentation: a container has 768 MB, half a CPU and a 10-minute timeout by
# default; the timeout goes up to 40 minutes, memory and CPU up in the Autograder Settings, to
# these options.
MEMORY_OPTIONS_MB = (768, 1536, 3072, 6144)
CPU_OPTIONS = (0.5, 1.0, 2.0, 4.0)
DEFAULT_TIMEOUT_MINUTES, MAX_TIMEOUT_MINUTES = 10, 40
DEFAULT_CHILD_TIMEOUT = 600  # the grader's --child-timeout
SLOWER_HANDINS = 2  # a hand-in may take twice the reference's time (a larger model, ...)
MEMORY_HEADROOM = 1.2  # ... and a fifth more memory (its parameter and token caps bound it)
START_SECONDS = 30  # the container's start and run_autograder's own, before the grader


class SettingsError(ValueError):
    """No Gradescope setting grades the zip within its limits; the message says what to change."""


def graded_size(spec, data: Path) -> float:
    """What the grading child works through of `data`'s test set, in its layout's units: all of
    it, or when the accuracy comes from predictions.csv, the share a sample re-runs of the
    public test set and the whole private set beside it."""
    layout = layout_of(spec)
    size = layout.test_set_size(data)
    if spec.accuracy.from_csv:
        private = layout.private_set_size(data)
        items = layout.test_set_items(data)
        share = min(1.0, spec.accuracy.sample / items) if items else 0
        size = (size - private) * share + private
    return size


def cpu_seconds(
    data: Path, assignment: str | Collection[str] | None = None
) -> dict[str, float | None]:
    """Each graded notebook's expected CPU seconds for `data`'s test sets (its spec's measured
    cost, `kws.spec.GradingCost`, scaled to them); None for one whose spec measured nothing.
    `assignment`: one name or several (default: every notebook with a test set in `data`)."""
    chosen = {assignment} if isinstance(assignment, str) else assignment
    return {
        name: spec.grading.expected_seconds(graded_size(spec, data))
        for name, spec in ASSIGNMENTS.items()
        if layout_of(spec).test_set_size(data) and (chosen is None or name in chosen)
    }


def child_timeouts(
    data: Path, assignment: str | Collection[str] | None = None, cpu: float = 0.5
) -> dict[str, int]:
    """Wall seconds each graded notebook's child may take on `cpu` CPUs: its expected time
    there (`cpu_seconds`, on at most one CPU's worth) times `SLOWER_HANDINS`, in whole minutes,
    at least the grader's default (the default alone for a notebook its spec measured nothing
    of)."""
    timeouts = {}
    for name, seconds in cpu_seconds(data, assignment).items():
        need = (seconds or 0) / min(cpu, 1.0) * SLOWER_HANDINS
        timeouts[name] = max(DEFAULT_CHILD_TIMEOUT, 60 * -(-int(need) // 60))
    return timeouts


@dataclass(frozen=True)
class ContainerSettings:
    """Gradescope's settings for one zip: `cpu` and `memory_mb` of the container, `timeout`
    minutes; what they come from: each notebook's expected `seconds` on that CPU and the
    measured `peak_mib` (None: not measured)."""

    cpu: float
    memory_mb: int
    timeout: int
    seconds: dict[str, float]
    peak_mib: int | None


def plan(
    data: Path, assignment: str | Collection[str] | None = None, cpu: float = 0.5
) -> ContainerSettings:
    """The settings that grade `data`'s test sets on `cpu` CPUs: the smallest memory option
    that holds the measured peak with `MEMORY_HEADROOM`, and the timeout that lets a hand-in
    `SLOWER_HANDINS` times slower than the reference finish; SettingsError naming what to
    change when that is more than Gradescope's 40 minutes (or more memory than it offers)."""
    if cpu not in CPU_OPTIONS:
        raise SettingsError(f"--cpu {cpu}: Gradescope offers {', '.join(map(str, CPU_OPTIONS))}")
    seconds = {
        name: (each or 0) / min(cpu, 1.0) for name, each in cpu_seconds(data, assignment).items()
    }
    wall = START_SECONDS + SLOWER_HANDINS * sum(seconds.values())
    timeout = max(DEFAULT_TIMEOUT_MINUTES, -(-int(wall) // 60))
    if timeout > MAX_TIMEOUT_MINUTES:
        raise SettingsError(_too_slow(seconds, wall, cpu))
    peaks = [ASSIGNMENTS[name].grading.peak_mib for name in seconds]
    peak = max((p for p in peaks if p), default=None)
    need_mb = (peak or 0) * 2**20 / 1e6 * MEMORY_HEADROOM
    fits = [option for option in MEMORY_OPTIONS_MB if option >= need_mb]
    if not fits:
        raise SettingsError(
            f"grading needs about {need_mb:,.0f} MB, more than Gradescope's largest container "
            f"({MEMORY_OPTIONS_MB[-1]:,} MB); grade outside Gradescope with `kws grade`"
        )
    return ContainerSettings(cpu, fits[0], timeout, seconds, peak)


def _too_slow(seconds: dict[str, float], wall: float, cpu: float) -> str:
    """What to change when grading takes longer than Gradescope's 40 minutes on `cpu`."""
    each = ", ".join(f"{name} {s / 60:.0f} min" for name, s in sorted(seconds.items()))
    fixes = []
    if cpu < 1.0:
        fixes.append("give the container 1 CPU (`--cpu 1` here and in Gradescope's settings)")
    if len(seconds) > 1:
        slowest = max(seconds, key=seconds.get)
        fixes.append(f"grade {slowest} in a zip of its own (`--assignment {slowest}`)")
    fixes.append("use a smaller hidden test set, or a smaller [accuracy] sample in its spec")
    fixes.append("grade outside Gradescope with `kws grade`")
    return (
        f"a hand-in may need {wall / 60:.0f} minutes on {cpu} CPU ({each}, times "
        f"{SLOWER_HANDINS} for hand-ins slower than the reference), more than Gradescope's "
        f"{MAX_TIMEOUT_MINUTES}-minute limit; " + "; or ".join(fixes)
    )


def settings_advice(settings: ContainerSettings) -> str:
    """The container settings to choose on Gradescope for a zip (`plan`), and why."""
    mb = settings.memory_mb
    container = f"{settings.cpu:g} CPU, " + (f"{mb} MB" if mb < 1000 else f"{mb / 1024:g} GB")
    if (settings.cpu, settings.memory_mb) == (CPU_OPTIONS[0], MEMORY_OPTIONS_MB[0]):
        container += " (the default)"
    timeout = f"{settings.timeout} minutes"
    if settings.timeout == DEFAULT_TIMEOUT_MINUTES:
        timeout += " (the default)"
    unmeasured = [n for n in sorted(settings.seconds) if ASSIGNMENTS[n].grading.cpu_seconds is None]
    each = ", ".join(
        f"{name} {s / 60:.1f} min"
        for name, s in sorted(settings.seconds.items())
        if name not in unmeasured
    )
    peak = (
        f"its peak memory about {settings.peak_mib:,} MiB with the CPU build of torch (its "
        "spec's [grading] peak_mib)"
        if settings.peak_mib
        else "its memory was not measured"
    )
    if not each:  # nothing measured: no figure to give as advice
        return (
            f"Gradescope settings: not measured. Not measured: {', '.join(unmeasured)} (its spec "
            "has no [grading]), so nothing sizes the container or the timeout; `kws reference "
            "--data DATA --write-tiers` measures the grading of its reference hand-in and "
            "writes [grading] into its spec."
        )
    lines = [
        "Gradescope settings (Configure Autograder -> Autograder settings), for this zip's test "
        "sets:",
        f"  container: {container}",
        f"  timeout: {timeout}",
        f"  The reference hand-in takes {each} on {settings.cpu:g} CPU; the timeout lets a "
        f"hand-in take {SLOWER_HANDINS} times as long, and {peak} (synthetic test sets of "
        "these sizes; benchmarks/bench_grading_memory.py measures your own).",
    ]
    if unmeasured:  # a spec without [grading]: nothing to size the timeout from
        lines.append(
            f"  Not measured: {', '.join(unmeasured)} (its spec has no [grading]), so the "
            "timeout leaves its grading out; `kws reference --data DATA --write-tiers` "
            "measures its reference hand-in's grading and writes [grading] into its spec."
        )
    return "\n".join(lines)


def _add(archive: zipfile.ZipFile, content, name: str, executable: bool = False) -> None:
    """`content` (a file, or its text) as `name` in `archive`."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: reproducible zips
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, content.read_bytes() if isinstance(content, Path) else content)


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


def own_assignments() -> dict[str, Path]:
    """{name: folder} of the assignments outside the kit: the folders ``KWS_ASSIGNMENTS`` names
    (each an assignment folder or a folder of them), which the zip carries beside the kit."""
    own = {name: ASSIGNMENTS.folder(name) for name in ASSIGNMENTS}
    return {name: folder for name, folder in own.items() if folder.parent != KIT_FOLDER}


def zip_plan(
    data: Path,
    assignment: str | None = None,
    *,
    dataset: str | None = None,
    tiers: Path | None = None,
    course: Path | None = None,
) -> str:
    """The zip's ``plan.json``: the grading plan of every submission, made before any comes as
    `kws grade` makes a class's (`decide_handins`, `Decided.grader_plan`: the selection, the
    tier sets of `data`'s test sets, the public test sets, the Kaggle split of the `course`
    file checked on `data`, every notebook's written questions, the season's digest, the
    course's language) and
    written in the grades folder's shape (`kws.grading.records.plan.plan_text`), with no
    hand-in graded yet and its data folder the zip's own, `ZIP_DATA`. Raises as those do
    (FileNotFoundError, ValueError, CourseError, SplitError) naming what to change."""
    from kws.grading.season.inputs import SeasonInputs
    from kws.grading.season.times import Times

    rules = read_course(course, sorted(ASSIGNMENTS)) if course is not None else None
    decided = decide_handins(data, [], assignment, dataset=dataset, tiers=tiers)
    # Gradescope's own submission times, never a times file; the course file's late rule
    season = SeasonInputs(rules, Times(), False, course_file=course).digest()
    split = rules.split if rules else None
    language = rules.language if rules else None  # what students read on Gradescope
    graders = decided.grader_plan(data, [], split=split, split_from=rules.path if split else None,
                                  season=season, language=language)  # fmt: skip
    return plan_text(json.loads(graders.text()) | {"data": ZIP_DATA}, {})


def make_autograder(
    zip_path: Path,
    data: Path,
    *,
    assignment: str | None = None,
    dataset: str | None = None,
    tiers: Path | None = None,
    kit_root: Path = KIT_ROOT,
    cpu: float = 0.5,
    course: Path | None = None,
) -> Path:
    """Write the autograder zip to `zip_path` and return it (relative paths: the caller's).

    `assignment` grades only that notebook (default: every notebook of a submission);
    `dataset` / `tiers` name the accuracy tier set for data the kit does not recognise; `cpu`:
    the container's CPUs on Gradescope; `course`: a course file whose attempt limit and late
    rule ``run_autograder`` applies to every submission. Raises ValueError / FileNotFoundError,
    before writing anything, when the data cannot grade the selection (`zip_plan`),
    SettingsError when it cannot be graded within Gradescope's limits on `cpu` (`plan`)."""
    zip_path, data, kit_root = (Path(p).resolve() for p in (zip_path, data, kit_root))
    planned = zip_plan(data, assignment, dataset=dataset, tiers=tiers, course=course)
    plan(data, assignment, cpu)  # SettingsError before anything is written
    scripts = kit_root / SCRIPTS.relative_to(KIT_ROOT)  # the zipped kit's own scripts
    run_script = (scripts / "run_autograder").read_text()
    digest = hashlib.sha256(planned.encode("utf-8")).hexdigest()  # an edited plan is refused
    run_script = run_script.replace('PLAN_SHA256=""', f'PLAN_SHA256="{digest}"', 1)
    longest = max(child_timeouts(data, assignment, cpu).values(), default=DEFAULT_CHILD_TIMEOUT)
    if longest > DEFAULT_CHILD_TIMEOUT:  # a notebook needs longer on this CPU
        run_script = run_script.replace('CHILD_TIMEOUT=""', f'CHILD_TIMEOUT="{longest}"', 1)
    if course is not None:
        run_script = run_script.replace('COURSE=""', 'COURSE="course.toml"', 1)
    setup_script = setup_script_of((scripts / "setup.sh").read_text())  # kws.compat's pair
    if taught().named:  # the zip's assignments/ is the whole course: the kit's are left out
        run_script = run_script.replace("WHOLE_COURSE=0", "WHOLE_COURSE=1", 1)
        setup_script = setup_script.replace("WHOLE_COURSE=0", "WHOLE_COURSE=1", 1)
    with zipfile.ZipFile(zip_path, "w") as archive:
        _add(archive, planned, ZIP_PLAN)
        if course is not None:
            _add(archive, Path(course), "course.toml")
        _add(archive, setup_script, "setup.sh", executable=True)
        _add(archive, run_script, "run_autograder", executable=True)
        for name in ("pyproject.toml", "README.md"):
            if (kit_root / name).is_file():
                _add(archive, kit_root / name, f"kit/{name}")
        # the graded tests too: kws/assignments/*/graded_tests/
        for path in files_to_zip(kit_root / "kws"):
            _add(archive, path, f"kit/{path.relative_to(kit_root)}")
        for name, folder in own_assignments().items():  # KWS_ASSIGNMENTS: no copy in the kit
            for path in files_to_zip(folder):
                _add(archive, path, f"{OWN_FOLDER}/{name}/{path.relative_to(folder).as_posix()}")
        files, folders = grading_data_files(data)
        for path, name in files:
            _add(archive, path, name)
        for folder in folders:
            info = zipfile.ZipInfo(folder.rstrip("/") + "/", date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o40755 << 16) | 0x10
            archive.writestr(info, b"")
    return zip_path
