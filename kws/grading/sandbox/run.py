"""Run untrusted code in a child process, sandboxed, and bring back its checked result.

The grader never imports a submission. `run_child` takes a `ChildJob` (the trusted entry point to
start, e.g. ``python -m kws.grading.child.runner ...``, the hand-in, the inputs, the limits),
stages the child's folder, lists what it sees, starts it through bubblewrap or the hand-written
launcher with a scrubbed environment and limits, supervises it and reports the protections
achieved, with no path of the grading machine left in what a student reads.

A child holds at most `Limits.written_bytes` on disk and in its private /tmp, deleted files kept
open included (`kws.grading.sandbox.quota`): one that holds more is stopped, its hand-in's fault.
A child that fails while the disk of its folder is (or was, during its run) full failed for the
machine, not for its hand-in: `run_child` then raises OSError (ENOSPC) naming the disk
(`kws.grading.sandbox.faults`).
"""

import contextlib
import errno
import json
import math
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from kws.grading.protocol.handin import CopyPlan
from kws.grading.sandbox import bwrap, launch
from kws.grading.sandbox.allow import KIT, Mount, View, allow_list, child_home
from kws.grading.sandbox.faults import low_space
from kws.grading.sandbox.gpu import library_path
from kws.grading.sandbox.processes import reserved_uid
from kws.grading.sandbox.quota import STOPPED, Quota, limit_text, scratch_bytes
from kws.grading.sandbox.staging import fill_folder, hide_machine_paths
from kws.grading.sandbox.supervise import (
    ChildResult,
    Limits,
    interpreter,
    python_command,
    supervise,
)
from kws.i18n import ENGLISH, ENV, active


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
        hide: paths the child must not read (data with labels, the grader's files, results),
            empty where a bind would show them (without a mount namespace, the protections say
            how many others may read).
        readable: folders the child reads in place (a re-training's data view, whose links are
            followed); hidden paths and hidden folders (``.name``) inside them stay empty.
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


class SandboxStartError(RuntimeError):
    """The sandbox cannot start a child on this machine (its interpreter, bubblewrap, the
    launcher): the grading machine's fault, never a hand-in's. Grading stops and the message
    tells the instructor what failed; no student is given a grade for it."""


# What a child that may never have started is run again as: the interpreter, the kit's copy and
# torch, which every grading child imports before any student code runs.
_PROBE = "import kws, torch"


def run_child(job: ChildJob) -> ChildResult:
    """Run ``python ENTRY...`` on a copy of the job's submission, sandboxed, and read its result
    (`_run`); the folder and the user id go when it returns.

    A child that crashed before its command ran (bubblewrap or the launcher could not start it,
    or its Python could not import a module) may be the machine's fault: the same sandbox then
    starts a child that only imports the kit and torch, and when that fails too, raises
    `SandboxStartError`. The child's own words only ask for that check, never decide it: a
    hand-in cannot stop a class's grading by printing them.
    """
    result, not_started = _run(job)
    if not_started:
        with tempfile.TemporaryDirectory(prefix="kws-probe-") as empty:
            probe = replace(job, entry=["-c", _PROBE], submission=Path(empty), inputs={})
            checked, _ = _run(replace(probe, assignment=None))  # the kit's own, nothing else
        if checked.returncode != 0:
            hint = "the hand-written sandbox starts it (no working bubblewrap here)"
            if bwrap.available():
                hint = (
                    f"bubblewrap ({bwrap.available()}) must be able to bind the folders it lies "
                    "in (KWS_SANDBOX=builtin tries the hand-written sandbox instead)"
                )
            raise SandboxStartError(
                f"the sandbox cannot start a grading child on this machine ({not_started}; "
                f"a child that only imports the kit and torch fails too: {checked.reason}). "
                "No hand-in can be graded here, and no grade is given for it: fix the "
                f"machine and grade again. The child's Python is {interpreter()}; {hint}"
            )
    return result


def _run(job: ChildJob) -> tuple[ChildResult, str]:
    """`run_child`'s one run, and why the child may never have started ("" when it did)."""
    start = time.monotonic()
    if job.gpu:
        job = replace(job, limits=_on_device(job.limits))
    with contextlib.ExitStack() as cleanup:
        own_user = job.isolate and os.geteuid() == 0
        uid = cleanup.enter_context(reserved_uid()) if own_user else None
        root = Path(tempfile.mkdtemp(prefix=f"kws-sandbox-{os.getpid()}-"))  # swept once dead
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        limit = job.limits.submission_bytes
        plan = fill_folder(root, job.submission, limit, job.inputs, job.assignment, uid)
        sandbox = bwrap.available() if job.isolate else None
        readable = [os.path.realpath(p) for p in job.readable]
        host = (str(root / "work"), str(root / "lib"), str(root / "status"))
        view = View(child_home(readable), host=host)
        scratch = scratch_bytes(job.limits.written_bytes)
        mounts = allow_list(view, readable, [str(p) for p in job.hide], job.gpu, scratch)
        lib = view.lib if sandbox else host[1]  # the launcher's copy of the kit, where it starts
        quota = Quota(root / "work", job.limits.written_bytes)
        result = supervise(
            _launch_command(job, root, uid, sandbox, view, mounts),
            job.limits,
            uid,
            secrets.token_hex(16),
            root / "work" / "result.json",
            {"PATH": "/usr/bin:/bin", "PYTHONPATH": lib},
            signal_exit_codes=sandbox is not None,
            quota=quota,
        )
        not_started = _not_started(result, root / "status" / "protections.json")
        over = result.reason.startswith(STOPPED)  # past its quota: its own fault
        full = None if result.status == "ok" or over else low_space(root) or quota.low_space
        if full is not None:  # the machine's disk failed the child, not the hand-in: no grade
            raise OSError(errno.ENOSPC, f"the grading child {result.status} ({result.reason}) "
                          f"with {full}")  # fmt: skip
        if result.status != "ok" and "No space left on device" in result.stderr_tail:
            result.reason += f" (it may write at most {limit_text(job.limits.written_bytes)})"
        _report(result, root, plan, job.limits, view)
        result.seconds = time.monotonic() - start
    return result, not_started


def _not_started(result: ChildResult, protections_file: Path) -> str:
    """Why `result`'s child may never have reached its command ("" when nothing says so): the
    launcher wrote no protections (bubblewrap could not start it, or it failed before), it
    could not start the command (`launch.NOT_STARTED`), or the command's Python could not
    import a module, before or after it ran student code (the check that follows decides)."""
    if result.status != "crashed":
        return ""
    if not protections_file.exists():
        return f"the launcher ended before it started the child: {result.reason}"
    last = (result.stderr_tail.strip().splitlines() or [""])[-1]
    return result.reason if launch.NOT_STARTED in last or "No module named" in last else ""


# How the child allocates memory, read by glibc and torch as it starts (measured with
# benchmarks/bench_grading_memory.py on the reference hand-in, 8,000 real-size HW4 utterances):
# - glibc's heap raises its mmap threshold to 32 MiB as large blocks are freed, and then keeps
#   each prediction batch's freed attention scores mapped while the next, slightly longer
#   batch allocates beside them: the speaker-ID child's peak was 815 MiB (652 with this
#   setting; torch 2.14.1+cu130, whose import alone holds 508). Blocks of 4 MiB and more are
#   now mapped on their own and given back when freed;
# - torch aligns such blocks to 2 MiB and asks for huge pages (where the kernel's
#   transparent_hugepage setting is `madvise` or `always`), so that mapping them afresh for
#   every batch costs few page faults.
MEMORY_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(4 * 2**20), "THP_MEM_ALLOC_ENABLE": "1"}


