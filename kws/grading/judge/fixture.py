"""The ``grading`` fixture every graded test takes (`Grading`): one run's settings, the grading
child it starts once per notebook (and again to re-train), and the accuracy and its tiers. The
pytest plugin (`kws.grading.plugin`) makes one per run. Nothing here runs student code.
"""

import importlib.util
import os
from pathlib import Path

import pytest

from kws.grading.judge.accuracy import (
    AccuracyError,
    check_scorable,
    csv_accuracy,
    disagreement_message,
    model_accuracy,
)
from kws.grading.judge.carried import checkpoint_flags
from kws.grading.judge.child_notes import shown_line, shown_lines
from kws.grading.judge.device import CPU, CUDA, cuda_available
from kws.grading.judge.facts import ChildFacts
from kws.grading.judge.handin_files import HandinFiles
from kws.grading.judge.kaggle_part import KaggleParts
from kws.grading.judge.notebook import run_notebook
from kws.grading.judge.planned import GraderPlan
from kws.grading.judge.public_gap import public_gap
from kws.grading.judge.results import GradescopeReport, Score
from kws.grading.judge.review import submission_flags
from kws.grading.judge.tiers import TierSet, tier_credit
from kws.grading.protocol.child_run import Retraining
from kws.grading.protocol.handin import relative
from kws.grading.sandbox.faults import MACHINE_FAULT_EXIT
from kws.grading.sandbox.run import SandboxStartError
from kws.grading.sandbox.supervise import Limits
from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.layouts import hidden_test, layout_of, public_test
from kws.grading.testsets.split import graded_correct
from kws.i18n import N_, shown
from kws.i18n import gettext as _
from kws.spec import Spec, graded_test_folders

TIER_SETS = pytest.StashKey[dict[str, TierSet]]()  # set at collection by `kws.grading.plugin`
PLAN = pytest.StashKey[GraderPlan | None]()  # the run's plan, read once by `kws.grading.plugin`
# Why an accuracy test is skipped by --handin (`kws handin`), once its file and model are fine.
# why, as `kws handin` says it (translated there, `kws.i18n`)
ACCURACY_AFTER_HAND_IN = N_("graded after you hand in: the accuracy needs the hidden test labels")


