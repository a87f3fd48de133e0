"""What a graded test reads of the grading child's report on a task (`ChildFacts.loaded_model`,
a step of the ``grading`` fixture): a model that loaded but failed on the hidden inputs fails
only the tests that need it run, with the error; one that did not load fails every test."""

from types import SimpleNamespace

import pytest

from kws.grading.judge.facts import ChildFacts


def _child(task_errors: dict) -> SimpleNamespace:
    """A grading child that ran the notebook, with these errors on task ``kws``."""
    report = {"class": "KeywordTransformer", "predictions": None, "errors": task_errors}
    return SimpleNamespace(status="ok", payload={"errors": {}, "tasks": {"kws": report}})


def test_a_model_that_failed_on_the_inputs_fails_the_tests_that_need_it_run():
    child = _child({"evaluate": "RuntimeError: mat1 and mat2 shapes cannot be multiplied"})
    assert ChildFacts().loaded_model(child, "kws")["class"] == "KeywordTransformer"
    with pytest.raises(pytest.fail.Exception, match="Running your kws model failed: RuntimeError"):
        ChildFacts().loaded_model(child, "kws", evaluated=True)


@pytest.mark.parametrize("evaluated", [False, True])
def test_a_model_that_did_not_load_fails_every_test(evaluated):
    child = _child({"checkpoint": "head.weight has shape (3, 16)", "evaluate": "not loaded"})
    with pytest.raises(pytest.fail.Exception, match="Loading your kws model failed: head.weight"):
        ChildFacts().loaded_model(child, "kws", evaluated=evaluated)
