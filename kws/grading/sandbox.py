"""Run untrusted code in a child process and bring back a checked JSON payload.

The grader never imports a submission. `run_child` copies it into a fresh temporary folder and
starts a trusted entry point (``python -m kws.grading.runner ...``) there, through `kws.grading.launch`, with:

- a scrubbed environment (PATH, HOME = the folder, LANG, PYTHONHASHSEED, thread counts, and
  CUDA_VISIBLE_DEVICES only when the GPU is allowed);
- limits on CPU seconds, memory, file size, core files and — as a dedicated user id — processes;
  a wall-clock timeout that kills the whole process group and every process of that user id;
- its own network and mount namespaces where the OS allows (no network; hidden paths such as the
  labels and the grader's files look empty); when the grader is root, an unprivileged user id;
- stdout/stderr kept to their last `output_bytes`.

The child proves its result came through the intended channel: it reads a one-time token from
stdin and writes ``{"token": ..., "payload": {...}}`` to the result path, so stray prints or files
cannot pose as a result. The parent opens that file without following links, caps its size and
checks every value (types, sizes, finite numbers) before anyone reads it.
"""

import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kws.grading.processes import TailReader, kill_everything, reserved_uid

STATUSES = ("ok", "timeout", "crashed", "killed", "memory", "invalid_output")
KIT_PACKAGE = str(Path(__file__).resolve().parents[1])  # the kws package folder the child imports
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
    payload: dict | None
    seconds: float
    protections: list[str] = field(default_factory=list)
    reason: str = ""

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


def _copy_submission(source: Path, target: Path, limit: int) -> list[str]:
    """Copy regular files and folders only; links and special files are left out (and named)."""
    skipped, total = [], 0
    target.mkdir()
    for folder, dirs, files in os.walk(source):
        rel = Path(folder).relative_to(source)
        for name in list(dirs):
            if os.path.islink(os.path.join(folder, name)):
                dirs.remove(name)
                skipped.append(str(rel / name))
            else:
                (target / rel / name).mkdir()
        for name in files:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if not stat.S_ISREG(mode):
                skipped.append(str(rel / name))
                continue
            total += os.path.getsize(path)
            if total > limit:
                raise ValueError(f"submission {source} is larger than {limit / 2**30:.1f} GiB")
            shutil.copyfile(path, target / rel / name)
    return skipped


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
    if len(raw) > cap:
        raise ValueError(f"the result file is larger than {cap} bytes")
    try:
        envelope = json.loads(raw, parse_constant=lambda c: float(c))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("the result file is not valid JSON") from None
    if not isinstance(envelope, dict) or set(envelope) != {"token", "payload"}:
        raise ValueError("the result file does not have the expected structure")
    if not isinstance(envelope["token"], str) or not secrets.compare_digest(
        envelope["token"], token
    ):
        raise ValueError("the result file does not carry this run's token")
    if not isinstance(envelope["payload"], dict):
        raise ValueError("the result payload is not an object")
    check_json(envelope["payload"])
    return envelope["payload"]


def _environment(home: Path, threads: int, gpu: bool) -> dict[str, str]:
    python_dir = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{python_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "USER": "kwsgrader",  # getpass.getuser() reads these first; the child's uid has no name
        "LOGNAME": "kwsgrader",
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "MPLBACKEND": "Agg",
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0") if gpu else "",
    }
    # The child imports the very kit this grader runs (a source tree, or another clone installed
    # in editable mode elsewhere, must not give the child a different version).
    env["PYTHONPATH"] = str(Path(KIT_PACKAGE).parent)
    return env


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


