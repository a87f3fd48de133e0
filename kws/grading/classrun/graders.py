"""The graders of a class run, and how a run stops: a signal, or a fault of the grading machine.

`GraderProcesses` starts each student's grader (``python -m pytest``) in a session of its own,
so that a time-out ends it with everything it started, and so that it dies with the run
(`kws.grading.sandbox.processes.dies_with_parent`). A run stops early with `RunStopped` (Ctrl-C
or SIGTERM; `exit_code` 130, 143) or `GraderFault` (the grading machine failed under a grader,
`fault_of`; its kind `GradedTestsFault`, a graded test file that cannot be loaded,
`broken_tests_of`); docs/how-to/grade-class.md ("A run stopped half-way") says what each
leaves.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
from concurrent.futures import Future, wait
from pathlib import Path

from kws.grading.judge.loading import BROKEN_TESTS_EXIT, conftest_broken, fix_of, said_broken
from kws.grading.sandbox.faults import MACHINE_FAULT_EXIT, low_space, said_fault
from kws.grading.sandbox.processes import dies_with_parent

SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class RunStopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM (signal `number`) stopped the run; the message says so, and what it
    graded and kept (`said`)."""

    def __init__(self, number: int, said: str = ""):
        name = SIGNAL_NAMES.get(number, number)
        super().__init__(f"stopped by {name}: {said}" if said else f"stopped by {name}")
        self.number = number

    @property
    def exit_code(self) -> int:
        """The exit code a shell gives a command this signal ended: 128 + its number."""
        return 128 + self.number


class GraderFault(RuntimeError):
    """The grading machine failed under a grader; no grade was recorded for its student. The
    message names the student, the grades folder and what to do."""


class GradedTestsFault(GraderFault):
    """A graded test file of the course could not be loaded (`kws.grading.judge.loading`): the
    instructor's file, not the hand-in, so no grade was recorded. The message names the file
    and its line; `fix` says what to correct."""

    fix = "correct the graded test file the grader's log names, then run the same command"

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        if fix is not None:
            self.fix = fix


def broken_tests_of(code: int, output: str, student: str) -> GradedTestsFault | None:
    """The refusal of a grader that ended with exit code `code` because a graded test file
    could not be loaded (`kws.grading.judge.loading.BROKEN_TESTS_EXIT`, its `output` naming
    each file; or pytest's usage error for a conftest.py of theirs, `conftest_broken`), for
    `student`'s hand-in; None for any other ending."""
    broken = conftest_broken(code, output)
    if code == BROKEN_TESTS_EXIT:
        broken = said_broken(output) or ["a graded test file (its log could not say which)"]
    if not broken:
        return None
    return GradedTestsFault(
        f"a graded test file of the course cannot be loaded (not the hand-in's fault): "
        f"{student} was not graded (no 0 recorded)",
        fix_of(broken),
    )


class NotStarted(RuntimeError):
    """The run was stopped before this grader started."""


class GraderProcesses:
    """The graders of one batch, each ``python -m pytest`` in a session of its own, so that the
    whole process group a grader started can be ended, and dying with this process; `run` may
    be called from several threads at once. `stop` ends every running grader and refuses new
    ones.

    Used as a context manager in the main thread, Ctrl-C (SIGINT) and SIGTERM call `stop` while
    the block runs, and the block ends with `RunStopped`. The handler stops the graders
    itself, first: Python runs it wherever the main thread is when it next looks, and a
    KeyboardInterrupt raised inside a callback (the import system's, during a garbage
    collection) is printed and dropped. While a pool of threads runs the graders (`pooled`), it
    raises nothing: an exception in the middle of the pool's bookkeeping could leave a lock
    held. The main thread then waits in slices (`wait_for`, at most `WAKE_SECONDS` each), so
    that a handler held back by a blocking wait runs within that, and the block ends with the
    interrupt once every grader is done.
    """

    WAKE_SECONDS = 0.25  # the longest a signal waits for the main thread's next look

    def __init__(self):
        self._lock = threading.RLock()  # the handler may run while this thread holds it (in run)
        self._running: set[subprocess.Popen] = set()
        self.stopped = False  # `stop` was called: graders running then were killed, none starts
        self.signals: list[int] = []  # the signals that stopped the block
        self.pooled = False  # a pool of threads runs the graders: the handler raises nothing
        self._previous: dict[int, object] = {}

    def __enter__(self) -> GraderProcesses:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(self, kind, error, traceback) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        if kind is not None:  # an error, or an interrupt raised elsewhere: no grader runs on
            self.stop()
        elif self.signals:
            raise RunStopped(self.signals[0])

    def _on_signal(self, number: int, frame) -> None:
        self.signals.append(number)
        self.stop()
        if not self.pooled:
            raise RunStopped(number)

    def run(
        self, command: list[str], *, cwd: Path, log: Path, env: dict[str, str], timeout: float
    ) -> int | None:
        """Run `command` in `cwd` with environment `env`, its output into `log`; its exit code,
        or None when it ran longer than `timeout` seconds (its process group is then killed).
        NotStarted when grading was stopped before it started."""
        with open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as output:
            with self._lock:
                if self.stopped:
                    raise NotStarted("grading was stopped")
                grader = subprocess.Popen(
                    dies_with_parent(command),  # killed with the run, however the run ends
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: a time-out ends all of it
                )
                self._running.add(grader)
                if self.stopped:  # by a signal handled while it started, in this thread
                    _kill_group(grader.pid)
        try:
            return grader.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(grader.pid)
            grader.wait()
            return None
        finally:
            with self._lock:
                self._running.discard(grader)

    def stop(self) -> None:
        """End every running grader with everything it started; start no more."""
        with self._lock:
            self.stopped = True
            for grader in list(self._running):
                _kill_group(grader.pid)

    def wait_for(self, futures: list[Future]) -> None:
        """Wait until every one of `futures` is done, looking for signals between slices."""
        while wait(futures, timeout=self.WAKE_SECONDS).not_done:
            pass


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(pid, signal.SIGKILL)


pytest_internal_error, pytest_usage_error = 3, 4  # pytest.ExitCode's, without importing pytest


def fault_of(code: int, output: str, out_dir: Path) -> str | None:
    """Why a grader that ended with exit code `code` (negative: the signal that killed it, which
    no one in the run sent) without results failed for the grading machine, not for its
    hand-in; None when nothing says so (the hand-in brought it down: an ungraded row).
    `output`: its log; `out_dir`: the grades folder it wrote into."""
    lines = output.strip().splitlines()
    last_line = lines[-1] if lines else "no output"
    if code == MACHINE_FAULT_EXIT:
        said = said_fault(output) or "its log could not say why: a full disk?"
        return f"it stopped on a fault of the grading machine ({said})"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return (f"it was killed by {name} from outside this run (the out-of-memory killer, or a "
                "person; see `dmesg`)")  # fmt: skip
    said = {pytest_internal_error: "INTERNALERROR>", pytest_usage_error: "usage:"}.get(code)
    if said is not None and said in output:  # pytest's own words: its hooks or its command line
        # failed in the grader's process, not a test a hand-in's report reached (a process
        # that only ends with these codes, saying nothing of it, is the hand-in's to lose)
        return (f"the grader itself failed (pytest's exit code {code}: {last_line}): a fault of "
                "the kit or its installation, never the hand-in's")  # fmt: skip
    full = low_space(out_dir) or low_space(Path(tempfile.gettempdir()))
    if code != 0 and full is not None:
        return f"it exited with code {code} ({last_line}) with {full}"
    return None
