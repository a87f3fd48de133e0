"""Grading a class without importing torch once per student: one process imports the grader's
libraries (pytest, torch, the kit's grading modules) once, then forks one grader per hand-in.

Importing torch costs about two CPU-seconds (its CUDA build maps gigabytes of libraries); a
`kws grade` run used to pay it for every student's grader process, about half of what grading a
small hand-in costs. A fork of a process that has imported everything starts at once and shares
those pages. Each forked grader is what ``python -m pytest`` would have been: it runs in its own
session (so a time-out ends its whole process group), in the working directory, environment and
arguments it was given, with its output in the log file, and its exit code reported back. The
zygote holds nothing of any student's (it imports, it never grades), and each grader is a fresh
copy of it, so no hand-in sees another's state.

    with Zygote(environment) as zygote:       # one per batch; `kws.grading.batch` uses it
        code = zygote.run(pytest_args, cwd=out_dir, log=log_file, env=environment, timeout=3600)

The protocol, one JSON object a line: ``{"id", "args", "cwd", "log", "env"}`` to the zygote's
standard input; ``{"id", "pid"}`` when the grader has started and ``{"id", "exit"}`` when it has
ended, from its standard output. Linux only (`available()`): elsewhere, and when the zygote
cannot start, the batch runs one ``python -m pytest`` process per student as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kws.grading.sandbox.launch import exit_flushed

# What the grader's process imports, less the plugin itself: pytest would warn that a module
# imported before it cannot have its asserts rewritten. Importing these is the cost forking saves.
# The hand-in's cells are read as IPython reads them (kws.notebooks): IPython's own import is
# another third of a CPU-second.
PRELOAD = (
    "pytest",
    "torch",
    "torchaudio",
    "kws.grading.verdicts",
    "kws.grading.budget",
    "kws.grading.review",
    "kws.grading.shared.handin",
    "kws.data.labels_csv",
    "kws.notebooks",
    "IPython.core.inputtransformer2",
)
REAP_SECONDS = 0.05  # how often a zygote with graders running looks for ended ones
CRASH_CODE = 70  # a forked grader whose start failed (os.EX_SOFTWARE)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # the zygote's: stop every running grader


def available() -> bool:
    """True where graders can be forked safely: Linux (macOS forbids much after a fork)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class ZygoteError(RuntimeError):
    """The zygote is gone (it could not start, or died): grade without it."""


class Zygote:
    """A started zygote; `run` grades one hand-in in a fork of it and may be called from
    several threads at once. Close it (or leave the `with` block) to let it exit."""

    def __init__(self, environment: dict[str, str], python: str = sys.executable):
        self._process = subprocess.Popen(
            [python, "-m", "kws.grading.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        self._lock = threading.Lock()
        self._next = 0
        self._replies: dict[int, dict] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self) -> None:
        for line in self._process.stdout:
            reply = json.loads(line)
            with self._changed:
                self._replies.setdefault(reply.pop("id"), {}).update(reply)
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _wait(self, key: int, field: str, deadline: float | None) -> object | None:
        with self._changed:
            while field not in self._replies.get(key, {}):
                if self._closed:
                    raise ZygoteError(
                        f"the grading zygote ended (exit code {self._process.wait()})"
                    )
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(left)
            return self._replies[key][field]

    def run(
        self, args: list[str], *, cwd: Path, log: Path, env: dict[str, str], timeout: float
    ) -> int | None:
        """Run ``pytest args`` in a fork, in `cwd` with environment `env`, its output into `log`;
        its exit code, or None when it ran longer than `timeout` seconds (its process group is
        then killed). ZygoteError when the zygote is gone."""
        with self._lock:
            key, self._next = self._next, self._next + 1
            request = {"id": key, "args": args, "cwd": str(cwd), "log": str(log), "env": env}
            try:
                self._process.stdin.write((json.dumps(request) + "\n").encode())
                self._process.stdin.flush()
            except (BrokenPipeError, ValueError) as error:
                raise ZygoteError(f"the grading zygote ended: {error}") from None
        deadline = time.monotonic() + timeout
        pid = int(self._wait(key, "pid", None))
        try:
            code = self._wait(key, "exit", deadline)
        except ZygoteError:  # gone mid-grading: the caller grades again, so end this one first
            _kill_group(pid)
            raise
        if code is not None:
            return int(code)
        _kill_group(pid)
        self._wait(key, "exit", None)
        return None

    def close(self) -> None:
        """Let the zygote exit once its running graders have ended."""
        with self._lock:
            try:
                self._process.stdin.close()
            except BrokenPipeError:  # it died; a request was left unsent in the buffer
                pass
        self._process.wait()
        self._reader.join()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(pid, signal.SIGKILL)


# ---- the zygote process (python -m kws.grading.zygote) ---------------------------------------


def _grade(request: dict, replies: int) -> None:
    """In the fork: become ``python -m pytest ARGS`` in the request's folder; never returns."""
    code = CRASH_CODE
    try:
        os.close(replies)
        os.setsid()  # its own process group: a time-out kills the grader and all it started
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(request["cwd"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        for source, target in ((null, 0), (log, 1), (log, 2)):
            os.dup2(source, target)
        os.close(log)
        os.close(null)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = os.getcwd()  # as `python -m pytest` run there would have it
        sys.argv = ["pytest", *request["args"]]
        import pytest

        code = int(pytest.main(request["args"]))
    except BaseException:  # whatever it was, the grader failed: its traceback goes to the log
        import traceback

        traceback.print_exc()
    finally:
        exit_flushed(code)


def _serve(requests: int, replies: int) -> None:
    """Fork a grader per request line; report each one's pid and exit code; return at the end
    of the requests once every grader has ended."""
    running: dict[int, int] = {}  # pid -> request id
    pending = b""
    ended = False
    # Ctrl-C reaches the instructor's foreground process group, where this process is and the
    # graders (each in a session of its own) are not: it stops them, as it stopped the pytest
    # processes the graders used to be. They are then reported like any other end.
    stopping = []
    for number in STOP_SIGNALS:
        signal.signal(number, lambda number, frame: stopping.append(number))

    def reply(message: dict) -> None:
        os.write(replies, (json.dumps(message) + "\n").encode())

    while not ended or running:
        ready = []
        if not ended:
            ready, _, _ = select.select([requests], [], [], REAP_SECONDS if running else None)
        else:
            time.sleep(REAP_SECONDS)
        if ready:
            chunk = os.read(requests, 65536)
            ended = not chunk
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:  # the requests' descriptor is 0: the grader's /dev/null replaces it
                    _grade(request, replies)
                running[pid] = request["id"]
                reply({"id": request["id"], "pid": pid})
        if stopping:
            stopping.clear()
            for pid in running:
                _kill_group(pid)
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            if pid in running:
                reply({"id": running.pop(pid), "exit": os.waitstatus_to_exitcode(status)})


def main() -> None:
    # The replies get a descriptor of their own; standard output becomes /dev/null, so that
    # nothing an import prints can break the protocol or end up in a student's log.
    replies = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    _serve(0, replies)


if __name__ == "__main__":
    main()
