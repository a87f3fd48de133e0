"""The hand-written sandbox's file system: the child's allow-list, mounted on an empty root.

`enter_allow_list` does, in the child's own mount namespace before any student code runs, what
bubblewrap does with the same list, in the same order. Binds keep the mount flags of what they
show (``nosuid``, ``nodev`` ...) when made read-only: a user namespace may not drop them. Device
files are bound from the machine's ``/dev``, where they can be opened, as bubblewrap's ``--dev``
does.
"""

import ctypes
import os
import platform

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MNT_DETACH = 0x2
# statvfs's flags (os.ST_*) and the mount flags that keep them
KEPT_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
DEV_FILES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2"}  # fmt: skip
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def checked(result: int, what: str) -> None:
    """OSError saying `what` failed, and why, when a libc call returned other than 0."""
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data=None) -> None:
    """mount(2); OSError naming the target."""
    args = [None if a is None else os.fsencode(a) for a in (source, target, fstype)]
    data = None if data is None else os.fsencode(data)
    checked(_libc.mount(*args, flags, data), f"mount {source} on {target}")


def enter_allow_list(mounts: list, new_root: str) -> None:
    """Mount `mounts` (`kws.grading.sandbox.allow.Mount`, shallowest first) under the empty
    folder `new_root`, then make it this process's root. OSError when the kernel refuses a
    mount: the caller is still in its old root then (its own mount namespace)."""
    os.umask(0o022)  # the folders made on the way are open to the child's user
    mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    masks = []
    for entry in mounts:
        target = os.path.join(new_root, entry.dest.lstrip("/"))
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)  # open to the child
        if entry.kind == "proc":  # the machine's, until the PID namespace mounts its own
            os.makedirs(target, exist_ok=True)
            mount("/proc", target, None, MS_BIND | MS_REC)
        elif entry.kind == "dev":
            _minimal_dev(target)
        elif entry.kind == "tmpfs":
            os.makedirs(target, exist_ok=True)
            size = f"size={entry.size}," if entry.size else ""
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"{size}mode=1777")
        elif entry.kind == "symlink":
            os.symlink(entry.source, target)
        elif entry.kind == "mask":
            masks.append(_mask(target))
        else:  # "ro", "rw", "device": a bind
            _mount_point(target, os.path.isdir(entry.source))
            mount(entry.source, target, None, MS_BIND | MS_REC)
            if entry.kind == "ro":
                read_only(target)
    for target in masks:  # after the Python folders bound back inside them
        read_only(target)
    mount(None, new_root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755")
    _pivot(new_root)


def read_only(target: str) -> None:
    """Make the mount at `target` and those under it read-only, keeping their other flags."""
    for point in [target, *_mounts_under(target)]:
        kept = sum(flag for st, flag in KEPT_FLAGS.items() if os.statvfs(point).f_flag & st)
        mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def _mask(target: str) -> str:
    """An empty read-only folder over the folder `target` (read-only once what is bound back
    inside it is there), or /dev/null over a file."""
    if os.path.isdir(target):
        mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,mode=0755")
    else:
        mount("/dev/null", target, None, MS_BIND)
    return target


def _minimal_dev(target: str) -> None:
    """A /dev of its own: the harmless device files bound from the machine's, and its links."""
    os.makedirs(target, exist_ok=True)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755")
    for name in DEV_FILES:
        if os.path.exists(f"/dev/{name}"):
            _mount_point(os.path.join(target, name), False)
            mount(f"/dev/{name}", os.path.join(target, name), None, MS_BIND)
    for name, points_to in DEV_LINKS.items():
        os.symlink(points_to, os.path.join(target, name))


def _mount_point(target: str, folder: bool) -> None:
    if folder:
        os.makedirs(target, mode=0o755, exist_ok=True)
    elif not os.path.exists(target):
        open(target, "w").close()  # an empty file to bind over


def _mounts_under(target: str) -> list[str]:
    """The mount points strictly under `target`, from /proc/self/mountinfo."""
    with open("/proc/self/mountinfo") as info:
        points = [line.split()[4].encode().decode("unicode_escape") for line in info]
    return [point for point in points if point.startswith(target.rstrip("/") + "/")]


def _pivot(new_root: str) -> None:
    """Make `new_root` the root of this mount namespace and unmount the old one beneath it."""
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(0, f"pivot_root's number on {platform.machine()} is not known here")
    os.chdir(new_root)
    checked(_libc.syscall(number, b".", b"."), "pivot_root")
    checked(_libc.umount2(b".", MNT_DETACH), "unmounting the old root")
    os.chdir("/")
