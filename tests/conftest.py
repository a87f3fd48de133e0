import fcntl
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from course_helpers import NOTEBOOK_STEPS, ROOT, notebook_env

PLUGINS = str(Path(__file__).resolve().parent / "plugins")
sys.path.insert(0, PLUGINS)
from recorded_children import (  # noqa: E402
    ALL_REAL,
    CHILDREN_SEEN,
    children_seen,
    grader_options,
    save_records,
    stale_records,
)

# The full run's test groups that take longest, started first on parallel workers so that no
# worker is left with a long one at the end (the corpus: about 11 CPU-s a hand-in, 57 of them in
# bubblewrap); the others follow in collection order.
LONGEST_FIRST = (
    "corpus-bubblewrap",
    "corpus-hand-written",
    "tests/test_instructor_commands.py",
    "tests/test_grader_corpus.py",
    "tests/test_demo.py",
    "tests/test_rehearsal.py",
    "tests/test_own_tutorial.py",
    "tests/test_batch.py",
)
# The default run's first groups: the bubblewrap corpus on one worker (it builds the reference
# hand-in, half a minute of notebooks, then grades its sample), and on the other the sandbox's
# own tests, which need no set-up, so that it is not left waiting for the reference; then the
# groups that read the graded class (`real_class`, built after the reference).
DEFAULT_FIRST = (
    "corpus-bubblewrap",
    "tests/test_sandbox.py",
    "tests/test_grader_corpus.py",
    "corpus-hand-written",
)
# Modules of long tests that share no costly set-up (a module fixture that copies the session's
# data): each test is a group of its own, so both workers share the module instead of one worker
# running it test after test (the instructor commands: about 7 minutes of grading on one worker).
SPLIT = ("tests/test_instructor_commands.py", "tests/test_demo.py")
CORPUS_MODULE = "tests/test_grader_corpus.py"  # its tests take the sandbox as their one parameter
# Each test file's CPU seconds, held to its budget after the default run (tests/cpu_budget.py).
pytest_plugins = ["cpu_budget"]
# Data the tests read, never tests: tests/data/toy_layout/ holds an assignment folder whose graded
# tests (graded_tests/test_*.py) only the grader runs, on a hand-in (tests/test_toy_layout.py).
collect_ignore = ["data"]


def pytest_configure(config):
    # The grader corpora's graders load tests/plugins/recorded_children.py (their children's
    # reports, recorded); every report a grader saw goes into one folder of the run, which
    # pytest-xdist's workers inherit from the controller, configured first.
    if PLUGINS not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(
            part for part in (PLUGINS, os.environ.get("PYTHONPATH")) if part
        )
    # A run of its own (not a worker) starts its own folder, and removes it at its end: a test's
    # nested pytest run never reads, or removes, the reports of the run that started it.
    if not os.environ.get("PYTEST_XDIST_WORKER") or not os.environ.get(CHILDREN_SEEN):
        os.environ[CHILDREN_SEEN] = tempfile.mkdtemp(prefix="kws-children-")
    if config.getoption("record_children") or full_run(config):
        os.environ[ALL_REAL] = "1"  # the full run grades every hand-in with a real child
    # pytest-xdist's --dist loadgroup (the README's command): the groups go to the workers in the
    # order set below, not largest first by their number of tests.
    if getattr(config.option, "dist", "no") == "loadgroup":
        config.option.loadscopereorder = False
    # -n auto starts one worker a core: one torch thread each, in the worker and in every process
    # it starts (notebooks, graders, and their grading children: kws.grading.sandbox.cores's
    # child_threads). Idle OpenMP threads spin, taking the CPU from the other worker. Without
    # -n too, the processes a test starts get one thread: the grading children's limits, which
    # key their records, are then those of the recording, however the suite is run.
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = "1"
        if os.environ.get("PYTEST_XDIST_WORKER"):
            torch.set_num_threads(1)


def worker_group(nodeid: str) -> str:
    """The tests that must share one worker: a module's (each test alone in `SPLIT`), or a corpus
    graded in one sandbox (`tests/test_grader_corpus.py::test_name[SANDBOX]`). Read from the
    test's id alone: pytest-xdist's controller, which deals out the tests, knows nothing else."""
    module, _, test = nodeid.partition("::")
    if module == CORPUS_MODULE and test.endswith("]"):
        return f"corpus-{test[test.index('[') + 1 : -1]}"
    return nodeid if module in SPLIT else module


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, called where it is installed
def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup by `worker_group`. pytest-xdist's own reads the group from an ``@GROUP``
    suffix it writes into each test id, which pytest 9.2 no longer lets it change: every test
    became a group of its own and both workers graded each corpus (a 3-minute fixture) twice."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    return GroupScheduling(config, log)


