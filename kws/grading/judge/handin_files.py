"""The hand-in's own files as a graded test reads them (`HandinFiles`, a part of
`kws.grading.judge.fixture.Grading`): ``predictions.csv`` as text, ``model.pt`` without
unpickling it (`kws.grading.judge.budget`), so nothing the notebook does at run time changes them.
"""

from pathlib import Path
from typing import NamedTuple

import pytest

from kws.data.labels_csv import read_labels_csv
from kws.grading.judge.budget import (
    BudgetError,
    WeightCount,
    checkpoint_weights,
    encoder_budget,
)
from kws.grading.protocol.handin import predictions_csv, relative
from kws.i18n import gettext as _
from kws.spec import Spec

MAX_PREDICTIONS_BYTES = 16 * 2**20  # far above a test set's Id,Category rows


class PredictionsFile(NamedTuple):
    """A task's ``predictions.csv``, read: `shown` (its path as the student sees it, for
    messages) and `rows` ({Id: Category})."""

    shown: str
    rows: dict[str, str]


class HandinFiles:
    """The steps from the hand-in folder to a task's files; `Grading` has them.

    Reads `submission` (the hand-in folder), which `Grading` sets.
    """

    submission: Path

    def predictions_csv(self, spec: Spec, task: str) -> Path:
        """Where `spec`'s notebook wrote `task`'s ``predictions.csv`` (``OUT_DIR/<task>/``,
        beside the notebook the grader grades); the task's other outputs are beside it.

        Args:
            spec: the assignment (the ``spec`` fixture, or ``spec_of(__file__)``).
            task: the task's name.

        Returns:
            The path; it may not exist.

        Example:
            ```python
            config = grading.predictions_csv(spec, "task1").parent / "config.json"
            ```
        """
        classes = list(spec.model_tasks.values())  # tell the notebook among several
        return predictions_csv(self.submission, spec.notebook, classes, task)

    def read_predictions(self, spec: Spec, task: str) -> PredictionsFile:
        """Read `task`'s ``predictions.csv``, an ``Id,Category`` file; fails the test when it is
        missing, outside the hand-in, over 16 MiB, or not such a CSV (an Id given twice).

        Args:
            spec: the assignment.
            task: the task's name.

        Returns:
            A `PredictionsFile`: ``shown`` (``outputs/task1/predictions.csv``) and ``rows``
            ({Id: Category}).

        Example:
            ```python
            shown, rows = grading.read_predictions(spec, "task1")
            missing = set(hidden.test_labels) - set(rows)
            assert not missing, f"{shown} has {len(missing)} test Ids missing."
            ```
        """
        path = self.predictions_csv(spec, task)
        shown = relative(path, self.submission)
        inside = path.resolve().is_relative_to(Path(self.submission).resolve())
        if not (inside and path.is_file()):
            pytest.fail(_("{file} is missing; run the cell that writes it.").format(file=shown))
        if path.stat().st_size >= MAX_PREDICTIONS_BYTES:
            said = _("{file} is larger than {size} MB.")
            pytest.fail(said.format(file=shown, size=MAX_PREDICTIONS_BYTES // 2**20))
        try:
            rows = read_labels_csv(path)
        except (ValueError, UnicodeDecodeError, OSError) as error:
            pytest.fail(f"{shown}: {error}")
        return PredictionsFile(shown, rows)

    def model_weights(self, spec: Spec, task: str) -> WeightCount:
        """Count the weights of `task`'s ``model.pt``, measured from the file (never from what
        the notebook's code reports): every tensor of every dtype but a normalization's
        bookkeeping, as the self-check counts the live model (``model_params`` of
        `probe_facts`); fails the test when the file cannot be read safely.

        Args:
            spec: the assignment.
            task: the task's name.

        Returns:
            A `WeightCount`: ``count`` and ``text`` ("318.47k").

        Example:
            ```python
            weights = grading.model_weights(spec, "task1")
            assert weights.count < 100_000, f"Your model holds {weights.text} weights."
            ```
        """
        try:
            weights = checkpoint_weights(self._model_pt(spec, task), task)
        except BudgetError as error:
            pytest.fail(f"{error}.")
        self.report.add_measure("weights", weights.count)
        return weights

    def encoder_budget(
        self,
        spec: Spec,
        task: str,
        attention_modules: list[str] = (),
        *,
        required: bool = True,
    ) -> WeightCount | None:
        """Count the weights of the encoder block in `task`'s ``model.pt``, measured from the
        file: the tensors under ``encoder.``, plus every top-level module where the grading
        child saw attention run (`kws.grading.judge.budget.encoder_budget`).

        Args:
            spec: the assignment.
            task: the task's name.
            attention_modules: the modules where attention ran (``facts["attention_modules"]``
                of ``grading.probe_facts``); they only ever add to the count.
            required: True: fail the test when the file cannot be measured (missing, not a
                state dict, no ``encoder.`` weights). False: return None then, for a test that
                falls back on what the child counted (the tests that load the model already
                cost a missing checkpoint its points).

        Returns:
            A `WeightCount` (``count``, ``text``), or None (`required` False).

        Example:
            ```python
            facts = grading.probe_facts(child, "task1", forward=False)
            budget = grading.encoder_budget(spec, "task1", facts["attention_modules"])
            assert budget.count < 500_000, f"The encoder block holds {budget.text}."
            ```
        """
        try:
            budget = encoder_budget(self._model_pt(spec, task), task, attention_modules)
        except BudgetError as error:
            if required:
                pytest.fail(f"{error}.")
            return None
        self.report.add_measure("encoder_weights", budget.count)
        return budget

    def _model_pt(self, spec: Spec, task: str) -> Path:
        return self.predictions_csv(spec, task).parent / "model.pt"
