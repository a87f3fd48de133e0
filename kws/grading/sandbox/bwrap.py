"""The preferred sandbox: bubblewrap (Debian's ``bwrap``), with an allow-list of what a child sees.

When ``bwrap`` is installed and works, `kws.grading.sandbox` starts each child as::

    bwrap --unshare-pid --unshare-net ... --proc /proc --die-with-parent ... -- \\
        python -m kws.grading.sandbox.launch SPEC -- python -m kws.grading.child.runner ...

bubblewrap gives the child its own PID, network, IPC and UTS namespaces, a fresh ``/proc``
(it sees its own processes only), a minimal ``/dev``, a private ``/tmp``, and a file system
built from read-only binds of exactly what it needs — the operating system (``/usr``, ``/etc``),
Python and its installed packages, the copy of the ``kws`` package, the child's own folder (at
``/home/student``) and any path named on its command line (the data of a re-training), minus the
hidden paths inside them. The data, the grader, other submissions, results, the kit's checkout and
every other process are simply not there. `kws.grading.sandbox.launch` then sets the resource limits
and drops to the child's own user id, as in the hand-written fallback (used where ``bwrap`` is
missing or refused by the kernel).
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

HOME = "/home/student"  # where the child's folder appears, as on a course's lab machine
KIT = "/opt/kit"  # where the copy of the kws package appears (PYTHONPATH)
STATUS = "/run/sandbox"  # the launcher's report to the grader (not readable by the child)
PROTECTIONS = (
    "bubblewrap: own PID namespace and /proc (no other process visible)",
    "no network (own network namespace, loopback only)",
    "only Python, the kws package and its own folder visible (read-only allow-list)",
    "private /tmp",
)


@functools.cache
def available() -> str | None:
    """The path of a working ``bwrap``, or None (not installed, or the kernel refuses it)."""
    if os.environ.get("KWS_SANDBOX") == "builtin":
        return None
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [path, "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/", "--proc", "/proc"]
    try:
        done = subprocess.run([*probe, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return path if done.returncode == 0 else None


def _outermost(paths: list[str]) -> list[str]:
    paths = sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)})
    return [
        p for p in paths if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths)
    ]


def _python_paths() -> list[str]:
    """Python's installation and every folder its packages come from."""
    sysconfig_paths = sysconfig.get_paths()
    found = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    found += [sysconfig_paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    return found + [p for p in sys.path if p and os.path.isdir(p)]


def _environment_in(checkout: Path) -> list[str]:
    """The virtual environment the grader runs from when it lies inside the kit's checkout (the
    README's ``python -m venv .venv`` in a clone): its own folder only, never the checkout
    around it, nor a folder of the checkout that is on sys.path (the graded tests')."""
    checkout = Path(os.path.realpath(checkout))
    prefix = Path(os.path.realpath(sys.prefix))
    inside = prefix != checkout and prefix.is_relative_to(checkout)
    return [str(prefix)] if inside and prefix != Path(os.path.realpath(sys.base_prefix)) else []


def child_home(readable: list[str]) -> str:
    """Where the child's folder appears: HOME, unless Python or a path the child must read lies
    inside it (a grader's virtual environment in /home/student), which that bind would hide; then
    the first free ``HOME-N``."""
    needed = [Path(p) for p in [*_python_paths(), *readable]]
    home, n = HOME, 1
    while any(path.is_relative_to(home) for path in needed):
        home, n = f"{HOME}-{n}", n + 1
    return home


def command(
    bwrap: str,
    *,
    root: Path,
    work: Path,
    lib: Path,
    readable: list[str],
    hide: list[str],
    gpu: bool,
    checkout: Path,
    home: str = HOME,
) -> list[str]:
    """The ``bwrap`` arguments that build the child's view of the machine.

    Args:
        root: the sandbox folder; ``root/status`` becomes STATUS (the launcher's report).
        work: the child's folder, shown at ``home`` (writable; `child_home`).
        lib: the folder holding the copy of the ``kws`` package, shown at KIT.
        readable: more paths the child may read (named on its command line).
        hide: paths that stay invisible even inside `readable` ones.
        gpu: bind the NVIDIA device files.
        checkout: the kit's checkout, never bound (its package is at KIT).
    """
    # --new-session: the child's own process group, so signalling "its parent's group" cannot
    # reach the sandbox's own processes (nor, through the terminal, the grader's).
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net"]
    args += ["--unshare-ipc"]
    args += ["--unshare-uts", "--hostname", "localhost", "--unshare-cgroup-try"]
    args += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
    if gpu:  # the driver's device files, and /sys where CUDA enumerates devices (untested here)
        for device in sorted(glob.glob("/dev/nvidia*")):
            args += ["--dev-bind", device, device]
        args += ["--ro-bind-try", "/sys", "/sys"]
    python = [
        p for p in _outermost(_python_paths()) if not Path(p).is_relative_to(checkout.resolve())
    ] + _environment_in(checkout)
    readable = _with_link_targets(readable)
    binds = [p for p in _outermost(python + readable) if not p.startswith(("/usr/", "/etc/"))]
    # bubblewrap makes missing parent folders mode 0700 as root: the child's user could not pass.
    parents = {str(a) for p in [*binds, home, KIT, STATUS] for a in Path(p).parents}
    for folder in sorted(parents - {"/", "/usr", "/etc", *binds}):
        args += ["--perms", "0755", "--dir", folder]
    for path in binds:
        args += ["--ro-bind", path, path]
    # Hidden paths stay hidden whichever bind exposes them: a Python path (a script's folder on
    # sys.path, e.g. /tmp) may hold the results or the submissions as well as a readable one.
    for path in sorted(os.path.realpath(p) for p in hide if os.path.exists(p)):
        if any(Path(path).is_relative_to(r) for r in binds):
            # an empty tmpfs, read-only: without root the child would own it and could write there
            empty = ["--tmpfs", path, "--remount-ro", path]
            args += empty if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
    for folder in _outermost(readable):  # decoded test sets cached by older kits, labels inside
        found = glob.glob(f"{folder}/**/.kws_cache/clips-test*.pt", recursive=True)
        for stale in sorted({os.path.realpath(path) for path in found}):
            args += ["--ro-bind", "/dev/null", stale]
    args += ["--ro-bind", str(lib), KIT, "--bind", str(root / "status"), STATUS]
    args += ["--bind", str(work), home, "--chdir", home]
    # The sandbox's own root (a tmpfs) read-only: without root the child owns it and could write
    # files beside the binds; its folder, /tmp and /var/tmp stay writable mounts of their own.
    args += ["--remount-ro", "/"]
    return args


def _with_link_targets(readable: list[str]) -> list[str]:
    """`readable`, plus where the links directly inside each folder lead: a re-training's data
    folder links the real data in (`kws.grading.testsets.layouts`: `retraining_data`), and inside the sandbox
    a link is only followed when its target is bound too."""
    targets = []
    for folder in readable:
        if os.path.isdir(folder):
            targets += [os.path.realpath(e.path) for e in os.scandir(folder) if e.is_symlink()]
    return list(dict.fromkeys([*readable, *targets]))
