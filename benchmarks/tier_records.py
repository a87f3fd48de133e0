"""The records of ``bench_tiers.py`` (``results/tiers_synthetic_small.json``): each run of a
reference notebook at a seed and a fraction of ``kws demo``'s budget, graded, keyed by (device,
notebook, seed, fraction), and their summary per device and task against the specs' tiers.

``bench_tiers.py`` merges its runs in as they end; ``gpu_check.py --publish`` merges a GPU
check's runs.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "tiers_synthetic_small.json"


def spec_name(notebook: str) -> str:
    """The name of the assignment whose notebook `notebook` is."""
    from kws.demo.run import SPECS

    return next(spec.name for spec in SPECS if spec.notebook == notebook)


def record_key(record: dict) -> tuple:
    """What a record is of: (device, notebook, seed, fraction)."""
    return record["device"], record["notebook"], record["seed"], record["fraction"]


def summarize(records: list[dict], preset: str) -> list[dict]:
    """Per device and task: the full budget's accuracies over the seeds against the target
    tier's threshold, and the best accuracy at each smaller fraction."""
    from kws.demo.run import SPECS

    rows = []
    for device in sorted({r["device"] for r in records}):
        for spec in SPECS:
            mine = [r for r in records if r["device"] == device and r["notebook"] == spec.notebook]
            for task in (t for t in spec.tasks.values() if t.target):
                # a run whose accuracy test gave none (a crash) counts as 0
                full = [r["graded"].get(task.name, 0.0) for r in mine if r["fraction"] == 1.0]
                if not full:
                    continue
                tier_sets = sorted({r["tier_set"] for r in mine} - {None})
                rows.append(
                    {
                        "device": device,
                        "notebook": spec.notebook,
                        "task": task.name,
                        "target": task.target,
                        "thresholds": {n: spec.tiers[n][task.target] for n in tier_sets},
                        "seeds": len(full),
                        "lowest": min(full),
                        "mean": statistics.fmean(full),
                        "sd": statistics.stdev(full) if len(full) > 1 else 0.0,
                        "highest": max(full),
                        "fractions": {
                            str(f): max(
                                r["graded"].get(task.name, 0.0) for r in mine if r["fraction"] == f
                            )
                            for f in sorted({r["fraction"] for r in mine} - {1.0})
                        },
                        # against the specs' tiers of now (a run's score is as graded then)
                        "every_seed_reaches_target": all(
                            accuracy >= spec.tiers[name][task.target]
                            for accuracy in full
                            for name in tier_sets
                        ),
                    }
                )
    return rows


def read_records(path: Path) -> list[dict]:
    """The runs recorded in `path` (none when it does not exist)."""
    return json.loads(path.read_text())["runs"] if path.is_file() else []


def merge_records(records: list[dict], path: Path, preset: str = "small") -> list[dict]:
    """`records` into `path`, replacing the runs of the same (device, notebook, seed,
    fraction), with the summary of them all (returned); written whole."""
    keys = {record_key(record) for record in records}
    runs = sorted(
        [r for r in read_records(path) if record_key(r) not in keys] + records, key=record_key
    )
    document = {"preset": preset, "runs": runs, "summary": summarize(runs, preset)}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=1) + "\n")
    partial.replace(path)
    return document["summary"]