def pytest_addoption(parser):
    parser.addoption(
        "--record-children",
        action="store_true",
        help="grade every corpus hand-in with a real child and record its report into "
        "tests/data/grading_children.json.gz (tests/plugins/recorded_children.py)",
    )
    parser.addoption(
        "--full",
        action="store_true",
        help="the full run: every case of the grader corpora (the default grades a sample that "
        "covers every kind of verdict), the tests marked `full` and the benchmark scripts' "
        "tests (marked `benchmark`); what CI runs",
    )
    parser.addoption(
        "--full-rest",
        action="store_true",
        help="the part of the full run that the default run leaves out: the tests marked `full` "
        "or `benchmark`, and every test that reads the full switch (the grader corpora, graded "
        "whole); the default run then this one run what --full runs (CI: each tier's coverage)",
    )


def full_run(config) -> bool:
    """True for the full run (``--full``) and for its rest (``--full-rest``)."""
    return bool(config.getoption("full") or config.getoption("full_rest"))


def in_default_run(item) -> bool:
    """Whether the default run runs `item` as the full run does: not marked `full` or
    `benchmark`, and blind to the full switch (its fixtures never ask for `full`)."""
    marked = "full" in item.keywords or "benchmark" in item.keywords
    return not marked and "full" not in getattr(item, "fixturenames", ())


def _leave_out(config, items, marker: str) -> None:
    """Deselect the tests marked `marker`."""
    left_out = [item for item in items if marker in item.keywords]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if marker not in item.keywords]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # Tests marked `benchmark` (the benchmark scripts' own, tests/test_benchmarks.py) run in the
    # full run (what CI runs) and when `-m` names them (`pytest -m benchmark`): the README's
    # test command checks the kit, not the research scripts beside it.
    if not full_run(config) and "benchmark" not in (config.getoption("markexpr") or ""):
        _leave_out(config, items, "benchmark")
    # Tests marked `full` run in the full run only; the grader corpora read `full_run` themselves.
    if not full_run(config):
        _leave_out(config, items, "full")
    if config.getoption("full_rest"):  # what the default run already ran, as the full run would
        ran = [item for item in items if in_default_run(item)]
        if ran:
            config.hook.pytest_deselected(items=ran)
            items[:] = [item for item in items if not in_default_run(item)]
    first = LONGEST_FIRST if full_run(config) else DEFAULT_FIRST
    rank = {group: number for number, group in enumerate(first)}

    def order(item) -> int:  # a split module's tests keep the module's place
        return rank.get(worker_group(item.nodeid), rank.get(item.nodeid.split("::")[0], len(rank)))

    items.sort(key=order)  # stable: the rest in collection order
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU: none is visible on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(params=["bubblewrap", "hand-written"])
def sandbox(request, monkeypatch):
    """Each test runs in both sandboxes: bubblewrap where installed, and the fallback."""
    from kws.grading.sandbox import bwrap

    bwrap.available.cache_clear()
    if request.param == "bubblewrap" and bwrap.available() is None:
        pytest.skip("no working bubblewrap here (or KWS_SANDBOX=builtin): the hand-written "
                    "sandbox is tested")  # fmt: skip
    if request.param == "hand-written":
        monkeypatch.setenv("KWS_SANDBOX", "builtin")
    bwrap.available.cache_clear()
    yield request.param
    bwrap.available.cache_clear()


