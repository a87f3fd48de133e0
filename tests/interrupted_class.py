"""A class whose grading the tests interrupt (tests/test_interrupted_runs.py): four hand-ins
graded in a second each by the real grader (`-p kws.grading.plugin`, its results writer and
fault handling) on graded tests that read each hand-in's points from its ``points.json``, with
a course file and hand-in times, run by the instructor's commands in the course folder.

    course = make_course(tmp_path / "course", tiny_data)         # submissions/, course.toml ...
    done = kws(course, *GRADE)                                    # `kws grade ...`, to its end
    run = start(course, *GRADE, faults={"cy": "hold"})            # `kws grade ...`, running
    wait_for(hold / "cy.started", run)                            # a moment of the run

`kws` runs `python -c DRIVER ARGS...`: the `kws` command (`kws.cli.main`, as typed: the lock
records it so) whose graded tests are those of `GRADED_TESTS` instead of the assignments'
(they start no sandboxed child: a class grades in seconds); a command that neither grades nor
meets a fault runs as typed in the test's own process (tests/in_process.py). What goes wrong
comes from the environment, and each moment is a file the run writes and the test waits for:

- ``KWS_TEST_FAULTS`` (JSON {student: fault}), in that student's grader: ``hold`` (write
  ``HOLD/<student>.started``, then wait until ``HOLD/<student>.go`` exists), ``enospc`` (a graded
  test meets a full disk), ``memory`` (the grader's own MemoryError), ``killed`` (the grader is
  killed with SIGKILL, as by the out-of-memory killer), ``crash`` (the hand-in brings its
  grader down: os._exit(3)), ``sandbox`` (a sandboxed child that sleeps; ``HOLD/<student>.started``
  once it was asked for), ``writes`` (a sandboxed child that writes files past its quota);
- ``KWS_TEST_PAUSE`` in `kws` itself: ``gradebook`` (after `kws grade` wrote gradebook.csv,
  before the standings and the seal), ``regraded`` (after a regrade put the new result in place,
  before the gradebook): ``HOLD/paused`` is written, and the command waits there for good;
- ``KWS_TEST_ENOSPC`` in `kws` itself: the file name whose write meets a full disk (``os.fsync``
  of its temporary file fails with ENOSPC, as a delayed allocation does).
"""

import contextlib
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from course_helpers import ROOT
from in_process import kws_here

HOLD_ENV = "KWS_TEST_HOLD"
POINTS = {  # {student: (keyword_spotting out of 10, speaker_id out of 30)}
    1: {"ann": (8, 20), "bob": (10, 25), "cy": (6, 30), "dan": (9, 12)},
    2: {"ann": (10, 28), "bob": (7, 30), "cy": (10, 15), "dan": (4, 30)},
}
COURSE = """timezone = "UTC"
grace_minutes = 0

[late]
per_day = 0.10
cap = 0.30

[due]
keyword_spotting = "2026-10-02 23:59"
speaker_id = "2026-10-16 23:59"
"""
# ann hands notebook 01 in a day late: 10 % of its 10 points off (`started_days`).
TIMES = """student,assignment,submitted
ann,keyword_spotting,2026-10-03T12:00:00Z
ann,speaker_id,2026-10-10T12:00:00Z
bob,,2026-10-01T12:00:00Z
cy,,2026-10-01T12:00:00Z
dan,,2026-10-01T12:00:00Z
"""
ROSTER = "Student,ID,SIS User ID,SIS Login ID,Section,folder\n" + "".join(
    f"{name.title()},{n},S{n},{name},A,{name}\n" for n, name in enumerate(POINTS[1], start=1)
)
GRADE = ["grade", "submissions", "--data", "data", "--out", "grades", "--jobs", "2",
         "--course", "course.toml", "--times", "times.csv"]  # fmt: skip
# The notebooks ask written questions no one marks here: the instructor exports them as 0.
EXPORT = ["export", "canvas", "grades", "--roster", "roster.csv", "--out", "canvas.csv",
          "--unmarked", "zero"]  # fmt: skip

