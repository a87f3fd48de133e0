"""`kws grade` runs each student's grader as a ``python -m pytest`` process of its own
(`kws.grading.classrun.graders.GraderProcesses`): in the output folder, with the instructor's environment,
both output streams in the staff's log, in a session of its own so that a time-out ends it with
everything it started, and Ctrl-C or SIGTERM stops every grader with their processes: of a
class, of one student's regrade, and wherever the signal finds the main thread (here, inside a
callback whose exceptions Python drops: a KeyboardInterrupt raised there was lost)."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import weakref
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
from batch_helpers import grade_batch

from kws.grading.classrun.graders import GraderProcesses

# A grader of its own (a conftest.py), as `kws grade --grader DIR` runs it: it reports what its
# process sees, prints to both streams, and misbehaves as the student's folder name asks.
GRADER = """
import json, os, subprocess, sys, time
from pathlib import Path

def pytest_addoption(parser):
    for name in ("--submission", "--data", "--results", "--hide", "--child-threads"):
        parser.addoption(name, action="append")

def pytest_configure(config):
    student = Path(config.getoption("--submission")[0]).name
    print("to stdout:", student)
    print("to stderr:", student, file=sys.stderr)
    if student == "crash":
        os._exit(3)  # as if the hand-in brought the grader down
    if student == "hang":  # a grader stuck with a process of its own
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        Path(os.environ["HANG_PID_FILE"]).write_text(str(child.pid))
        time.sleep(600)
    seen = {
        "cwd": os.getcwd(),
        "variable": os.environ.get("GRADER_TEST_VARIABLE"),
        "bytecode": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        "argv": sys.argv[1:3],
        "own_session": os.getsid(0) == os.getpid(),
    }
    tests = [{"name": "works", "score": 1.0, "max_score": 1.0, "status": "passed",
              "output": json.dumps(seen), "visibility": "visible"}]
    Path(config.getoption("--results")[0]).write_text(json.dumps({"score": 1.0, "tests": tests}))
"""


@pytest.fixture
def grader(tmp_path):
    folder = tmp_path / "grader"
    folder.mkdir()
    (folder / "conftest.py").write_text(textwrap.dedent(GRADER))
    (folder / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    return folder


def _submissions(root, *students):
    for student in students:
        (root / student).mkdir(parents=True)
    return root


def _rows(gradebook):
    return {row["student"]: row for row in csv.DictReader(open(gradebook))}


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def _assert_gone(pid: int, after: str) -> None:
    """`pid` ends (gone or a zombie) within a minute, where it would sleep ten; killed and the
    test failed otherwise."""
    for _ in range(600):
        if _state(pid) == "Z":
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"the grader's own process {pid} outlived {after}")


def test_a_grader_runs_in_the_output_folder_with_the_instructors_environment(
    tmp_path, tiny_data, grader, monkeypatch
):
    monkeypatch.setenv("GRADER_TEST_VARIABLE", "from the instructor's shell")
    subs = _submissions(tmp_path / "subs", "ann", "ben", "crash")
    out = tmp_path / "out"
    rows = _rows(grade_batch(subs, tiny_data, out, jobs=2, grader=grader))
    assert rows["ann"]["works"] == rows["ben"]["works"] == "1.0"
    assert rows["crash"]["total"] == "0.0" and "exited with code 3" in rows["crash"]["notes"]
    for student in ("ann", "crash"):  # both streams reach the staff's log
        log = (out / "logs" / f"{student}.txt").read_text()
        assert f"to stdout: {student}" in log and f"to stderr: {student}" in log
    seen = json.loads(json.loads((out / "results" / "ann.json").read_text())["tests"][0]["output"])
    assert seen["cwd"] == str(out)  # the grader runs in OUT, never in the kit
    assert seen["variable"] == "from the instructor's shell"
    assert seen["bytecode"] == "1"  # the grader's own environment (GRADER_ENV)
    assert seen["own_session"]  # a time-out can end all it started
    assert seen["argv"] == [str(grader), "-q"]


def test_a_grader_past_its_time_is_stopped_with_every_process_it_started(
    tmp_path, tiny_data, grader, monkeypatch
):
    """A time-out fit for the machine as loaded now (four times what a grader that ends takes
    here, so that "ann" keeps her grade on a slow machine too) stops the stuck grader, which
    would sleep for ten minutes, with what it started."""
    pid_file = tmp_path / "hang.pid"
    monkeypatch.setenv("HANG_PID_FILE", str(pid_file))
    start = time.monotonic()
    grade_batch(
        _submissions(tmp_path / "alone", "ann"), tiny_data, tmp_path / "first", grader=grader
    )
    timeout = round(4 * (time.monotonic() - start) + 5)
    subs = _submissions(tmp_path / "subs", "ann", "hang")
    start = time.monotonic()
    rows = _rows(grade_batch(subs, tiny_data, tmp_path / "out", grader=grader, timeout=timeout))
    assert time.monotonic() - start < 300  # stopped, where it would sleep for 600 s
    assert rows["ann"]["works"] == "1.0"
    assert rows["hang"]["total"] == "0.0"
    assert f"the grader ran longer than {timeout} s and was stopped" in rows["hang"]["notes"]
    _assert_gone(int(pid_file.read_text()), "the time-out")  # killed with its group


# `kws grade` on a class whose one student's grader hangs (its process's pid in HANG_PID_FILE),
# or `kws grade --student` regrading that student alone.
BATCH = """
import sys
from pathlib import Path
from kws.grading.classrun.batch import grade_class
from kws.grading.classrun.one import stage_one
from kws.grading.classrun.plan import plan_run
subs, data, out, grader = map(Path, sys.argv[1:5])
if sys.argv[5] == "class":
    grade_class(plan_run(subs, data, out), grader=grader)
