"""What a sandboxed child holds on disk and in its private scratch folders: its write quota.

A child's share is `Limits.written_bytes`, counted over all it holds together (`Quota.held`):

- the files it adds to its own folder (its size now, less its size when the child started);
- the files it deleted but keeps open, where no walk of a folder finds them (``fstat`` of every
  descriptor of its processes, through ``/proc/PID/fd``): they fill the disk all the same;
- its private ``/tmp``, ``/var/tmp`` and ``/dev/shm`` (memory-backed: a ``tmpfs`` each, also
  capped at `scratch_bytes` where it is made, so that one that is not counted still stops).

`kws.grading.sandbox.supervise` asks `Quota.over` between slices of its wait, and stops a child
that holds more; the reason it gives is the hand-in's, with the limit named. Each look also
notes when the disk of the folder ran (nearly) full (`Quota.low_space`): a child that then fails
failed for the machine (a classmate filling the disk), not for its own hand-in.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from kws.grading.sandbox.faults import low_space

SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")  # a child's private scratch folders, each a tmpfs

STOPPED = "stopped: it wrote more than"  # how `Quota.over`'s reason starts (the hand-in's fault)
SCRATCH_MARGIN = 2**20  # a scratch tmpfs holds its quota and a little more, for `over` to see it


def scratch_bytes(written_bytes: int) -> int:
    """The size each of a child's private scratch folders (``tmpfs``) is made with: its quota and
    `SCRATCH_MARGIN`, so that a child that fills one is over its quota, not merely at it."""
    return written_bytes + SCRATCH_MARGIN


def limit_text(written_bytes: int) -> str:
    """The sentence naming the quota, for a student: the end of `Quota.over`'s reason."""
    return (
        f"{written_bytes / 2**20:g} MiB of files, the limit of what one hand-in may write while "
        "it is graded (its folder, its /tmp and the files it deleted but kept open, together)"
    )


class Quota:
    """The write quota of one child: `folder`, its own folder, measured against `limit` bytes.

    Args:
        folder: the child's folder on the machine, already holding the hand-in and its inputs.
        limit: the bytes it may add, all it holds together (`Limits.written_bytes`).
    """

    def __init__(self, folder: Path, limit: int):
        self.folder, self.limit = folder, limit
        self.start = folder_bytes(folder)  # the hand-in and inputs copied in
        self.low_space: str | None = None  # the disk of `folder` seen (nearly) full, and how

    def over(self, pid: int, uid: int | None) -> str:
        """Why the child started as `pid` (its processes: `pid`'s descendants, and every process
        of `uid`, its own user id) is stopped, holding more than its quota; "" when it is not."""
        self.low_space = self.low_space or low_space(self.folder)
        if self.held(pid, uid) > self.limit:
            return f"{STOPPED} {limit_text(self.limit)}"
        return ""

    def held(self, pid: int, uid: int | None) -> int:
        """The bytes the child holds beyond its start: its folder's growth, its deleted but
        open files, and its scratch folders."""
        pids = child_processes(pid, uid)
        scratch, devices = scratch_usage(pids, self.folder)
        return folder_bytes(self.folder) - self.start + unlinked_bytes(pids, devices) + scratch


def folder_bytes(folder: Path) -> int:
    """Bytes the files under `folder` take on disk (what is gone meanwhile aside)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def child_processes(pid: int, uid: int | None) -> list[int]:
    """`pid` and its descendants, and every live process owned by `uid` (None: none); in a PID
    namespace an orphan is adopted by its pid 1, itself a descendant of `pid`."""
    children: dict[int, list[int]] = {}
    found = {pid}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(name))  # fields: state, ppid
            if uid is not None and os.stat(f"/proc/{name}").st_uid == uid:
                found.add(int(name))
    frontier = [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return sorted(found)


def unlinked_bytes(pids: list[int], skip_devices: set[int]) -> int:
    """Bytes of the regular files that `pids` hold open and that no folder holds any more
    (deleted: no link left), each counted once; files on `skip_devices` (the scratch folders,
    counted whole) aside."""
    counted: set[tuple[int, int]] = set()
    total = 0
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone meanwhile
            continue
        for fd in descriptors:
            try:
                info = os.stat(f"/proc/{pid}/fd/{fd}")  # the open file itself, deleted or not
            except OSError:
                continue
            key = (info.st_dev, info.st_ino)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink or key in counted:
                continue
            counted.add(key)
            if info.st_dev not in skip_devices:
                total += info.st_blocks * 512
    return total


def scratch_usage(pids: list[int], folder: Path) -> tuple[int, set[int]]:
    """Bytes used in the child's private scratch folders (`SCRATCH`: each a tmpfs in its own
    mount namespace, seen through ``/proc/PID/root``), and their devices. A scratch folder that
    is the machine's own (the same device as here: a child sharing this mount namespace, or one
    not yet in its allow-list) or on the disk of `folder` is not counted."""
    ours = _namespace("self")
    machine = set()
    for path in [*SCRATCH, str(folder)]:
        with contextlib.suppress(OSError):
            machine.add(os.stat(path).st_dev)
    used, devices = 0, set()
    for pid in pids:
        if _namespace(pid) in (None, ours):
            continue
        for name in SCRATCH:
            path = f"/proc/{pid}/root{name}"
            try:
                device = os.stat(path).st_dev
                if device in machine or device in devices:
                    continue
                info = os.statvfs(path)
            except OSError:
                continue
            used += (info.f_blocks - info.f_bfree) * info.f_frsize
            devices.add(device)
        if devices:
            break  # one process of the namespace shows its scratch folders
    return used, devices


def _namespace(pid) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None
