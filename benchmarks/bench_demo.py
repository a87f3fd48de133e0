"""How long `kws demo` takes, and what it prints: run it as a newcomer does, time it, and keep
its figures (wall and CPU seconds, each phase's, the time to the first graded notebook, synthetic
accuracies, the grader's score) beside the machine's reference time.

    python benchmarks/bench_demo.py --publish                  # on an idle machine: the docs' figures
    python benchmarks/bench_demo.py --runs 1 --publish --shared   # a machine shared with other work
    python benchmarks/bench_demo.py --preset tiny --runs 1 --figures FILE   # a quick look, elsewhere

Each run is ``python -m kws.cli demo`` in a fresh folder of its own (under ``--work``, a temporary
folder by default), data included, as on a newcomer's machine; the wall time and the CPU seconds
of its whole process tree (notebook kernels and grader included) are measured from here, and each
phase's and the time to the first graded notebook (since the demo started) from the demo's own
``timings.json``. The figures are the median of ``--runs`` runs (3 by default), with the commit
they were measured at, and the machine's reference time (``benchmarks/machine.py``, the one
``bench_suite.py`` records): a fixed one-thread workload timed on the same machine just before,
so that a reader can tell a slower machine from a slower kit. Accuracies and score are the last
run's: figures on the **synthetic** data, which say the loop works, not what a model reaches on
real speech.

``--publish`` writes them as the ``demo`` section of the kit's ``kws/figures.json`` (``--figures
FILE`` into another file). The docs quote that section as the demo's time, so ``--publish``
refuses figures measured while the machine was busy (a load average above ``IDLE_LOAD`` before a
run): other work stretches the wall time of every run. ``--shared`` publishes them anyway,
marked ``"shared": true`` with the load, and the docs then say the machine was shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from benchlib import (
    IDLE_LOAD,
    add_publish_options,
    commit,
    figures_target,
    is_kit_figures,
    publish,
    reference_time,
    run_step,
    settled_load,
)


def run_once(work: Path, preset: str, seed: int, settle: bool = False) -> dict:
    """Run `kws demo` in the fresh folder `work`; its wall and CPU seconds, phases and results."""
    work.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "kws.cli", "demo", "--preset", preset, "--out", "demo"]
    command += ["--seed", str(seed)]
    load = settled_load() if settle else os.getloadavg()[0]
    demo = run_step(command, what="kws demo", cwd=work)
    out = work / "demo"
    timings = json.loads((out / "timings.json").read_text())
    accuracies = {}
    for summary in sorted((out / "submission" / "outputs").glob("*_summary.json")):
        accuracies.update(json.loads(summary.read_text()))
    report = json.loads((out / "results.json").read_text())
    return {
        "load_before": round(load, 2),
        "wall_seconds": demo.wall_seconds,
        "cpu_seconds": demo.cpu_seconds,
        "phases": timings["phases"],
        "first_graded_seconds": timings["first_graded"],
        "accuracies": {name: round(value, 4) for name, value in accuracies.items()},
        "score": report["score"],
        "max_score": sum(test.get("max_score", 0) for test in report["tests"]),
    }


def summary(
    runs: list[dict], preset: str, seed: int, machine: dict | None = None, shared: bool = False
) -> dict:
    """The ``demo`` section: the medians of `runs`, each phase's too, the last run's results,
    and the `machine`'s reference time (`machine.reference_time`); `shared`: published from a
    machine with other work running (``--shared``)."""

    def median(values) -> float:
        return round(statistics.median(values), 1)

    phases = {
        name: {key: median(run["phases"][name][key] for run in runs) for key in ("wall", "cpu")}
        for name in runs[-1]["phases"]
    }
    load = max(run["load_before"] for run in runs)
    where = (
        f"a {os.cpu_count()}-core machine shared with other work (load average up to {load:g} "
        "before a run; the wall times are longer than on an idle machine)"
        if shared
        else f"a {os.cpu_count()}-core machine"
    )
    section = {
        "command": f"python benchmarks/bench_demo.py --preset {preset} --runs {len(runs)} "
        f"--publish{' --shared' if shared else ''}",
        "conditions": f"kws demo --preset {preset} --seed {seed} in a fresh folder, timed from "
        f"its start to its end (its whole process tree); median of {len(runs)} runs on {where}, "
        "whose reference time (benchmarks/machine.py) is measured before them; the accuracies "
        "and the score are on the synthetic data",
        "synthetic": True,
        "shared": shared,
        "preset": preset,
        "commit": commit(),
        "runs": len(runs),
        "load_before": load,
        "wall_seconds": round(statistics.median(run["wall_seconds"] for run in runs)),
        "cpu_seconds": round(statistics.median(run["cpu_seconds"] for run in runs)),
        "first_graded_seconds": median(run["first_graded_seconds"] for run in runs),
        "phases": phases,
        "accuracies": runs[-1]["accuracies"],
        "score": min(run["score"] for run in runs),
        "max_score": runs[-1]["max_score"],
    }
    if machine is not None:
        section["machine"] = machine
    return section


def busy(section: dict, idle_load: float = IDLE_LOAD) -> str:
    """Why `section` cannot be published as the demo's time on an idle machine ("" if it can)."""
    if section["load_before"] <= idle_load:
        return ""
    return (
        f"the machine was busy (load average {section['load_before']:g} before a run, idle is "
        f"at most {idle_load:g}): a contended wall time is not published as the demo's. Run "
        "again on an idle machine, keep these figures elsewhere with --figures FILE, or "
        "publish them marked as measured on a shared machine with --shared"
    )


