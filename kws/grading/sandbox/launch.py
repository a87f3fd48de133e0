"""The first moments of a sandboxed child: lock the process down, then exec the real command.

Run by `kws.grading.sandbox.run` as ``python -m kws.grading.sandbox.launch SPEC -- COMMAND...``,
inside bubblewrap when it is available (which made the namespaces and the file system already)
and directly otherwise (the hand-written fallback). Trusted code, run as the grader's user before
any student code; `main` does, in order: network and mount namespaces, the allow-list mounted
(`kws.grading.sandbox.mounts`), a PID namespace with a fresh /proc, resource limits, the dedicated
user id when root, then ``execve``. A step the kernel refuses is skipped, and the protections,
written to the spec's ``protections_file`` before privileges are dropped, say what was achieved.
Like bubblewrap's ``--die-with-parent``, the launcher ends when the grader does.
"""

import contextlib
import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import struct
import sys
from pathlib import Path

from kws.grading.sandbox.allow import ALLOW_LIST, Mount
from kws.grading.sandbox.mounts import (
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    checked,
    enter_allow_list,
    mount,
)

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
NOT_STARTED = "the sandbox's launcher could not start the command"  # on stderr, exit code 127

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4


def _unshare(flags: int) -> None:
    checked(_libc.unshare(flags), "unshare")


def _enter_namespaces(is_root: bool) -> tuple[bool, bool]:
    """New network + mount namespaces. Returns (network isolated, mounts private)."""
    uid, gid = os.getuid(), os.getgid()  # before a user namespace maps them
    try:
        _unshare(CLONE_NEWNS | CLONE_NEWNET | (0 if is_root else CLONE_NEWUSER))
    except OSError:
        with contextlib.suppress(OSError):
            if is_root:  # root may still have a network namespace alone
                _unshare(CLONE_NEWNET)
                return True, False
        return False, False
    if not is_root:  # map our own ids so files keep their owner inside the namespace
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    try:  # a user namespace may come without the right to mount (a host that restricts them)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
    except OSError:
        return True, False
    return True, True


def _loopback_up() -> None:
    """Bring up `lo` in the new network namespace (a notebook kernel talks to its client there)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh14x", b"lo", flags | iff_up))


def _die_with_parent(parent: int | None) -> None:
    """SIGKILL this process when the process that started it ends (`PR_SET_PDEATHSIG`; a fork or
    a change of user id clears it). Ends it at once when that process, `parent`, has ended
    already (None: its pid cannot be seen from here, as from a PID namespace's pid 1)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:  # it ended before the request took effect
        os._exit(128 + signal.SIGKILL)


def _own_pid_namespace() -> bool:
    """Move the rest of the child into a new PID namespace with its own /proc; False if refused.

    Three processes: this one stays outside and waits; its fork becomes pid 1 of the namespace,
    mounts the new /proc and waits in turn; that one's fork returns True and goes on to run the
    command (not as pid 1, which the kernel shields from signals, so limits and kills work as
    usual). How the command ended travels back up — a signal N as exit code 128 + N from pid 1,
    then as the signal itself from here — and the grader sees it unchanged. When pid 1 ends, the
    kernel ends every other process of the namespace.

    Pid 1 starts a session of its own, as bubblewrap's does: its process group is then one the
    namespace can name (1). A group outside the namespace reads as 0 there, and C's
    ``killpg(0, sig)`` signals the caller's own group, so "kill my parent's group" would kill the
    command itself, where under bubblewrap it reaches no one.
    """
    try:
        _unshare(CLONE_NEWPID)
    except OSError:
        return False
    outer = os.fork()
    if outer:
        code = os.waitstatus_to_exitcode(os.waitpid(outer, 0)[1])
        if code > 128:
            _die_of(code - 128)
        os._exit(code)
    os.setsid()
    _die_with_parent(None)  # and with it every process of the namespace
    with contextlib.suppress(OSError):  # refused in some containers: the machine's /proc stays
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    inner = os.fork()
    if inner == 0:
        os.setsid()  # its own process group: "its parent's group" holds only pid 1
        return True
    code = os.waitstatus_to_exitcode(os.waitpid(inner, 0)[1])
    os._exit(128 - code if code < 0 else code)


def _die_of(number: int) -> None:
    """End this process by signal `number` (without a core file), as the command it waited for
    ended. Returns when `number` names no signal that ends a process (an exit code above 128
    that was not a signal's): the caller then exits with the code itself."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if number not in (signal.SIGKILL, signal.SIGSTOP):  # their action cannot be set (EINVAL)
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            return
    try:
        os.kill(os.getpid(), number)
    except OSError:
        return


def user_namespace() -> int | None:
    """The identity (inode) of this process's user namespace, or None where /proc cannot say."""
    try:
        return os.stat("/proc/self/ns/user").st_ino
    except OSError:
        return None


def _counts_processes_per_namespace() -> bool:
    """Whether RLIMIT_NPROC counts a user id's processes per user namespace (Linux 5.14 and later:
    processes of the same id outside a namespace made for the child then do not count)."""
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 14)


