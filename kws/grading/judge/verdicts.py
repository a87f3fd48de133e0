"""The grader's verdicts: how a graded test turns the grading child's payload into a pass, a
failure with a sentence for the student, or partial credit.

`Grading` holds one run's settings (the grader's options, `kws.grading.plugin`) and the steps
every graded test takes to reach the child's facts; `retraining_test` is the one re-training
test, which an assignment's graded tests take in with one line::

    test_retrains_on_gpu = retraining_test(SPEC)

and `numeric_tests` makes the graded tests its spec declares for its numeric checks
(``[numeric.<test name>]``), which a graded test module takes in with one line::

    globals().update(numeric_tests(spec_of(__file__), __file__))

Nothing here runs student code: the child does (`kws.grading.judge.notebook.run_notebook`).
"""

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kws.grading.judge.accuracy import (
    AccuracyError,
    csv_accuracy,
    disagreement_message,
    model_accuracy,
)
from kws.grading.judge.carried import checkpoint_flags
from kws.grading.judge.device import cuda_available
from kws.grading.judge.notebook import child_problem, run_notebook
from kws.grading.judge.public_gap import public_gap
from kws.grading.judge.results import GradescopeReport
from kws.grading.judge.review import submission_flags
from kws.grading.judge.tiers import TierSet
from kws.grading.protocol.child_run import Retraining
from kws.grading.protocol.handin import predictions_csv, relative
from kws.grading.sandbox.supervise import ChildResult, Limits
from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.layouts import hidden_test, layout_of
from kws.grading.testsets.split import Split, graded_correct, part_accuracy
from kws.spec import NumericTest, Spec, graded_test_folders

TIER_SETS = pytest.StashKey[dict[str, TierSet]]()  # set at collection by `kws.grading.plugin`


