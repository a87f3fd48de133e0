"""Each test file's CPU seconds in the default run, held to its budget (tests/cpu_budget.json).

A pytest plugin (`tests/conftest.py` loads it). Every test is timed in CPU seconds, user and
system, of its process and every process it starts (`cpu_now`: notebooks, commands, graders and
their sandboxed children), and added to its file. Each pytest process counts them with a
CPU-accounting cgroup of its own where the machine lets it make one (root; the clock of
``benchmarks/cpu_per_test.py``): a grading child that bubblewrap's own init reaps reaches no
parent's ``getrusage``, so elsewhere the count leaves those children out (``cpu_clock()`` says
which). A session-scoped fixture (the synthetic data, the executed reference hand-in) is counted
apart, as the run's shared set-up, whichever file asks for it first.

After the default run (``python -m pytest -n auto --dist loadgroup``, no paths, no ``-k`` or
``-m``, not ``--full``), a file whose CPU seconds exceed its budget fails the run, naming the
file, its seconds and its budget. Budgets are this machine's seconds: on another, they are
scaled by `calibration` (a fixed one-thread workload's CPU seconds here and there), so a slower
machine takes more CPU seconds and still passes. A file the table does not name gets
`NEW_FILE` seconds. ``KWS_CPU_FILES=PATH`` writes the run's seconds per file to PATH (JSON).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from benchlib import cpu_seconds as waited_for  # noqa: E402  (this process and those it reaped)
from cpu_per_test import CpuClock  # noqa: E402

# the budgets (KWS_CPU_BUDGETS: another table, for this plugin's own test)
BUDGETS = Path(os.environ.get("KWS_CPU_BUDGETS") or Path(__file__).with_name("cpu_budget.json"))
SHARED = "(session fixtures)"  # the run's shared set-up, counted apart from the files
NEW_FILE = 30.0  # the budget of a file the table does not name, in CPU seconds
# The whole default run's budget: five minutes of both cores of the budgets' machine, every file
# and the shared set-up together (docs/development/tests.md, "The two tiers").
RUN_BUDGET = 600.0
# What measuring coverage costs on top (CI's default run, `--cov`): the budgets grow by as much.
COVERAGE_COST = 1.6

_seconds: Counter[str] = Counter()
_depth = 0  # session fixtures being set up, one inside another
_clock: CpuClock | None = None  # this process's (pytest_configure)


def start_clock() -> CpuClock:
    """This process's clock: a cgroup of its own, which every process it starts joins, unless
    joining it would change what the kit sees of its CPUs (on a machine where the CPU
    controller shares the hierarchy, the quota the grader reads), which the grading children's
    records are keyed by; then `getrusage`'s count."""
    from kws.grading.sandbox.cores import cpu_quota

    quota = cpu_quota()
    name = f"kws-tests-{os.getpid()}"
    clock = CpuClock(name)
    if clock.folder is not None:  # the groups of earlier runs that are empty now
        for left in clock.folder.parent.glob("kws-tests-*"):
            if left.name != name:
                with contextlib.suppress(OSError):
                    left.rmdir()  # refused while a process is in it
    if clock.kind == "cgroup" and cpu_quota() != quota:
        clock.close()
        clock.folder, clock.kind = None, "rusage"
    return clock


def cpu_clock() -> str:
    """What `cpu_now` counts: "cgroup" (every process started) or "rusage" (those waited for)."""
    return "rusage" if _clock is None else _clock.kind


def cpu_now() -> float:
    """CPU seconds (user + system) of this process and of the processes it started: all of them
    where it has a cgroup of its own, else those it waited for."""
    return waited_for() if _clock is None else _clock.seconds()


