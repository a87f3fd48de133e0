"""How long `kws handin` takes a student on notebook 02: the reference solution executed on the
tiny synthetic data (the hand-in: its three tasks' models, configs and predictions), then
`kws handin` run on it `--repeat` times, each in a fresh process as a student runs it (the
grader's pytest and its grading child in the sandbox, with the grader's default threads). Prints
the wall time of each run and the median, with the machine's load; ``--publish`` keeps them as the
``handin`` section of ``kws/figures.json``, which the documentation quotes. Wall time is what a
student waits; the grading child's CPU time is not counted here (the sandbox's processes are not
this process's children), so a busy machine makes it longer.

    python benchmarks/bench_handin.py [--repeat 3] [--publish]

Every run must pass every check (exit code 0): a run that fails stops the benchmark.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from benchlib import (
    ROOT,
    add_publish_options,
    cores_and_load,
    figures_target,
    load_average,
    publish,
    run_step,
)

from kws.data.synthetic import make_speaker_features
from kws.notebooks import execute_notebook
from kws.spec import ASSIGNMENTS

NOTEBOOK = ASSIGNMENTS["speaker_id"].notebook


def _hand_in(root: Path) -> tuple[Path, Path]:
    """(the hand-in folder, the student's DATA_DIR): notebook 02 executed on the tiny data, the
    hidden labels removed from what the student has."""
    make_speaker_features(root / "data", "tiny", seed=0)
    shutil.rmtree(root / "data" / "speaker_features_hidden")
    folder, data = root / "handin", root / "data" / "speaker_features"
    folder.mkdir()
    shutil.copy(ROOT / "solutions" / NOTEBOOK, folder / NOTEBOOK)
    # a few steps: what kws handin checks takes as long for a model trained longer
    env = {"KWS_DATA_DIR": str(data), "KWS_OUT_DIR": str(folder / "outputs"), "KWS_STEPS": "4"}
    env |= {"KWS_BATCH_SIZE": "8", "KWS_VALID_EVERY": "2", "KWS_DEVICE": "cpu"}
    env |= {"MPLBACKEND": "Agg"}
    execute_notebook(folder / NOTEBOOK, env=env, timeout=1200, save_to=folder / NOTEBOOK)
    return folder, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of kws handin (median)")
    add_publish_options(parser, "handin")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kws-bench-handin-") as work:
        folder, data = _hand_in(Path(work))
        command = [sys.executable, "-m", "kws.cli", "handin", str(folder), "--data", str(data)]
        walls, loads = [], [load_average()]
        for run in range(args.repeat):
            walls.append(run_step(command, what="kws handin").wall_seconds)
            print(f"run {run + 1}: {walls[-1]:.1f} s wall")
            loads.append(load_average())
    wall = statistics.median(walls)
    print(f"kws handin on notebook 02: median {wall:.1f} s wall (load average "
          f"{min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores)")  # fmt: skip
    target = figures_target(args)
    if target is not None:
        figures = {
            "command": "python benchmarks/bench_handin.py --repeat 3 --publish",
            "conditions": f"kws handin on notebook 02's reference hand-in (the tiny synthetic "
            f"speaker features; its three tasks), a fresh process a run, median of "
            f"{args.repeat}, on {cores_and_load(loads)} (other work running beside it)",
            "synthetic": True,
            "notebook": NOTEBOOK,
            "repeat": args.repeat,
            "wall_seconds": round(wall, 1),
            "cores": os.cpu_count(),
            "load_average": [round(min(loads), 1), round(max(loads), 1)],
            "runs_wall_seconds": [round(w, 1) for w in walls],
        }
        print(f"published into {publish('handin', figures, target)}")


if __name__ == "__main__":
    main()