@pytest.fixture(params=["cpu", "cpu:0", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test body on the CPU, on the CPU named with an index, and on CUDA when one is present.

    ``cpu:0`` is the CPU stand-in for a GPU named without its index (`kws.device`): a tensor put on
    ``torch.device("cpu:0")`` reports ``cpu``, as one put on ``torch.device("cuda")`` reports
    ``cuda:0``, so code that compares a device as named with a tensor's fails here first."""
    return torch.device(request.param)


def pytest_sessionfinish(session):
    """The controller (or pytest alone): with --record-children, the records of this run's
    children join those of the current kit; otherwise a run whose records are of this kit and
    this torch, yet lack a hand-in it graded, fails (`stale_records`): it was slower than it
    says, and the records no longer cover what the suite grades."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    seen = children_seen()
    if session.config.getoption("record_children"):
        if seen:
            save_records(seen)
    elif stale_records(seen.values()) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    """Say what the default run left out, and the switch that runs it; how many grading
    children ran for real, and how many were replayed from their records."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        seen = children_seen().values()
        kinds = Counter(entry["kind"] for entry in seen)
        if kinds:
            terminalreporter.write_line(
                f"Grading children: {kinds['real'] + kinds['unrecorded']} real, "
                f"{kinds['replayed']} from their "
                "records (tests/plugins/recorded_children.py)."
            )
        unrecorded = sorted({e["hand_in"] for e in seen if e["kind"] == "unrecorded"})
        stale = stale_records(seen) if not config.getoption("record_children") else []
        if stale:
            terminalreporter.write_line(
                f"FAILED: {len(stale)} hand-ins had no record of this kit, and a real child: "
                f"{', '.join(stale)}. The records are incomplete (or this run's OMP_NUM_THREADS "
                "is not the recording's 1): record them again (tests/plugins/recorded_children.py "
                "says how) and commit the file.",
                red=True,
            )
        elif unrecorded:
            terminalreporter.write_line(
                f"{len(unrecorded)} hand-ins had no record, and a real child: "
                f"{', '.join(unrecorded)} (--record-children records them)."
            )
        shutil.rmtree(os.environ.get(CHILDREN_SEEN, ""), ignore_errors=True)
    if not full_run(config):
        terminalreporter.write_line(
            "The default run: a sample of each grader corpus, and no test marked `full`; "
            "--full runs them all (as CI does; docs/development/tests.md)."
        )


@pytest.fixture(scope="session")
def full(request) -> bool:
    """True in the full run (``--full``): the grader corpora grade every case, not a sample."""
    return full_run(request.config)


# ---- synthetic data and the reference submission, built once per test run ---------------------


def _built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """`build(folder)` run once per test run, however many pytest-xdist workers ask for it: the
    first builds it under a lock in the run's temporary folder, which every worker shares; the
    others wait, then reuse it. Callers copy what they change (tests may run at the same time)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half-way
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """The `tiny` synthetic Speech Commands and HW4 features (seed 0), with hidden test labels."""
    from kws.data.synthetic import make_speaker_features, make_speech_commands

    def build(root: Path) -> None:
        make_speech_commands(root, "tiny", seed=0)
        make_speaker_features(root, "tiny", seed=0)

    return _built_once(tmp_path_factory, "tiny-data", build)


@pytest.fixture(scope="session")
def reference_submission(tiny_data, tmp_path_factory) -> Path:
    """A student's hand-in made from the solution notebooks: every one, executed on the tiny
    data, with what they wrote under outputs/."""
    from kws.notebooks import execute_notebook

    def run(name: str, folder: Path) -> None:
        shutil.copy(ROOT / "solutions" / name, folder / name)
        env = notebook_env(name, tiny_data, folder / "outputs")
        execute_notebook(folder / name, env=env, timeout=600, save_to=folder / name)

    def build(folder: Path) -> None:
        # side by side, as `kws demo` runs them: every worker waits for this hand-in at the start
        with ThreadPoolExecutor(len(NOTEBOOK_STEPS)) as pool:
            list(pool.map(run, NOTEBOOK_STEPS, [folder] * len(NOTEBOOK_STEPS)))

    return _built_once(tmp_path_factory, "reference-submission", build)


@pytest.fixture(scope="session")
def real_class(tiny_data, reference_submission, tmp_path_factory) -> Path:
    """The grades folder the real `kws grade` command wrote, in the instructor's folder, for a
    class: the reference hand-in (``ref``: every notebook, executed on the tiny data), the
    released notebooks as they are (``fresh``), four students' independent notebook 02
    (tests/class_corpus.py) and a renamed copy of the reference's (these five hand in the
    notebook alone, without outputs). The reference is graded by real sandboxed children (the
    default run's one end-to-end path), the others' children's reports come from their records
    (tests/plugins/recorded_children.py, loaded by each grader through ``PYTEST_ADDOPTS``;
    every child is real in the full run). Graded once per run for the modules that read it
    (tests/test_grader_corpus.py, tests/test_report.py): copy it first to write into it."""
    from class_corpus import REFERENCE_RENAMES, SPEAKER, renamed, solution_fills
    from class_corpus import write_speaker_handin as write_speaker

    from kws.spec import ASSIGNMENTS

    def build(root: Path) -> None:
        shutil.copytree(reference_submission, root / "submissions" / "ref")
        fresh = root / "submissions" / "fresh"
        fresh.mkdir()
        for spec in ASSIGNMENTS.values():
            shutil.copy(ROOT / "assignments" / spec.notebook, fresh / spec.notebook)
        for student, fills in SPEAKER.items():
            write_speaker(root / "submissions" / f"independent-{student}", fills)
        reference = solution_fills(ASSIGNMENTS["speaker_id"].notebook)
        write_speaker(root / "submissions" / "renamed-ref", renamed(reference, REFERENCE_RENAMES))
        command = [sys.executable, "-m", "kws.cli", "grade", "submissions"]
        command += ["--data", str(tiny_data), "--out", "grades", "--jobs", "2"]
        aliases = {str(root): "CLASS", str(tiny_data): "DATA", str(ROOT): "REPO"}
        options = grader_options(real=["ref"], aliases=aliases)
        env = os.environ | {"PYTEST_ADDOPTS": shlex.join(options)}
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    return _built_once(tmp_path_factory, "real-class", build) / "grades"
