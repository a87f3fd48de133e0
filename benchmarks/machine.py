"""The machine's reference time: a fixed workload on one thread, timed beside each published
figure, so that a reader can tell a slower machine from a slower kit.

    python benchmarks/machine.py          # this machine's reference time (median of 3 runs)

The workload is fixed and uses torch alone, never the kit: a small convolutional stem and two
``torch.nn.TransformerEncoderLayer`` trained with AdamW for `STEPS` steps on random batches from a
fixed seed, on one thread (``torch.set_num_threads(1)``), in a fresh process. It takes about 6 s on
the 2-core machine the figures were first measured on. A figure divided by the reference time of
the machine it was measured on compares across machines: when both grow by the same factor, the
machine is slower, not the kit. (The torch version changes it too; it is recorded with it.)

`reference_time` is what the benchmarks call (``bench_suite.py --publish``, ``bench_demo.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

STEPS = 150  # training steps of one run: about 6 s on one thread of the reference machine
SHAPE = (16, 98, 40)  # a batch: 16 clips, 98 frames, 40 mel bins (one second of audio)
WORKLOAD = (
    f"{STEPS} AdamW steps of a conv stem + 2 torch.nn.TransformerEncoderLayer (d_model 96, 4 "
    f"heads) on random batches of shape {SHAPE}, seed 0, one thread, in a fresh process"
)


def run_workload(steps: int = STEPS) -> tuple[float, float]:
    """Run the fixed workload on one thread in this process; its wall and CPU seconds."""
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    batch, frames, mels = SHAPE
    stem = nn.Sequential(nn.Conv1d(mels, 96, 3, stride=2, padding=1), nn.GELU())
    layer = lambda: nn.TransformerEncoderLayer(96, 4, 192, 0.1, batch_first=True)  # noqa: E731
    encoder = nn.Sequential(layer(), layer())
    head = nn.Linear(96, 12)
    parameters = [*stem.parameters(), *encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=1e-3)
    inputs = torch.randn(steps, batch, mels, frames)  # (S, B, F, T)
    labels = torch.randint(0, 12, (steps, batch))  # (S, B)
    start, cpu = time.perf_counter(), time.process_time()
    for step in range(steps):
        tokens = stem(inputs[step]).transpose(1, 2)  # (B, T', D)
        logits = head(encoder(tokens).mean(dim=1))  # (B, 12)
        loss = nn.functional.cross_entropy(logits, labels[step])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start, time.process_time() - cpu


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def reference_time(runs: int = 3) -> dict:
    """This machine's reference time: the workload run `runs` times, each in a fresh process.

    Returns:
        ``{"reference_seconds": median wall seconds, "reference_cpu_seconds": median CPU
        seconds (the same on an idle machine), "reference_runs": each run's wall, "workload":
        what ran, "torch": its version, "cpu_model": the processor, "cores": os.cpu_count(),
        "load_before": the 1-minute load average before the first run}``.
    """
    load = os.getloadavg()[0]
    seconds, cpu, version = [], [], ""
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, __file__, "--once"],
            capture_output=True,
            text=True,
            check=False,
            env=os.environ | {"OMP_NUM_THREADS": "1"},
        )
        if done.returncode != 0:  # e.g. a Python without torch: the benchmark's venv not active
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(
                f"benchmarks/machine.py: the reference workload failed under {sys.executable} "
                f"({last}); run the benchmark with the kit's venv active"
            )
        measured = json.loads(done.stdout)
        seconds.append(measured["seconds"])
        cpu.append(measured["cpu_seconds"])
        version = measured["torch"]
    return {
        "reference_seconds": round(statistics.median(seconds), 2),
        "reference_cpu_seconds": round(statistics.median(cpu), 2),
        "reference_runs": [round(value, 2) for value in seconds],
        "workload": WORKLOAD,
        "torch": version,
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "load_before": round(load, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs to take the median of")
    parser.add_argument("--once", action="store_true", help="one run here, as JSON (internal)")
    args = parser.parse_args(argv)
    if args.once:
        seconds, cpu = run_workload()
        import torch

        print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "torch": torch.__version__}))
        return 0
    measured = reference_time(args.runs)
    print(
        f"reference time {measured['reference_seconds']} s, {measured['reference_cpu_seconds']} "
        f"CPU-s (runs: {measured['reference_runs']}; "
        f"{measured['cpu_model']}, torch {measured['torch']}, load average before "
        f"{measured['load_before']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
