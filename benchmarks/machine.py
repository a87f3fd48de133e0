"""The machine's reference time: a fixed workload on one thread, timed beside each published
figure, so that a reader can tell a slower machine from a slower kit.

    python benchmarks/machine.py          # this machine's reference time (median of 3 runs)

The workload is fixed and uses torch alone, never the kit: a small convolutional stem and two
``torch.nn.TransformerEncoderLayer`` trained with AdamW for `STEPS` steps on random batches from a
fixed seed, on one thread (``torch.set_num_threads(1)``), in a fresh process. It takes about 6 s on
the 2-core machine the figures were first measured on. A figure divided by the reference time of
the machine it was measured on compares across machines: when both grow by the same factor, the
machine is slower, not the kit. (The torch version changes it too; it is recorded with it.)

``benchlib.reference_time`` runs it in fresh processes for the benchmarks (``bench_suite.py``,
``bench_demo.py``) and for this script.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from benchlib import reference_time

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs to take the median of")
    parser.add_argument("--once", action="store_true", help="one run here, as JSON (internal)")
    args = parser.parse_args(argv)
    if args.once:
        seconds, cpu = run_workload()
        import torch

        workload = {"workload": WORKLOAD, "torch": torch.__version__}
        print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, **workload}))
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
