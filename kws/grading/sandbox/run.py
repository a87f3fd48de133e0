"""Run untrusted code in a child process and bring back a checked JSON payload.

The grader never imports a submission. `run_child` copies it (what a `ChildJob` names) into a
fresh temporary folder and starts a trusted entry point (``python -m kws.grading.child.runner
...``) there, through `kws.grading.sandbox.launch`, with:

- a scrubbed environment (PATH, HOME = the folder, LANG, PYTHONHASHSEED, thread counts, the
  data caches' folder inside it, and CUDA_VISIBLE_DEVICES only when the GPU is allowed);
- limits on CPU seconds, memory, file size, core files and processes (the last for a user id of
  the child's own: a dedicated one when root, else the grader's in a user namespace made for it);
  a wall-clock timeout that kills the whole process group and every process of that user id;
- bubblewrap where installed (`kws.grading.sandbox.bwrap`: own PID, network and mount namespaces, a
  fresh /proc, a read-only allow-list of what it sees); otherwise its own network, mount and PID
  namespaces where the OS allows (no network; hidden paths such as the labels and the grader's
  files look empty); when the grader is root, an unprivileged user id;
- a copy of the `kws` package as the only part of the kit it can import or read (the checkout it
  came from — solutions, grader, .git — is hidden);
- on Python 3.10, which has no ``-P``, a bootstrap (`python_command`) that keeps the child's
  folder off ``sys.path``;
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
import sysconfig
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kws.grading.protocol.handin import CopyPlan, copy_plan, largest, size_text
from kws.grading.sandbox import bwrap, launch
from kws.grading.sandbox.processes import TailReader, kill_everything, reserved_uid

STATUSES = ("ok", "timeout", "crashed", "killed", "memory", "invalid_output")
KIT_PACKAGE = str(Path(__file__).resolve().parents[2])  # the kws package folder the child imports
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


class SubmissionTooLarge(ValueError):
    """What grading needs of a hand-in is over the size limit; the message names the largest files."""


def _copy_submission(source: Path, target: Path, limit: int) -> CopyPlan:
    """Copy what grading needs (`kws.grading.protocol.handin.copy_plan`): regular files only, links
    and special files left out and named, large unneeded folders (``data/``) left out and sized."""
    plan = copy_plan(source)
    if plan.total > limit:
        raise SubmissionTooLarge(
            f"the hand-in is too large to grade: its notebooks and outputs hold "
            f"{size_text(plan.total)}, over the {size_text(limit)} limit; the largest: {largest(plan, source)}. Hand in the "
            "notebook and the outputs/ files its saving cells wrote (config.json, model.pt, "
            "predictions.csv per task), nothing else"
        )
    target.mkdir()
    for rel in plan.files:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target / rel)
    return plan


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
    if not isinstance(envelope["token"], str) or not secrets.compare_digest(
        envelope["token"], token
    ):
        raise ValueError("the result file does not carry this run's token")
    if not isinstance(envelope["payload"], dict):
        raise ValueError("the result payload is not an object")
    check_json(envelope["payload"])
    return envelope["payload"]


def _copy_kit(lib: Path, assignment: Path | None = None) -> Path:
    """Copy the `kws` package (only it: no solutions, graded tests, data or .git) into `lib`,
    with `assignment` (an assignment folder outside the kit) as ``kws/assignments/<its name>``.

    The child imports the very kit this grader runs — a source tree, or another clone installed
    in editable mode elsewhere, must not give it a different version — and sees nothing else of
    the checkout it came from. The assignments' graded tests (their ``graded_tests/`` folders) stay out.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "graded_tests")
    shutil.copytree(KIT_PACKAGE, lib / "kws", ignore=ignore)
    if assignment is not None:
        target = lib / "kws" / "assignments" / Path(assignment).name
        shutil.copytree(assignment, target, ignore=ignore, dirs_exist_ok=True)
    for folder, _, files in os.walk(lib):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return lib


def kit_checkout_hide() -> list[str]:
    """What to hide of the checkout the kit runs from (solutions/, grader/, .git ...).

    The whole checkout when it holds neither Python nor installed packages, else each of its
    entries that holds none of them (a virtual environment inside the checkout stays visible).
    [] when the kit is an installed package (its folder holds nothing but the package).
    """
    import sysconfig

    checkout = Path(KIT_PACKAGE).parent
    if not any((checkout / marker).exists() for marker in ("pyproject.toml", ".git", "setup.py")):
        return []
    paths = sysconfig.get_paths()
    needed = {sys.prefix, sys.base_prefix, paths["purelib"], paths["platlib"], paths["stdlib"]}
    needed = [Path(p).resolve() for p in needed]
    if not any(p.is_relative_to(checkout) for p in needed):
        return [str(checkout)]
    return [
        str(entry)
        for entry in sorted(checkout.iterdir())
        if entry.name != "kws" and not any(p.is_relative_to(entry) for p in needed)
    ]