class Grading(ChildFacts, HandinFiles, KaggleParts):
    """The ``grading`` fixture: the run's settings, and the steps a graded test takes to reach what
    it judges: the grading child's facts (`ChildFacts`: ``loaded_model``, ``probe_facts``,
    ``numeric``), the hand-in's files (`HandinFiles`: ``read_predictions``, ``model_weights``,
    ``encoder_budget``), the accuracy and its tiers (``accuracy``, ``tiers``,
    ``accuracy_credit``) with the Kaggle rule's parts (`KaggleParts`: ``split_parts``,
    ``shown``).

    Each step ends the test with a sentence for the student (``pytest.fail``) when what it
    needs is missing: the child failed, the notebook's model cells failed, a checkpoint did not
    load, a file cannot be read. Useful attributes: ``submission`` (the hand-in folder), ``data``
    (the grading data), ``report`` (the run's results: ``report.add_leaderboard``).

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
        self.handin = config.getoption("--handin")  # `kws handin`: --data is the student's
        # kws handin runs the model where a grader without a GPU does (Gradescope's): the CPU
        self.device = CUDA if cuda_available() and not self.handin else CPU
        self.retrain_device = config.getoption("--retrain-device")
        self.threads = config.getoption("--child-threads")
        self.limits = Limits(
            wall_seconds=config.getoption("--child-timeout"), cpu_seconds=3600, threads=self.threads
        )
        plan = config.stash.get(PLAN, None)
        self.split = plan.split if plan is not None else None  # the Kaggle rule, as planned
        self.public: dict[tuple[str, str], float] = {}  # (assignment, task): public accuracy
        self._hidden: dict[str, HiddenTest] = {}
        self._children: dict[str, object] = {}

    def hidden_test(self, spec: Spec) -> HiddenTest:
        """`spec`'s hidden test set (read once per run by its data layout): the inputs file for
        the child, the labels kept here; with ``--handin``, the student's own copy of the test
        set, without labels (`kws.grading.testsets.layouts.public_test`)."""
        if spec.name not in self._hidden:
            out_file = self.tmp / f"{spec.name}_inputs.bin"
            read = public_test if self.handin else hidden_test  # --handin: the student's data
            self._hidden[spec.name] = read(spec, self.data, out_file)
        return self._hidden[spec.name]

    def child(self, spec: Spec):
        """The one grading child's result for `spec`'s notebook (run once per run), with what
        it says about the run in the run's output."""
        if spec.name not in self._children:
            result = self._run_notebook(spec, self.hidden_test(spec))
            self.report.add_output(
                _("{notebook}: graded in {seconds} s; sandbox: {protections}.").format(
                    notebook=spec.notebook,
                    seconds=f"{result.seconds:.1f}",
                    protections=shown_lines(result.protections),
                )
            )
            for note in result.notes:  # e.g. large folders not copied for grading
                self.report.add_output(f"{spec.notebook}: {shown_line(note)}.")
            flags = submission_flags(self.submission, spec.notebook, spec.cells)
            for flag in flags + self.carried_data(spec, result.payload):
                self.report.add_finding("review", flag)
            self._children[spec.name] = result
        return self._children[spec.name]

    def _run_notebook(self, spec: Spec, hidden: HiddenTest, **options):
        """`run_notebook` of the hand-in's `spec` notebook on `hidden` (`in_sandbox`), with the
        run's limits, hidden paths and device unless `options` say otherwise."""
        options = {"limits": self.limits, "hide": self.hide(), "device": self.device} | options
        return self.in_sandbox(run_notebook, self.submission, spec, hidden, **options)

    def in_sandbox(self, run, *args, **kwargs):
        """``run(*args, **kwargs)``, a function starting a sandboxed child (`run_notebook`);
        where the sandbox cannot start a child on this machine (`SandboxStartError`), the whole
        run stops as on any fault of the grading machine: its results unwritten, the message
        for the instructor on the grader's fault line (`kws.grading.sandbox.faults.FAULT_LINE`),
        exit code `MACHINE_FAULT_EXIT`. No test may blame the hand-in for the machine."""
        try:
            return run(*args, **kwargs)
        except SandboxStartError as error:
            self.report.stop(str(error))
            pytest.exit(str(error), returncode=MACHINE_FAULT_EXIT)

    def carried_data(self, spec: Spec, payload: dict | None) -> list[str]:
        """`kws.grading.judge.carried.checkpoint_flags` of each of `spec`'s model tasks, with what
        the child (`payload`, None when it failed) found of its buffers."""
        hidden = self.hidden_test(spec)
        n_items = len(hidden.test_labels) or len(hidden.labels)
        reports = (payload or {}).get("tasks", {})
        flags = []
        for task in spec.model_tasks:
            csv = self.predictions_csv(spec, task)
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
        (``outputs="retrained"``). The child reads the data its layout gives a re-training
        (``retraining_data``: what the notebook needs, a test set it evaluates on replaced by a
        label-free stand-in), never the folders the labels are in nor a cache left beside the
        data. On the GPU by default; ``--retrain-device cpu`` runs the same path on the CPU
        (with a tiny --retrain-steps), so the path is tested where there is no GPU."""
        layout = layout_of(spec)
        hide = [*self.hide(), *layout.label_folders(self.data)]
        steps = self.config.getoption("--retrain-steps")
        # a folder per assignment: two assignments of one layout re-train in the same run
        data = layout.retraining_data(self.data, hidden, self.tmp / f"retrain-data-{spec.name}")
        return self._run_notebook(
            spec,
            hidden,
            limits=Limits(
                wall_seconds=self.config.getoption("--retrain-timeout"),
                cpu_seconds=36000,
                threads=self.threads,
            ),
            hide=hide,
            device=self.retrain_device,
            readable=[data],
            outputs="retrained",
            retrain=Retraining(str(data / spec.data.get("folder", "")), steps),
        )

    def accuracy(self, spec: Spec, child, hidden: HiddenTest, task: str) -> float:
        """`task`'s accuracy on the hidden test set, from where `spec` says ([accuracy]): the
        child's predictions of every input, or the hand-in's predictions.csv checked against the
        child's re-run of a secret sample (`kws.grading.judge.accuracy`); under the Kaggle rule,
        the held-out part's (`KaggleParts.split_parts`). With a private test set
        (`HiddenTest.has_private`), the model's accuracy on it is the grade in either case, and
        the public accuracies beside it go in the output (a gap too large to be chance is a
        review finding, `kws.grading.judge.public_gap`). A test failure says why there is none
        (the model did not run, the file cannot be scored, or it is not what the model
        predicts). Without labels (``--handin``), the test fails for those reasons the labels
        do not decide (`check_scorable`), and is skipped otherwise."""
        report = self.loaded_model(child, task)
        check = None
        path = self.predictions_csv(spec, task) if spec.accuracy.from_csv else None
        try:
            if not hidden.labelled:  # --handin: the student's own data, no labels
                check_scorable(spec.accuracy, path, self.submission, hidden, report, task)
                pytest.skip(ACCURACY_AFTER_HAND_IN)
            if spec.accuracy.from_csv:
                check = csv_accuracy(path, self.submission, hidden, report, spec.accuracy)
            else:
                model_accuracy(hidden, report, task)  # AccuracyError when the model gave none
        except AccuracyError as error:
            pytest.fail(str(error))
        if check is not None and not check.passed:
            pytest.fail(disagreement_message(check, relative(path, self.submission), task))
        if check is not None and not hidden.has_private:  # the file is graded
            if self.split is not None:
                return self.split_parts(spec, task, check.correct, False).held_out
            return check.accuracy
        predictions = report["predictions"]
        accuracy, compared = hidden.accuracy(predictions), None
        if self.split is not None:  # the Kaggle rule splits the graded items in two parts
            correct = graded_correct(hidden, predictions)
            parts = self.split_parts(spec, task, correct, hidden.has_private)
            accuracy, compared = parts.held_out, parts.public
        elif check is not None:  # the file's accuracy on the public test set: the leaderboard's
            self.public[(spec.name, task)] = check.accuracy
        csv = None if check is None else check.accuracy
        items = layout_of(spec).items_name
        tier_set = self.tier_sets.get(spec.name)
        honest = spec.public_gaps.get(tier_set.name) if tier_set else None
        notes, review = public_gap(
            hidden, predictions, spec.notebook, task, items, csv, compared=compared, honest=honest
        )
        for note in notes:
            self.report.add_output(note)
        if review:  # the instructor's to judge: not in the output students read
            self.report.add_finding("review", review, student_sees=False)
        return accuracy

    def accuracy_credit(
        self, spec: Spec, child, hidden: HiddenTest, task: str, score: Score, leaderboard: str
    ) -> tuple[float, str]:
        """What an accuracy test does: `task`'s `accuracy`, on the leaderboard as `leaderboard`
        (an ``N_`` message or a `Text`, `shown` in the course's language), graded by tier
        against the task's target (`tier_credit` with `tiers`), and the test's partial credit
        set on `score` (with the message only at full credit: a passing test shows its
        accuracy).

        Returns:
            (fraction, message) of `tier_credit`, for the test to assert.

        Example:
            ```python
            def test_accuracy(grading, child, hidden, score):
                fraction, message = grading.accuracy_credit(SPEC, child, hidden, "task1", score,
                                                            "Task 1 accuracy")
                assert fraction == 1.0, message
            ```
        """
        accuracy = self.accuracy(spec, child, hidden, task)
        self.report.add_measure("accuracy", round(float(accuracy), 4))
        shown_as = shown(leaderboard)  # the column's name, in the course's language
        self.report.add_leaderboard(shown_as, self.shown(spec, task, accuracy))
        fraction, message = tier_credit(accuracy, self.tiers(spec.name), spec.tasks[task].target)
        score.set(fraction, message if fraction == 1.0 else "")
        return fraction, message

    def tiers(self, assignment: str) -> dict[str, float]:
        """The accuracy tiers an assignment is graded against in this run (chosen once, from the data
        or the grader's ``--dataset``/``--tiers``). With ``--handin`` (`kws handin`: the student's
        own data, no labels) the test is skipped, to be graded after the hand-in.

        Args:
            assignment: the assignment's name (``SPEC.name``).

        Returns:
            {tier: threshold}.

        Example:
            ```python
            fraction, message = tier_credit(accuracy, grading.tiers(SPEC.name), "simple")
            ```
        """
        if self.handin:  # `kws handin`: no labels, so no tiers to grade against yet
            pytest.skip(ACCURACY_AFTER_HAND_IN)
        if assignment not in self.tier_sets:
            pytest.fail(_("The grader has no accuracy tiers for this data; tell the course staff."))
        return self.tier_sets[assignment].tiers

    def check_options(self) -> None:
        if self.submission is None or not self.submission.is_dir():
            said = _("The grader was started without a valid --submission folder ({folder}).")
            pytest.fail(said.format(folder=self.submission))
        if self.data is None or not self.data.is_dir():
            said = _("The grader was started without a valid --data folder ({folder}); tell the "
                     "course staff.")  # fmt: skip
            pytest.fail(said.format(folder=self.data))
