"""Each test file's CPU seconds in the default run against its budget (tests/cpu_budget.py,
tests/cpu_budget.json): a file over its budget is named, with its seconds and budget, and a
slower machine's budgets grow with its speed."""

import json
import os
import subprocess
import sys
import time

import pytest
from course_helpers import ROOT
from cpu_budget import (
    BUDGETS,
    NEW_FILE,
    SHARED,
    budget_scale,
    calibration,
    cpu_clock,
    cpu_now,
    over_budget,
    waited_for,
)


def test_a_file_over_its_budget_is_named_with_its_seconds():
    budgets = {"tests/test_a.py": 10.0, "tests/test_b.py": 40.0}
    seconds = {"tests/test_a.py": 12.0, "tests/test_b.py": 39.0, SHARED: 500.0}
    assert over_budget(seconds, budgets) == {
        "tests/test_a.py": "12 CPU s, over its budget of 10 (tests/cpu_budget.json)"
    }
    assert over_budget(seconds, budgets, scale=1.25) == {}  # a machine a quarter slower
    assert list(over_budget({"tests/test_new.py": NEW_FILE + 1}, budgets)) == ["tests/test_new.py"]


def test_a_default_run_over_its_whole_budget_fails_though_every_file_is_within_its_own():
    """Five minutes of two cores (600 CPU s, scaled for the machine's speed) for the whole run:
    the shared set-up and the files together; the message says what to move to --full."""
    budgets = {f"tests/test_{n}.py": 100.0 for n in range(6)}
    seconds = {name: 90.0 for name in budgets} | {SHARED: 80.0}
    over = over_budget(seconds, budgets)
    assert list(over) == ["the run"]
    assert over["the run"].startswith("620 CPU s in all, over the default run's budget of 600")
    assert "`full`" in over["the run"]
    assert over_budget(seconds, budgets, scale=1.1) == {}
    assert over_budget(seconds, budgets, run=700) == {}


def test_the_budgets_name_test_files_and_the_machine_they_were_measured_on():
    table = json.loads(BUDGETS.read_text())
    assert table["calibration_seconds"] > 0
    assert all(
        name.startswith("tests/test_") and seconds > 0 for name, seconds in table["files"].items()
    )
    assert 0 < calibration() < 100 * table["calibration_seconds"]


def test_the_default_run_fails_naming_a_file_over_its_budget(tmp_path):
    """A default run (every file, nothing selected) whose file burns more CPU seconds than its
    budget ends with a failure naming the file; its tests themselves pass."""
    (tmp_path / "test_hot.py").write_text(
        "import time\n\ndef test_burn():\n    start = time.process_time()\n"
        "    while time.process_time() - start < 1:\n        pass\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = .\nmarkers =\n    full: x\n")
    budgets = tmp_path / "budgets.json"
    budgets.write_text(
        json.dumps({"calibration_seconds": calibration(), "files": {"test_hot.py": 0.2}})
    )
    # a run of its own, not a worker of this one's (pytest-xdist's variables left out)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KWS_CPU_"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=env | {"PYTHONPATH": str(ROOT / "tests"), "KWS_CPU_BUDGETS": str(budgets)},
    )  # fmt: skip
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout
    assert "FAILED test_hot.py: 1 CPU s, over its budget of 0" in run.stdout


def test_budgets_grow_on_a_slower_machine_and_never_shrink_on_a_quicker_one():
    assert budget_scale(0.58, 0.29) == 2.0  # twice as slow at the calibration: twice the budget
    assert budget_scale(0.165, 0.29) == 1.0  # quicker at matrix work is not quicker at the suite


# A process that its parent leaves behind (as bubblewrap's own init takes the grading child):
# it burns a CPU second, then writes its file.
ORPHAN = """
import os, sys, time
if os.fork() == 0:
    start = time.process_time()
    while time.process_time() - start < 1:
        pass
    open(sys.argv[1], "w").close()
    os._exit(0)
"""


def test_a_process_nobody_waits_for_counts_where_the_run_has_a_cgroup(tmp_path):
    """Its CPU second never reaches this process's `getrusage`, yet counts for the test: a
    grading child in bubblewrap costs the default run what it burns."""
    if cpu_clock() != "cgroup":
        pytest.skip("this run has no cgroup of its own (it needs root and a cpuacct or v2 "
                    "hierarchy): its count leaves out bubblewrap's grading children")  # fmt: skip
    done = tmp_path / "done"
    counted, waited = cpu_now(), waited_for()
    subprocess.run([sys.executable, "-c", ORPHAN, str(done)], check=True, timeout=60)
    deadline = time.monotonic() + 120  # a guard against a hang, far beyond the second it takes
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done.exists()
    time.sleep(0.2)  # its exit
    assert cpu_now() - counted >= 0.9
    assert waited_for() - waited < 0.9
