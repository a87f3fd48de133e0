"""A pytest plugin: the CPU seconds each test costs, its processes included.

    PYTHONPATH=benchmarks KWS_CPU_REPORT=DIR python -m pytest -p cpu_per_test ...

Each test's set-up, call and tear-down are timed in CPU seconds of the whole process tree: the
pytest process (all its threads) and every process it starts (notebook kernels, graders and their
sandboxed children). Unlike wall seconds, they hardly change when other work loads the machine,
so a busy machine still tells which tests cost most. A fixture shared by several tests counts for
the first test that asks for it (its tear-down for the last).

The tree is counted by a CPU-accounting cgroup of its own (`CpuClock`), where the machine lets
this process make one (root, cgroup v1's cpuacct or cgroup v2): a sandboxed child's CPU reaches
no parent's ``getrusage`` (bubblewrap's init reaps it), so without a cgroup the report says it
counts the processes that were waited for only (``"clock": "rusage"``).

Each process (a pytest-xdist worker, or pytest alone) writes ``DIR/<worker>.json``:
``{"clock": ..., "tests": {test id: CPU seconds}}``; `read_reports` sums them by file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from benchlib import cpu_seconds

REPORT_DIR = "KWS_CPU_REPORT"  # the environment variable naming the folder of the reports
CGROUP_ROOTS = (  # (a hierarchy, its name in /proc/self/cgroup, its CPU file, read as seconds)
    (Path("/sys/fs/cgroup/cpuacct"), "cpuacct", "cpuacct.usage", lambda text: int(text) / 1e9),
    (Path("/sys/fs/cgroup/cpu,cpuacct"), "cpuacct", "cpuacct.usage", lambda t: int(t) / 1e9),
    (Path("/sys/fs/cgroup"), "", "cpu.stat", lambda text: int(text.split()[1]) / 1e6),
    (Path("/sys/fs/cgroup/unified"), "", "cpu.stat", lambda text: int(text.split()[1]) / 1e6),
)


def _current(controller: str) -> str:
    """This process's cgroup in the hierarchy of `controller` ("" for cgroup v2), e.g. "/a"."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or controllers == controller:
            return path
    raise ValueError(f"no {controller or 'v2'} cgroup")


class CpuClock:
    """CPU seconds of this process and all it starts from now on: a cgroup of its own where one
    can be made (``kind`` "cgroup"), else `benchlib.cpu_seconds` (``kind`` "rusage")."""

    def __init__(self, name: str):
        self.kind, self.folder, self._usage, self._read = "rusage", None, None, None
        for root, controller, usage, read in CGROUP_ROOTS:
            with contextlib.suppress(OSError, ValueError, IndexError):
                if not (root / usage).is_file():
                    continue
                # inside the cgroup this process is in: a parent's count includes its children's
                folder = root / _current(controller).lstrip("/") / name
                folder.mkdir(exist_ok=True)
                (folder / "cgroup.procs").write_text(str(os.getpid()))
                read((folder / usage).read_text())  # readable as expected
                self.kind, self.folder, self._usage, self._read = "cgroup", folder, usage, read
                return

    def seconds(self) -> float:
        if self.folder is None:
            return cpu_seconds()
        return self._read((self.folder / self._usage).read_text())

    def close(self) -> None:
        """Leave the cgroup (back to the one this process was in) and remove it when empty."""
        if self.folder is None:
            return
        with contextlib.suppress(OSError):
            (self.folder.parent / "cgroup.procs").write_text(str(os.getpid()))
            self.folder.rmdir()  # fails while a process this tree left behind is still in it


_clock: CpuClock | None = None
_seconds: dict[str, float] = {}


def pytest_configure(config):
    global _clock
    if os.environ.get(REPORT_DIR):
        _clock = CpuClock(f"kws-cpu-per-test-{os.getpid()}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if _clock is None:
        yield
        return
    start = _clock.seconds()
    yield
    _seconds[item.nodeid] = _seconds.get(item.nodeid, 0.0) + _clock.seconds() - start


def pytest_unconfigure(config):
    if _clock is None:
        return
    _clock.close()
    if not _seconds:
        return
    folder = Path(os.environ[REPORT_DIR])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    folder.mkdir(parents=True, exist_ok=True)
    tests = {test: round(seconds, 2) for test, seconds in _seconds.items()}
    report = {"clock": _clock.kind, "tests": tests}
    (folder / f"{worker}.json").write_text(json.dumps(report, indent=1) + "\n")


def read_reports(folder: Path) -> tuple[dict[str, float], str]:
    """CPU seconds per test file (``tests/test_x.py``) from the reports in `folder`, largest
    first, and the clock that measured them ("cgroup", or "rusage" when any report's was)."""
    by_file: Counter[str] = Counter()
    clocks = set()
    for path in sorted(Path(folder).glob("*.json")):
        report = json.loads(path.read_text())
        clocks.add(report["clock"])
        for test, seconds in report["tests"].items():
            by_file[test.split("::")[0]] += seconds
    clock = "rusage" if "rusage" in clocks else "cgroup"
    return {name: round(seconds, 1) for name, seconds in by_file.most_common()}, clock
