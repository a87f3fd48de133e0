"""The re-training test (`retraining_test`) and the tests of a spec's numeric checks
(`numeric_tests`), made from an assignment's spec; each reads the grading child's result through
the ``grading`` fixture.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from kws.grading.judge.results import titled
from kws.i18n import N_
from kws.spec import NumericTest, Spec


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

    title = N_("Re-training: the notebook trains from scratch on the GPU and its {task} model "
               "reaches the simple tier")  # fmt: skip
    return titled(title, task=task)(test_retrains_on_gpu)


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
            grading.numeric(child, entry.component, entry.topics, task=entry.task, spec=spec)

        test.__name__ = test.__qualname__ = entry.name
        test.__doc__ = entry.title
        return pytest.mark.task(entry.task)(test) if entry.task else test

    here = Path(module_file).name
    return {name: graded_test(e) for name, e in spec.numeric.items() if e.file == here}
