"""The grading children's share of this machine's cores, as torch threads: the default of
`kws.grading.plugin`'s ``--child-threads``, and each child's share in `kws.grading.classrun.batch`.
"""

import os
from pathlib import Path

from kws.grading.sandbox.supervise import Limits


def child_threads(jobs: int = 1) -> int:
    """Torch threads for each of `jobs` grading children running at once: their share of this
    machine's cores (or of the CPU quota of its container: Gradescope gives half a CPU of a
    machine with several cores), at most the sandbox's default (`Limits.threads`) and the
    grader's own ``OMP_NUM_THREADS`` when that is set (an instructor who gives the grader one
    thread gives its children one), at least 1. More threads than cores do not grade faster:
    idle OpenMP threads spin and take the CPU from the other children."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = cpu_quota()
    if quota is not None:
        cores = min(cores or 1, max(1, int(quota)))
    threads = min(Limits.threads, (cores or 1) // max(1, jobs))
    own = os.environ.get("OMP_NUM_THREADS", "")
    if own.isdigit() and int(own) > 0:
        threads = min(threads, int(own))
    return max(1, threads)


def cpu_quota() -> float | None:
    """The CPUs this process's cgroup may use (its CFS quota: cgroup v2's cpu.max, v1's
    cpu.cfs_quota_us over cpu.cfs_period_us), or None without a quota (or where unreadable)."""
    try:
        groups = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in groups:
        _, controllers, path = line.split(":", 2)
        path = path.lstrip("/")
        try:
            if controllers == "":  # v2
                quota, period = (Path("/sys/fs/cgroup") / path / "cpu.max").read_text().split()
            elif "cpu" in controllers.split(","):
                folder = Path("/sys/fs/cgroup") / controllers / path
                if not folder.is_dir():
                    folder = Path("/sys/fs/cgroup/cpu") / path
                quota = (folder / "cpu.cfs_quota_us").read_text().strip()
                period = (folder / "cpu.cfs_period_us").read_text().strip()
            else:
                continue
        except (OSError, ValueError):
            continue
        if quota not in ("max", "-1"):
            return int(quota) / int(period)
    return None