def _environment(home: Path, threads: int, gpu: bool, lib: Path) -> dict[str, str]:
    python_dir = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{python_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "USER": "student",  # getpass.getuser() reads these first; the child's uid has no name
        "LOGNAME": "student",
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "MPLBACKEND": "Agg",
        # A re-training notebook caches decoded data in its own folder, never beside the
        # instructor's data (where a child running as the grader's user could otherwise write).
        "KWS_CACHE_DIR": str(home / ".cache" / "kws"),
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0") if gpu else "",
    }
    env["PYTHONPATH"] = str(lib)  # the copy of the kws package, and nothing else of the kit
    return env


def _python_paths() -> list[str]:
    """sys.path entries that hold installed packages (not the kit's checkout: the child has
    its own copy of the package)."""
    checkout = Path(KIT_PACKAGE).parent
    return [p for p in sys.path if p and Path(p).resolve() != checkout]


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


@dataclass(frozen=True)
class ChildJob:
    """What one sandboxed child run needs.

    Args:
        entry: the interpreter's arguments, e.g. ["-m", "kws.grading.child.runner", "--result",
            "{result}"]; "{work}" is replaced by the child's folder and "{result}" by the path
            where the child must write ``{"token": TOKEN, "payload": {...}}`` (TOKEN: the first
            line of its stdin).
        submission: folder copied to WORK/submission (regular files only).
        inputs: name -> file copied into WORK (e.g. unlabelled test inputs). Never labels.
        limits: the child's resource limits and wall clock.
        gpu: let the child see the GPU(s).
        hide: paths the child must not read (data with labels, the grader's files, results).
        readable: folders the child reads in place (re-training data), kept visible even in a
            private /tmp; hidden paths inside them stay hidden.
        assignment: an assignment folder from outside the kit (``KWS_ASSIGNMENTS``), copied into
            the child's kit as one of its own (its graded tests left out).
        isolate: use namespaces and a dedicated user where possible (tests turn it off to
            check the fallback).
    """

    entry: list[str]
    submission: Path
    inputs: dict[str, Path] = field(default_factory=dict)
    limits: Limits = Limits()
    gpu: bool = False
    hide: list[Path] = ()
    readable: list[Path] = ()
    assignment: Path | None = None
    isolate: bool = True


@dataclass(frozen=True)
class _View:
    """The child's side of its folders (bubblewrap mounts them elsewhere) and what it may read.

    ``work``: its folder (the hand-in's copy, the inputs, tmp/, result.json); ``lib``: the copy
    of the kit; ``status``: the launcher's spec and report; ``hidden``: the paths it must not
    read; ``readable``: those it reads in place (named on its command line, or the job's)."""

    work: str
    lib: str
    status: str
    hidden: set[str]
    readable: list[str]


def run_child(job: ChildJob) -> ChildResult:
    """Run ``python ENTRY...`` on a copy of the job's submission, sandboxed, and read its result.

    In order: a fresh folder with the copies the child needs (`_fill_folder`), where each of them
    appears to the child (`_view`), the launcher's command and spec (`_launch_command`), the
    child run under the wall clock and its end classified (`_supervise`), and the result made
    fit for a student to read (`_report`). The folder and the user id go when it returns.
    """
    start = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        own_user = job.isolate and os.geteuid() == 0
        uid = cleanup.enter_context(reserved_uid()) if own_user else None
        root = Path(tempfile.mkdtemp(prefix="kws-sandbox-"))
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        plan = _fill_folder(root, job, uid)
        sandbox = bwrap.available() if job.isolate else None
        view = _view(job, root, sandbox)
        result = _supervise(
            _launch_command(job, root, uid, sandbox, view),
            job.limits,
            uid,
            secrets.token_hex(16),
            root / "work" / "result.json",
            {"PATH": "/usr/bin:/bin", "PYTHONPATH": view.lib},  # the launcher's: the kit's copy
            signal_exit_codes=sandbox is not None,
        )
        _report(result, root, plan, job.limits, view if sandbox else None)
        result.seconds = time.monotonic() - start
    return result


