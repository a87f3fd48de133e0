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
from kws.i18n import N_, Text, shown
from kws.i18n import gettext as _
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
    function.__doc__ = str(test.title)  # the English, for a reader of the test
    function.kws_title = (test.title.message, test.title.values)  # shown in the course's language
    if test.kind in _PER_TASK:
        return pytest.mark.parametrize("task", test.tasks)(function)
    return pytest.mark.task(test.tasks[0])(function) if len(test.tasks) == 1 else function


def _loads(spec: Spec, first: str) -> Callable:  # parametrized by task
    def graded(grading, child, task):
        report = grading.loaded_model(child, task, evaluated=True)
        expected = spec.tasks[task].model_class
        said = _("{task}/config.json names class {found}; this task's model must be your {name}.")
        assert report["class"] == expected, said.format(
            task=task, found=report["class"], name=expected
        )

    return graded


def _layers(spec: Spec, task: str) -> Callable:
    limit = int(spec.tasks[task].limits["max_layer_calls"])

    def graded(grading, child, score):
        calls = grading.probe_facts(child, task)["layer_calls"]
        passed, what, fix = judge_layers(calls, limit)
        said = _(
            "{what}, whatever the classes are called; {fix} (layers defined but not called do "
            "not count)."
        )
        assert passed, said.format(what=shown(what), fix=shown(fix))
        score.set(1.0, _sentence(what))

    return graded


def _parameters(spec: Spec, task: str) -> Callable:
    limit = spec.tasks[task].limits["max_parameters"]

    def graded(grading, child, score):
        grading.loaded_model(child, task)  # the checkpoint is the model the notebook builds
        weights = grading.model_weights(spec, task)  # from model.pt: the notebook cannot reach it
        passed, what, fix = judge_size(weights.count, limit, weights.text, N_("Your model"))
        said = _("{what}: {fix}. (Every tensor of model.pt counts, of every dtype.)")
        assert passed, said.format(what=shown(what), fix=shown(fix))
        score.set(1.0, _sentence(what))

    return graded


def _encoder_parameters(spec: Spec, task: str) -> Callable:
    limit = spec.tasks[task].limits["max_encoder_params"]

    def graded(grading, child, score):
        facts = grading.probe_facts(child, task, forward=False)  # counted, not run
        said = _("Your {task} model has no `.encoder` module; keep the skeleton's self.encoder.")
        assert facts["encoder_params"] is not None, said.format(task=task)
        count = facts["encoder_params"]
        # Measured from the checkpoint too, where the notebook's code cannot reach.
        budget = grading.encoder_budget(spec, task, facts["attention_modules"], required=False)
        if budget is not None and budget.count >= count:  # the live model may hold unsaved weights
            count = budget.count
        text = format_count(count)
        passed, what, fix = judge_size(count, limit, text, N_("Your encoder block"), below=True)
        said = _("{what}: {fix}. (Every tensor of the encoder counts, of every dtype.)")
        assert passed, said.format(what=shown(what), fix=shown(fix))
        score.set(1.0, _sentence(what))

    return graded


def _from_scratch(spec: Spec, task: str) -> Callable:
    def graded(grading, child):
        facts = grading.probe_facts(child, task)
        problems = judge_own_work(facts, spec.tasks[task].rules)
        assert not problems, _sentence(problems[0])

    return graded


def _norm(spec: Spec, task: str) -> Callable:
    def graded(grading, child):
        passed, explanation = grading.probe_facts(child, task)["norm_before_classifier"]
        assert passed, explanation

    return graded


def _accuracy(spec: Spec, first: str) -> Callable:  # parametrized by task
    def graded(grading, child, hidden, task, score):
        board = Text(N_("{title}: {task} accuracy"), title=spec.title, task=task)
        fraction, message = grading.accuracy_credit(spec, child, hidden, task, score, board)
        assert fraction == 1.0, message

    return graded


def _predictions_csv(spec: Spec, first: str) -> Callable:  # parametrized by task
    def graded(grading, hidden, task):
        written, rows = grading.read_predictions(spec, task)
        expected = set(hidden.test_labels)  # every test item, also those the child did not see
        missing, extra = expected - set(rows), set(rows) - expected
        said = _(
            "{file} has {missing} test Ids missing and {extra} unknown Ids; write one row per "
            "test item."
        )
        assert not missing and not extra, said.format(
            file=written, missing=len(missing), extra=len(extra)
        )
        unknown = sorted(set(rows.values()) - set(hidden.classes))
        said = _("{file} predicts unknown classes, e.g. {name}.")
        assert not unknown, said.format(file=written, name=repr(unknown[0]))

    return graded


def _sentence(text: str) -> str:
    """`text` (a judge's `Text`, or a finding as the tracer wrote it) shown as a sentence, in the
    course's language: its first letter a capital, a full stop after it."""
    said = _("{sentence}.").format(sentence=shown(text))
    return said[:1].upper() + said[1:]


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