class Grading:
    """The ``grading`` fixture: the run's settings, and the steps a graded test takes to reach the
    grading child's facts.

    Each accessor ends the test with a sentence for the student (``pytest.fail``) when what it
    needs is missing: the child failed, the notebook's model cells failed, a checkpoint did not
    load. Useful attributes: ``submission`` (the hand-in folder), ``data`` (the grading data).

    Args:
        config: pytest's config (the grader's options).
        tmp: the run's own temporary folder.

    Example:
        ```python
        def test_model_loads(grading, child):
            report = grading.loaded_model(child, "task1")
            assert report["class"] == "MeanPoolClassifier"
        ```
    """

    def __init__(self, config: pytest.Config, tmp: Path):
        self.config, self.tmp = config, tmp
        self.submission = config.getoption("--submission")
        self.data = config.getoption("--data")
        self.report: GradescopeReport = config.pluginmanager.get_plugin("kws-gradescope")
        self.tier_sets: dict[str, TierSet] = config.stash.get(TIER_SETS, {})
        self.device = "cuda" if cuda_available() else "cpu"
        self.retrain_device = config.getoption("--retrain-device")
        self.threads = config.getoption("--child-threads")
        self.limits = Limits(
            wall_seconds=config.getoption("--child-timeout"), cpu_seconds=3600, threads=self.threads
        )
        share, seed = config.getoption("--public-share"), config.getoption("--split-seed")
        self.split = Split(share, seed) if share is not None else None  # the Kaggle rule
        self.public: dict[tuple[str, str], float] = {}  # (assignment, task): public accuracy
        self._hidden: dict[str, HiddenTest] = {}
        self._children: dict[str, object] = {}

    def hidden_test(self, spec: Spec) -> HiddenTest:
        """`spec`'s hidden test set (read once per run by its data layout): the inputs file for
        the child, the labels kept here."""
        if spec.name not in self._hidden:
            out_file = self.tmp / f"{spec.name}_inputs.bin"
            self._hidden[spec.name] = hidden_test(spec, self.data, out_file)
        return self._hidden[spec.name]

    def child(self, spec: Spec):
        """The one grading child's result for `spec`'s notebook (run once per run), with what
        it says about the run in the run's output."""
        if spec.name not in self._children:
            result = run_notebook(
                self.submission,
                spec,
                self.hidden_test(spec),
                limits=self.limits,
                hide=self.hide(),
                device=self.device,
            )
            self.report.add_output(
                f"{spec.notebook}: graded in {result.seconds:.1f} s; sandbox: "
                f"{', '.join(result.protections)}."
            )
            for note in result.notes:  # e.g. large folders not copied for grading
                self.report.add_output(f"{spec.notebook}: {note}.")
            for flag in submission_flags(self.submission, spec.notebook, spec.cells):
                self.report.add_finding("review", flag)
            for flag in self.carried_data(spec, result.payload):
                self.report.add_finding("review", flag)
            self._children[spec.name] = result
        return self._children[spec.name]

    def carried_data(self, spec: Spec, payload: dict | None) -> list[str]:
        """`kws.grading.judge.carried.checkpoint_flags` of each of `spec`'s model tasks, with what
        the child (`payload`, None when it failed) found of its buffers."""
        hidden = self.hidden_test(spec)
        n_items = len(hidden.test_labels) or len(hidden.labels)
        reports = (payload or {}).get("tasks", {})
        flags = []
        for task, model_class in spec.model_tasks.items():
            csv = predictions_csv(self.submission, spec.notebook, [model_class], task)
            buffers = reports.get(task, {}).get("buffers")
            flags += checkpoint_flags(csv.parent, task, n_items, len(hidden.classes), buffers)
        return flags

    def hide(self, *extra: Path) -> list[Path]:
        """Paths the child must not read; never one holding the kit or Python itself."""
        import kws

        torch = importlib.util.find_spec("torch")  # where it is, without importing it here
        keep = [Path(m.__file__).resolve().parent for m in (kws, os)]
        keep += [Path(p).resolve() for p in torch.submodule_search_locations] if torch else []
        paths = [
            self.data,
            *graded_test_folders(),  # every assignment's graded tests: the child never reads them
            self.submission,
            *self.config.getoption("--hide"),
            *extra,
        ]
        return [
            p.resolve() for p in paths if p and not any(k.is_relative_to(p.resolve()) for k in keep)
        ]

    def retrain(self, spec: Spec, hidden: HiddenTest):
        """Re-run the submitted notebook's training in the sandbox, then grade what it wrote
        (``outputs="retrained"``). The data folder is readable this time, but the folders its
        layout keeps the labels in are not (a test set that the notebook needs is replaced by a
        label-free stand-in). On the GPU by default; ``--retrain-device cpu`` runs the same path
        on the CPU (with a tiny --retrain-steps), so the path is tested where there is no GPU."""
        layout = layout_of(spec)
        labels = layout.label_folders(self.data)
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
        # a folder per assignment: two assignments of one layout re-train in the same run
        data = layout.retraining_data(self.data, hidden, self.tmp / f"retrain-data-{spec.name}")
        if data != self.data:
            readable.append(data)
        return run_notebook(
            self.submission,
            spec,
            hidden,
            limits=Limits(
                wall_seconds=self.config.getoption("--retrain-timeout"),
                cpu_seconds=36000,
                threads=self.threads,
            ),
            hide=hide,
            device=self.retrain_device,
            readable=readable,
            outputs="retrained",
            retrain=Retraining(str(data / spec.data["folder"]), steps),
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

    def loaded_model(self, child: ChildResult, task: str) -> dict:
        """The child's report on a task, failing the test unless the model was built and its
        checkpoint loaded.

        Args:
            child: the ``child`` fixture.
            task: the task's name.

        Returns:
            The task's report: ``class`` (the model class config.json names), ``predictions`` (a
            class index per hidden input, or None), ``errors`` ({stage: message}) and ``facts``.

        Example:
            ```python
            report = grading.loaded_model(child, "task1")
            accuracy = hidden.accuracy(report["predictions"])
            ```
        """
        report = self.task_report(child, task)
        for stage in ("config", "build", "checkpoint"):
            if stage in report["errors"]:
                pytest.fail(f"Loading your {task} model failed: {report['errors'][stage]}")
        return report

    def probe_facts(self, child: ChildResult, task: str, forward: bool = True) -> dict:
        """What the probes found in a task's model, traced on the computation that gives the graded
        predictions; fails the test when they are missing or the notebook tampered with torch.

        Args:
            child: the ``child`` fixture.
            task: the task's name.
            forward: False: only the facts that need no forward pass (the parameter count).

        Returns:
            {fact: value}; a rule of the task's ``rules`` gives ``(passed, explanation)``, e.g.
            ``facts["norm_before_classifier"]``.

        Example:
            ```python
            passed, explanation = grading.probe_facts(child, "task1")["norm_before_classifier"]
            assert passed, explanation
            ```
        """
        report = self.task_report(child, task)
        for stage in ("config", "build", "probes")[: 3 if forward else 2]:
            if stage in report["errors"]:
                pytest.fail(
                    f"The structural checks could not run your {task} model: {report['errors'][stage]}"
                )
        tampering = report["facts"]["tampering"] + child.payload["tampering"]
        if tampering:
            self.report.add_finding(
                "tampering", f"{task}: the notebook changes torch or the grader ({tampering[0]})"
            )
            pytest.fail(
                f"Your notebook changes torch or the grader's code ({tampering[0]}), so its model "
                "cannot be checked. Remove the code that replaces or patches torch functions."
            )
        if report["facts"].get("traced_mismatch"):
            mismatch = report["facts"]["traced_mismatch"]
            self.report.add_finding(
                "tampering", f"{task}: the model computes something else while traced ({mismatch})"
            )
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
            self.report.add_finding(
                "tampering",
                f"{component}: the notebook changes torch or the grader "
                f"({child.payload['tampering'][0]})",
            )
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

    def accuracy(self, spec: Spec, child, hidden: HiddenTest, task: str) -> float:
        """`task`'s accuracy on the hidden test set, from where `spec` says ([accuracy]): the
        child's predictions of every input (of the private test set's when there is one, with
        the public accuracy beside it in the output, `kws.grading.judge.public_gap`), or the hand-in's predictions.csv checked against
        the child's re-run of a secret sample (`kws.grading.judge.accuracy`); a test failure saying
        why there is none (the model did not run, the file cannot be scored, or it is not what
        the model predicts)."""
        report = self.loaded_model(child, task)
        try:
            if not spec.accuracy.from_csv:
                accuracy = model_accuracy(hidden, report, task)
                notes, review = public_gap(hidden, report["predictions"], spec.notebook, task)
                for note in notes:
                    self.report.add_output(note)
                if review:
                    self.report.add_finding("review", review)
                if self.split is None:
                    return accuracy
                return self._private(spec, task, graded_correct(hidden, report["predictions"]))
            classes = list(spec.model_tasks.values())
            path = predictions_csv(self.submission, spec.notebook, classes, task)
            check = csv_accuracy(path, self.submission, hidden, report, spec.accuracy)
        except AccuracyError as error:
            pytest.fail(str(error))
        if not check.passed:
            shown = relative(path, self.submission)
            pytest.fail(disagreement_message(check, shown, task))
        if self.split is not None:
            return self._private(spec, task, check.correct)
        return check.accuracy

    def _private(self, spec: Spec, task: str, correct: dict[str, bool]) -> float:
        """The Kaggle rule (`kws.grading.testsets.split`): the public part's accuracy goes in the
        run's output and on the leaderboard (`shown`); the test that grades the private part's
        accuracy is released after the due date; its accuracy is returned."""
        parts = part_accuracy(correct, self.split)
        self.public[(spec.name, task)] = parts.public
        self.report.add_output(
            f"{spec.notebook} ({task}): accuracy {parts.public:.4f} on the public part of the "
            f"hidden test set ({parts.n_public} items). Your grade uses the private part "
            f"({parts.n_private} items), shown after the due date."
        )
        self.report.release_after_due_date()
        return parts.private

    def shown(self, spec: Spec, task: str, accuracy: float) -> float:
        """The accuracy to show on the leaderboard: the public part's under the Kaggle rule,
        else `accuracy` itself."""
        return self.public.get((spec.name, task), accuracy)

    def tiers(self, assignment: str) -> dict[str, float]:
        """The accuracy tiers an assignment is graded against in this run (chosen once, from the data
        or the grader's ``--dataset``/``--tiers``).

        Args:
            assignment: the assignment's name (``SPEC.name``).

        Returns:
            {tier: threshold}.

        Example:
            ```python
            fraction, message = tier_credit(accuracy, grading.tiers(SPEC.name), "simple")
            ```
        """
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


def retraining_test(spec: Spec) -> Callable[..., None]:
    """The re-training test of an assignment (marked ``gpu``): the notebook re-trained from scratch
    in the sandbox (`Grading.retrain`), its first model task must reach the simple tier.

    Args:
        spec: the assignment's spec.

    Returns:
        The test function, to bind to a ``test_*`` name of a graded test module.

    Example:
        ```python
        test_retrains_on_gpu = retraining_test(SPEC)
        ```
    """
    task = next(iter(spec.model_tasks))  # the first task graded from a checkpoint

    @pytest.mark.gpu
    @pytest.mark.task(task)
    def test_retrains_on_gpu(grading, hidden):
        child = grading.retrain(spec, hidden)
        steps = grading.config.getoption("--retrain-steps")
        report = grading.loaded_model(child, task)
        assert report["predictions"] is not None, (
            f"The re-trained model could not be evaluated: {report['errors']}"
        )
        accuracy = hidden.accuracy(report["predictions"])
        simple = grading.tiers(spec.name)["simple"]
        assert accuracy >= simple, (
            f"Re-trained for {steps} steps on {grading.retrain_device}, your {task} model "
            f"reaches {accuracy:.4f}, below the simple tier {simple:.4f}; check that the "
            "training cells run from a fresh kernel."
        )

    test_retrains_on_gpu.__doc__ = (
        f"Re-training: the notebook trains from scratch on the GPU and its {task} model reaches "
        "the simple tier"
    )
    return test_retrains_on_gpu


def numeric_tests(spec: Spec, module_file: str) -> dict:
    """The graded tests of an assignment's numeric checks, one per ``[numeric.<test name>]`` entry of
    its spec whose ``file`` is the calling module.

    Each test fails with the first failed item of the entry's component among its topics
    (`Grading.numeric`); its docstring, the name students see, is the entry's title.

    Args:
        spec: the assignment's spec.
        module_file: the graded test module's ``__file__`` (entries name their module with
            ``file``; default ``test_numeric.py``).

    Returns:
        {test name: test function}, in the spec's order, for the module's globals.

    Example:
        ```python
        globals().update(numeric_tests(spec_of(__file__), __file__))  # graded_tests/test_numeric.py
        ```
    """

    def graded_test(entry: NumericTest):
        def test(grading, child):
            grading.numeric(child, entry.component, entry.topics, task=entry.task)

        test.__name__ = test.__qualname__ = entry.name
        test.__doc__ = entry.title
        return pytest.mark.task(entry.task)(test) if entry.task else test

    here = Path(module_file).name
    return {name: graded_test(e) for name, e in spec.numeric.items() if e.file == here}
