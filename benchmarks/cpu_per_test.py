"""A pytest plugin: the CPU seconds each test costs, its processes included.

    PYTHONPATH=benchmarks KWS_CPU_REPORT=DIR python -m pytest -p cpu_per_test ...

Each test's set-up, call and tear-down are timed in CPU seconds: the pytest process's own (all
its threads) and those of every process it started and waited for (notebook kernels, graders and
their sandboxed children, since each waits for its own). Unlike wall seconds, they hardly change
when other work loads the machine, so a busy machine still tells which tests cost most. A fixture
shared by several tests counts for the first test that asks for it (its tear-down for the last).

Each process (a pytest-xdist worker, or pytest alone) writes ``DIR/<worker>.json``:
``{test id: CPU seconds}``; `read_reports` sums them by file.
"""

from __future__ import annotations

import json
import os
import resource
from collections import Counter
from pathlib import Path

import pytest

REPORT_DIR = "KWS_CPU_REPORT"  # the environment variable naming the folder of the reports
_seconds: dict[str, float] = {}


def cpu_seconds() -> float:
    """CPU seconds of this process and of every child it waited for, user and system."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = cpu_seconds()
    yield
    _seconds[item.nodeid] = _seconds.get(item.nodeid, 0.0) + cpu_seconds() - start


def pytest_sessionfinish(session):
    folder = os.environ.get(REPORT_DIR)
    if not folder or not _seconds:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(folder).mkdir(parents=True, exist_ok=True)
    rounded = {test: round(seconds, 2) for test, seconds in _seconds.items()}
    (Path(folder) / f"{worker}.json").write_text(json.dumps(rounded, indent=1) + "\n")


def read_reports(folder: Path) -> dict[str, float]:
    """CPU seconds per test file (``tests/test_x.py``) from the reports in `folder`, largest
    first."""
    by_file: Counter[str] = Counter()
    for report in sorted(Path(folder).glob("*.json")):
        for test, seconds in json.loads(report.read_text()).items():
            by_file[test.split("::")[0]] += seconds
    return {name: round(seconds, 1) for name, seconds in by_file.most_common()}
