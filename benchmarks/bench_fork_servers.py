"""What the two fork servers of `kws grade` save on a class: CPU-seconds and wall time of the whole
process tree, with and without each.

- the *grader zygote* (`kws.grading.zygote`): one process imports pytest, torch and the grader,
  then forks each student's grader, instead of a ``python -m pytest`` process a student;
- the *child zygote* (`kws.grading.sandbox.forked`): with the hand-written sandbox only, one
  process imports torch with the children's environment, then forks each grading child.

A class is `--students` copies of one hand-in (e.g. the reference hand-in `kws demo --no-grade`
writes). Each setting grades the whole class as ``kws grade CLASS --data DATA --jobs N`` does,
in a process of its own, `--repeats` times, the settings taking turns, so that a busy spell of a
shared machine falls on all of them. CPU-seconds are the whole tree's (``wait4``: the process and
every descendant, this process a subreaper so that orphans count too), and are the figure to
trust on a shared machine; wall time is the median's too. Memory: the peak of the tree's summed proportional set size (PSS:
pages shared by forks are counted once), sampled every 0.2 s. The gradebooks of every setting
must give every student the same scores. Usage:

    python benchmarks/bench_fork_servers.py --data DATA --submission HANDIN --work DIR
        [--label NAME] [--dataset NAME] [--students 12] [--jobs 2] [--repeats 3]
        [--sandboxes builtin bubblewrap] [--settings none graders children both]
        [--results benchmarks/results/fork_servers.json]

Settings: ``none`` (a Python a grader, each child started afresh), ``graders`` (the grader
zygote), ``children`` (the child zygote), ``both`` (``kws grade``'s default where both exist).
The child zygote serves the hand-written sandbox only: under bubblewrap only ``none`` and
``graders`` are run. Both servers were removed from the kit after this measurement; run the
script at a commit that has them (it says so when the kit it imports has none).
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

SETTINGS = ("none", "graders", "children", "both")
SERVERS = {"none": (), "graders": ("graders",), "children": ("children",)}
SERVERS["both"] = ("graders", "children")
PR_SET_CHILD_SUBREAPER = 36

# Run in the measured process: `kws grade` (grade_batch) with the fork servers the setting names
# and the others left out, as grade_batch itself leaves them out (no zygote; an empty socket).
DRIVER = """
import contextlib, sys
from pathlib import Path
from kws.grading import batch
servers = set(sys.argv[1].split(",")) - {""}
has = hasattr(batch, "Zygote") and hasattr(batch, "ChildZygote")
if servers and not has:
    sys.exit("this kit has no fork servers: run the benchmark at a commit that has them")
if has and "graders" not in servers:
    batch.Zygote = lambda env: contextlib.nullcontext(None)
if has and "children" not in servers:
    class _Absent:
        path = ""  # an empty KWS_CHILD_FORKER: every grading child starts afresh
    batch.ChildZygote = lambda: contextlib.nullcontext(_Absent())
