"""Watch a started child to its end and bring back its checked JSON payload.

`supervise` feeds the child its one-time token on stdin, keeps its output to the last
`Limits.output_bytes`, enforces the wall clock and says how the child ended, as one of `STATUSES`
with a sentence a student can act on. The result file must carry the token, so stray prints or
files cannot pose as a result; it is opened without following links, capped and checked
(`check_json`) before anyone reads it. `python_command` starts every trusted entry point with no
folder of the script or the working directory on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kws.grading.sandbox.processes import TailReader, kill_everything
from kws.grading.sandbox.quota import Quota

STATUSES = ("ok", "timeout", "crashed", "killed", "memory", "invalid_output")
_MEMORY_MARKERS = (
    "MemoryError",
    "can't allocate memory",
    "Unable to allocate",
    "CUDA out of memory",
)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one child. Sizes in bytes, times in seconds."""

    wall_seconds: float = 300.0
    cpu_seconds: int = 600
    memory_bytes: int = 6 * 2**30
    file_bytes: int = 512 * 2**20
    written_bytes: int = 2 * 2**30  # what the child holds on disk and in /tmp, all together
    processes: int = 256
    output_bytes: int = 32 * 2**10
    payload_bytes: int = 8 * 2**20
    submission_bytes: int = 2 * 2**30
    threads: int = 2


@dataclass
class ChildResult:
    """What came back from one child: `status` is one of STATUSES, `payload` is None unless ok."""

    status: str
    returncode: int | None
    stdout_tail: str
    stderr_tail: str
    payload: dict | None = None
    seconds: float = 0.0
    protections: list[str] = field(default_factory=list)
    reason: str = ""
    notes: list[str] = field(default_factory=list)  # for the student, e.g. what was not copied

    def to_dict(self) -> dict:
        return asdict(self)


def check_json(value, where: str = "payload", *, depth: int = 6, max_items: int = 200_000):
    """Raise ValueError unless `value` is plain, bounded JSON: finite numbers, short strings."""
    if depth < 0:
        raise ValueError(f"{where}: nested too deeply")
    if value is None or isinstance(value, bool | str | int):
        if isinstance(value, str) and len(value) > 10_000:
            raise ValueError(f"{where}: a string of {len(value)} characters (limit 10000)")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value} is not a finite number")
        return
    if isinstance(value, list | dict):
        if len(value) > max_items:
            raise ValueError(f"{where}: {len(value)} items (limit {max_items})")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            check_json(item, f"{where}[{key!r}]", depth=depth - 1, max_items=max_items)
        return
    raise ValueError(f"{where}: unexpected type {type(value).__name__}")


# Python 3.10 has no -P (leave the script's folder, here the child's own, off sys.path), and its
# -I would ignore PYTHONPATH, the child's copy of the kit: there a bootstrap does what -P does.
_BOOT_MODULE = (
    "import runpy, sys; del sys.path[0]; "
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
)
_BOOT_CODE = (
    "import sys as _s; del _s.path[0]; _c = _s.argv.pop(1); del _s; "
    "exec(compile(_c, '<string>', 'exec'))"
)
_BOOT_SCRIPT = (
    "import runpy, sys; del sys.path[0]; sys.argv.pop(0); "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def interpreter() -> str:
    """This Python, named as a child can start it: the folder of ``sys.executable`` resolved
    (links and ``..``), its own name kept.

    ``sys.executable`` keeps the path the grader was started by (``../venv/bin/python``,
    ``.venv/bin/python`` where ``.venv`` is a link), and inside the sandbox only resolved paths
    are bound (`kws.grading.sandbox.allow.python_paths`). The file itself is not resolved: a
    virtual environment's ``bin/python`` is a link to its base interpreter, and Python finds
    the environment (its ``pyvenv.cfg``, its site-packages) from the path it was started by.
    """
    folder, name = os.path.split(sys.executable)
    return os.path.join(os.path.realpath(folder), name)


def python_command(args: list[str]) -> list[str]:
    """``python -P -s ARGS`` (ARGS: ``-m MODULE ...``, ``-c CODE ...`` or ``SCRIPT ...``) with
    this Python (`interpreter`): no folder of the script or the working directory on
    ``sys.path``, no user site, ``PYTHONPATH`` honoured."""
    python = interpreter()
    if sys.version_info >= (3, 11):
        return [python, "-P", "-s", *args]
    if args[0] in ("-m", "-c"):
        boot = _BOOT_MODULE if args[0] == "-m" else _BOOT_CODE
        return [python, "-s", "-c", boot, *args[1:]]
    return [python, "-s", "-c", _BOOT_SCRIPT, *args]


def supervise(
    command,
    limits: Limits,
    uid,
    token: str,
    result_path: Path,
    env: dict[str, str],
    signal_exit_codes: bool = False,
    quota: Quota | None = None,
) -> ChildResult:
    """Run `command` (the launcher's, `kws.grading.sandbox.run`), feed it `token`, enforce the
    wall clock, classify how it ended and, when it ended well, read its payload at `result_path`.

    Args:
        command: the argument list to start, in a new session, with the environment `env`.
        limits: its wall clock and the sizes of its output tails and its payload.
        uid: the child's own user id, whose every process is killed at the end (None: none).
        token: the one-time token written to its stdin, which its result file must carry.
        result_path: where the child writes ``{"token": ..., "payload": {...}}``.
        signal_exit_codes: an exit code 128 + N means "killed by signal N" (bubblewrap's).
        quota: the child's write quota (`kws.grading.sandbox.quota`), looked at between slices
            of the wait: a child that holds more is stopped before it fills the machine's disk.

    Returns:
        The child's `ChildResult`; its `seconds`, `protections` and `notes` are the caller's.
    """
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,  # the launcher imports the same copy of the kit as the child
    )
    readers = [TailReader(pipe, limits.output_bytes) for pipe in (proc.stdout, proc.stderr)]
    for reader in readers:
        reader.start()
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.write(token.encode() + b"\n")
        proc.stdin.close()
    waited: dict = {}

    def wait() -> None:  # os.wait4 also gives the CPU time used, to tell a CPU-limit kill
        _, waited["status"], waited["usage"] = os.wait4(proc.pid, 0)

    waiter = threading.Thread(target=wait)
    waiter.start()
    over = _wait_within_quota(waiter, limits, quota, proc.pid, uid)
    timed_out = waiter.is_alive() and not over
    kill_everything(proc.pid, uid)  # also ends background processes the child left behind
    waiter.join()
    proc.returncode = os.waitstatus_to_exitcode(waited["status"])
    if signal_exit_codes and 128 < proc.returncode < 128 + signal.NSIG:
        proc.returncode = 128 - proc.returncode  # bubblewrap reports a signal as 128 + N
    usage = waited["usage"]
    cpu_used = usage.ru_utime + usage.ru_stime
    return _outcome(proc.returncode, cpu_used, timed_out, over, readers, limits, token, result_path)


