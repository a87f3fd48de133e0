"""How long the README's test command takes, and where its time goes.

    python benchmarks/bench_suite.py --publish            # on an idle machine: the docs' figure
    python benchmarks/bench_suite.py --full --publish     # the full run (--full), as CI runs it
    python benchmarks/bench_suite.py --runs 1 -- tests/test_tiers.py   # a quick look at a part

Each run clones the kit's committed HEAD into a fresh folder (as CI and a newcomer start) and runs
the README's test command there (`python -m pytest -q -n auto --dist loadgroup`, read from the
README; with ``--full``, its full run), with pytest's JUnit report. It measures the run's wall time
and the CPU seconds of its whole process tree (workers, notebook kernels, graders and their
sandboxed children, counted by a cgroup where the machine allows one: ``cpu_counted_by``); from
the report, the worker-seconds each test file took (setup included: a
file that builds a shared fixture first carries its cost), and from ``benchmarks/cpu_per_test.py``
the CPU seconds each file cost, its processes included (which a busy machine hardly changes). The
figures are the median of ``--runs`` runs (3 by default), with the commit they were measured at,
and the machine's reference time (``benchmarks/machine.py``): a fixed one-thread workload timed
on the same machine, so that a reader can tell a slower machine from a slower kit.

``--publish`` writes them as the ``suite`` section of ``kws/figures.json`` (``suite_full`` with
``--full``); it refuses figures measured on a busy machine (a load average above ``IDLE_LOAD``
before a run), whose wall time says nothing about an idle one.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from benchlib import (
    IDLE_LOAD,
    ROOT,
    add_publish_options,
    commit,
    figures_target,
    is_kit_figures,
    publish,
    reference_time,
    run_step,
    settled_load,
)
from cpu_per_test import REPORT_DIR, CpuClock, read_reports


def readme_command(readme: Path = ROOT / "README.md") -> list[str]:
    """The test command the README gives (its ``python -m pytest ...`` line), as arguments."""
    for line in readme.read_text().splitlines():
        found = re.search(r"\bpython3? -m pytest\b[^#]*", line)
        if found:
            return shlex.split(found.group(0))
    raise ValueError(f"{readme} has no `python -m pytest` line to time")


def per_file(report: Path) -> dict[str, float]:
    """Worker-seconds per test file from a JUnit report, largest first."""
    seconds: Counter[str] = Counter()
    for case in ET.parse(report).iter("testcase"):
        name = case.get("classname") or "?"
        module = name.split(".")[1] if name.startswith("tests.") else name
        seconds[f"tests/{module}.py"] += float(case.get("time") or 0)
    return {name: round(value, 1) for name, value in seconds.most_common()}


def run_once(work: Path, extra: list[str], settle: bool = False) -> dict:
    """Clone HEAD into `work`, run the README's test command there (and `extra`); its figures.
    With `settle`, first wait for the load the previous run left to decay (`settled_load`)."""
    run_step(["git", "clone", "-q", str(ROOT), str(work)], what="git clone")
    command = readme_command(work / "README.md")
    command[0] = sys.executable if command[0].startswith("python") else command[0]
    report, cpu_reports = work / "junit.xml", work / "cpu-per-test"
    command += [f"--junitxml={report}", "-p", "no:cacheprovider", "-p", "cpu_per_test", *extra]
    load = settled_load() if settle else os.getloadavg()[0]
    clock = CpuClock(f"kws-bench-suite-{os.getpid()}")  # the run's whole process tree
    cpu = clock.seconds()
    env = {  # the clone's kit in every process it starts, and the CPU-per-test plugin
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(work), str(work / "benchmarks")]),
        REPORT_DIR: str(cpu_reports),
    }
    tests = run_step(command, what=f"the test command in {work}", cwd=work, env=env)
    cpu = clock.seconds() - cpu
    clock.close()
    cpu_files, counted = read_reports(cpu_reports)
    summary = next(
        (line for line in reversed(tests.stdout.splitlines()) if re.search(r" in [\d.]+s", line)),
        "",
    )
    return {
        "load_before": round(load, 2),
        "wall_seconds": round(tests.wall_seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "outcome": summary.strip("= "),
        "files": per_file(report),
        "cpu_files": cpu_files,
        # "cgroup": every process counted; "rusage": sandboxed children are not (no cgroup here)
        "cpu_counted_by": counted if clock.kind == "cgroup" else "rusage",
    }


def summary(runs: list[dict], extra: list[str], machine: dict) -> dict:
    """The ``suite`` section: medians of `runs`, the last run's outcome and slowest files, and
    the `machine`'s reference time (`machine.reference_time`)."""
    files, cpu_files = runs[-1]["files"], runs[-1]["cpu_files"]
    test_command = " ".join(["python -m pytest -q -n auto --dist loadgroup", *extra])
    publish = "--full --publish" if "--full" in extra else "--publish"
    return {
        "command": f"python benchmarks/bench_suite.py {publish}",
        "test_command": test_command,
        "conditions": f"`{test_command}` (the README's test command) in a fresh clone of the "
        f"kit's commit, timed with its whole process tree; median of {len(runs)} runs on a "
        f"{os.cpu_count()}-core machine, whose reference time (benchmarks/machine.py) is "
        f"measured beside them; the tests run on the tiny synthetic data",
        "synthetic": True,
        "commit": commit(),
        "cores": os.cpu_count(),
        "runs": len(runs),
        "load_before": max(run["load_before"] for run in runs),
        "wall_seconds": round(statistics.median(run["wall_seconds"] for run in runs)),
        "cpu_seconds": round(statistics.median(run["cpu_seconds"] for run in runs)),
        "outcome": runs[-1]["outcome"],
        "each_run": [  # in order: three green runs in a row, or the spread of the medians
            {key: run[key] for key in ("wall_seconds", "cpu_seconds", "outcome")} for run in runs
        ],
        "slowest_files": dict(list(files.items())[:12]),
        "worker_seconds": round(sum(files.values())),
        "costliest_files_cpu": dict(list(cpu_files.items())[:12]),
        "cpu_counted_by": runs[-1]["cpu_counted_by"],
        "machine": machine,
    }