def calibration() -> float:
    """CPU seconds of a fixed one-thread torch workload in this process (about a third of a
    second here): the machine's speed, against which budgets are scaled."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(0)
        weight = torch.randn(192, 192, generator=generator) / 14
        x = torch.randn(64, 192, generator=generator)
        start = waited_for()
        for _ in range(4000):
            x = torch.tanh(x @ weight)
        return waited_for() - start
    finally:
        torch.set_num_threads(threads)


def budget_scale(here: float, there: float) -> float:
    """How much the budgets grow on this machine: its `calibration` seconds (`here`) against
    the budgets' machine's (`there`), never below 1. A machine quicker at the calibration's
    matrix work is not quicker at what the suite mostly does (starting interpreters, running
    notebooks and commands): one measured 0.165 s against the budgets' 0.29 while its test
    files cost as much CPU as there, or more. So budgets grow on a slower machine, never shrink."""
    return max(1.0, here / there)


def over_budget(
    seconds: dict[str, float],
    budgets: dict[str, float],
    scale: float = 1.0,
    run: float = RUN_BUDGET,
) -> dict[str, str]:
    """{file: why} of each file of `seconds` above its budget (`NEW_FILE` when `budgets` does
    not name it) times `scale` (this machine's speed against the budgets' machine), and
    ``"the run"`` when all of `seconds` together exceed `run` times `scale`."""
    over = {}
    total, allowed = sum(seconds.values()), run * scale
    if total > allowed:
        over["the run"] = (
            f"{total:.0f} CPU s in all, over the default run's budget of {allowed:.0f}: mark "
            "what runs a notebook, trains or plays a term `full` (docs/development/tests.md)"
        )
    for name, used in sorted(seconds.items()):
        if name == SHARED:
            continue
        allowed = budgets.get(name, NEW_FILE) * scale
        if used > allowed:
            over[name] = (
                f"{used:.0f} CPU s, over its budget of {allowed:.0f} (tests/cpu_budget.json)"
            )
    return over


def _file(nodeid: str) -> str:
    return nodeid.split("::")[0]


def pytest_configure(config):
    global _clock
    _clock = start_clock()


def pytest_unconfigure(config):
    global _clock
    if _clock is not None:
        _clock.close()
        _clock = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = cpu_now()
    yield
    _seconds[_file(item.nodeid)] += cpu_now() - start


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    global _depth
    if fixturedef.scope != "session" or _depth:
        yield
        return
    _depth, start = 1, cpu_now()
    try:
        yield
    finally:
        _depth, cost = 0, cpu_now() - start
        _seconds[SHARED] += cost
        item = getattr(request, "_pyfuncitem", None)  # the test that asked for it first
        if item is not None:
            _seconds[_file(item.nodeid)] -= cost


def _default_run(config) -> bool:
    """Whether this is the default run as the README runs it: every file, nothing selected."""
    return (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not config.getoption("keyword")
        and not config.getoption("markexpr")
        and not config.getoption("full")
        and not config.getoption("full_rest")
        and not config.getoption("record_children")
        and not config.getoption("maxfail")
    )


def pytest_sessionfinish(session):
    config = session.config
    if os.environ.get("PYTEST_XDIST_WORKER"):
        if hasattr(config, "workeroutput"):
            config.workeroutput["cpu_seconds"] = json.dumps(dict(_seconds))
        return
    seconds = {name: round(value, 1) for name, value in _seconds.most_common()}
    if not seconds:
        return
    if os.environ.get("KWS_CPU_FILES"):
        Path(os.environ["KWS_CPU_FILES"]).write_text(json.dumps(seconds, indent=1) + "\n")
    if not _default_run(config) or session.exitstatus not in (0, 1):
        return
    table = json.loads(BUDGETS.read_text())
    scale = budget_scale(calibration(), table["calibration_seconds"])
    if config.pluginmanager.hasplugin("_cov") and config.getoption("cov_source", None):
        scale *= COVERAGE_COST  # every line of the kit traced
    over = over_budget(seconds, table["files"], scale, table.get("run_seconds", RUN_BUDGET))
    config._kws_cpu = (seconds, over, scale)
    if over:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook, where it is installed
def pytest_testnodedown(node, error):
    """pytest-xdist's controller: a worker's seconds, added to the run's."""
    output = getattr(node, "workeroutput", {}).get("cpu_seconds")
    if output:
        _seconds.update(json.loads(output))


def pytest_terminal_summary(terminalreporter, config):
    measured = getattr(config, "_kws_cpu", None)
    if measured is None:
        return
    seconds, over, scale = measured
    total = sum(seconds.values())
    costliest = ", ".join(f"{name} {value:.0f}" for name, value in list(seconds.items())[:8])
    counted = {
        "cgroup": "every process counted by a cgroup",
        "rusage": "counted by getrusage: bubblewrap's grading children left out",
    }[cpu_clock()]
    terminalreporter.write_line(
        f"CPU seconds of the run: {total:.0f}, {counted} (the costliest files: {costliest}); "
        f"budgets scaled by {scale:.2f} for this machine's speed"
    )
    for name, why in over.items():
        terminalreporter.write_line(f"FAILED {name}: {why}", red=True)
