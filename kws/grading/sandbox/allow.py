"""What a sandboxed child sees: an allow-list, the same in bubblewrap and the hand-written sandbox.

`allow_list` builds the child's file system as a list of `Mount`s, shallowest first, on an
empty root: nothing of the machine is there unless a mount puts it there. bubblewrap renders the
list as its arguments (`kws.grading.sandbox.bwrap.command`); the hand-written launcher mounts it
itself (`kws.grading.sandbox.mounts`); both then make the root read-only. What the list shows and
masks: docs/reference/threat-model.md, "What a child sees".
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kws.grading.sandbox.gpu import gpu_mounts
from kws.grading.sandbox.quota import SCRATCH
from kws.grading.sandbox.supervise import interpreter

HOME = "/home/student"  # where the child's folder appears, as on a course's lab machine
KIT = "/opt/kit"  # where the copy of the kws package appears (PYTHONPATH)
STATUS = "/run/sandbox"  # the launcher's spec and report (the grader's user's alone)
KIT_PACKAGE = str(Path(__file__).resolve().parents[2])  # the kws package folder the grader runs
OS_FOLDERS = ("/usr", "/etc")
OS_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64")
# Mount kinds: "ro"/"rw" bind `source` at `dest`; "device" binds a device file; "tmpfs" is an
# empty writable folder, "mask" an empty read-only one (or /dev/null over a file); "symlink"
# points `dest` at `source`; "proc" and "dev" are a fresh /proc and a minimal /dev.
ALLOW_LIST = (  # the protection both sandboxes report
    "only its allow-list visible: the OS, Python and the kws package read-only, its own folder "
    "and a private /tmp"
)
KINDS = ("proc", "dev", "tmpfs", "symlink", "ro", "rw", "device", "mask")


@dataclass(frozen=True)
class Mount:
    """One entry of the allow-list: `kind` (`KINDS`) at `dest`, the child's path; `source`, the
    machine's path it shows (a link's target for "symlink"); `size`, the bytes a "tmpfs" may
    hold (0: the kernel's default, half the memory)."""

    kind: str
    dest: str
    source: str = ""
    size: int = 0


@dataclass(frozen=True)
class View:
    """Where the child's folders appear to it: ``work`` (its own folder), ``lib`` (the copy of
    the kit), ``status`` (the launcher's spec and report), and on the machine: ``host``, the
    same three paths (where the hand-written sandbox leaves them when the OS refuses it the
    mounts that build the view)."""

    work: str
    lib: str = KIT
    status: str = STATUS
    host: tuple[str, str, str] = ("", "", "")

    def in_place(self) -> dict[str, str]:
        """{the child's path: the machine's path} of its three folders."""
        return dict(zip((self.work, self.lib, self.status), self.host, strict=True))


@functools.cache
def python_paths() -> tuple[str, ...]:
    """The folders the child's interpreter needs: its prefixes, the folder of its executable,
    and every folder on the ``sys.path`` it starts with (the standard library, site-packages,
    folders that ``.pth`` files add); asked of that interpreter, started as the child's is
    (`interpreter`, ``-s``, no PYTHONPATH), so that the grader's own additions (its working directory, a
    script's folder, pytest's root) are not among them."""
    python = interpreter()
    ask = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, *sys.path]))"
    asked = subprocess.run(
        [python, "-s", "-c", ask], capture_output=True, text=True, env={}, cwd="/"
    )
    if asked.returncode != 0:
        raise RuntimeError(f"{python} could not list its paths: {asked.stderr.strip()}")
    found = [*json.loads(asked.stdout), os.path.dirname(python)]
    found.append(os.path.dirname(os.path.realpath(python)))
    return tuple(sorted({os.path.realpath(p) for p in found if p and os.path.isdir(p)}))


def checkout() -> Path | None:
    """The kit's checkout (a clone with pyproject.toml or .git beside the package), or None for
    an installed package."""
    folder = Path(KIT_PACKAGE).parent
    if any((folder / marker).exists() for marker in ("pyproject.toml", ".git", "setup.py")):
        return folder
    return None


def child_home(readable: list[str]) -> str:
    """Where the child's folder appears: HOME, unless Python or a path the child must read lies
    inside it (a grader's virtual environment in /home/student), which that bind would hide;
    then the first free ``HOME-N``."""
    needed = [Path(p) for p in [*python_paths(), *readable]]
    home, n = HOME, 1
    while any(path.is_relative_to(home) for path in needed):
        home, n = f"{HOME}-{n}", n + 1
    return home


