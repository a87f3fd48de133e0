"""The learning curve behind `kws demo`'s budgets: the fewest steps that keep the tiers.

    python benchmarks/demo_budgets.py --data DIR --work DIR --notebook 02_speaker_id.ipynb \\
        --set KWS_STEPS=250,350,500 [--seeds 0 1] [--also KWS_BASELINE_STEPS=50]

It runs one reference notebook on the demo's synthetic data once per value of the setting (and per
seed), one torch thread, in turn, with the rest of the demo's preset unchanged, and prints each
model's test accuracy (the notebook's own ``outputs/<assignment>_summary.json``) beside the
synthetic-small tier its accuracy test needs for full marks, and the run's CPU seconds. The demo's
budgets in ``kws/assignments/<name>/spec.toml`` ([budgets.small]) cite these runs. Figures on
synthetic data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from demo_runs import run_reference


def targets(notebook: str) -> dict[str, tuple[str, float]]:
    """Each graded task's tier for full marks on synthetic-small: {task: (tier, accuracy)}."""
    from kws.demo import run as demo

    spec = next(spec for spec in demo.SPECS if spec.notebook == notebook)
    tiers = spec.tiers["synthetic-small"]
    graded = (task for task in spec.tasks.values() if task.target)
    return {task.name: (task.target, tiers[task.target]) for task in graded}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the demo's synthetic data")
    parser.add_argument("--work", type=Path, required=True, help="a folder for the runs")
    parser.add_argument("--notebook", required=True, help="e.g. 02_speaker_id.ipynb")
    parser.add_argument("--set", required=True, help="NAME=V1,V2,...: the setting to vary")
    parser.add_argument("--also", action="append", default=[], help="NAME=VALUE, every run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--preset", default="small")
    args = parser.parse_args(argv)
    name, values = args.set.split("=", 1)
    fixed = dict(item.split("=", 1) for item in args.also)
    print(f"full marks on synthetic-small: {targets(args.notebook)}", flush=True)
    records = []
    for value in values.split(","):
        for seed in args.seeds:
            env = {**fixed, name: value}
            folder = args.work.resolve() / f"{name}={value}-seed{seed}"
            record = run_reference(
                args.notebook, args.data.resolve(), folder, args.preset, seed, env
            )
            records.append(record)
            accuracies = " ".join(f"{k}={v:.4f}" for k, v in record["accuracy"].items())
            print(
                f"{name}={value} seed {seed}: {accuracies} ({record['cpu']:.0f} CPU-s)", flush=True
            )
    out = args.work / f"budgets-{Path(args.notebook).stem}.json"
    out.write_text(json.dumps({"load": os.getloadavg(), "runs": records}, indent=1))
    print(f"(synthetic data; records in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
