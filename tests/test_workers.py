"""The README's test command (`-n auto --dist loadgroup`) deals each test group to one worker:
a corpus graded in one sandbox (a fixture of minutes) is built once, not once per worker, while
each test of a split module is a group of its own. Checked on the installed pytest and pytest-xdist, whose
own grouping pytest 9.2 broke (tests/conftest.py, `pytest_xdist_make_scheduler`)."""

import os
import re
import subprocess
import sys
from collections import defaultdict

import pytest
from conftest import worker_group
from course_helpers import ROOT

pytest.importorskip("xdist", reason="pytest-xdist (the dev extra) runs the README's -n auto")

# A plugin that skips every test where it was dealt, before its fixtures: the run shows the
# worker of each test without building a corpus.
WHERE_ONLY = """
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    pytest.skip("dealt only")
"""


@pytest.mark.slow
@pytest.mark.full  # the whole suite collected again by two xdist workers: 11 CPU-s
def test_each_group_runs_on_one_worker(tmp_path):
    (tmp_path / "where_only.py").write_text(WHERE_ONLY)
    modules = ["tests/test_grader_corpus.py", "tests/test_demo.py"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", *modules]
        + ["-p", "no:cacheprovider", "-p", "where_only"],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    dealt = re.findall(r"^\[(gw\d)\].* SKIPPED (\S+::\S+)", run.stdout, re.M)
    assert len(dealt) >= 20, run.stdout[-3000:]
    workers = defaultdict(set)
    for worker, nodeid in dealt:
        workers[worker_group(nodeid.split("@")[0])].add(worker)
    corpora = {group for group in workers if group.startswith("corpus-")}
    assert corpora == {"corpus-bubblewrap", "corpus-hand-written"}
    assert all(len(workers[group]) == 1 for group in workers), dict(workers)
    split = [group for group in workers if group.startswith("tests/test_demo.py::")]
    # tests/test_demo.py is split: each test a group, for either worker (its two runs of `kws
    # demo` are the full run's)
    assert len(split) == 2


def test_groups_are_read_from_the_test_ids():
    corpus = "tests/test_grader_corpus.py::test_every_case_is_graded_as_intended"
    assert worker_group(f"{corpus}[hand-written]") == "corpus-hand-written"
    assert worker_group(f"{corpus}[bubblewrap]") == "corpus-bubblewrap"
    alone = "tests/test_grader_corpus.py::test_reference_submission_gets_full_marks"
    assert worker_group(alone) == "tests/test_grader_corpus.py"
    split = "tests/test_demo.py::test_phase_clock_adds_up_its_phases"
    assert worker_group(split) == split
    assert worker_group("tests/test_params.py::test_x[2-3]") == "tests/test_params.py"
    assert (ROOT / "tests/test_grader_corpus.py").is_file()  # the module the ids name
