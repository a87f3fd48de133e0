"""The synthetic tiers from seeds: each reference notebook at `kws demo`'s budget, graded as the
demo grades it, once per seed, and again at a fraction of the budget.

    python benchmarks/bench_tiers.py --work /tmp/tiers --seeds 0 1 2 3 4 --fractions 1 0.1 --jobs 2
    python benchmarks/bench_tiers.py --work /tmp/tiers --device cuda --seeds 0 1 2 3 4 --jobs 4
    python benchmarks/bench_tiers.py --work /tmp/tiers --seeds --publish   # the summary, published

For every notebook, seed and fraction of the budget (1: the demo's ``[budgets.<preset>]``; 0.1:
each of its ``*_STEPS`` a tenth, at least one), it runs the solution notebook on the demo's
synthetic data (made once in WORK/data, with the demo's private test sets) with one torch thread
and ``KWS_SEED``/``KWS_DEVICE`` set, grades what it wrote exactly as ``kws demo`` does
(`kws.demo.grading.grade_notebook`, the grading child on the CPU or the GPU as the grader
decides), and records each graded task's accuracy, the notebook's score, and the run's CPU
seconds. Records merge into ``--out`` keyed by (device, notebook, seed, fraction), so a run
resumes where one stopped and the CPU's and a GPU's runs live side by side.

The summary, per task and device: the accuracy at the full budget over the seeds (lowest, mean,
highest) against the threshold of the tier that gives full marks (the margin is the lowest minus
the threshold), and the highest accuracy at each smaller fraction, which must stay below it
(a tier that a tenth of the budget reaches means nothing). The spec's tiers of
``synthetic-<preset>`` (``kws/assignments/*/spec.toml``) are set from it; ``--publish`` writes it
as the ``tiers`` section of ``kws/figures.json``, which the tiers page quotes. Figures on
synthetic data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchlib import add_publish_options, figures_target, publish
from demo_runs import run_reference
from tier_records import OUT, merge_records, read_records, record_key, spec_name


def scaled_budget(notebook: str, preset: str, fraction: float) -> dict[str, str]:
    """The settings of `preset`'s budget that count steps (``KWS_*STEPS``), times `fraction`."""
    from kws.demo.run import SPECS

    spec = next(spec for spec in SPECS if spec.notebook == notebook)
    return {
        key: str(max(1, round(float(value) * fraction)))
        for key, value in spec.budget(preset).items()
        if key.endswith("STEPS")
    }


def graded_accuracies(results: Path) -> tuple[dict[str, float], float, float, dict]:
    """Each accuracy test's task and accuracy in a grader's results.json, with its score, its
    highest score and the tier set of each assignment it graded."""
    from kws.grading.judge.tiers import accuracy_in

    document = json.loads(results.read_text())
    accuracies = {}
    for test in document["tests"]:
        accuracy = accuracy_in(test.get("output", ""))
        task = (test.get("extra_data") or {}).get("task")
        if accuracy is not None and task:
            accuracies[task] = accuracy
    maximum = sum(test.get("max_score", 0) for test in document["tests"])
    return accuracies, document["score"], maximum, document["extra_data"].get("tier_sets", {})


def run_job(job: dict) -> dict:
    """Run and grade one notebook at one seed and fraction; its record."""
    from kws.demo.grading import grade_notebook

    name = f"{Path(job['notebook']).stem}-seed{job['seed']}-x{job['fraction']}-{job['device']}"
    folder = job["work"] / "runs" / name
    env = {"KWS_DEVICE": job["device"]}
    env |= scaled_budget(job["notebook"], job["preset"], job["fraction"])
    record = run_reference(job["notebook"], job["data"], folder, job["preset"], job["seed"], env)
    start = time.monotonic()
    code, table = grade_notebook(folder, job["data"], folder / "results", job["notebook"])
    results = folder / "results" / f"{spec_name(job['notebook'])}.json"
    if not results.is_file():
        raise RuntimeError(f"the grader wrote no {results} (exit {code}):\n{table[-2000:]}")
    accuracies, score, maximum, tier_sets = graded_accuracies(results)
    return {
        "device": job["device"],
        "notebook": job["notebook"],
        "seed": job["seed"],
        "fraction": job["fraction"],
        "settings": env,
        "graded": accuracies,
        "tier_set": tier_sets.get(spec_name(job["notebook"])),
        "score": score,
        "max_score": maximum,
        "notebook_summary": record["accuracy"],
        "cpu": record["cpu"],
        "wall": record["wall"],
        "grading_wall": round(time.monotonic() - start, 1),
        "load": round(os.getloadavg()[0], 2),  # the machine's 1-minute load at the end
    }