def _set_limits(limits: dict, dedicated_user: bool) -> list[str]:
    cpu, memory, size = (int(limits[k]) for k in ("cpu_seconds", "memory_bytes", "file_bytes"))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    done = [f"CPU time {cpu} s", f"memory {memory / 2**30:.1f} GiB"]
    done.append(f"file size {size / 2**20:.0f} MiB")
    if dedicated_user:
        # RLIMIT_NPROC counts every process and thread of the user id (of its user namespace,
        # since Linux 5.14), so it is only meaningful (and only safe) for a user id that belongs
        # to this child alone: a dedicated one, or the grader's inside a namespace of its own.
        procs = int(limits["processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (procs, procs))
        done.append(f"{procs} processes/threads")
    # An oversized write then fails with an OSError the student can read, instead of a signal.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return done


def _allow_list(spec: dict, protections: list[str]) -> bool:
    """Mount the spec's allow-list and move into it (`enter_allow_list`); whether it was done
    (the kernel may refuse a mount, or pivot_root)."""
    try:
        enter_allow_list([Mount(**m) for m in spec["mounts"]], spec["new_root"])
    except OSError as error:
        protections.append(f"no allow-list ({error.strerror or error})")
        return False
    protections.append(ALLOW_LIST)
    return True


def _permissions_only(hidden: list[str], other_user: bool) -> str:
    """What keeps the child out of the machine without a mount namespace: file permissions,
    for another user id (how many of the `hidden` paths other users may read), or nothing."""
    if not other_user:
        return "no mount namespace: the child can read what the grader's user can"
    open_ = sum(1 for path in hidden if _open_to_others(path))
    return (
        f"no mount namespace: file permissions alone keep the child out ({open_} of "
        f"{len(hidden)} paths it must not read are open to other users)"
    )


def _open_to_others(path: str) -> bool:
    """Whether a user with no group of the owner's may read `path`: every folder above it
    searchable by others, and itself readable by them."""
    parts = Path(path).parts
    try:
        for i in range(2, len(parts)):
            if not os.stat(os.path.join(*parts[:i])).st_mode & 0o001:
                return False
        return bool(os.stat(path).st_mode & 0o004)
    except OSError:
        return False


def _in_place(spec: dict, command: list[str]) -> tuple[dict, list[str]]:
    """The spec and command with the child's paths (its folder, the kit's copy, the status
    folder: ``spec["in_place"]``) replaced by where they are on the machine."""

    def place(text: str) -> str:
        for inside, outside in spec["in_place"].items():
            if text == inside or text.startswith(inside + "/"):
                return outside + text[len(inside) :]
        return text

    env = {name: place(value) for name, value in spec["env"].items()}
    moved = spec | {"cwd": place(spec["cwd"]), "env": env}
    moved["protections_file"] = place(spec["protections_file"])
    return moved, [place(arg) for arg in command]


def main(argv: list[str]) -> None:
    """Lock this process down as the spec says, then ``execve`` the command."""
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: python -m kws.grading.sandbox.launch SPEC_FILE -- COMMAND...")
    spec = json.loads(Path(argv[0]).read_text())  # a file only the grader's user can read
    parent = spec.get("parent")  # the grader (None in bubblewrap, which has its own)
    if parent is not None:
        _die_with_parent(parent)
    command = argv[2:]
    is_root = os.geteuid() == 0
    uid = spec.get("uid")
    protections = list(spec.get("protections", []))  # what bubblewrap did, when it ran

    network, mounts = _enter_namespaces(is_root) if spec["isolate"] else (False, False)
    if network:
        with contextlib.suppress(OSError):  # without it, a notebook's kernel cannot start
            _loopback_up()
        protections.append("no network (own network namespace, loopback only)")
    viewed = mounts and _allow_list(spec, protections)
    if spec["isolate"] and not viewed:
        protections.append(_permissions_only(spec["hide"], uid is not None and is_root))
    if not viewed and not spec["view_built"]:  # its folders are where the grader left them
        spec, command = _in_place(spec, command)
    if mounts and _own_pid_namespace():
        fresh = os.readlink("/proc/self") == str(os.getpid())
        protections.append(
            "own PID namespace and /proc (no other process visible)"
            if fresh
            else "own PID namespace (the machine's /proc: other processes are listed)"
        )
        parent = None  # this is a fork of the namespace's pid 1, which dies with the launcher
    # Without root there is no dedicated user id, but in a user namespace made for this child
    # (by `_enter_namespaces` or by an unprivileged bubblewrap) the grader's id is the child's
    # alone: a fork bomb then meets the process limit instead of the machine's memory.
    own_namespace = user_namespace() not in (None, spec.get("grader_user_namespace"))
    alone = (uid is not None and is_root) or (own_namespace and _counts_processes_per_namespace())
    protections += _set_limits(spec["limits"], dedicated_user=alone)

    drop = uid is not None and is_root
    if drop:
        protections.append(f"unprivileged user id {uid}")
    # Written while still the grader's user: the child cannot rewrite it afterwards.
    Path(spec["protections_file"]).write_text(json.dumps(protections))
    if drop:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.chdir(spec["cwd"])
    if parent is not None:
        _die_with_parent(parent)  # again: a change of user id clears it
    try:
        os.execve(command[0], command, spec["env"])
    except OSError as error:  # no student code has run: the machine's fault (run.run_child)
        print(f"{NOT_STARTED}: {command[0]}: {error.strerror}", file=sys.stderr, flush=True)
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])
