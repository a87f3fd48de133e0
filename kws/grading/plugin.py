"""The hidden grader, as a pytest plugin: its options, which tests a run grades, the points of
each, and the fixtures every graded test reads.

(`kws.grading.command` builds its command.) The grader decides nothing of what a run grades:
it reads the run's plan (`kws.grading.judge.planned.GraderPlan`), ``--plan``'s, or without one
the plan of its one hand-in made at start by `plan_handins` from --assignment, --dataset and
--tiers; a plan lacking a decision, a hand-in or an assignment is refused, never completed by
deciding again. One child per notebook serves every test of it (`Grading.child`); the hidden
labels (`hidden`) never leave this process.
docs/development/architecture.md (step 3) follows a run through it.
"""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kws import i18n
from kws.grading.judge.autograded import TestCells
from kws.grading.judge.device import CUDA, cuda_available, grading_device
from kws.grading.judge.fixture import PLAN, TIER_SETS, Grading
from kws.grading.judge.notebook import left_out_notes
from kws.grading.judge.planned import GraderPlan, plan_handins, read_plan
from kws.grading.judge.results import GradescopeReport
from kws.grading.judge.tiers import TierSet
from kws.grading.sandbox.cores import child_threads
from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.public_only import warning
from kws.i18n import N_
from kws.spec import ASSIGNMENTS, Spec, SpecError, spec_of

PATH_OPTIONS = ("submission", "data", "results", "tiers", "hide", "plan")
PLANNED_BY = (
    "--assignment",
    "--dataset",
    "--tiers",
    "--language",
)  # the plan's inputs: refused beside --plan