def run_child(
    entry: list[str],
    *,
    submission: Path,
    inputs: dict[str, Path] | None = None,
    limits: Limits = Limits(),
    gpu: bool = False,
    hide: list[Path] = (),
    isolate: bool = True,
    readable: list[Path] = (),
) -> ChildResult:
    """Run ``python ENTRY...`` on a copy of `submission`, sandboxed, and read its result.

    Args:
        entry: the interpreter's arguments, e.g. ["-m", "kws.grading.runner", "--result",
            "{result}"]; "{work}" is replaced by the child's folder and "{result}" by the path
            where the child must write ``{"token": TOKEN, "payload": {...}}`` (TOKEN: the first
            line of its stdin).
        submission: folder copied to WORK/submission (regular files only).
        inputs: name -> file copied into WORK (e.g. unlabelled test inputs). Never labels.
        gpu: let the child see the GPU(s).
        hide: paths the child must not read (data with labels, the grader's files, results).
        isolate: use namespaces and a dedicated user where possible (tests turn it off to
            check the fallback).
        readable: folders the child reads in place (re-training data), kept visible even in a
            private /tmp; hidden paths inside them stay hidden.
    """
    start = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        uid = cleanup.enter_context(reserved_uid()) if isolate and os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="kws-sandbox-"))
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        os.chmod(root, 0o711)  # the child may pass through, never list or write
        work = root / "work"
        work.mkdir()
        skipped = _copy_submission(Path(submission), work / "submission", limits.submission_bytes)
        (work / "tmp").mkdir()
        for name, path in (inputs or {}).items():
            shutil.copyfile(path, work / name)
        if uid is not None:
            for folder, dirs, files in os.walk(work):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.chown(name, uid, uid)
        result_path = work / "result.json"
        python_flags = ["-P", "-s"] if sys.version_info >= (3, 11) else ["-I"]
        command = [sys.executable, *python_flags]
        command += [
            a.replace("{work}", str(work)).replace("{result}", str(result_path)) for a in entry
        ]
        spec = {
            "isolate": isolate,
            "uid": uid,
            "cwd": str(work),
            "env": _environment(work, limits.threads, gpu),
            "limits": asdict(limits),
            "hide": [str(Path(p).resolve()) for p in hide if Path(p).exists()],
            # Python and the kit, and this folder, even when they sit in a private folder
            # (e.g. a Python installed under /root, or TMPDIR inside one). The kit's own folder is
            # named too: an editable install finds it through an import hook, not sys.path.
            "expose": sorted(
                {str(root), sys.prefix, sys.base_prefix, KIT_PACKAGE, *[p for p in sys.path if p]}
                | {str(Path(p).resolve()) for p in readable}
            ),
            "protections_file": str(root / "protections.json"),
        }
        launcher = [
            sys.executable,
            *python_flags,
            "-m",
            "kws.grading.launch",
            json.dumps(spec),
            "--",
        ]
        result = _supervise(launcher + command, limits, uid, secrets.token_hex(16), result_path)
        protections_file = root / "protections.json"
        if protections_file.exists():
            result.protections = json.loads(protections_file.read_text())
        result.protections.append(f"wall clock {limits.wall_seconds:g} s")
        if skipped:
            result.reason += (
                f" (links and special files left out of the copy: {', '.join(skipped[:5])})"
            )
        result.seconds = time.monotonic() - start
        return result


def _supervise(command, limits: Limits, uid, token: str, result_path: Path) -> ChildResult:
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    readers = [
        TailReader(proc.stdout, limits.output_bytes),
        TailReader(proc.stderr, limits.output_bytes),
    ]
    for reader in readers:
        reader.start()
    try:
        proc.stdin.write(token.encode() + b"\n")
        proc.stdin.close()
    except BrokenPipeError:
        pass
    waited: dict = {}

    def wait() -> None:  # os.wait4 also gives the CPU time used, to tell a CPU-limit kill
        _, waited["status"], waited["usage"] = os.wait4(proc.pid, 0)

    waiter = threading.Thread(target=wait)
    waiter.start()
    waiter.join(limits.wall_seconds)
    timed_out = waiter.is_alive()
    kill_everything(proc.pid, uid)  # also ends background processes the child left behind
    waiter.join()
    proc.returncode = os.waitstatus_to_exitcode(waited["status"])
    for reader in readers:
        reader.join(timeout=5)
    stdout, stderr = readers[0].text(), readers[1].text()
    usage = waited["usage"]
    cpu_used = usage.ru_utime + usage.ru_stime
    base = dict(
        returncode=proc.returncode,
        stdout_tail=stdout,
        stderr_tail=stderr,
        payload=None,
        seconds=0.0,
    )
    if timed_out or proc.returncode != 0:
        status, reason = _classify(proc.returncode, timed_out, cpu_used, limits, stderr)
        return ChildResult(status=status, reason=reason, **base)
    try:
        payload = _read_result(result_path, token, limits.payload_bytes)
    except ValueError as error:
        return ChildResult(status="invalid_output", reason=str(error), **base)
    return ChildResult(status="ok", reason="", **{**base, "payload": payload})
