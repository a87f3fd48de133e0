"""Distillation in notebook 03 from the teacher's stored outputs against the teacher in the loop.

    python benchmarks/bench_stored_teacher.py --data DIR [--preset small] [--jobs 2]

Notebook 03 distils its `PatchKWT` from a frozen CRNN. The notebook as it is (``solutions/``)
computes the teacher's logits once per training clip and reads them per batch; the notebook at
``IN_LOOP_COMMIT`` (the last one with the teacher in the loop) runs the teacher's forward on every
distillation batch. Both are executed whole, in a fresh kernel each, with `kws demo`'s settings
for ``--preset`` (the spec's ``[budgets.<preset>]``, one torch thread) on the synthetic data in
``--data`` (``kws synth speech-commands DIR --preset small``), side by side with ``--jobs 2``.
Everything else is the same: the batches, their augmentation, the seeds, the teacher (trained
first, 150 steps on `small`). The one difference in what is learnt: in the loop the teacher
answers on the clip as the student sees it, augmented (speed, shift, noise, level); stored, on
the clip as recorded.

For each it prints and writes (``--out``, ``results/stored_teacher.json`` by default) the
kernel's CPU seconds (the notebook's whole process tree, from ``os.wait4``), the wall seconds of
the distillation cell (``teacher_outputs`` included) and of the whole notebook, the test
accuracies of the notebook's summary, and the tier of the graded model on the preset's synthetic
tier set (``synthetic-<preset>`` of the spec's ``[tiers]``). Figures on **synthetic** data.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchlib import ROOT, run_step
from demo_runs import demo_settings

NOTEBOOK = "03_patch_transformer.ipynb"
IN_LOOP_COMMIT = "cff3702"  # main before the stored outputs: the teacher runs on every batch
GRADED = "PatchKWT (distilled)"  # the notebook summary's name for the graded model
RUN = (  # the notebook in a child process of its own, whose kernel's CPU run_step counts alone
    "import sys; from kws.notebooks import execute_notebook; "
    "execute_notebook(sys.argv[1], env=None, timeout=7200, save_to=sys.argv[1])"
)


def _notebook_source(variant: str) -> str:
    if variant == "stored":
        return (ROOT / "solutions" / NOTEBOOK).read_text(encoding="utf-8")
    return run_step(["git", "show", f"{IN_LOOP_COMMIT}:solutions/{NOTEBOOK}"], cwd=ROOT).stdout


def _cell_seconds(executed: dict, marker: str) -> float | None:
    """Wall seconds of the first code cell whose source holds `marker` (nbclient's timing)."""
    for cell in executed["cells"]:
        if cell["cell_type"] == "code" and marker in "".join(cell["source"]):
            timing = cell.get("metadata", {}).get("execution", {})
            start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
            if start and end:
                parse = datetime.datetime.fromisoformat
                return round((parse(end.rstrip("Z")) - parse(start.rstrip("Z"))).total_seconds(), 1)
    return None


def run_variant(variant: str, work: Path, data: Path, preset: str, seed: int) -> dict:
    """Execute notebook 03 (`variant`: "stored" or "in the loop") in `work`; its figures."""
    work.mkdir(parents=True, exist_ok=True)
    notebook = work / NOTEBOOK
    notebook.write_text(_notebook_source(variant), encoding="utf-8")
    env = {**os.environ, **demo_settings(data, work, NOTEBOOK, preset, seed)}
    command = [sys.executable, "-c", RUN, str(notebook)]
    run = run_step(command, what=f"notebook 03 ({variant}), see {notebook}", cwd=work, env=env,
                   capture=False)  # fmt: skip
    executed = json.loads(notebook.read_text(encoding="utf-8"))
    summary = json.loads((work / "outputs" / "patch_transformer_summary.json").read_text())
    return {
        "cpu_seconds": round(run.cpu_seconds, 1),
        "wall_seconds": round(run.wall_seconds, 1),
        "distillation_cell_wall_seconds": _cell_seconds(executed, "distilled = Distillation("),
        "teacher_cell_wall_seconds": _cell_seconds(executed, "teacher_history = train("),
        "accuracies": {name: round(value, 4) for name, value in summary.items()},
    }


def tier_of(accuracy: float, preset: str) -> tuple[str, dict]:
    """The highest tier of ``synthetic-<preset>`` that `accuracy` reaches ("none" below all)."""
    from kws.spec import ASSIGNMENTS

    spec = next(spec for spec in ASSIGNMENTS.values() if spec.notebook == NOTEBOOK)
    tiers = spec.tiers[f"synthetic-{preset}"]
    reached = [name for name, floor in tiers.items() if accuracy >= floor]
    return (reached[-1] if reached else "none"), tiers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the synthetic data's folder")
    parser.add_argument("--preset", default="small", help="the budget and tier set's preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="variants run side by side")
    parser.add_argument("--work", type=Path, help="run here (default: a temporary folder)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "stored_teacher.json"
    )
    args = parser.parse_args(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kws-bench-teacher-") as temporary:
        work = (args.work or Path(temporary)).resolve()
        variants = ("stored", "in the loop")
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = {
                v: pool.submit(
                    run_variant,
                    v,
                    work / v.replace(" ", "-"),
                    args.data.resolve(),
                    args.preset,
                    args.seed,
                )
                for v in variants
            }
            runs = {v: future.result() for v, future in futures.items()}
    for run in runs.values():
        run["tier"], tiers = tier_of(run["accuracies"][GRADED], args.preset)
    record = {
        "command": f"python benchmarks/bench_stored_teacher.py --data DIR --preset {args.preset} "
        f"--jobs {args.jobs}",
        "conditions": f"notebook 03 executed whole with kws demo's `{args.preset}` budget, one torch "
        f"thread, seed {args.seed}, on the synthetic `{args.preset}` data; {args.jobs} run(s) "
        f"side by side on a {os.cpu_count()}-core machine with a load average of "
        f"{load[0]:.1f} at the start (shared: wall seconds are contended, CPU seconds less so)",
        "synthetic": True,
        "in_the_loop_commit": IN_LOOP_COMMIT,
        "tiers": tiers,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    for variant, run in runs.items():
        accuracies = ", ".join(f"{k} {v:.4f}" for k, v in run["accuracies"].items())
        print(
            f"{variant:12s} {run['cpu_seconds']:7.1f} CPU-s, {run['wall_seconds']:6.0f} s wall "
            f"(distillation cell {run['distillation_cell_wall_seconds']} s); {accuracies}; "
            f"graded model's tier: {run['tier']}"
        )
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
