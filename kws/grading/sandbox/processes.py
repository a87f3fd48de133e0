"""Processes of a sandboxed child: a user id of its own, output kept to its tail, clean-up, and
a command that dies with the process that started it (`dies_with_parent`).

With a user id that belongs to one child alone, "every process of this child" is simply "every
process of this user id", so a process that escaped the process group (``setsid``, a double fork)
is still found and killed.
"""

import contextlib
import fcntl
import os
import secrets
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

UID_BASE = 61000  # dedicated user ids 61000..61999: no login, no files outside the sandbox

# Run as ``python -c GUARD PARENT COMMAND...``: ask for SIGKILL when the parent ends
# (PR_SET_PDEATHSIG, kept across exec), end at once when it has ended already (the request came
# too late), then become COMMAND. No preexec_fn: Python code run between fork and exec in a
# process with threads (the pool of `kws grade`) may deadlock.
_GUARD = """\
import ctypes, os, signal, sys
prctl = ctypes.CDLL(None, use_errno=True).prctl
prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
prctl(1, signal.SIGKILL, 0, 0, 0)
if os.getppid() != int(sys.argv[1]):
    os._exit(128 + signal.SIGKILL)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def dies_with_parent(command: list[str]) -> list[str]:
    """`command` started so that it gets SIGKILL when this process ends, however it ends (a
    SIGKILL, the out-of-memory killer): a small guard (``python -I -S -c``, a few milliseconds)
    sets Linux's parent-death signal, then ``exec``s `command` with its environment unchanged.

    The signal follows the thread that starts the command: start it from a thread that outlives
    it (one that waits for it, as `kws.grading.classrun.graders.GraderProcesses.run` does)."""
    return [sys.executable, "-I", "-S", "-c", _GUARD, str(os.getpid()), *command]


class TailReader(threading.Thread):
    """Drain a pipe, keeping only its last `cap` bytes and counting what was dropped."""

    def __init__(self, pipe, cap: int):
        super().__init__(daemon=True)
        self.pipe, self.cap, self.data, self.dropped = pipe, cap, b"", 0

    def run(self) -> None:
        while chunk := self.pipe.read(65536):
            self.data += chunk
            if len(self.data) > self.cap:
                self.dropped += len(self.data) - self.cap
                self.data = self.data[-self.cap :]

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            text = f"[... {self.dropped} earlier bytes of output cut ...]\n" + text
        return text


@contextlib.contextmanager
def reserved_uid() -> Iterator[int]:
    """A user id from the dedicated range, reserved for this child while the block runs.

    The reservation is an exclusive `flock` on a file in a folder only we can write, so two
    graders running side by side (batch grading) never share an id — sharing one would let the
    clean-up of one child kill the other — and a crashed grader frees its ids automatically.
    """
    folder = private_folder("sandbox-locks")
    used = {_owner(pid) for pid in _pids()}
    for _ in range(200):
        uid = UID_BASE + secrets.randbelow(1000)
        if uid in used:
            continue
        lock = open(folder / f"{uid}.lock", "w")  # noqa: SIM115 - held open while reserved
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        try:
            yield uid
        finally:
            lock.close()
        return
    raise RuntimeError("no free sandbox user id in 61000..61999; are stale children running?")


def private_folder(name: str) -> Path:
    """``TMP/kws-<name>-<uid>``: a folder only the grader's user can enter (mode 0700).

    Sandboxed children never see it: they get a fresh /tmp of their own where the OS allows, and
    run as another user id when the grader is root. Refused (RuntimeError) when someone else
    made it first or opened it to others.
    """
    folder = Path(tempfile.gettempdir()) / f"kws-{name}-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise RuntimeError(f"{folder} is not a private folder of this user; remove it and retry")
    return folder


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _alive(pid: int) -> bool:
    """False for a process that is gone or a zombie (dead, waiting for its parent to reap it)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def kill_everything(pgid: int, uid: int | None) -> None:
    """SIGKILL the child's process group and, with a dedicated uid, every process it owns."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    if uid is None:
        return
    for _ in range(100):  # a fork bomb may still be forking while we kill
        victims = [pid for pid in _pids() if _owner(pid) == uid and _alive(pid)]
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
