"""What ``kws reference`` measures besides accuracy, for the spec to keep.

    cost = measure_grading(command, env)          # CPU seconds and peak memory of one grading
    gaps = accuracy_gaps(results_output)          # {task: public - private} of one graded run

`measure_grading` runs one grading command alone and samples the summed resident memory of its
whole process tree (the grader, its children, the sandbox) from ``/proc`` every 50 ms, as
``benchmarks/bench_grading_memory.py`` does at real sizes, and each process's CPU seconds with it
(a sandboxed child is not always waited for by its parent, so ``RUSAGE_CHILDREN`` alone would
miss it). They become the spec's ``[grading]``, from
which ``kws gradescope`` sizes the zip's limits. On a machine without ``/proc`` the memory is not
measured (None).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# The note the grader writes beside a private test set's accuracy (kws.grading.judge.public_gap).
_GAP_NOTE = re.compile(
    r": (\S+) accuracy on the private test \w+ \(graded\): (\d+\.\d+); "
    r"on a sample of the public test \w+: (\d+\.\d+)"
)


@dataclass(frozen=True)
class GradingCost:
    """One grading's cost.

    Attributes:
        cpu_seconds: user and system seconds of the whole process tree.
        peak_mib: the peak of its summed resident memory (MiB), None without ``/proc``.
        returncode: the grading command's exit code.
    """

    cpu_seconds: float
    peak_mib: int | None
    returncode: int


def process_tree(root: int) -> dict[int, tuple[int, float]] | None:
    """{pid: (resident memory in bytes, CPU seconds so far, user and system)} of `root` and its
    descendants, read from ``/proc``; None without it."""
    if not Path("/proc/self/statm").is_file():
        return None
    page, ticks = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    read: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/statm") as f:
                rss = int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        read[int(entry)] = (rss, (int(fields[11]) + int(fields[12])) / ticks)
    tree, stack = {}, [root]
    while stack:
        pid = stack.pop()
        tree[pid] = read.get(pid, (0, 0.0))
        stack += children.get(pid, [])
    return tree


def _tree(root: int, cpu: dict[int, float]) -> int | None:
    """The summed resident memory (bytes) of `root` and its descendants, None without /proc;
    `cpu` gets each one's CPU seconds so far (user and system), the largest seen kept."""
    tree = process_tree(root)
    if tree is None:
        return None
    for pid, (_, seconds) in tree.items():
        cpu[pid] = max(cpu.get(pid, 0.0), seconds)
    return sum(rss for rss, _ in tree.values())


def measure_grading(command: list[str], env: dict[str, str]) -> GradingCost:
    """Run `command` (a grading, alone on the machine) to its end; its cost.

    Args:
        command: the grader's command line (`kws.grading.command.grader_command`).
        env: its environment.

    Returns:
        The CPU seconds (each process's last sample, at most 50 ms short of its end; the
        finished children's own count where it is more), the peak summed memory and the exit
        code.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    peak: int | None = 0
    cpu: dict[int, float] = {}
    while process.poll() is None:
        sample = _tree(process.pid, cpu)
        peak = None if sample is None else max(peak or 0, sample)
        time.sleep(0.05)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    mib = None if peak is None else max(1, round(peak / 2**20))
    return GradingCost(round(max(waited, sum(cpu.values())), 1), mib, process.returncode)


def accuracy_gaps(output: str) -> dict[str, float]:
    """{task: public accuracy - private accuracy} from a graded run's output (its notes on a
    private test set); {} when the run was graded without one."""
    return {
        task: float(public) - float(private) for task, private, public in _GAP_NOTE.findall(output)
    }
