"""`pytest grader/` from a checkout: the hidden grader (`kws.grading.plugin`) on the graded tests
of every assignment folder (``kws/assignments/<name>/graded_tests/``), as `kws grade` runs it:

    pytest grader/ --submission DIR --data DIR [--results results.json] [--assignment NAME]

Without ``--plan`` the run is planned here with the function `kws grade` plans with
(`kws.grading.judge.planned.decide_handins`), for the one hand-in --submission names and no
folder beside it: the graders read the plan, and decide none of it again.

The grader itself lives in the package, so an installed kit grades without this folder
(``python -m kws.grading.command --submission DIR --data DIR --results FILE``).
"""

import shutil
import tempfile
from pathlib import Path

import pytest

from kws.spec import graded_test_folders

pytest_plugins = ["kws.grading.plugin"]
HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before the plugin reads --plan
def pytest_configure(config):
    # This folder stands for the graded tests: collect theirs in its place.
    if any(Path(arg.split("::")[0]).resolve() == HERE for arg in config.args):
        config.args[:] = [str(path) for path in graded_test_folders()]
    _plan(config)


def _plan(config) -> None:
    """The run's plan, decided by `decide_handins` for the one hand-in --submission names (the
    folders beside it are not looked at), written into a folder of the run's own and given to
    the plugin as ``--plan``; nothing when a plan is given, for a student's check
    (``--handin``) or when a folder is missing (the plugin's `Grading.check_options` says so in
    every test)."""
    from kws.grading.judge.planned import PLAN_FILE, decide_handins

    option = config.getoption
    start = config.invocation_params.dir
    if option("--plan") is not None or option("--handin"):
        return
    if option("--submission") is None or option("--data") is None:
        return
    submission, data = (start / option("--submission")).resolve(), (start / option("--data"))
    if not submission.is_dir() or not data.is_dir():
        return
    folder = Path(tempfile.mkdtemp(prefix="kws-plan-"))
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    tiers = option("--tiers")
    try:
        decided = decide_handins(data, [submission], option("--assignment"),
                                 dataset=option("--dataset"),
                                 tiers=start / tiers if tiers is not None else None)  # fmt: skip
    except (FileNotFoundError, ValueError) as error:
        raise pytest.UsageError(str(error)) from None
    plan = decided.grader_plan(data, [submission])
    (folder / PLAN_FILE).write_text(plan.text(), encoding="utf-8")
    config.option.plan = folder / PLAN_FILE