batch.grade_batch(
    Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), jobs=int(sys.argv[5]),
    dataset=sys.argv[6] or None,
)
"""


def make_class(submission: Path, folder: Path, students: int) -> Path:
    """`students` copies of `submission` in `folder` (student-01, student-02, ...)."""
    if folder.exists():
        shutil.rmtree(folder)
    for number in range(1, students + 1):
        shutil.copytree(submission, folder / f"student-{number:02d}")
    return folder


def has_fork_servers(kit: Path) -> bool:
    """Whether the kit at `kit` still has both fork servers."""
    probe = "import kws.grading.zygote, kws.grading.sandbox.forked"
    env = os.environ | {"PYTHONPATH": str(kit)}
    # run in the kit's folder: `python -c` puts the working directory first on sys.path
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=kit, capture_output=True)
    return done.returncode == 0


def _tree_pss(root: int) -> int:
    """Summed PSS bytes of `root` and its descendants (0 for those already gone)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def grade_class(
    kit: Path,
    servers: tuple[str, ...],
    sandbox: str,
    subs: Path,
    data: Path,
    out: Path,
    jobs: int,
    dataset: str | None,
) -> dict:
    """Grade the class once with `servers`; CPU-seconds, wall seconds, peak PSS, exit code."""
    shutil.rmtree(out, ignore_errors=True)
    env = os.environ | {"PYTHONPATH": str(kit), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("KWS_SANDBOX", None)
    if sandbox == "builtin":
        env["KWS_SANDBOX"] = "builtin"
    command = [sys.executable, "-c", DRIVER, ",".join(servers), str(subs), str(data), str(out)]
    started = time.monotonic()
    process = subprocess.Popen(
        [*command, str(jobs), dataset or ""],
        env=env,
        cwd=out.parent,  # not a checkout: `python -c` imports from its working directory first
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _tree_pss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = process.stdout.read()  # until it ends (it writes little)
    cpu, status = 0.0, None
    while True:  # it, and every orphan of its tree (bubblewrap's pid 1) that came to us
        try:
            pid, code, usage = os.wait4(-1, 0)
        except ChildProcessError:
            break
        cpu += usage.ru_utime + usage.ru_stime
        if pid == process.pid:
            status = process.returncode = os.waitstatus_to_exitcode(code)
    done.set()
    sampler.join()
    return {
        "cpu_seconds": round(cpu, 2),
        "wall_seconds": round(time.monotonic() - started, 2),
        "peak_tree_pss_mib": round(peak[0] / 2**20),
        "exit_code": status,
        "output_tail": output.decode(errors="replace")[-800:],
    }


def scores(gradebook: Path) -> dict[str, dict[str, str]]:
    """Every student's scores (the test columns and the total), without the timing column."""
    with open(gradebook, newline="") as f:
        return {
            row["student"]: {k: v for k, v in row.items() if k not in ("seconds", "student")}
            for row in csv.DictReader(f)
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the grading data folder")
    parser.add_argument("--submission", type=Path, required=True, help="the hand-in to copy")
    parser.add_argument("--work", type=Path, required=True, help="a scratch folder")
    parser.add_argument("--label", default="", help="the data's name in the results")
    parser.add_argument("--dataset", help="its tier set, where the kit cannot tell (kws grade)")
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sandboxes", nargs="+", default=["builtin", "bubblewrap"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--kit", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--results", type=Path, help="a JSON file to add this run's results to")
    args = parser.parse_args()
    # bubblewrap's outer process ends without waiting for the sandbox's pid 1, whose CPU time
    # (the grading child's) would then be counted by no one: as a subreaper this process gets
    # such orphans and counts them when it reaps them.
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("cannot become a child subreaper: bubblewrap's children would go uncounted")
        return 1
    servers = {server for setting in args.settings for server in SERVERS[setting]}
    if servers and not has_fork_servers(args.kit):
        print(
            f"{args.kit}'s kit has no fork servers (removed after this measurement): run the "
            "script at a commit that has them (git worktree add DIR COMMIT; --kit DIR), or "
            "--settings none",
            file=sys.stderr,
        )
        return 2
    work = args.work.resolve()
    subs = make_class(args.submission.resolve(), work / "class", args.students)
    runs = [
        (sandbox, setting)
        for sandbox in args.sandboxes
        for setting in args.settings
        if sandbox == "builtin" or "children" not in SERVERS[setting]
    ]
    measured: dict[tuple[str, str], list[dict]] = {run: [] for run in runs}
    grades = {}
    for repeat in range(args.repeats):
        for sandbox, setting in runs:
            out = work / f"grades-{sandbox}-{setting}"
            result = grade_class(
                args.kit,
                SERVERS[setting],
                sandbox,
                subs,
                args.data.resolve(),
                out,
                args.jobs,
                args.dataset,
            )
            if result["exit_code"] != 0:
                print(result["output_tail"], file=sys.stderr)
                return 1
            grades[sandbox, setting] = scores(out / "gradebook.csv")
            measured[sandbox, setting].append(result)
            print(
                f"{args.label} {sandbox:10} {setting:8} run {repeat + 1}: "
                f"{result['cpu_seconds']:7.1f} CPU-s {result['wall_seconds']:6.1f} s wall "
                f"{result['peak_tree_pss_mib']:5} MiB PSS",
                flush=True,
            )
    first = next(iter(grades.values()))
    same = all(g == first for g in grades.values())
    rows = []
    for (sandbox, setting), results in measured.items():
        rows.append(
            {
                "data": args.label,
                "sandbox": sandbox,
                "setting": setting,
                "students": args.students,
                "jobs": args.jobs,
                "cpu_seconds_median": statistics.median(r["cpu_seconds"] for r in results),
                "wall_seconds_median": statistics.median(r["wall_seconds"] for r in results),
                "peak_tree_pss_mib_median": statistics.median(
                    r["peak_tree_pss_mib"] for r in results
                ),
                "cpu_seconds": [r["cpu_seconds"] for r in results],
                "wall_seconds": [r["wall_seconds"] for r in results],
            }
        )
    print(
        f"\n{args.label}: {args.students} hand-ins, --jobs {args.jobs}, medians of {args.repeats}"
    )
    print("| sandbox | fork servers | CPU-s | CPU-s a hand-in | wall s | peak PSS MiB |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['sandbox']} | {row['setting']} | {row['cpu_seconds_median']:.1f} | "
            f"{row['cpu_seconds_median'] / args.students:.2f} | "
            f"{row['wall_seconds_median']:.1f} | {row['peak_tree_pss_mib_median']:.0f} |"
        )
    print(f"same scores for every student in every setting: {same}")
    if args.results:
        saved = json.loads(args.results.read_text()) if args.results.exists() else {"runs": []}
        saved["runs"] = [r for r in saved["runs"] if r["data"] != args.label] + rows
        saved.setdefault("same_scores", {})[args.label] = same
        args.results.write_text(json.dumps(saved, indent=1) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
