"""The hidden grader's options and fixtures.

    pytest grader/ --submission DIR --data DIR [--results results.json]

One child process per notebook serves every test of that notebook (session-scoped fixtures):
it runs the notebook's model cells, loads each task's checkpoint and returns predictions and
probe facts; tests only read that payload and compare predictions with the hidden labels, which
never leave this process. Every run writes a Gradescope results.json (`kws.grading.results`).
"""

import os
from pathlib import Path

import pytest
import torch

from kws.grading.grade import ASSIGNMENTS, child_problem, grade_notebook, load_thresholds
from kws.grading.hidden import hidden_keyword_test, hidden_speaker_test
from kws.grading.results import GradescopeReport
from kws.grading.review import REVIEW_PREFIX, submission_flags
from kws.grading.sandbox import Limits

GRADER_DIR = Path(__file__).resolve().parent


def pytest_addoption(parser):
    group = parser.getgroup("kws grader")
    group.addoption("--submission", type=Path, help="the student's folder: notebooks and outputs/")
    group.addoption("--data", type=Path, help="data folder with the hidden test labels")
    group.addoption("--results", type=Path, help="where to write the Gradescope results.json")
    group.addoption(
        "--dataset", help="thresholds.json dataset name (default: detected from --data)"
    )
    group.addoption(
        "--hide", type=Path, action="append", default=[], help="more paths the child must not read"
    )
    group.addoption(
        "--child-timeout", type=float, default=600.0, help="wall seconds per grading child"
    )
    group.addoption(
        "--thresholds", type=Path, default=GRADER_DIR / "thresholds.json", help="accuracy tiers"
    )
    group.addoption("--retrain-steps", type=int, default=2000, help="KWS_STEPS for gpu re-training")
    group.addoption(
        "--retrain-timeout", type=float, default=1800.0, help="wall seconds for a re-training"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: re-trains on a CUDA GPU; skipped without one")
    config.pluginmanager.register(GradescopeReport(config.getoption("--results")), "kws-gradescope")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on the grading machine, so re-training was not run")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


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
        self.thresholds = load_thresholds(config.getoption("--thresholds"))
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
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
        """Re-run the submitted notebook's training on the GPU in the sandbox, then grade what it
        wrote (``outputs="retrained"``). The data folder is readable this time, but its `labels`
        folders are not."""
        hide = [p for p in self.hide() if p != self.data.resolve()] + labels
        steps = str(self.config.getoption("--retrain-steps"))
        return grade_notebook(
            self.submission,
            ASSIGNMENTS[assignment],
            hidden,
            limits=Limits(
                wall_seconds=self.config.getoption("--retrain-timeout"), cpu_seconds=36000
            ),
            hide=hide,
            device="cuda",
            outputs="retrained",
            module="kws.grading.retrain",
            extra_args=[
                "--retrain-data",
                str(self.data / ASSIGNMENTS[assignment].data_subdir),
                "--retrain-steps",
                steps,
            ],
        )

    def task_report(self, child, task: str) -> dict:
        """The child's report on `task`, or a test failure saying why there is none."""
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
        return payload["tasks"][task]

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

    def tiers(self, family: str, hidden) -> dict:
        """The accuracy tiers of `family` ("kws" or "speaker") for the hidden test's dataset."""
        table = self.thresholds[family]
        if hidden.dataset not in table:
            pytest.fail(
                f"grader/thresholds.json has no {family} tiers for dataset {hidden.dataset!r}; tell the course staff."
            )
        return table[hidden.dataset]

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
    return hidden_keyword_test(
        grading.data, grading.tmp / "kws_inputs.pt", grading.config.getoption("--dataset")
    )


@pytest.fixture(scope="session")
def hidden_speaker(grading):
    return hidden_speaker_test(
        grading.data, grading.tmp / "speaker_inputs.pt", grading.config.getoption("--dataset")
    )


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
