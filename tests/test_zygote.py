"""`kws grade` forks each student's grader from one process that imported torch once
(`kws.grading.zygote`): each forked grader must behave exactly as the ``python -m pytest``
process it replaces (folder, environment, arguments, output, exit code, time-out), and the batch
must still grade every student when the zygote is gone."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from kws.grading.batch import grade_batch, grade_one
from kws.grading.zygote import Zygote, ZygoteError, available

pytestmark = pytest.mark.skipif(not available(), reason="graders are forked on Linux only")

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
        "variable": os.environ.get("ZYGOTE_TEST_VARIABLE"),
        "bytecode": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        "path0": sys.path[0],
        "argv": sys.argv[1:3],
        "own_session": os.getsid(0) == os.getpid(),
        "torch_imported": "torch" in sys.modules,  # this grader never imports it
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


def test_a_forked_grader_sees_what_its_own_process_would(tmp_path, tiny_data, grader, monkeypatch):
    monkeypatch.setenv("ZYGOTE_TEST_VARIABLE", "from the instructor's shell")
    subs = _submissions(tmp_path / "subs", "ann", "ben", "crash")
    seen = {}
    for fork in (True, False):
        out = tmp_path / f"out-{fork}"
        rows = _rows(grade_batch(subs, tiny_data, out, jobs=2, grader=grader, fork=fork))
        assert rows["ann"]["works"] == rows["ben"]["works"] == "1.0"
        assert rows["crash"]["total"] == "0.0" and "exited with code 3" in rows["crash"]["notes"]
        for student in ("ann", "crash"):  # both streams reach the staff's log
            log = (out / "logs" / f"{student}.txt").read_text()
            assert f"to stdout: {student}" in log and f"to stderr: {student}" in log
        document = json.loads((out / "results" / "ann.json").read_text())
        seen[fork] = json.loads(document["tests"][0]["output"])
    assert seen[True]["torch_imported"] and not seen[False]["torch_imported"]  # forked, or not
    assert seen[True]["cwd"] == str(tmp_path / "out-True")  # the grader runs in OUT
    assert seen[True]["variable"] == "from the instructor's shell"
    assert seen[True]["bytecode"] == "1"  # the grader's own environment (GRADER_ENV)
    assert seen[True]["own_session"]  # a time-out can end all it started
    assert seen[True]["argv"] == seen[False]["argv"] == [str(grader), "-q"]
    for key in ("variable", "bytecode", "path0"):
        assert seen[True][key] == seen[False][key].replace("out-False", "out-True"), key


def test_a_grader_past_its_time_is_stopped_with_every_process_it_started(
    tmp_path, tiny_data, grader, monkeypatch
):
    pid_file = tmp_path / "hang.pid"
    monkeypatch.setenv("HANG_PID_FILE", str(pid_file))
    subs = _submissions(tmp_path / "subs", "ann", "hang")
    start = time.monotonic()
    rows = _rows(grade_batch(subs, tiny_data, tmp_path / "out", grader=grader, timeout=8))
    assert time.monotonic() - start < 60
    assert rows["ann"]["works"] == "1.0"
    assert rows["hang"]["total"] == "0.0"
    assert "the grader ran longer than 8 s and was stopped" in rows["hang"]["notes"]
    # killed with its group; its parent, the zygote, reaps nothing of it
    _assert_gone(int(pid_file.read_text()), "the time-out")


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_a_student_is_graded_even_when_the_zygote_is_gone(tmp_path, tiny_data, grader):
    student = _submissions(tmp_path / "subs", "ann") / "ann"
    (tmp_path / "out" / "results").mkdir(parents=True)
    (tmp_path / "out" / "logs").mkdir()
    zygote = Zygote(dict(os.environ))
    zygote._process.kill()
    zygote._process.wait()
    with pytest.raises(ZygoteError, match="the grading zygote ended"):
        zygote.run(["-q"], cwd=tmp_path, log=tmp_path / "log.txt", env={}, timeout=10)
    graded = grade_one(student, tiny_data, tmp_path / "out", grader=grader, zygote=zygote)
    assert graded.problem == "" and graded.document["score"] == 1.0
    zygote.close()


def test_kws_grade_itself_does_not_import_torch():
    """`kws grade` only finds the test sets and tier sets and starts the graders: importing torch
    there too would add two CPU-seconds to every class's grading (the zygote imports it once)."""

    code = "import sys, kws.cli, kws.grading.batch; print('torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def _hung_grader(zygote: Zygote, tmp_path, tiny_data, grader, outcome: list) -> threading.Thread:
    """A grader stuck with a process of its own (its pid in tmp_path/hang.pid), run in a thread
    whose outcome (exit code, or the exception) lands in `outcome`."""
    pid_file = tmp_path / "hang.pid"
    (tmp_path / "hang").mkdir()
    args = [str(grader), "-q", "--submission", str(tmp_path / "hang"), "--data", str(tiny_data)]
    args += ["--results", str(tmp_path / "hang.json")]
    env = dict(os.environ, HANG_PID_FILE=str(pid_file))

    def run():
        try:
            outcome.append(
                zygote.run(args, cwd=tmp_path, log=tmp_path / "log", env=env, timeout=300)
            )
        except ZygoteError as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    for _ in range(300):
        if pid_file.exists() and pid_file.read_text():
            return thread
        time.sleep(0.1)
    pytest.fail("the stuck grader never started")


def _assert_gone(pid: int, after: str) -> None:
    """`pid` ends (gone or a zombie) within 5 s; killed and the test failed otherwise."""
    for _ in range(50):
        if _state(pid) == "Z":
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"the grader's own process {pid} outlived {after}")


def test_ctrl_c_stops_the_forked_graders(tmp_path, tiny_data, grader):
    """The graders run in sessions of their own, out of reach of the terminal's Ctrl-C, which
    reaches the zygote: it stops them, and `kws grade` ends instead of waiting for them."""
    outcome = []
    with Zygote(dict(os.environ)) as zygote:
        thread = _hung_grader(zygote, tmp_path, tiny_data, grader, outcome)
        os.kill(zygote._process.pid, signal.SIGINT)  # what Ctrl-C sends the foreground group
        thread.join(30)
        assert outcome == [-signal.SIGKILL]
    _assert_gone(int((tmp_path / "hang.pid").read_text()), "Ctrl-C")


def test_a_grader_left_by_a_dead_zygote_is_stopped_before_it_is_graded_again(
    tmp_path, tiny_data, grader
):
    """When the zygote dies mid-grading the batch grades that student again in a process of its
    own: the orphaned fork must not run on beside it, writing the same results file."""
    outcome = []
    zygote = Zygote(dict(os.environ))
    thread = _hung_grader(zygote, tmp_path, tiny_data, grader, outcome)
    zygote._process.kill()
    thread.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], ZygoteError)
    _assert_gone(int((tmp_path / "hang.pid").read_text()), "its zygote")
    zygote.close()
