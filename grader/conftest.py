"""The hidden grader's options and fixtures.

    pytest grader/ --submission DIR --data DIR [--results results.json] [--assignment speaker_id]
        [--tiers FILE | --dataset NAME] [--retrain-device cpu --retrain-steps 4]

Every path option is taken relative to the directory pytest was started from. Without
--assignment, a notebook the submission does not hold (or whose test set the data lacks) is
not graded, and the run's output says so once; its tests are left out of the results.

One child process per notebook serves every test of that notebook (session-scoped fixtures):
it runs the notebook's model cells, loads each task's checkpoint and returns predictions and
probe facts; tests only read that payload and compare predictions with the hidden labels, which
never leave this process. Every run writes a Gradescope results.json (`kws.grading.results`).
"""

import os
from pathlib import Path

import pytest
import torch

from kws.assignments import ASSIGNMENTS, SpecError
from kws.grading.grade import (
    child_problem,
    grade_notebook,
    missing_test_data,
    retraining_data,
    ungradable_assignments,
)
from kws.grading.hidden import hidden_keyword_test, hidden_speaker_test
from kws.grading.results import GradescopeReport
from kws.grading.review import REVIEW_PREFIX, submission_flags
from kws.grading.sandbox.run import Limits
from kws.grading.shared.child_run import Retraining
from kws.grading.tiers import TierSet, tier_set

GRADER_DIR = Path(__file__).resolve().parent
PATH_OPTIONS = ("submission", "data", "results", "tiers", "hide")
TIER_SETS = pytest.StashKey[dict[str, TierSet]]()


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
    group.addoption("--retrain-steps", type=int, default=2000, help="KWS_STEPS for gpu re-training")
    group.addoption(
        "--retrain-device",
        default="cuda",
        choices=["cuda", "cpu"],
        help="device of the `gpu` re-training tests (cpu: the same path with a tiny budget)",
    )
    group.addoption(
        "--retrain-timeout", type=float, default=1800.0, help="wall seconds for a re-training"
    )


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
    config.pluginmanager.register(GradescopeReport(config.getoption("--results")), "kws-gradescope")


def pytest_collection_modifyitems(config, items):
    report = config.pluginmanager.get_plugin("kws-gradescope")
    _give_points(items)
    by_assignment = {}
    for item in items:
        by_assignment.setdefault(
            getattr(getattr(item, "module", None), "ASSIGNMENT", None), []
        ).append(item)
    graded = _assignments_to_grade(config, report, set(by_assignment) - {None})
    kept = [
        item
        for item in items
        if getattr(getattr(item, "module", None), "ASSIGNMENT", None) in graded | {None}
    ]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    config.stash[TIER_SETS] = _choose_tier_sets(config, report, graded)
    device = config.getoption("--retrain-device")
    if device == "cpu" or torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on the grading machine, so re-training was not run")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def _give_points(items) -> None:
    """Each graded test's points, from its assignment's spec (kws/assignments/<name>/spec.toml)."""
    for item in items:
        assignment = getattr(getattr(item, "module", None), "ASSIGNMENT", None)
        if assignment is not None:
            try:
                points = ASSIGNMENTS[assignment].test_points(item.originalname)
            except SpecError as error:
                raise pytest.UsageError(str(error)) from None
            item.add_marker(pytest.mark.points(points))


def _choose_tier_sets(config, report, graded: set[str]) -> dict[str, TierSet]:
    """Each graded assignment's tier set, said in the run's output and its extra_data; a usage
    error naming --tiers / --dataset for data the kit does not know."""
    data, tier_sets = config.getoption("--data"), {}
    if data is None or not data.is_dir():
        return tier_sets  # check_options fails every test with the reason
    for assignment in sorted(graded):
        try:
            tier_sets[assignment] = tier_set(
                data,
                assignment,
                dataset=config.getoption("--dataset"),
                tiers_file=config.getoption("--tiers"),
            )
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None
        described = tier_sets[assignment].describe()
        report.add_output(f"Accuracy tiers for {assignment}: {described}.", terminal=True)
    report.extra_data["tier_sets"] = {a: t.name for a, t in tier_sets.items()}
    return tier_sets


def _assignments_to_grade(config, report, present: set[str]) -> set[str]:
    """--assignment, or what `ungradable_assignments` leaves; each one left out said once."""
    selected = config.getoption("--assignment")
    submission, data = config.getoption("--submission"), config.getoption("--data")
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