QUOTA_GLANCE = 0.5  # seconds between two looks at what the child holds


def _wait_within_quota(
    waiter: threading.Thread, limits: Limits, quota: Quota | None, pid: int, uid: int | None
) -> str:
    """Wait for `waiter` (the child started as `pid`) up to the wall clock, looking at what it
    holds (`quota`) between slices; the reason it was stopped for holding more, else ""."""
    deadline = time.monotonic() + limits.wall_seconds
    while waiter.is_alive():
        left = deadline - time.monotonic()
        if left <= 0:
            return ""
        waiter.join(min(left, QUOTA_GLANCE) if quota is not None else left)
        if quota is not None and waiter.is_alive() and (over := quota.over(pid, uid)):
            return over
    return ""


def _outcome(
    returncode: int,
    cpu_used: float,
    timed_out: bool,
    over: str,
    readers: list[TailReader],
    limits: Limits,
    token: str,
    result_path: Path,
) -> ChildResult:
    """How the child ended, from its exit code, CPU time, output and result file; `over`: why
    it was stopped for writing past its quota ("" when it was not)."""
    for reader in readers:
        reader.join(timeout=5)
    stdout, stderr = readers[0].text(), readers[1].text()
    base = {"returncode": returncode, "stdout_tail": stdout, "stderr_tail": stderr}
    if over:
        return ChildResult(status="killed", reason=over, **base)
    if timed_out or returncode != 0:
        status, reason = _classify(returncode, timed_out, cpu_used, limits, stderr)
        return ChildResult(status=status, reason=reason, **base)
    try:
        payload = _read_result(result_path, token, limits.payload_bytes)
    except ValueError as error:
        return ChildResult(status="invalid_output", reason=str(error), **base)
    return ChildResult(status="ok", payload=payload, **base)


def _classify(returncode: int, timed_out: bool, cpu_used: float, limits: Limits, stderr: str):
    if timed_out:
        return "timeout", f"stopped after the wall-clock limit of {limits.wall_seconds:g} s"
    if returncode < 0 and (cpu_used >= limits.cpu_seconds or -returncode == signal.SIGXCPU):
        return "timeout", f"stopped after the CPU-time limit of {limits.cpu_seconds} s"
    if any(marker in stderr for marker in _MEMORY_MARKERS):
        return "memory", f"ran out of memory (limit {limits.memory_bytes / 2**30:.1f} GiB)"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (often: out of memory)" if -returncode == signal.SIGKILL else ""
        return "killed", f"killed by signal {name}{hint}"
    last = stderr.strip().splitlines()[-1:] or ["no error message"]
    return "crashed", f"exited with code {returncode}: {last[0][:300]}"


def _read_result(path: Path, token: str, cap: int) -> dict:
    """The child's payload, or ValueError saying why it cannot be trusted."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ValueError("the child wrote no result file") from None
    except OSError:
        raise ValueError("the result file is not a regular file") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("the result file is not a regular file")
        raw = f.read(cap + 1)
    if not raw:  # the grading child creates it first and fills it last
        raise ValueError("the child wrote no result file (it ended before writing its result)")
    if len(raw) > cap:
        raise ValueError(f"the result file is larger than {cap} bytes")
    try:
        envelope = json.loads(raw, parse_constant=lambda c: float(c))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("the result file is not valid JSON") from None
    if not isinstance(envelope, dict) or set(envelope) != {"token", "payload"}:
        raise ValueError("the result file does not have the expected structure")
    said = envelope["token"]
    if not (isinstance(said, str) and secrets.compare_digest(said, token)):
        raise ValueError("the result file does not carry this run's token")
    if not isinstance(envelope["payload"], dict):
        raise ValueError("the result payload is not an object")
    check_json(envelope["payload"])
    return envelope["payload"]
