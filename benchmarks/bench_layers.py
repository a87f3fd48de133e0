"""Forward + backward time of the hand-written layers next to the libraries they imitate.

Compares, in one process and with the same weights:
- ``kws.models.TransformerEncoderLayer`` (fused attention path, and the explicit teaching path)
  against ``torch.nn.TransformerEncoderLayer(batch_first=True)``;
- a one-block ``kws.models.Conformer`` against ``torchaudio.models.Conformer``.

Every step runs in training mode (dropout 0.1, BatchNorm on batch statistics) on a float32 batch
whose examples have different lengths (so the padding masks are used), and does
``model(x).mean().backward()``. After a warm-up, ours and theirs alternate run by run (so a
machine that gets busier mid-way slows both alike) and the median of the timed runs is reported.

    python benchmarks/bench_layers.py            # CPU, and CUDA when one is present
    python benchmarks/bench_layers.py --quick    # fewer sizes and runs: a smoke test
    python benchmarks/bench_layers.py --device cuda --repeats 50

Not a test: the numbers depend on the machine. The goal is a ratio ours/theirs <= 1.15 on the fused
path.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchaudio

from kws.models.conformer import Conformer, load_torchaudio_state_dict
from kws.models.masks import lengths_to_mask
from kws.models.transformer import TransformerEncoderLayer

SIZES = [(32, 100, 256), (64, 128, 80), (16, 400, 256)]  # (B, T, D)
QUICK_SIZES = [(8, 50, 64), (16, 100, 80)]
NUM_HEADS = 4
KERNEL_SIZE = 31
DROPOUT = 0.1


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compare(
    steps: dict[str, Callable[[], None]], device: torch.device, warmup: int, repeats: int
) -> dict[str, float]:
    """Median milliseconds of each step, timed alternately after ``warmup`` untimed rounds."""
    for _ in range(warmup):
        for step in steps.values():
            step()
    _synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for i in range(repeats):
        for name in names[i % len(names) :] + names[: i % len(names)]:  # rotate who goes first
            start = time.perf_counter()
            steps[name]()
            _synchronize(device)
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in times.items()}


def _step(model: torch.nn.Module, run: Callable[[torch.nn.Module], torch.Tensor]):
    def step() -> None:
        model.zero_grad(set_to_none=True)
        run(model).mean().backward()

    return step


def _batch(B: int, T: int, D: int, device: torch.device):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, D, generator=generator).to(device)
    lengths = torch.randint(T * 3 // 4, T + 1, (B,), generator=generator)
    lengths[0] = T  # torchaudio sizes its mask by the longest example
    return x, lengths.to(device)


def encoder_layer_steps(B: int, T: int, D: int, device: torch.device) -> dict[str, Callable]:
    x, lengths = _batch(B, T, D, device)
    mask = lengths_to_mask(lengths, T)  # (B, T)
    theirs = torch.nn.TransformerEncoderLayer(D, NUM_HEADS, 2 * D, DROPOUT, batch_first=True)
    fused = TransformerEncoderLayer(D, NUM_HEADS, 2 * D, DROPOUT)
    explicit = TransformerEncoderLayer(D, NUM_HEADS, 2 * D, DROPOUT)
    explicit.self_attn.fused = False
    steps = {}
    for name, model in [("torch.nn", theirs), ("ours", fused), ("ours explicit", explicit)]:
        model.load_state_dict(theirs.state_dict())
        model.to(device).train()
        steps[name] = _step(model, lambda m: m(x, src_key_padding_mask=mask))
    return steps


def conformer_steps(B: int, T: int, D: int, device: torch.device) -> dict[str, Callable]:
    x, lengths = _batch(B, T, D, device)
    config = dict(
        input_dim=D,
        num_heads=NUM_HEADS,
        ffn_dim=2 * D,
        num_layers=1,
        depthwise_conv_kernel_size=KERNEL_SIZE,
        dropout=DROPOUT,
    )
    theirs = torchaudio.models.Conformer(**config).to(device).train()
    ours = Conformer(**config)
    load_torchaudio_state_dict(ours, theirs.state_dict())
    ours.to(device).train()
    return {
        "torchaudio": _step(theirs, lambda m: m(x, lengths)[0]),
        "ours": _step(ours, lambda m: m(x, lengths)[0]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few runs")
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per model")
    parser.add_argument("--warmup", type=int, default=None, help="untimed runs per model")
    args = parser.parse_args(argv)

    devices = [torch.device("cpu")] if args.device in ("all", "cpu") else []
    if args.device in ("all", "cuda"):
        if torch.cuda.is_available():
            devices.append(torch.device("cuda"))
        elif args.device == "cuda":
            raise SystemExit("--device cuda: no CUDA GPU is visible (torch.cuda.is_available())")
    sizes = QUICK_SIZES if args.quick else SIZES
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)

    print(
        f"torch {torch.__version__}, torchaudio {torchaudio.__version__}, "
        f"{torch.get_num_threads()} CPU threads; forward+backward, train mode, float32, "
        f"{NUM_HEADS} heads, feed-forward 2*D, Conformer kernel {KERNEL_SIZE}"
    )
    header = f"{'device':6} {'layer':14} {'B x T x D':>14} {'ours':>14} {'ms':>9} {'reference':>10} {'ms':>9} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for device in devices:
        default_repeats = 5 if args.quick else (15 if device.type == "cpu" else 50)
        repeats = args.repeats or default_repeats
        for B, T, D in sizes:
            size = f"{B}x{T}x{D}"
            for layer, make_steps, reference in [
                ("encoder layer", encoder_layer_steps, "torch.nn"),
                ("conformer", conformer_steps, "torchaudio"),
            ]:
                medians = compare(make_steps(B, T, D, device), device, warmup, repeats)
                for name, ms in medians.items():
                    if name == reference:
                        continue
                    print(
                        f"{device.type:6} {layer:14} {size:>14} {name:>14} {ms:9.2f} "
                        f"{reference:>10} {medians[reference]:9.2f} {ms / medians[reference]:6.2f}"
                    )


if __name__ == "__main__":
    main()