GRADED_TESTS = '''
"""Graded tests of the points.json hand-ins (tests/interrupted_class.py)."""
import errno, json, os, signal, sys, time
from pathlib import Path

import pytest


def _student(config):
    return config.getoption("--submission").name


def _fault(config):
    return json.loads(os.environ.get("KWS_TEST_FAULTS", "{}")).get(_student(config))


def _points(config):
    return json.loads((config.getoption("--submission") / "points.json").read_text())


def _hold(student):
    folder = Path(os.environ["KWS_TEST_HOLD"])
    (folder / f"{student}.started").write_text(str(os.getpid()))
    while not (folder / f"{student}.go").exists():
        time.sleep(0.05)


def _sandboxed_sleep(config, student):
    from kws.grading.sandbox.run import ChildJob, run_child
    from kws.grading.sandbox.supervise import Limits

    marker = os.environ["KWS_TEST_MARKER"]
    job = ChildJob(["-c", f"import time; time.sleep(600)  # {marker}"],
                   config.getoption("--submission"), limits=Limits(wall_seconds=600))
    (Path(os.environ["KWS_TEST_HOLD"]) / f"{student}.started").write_text(str(os.getpid()))
    run_child(job)


def _sandboxed_writes(config):
    """A hand-in whose code writes 1 MiB files until it is stopped, under a quota of 4 MiB."""
    from kws.grading.sandbox.run import ChildJob, run_child
    from kws.grading.sandbox.supervise import Limits

    code = ("import os, time\\nfor i in range(400):\\n"
            "    with open(os.path.join(os.environ['TMPDIR'], f'f{i}'), 'wb') as f:\\n"
            "        f.write(os.urandom(2**20))\\n"
            "time.sleep(600)")  # fmt: skip
    job = ChildJob(["-c", code], config.getoption("--submission"),
                   limits=Limits(wall_seconds=600, written_bytes=4 * 2**20))  # fmt: skip
    result = run_child(job)
    assert result.status == "ok", f"your code was {result.reason}"


@pytest.mark.points(10)
@pytest.mark.assignment("keyword_spotting")
def test_keywords(request, score):
    """Notebook 01's points"""
    config, fault = request.config, _fault(request.config)
    if fault == "hold":
        _hold(_student(config))
    elif fault == "enospc":
        raise OSError(errno.ENOSPC, "No space left on device")
    elif fault == "memory":
        raise MemoryError
    elif fault == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "crash":
        os._exit(3)
    elif fault == "sandbox":
        _sandboxed_sleep(config, _student(config))
    elif fault == "writes":
        _sandboxed_writes(config)
    score.set(_points(config)["keyword_spotting"] / 10)


@pytest.mark.points(30)
@pytest.mark.assignment("speaker_id")
def test_speakers(request, score):
    """Notebook 02's points"""
    score.set(_points(request.config)["speaker_id"] / 30)
'''

DRIVER = """
import errno, os, sys, time
from pathlib import Path

import kws.spec

kws.spec.graded_test_folders = lambda: [Path(os.environ["KWS_TEST_GRADER"])]
hold = Path(os.environ.get("KWS_TEST_HOLD", "."))


def pause(*args, **kwargs):
    (hold / "paused").write_text(str(os.getpid()))
    while True:
        time.sleep(1)


where = os.environ.get("KWS_TEST_PAUSE")
if where == "gradebook":
    from kws.grading.classrun import batch

    batch.grades_of = pause  # the gradebook written, the season's records not yet
elif where == "regraded":
    from kws.grading.classrun import regrade

    regrade.record_regrade = pause
full = os.environ.get("KWS_TEST_ENOSPC")
if full:
    fsync = os.fsync

    def fsync_on_a_full_disk(descriptor):
        if os.readlink(f"/proc/self/fd/{descriptor}").split("/")[-1].startswith(f".{full}."):
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(descriptor)

    os.fsync = fsync_on_a_full_disk
sys.argv[0] = "kws"
from kws.cli import main

sys.exit(main(sys.argv[1:]))
"""


