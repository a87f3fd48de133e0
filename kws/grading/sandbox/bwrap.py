"""The preferred sandbox: bubblewrap (Debian's ``bwrap``), given the child's allow-list
(`kws.grading.sandbox.allow`) as its arguments, with its own PID, network, IPC and UTS namespaces;
`kws.grading.sandbox.launch` then sets the limits and drops to the child's own user id. Where
``bwrap`` is missing or refused by the kernel, or with ``KWS_SANDBOX=builtin``, the hand-written
launcher does it all.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from kws.grading.sandbox.allow import ALLOW_LIST, Mount

PROTECTIONS = (
    "bubblewrap: own PID namespace and /proc (no other process visible)",
    "no network (own network namespace, loopback only)",
    ALLOW_LIST,
)
_BINDS = {"ro": "--ro-bind", "rw": "--bind", "device": "--dev-bind"}
_FRESH = {"proc": "--proc", "dev": "--dev", "tmpfs": "--tmpfs"}


@functools.cache
def available() -> str | None:
    """The path of a working ``bwrap``, or None (not installed, refused by the kernel, or
    ``KWS_SANDBOX=builtin``)."""
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


@functools.cache
def sizes_tmpfs(bwrap: str) -> bool:
    """Whether `bwrap` can cap the size of a tmpfs (``--size``, bubblewrap 0.8 and later; an
    older one, as in Ubuntu 22.04, leaves the child's /tmp to the quota's count alone)."""
    try:
        done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--size" in done.stdout + done.stderr


def command(bwrap: str, mounts: list[Mount], home: str) -> list[str]:
    """The ``bwrap`` arguments that build the child's file system from `mounts` (the
    allow-list, shallowest first) and start it in `home`, its own folder."""
    # --new-session: the child's own process group, so signalling "its parent's group" cannot
    # reach the sandbox's own processes (nor, through the terminal, the grader's).
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net"]
    args += ["--unshare-ipc", "--unshare-uts", "--hostname", "localhost", "--unshare-cgroup-try"]
    made = {"/": "tmpfs"}  # the child's paths so far, and what put them there
    masks = []
    for mount in mounts:
        # bubblewrap makes missing parent folders mode 0700 as root: the child could not pass
        for folder in map(str, reversed(Path(mount.dest).parents)):
            if folder not in made and _made_by(folder, made) in ("tmpfs", "dev", "mask", "dir"):
                args += ["--perms", "0755", "--dir", folder]
                made[folder] = "dir"
        if mount.kind == "tmpfs" and mount.size and sizes_tmpfs(bwrap):
            # open to all, sticky, as a machine's /tmp: the child may run as another user id
            args += ["--perms", "1777", "--size", str(mount.size), "--tmpfs", mount.dest]
        elif mount.kind in _FRESH:
            args += [_FRESH[mount.kind], mount.dest]
        elif mount.kind == "symlink":
            args += ["--symlink", mount.source, mount.dest]
        elif mount.kind == "mask" and os.path.isdir(mount.dest):
            args += ["--tmpfs", mount.dest]  # read-only once the Python folders are back
            masks.append(mount.dest)
        elif mount.kind == "mask":
            args += ["--ro-bind", "/dev/null", mount.dest]
        else:
            args += [_BINDS[mount.kind], mount.source, mount.dest]
        made[mount.dest] = mount.kind
    for folder in masks:  # an empty tmpfs without root is the child's: it could write there
        args += ["--remount-ro", folder]
    # The sandbox's own root (a tmpfs) read-only: without root the child owns it and could write
    # files beside the binds; its folder, /tmp and /var/tmp stay writable mounts of their own.
    return args + ["--remount-ro", "/", "--chdir", home]


def _made_by(path: str, made: dict[str, str]) -> str:
    """What put the deepest folder of `made` that holds `path` there."""
    holders = [folder for folder in made if Path(path).is_relative_to(folder)]
    return made[max(holders, key=len)]
