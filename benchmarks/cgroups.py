"""Run a command as in a container: in a memory cgroup with a limit, on a share of a CPU.

Gradescope grades in a container of 768 MB and half a CPU; what it counts is the cgroup's
memory, the whole process tree and the page cache it brings in, with no swap. A memory cgroup
of this machine's (cgroup v1 ``/sys/fs/cgroup/memory`` or v2 ``/sys/fs/cgroup``; it needs root)
counts the same, and kills a process of the tree when the tree's memory cannot be reclaimed below
the limit. Used by ``bench_grading_memory.py`` and by the test that grades inside such a group
(tests/test_grading_memory.py)::

    group = MemoryGroup.make(768)          # None where no memory cgroup can be made
    subprocess.run(group.prefix + command)
    group.peak_mib(), group.oom_kills()    # what the limit counted, and the processes it killed
    group.remove()

Each group has a name of its own (the process id), so that two measurements at once never share
a limit, and is made inside this process's own cgroup, so that the limits of whatever runs this
process still hold.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

MIB = 2**20
V1_MEMORY, V2 = Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup")


def _own(root: Path, controller: str) -> Path:
    """The cgroup under `root` this process belongs to for `controller` (v1, e.g. "memory"),
    or for every controller (v2, ``controller=""``): new groups go inside it, so that whatever
    limits this process (a container, a job's group) still limits them too."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or controllers == controller:
            return root / path.lstrip("/")
    return root


def _enter(group: Path) -> list[str]:
    """A command prefix that moves the command into `group`, then runs it."""
    return ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh"]


class MemoryGroup:
    """A memory cgroup with a limit of `mib` MiB at `path` (`version` 1 or 2)."""

    def __init__(self, path: Path, version: int, mib: int):
        self.path, self.version, self.mib = path, version, mib
        self.prefix = _enter(path)
        self._anon_peak = 0

    @classmethod
    def make(cls, mib: int, name: str | None = None) -> MemoryGroup | None:
        """A new group limited to `mib` MiB (memory and swap), or None where this machine has
        no writable memory cgroup (not root, or a container without one)."""
        name = name or f"kws-memory-{os.getpid()}"
        # A cgroup file system's root has these files (on a v1 machine /sys/fs/cgroup is a plain
        # folder, where a new folder would be no cgroup at all).
        for root, version, limit, marker in (
            (V1_MEMORY, 1, "memory.limit_in_bytes", "memory.limit_in_bytes"),
            (V2, 2, "memory.max", "cgroup.controllers"),
        ):
            if not (root / marker).is_file():
                continue
            group = _own(root, "memory" if version == 1 else "") / name
            try:
                group.mkdir(exist_ok=True)
                (group / limit).write_text(str(mib * MIB))
            except OSError:
                with contextlib.suppress(OSError):
                    group.rmdir()
                continue
            with contextlib.suppress(OSError):  # no swap either, as in the container
                swap = "memory.memsw.limit_in_bytes" if version == 1 else "memory.swap.max"
                (group / swap).write_text(str(mib * MIB) if version == 1 else "0")
            return cls(group, version, mib)
        return None

    def _read(self, name: str) -> str:
        return (self.path / name).read_text()

    def _stat(self) -> dict[str, int]:
        fields = (line.split() for line in self._read("memory.stat").splitlines())
        return {key: int(value) for key, value in fields}

    def anon_mib(self) -> float:
        """The group's memory that cannot be reclaimed without swap now: processes' anonymous
        memory and shared memory (tmpfs); page cache of files is left out."""
        stat = self._stat()
        anon = stat.get("rss", 0) + stat.get("shmem", 0) if self.version == 1 else 0
        if self.version == 2:
            anon = stat.get("anon", 0) + stat.get("shmem", 0)
        self._anon_peak = max(self._anon_peak, anon)
        return anon / MIB

    def anon_peak_mib(self) -> float:
        """The largest `anon_mib` seen by the calls so far (sample it while the command runs)."""
        return self._anon_peak / MIB

    def peak_mib(self) -> float:
        """The most memory the group held (processes and page cache), as its limit counts it."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int(self._read(name)) / MIB
        except OSError:  # v2 before Linux 5.19 has no peak: what it holds now
            return int(self._read("memory.current")) / MIB

    def oom_kills(self) -> int:
        """The processes of the group the kernel killed for memory."""
        text = self._read("memory.oom_control" if self.version == 1 else "memory.events")
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        """Delete the group (its processes have ended; their page cache goes to the parent)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()


def cpu_quota(fraction: float, name: str | None = None) -> tuple[list[str], str, Path | None]:
    """A command prefix that runs at `fraction` of a CPU, how (a cgroup quota, or 1 core where
    no CPU cgroup is writable), and the group to remove afterwards (None for a core)."""
    name = name or f"kws-cpu-{os.getpid()}"
    for folder, controller in ((Path("/sys/fs/cgroup/cpu"), "cpu"), (V2, "")):
        if not folder.is_dir():
            continue
        group = _own(folder, controller) / name
        try:
            group.mkdir(exist_ok=True)
            if (group / "cpu.max").exists():
                (group / "cpu.max").write_text(f"{int(fraction * 100000)} 100000")
            else:
                (group / "cpu.cfs_quota_us").write_text(str(int(fraction * 100000)))
        except OSError:
            with contextlib.suppress(OSError):
                group.rmdir()
            continue
        return _enter(group), f"{fraction} CPU (cgroup quota {group.parent})", group
    return ["taskset", "-c", "0"], "1 core (taskset; no writable cgroup for a CPU quota)", None