def allow_list(
    view: View, readable: list[str], hide: list[str], gpu: bool, scratch_bytes: int = 0
) -> list[Mount]:
    """The child's file system, shallowest mount first (a mount never hides a later one).

    Args:
        view: where the child's folder, the kit's copy and the status folder appear, and where
            they are on the machine (``view.host``).
        readable: folders the child reads in place (a re-training's data view); a link directly
            inside one is followed, and its target bound as well.
        hide: paths that stay empty wherever a bind would show them.
        gpu: the NVIDIA devices, driver libraries and /sys folders too (`gpu_mounts`).
        scratch_bytes: the size of each private scratch folder (`SCRATCH`; 0: the kernel's
            default), held in memory (`kws.grading.sandbox.quota.scratch_bytes`).
    """
    mounts = [Mount("proc", "/proc"), Mount("dev", "/dev")]
    mounts += [Mount("tmpfs", folder, size=scratch_bytes) for folder in SCRATCH]
    mounts += [Mount("ro", folder, folder) for folder in OS_FOLDERS if os.path.isdir(folder)]
    for name in OS_LINKS:
        if os.path.islink(name):
            mounts.append(Mount("symlink", name, os.readlink(name)))
        elif os.path.isdir(name):
            mounts.append(Mount("ro", name, name))
    data = _with_link_targets(readable)
    kit_checkout = checkout()  # on sys.path in an editable install: the child has its copy
    binds = _outermost([*(p for p in python_paths() if p != str(kit_checkout)), *data])
    mounts += [Mount("ro", p, p) for p in binds if not _inside(p, OS_FOLDERS)]
    if gpu:
        mounts += [Mount(*entry) for entry in gpu_mounts()]
    work, lib, status = view.host
    mounts += [Mount("ro", view.lib, lib), Mount("rw", view.status, status)]
    mounts.append(Mount("rw", view.work, work))
    shown = [m.source for m in mounts if m.kind in ("ro", "rw")]
    # the kit's package and checkout: the child has its copy at KIT, without the graded tests
    kit = [KIT_PACKAGE, *([str(kit_checkout)] if kit_checkout else [])]
    mounts += _masks([*hide, *kit, *_hidden_folders(data)], shown)
    return sorted(mounts, key=lambda m: len(Path(m.dest).parts))  # stable: parents first


def _masks(paths: list[str], shown: list[str]) -> list[Mount]:
    """A mask over each of `paths` that a bind of `shown` would show (one under another: the
    outer one), and the Python folders inside a mask bound back over it (a virtual environment
    in the kit's checkout)."""
    inside = [os.path.realpath(p) for p in paths if p and os.path.exists(p)]
    inside = _outermost([p for p in inside if _inside(p, shown) and p not in shown])
    masks = [Mount("mask", p) for p in inside]
    kept = [p for p in python_paths() if _inside(p, inside)]
    return masks + [Mount("ro", p, p) for p in _outermost(kept)]


def _hidden_folders(data: list[str]) -> list[str]:
    """The hidden folders (``.name``) under the data folders in `data`: caches a notebook left
    there (``.kws_cache``: a decoded test set among them), never data a notebook reads."""
    found = []
    for top in data:  # os.walk gives nothing of a file
        for folder, dirs, _ in os.walk(top):
            found += [os.path.join(folder, d) for d in dirs if d.startswith(".")]
            dirs[:] = [d for d in dirs if not d.startswith(".")]
    return found


def _with_link_targets(readable: list[str]) -> list[str]:
    """`readable`, plus where the links directly inside each folder lead: a re-training's data
    view links the real folders in (`kws.grading.testsets.layouts`: ``retraining_data``), and
    inside the sandbox a link is only followed when its target is bound too."""
    found = [os.path.realpath(p) for p in readable]
    for folder in list(found):
        if os.path.isdir(folder):
            found += [os.path.realpath(e.path) for e in os.scandir(folder) if e.is_symlink()]
    return [p for p in dict.fromkeys(found) if os.path.exists(p)]


def _inside(path: str, folders) -> bool:
    return any(Path(path).is_relative_to(folder) for folder in folders)


def _outermost(paths: list[str]) -> list[str]:
    paths = sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)})
    return [p for p in paths if not any(p != q and Path(p).is_relative_to(q) for q in paths)]