def make_course(folder: Path, tiny_data: Path, version: int = 1) -> Path:
    """The instructor's folder: submissions/ (ann, bob, cy, dan with the points of `POINTS`'s
    `version`), data/ (the tiny data), course.toml, times.csv, roster.csv, and the graded tests
    (grader/) with HOLD/ beside them."""
    folder.mkdir(parents=True)
    set_points(folder, version)
    (folder / "data").symlink_to(tiny_data, target_is_directory=True)
    for name, text in (("course.toml", COURSE), ("times.csv", TIMES), ("roster.csv", ROSTER)):
        (folder / name).write_text(text)
    (folder / "grader").mkdir()
    (folder / "grader" / "test_points.py").write_text(GRADED_TESTS)
    (folder / "hold").mkdir()
    return folder


def set_points(folder: Path, version: int) -> None:
    """Each hand-in's points.json as `POINTS`'s `version` (the students handed in again)."""
    for student, (keywords, speakers) in POINTS[version].items():
        handin = folder / "submissions" / student
        handin.mkdir(parents=True, exist_ok=True)
        points = {"keyword_spotting": keywords, "speaker_id": speakers}
        (handin / "points.json").write_text(json.dumps(points))


def environment(course: Path, faults: dict | None = None, **more: str) -> dict[str, str]:
    """The environment of `kws` run in `course`: its graded tests, HOLD, and the faults."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "KWS_TEST_GRADER": str(course / "grader"),
                        HOLD_ENV: str(course / "hold")}  # fmt: skip
    if faults:
        env["KWS_TEST_FAULTS"] = json.dumps(faults)
    return env | more


def kws(course: Path, *args: str, faults: dict | None = None, **more: str):
    """`kws ARGS` typed in `course`, run to its end (`subprocess.CompletedProcess`): a command
    that grades, or that meets a fault, by `DRIVER` in a process of its own; any other (the
    export, the report, the season: records read and written) in this process, as typed."""
    if args[0] != "grade" and not faults and not more:
        return kws_here(course, *args, env=environment(course))
    return subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=course,
                          env=environment(course, faults, **more), capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def start(course: Path, *args: str, faults: dict | None = None, **more: str) -> subprocess.Popen:
    """`kws ARGS` started in `course`, in a process group of its own (as a shell's job)."""
    return subprocess.Popen([sys.executable, "-c", DRIVER, *args], cwd=course,
                            env=environment(course, faults, **more), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip


def wait_for(path: Path, run: subprocess.Popen) -> None:
    """Wait until `path` exists: the moment the run reached. Fails with the run's output when
    the run ended first."""
    while not path.exists():
        if run.poll() is not None:
            out, err = run.communicate()
            raise AssertionError(f"the run ended ({run.returncode}) before {path.name}:\n{err}")
        time.sleep(0.05)


def finish(run: subprocess.Popen) -> tuple[int, str, str]:
    """The run's exit code, stdout and stderr once it has ended."""
    out, err = run.communicate(timeout=600)
    return run.returncode, out, err


def kill_group(run: subprocess.Popen) -> None:
    """SIGKILL the run's process group (what `kill -9 -PGID` does), and reap it."""
    with contextlib.suppress(ProcessLookupError):  # it ended already, with its group
        os.killpg(run.pid, signal.SIGKILL)
    run.wait()


def processes_naming(text: str) -> list[tuple[int, str]]:
    """(pid, command line) of every living process whose command line holds `text`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state not in ("Z", "X"):
            found.append((int(name), cmdline))
    return found


def snapshot(folder: Path) -> dict[str, str]:
    """{file: sha256} of every file under `folder`."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def grades_of(folder: Path) -> dict:
    """What a grades folder grades: each gradebook row (but seconds and the run's notes), each
    student's test scores, and the standings' finals."""
    with open(folder / "gradebook.csv", newline="") as file:
        rows = {r["student"]: {k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(file)}  # fmt: skip
    tests = {}
    for student in rows:
        document = json.loads((folder / "results" / f"{student}.json").read_text())
        tests[student] = {t["name"]: t["score"] for t in document["tests"]}
    standings = json.loads((folder / "standings.json").read_text())["students"]
    finals = {s: {a: e["final"] for a, e in entries.items()} for s, entries in standings.items()}
    return {"gradebook": rows, "tests": tests, "finals": finals}