def _environment(home: Path, threads: int, gpu: bool, lib: Path) -> dict[str, str]:
    python_dir = str(Path(interpreter()).parent)
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
    drivers = library_path() if gpu else []  # where only the grader's loader looks
    if drivers:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(drivers)
    env["PYTHONPATH"] = str(lib)  # the copy of the kws package, and nothing else of the kit
    if active() != ENGLISH:  # what the child says to the student: the course's language
        env[ENV] = active()
    return env | MEMORY_ENVIRONMENT


GPU_HOST_THREADS = 1  # on a GPU the thread that waits for the device spins (CUDA's default)


def _on_device(limits: Limits) -> Limits:
    """`limits` for a child on the GPU: its CPU-time limit at least its wall clock times its busy
    threads (its torch threads and `GPU_HOST_THREADS`); the wall clock counts CUDA's start-up."""
    busy = limits.wall_seconds * (limits.threads + GPU_HOST_THREADS)
    return replace(limits, cpu_seconds=max(limits.cpu_seconds, math.ceil(busy)))


def _launch_command(
    job: ChildJob, root: Path, uid: int | None, sandbox: str | None, view: View, mounts: list[Mount]
) -> list[str]:
    """The command that starts the child: ``[bwrap ...] python -m kws.grading.sandbox.launch
    SPEC -- python ENTRY...``, with the launcher's spec written to ``root/status/spec.json``
    (bubblewrap builds the child's view of the machine from `mounts`; the hand-written launcher
    mounts them itself, or where the OS refuses, finds the child's folders at ``view.host``)."""
    args = [
        a.replace("{work}", view.work).replace("{result}", f"{view.work}/result.json")
        for a in job.entry
    ]
    spec = {
        "isolate": job.isolate and not sandbox,  # bubblewrap made the namespaces already
        "view_built": sandbox is not None,
        "uid": uid,
        "cwd": view.work,
        "env": _environment(Path(view.work), job.limits.threads, job.gpu, Path(view.lib)),
        "limits": asdict(job.limits),
        "mounts": [] if sandbox else [asdict(m) for m in mounts],
        "new_root": str(root / "view"),
        "in_place": view.in_place(),
        "hide": sorted({os.path.realpath(p) for p in job.hide if os.path.exists(p)}),
        "protections": list(bwrap.PROTECTIONS) if sandbox else [],
        "protections_file": f"{view.status}/protections.json",
        "grader_user_namespace": launch.user_namespace(),  # the child's is new, or the same
        "parent": None if sandbox else os.getpid(),  # the launcher dies with the grader
    }
    (root / "status" / "spec.json").write_text(json.dumps(spec))
    status = view.status if sandbox else str(root / "status")
    launcher = python_command(["-m", "kws.grading.sandbox.launch", f"{status}/spec.json", "--"])
    if sandbox:
        launcher = [*bwrap.command(sandbox, mounts, view.work), *launcher]
    return launcher + python_command(args)


def _report(result: ChildResult, root: Path, plan: CopyPlan, limits: Limits, view: View) -> None:
    """Complete `result` for the student: the protections the launcher achieved, what of the
    hand-in was not copied, and no path of the grading machine (`view`: the child's own paths)."""
    protections_file = root / "status" / "protections.json"
    if protections_file.exists():
        result.protections = json.loads(protections_file.read_text())
    result.protections.append(f"wall clock {limits.wall_seconds:g} s")
    if plan.links:
        left_out = ", ".join(plan.links[:5])
        result.reason += f" (links and special files left out of the copy: {left_out})"
    if plan.ignored:
        result.notes.append(plan.note())
    inner = [(f"{view.work}/submission/", ""), (f"{KIT}/", "")]
    work = root / "work"
    hide_machine_paths(result, [*inner, (f"{work}/submission/", ""), (f"{root}/", "")])