else:
    stage_one(subs / "hang", data, out, grader=grader).commit()
"""


@pytest.mark.parametrize("how", ["class", "one"], ids=["a class", "one student"])
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_every_grader_and_what_it_started(
    tmp_path, tiny_data, grader, stop, how
):
    """The graders run in sessions of their own, out of reach of the terminal's Ctrl-C, which
    reaches `kws grade`: it stops them, and ends instead of waiting for them."""
    pid_file = tmp_path / "hang.pid"
    subs = _submissions(tmp_path / "subs", "hang")
    (tmp_path / "out" / "logs").mkdir(parents=True)
    arguments = [str(p) for p in (subs, tiny_data, tmp_path / "out", grader)]
    env = os.environ | {"HANG_PID_FILE": str(pid_file)}
    batch = subprocess.Popen([sys.executable, "-c", BATCH, *arguments, how], env=env)
    try:
        for _ in range(3000):
            if (pid_file.exists() and pid_file.read_text()) or batch.poll() is not None:
                break
            time.sleep(0.1)
        assert pid_file.exists(), "the stuck grader never started"
        batch.send_signal(stop)  # what Ctrl-C sends the foreground group: kws grade alone
        assert batch.wait(300) != 0  # stopped, not finished: its grader would sleep for 600 s
    finally:
        batch.kill()
        batch.wait()
    _assert_gone(int(pid_file.read_text()), f"signal {stop.name}")


# Before the pool starts, the handler raises KeyboardInterrupt too: Python prints and drops it
# there, as it did the one that left `kws grade` waiting.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("pooled", [True, False], ids=["graders running", "before the pool"])
def test_a_signal_handled_where_exceptions_are_dropped_still_stops_the_graders(tmp_path, pooled):
    """Python runs a signal's handler wherever the main thread is when it next looks: inside a
    weakref callback (the import system's, during a garbage collection), a KeyboardInterrupt
    raised by the handler is printed and dropped, and `kws grade` then waited for a grader that
    never ends. The handler stops the graders itself, and the block ends with the interrupt."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    pool = ThreadPoolExecutor(1)
    try:
        with pytest.raises(KeyboardInterrupt), GraderProcesses() as graders:
            graders.pooled = pooled
            log = tmp_path / "log.txt"
            env = dict(os.environ)
            future = pool.submit(graders.run, sleeper, cwd=tmp_path, log=log, env=env, timeout=600)
            while not graders._running:
                time.sleep(0.01)

            class Collected:
                pass

            def callback(_):  # what Python prints and drops, were it to raise
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(100_000):  # the handler runs at one of these steps
                    pass

            garbage = Collected()
            reference = weakref.ref(garbage, callback)
            del garbage  # the callback runs here
            assert reference() is None
            stopped = wait([future], timeout=300).not_done == set()  # it would sleep for 600 s
            assert stopped, "the grader was not stopped"
        assert future.result() == -signal.SIGKILL
    finally:
        pool.shutdown(cancel_futures=True)


def test_kws_grade_itself_does_not_import_torch():
    """`kws grade` only finds the test sets and tier sets and starts the graders: importing torch
    there too would add two CPU-seconds to every class's grading."""

    code = "import sys, kws.cli, kws.grading.classrun.batch; print('torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
