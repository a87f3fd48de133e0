"""The hidden grader, as a pytest plugin: its options, which tests a run grades, the points of
each, and the fixtures every graded test reads.

    python -m pytest -p kws.grading.plugin kws/assignments/<name>/graded_tests ... \
        --submission DIR --data DIR [--results results.json] [--assignment NAME]
        [--tiers FILE | --dataset NAME] [--child-threads N] [--retrain-device cpu --retrain-steps 4]
        [--plan FILE]

``--plan``: the run's plan, whose tier sets and public test sets were decided once, by
`kws.grading.judge.planned.decide_handins`, for the whole class (`kws grade`) or the one
hand-in graded (``pytest grader/``'s ``grader/conftest.py``, the Gradescope autograder's
``python -m kws.grading.command``), with the notebooks each hand-in holds: a grader given a
plan reads only it (not --dataset / --tiers, which are the plan's inputs) and refuses a hand-in
or an assignment the plan lacks; a grader started without one finds them from --data.

With ``--handin`` (`kws handin`, a student's check before handing in) the same tests run on
the student's own data folder: the child on a few of its test inputs, no labels, so the accuracy
tests stop short of a score and re-training is skipped.

(`kws.grading.command` builds that command; ``pytest grader/`` in a checkout does the same.) The
graded tests live in each assignment's folder, ``kws/assignments/<name>/graded_tests/test_*.py`` (or an
instructor's own folder named in ``KWS_ASSIGNMENTS``); a test's assignment is the folder its file
is in, its points are that spec's [points] entry for the test's function name. nbgrader's
autograded test cells in an assignment's solution notebook are graded tests too, with the
cells' own points (`kws.grading.judge.autograded`).

Every path option is taken relative to the directory pytest was started from. Without
--assignment, a notebook the submission does not hold (or whose test set the data lacks) is
not graded, and the run's output says so once; its tests are left out of the results.

One child process per notebook serves every test of that notebook (`Grading.child`): it runs the
notebook's model cells, loads each task's checkpoint and returns predictions and probe facts;
tests only read that payload and compare predictions with the hidden labels (`hidden`), which
never leave this process. Every run writes a Gradescope results.json (`kws.grading.judge.results`),
except one stopped by a fault of the grading machine or by a graded test file that cannot be
loaded (`kws.grading.judge.loading`: the course's fault, exit code 78, never a student's 0).
"""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kws.grading.judge.autograded import TestCells
from kws.grading.judge.device import CUDA, cuda_available, grading_device
from kws.grading.judge.fixture import TIER_SETS, Grading
from kws.grading.judge.notebook import (
    left_out_notes,
    missing_test_data,
    ungradable_assignments,
)
from kws.grading.judge.planned import GraderPlan, read_plan
from kws.grading.judge.results import GradescopeReport
from kws.grading.judge.tiers import TierSet, tier_set
from kws.grading.sandbox.cores import child_threads
from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.public_only import public_only, warning
from kws.spec import ASSIGNMENTS, Spec, SpecError, spec_of

PATH_OPTIONS = ("submission", "data", "results", "tiers", "hide", "plan")
PLAN = pytest.StashKey[GraderPlan | None]()  # the run's plan (--plan), read once


def pytest_addoption(parser):
    group = parser.getgroup("kws grader")
    group.addoption("--submission", type=Path, help="the student's folder: notebooks and outputs/")
    group.addoption("--data", type=Path, help="data folder with the hidden test labels")
    group.addoption("--results", type=Path, help="where to write the Gradescope results.json")
    group.addoption(
        "--assignment",
        choices=sorted(ASSIGNMENTS),
        help="grade only this notebook (default: every notebook the submission holds)",
    )
    group.addoption(
        "--dataset",
        help="an entry of [tiers] in kws/assignments/<name>/spec.toml (default: detected from --data)",
    )
    group.addoption(
        "--tiers", type=Path, help="JSON accuracy tiers for data the grader does not know"
    )
    group.addoption(
        "--hide", type=Path, action="append", default=[], help="more paths the child must not read"
    )
    group.addoption(
        "--child-timeout", type=float, default=600.0, help="wall seconds per grading child"
    )
    group.addoption(
        "--child-threads",
        type=int,
        default=child_threads(),
        help="torch threads per grading child (default: 2, fewer on one core or with a lower "
        "OMP_NUM_THREADS; `kws grade --jobs N` gives each child its share of the cores)",
    )
    group.addoption("--retrain-steps", type=int, default=2000, help="KWS_STEPS for gpu re-training")
    group.addoption(
        "--retrain-device",
        default=CUDA,
        type=grading_device,
        help="device of the `gpu` re-training tests: cuda or cuda:N (default cuda); cpu, the "
        "same path with a tiny budget; cpu:0, the CPU named as a GPU is, with an index its "
        "tensors do not report: the tests' stand-in for cuda",
    )
    group.addoption(
        "--retrain-timeout", type=float, default=1800.0, help="wall seconds for a re-training"
    )
    group.addoption(
        "--handin",
        action="store_true",
        help="a student's check before handing in (`kws handin`): --data is the student's own "
        "data folder, without hidden labels; the child runs on a few of its test inputs, and "
        "the tests that need the labels (accuracy) or a GPU (re-training) are skipped",
    )
    group.addoption("--public-share", type=float,
                    help="the Kaggle rule: this share of the graded items (the private test "
                    "set's, when there is one) is the public part, shown during the homework; "
                    "the grade uses the rest, the held-out part")  # fmt: skip
    group.addoption("--plan", type=Path,
                    help="the grading run's plan, which `kws grade` decides once and writes "
                    "(kws.grading.judge.planned): the tier set of each assignment and the "
                    "notebooks graded on a public test set, taken from it instead of from "
                    "--data")  # fmt: skip
    group.addoption("--split-seed", default="",
                    help="the course's secret seed of the split into a public and a held-out "
                    "part")  # fmt: skip