def pytest_addoption(parser):
    group = parser.getgroup("kws grader")
    group.addoption("--submission", type=Path, help="the student's folder: notebooks and outputs/")
    group.addoption("--data", type=Path, help="data folder with the hidden test labels")
    group.addoption("--results", type=Path, help="where to write the Gradescope results.json")
    group.addoption(
        "--assignment",
        choices=sorted(ASSIGNMENTS),
        help="grade only this notebook (default: every notebook the submission holds); "
        "without --plan only",
    )
    group.addoption(
        "--dataset",
        help="an entry of [tiers] in kws/assignments/<name>/spec.toml (default: detected from "
        "--data); without --plan only",
    )
    group.addoption(
        "--tiers",
        type=Path,
        help="JSON accuracy tiers for data the grader does not know; without --plan only",
    )
    group.addoption(
        "--language",
        help="the course's language (a BCP 47 tag: zh-TW, pl), what the results speak to "
        "students (default: KWS_LANGUAGE's, else English); without --plan only",
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
    group.addoption("--plan", type=Path,
                    help="the grading run's plan, which `kws grade` decides once and writes "
                    "(kws.grading.judge.planned): the selection, the notebooks each hand-in "
                    "holds, the tier sets, the notebooks graded on a public test set and the "
                    "Kaggle split (default: planned at start for --submission)")  # fmt: skip


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
    config.stash[PLAN] = _plan(config)
    if config.stash[PLAN] is not None and config.stash[PLAN].language is not None:
        i18n.use(config.stash[PLAN].language)  # the course's: names, messages, the child's


def _plan(config) -> GraderPlan | None:
    """The run's plan: ``--plan``'s, checked against --data; or, without one, the plan of the
    one hand-in --submission names, made by `plan_handins` from --assignment, --dataset and
    --tiers. A usage error naming the file or the option; None when --submission or --data is
    no folder (`Grading.check_options` says so in every test)."""
    path, data = config.getoption("--plan"), config.getoption("--data")
    submission = config.getoption("--submission")
    given = [name for name in PLANNED_BY if config.getoption(name) is not None]
    try:
        if path is not None:
            if given:  # one channel: the plan decided them
                raise ValueError(f"{given[0]} with --plan {path}: the plan decided the "
                                 f"selection and the tier sets; leave {given[0]} out")  # fmt: skip
            return read_plan(path, data) if data is not None else None
        if submission is None or data is None or not submission.is_dir() or not data.is_dir():
            return None
        return plan_handins(data, [submission], config.getoption("--assignment"),
                            dataset=config.getoption("--dataset"),
                            tiers=config.getoption("--tiers"),
                            handin=config.getoption("--handin"),
                            language=_language(config.getoption("--language")))  # fmt: skip
    except (FileNotFoundError, ValueError) as error:
        raise pytest.UsageError(str(error)) from None


def _language(tag: str | None) -> str | None:
    """``--language``'s tag as the kit spells it (None: not given); refused with the tags the
    kit has."""
    if tag is None:
        return None
    problem = i18n.check_language(tag)
    if problem:
        raise ValueError(f"--language: {problem}")
    return i18n.canonical(tag)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A graded test speaks its assignment's language (its spec's ``language``), else the
    run's (the plan's, `kws.i18n`)."""
    assignment = _assignment(item)
    spec = ASSIGNMENTS.get(assignment) if assignment else None
    with i18n.speaking(spec.language if spec else None):
        return (yield)


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
    gpu = [item for item in items if "gpu" in item.keywords]
    if config.getoption("--handin"):  # no labels: no tiers, no re-training to grade
        _skip(gpu, N_("graded after you hand in: the grader re-trains on a GPU"))
        return
    _say_public_only(config, report, graded)
    config.stash[TIER_SETS] = _choose_tier_sets(config, report, graded)
    if gpu and not config.getoption("--retrain-device").is_cpu and not cuda_available():
        _skip(gpu, N_("no CUDA GPU on the grading machine, so re-training was not run"))


def _skip(items, reason: str) -> None:
    for item in items:
        item.add_marker(pytest.mark.skip(reason=reason))


def _test_cells(session, config) -> list:
    """nbgrader's autograded test cells of the notebooks the plan says the hand-in holds, in
    its selection, as graded tests (`kws.grading.judge.autograded`); none for a student's own
    check (``--handin``): the instructor's notebook, hidden tests and all, is the grader's
    alone."""
    plan, submission = config.stash[PLAN], str(config.getoption("--submission"))
    if config.getoption("--handin") or plan is None or submission not in plan.held:
        return []
    held = set(plan.held[submission])
    specs = [spec for spec in ASSIGNMENTS.values()
             if spec.name in held and plan.assignment in (None, spec.name)]  # fmt: skip
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
    """Each graded assignment's tier set, the run's plan's, said in the run's output and its
    extra_data; a usage error for a plan that holds none of a graded assignment."""
    data, tier_sets, plan = config.getoption("--data"), {}, config.stash[PLAN]
    if plan is None or not data.is_dir():
        return tier_sets  # check_options fails every test with the reason
    for assignment in sorted(graded):
        if assignment not in plan.tier_sets:  # refused, never decided again
            raise pytest.UsageError(
                f"--plan {config.getoption('--plan')} holds no tier set of {assignment}: "
                f"plan the run with it (--assignment {assignment})"
            )
        tier_sets[assignment] = plan.tier_sets[assignment]
        described = tier_sets[assignment].describe()
        said = i18n.gettext("Accuracy tiers for {assignment}: {tiers}.")
        report.add_output(said.format(assignment=assignment, tiers=described), terminal=True)
    report.extra_data["tier_sets"] = {a: t.name for a, t in tier_sets.items()}
    report.extra_data["tiers"] = {a: t.tiers for a, t in tier_sets.items()}  # for the pages
    return tier_sets


def _say_public_only(config, report, graded: set[str]) -> None:
    """The notebooks graded without a private test set (`kws.grading.testsets.public_only`):
    said first in every student's results, recorded in its extra_data
    (``public_test_set``), and printed at once for the instructor, with the command that
    makes one in this data folder."""
    data, plan = config.getoption("--data"), config.stash[PLAN]
    if plan is None or not data.is_dir():
        return  # check_options fails every test with the reason
    names = sorted(graded & set(plan.public_only))  # decided for the run
    report.extra_data["public_test_set"] = names
    if not names:
        return
    report.add_output(warning(names), first=True)
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.write_line(warning(names, data), yellow=True, bold=True)


def _assignments_to_grade(config, report, present: set[str]) -> set[str]:
    """The plan's selection, or what the notebooks it holds for this hand-in and the data leave
    of `present`; each one left out said once."""
    submission, plan = config.getoption("--submission"), config.stash[PLAN]
    if plan is None or submission is None:
        return present  # check_options fails every test with the reason
    if str(submission) not in plan.held:  # refused, never decided again
        raise pytest.UsageError(
            f"--plan {config.getoption('--plan')} was made for other hand-ins, not "
            f"{submission}: plan the run with this hand-in"
        )
    if plan.assignment is not None:  # the plan was made for it: its data holds its test set
        return {plan.assignment}
    left_out = left_out_notes(present, set(plan.held[str(submission)]), plan.missing)
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
