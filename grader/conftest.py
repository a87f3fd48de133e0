"""`pytest grader/` from a checkout: the hidden grader (`kws.grading.plugin`) on the graded tests
of every assignment folder (``kws/assignments/<name>/graded_tests/``), as `kws grade` runs it:

    pytest grader/ --submission DIR --data DIR [--results results.json] [--assignment NAME]

Without ``--plan`` the grader plans the one hand-in --submission names (and no folder beside
it) with the function every path plans with (`kws.grading.judge.planned.plan_handins`), then
reads only that plan.

The grader itself lives in the package, so an installed kit grades without this folder
(``python -m kws.grading.command --submission DIR --data DIR --results FILE``).
"""

from pathlib import Path

import pytest

from kws.spec import graded_test_folders

pytest_plugins = ["kws.grading.plugin"]
HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before the plugin plans the run
def pytest_configure(config):
    # This folder stands for the graded tests: collect theirs in its place.
    if any(Path(arg.split("::")[0]).resolve() == HERE for arg in config.args):
        config.args[:] = [str(path) for path in graded_test_folders()]