def pytest_configure(config):
    # The user's relative paths mean their working directory, whatever pytest's own may become.
    start = config.invocation_params.dir
    for name in PATH_OPTIONS:
        value = getattr(config.option, name, None)
        if isinstance(value, list):
            setattr(config.option, name, [(start / v).resolve() for v in value])
        elif value is not None:
            setattr(config.option, name, (start / value).resolve())
    config.addinivalue_line("markers", "gpu: re-trains on a CUDA GPU; skipped without one")
    config.addinivalue_line("markers", "assignment(name): the assignment a graded test grades")
    config.addinivalue_line("markers", "task(name): the task of its assignment a test grades")
    config.pluginmanager.register(GradescopeReport(config.getoption("--results")), "kws-gradescope")
    config.stash[PLAN] = _read_plan(config)


def _read_plan(config) -> GraderPlan | None:
    """The run's plan (``--plan``), checked against --data; a usage error naming the file."""
    path, data = config.getoption("--plan"), config.getoption("--data")
    if path is None or data is None:
        return None
    try:
        return read_plan(path, data)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_collection_modifyitems(session, config, items):
    report = config.pluginmanager.get_plugin("kws-gradescope")
    _give_points(items)
    present = {_assignment(item) for item in items} - {None}
    graded = _assignments_to_grade(config, report, present)
    kept = [item for item in items if _assignment(item) in graded | {None}]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    items.extend(_test_cells(session, config))
    if config.getoption("--handin"):  # no labels: no tiers, no re-training to grade
        skip = pytest.mark.skip(reason="graded after you hand in: the grader re-trains on a GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
        return
    _say_public_only(config, report, graded)
    config.stash[TIER_SETS] = _choose_tier_sets(config, report, graded)
    if (
        config.getoption("--retrain-device").is_cpu
        or not any("gpu" in item.keywords for item in items)
        or cuda_available()
    ):
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on the grading machine, so re-training was not run")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def _test_cells(session, config) -> list:
    """nbgrader's autograded test cells of the selection, as graded tests
    (`kws.grading.judge.autograded`); none for a student's own check (``--handin``): the
    instructor's notebook, hidden tests and all, is the grader's alone."""
    if config.getoption("--handin"):
        return []
    selected = config.getoption("--assignment")
    specs = [ASSIGNMENTS[selected]] if selected else list(ASSIGNMENTS.values())
    # The run's own temporary folder is the `grading` fixture's: the test cells' child needs none.
    grading = Grading(config, Path(tempfile.gettempdir()))
    return TestCells(session, grading).items(specs)


def _assignment(item) -> str | None:
    """The assignment whose folder holds the graded test `item` (None: not a graded test)."""
    for spec in ASSIGNMENTS.values():
        if Path(item.path).resolve().is_relative_to(spec.graded_tests.resolve()):
            return spec.name
    return None


def _give_points(items) -> None:
    """Each graded test's points, from its assignment's spec (kws/assignments/<name>/spec.toml),
    and its assignment (the results name it: `kws report` groups the class's results by it)."""
    for item in items:
        assignment = _assignment(item)
        if assignment is not None:
            try:
                points = ASSIGNMENTS[assignment].test_points(item.originalname)
            except SpecError as error:
                raise pytest.UsageError(str(error)) from None
            item.add_marker(pytest.mark.points(points))
            item.add_marker(pytest.mark.assignment(assignment))


def _choose_tier_sets(config, report, graded: set[str]) -> dict[str, TierSet]:
    """Each graded assignment's tier set (the run's plan's, where it has one), said in the
    run's output and its extra_data; a usage error naming --tiers / --dataset for data the kit
    does not know."""
    data, tier_sets, plan = config.getoption("--data"), {}, config.stash[PLAN]
    if data is None or not data.is_dir():
        return tier_sets  # check_options fails every test with the reason
    for assignment in sorted(graded):
        if plan is not None:  # the plan's, and nothing decided again
            if assignment not in plan.tier_sets:
                raise pytest.UsageError(
                    f"--plan {config.getoption('--plan')} holds no tier set of {assignment}: "
                    f"plan the run with it (--assignment {assignment}), or leave --plan out"
                )
            tier_sets[assignment] = plan.tier_sets[assignment]
        else:
            options = {"dataset": config.getoption("--dataset"),
                       "tiers_file": config.getoption("--tiers")}  # fmt: skip
            try:
                tier_sets[assignment] = tier_set(data, assignment, **options)
            except ValueError as error:
                raise pytest.UsageError(str(error)) from None
        described = tier_sets[assignment].describe()
        report.add_output(f"Accuracy tiers for {assignment}: {described}.", terminal=True)
    report.extra_data["tier_sets"] = {a: t.name for a, t in tier_sets.items()}
    return tier_sets


def _say_public_only(config, report, graded: set[str]) -> None:
    """The notebooks graded without a private test set (`kws.grading.testsets.public_only`):
    said first in every student's results, recorded in its extra_data
    (``public_test_set``), and printed at once for the instructor, with the command that
    makes one in this data folder."""
    data, plan = config.getoption("--data"), config.stash[PLAN]
    if data is None or not data.is_dir():
        return  # check_options fails every test with the reason
    if plan is not None:  # decided for the run (`_choose_tier_sets` refuses a plan lacking one)
        names = sorted(graded & set(plan.public_only))
    else:
        names = public_only(data, graded)
    report.extra_data["public_test_set"] = names
    if not names:
        return
    report.add_output(warning(names), first=True)
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.write_line(warning(names, data), yellow=True, bold=True)


def _assignments_to_grade(config, report, present: set[str]) -> set[str]:
    """--assignment, or what `ungradable_assignments` leaves (the run's plan's, where it holds
    this hand-in); each one left out said once."""
    selected = config.getoption("--assignment")
    submission, data = config.getoption("--submission"), config.getoption("--data")
    plan = config.stash[PLAN]
    if plan is not None and submission is not None:  # the plan's, and nothing decided again
        if str(submission) not in plan.held:
            raise pytest.UsageError(
                f"--plan {config.getoption('--plan')} was made for other hand-ins, not "
                f"{submission}: leave --plan out, or plan the run with this hand-in"
            )
        held = set(plan.held[str(submission)])
        if selected is not None:  # the plan was made for it: its data holds its test set
            return {selected}
        left_out = left_out_notes(present, held, plan.missing)
        for note in left_out.values():
            report.add_output(note, terminal=True)
        return present - set(left_out)
    if selected is not None:
        missing = data is not None and data.is_dir() and missing_test_data(data, selected)
        if missing:
            raise pytest.UsageError(f"--assignment {selected}: {missing}; pass its data folder")
        return {selected}
    if submission is None or data is None or not submission.is_dir() or not data.is_dir():
        return present  # check_options fails every test with the reason
    left_out = ungradable_assignments(submission, data, present)
    for note in left_out.values():
        report.add_output(note, terminal=True)
    return present - set(left_out)


@pytest.fixture(scope="session")
def grading(request) -> Iterator[Grading]:
    # A temporary folder of the run's own, removed when it ends, not pytest's numbered one: that
    # stays until its lock file is removed at exit, which a grader stopped by `kws grade`'s
    # time-out (killed) never does, so every student would leave a copy of the hidden test set.
    with tempfile.TemporaryDirectory(prefix=f"kws-grading-{os.getpid()}-") as folder:
        state = Grading(request.config, Path(folder))
        state.check_options()
        yield state


@pytest.fixture
def spec(request) -> Spec:
    """The assignment of the graded test (the folder its file is in)."""
    return spec_of(request.path)


@pytest.fixture
def hidden(grading, spec) -> HiddenTest:
    """The assignment's hidden test set: its inputs file for the child, its labels."""
    return grading.hidden_test(spec)


@pytest.fixture
def child(grading, spec):
    """The grading child's result on the assignment's notebook (one child per notebook and run)."""
    return grading.child(spec)