def print_summary(rows: list[dict]) -> None:
    print("device notebook task target: lowest mean highest (seeds) | tier set: threshold, margin")
    for row in rows:
        margins = ", ".join(
            f"{name} {value:.4f} ({row['lowest'] - value:+.4f})"
            for name, value in row["thresholds"].items()
        )
        smaller = " ".join(f"x{f}: {v:.4f}" for f, v in row["fractions"].items())
        print(
            f"{row['device']} {row['notebook'][:2]} {row['task']} {row['target']}: "
            f"{row['lowest']:.4f} {row['mean']:.4f} {row['highest']:.4f} ({row['seeds']}) | "
            f"{margins} | {smaller}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="data and runs go here")
    parser.add_argument(
        "--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4], help="none: no runs"
    )
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.1])
    parser.add_argument("--notebooks", nargs="+", help="default: every assignment's notebook")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--device", default="cpu", help="KWS_DEVICE of the notebooks")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (1 thread each)")
    parser.add_argument("--out", type=Path, default=OUT, help="the records (JSON), merged")
    add_publish_options(parser, "tiers")
    args = parser.parse_args(argv)
    from kws.demo.run import NOTEBOOKS, make_data

    work = args.work.resolve()
    data = work / "data"
    done = {record_key(r) for r in read_records(args.out)}
    jobs = [
        dict(work=work, data=data, preset=args.preset, device=args.device, notebook=notebook,
             seed=seed, fraction=fraction)
        for fraction in args.fractions
        for seed in args.seeds
        for notebook in args.notebooks or NOTEBOOKS
        if (args.device, notebook, seed, fraction) not in done
    ]  # fmt: skip
    print(f"{len(jobs)} runs to do, {len(done)} recorded in {args.out}", flush=True)
    if jobs:
        make_data(data, args.preset, 0)
    with ThreadPoolExecutor(args.jobs) as pool:
        for record in pool.map(run_job, jobs):
            merge_records([record], args.out, args.preset)
            graded = " ".join(f"{k}={v:.4f}" for k, v in record["graded"].items())
            print(
                f"{record['device']} {record['notebook']} seed {record['seed']} "
                f"x{record['fraction']}: {graded}, {record['score']}/{record['max_score']} "
                f"({record['cpu']:.0f} CPU-s)",
                flush=True,
            )
    rows = merge_records([], args.out, args.preset)  # summarised against the specs' tiers of now
    print_summary(rows)
    print(f"(synthetic data; records in {args.out})")
    target = figures_target(args)
    if target is not None:
        written = publish("tiers", tiers_section(rows), target)
        print(f"published the summary into {written} (tiers)")
    return 0


def tiers_section(rows: list[dict]) -> dict:
    """The ``tiers`` section of the figures file: the summary rows, with how they were made."""
    return {
        "command": "python benchmarks/bench_tiers.py --work DIR --seeds 0 1 2 3 4 --jobs 2",
        "conditions": (
            "Each reference notebook at kws demo's small budget and at a tenth of it, once per "
            "seed, on the demo's synthetic data, graded by the kit's grader as the demo grades "
            "it (private test sets); one torch thread a run."
        ),
        "synthetic": True,
        "rows": rows,
    }


if __name__ == "__main__":
    sys.exit(main())
