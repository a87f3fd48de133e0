"""Where `kws demo`'s time goes: CPU seconds per notebook and per phase, cell by cell.

    python benchmarks/profile_demo.py --out /tmp/profile-demo            # as the demo runs them
    python benchmarks/profile_demo.py --out /tmp/p --data /tmp/p/data    # data made already

It makes the demo's synthetic data (timed), then runs the three reference notebooks side by side
with the demo's own environment (its budgets, one torch thread each), and reads each notebook
kernel's CPU time (its process and finished children, from /proc) before and after every cell.
Each cell is named by the phase it belongs to (PHASES below: data and feature caches, training
of each model, evaluation, the notebooks' extra models), so the record says where the CPU goes.

CPU seconds, not wall seconds: on a machine shared with other work the wall time of a cell grows
with the load, its CPU time much less. Linux only (/proc). The figures are on synthetic data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchlib import ROOT, cpu_seconds
from demo_runs import demo_settings

TICK = os.sysconf("SC_CLK_TCK")

# A cell's phase: the first rule whose text is in the cell's source (rules per notebook, then
# common ones); a cell no rule names is "other (self-checks, plots, prints)".
PHASES = {
    "01_keyword_spotting.ipynb": [
        ("crnn = build_model", "CRNN baseline (train + test)"),
        ("kws_history = train(", "KeywordTransformer training (+ validation)"),
        ("test = evaluate(model", "KeywordTransformer test + plots"),
        ("all_words = SpeechCommands", "data: read clips"),
        ("noises = load_background_noise", "data: 12-class split, cache"),
        ("test12 = SpeechCommands", "data: 12-class split, cache"),
    ],
    "02_speaker_id.ipynb": [
        ('train_task("baseline"', "HW4 sample model (train + test)"),
        ('train_task("task1"', "task1 training (+ validation, test)"),
        ('train_task("task2"', "task2 training (+ validation, test)"),
        ('train_task("task3"', "task3 training (+ validation, test)"),
        ("train_split = SpeakerFeatures", "data: features"),
    ],
    "03_patch_transformer.ipynb": [
        ("teacher = build_model", "CRNN teacher (train + test)"),
        ("distilled = Distillation(model", "PatchKWT distilled training (+ validation)"),
        ("plain = PatchKWT", "no-teacher twin (train + test)"),
        ("def head_accuracies", "PatchKWT test + plots"),
        ("def timed_steps", "patch-out speed measurement"),
        ("splits = {", "data: read clips, 12-class split, cache"),
    ],
}
COMMON = [
    ("prepare_", "data: prepare (link, checks)"),
    ("import json", "imports"),
    ("import importlib", "imports"),
    ("BUDGET = settings", "imports"),
]


def phase_of(notebook: str, source: str) -> str:
    """The phase a cell of `notebook` with `source` belongs to."""
    for text, phase in PHASES.get(notebook, []) + COMMON:
        if text in source:
            return phase
    return "other (self-checks, plots, prints)"


def process_cpu(pid: int) -> float:
    """CPU seconds of process `pid` and its children that ended (utime, stime, cutime, cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / TICK


def profile_notebook(path: Path, env: dict, log: Path | None = None) -> list[dict]:
    """Run the notebook at `path` (saving it there) and return one row per code cell: its index,
    phase, kernel CPU seconds and wall seconds; the first row is the kernel's start. Each row is
    also appended to `log` (JSON lines) as soon as its cell ends, for a run cut short."""
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    from kws.notebooks import _kernel_transport

    rows: list[dict] = []

    class Client(NotebookClient):
        def create_kernel_manager(self):  # as kws.notebooks.execute_notebook: no port races
            self.km = self.kernel_manager_class(
                kernel_name=self.kernel_name, config=self.config, **transport
            )
            return self.km

        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            pid = self.km.provisioner.process.pid
            if not rows:
                rows.append(dict(cell=-1, phase="kernel start", cpu=process_cpu(pid), wall=0.0))
            cpu, wall = process_cpu(pid), time.monotonic()
            try:
                return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
            finally:
                if cell.cell_type == "code":
                    rows.append(
                        dict(
                            cell=cell_index,
                            phase=phase_of(path.name, cell.source),
                            cpu=process_cpu(pid) - cpu,
                            wall=time.monotonic() - wall,
                        )
                    )
                    if log is not None:
                        with log.open("a") as lines:
                            lines.write(json.dumps({"notebook": path.name, **rows[-1]}) + "\n")

    notebook = nbformat.read(str(path), as_version=4)
    with tempfile.TemporaryDirectory(prefix="kws-kernel-") as sockets:
        transport = _kernel_transport(Path(sockets))
        client = Client(notebook, timeout=7200, kernel_name="python3")
        client.resources = {"metadata": {"path": str(path.parent.resolve())}}
        try:
            client.execute(env={**os.environ, **env})
        finally:
            nbformat.write(notebook, str(path))
    return rows


def by_phase(rows: list[dict]) -> dict[str, dict[str, float]]:
    """CPU and wall seconds summed per phase, in the order the phases first ran."""
    phases: dict[str, dict[str, float]] = {}
    for row in rows:
        total = phases.setdefault(row["phase"], {"cpu": 0.0, "wall": 0.0})
        total["cpu"] += row["cpu"]
        total["wall"] += row["wall"]
    return {name: {k: round(v, 1) for k, v in total.items()} for name, total in phases.items()}


def run(out: Path, data: Path | None, preset: str, seed: int) -> dict:
    """Make the data (unless `data` is given), profile the notebooks side by side; the record."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    from kws.demo import run as demo

    record: dict = {
        "preset": preset,
        "seed": seed,
        "synthetic": True,
        "load_before": os.getloadavg(),
    }
    if data is None:
        data = out / "data"
        start, cpu = time.monotonic(), cpu_seconds()  # this process and its workers
        demo.make_data(data, preset, seed)
        record["synthetic data"] = {
            "cpu": round(cpu_seconds() - cpu, 1),
            "wall": round(time.monotonic() - start, 1),
        }
    submission = out / "submission"
    submission.mkdir(parents=True, exist_ok=True)
    for name in demo.NOTEBOOKS:
        shutil.copy(ROOT / "solutions" / name, submission / name)

    def one(name: str) -> list[dict]:
        env = demo_settings(data, submission, name, preset, seed)
        return profile_notebook(submission / name, env, out / "cells.jsonl")

    start = time.monotonic()
    with ThreadPoolExecutor(len(demo.NOTEBOOKS)) as pool:
        cells = dict(zip(demo.NOTEBOOKS, pool.map(one, demo.NOTEBOOKS), strict=True))
    record["notebooks wall"] = round(time.monotonic() - start, 1)
    record["load_after"] = os.getloadavg()
    record["notebooks"] = {
        name: {"cpu": round(sum(r["cpu"] for r in rows), 1), "phases": by_phase(rows)}
        for name, rows in cells.items()
    }
    record["cells"] = cells
    return record


def table(record: dict) -> str:
    """The record as text: CPU seconds per notebook and per phase."""
    lines = []
    if "synthetic data" in record:
        lines.append(f"synthetic data: {record['synthetic data']['cpu']:.0f} CPU-s")
    for name, notebook in record["notebooks"].items():
        lines.append(f"{name}: {notebook['cpu']:.0f} CPU-s")
        for phase, total in notebook["phases"].items():
            lines.append(f"  {phase:<46} {total['cpu']:6.1f} CPU-s {total['wall']:6.0f} s wall")
    lines.append(f"notebooks side by side: {record['notebooks wall']:.0f} s wall")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="a folder for data and notebooks")
    parser.add_argument("--data", type=Path, help="synthetic data made already (not timed)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    record = run(args.out.resolve(), args.data and args.data.resolve(), args.preset, args.seed)
    (args.out / "profile.json").write_text(json.dumps(record, indent=1))
    print(table(record))
    print(f"(synthetic data; every cell's figures in {args.out / 'profile.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
