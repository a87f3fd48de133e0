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
from kws.i18n import N_, from_portable
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
        """Record the notebook's `tampering` with torch or the grader, and fail the test
        (`checked` and `fix`: messages, shown in the active language)."""
        what = f"the notebook changes torch or the grader ({tampering[0]})"
        self.report.add_finding("tampering", f"{where}: {what}")
        said = _("Your notebook changes torch or the grader's code ({tampering}), so {checked} "
                 "cannot be checked. {fix}")  # fmt: skip
        pytest.fail(said.format(tampering=tampering[0], checked=_(checked), fix=_(fix)))

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
            ``facts["norm_before_classifier"]``; the texts a test quotes to the student (a
            rule's explanation, ``layer_class_problem``, ``class_problems``) in the course's
            language.

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
            fix = N_("Remove the code that replaces or patches torch functions.")
            self._tampered(task, tampering, N_("its model"), fix)
        facts = report["facts"]
        if mismatch := facts.get("traced_mismatch"):
            self.report.add_finding(
                "tampering", f"{task}: the model computes something else while traced ({mismatch})"
            )
            said = _("Your {task} model computes something else while the grader traces it "
                     "({mismatch}), so its structure cannot be checked on the computation that is "
                     "graded. Make forward compute the same thing every time (no checks for "
                     "profilers, hooks, modes or who is calling).")  # fmt: skip
            pytest.fail(said.format(task=task, mismatch=shown_fact(facts, "traced_mismatch")))
        if facts.get("unsteady"):
            said = _("Your {task} model gives other outputs on each call in eval mode "
                     "({unsteady}). The grader ran every pass it compares under the same random "
                     "seeds, so your grade is the same on every run; a model should still compute "
                     "one thing in eval.")  # fmt: skip
            self.report.add_output(said.format(task=task, unsteady=shown_fact(facts, "unsteady")))
        if forward and isinstance(facts.get("layer_calls"), int):
            self.report.add_measure("layers_run", facts["layer_calls"])
        shown = {key: shown_fact(facts, key) for key in ("layer_class_problem",) if facts.get(key)}
        if isinstance(facts.get("class_problems"), dict):
            shown["class_problems"] = {
                name: problem and shown_fact(facts, "class_problems", name)
                for name, problem in facts["class_problems"].items()
            }
        if isinstance(facts.get("norm_before_classifier"), list | tuple):
            passed = facts["norm_before_classifier"][0]
            shown["norm_before_classifier"] = [passed, shown_fact(facts, "norm_before_classifier")]
        return facts | shown  # what a test quotes to the student, in the active language

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
            fix = N_("Remove the code that replaces or patches torch.")
            checked = N_("its classes and functions")
            self._tampered(component, child.payload["tampering"], checked, fix)
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


def shown_fact(facts: dict, key: str, name: str | None = None) -> str:
    """The text of the fact `key` of a task's `facts` (a rule's explanation for a rule's
    ``(passed, explanation)``; class `name`'s problem of ``class_problems``) in the active
    language, from the child's JSON of their messages (``facts["shown"]``,
    `kws.grading.child.runner.shown_facts`); English where it holds nothing usable."""
    english = facts.get(key)
    if isinstance(english, list | tuple):
        english = english[1]
    try:
        texts = json.loads(facts.get("shown") or "{}")
    except (TypeError, ValueError):
        texts = {}
    said = texts.get(key) if isinstance(texts, dict) else None
    if name is not None:
        english = english.get(name)
        said = said.get(name) if isinstance(said, dict) else None
    return from_portable(said, str(english))


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