def _fill_folder(root: Path, job: ChildJob, uid: int | None) -> CopyPlan:
    """Fill the child's folder `root`: ``work/`` (the hand-in's copy, the inputs, ``tmp/``; the
    child's user's when it has one of its own), ``lib/`` (the kit's copy) and ``status/`` (the
    grader's alone). What was copied of the hand-in."""
    os.chmod(root, 0o711)  # the child may pass through, never list or write
    work = root / "work"
    work.mkdir()
    plan = _copy_submission(Path(job.submission), work / "submission", job.limits.submission_bytes)
    (work / "tmp").mkdir()
    _copy_kit(root / "lib", job.assignment)
    for name, path in (job.inputs or {}).items():
        shutil.copyfile(path, work / name)
    if uid is not None:
        for folder, dirs, files in os.walk(work):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.chown(name, uid, uid)
    (root / "status").mkdir(mode=0o700)  # the launcher's spec and report: the grader's user only
    return plan


def _view(job: ChildJob, root: Path, sandbox: str | None) -> _View:
    """Where the child's folders appear to it, and which paths it reads or must not."""
    hidden = {str(Path(p).resolve()) for p in job.hide if Path(p).exists()}
    # what bubblewrap lets the child read besides Python (data a re-training names)
    readable = [
        *_named_paths(job.entry, root, hidden),
        *(str(Path(p).resolve()) for p in job.readable),
    ]
    if sandbox:
        return _View(bwrap.child_home(readable), bwrap.KIT, bwrap.STATUS, hidden, readable)
    return _View(str(root / "work"), str(root / "lib"), str(root / "status"), hidden, readable)


def _launch_command(
    job: ChildJob, root: Path, uid: int | None, sandbox: str | None, view: _View
) -> list[str]:
    """The command that starts the child: ``[bwrap ...] python -m kws.grading.sandbox.launch
    SPEC -- python ENTRY...``, with the launcher's spec written to ``root/status/spec.json``."""
    args = [
        a.replace("{work}", view.work).replace("{result}", str(Path(view.work) / "result.json"))
        for a in job.entry
    ]
    spec = {
        "isolate": job.isolate and not sandbox,  # bubblewrap made the namespaces already
        "uid": uid,
        "cwd": view.work,
        "env": _environment(Path(view.work), job.limits.threads, job.gpu, Path(view.lib)),
        "limits": asdict(job.limits),
        "hide": [] if sandbox else sorted(view.hidden | set(kit_checkout_hide())),
        # Python and this folder (with the kit's copy), even when they sit in a private
        # folder (e.g. a Python installed under /root, or TMPDIR inside one).
        "expose": sorted(
            {str(root), sys.prefix, sys.base_prefix, *_python_paths()}
            | {str(Path(p).resolve()) for p in job.readable}
        ),
        "protections": list(bwrap.PROTECTIONS) if sandbox else [],
        "protections_file": str(Path(view.status) / "protections.json"),
        "grader_user_namespace": launch.user_namespace(),  # the child's is new, or the same
        "parent": None if sandbox else os.getpid(),  # the launcher dies with the grader
    }
    (root / "status" / "spec.json").write_text(json.dumps(spec))
    launcher = python_command(["-m", "kws.grading.sandbox.launch"])
    launcher += [str(Path(view.status) / "spec.json"), "--"]
    if sandbox:
        launcher = [
            *bwrap.command(
                sandbox,
                root=root,
                work=root / "work",
                lib=root / "lib",
                readable=view.readable,
                hide=sorted(view.hidden),
                gpu=job.gpu,
                checkout=Path(KIT_PACKAGE).parent,
                home=view.work,
            ),
            *launcher,
        ]
    return launcher + python_command(args)


def _report(
    result: ChildResult, root: Path, plan: CopyPlan, limits: Limits, bubblewrap: _View | None
) -> None:
    """Complete `result` for the student: the protections the launcher achieved, what of the
    hand-in was not copied, and no path of the grading machine (`bubblewrap`: the child's view
    when it ran there)."""
    protections_file = root / "status" / "protections.json"
    if protections_file.exists():
        result.protections = json.loads(protections_file.read_text())
    result.protections.append(f"wall clock {limits.wall_seconds:g} s")
    if plan.links:
        result.reason += (
            f" (links and special files left out of the copy: {', '.join(plan.links[:5])})"
        )
    if plan.ignored:
        result.notes.append(plan.note())
    inner = [(f"{bubblewrap.work}/submission/", ""), (f"{bwrap.KIT}/", "")] if bubblewrap else []
    work = root / "work"
    _hide_machine_paths(result, [*inner, (f"{work}/submission/", ""), (f"{root}/", "")])


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