class Grading:
    """The run's settings, and the steps every test takes to reach the child's facts.

    Each accessor ends the test with a sentence for the student (pytest.fail) when what it needs
    is missing: the child failed, the notebook's model cells failed, a checkpoint did not load.
    """

    def __init__(self, config, tmp: Path):
        self.config, self.tmp = config, tmp
        self.submission = config.getoption("--submission")
        self.data = config.getoption("--data")
        self.report: GradescopeReport = config.pluginmanager.get_plugin("kws-gradescope")
        self.tier_sets: dict[str, TierSet] = config.stash.get(TIER_SETS, {})
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.retrain_device = config.getoption("--retrain-device")
        self.limits = Limits(wall_seconds=config.getoption("--child-timeout"), cpu_seconds=3600)

    def hide(self, *extra: Path) -> list[Path]:
        """Paths the child must not read; never one holding the kit or Python itself."""
        import kws

        keep = [Path(m.__file__).resolve().parent for m in (kws, os, torch)]
        paths = [self.data, GRADER_DIR, self.submission, *self.config.getoption("--hide"), *extra]
        return [
            p.resolve() for p in paths if p and not any(k.is_relative_to(p.resolve()) for k in keep)
        ]

    def retrain(self, assignment: str, hidden, labels: list[Path]):
        """Re-run the submitted notebook's training in the sandbox, then grade what it wrote
        (``outputs="retrained"``). The data folder is readable this time, but its `labels`
        folders are not. On the GPU by default; ``--retrain-device cpu`` runs the same path on
        the CPU (with a tiny --retrain-steps), so the path is tested where there is no GPU."""
        hide = [p for p in self.hide() if p != self.data.resolve()] + labels
        steps = self.config.getoption("--retrain-steps")
        # Each dataset folder is made reachable on its own (the data folder itself may be private
        # to the grader's user); the label folders never are.
        hidden_folders = {p.resolve() for p in labels}
        readable = [
            p.resolve()
            for p in self.data.iterdir()
            if p.is_dir() and p.resolve() not in hidden_folders
        ]
        data = self.data
        if assignment == "keyword_spotting":  # its notebook needs a test set: a label-free one
            data = retraining_data(self.data, hidden, self.tmp / "retrain-data")
            readable.append(data)
        return grade_notebook(
            self.submission,
            ASSIGNMENTS[assignment],
            hidden,
            limits=Limits(
                wall_seconds=self.config.getoption("--retrain-timeout"), cpu_seconds=36000
            ),
            hide=hide,
            device=self.retrain_device,
            readable=readable,
            outputs="retrained",
            retrain=Retraining(str(data / ASSIGNMENTS[assignment].data["folder"]), steps),
        )

    def task_report(self, child, task: str) -> dict:
        """The child's report on `task`, or a test failure saying why there is none."""
        return self.notebook_ran(child)["tasks"][task]

    def notebook_ran(self, child) -> dict:
        """The child's payload, or a test failure saying why the notebook did not run."""
        if child.status != "ok":
            pytest.fail(child_problem(child))
        payload = child.payload
        for stage in ("notebook", "model_cells", "retrain"):
            if stage in payload["errors"]:
                where = {
                    "notebook": "Finding your notebook",
                    "model_cells": "Running the cells tagged 'model'",
                }
                pytest.fail(
                    f"{where.get(stage, 'Re-running your notebook')} failed: {payload['errors'][stage]}"
                )
        return payload

    def loaded_model(self, child, task: str) -> dict:
        """The task report, failing unless the model was built and its checkpoint loaded."""
        report = self.task_report(child, task)
        for stage in ("config", "build", "checkpoint"):
            if stage in report["errors"]:
                pytest.fail(f"Loading your {task} model failed: {report['errors'][stage]}")
        return report

    def probe_facts(self, child, task: str, forward: bool = True) -> dict:
        """The probes' facts on `task`, failing when they are missing or the notebook tampered;
        `forward=False`: only the facts that need no forward pass (the parameter count)."""
        report = self.task_report(child, task)
        for stage in ("config", "build", "probes")[: 3 if forward else 2]:
            if stage in report["errors"]:
                pytest.fail(
                    f"The structural checks could not run your {task} model: {report['errors'][stage]}"
                )
        tampering = report["facts"]["tampering"] + child.payload["tampering"]
        if tampering:
            pytest.fail(
                f"Your notebook changes torch or the grader's code ({tampering[0]}), so its model "
                "cannot be checked. Remove the code that replaces or patches torch functions."
            )
        if report["facts"].get("traced_mismatch"):
            pytest.fail(
                f"Your {task} model computes something else while the grader traces it "
                f"({report['facts']['traced_mismatch']}), so its structure cannot be checked on "
                "the computation that is graded. Make forward compute the same thing every time "
                "(no checks for profilers, hooks, modes or who is calling)."
            )
        return report["facts"]

    def numeric(
        self, child, component: str, topics: tuple[str, ...] = (), task: str | None = None
    ) -> None:
        """Fail with the first failed numeric check of `component` (an entry of the assignment's
        checks.py, run by `kws.grading.child.numeric`), among its build checks and those of
        `topics` (all of them if none is given). `task`: the task whose report shows the notebook
        ran (default: the component's own, which its facts name; a task graded without a
        checkpoint names the model task instead)."""
        if task is not None:
            self.task_report(child, task)  # the notebook ran, and its model task was graded
        else:
            self.notebook_ran(child)
        if child.payload["tampering"]:
            pytest.fail(
                f"Your notebook changes torch or the grader's code ({child.payload['tampering'][0]}), "
                "so its classes and functions cannot be checked. Remove the code that replaces or "
                "patches torch."
            )
        facts = child.payload["numeric"].get(component)
        if facts is None:
            pytest.fail(f"The numeric check of {component} did not run; tell the course staff.")
        name = facts["name"]
        items = facts["items"]
        relevant = [i for i in items if not topics or i[0] in ("build", *topics)]
        failed = [i for i in relevant if not i[1]]
        if not failed and not any(i[0] in topics for i in items) and topics:
            failed = [i for i in items if not i[1]][:1]  # stopped before reaching these checks
        if failed and facts["todo"] and failed[0][3].startswith("not written yet"):
            pytest.fail(f"Your {name} still has a TODO: {facts['todo']}")
        if failed:
            _, _, what, fix = failed[0]
            pytest.fail(f"{name}: ✗ {what} — {fix}")

    def tiers(self, assignment: str) -> dict[str, float]:
        """The accuracy tiers `assignment` is graded against (chosen once, at collection)."""
        if assignment not in self.tier_sets:
            pytest.fail("The grader has no accuracy tiers for this data; tell the course staff.")
        return self.tier_sets[assignment].tiers

    def check_options(self) -> None:
        if self.submission is None or not self.submission.is_dir():
            pytest.fail(
                f"The grader was started without a valid --submission folder ({self.submission})."
            )
        if self.data is None or not self.data.is_dir():
            pytest.fail(
                f"The grader was started without a valid --data folder ({self.data}); tell the course staff."
            )


