"""The default run and the full run (tests/conftest.py): the README's test command leaves out
the tests marked `full` or `benchmark` and says how to run them; ``--full`` runs them (CI's one
session), and tells the grader corpora's fixtures (`full`) to grade every case, not their
samples."""

import os
import subprocess
import sys

from course_helpers import ROOT

MODULE = """
import pytest

def test_always():
    pass

@pytest.mark.full
def test_only_in_the_full_run():
    pass

@pytest.mark.benchmark
def test_a_benchmark_script():
    pass

def test_the_corpora_hear_the_switch(full, request):
    assert full == (request.config.getoption("full") or request.config.getoption("full_rest"))
    print(f"FULL={full}")
"""


def _run(folder, *args: str) -> subprocess.CompletedProcess:
    """pytest on `folder`'s test module with the suite's conftest.py as its plugin."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-s",
         "-o", "markers=full: the full run\nbenchmark: a benchmark script", "test_switch.py", *args],
        cwd=folder, capture_output=True, text=True, timeout=300,
        env=os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])},
    )  # fmt: skip


def test_the_default_run_leaves_out_what_is_marked_full_and_says_how_to_run_it(tmp_path):
    (tmp_path / "test_switch.py").write_text(MODULE)
    default = _run(tmp_path)
    assert default.returncode == 0, default.stdout[-2000:] + default.stderr[-2000:]
    assert "2 passed, 2 deselected" in default.stdout and "FULL=False" in default.stdout
    assert "--full runs them all" in default.stdout

    full = _run(tmp_path, "--full")
    assert full.returncode == 0, full.stdout[-2000:] + full.stderr[-2000:]
    assert "4 passed" in full.stdout and "deselected" not in full.stdout  # the benchmarks' too

    benchmarks = _run(tmp_path, "-m", "benchmark")
    assert "1 passed, 3 deselected" in benchmarks.stdout, benchmarks.stdout[-2000:]
    assert "FULL=True" in full.stdout and "--full runs them all" not in full.stdout


def test_the_rest_of_the_full_run_is_what_the_default_run_leaves_out_or_runs_otherwise(tmp_path):
    """--full-rest (CI's second step) runs what the default run leaves out and every test that
    reads the full switch, as the full run does: with the default run, all that --full runs."""
    (tmp_path / "test_switch.py").write_text(MODULE)
    rest = _run(tmp_path, "--full-rest", "-v")
    assert rest.returncode == 0, rest.stdout[-2000:] + rest.stderr[-2000:]
    assert "3 passed, 1 deselected" in rest.stdout and "FULL=True" in rest.stdout
    assert "test_always" not in rest.stdout
    assert "--full runs them all" not in rest.stdout
