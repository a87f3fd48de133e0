"""The grading child's payload as a graded test reads it (`ChildFacts`, a part of
`kws.grading.judge.fixture.Grading`): only the payload, in the grader's process.
"""

import json
from pathlib import Path

import pytest

from kws.grading.judge.hints import hint, with_hint
from kws.grading.judge.notebook import child_problem
from kws.grading.judge.results import GradescopeReport
from kws.grading.sandbox.supervise import ChildResult
from kws.i18n import from_portable
from kws.i18n import gettext as _

# Why a numeric test of the course's grader_checks.py does not run in a student's copy.
GRADER_ONLY = "graded after you hand in: the course keeps this check with its grader"
# What a graded test says when the notebook did not run, by the stage that failed first.
NOTEBOOK_FAILED = {
    "notebook": "Finding your notebook failed",
    "model_cells": "Running the cells tagged 'model' failed",
    "retrain": "Re-running your notebook failed",
}


class ChildFacts:
    """The steps from the ``child`` fixture to what a graded test judges; `Grading` has them.

    Reads `report` (the run's `GradescopeReport`: findings for a person go there) and
    `submission` (the hand-in folder, for the hints of `kws.grading.judge.hints`), which
    `Grading` sets.
    """

    report: GradescopeReport
    submission: Path

    def task_report(self, child, task: str) -> dict:
        """The child's report on `task`, or a test failure saying why there is none."""
        return self.notebook_ran(child)["tasks"][task]

    def notebook_ran(self, child) -> dict:
        """The child's payload, or a test failure saying why the notebook did not run."""
        if child.status != "ok":
            pytest.fail(child_problem(child))
        self._fail_first(child, "", NOTEBOOK_FAILED)
        return child.payload

    def _fail_first(self, child: ChildResult, task: str, said: dict[str, str]) -> None:
        """Fail the test at the first stage of `said` the child reports failed for `task` ("":
        the notebook), with what `said` says of it, the child's error and what to do about it
        (`kws.grading.judge.hints.hint`, read from the error and the notebook it ran)."""
        payload = child.payload
        errors = (payload["tasks"].get(task, {}) if task else payload)["errors"]
        found = payload.get("notebook")  # the notebook's path in the hand-in, once found
        notebook = self.submission / found if found else None
        for stage in (stage for stage in said if stage in errors):
            error = with_hint(errors[stage], hint(errors[stage], stage, task, notebook))
            pytest.fail(f"{said[stage]}: {error}")

    def _tampered(self, where: str, tampering: list[str], checked: str, fix: str) -> None:
        """Record the notebook's `tampering` with torch or the grader, and fail the test."""
        what = f"the notebook changes torch or the grader ({tampering[0]})"
        self.report.add_finding("tampering", f"{where}: {what}")
        pytest.fail(
            f"Your notebook changes torch or the grader's code ({tampering[0]}), so {checked} "
            f"cannot be checked. {fix}"
        )

    def loaded_model(self, child: ChildResult, task: str, *, evaluated: bool = False) -> dict:
        """The child's report on a task, failing the test unless the model was built and its
        checkpoint loaded (and, with `evaluated`, ran on the hidden inputs).

        Args:
            child: the ``child`` fixture.
            task: the task's name.
            evaluated: True: fail the test too when the model's forward on the hidden inputs
                failed (there are no ``predictions``).

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
        loading = dict.fromkeys(
            ("config", "build", "checkpoint"),
            _("Loading your {task} model failed").format(task=task),
        )
        self._fail_first(child, task, loading)
        if evaluated:
            self._fail_first(
                child, task, {"evaluate": _("Running your {task} model failed").format(task=task)}
            )
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
        stages = ("config", "build", "probes")[: 3 if forward else 2]
        could_not = _("The structural checks could not run your {task} model").format(task=task)
        self._fail_first(child, task, dict.fromkeys(stages, could_not))
        tampering = report["facts"]["tampering"] + child.payload["tampering"]
        if tampering:
            fix = "Remove the code that replaces or patches torch functions."
            self._tampered(task, tampering, "its model", fix)
        if mismatch := report["facts"].get("traced_mismatch"):
            self.report.add_finding(
                "tampering", f"{task}: the model computes something else while traced ({mismatch})"
            )
            pytest.fail(
                f"Your {task} model computes something else while the grader traces it "
                f"({mismatch}), so its structure cannot be checked on "
                "the computation that is graded. Make forward compute the same thing every time "
                "(no checks for profilers, hooks, modes or who is calling)."
            )
        if unsteady := report["facts"].get("unsteady"):
            self.report.add_output(
                f"Your {task} model gives other outputs on each call in eval mode ({unsteady}). "
                "The grader ran every pass it compares under the same random seeds, so your "
                "grade is the same on every run; a model should still compute one thing in eval."
            )
        if forward and isinstance(report["facts"].get("layer_calls"), int):
            self.report.add_measure("layers_run", report["facts"]["layer_calls"])
        return report["facts"]

    def numeric(
        self,
        child,
        component: str,
        topics: tuple[str, ...] = (),
        task: str | None = None,
        *,
        spec=None,
    ) -> None:
        """Fail with the first failed numeric check of `component` (an entry of the assignment's
        checks.py, run by `kws.grading.child.numeric`), among its build checks and those of
        `topics` (all of them if none is given). `task`: the task whose report shows the notebook
        ran (default: the component's own, which its facts name; a task graded without a
        checkpoint names the model task instead). `spec`: the assignment's; a component of its
        ``grader_checks.py``, which a student's copy of the course lacks, is skipped there
        (`GRADER_ONLY`): ``kws handin`` counts its points as graded after the hand-in."""
        if task is not None:
            self.task_report(child, task)  # the notebook ran, and its model task was graded
        else:
            self.notebook_ran(child)
        if child.payload["tampering"]:
            fix = "Remove the code that replaces or patches torch."
            self._tampered(component, child.payload["tampering"], "its classes and functions", fix)
        facts = child.payload["numeric"].get(component)
        if facts is None and spec is not None and not spec.grader_checks_file.is_file():
            pytest.skip(GRADER_ONLY)  # a check the course keeps with its grader: not here
        if facts is None:
            pytest.fail(
                _("The numeric check of {component} did not run; tell the course staff.").format(
                    component=component
                )
            )
        name, items = facts["name"], facts["items"]
        relevant = [i for i in items if not topics or i[0] in ("build", *topics)]
        failed = [i for i in relevant if not i[1]]
        if not failed and not any(i[0] in topics for i in items) and topics:
            failed = [i for i in items if not i[1]][:1]  # stopped before reaching these checks
        if failed and facts["todo"] and failed[0][3].startswith("not written yet"):
            pytest.fail(
                _("Your {name} still has a TODO: {todo}").format(name=name, todo=facts["todo"])
            )
        if failed:
            what, fix = _shown(*failed[0][2:])
            pytest.fail(f"{name}: ✗ {what} — {fix}")


def _shown(what: str, fix: str, said: str) -> tuple[str, str]:
    """A failed item's texts in the active language, from `said` (the child's JSON of their
    messages, `kws.grading.child.numeric`); the English fields where it holds nothing usable."""
    try:
        texts = json.loads(said) if said else {}
    except ValueError:
        texts = {}
    if not isinstance(texts, dict):
        texts = {}
    return from_portable(texts.get("what"), what), from_portable(texts.get("fix"), fix)