def table(section: dict) -> str:
    """The section as the few lines the benchmark prints."""
    lines = [
        f"kws demo --preset {section['preset']} at {section['commit']}: "
        f"{section['wall_seconds']} s wall, {section['cpu_seconds']} CPU-s "
        f"(median of {section['runs']}; load average before a run up to {section['load_before']})",
        f"  the first notebook graded {section['first_graded_seconds']:.0f} s after the start",
    ]
    if "machine" in section:
        machine = section["machine"]
        lines.append(
            f"  the machine's reference time: {machine['reference_seconds']} s "
            f"({machine['cpu_model']}; benchmarks/machine.py)"
        )
    for name, phase in section["phases"].items():
        lines.append(f"  {name:<30} {phase['wall']:7.0f} s wall {phase['cpu']:7.0f} CPU-s")
    lines += [f"  {name:<30} {value:.4f}" for name, value in section["accuracies"].items()]
    lines.append(f"  {'grader score':<30} {section['score']:g} / {section['max_score']:g}")
    return "\n".join(lines) + "\n(accuracies on synthetic data)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small", help="the demo's data preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3, help="runs to take the median of")
    parser.add_argument("--work", type=Path, help="run the demo here (default: a temporary folder)")
    add_publish_options(parser, "demo")
    parser.add_argument(
        "--shared", action="store_true", help="publish from a busy machine, marked as shared"
    )
    parser.add_argument(
        "--reference-runs", type=int, default=3, help="runs of the machine's reference workload"
    )
    args = parser.parse_args(argv)
    machine = reference_time(args.reference_runs) if args.reference_runs > 0 else None
    if machine is not None:
        print(f"the machine's reference time: {machine['reference_seconds']} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="kws-bench-demo-") as temporary:
        work = (args.work or Path(temporary)).resolve()
        runs = []
        for number in range(1, args.runs + 1):
            # --publish waits for an idle machine before each run; --shared knows it is not
            settle = args.publish and not args.shared
            runs.append(run_once(work / f"run-{number}", args.preset, args.seed, settle))
            print(f"run {number}: {runs[-1]['wall_seconds']:.0f} s wall", flush=True)
    section = summary(runs, args.preset, args.seed, machine, shared=args.shared)
    print(table(section))
    target = figures_target(args)
    if is_kit_figures(target) and busy(section) and not args.shared:
        print(f"not published: {busy(section)}", file=sys.stderr)
        return 3
    if target is not None:
        print(f"published into {publish('demo', section, target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
