"""The graded tests a spec declares (`kws.spec.rules`), made from it (`spec_tests`): an assignment
takes them in with one line, in ``graded_tests/test_spec.py`` (``kws assign`` writes it). A test
another module of the folder writes by hand under the same name replaces the declared one, so
that no test is graded twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from kws.counts import format_count
from kws.spec import Spec
from kws.spec.rules import DeclaredTest, declared, judge_layers, judge_own_work, judge_size


def written_by_hand(folder: Path, here: Path | None = None) -> set[str]:
    """The graded test names the modules of `folder` (but `here`) define themselves: a
    ``def test_x(`` or a ``test_x =`` at the start of a line."""
    found = set()
    pattern = re.compile(r"^(?:def\s+(test_\w+)\s*\(|(test_\w+)\s*=)", re.M)
    for module in sorted(Path(folder).glob("test_*.py")):
        if here is not None and module.resolve() == here.resolve():
            continue
        for match in pattern.finditer(module.read_text(encoding="utf-8", errors="replace")):
            found.add(match[1] or match[2])
    return found


def spec_tests(spec: Spec, module_file: str) -> dict[str, Callable[..., None]]:
    """The graded tests `spec` declares (`kws.spec.rules.declared`), for a graded test module's
    globals; those another module of its folder writes by hand are left out.

    Args:
        spec: the assignment's spec.
        module_file: the graded test module's ``__file__``.

    Returns:
        {test name: test function}, in the order of `kws.spec.rules.declared`.

    Example:
        ```python
        globals().update(spec_tests(spec_of(__file__), __file__))  # graded_tests/test_spec.py
        ```
    """
    here = Path(module_file)
    own = written_by_hand(here.parent, here)
    return {test.name: _named(test, spec) for test in declared(spec) if test.name not in own}


def _named(test: DeclaredTest, spec: Spec) -> Callable:
    """The test function of `test`, made by its kind's maker for its first task (each task's
    own when the kind is per task: parametrized by ``task``)."""
    function = _MAKERS[test.kind](spec, test.tasks[0])
    function.__name__ = function.__qualname__ = test.name
    function.__doc__ = test.title
    if test.kind in _PER_TASK:
        return pytest.mark.parametrize("task", test.tasks)(function)
    return pytest.mark.task(test.tasks[0])(function) if len(test.tasks) == 1 else function


def _loads(spec: Spec, _: str) -> Callable:
    def graded(grading, child, task):
        report = grading.loaded_model(child, task, evaluated=True)
        expected = spec.tasks[task].model_class
        assert report["class"] == expected, (
            f"{task}/config.json names class {report['class']}; this task's model must be your "
            f"{expected}."
        )

    return graded


def _layers(spec: Spec, task: str) -> Callable:
    limit = int(spec.tasks[task].limits["max_layer_calls"])

    def graded(grading, child, score):
        calls = grading.probe_facts(child, task)["layer_calls"]
        passed, what, fix = judge_layers(calls, limit)
        assert passed, (
            f"{what}, whatever the classes are called; {fix} (layers defined but not called do "
            "not count)."
        )
        score.set(1.0, f"{what}.")

    return graded


def _parameters(spec: Spec, task: str) -> Callable:
    limit = spec.tasks[task].limits["max_parameters"]

    def graded(grading, child, score):
        grading.loaded_model(child, task)  # the checkpoint is the model the notebook builds
        weights = grading.model_weights(spec, task)  # from model.pt: the notebook cannot reach it
        passed, what, fix = judge_size(weights.count, limit, weights.text, "Your model")
        assert passed, f"{what}: {fix}. (Every tensor of model.pt counts, of every dtype.)"
        score.set(1.0, f"{what}.")

    return graded


def _encoder_parameters(spec: Spec, task: str) -> Callable:
    limit = spec.tasks[task].limits["max_encoder_params"]

    def graded(grading, child, score):
        facts = grading.probe_facts(child, task, forward=False)  # counted, not run
        assert facts["encoder_params"] is not None, (
            f"Your {task} model has no `.encoder` module; keep the skeleton's self.encoder."
        )
        count = facts["encoder_params"]
        # Measured from the checkpoint too, where the notebook's code cannot reach.
        budget = grading.encoder_budget(spec, task, facts["attention_modules"], required=False)
        if budget is not None and budget.count >= count:  # the live model may hold unsaved weights
            count = budget.count
        text = format_count(count)
        passed, what, fix = judge_size(count, limit, text, "Your encoder block", below=True)
        assert passed, f"{what}: {fix}. (Every tensor of the encoder counts, of every dtype.)"
        score.set(1.0, f"{what}.")

    return graded


def _from_scratch(spec: Spec, task: str) -> Callable:
    def graded(grading, child):
        facts = grading.probe_facts(child, task)
        problems = judge_own_work(facts, spec.tasks[task].rules)
        assert not problems, f"{problems[0][:1].upper()}{problems[0][1:]}."

    return graded


def _norm(spec: Spec, task: str) -> Callable:
    def graded(grading, child):
        passed, explanation = grading.probe_facts(child, task)["norm_before_classifier"]
        assert passed, explanation

    return graded


def _accuracy(spec: Spec, _: str) -> Callable:
    def graded(grading, child, hidden, task, score):
        board = f"{spec.title}: {task} accuracy"
        fraction, message = grading.accuracy_credit(spec, child, hidden, task, score, board)
        assert fraction == 1.0, message

    return graded


def _predictions_csv(spec: Spec, _: str) -> Callable:
    def graded(grading, hidden, task):
        shown, rows = grading.read_predictions(spec, task)
        expected = set(hidden.test_labels)  # every test item, also those the child did not see
        missing, extra = expected - set(rows), set(rows) - expected
        assert not missing and not extra, (
            f"{shown} has {len(missing)} test Ids missing and {len(extra)} unknown Ids; write "
            "one row per test item."
        )
        unknown = sorted(set(rows.values()) - set(hidden.classes))
        assert not unknown, f"{shown} predicts unknown classes, e.g. {unknown[0]!r}."

    return graded


_MAKERS = {
    "loads": _loads,
    "layers": _layers,
    "parameters": _parameters,
    "encoder_parameters": _encoder_parameters,
    "from_scratch": _from_scratch,
    "norm": _norm,
    "accuracy": _accuracy,
    "predictions_csv": _predictions_csv,
}
_PER_TASK = {"loads", "accuracy", "predictions_csv"}  # parametrized: each task's own test