@pytest.fixture(scope="session")
def grading(request, tmp_path_factory) -> Grading:
    state = Grading(request.config, tmp_path_factory.mktemp("grading"))
    state.check_options()
    return state


@pytest.fixture(scope="session")
def hidden_kws(grading):
    return hidden_keyword_test(grading.data, grading.tmp / "kws_inputs.pt")


@pytest.fixture(scope="session")
def hidden_speaker(grading):
    return hidden_speaker_test(grading.data, grading.tmp / "speaker_inputs.pt")


def _graded(grading, assignment, hidden):
    result = grade_notebook(
        grading.submission,
        assignment,
        hidden,
        limits=grading.limits,
        hide=grading.hide(),
        device=grading.device,
    )
    grading.report.add_output(
        f"{assignment.notebook}: graded in {result.seconds:.1f} s; sandbox: {', '.join(result.protections)}."
    )
    for note in result.notes:  # e.g. large folders not copied for grading
        grading.report.add_output(f"{assignment.notebook}: {note}.")
    for flag in submission_flags(grading.submission, assignment.notebook):
        grading.report.add_output(f"{REVIEW_PREFIX} {flag}.")
    return result


@pytest.fixture(scope="session")
def kws_child(grading, hidden_kws):
    return _graded(grading, ASSIGNMENTS["keyword_spotting"], hidden_kws)


@pytest.fixture(scope="session")
def speaker_child(grading, hidden_speaker):
    return _graded(grading, ASSIGNMENTS["speaker_id"], hidden_speaker)
