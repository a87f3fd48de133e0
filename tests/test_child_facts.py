"""What a graded test reads of the grading child's report on a task (`ChildFacts.loaded_model`,
a step of the ``grading`` fixture): a model that loaded but failed on the hidden inputs fails
only the tests that need it run, with the error; one that did not load fails every test; a
failure the student caused says what to do."""

from types import SimpleNamespace

import nbformat
import pytest
from grading_helpers import make_notebook

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


def test_a_failure_the_student_caused_says_what_to_do(tmp_path):
    """The graded tests append the fix (`kws.grading.judge.hints`): a name the model cells use
    but only an untagged cell defines, named with that cell; a config.json whose arguments the
    class no longer takes."""
    nbformat.write(make_notebook([("import math", []), ("class M: pass", ["model"])]),
                   tmp_path / "nb.ipynb")  # fmt: skip
    child = _child({"evaluate": "NameError: name 'math' is not defined (model cell 1, line 4)"})
    child.payload["notebook"] = "nb.ipynb"
    facts = ChildFacts()
    facts.submission = tmp_path
    with pytest.raises(pytest.fail.Exception) as failed:
        facts.loaded_model(child, "kws", evaluated=True)
    assert str(failed.value) == (
        "Running your kws model failed: NameError: name 'math' is not defined (model cell 1, "
        "line 4). The grader runs only the cells tagged 'model', and `math` is defined in a cell "
        "without that tag (the cell starting `import math`): define or import `math` in a model "
        "cell too."
    )
    child = _child({"build": "TypeError: M.__init__() got an unexpected keyword argument 'd'"})
    with pytest.raises(pytest.fail.Exception, match=r"argument 'd'\. Your kws/config.json holds"):
        facts.loaded_model(child, "kws")