def table(section: dict) -> str:
    machine = section["machine"]
    lines = [
        f"{section['test_command']} at {section['commit']}: {section['wall_seconds']} s wall, "
        f"{section['cpu_seconds']} CPU-s (median of {section['runs']}; {section['cores']} cores; "
        f"load average before a run up to {section['load_before']})",
        f"  {section['outcome']}",
        f"  the machine's reference time: {machine['reference_seconds']} s "
        f"({machine['cpu_model']}; benchmarks/machine.py)",
        f"  worker-seconds per file (setup included), {section['worker_seconds']} in all:",
    ]
    lines += [f"    {sec:7.1f}  {name}" for name, sec in section["slowest_files"].items()]
    lines.append(f"  CPU seconds per file, its processes included ({section['cpu_counted_by']}):")
    lines += [f"    {sec:7.1f}  {name}" for name, sec in section["costliest_files_cpu"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs to take the median of")
    parser.add_argument("--full", action="store_true", help="time the full run (pytest --full)")
    parser.add_argument("--work", type=Path, help="clone into this folder (default: temporary)")
    add_publish_options(parser, "suite")
    parser.add_argument(
        "--reference-runs", type=int, default=3, help="runs of the machine's reference workload"
    )
    parser.add_argument("extra", nargs="*", help="after --: more pytest arguments (a part only)")
    args = parser.parse_args(argv)
    extra = ["--full", *args.extra] if args.full else args.extra
    if args.publish:  # the reference workload, too, on a machine the last run has left
        settled_load()
    machine = reference_time(args.reference_runs)
    print(f"the machine's reference time: {machine['reference_seconds']} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="kws-bench-suite-") as temporary:
        work = (args.work or Path(temporary)).resolve()
        runs = []
        for number in range(1, args.runs + 1):
            runs.append(run_once(work / f"run-{number}", extra, settle=args.publish))
            print(f"run {number}: {runs[-1]['wall_seconds']:.0f} s wall", flush=True)
    section = summary(runs, extra, machine)
    print(table(section))
    target = figures_target(args)
    busy = max(section["load_before"], machine["load_before"])
    if is_kit_figures(target) and (args.extra or busy > IDLE_LOAD):
        why = "a part of the suite" if args.extra else f"load {busy}"
        print(f"not published ({why}): run the whole suite on an idle machine", file=sys.stderr)
        return 3
    if target is not None:
        name = "suite_full" if args.full else "suite"
        print(f"published into {publish(name, section, target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