def python_command(args: list[str]) -> list[str]:
    """``python -P -s ARGS`` (ARGS: ``-m MODULE ...``, ``-c CODE ...`` or ``SCRIPT ...``): no
    folder of the script or the working directory on ``sys.path``, no user site,
    ``PYTHONPATH`` honoured."""
    if sys.version_info >= (3, 11):
        return [sys.executable, "-P", "-s", *args]
    if args[0] in ("-m", "-c"):
        boot = _BOOT_MODULE if args[0] == "-m" else _BOOT_CODE
        return [sys.executable, "-s", "-c", boot, *args[1:]]
    return [sys.executable, "-s", "-c", _BOOT_SCRIPT, *args]


def _hide_machine_paths(result: ChildResult, replacements: list[tuple[str, str]]) -> None:
    """Rewrite the grading machine's paths out of everything a student may read: the child's
    folder (paths become relative to the hand-in), the kit's and Python's folders, and the
    hidden paths' list (only their count is kept)."""
    kit = str(Path(KIT_PACKAGE).parent)
    libraries = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")}
    libraries |= {sys.prefix, sys.base_prefix}
    # and every folder packages come from (a venv made with --system-site-packages imports
    # torch from the base Python's site-packages, which none of the above names)
    libraries |= {p for p in sys.path if os.path.isabs(p) and os.path.isdir(p) and p != "/"}
    pairs = replacements + [
        (f"{kit}/", ""),
        *((f"{lib}/", "") for lib in sorted(libraries, key=len, reverse=True)),
    ]

    def clean(value):
        if isinstance(value, str):
            for old, new in pairs:
                value = value.replace(old, new)
            return value
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        return value

    result.reason, result.payload = clean(result.reason), clean(result.payload)
    result.stdout_tail, result.stderr_tail = clean(result.stdout_tail), clean(result.stderr_tail)
    result.protections = [
        f"hidden paths: {p.count(', ') + 1} (the data with the labels, the grader's files)"
        if p.startswith("hidden paths: ")
        else p
        for p in result.protections
    ]


def _named_paths(entry: list[str], root: Path, hidden: set[str]) -> list[str]:
    """Absolute paths named on the child's command line (e.g. the data of a re-training), which
    bubblewrap makes readable — unless hidden, in the kit's checkout, or private to the grader's
    user (a folder on the way that others may not enter, such as the hidden-test cache)."""
    refused = [Path(h) for h in hidden] + [root, Path(KIT_PACKAGE).parent]
    named = []
    for arg in entry:
        if not arg.startswith("/") or "{" in arg or not os.path.exists(arg):
            continue
        path = Path(arg).resolve()
        private = any(not os.stat(folder).st_mode & 0o001 for folder in path.parents)
        if not private and not any(path.is_relative_to(r) for r in refused):
            named.append(str(path))
    return named


def _supervise(
    command,
    limits: Limits,
    uid,
    token: str,
    result_path: Path,
    env: dict[str, str],
    signal_exit_codes: bool = False,
) -> ChildResult:
    """Run `command`, feed it `token`, enforce the wall clock, classify how it ended.

    With `signal_exit_codes` (bubblewrap), an exit code 128 + N means "killed by signal N".
    """
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,  # the launcher imports the same copy of the kit as the child
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
    if signal_exit_codes and 128 < proc.returncode < 128 + signal.NSIG:
        proc.returncode = 128 - proc.returncode  # bubblewrap reports a signal as 128 + N
    usage = waited["usage"]
    return _outcome(
        proc.returncode,
        usage.ru_utime + usage.ru_stime,
        timed_out,
        readers,
        limits,
        token,
        result_path,
    )


def _outcome(
    returncode: int,
    cpu_used: float,
    timed_out: bool,
    readers: list[TailReader],
    limits: Limits,
    token: str,
    result_path: Path,
) -> ChildResult:
    """How the child ended, from its exit code, CPU time, output and result file."""
    for reader in readers:
        reader.join(timeout=5)
    stdout, stderr = readers[0].text(), readers[1].text()
    base = dict(
        returncode=returncode,
        stdout_tail=stdout,
        stderr_tail=stderr,
        payload=None,
        seconds=0.0,
    )
    if timed_out or returncode != 0:
        status, reason = _classify(returncode, timed_out, cpu_used, limits, stderr)
        return ChildResult(status=status, reason=reason, **base)
    try:
        payload = _read_result(result_path, token, limits.payload_bytes)
    except ValueError as error:
        return ChildResult(status="invalid_output", reason=str(error), **base)
    return ChildResult(status="ok", reason="", **{**base, "payload": payload})
