"""Training throughput of the reference models through ``kws.training.fit`` and the device-side batches.

Two workloads, each a full training step (cut the batch on the device, augment, front-end, forward,
backward, clip, AdamW, schedule) exactly as ``fit`` runs it:
- keyword spotting: a KWT-style model (``kwt1`` by default) on one-second clips with time shift and
  background noise (``ClipBatches`` + ``WaveAugment``), MFCC front-end and SpecAugment in the model;
- speaker ID: the speaker Conformer at the HW4 batch size 32 on random 128-frame crops
  (``FeatureBatches``).

Variants: eager or ``torch.compile``, and the fused attention path
(``scaled_dot_product_attention``) or the explicit teaching path (QKᵀ/√d, softmax, ·V). After
``--warmup`` untimed steps (compilation happens there) the clock runs for ``--steps`` steps. It
prints steps/s, clips/s, the time of one Speech Commands v0.02 training epoch (84,843 clips) and of
the HW4 sample budget (70,000 steps x 32), both extrapolated from the measured rate.

Data: ``--kws-root`` / ``--speaker-root`` point at a dataset (e.g. the synthetic ``full`` presets);
``--synthetic-tensors`` uses random tensors of the same shapes instead (the speed of a step does
not depend on what the samples say).

    python benchmarks/bench_train.py --synthetic-tensors                     # CUDA when present
    python benchmarks/bench_train.py --synthetic-tensors --device cpu --quick  # a CPU smoke run
    python benchmarks/bench_train.py --kws-root data/full/speech_commands_v0.02 \\
        --speaker-root data/full/speaker_features

Not a test: the numbers depend on the machine. Goals on one H100: an epoch in <= 1 s, the HW4
budget in <= 2 min.
"""

import argparse
import functools
import time

import torch

from kws.data.augment import WaveAugment
from kws.data.batches import ClipBatches, FeatureBatches
from kws.data.cache import ClipCache, FeatureCache
from kws.models import MultiHeadSelfAttention, build_model
from kws.params import count_parameters, format_count
from kws.training import fit, resolve_device

EPOCH_CLIPS = 84_843  # Speech Commands v0.02 training split
HW4_STEPS, HW4_BATCH, HW4_CROP = 70_000, 32, 128
VARIANTS = ("eager-fused", "eager-explicit", "compile-fused", "compile-explicit")


def synthetic_clip_cache(n_clips: int, n_classes: int, seed: int = 0) -> ClipCache:
    """Random int16 clips (N, 16000) standing in for a decoded Speech Commands split."""
    g = torch.Generator().manual_seed(seed)
    waves = (torch.randn(n_clips, 16000, generator=g) * 3000).clamp_(-32768, 32767)
    return ClipCache(
        waves=waves.to(torch.int16),
        gains=torch.ones(n_clips),
        labels=torch.randint(0, n_classes, (n_clips,), generator=g),
        speakers=torch.zeros(n_clips, dtype=torch.int64),
        classes=tuple(f"class{i}" for i in range(n_classes)),
        speaker_names=("speaker",),
    )


def synthetic_feature_cache(n_utterances: int, n_classes: int, seed: int = 0) -> FeatureCache:
    """Random 40-mel utterances of 100-700 frames standing in for the HW4 training features."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(100, 700, (n_utterances,), generator=g)
    return FeatureCache(
        frames=torch.randn(int(lengths.sum()), 40, generator=g),
        offsets=torch.cumsum(lengths, 0) - lengths,
        lengths=lengths,
        labels=torch.randint(0, n_classes, (n_utterances,), generator=g),
        feature_paths=tuple(f"uttr-{i}.pt" for i in range(n_utterances)),
        speaker_names=tuple(f"id{i:05d}" for i in range(n_classes)),
    )


def kws_batches(args, device: torch.device) -> tuple[ClipBatches, int]:
    if args.kws_root:
        from kws.data import SpeechCommands, load_background_noise
        from kws.data.cache import cache_clips

        dataset = SpeechCommands(args.kws_root, "training", labels="35")
        cache, noise = cache_clips(dataset), load_background_noise(args.kws_root)
        n_classes = len(dataset.classes)
    else:
        n_clips = args.clips or (EPOCH_CLIPS if device.type == "cuda" else 4096)
        cache, n_classes = synthetic_clip_cache(n_clips, 35), 35
        noise = [torch.randn(60 * 16000) * 0.3 for _ in range(6)]
    augment = WaveAugment(noise).to(device)
    batches = ClipBatches(cache, args.kws_batch, device, augment=augment, drop_last=True)
    return batches, n_classes


def speaker_batches(args, device: torch.device) -> tuple[FeatureBatches, int]:
    if args.speaker_root:
        from kws.data.cache import cache_features

        cache = cache_features(args.speaker_root, "train")
    else:
        cache = synthetic_feature_cache(args.utterances, 600)
    batches = FeatureBatches(cache, HW4_BATCH, device, crop=HW4_CROP, drop_last=True)
    return batches, len(cache.speaker_names)


class Timed:
    """Yields ``batches`` without end; when batch ``warmup`` is drawn, waits for the device and
    starts the clock (so compilation and the first slow steps are not timed)."""

    def __init__(self, batches, warmup: int, device: torch.device):
        self.batches, self.warmup, self.device = batches, warmup, device
        self.start = self.cpu_start = None

    def __iter__(self):
        for i, batch in enumerate(self.batches.forever()):
            if i == self.warmup:
                synchronize(self.device)
                self.start, self.cpu_start = time.perf_counter(), time.process_time()
            yield batch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(model, batches, variant: str, args, device: torch.device) -> dict:
    """Train ``model`` for warmup + steps steps with ``fit``; the rate of the timed steps."""
    for module in model.modules():
        if isinstance(module, MultiHeadSelfAttention):
            module.fused = variant.endswith("fused")
    timed = Timed(batches, args.warmup, device)
    total = args.warmup + args.steps
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    fit(
        model,
        timed,
        steps=total,
        eval_every=total,
        lr=1e-3,
        device=device,
        progress=False,
        compile=variant.startswith("compile"),
    )
    synchronize(device)
    seconds = time.perf_counter() - timed.start
    cpu_share = (time.process_time() - timed.cpu_start) / seconds  # < threads: a busy machine
    steps_per_s = args.steps / seconds
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    clips_per_s = steps_per_s * batches.batch_size
    return {"steps_s": steps_per_s, "clips_s": clips_per_s, "gib": memory, "cpu": cpu_share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--workloads", default="kws,speaker")
    parser.add_argument("--kws-model", default="kwt1")
    parser.add_argument("--kws-batch", type=int, default=512, help="the KWT recipe's batch size")
    parser.add_argument("--kws-root", help="a Speech Commands v0.02 folder (else random tensors)")
    parser.add_argument("--speaker-root", help="an HW4 speaker_features folder")
    parser.add_argument(
        "--synthetic-tensors",
        action="store_true",
        help="random tensors of the real shapes (the default without --*-root)",
    )
    parser.add_argument("--clips", type=int, help="random clips to hold (default 84,843 on CUDA)")
    parser.add_argument("--utterances", type=int, default=2000, help="random utterances to hold")
    parser.add_argument(
        "--quick", action="store_true", help="5 + 1 steps, KWS batch 64, eager only: a smoke run"
    )
    args = parser.parse_args()
    if args.synthetic_tensors and (args.kws_root or args.speaker_root):
        parser.error("--synthetic-tensors and --kws-root/--speaker-root exclude each other")
    if args.quick:
        args.steps, args.warmup, args.kws_batch = 5, 1, 64
        args.variants = "eager-fused,eager-explicit"
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads")

    workloads = {  # name -> (batches, model preset)
        "kws": (kws_batches, args.kws_model),
        "speaker": (speaker_batches, "speaker_conformer"),
    }
    rows = []
    for workload in args.workloads.split(","):
        if workload not in workloads:
            parser.error(f"unknown workload {workload!r}; choose from {', '.join(workloads)}")
        make_batches, model_name = workloads[workload]
        batches, n_classes = make_batches(args, device)
        build = functools.partial(build_model, model_name, n_classes=n_classes)
        print(
            f"{workload}: {model_name} ({format_count(count_parameters(build()))} parameters), "
            f"batch {batches.batch_size}, {len(batches) * batches.batch_size} examples held"
        )
        for variant in variants:
            torch.manual_seed(0)
            result = measure(build(), batches, variant, args, device)
            rows.append((workload, model_name, variant, result))
            print(
                f"  {variant:<17} {result['steps_s']:8.2f} steps/s {result['clips_s']:10.0f} clips/s"
            )

    print()
    print(
        f"{'workload':<8} {'model':<18} {'variant':<17} {'steps/s':>8} {'clips/s':>9} "
        f"{'epoch 84,843':>12} {'HW4 70k x 32':>12} {'peak GiB':>8} {'CPU use':>7}"
    )
    for workload, model_name, variant, r in rows:
        epoch = EPOCH_CLIPS / r["clips_s"]
        hw4 = HW4_STEPS / r["steps_s"]
        print(
            f"{workload:<8} {model_name:<18} {variant:<17} {r['steps_s']:8.2f} {r['clips_s']:9.0f} "
            f"{epoch:11.1f}s {hw4 / 60:10.1f}min {r['gib']:8.2f} {r['cpu']:7.2f}"
        )
    print(
        "epoch = 84,843 / clips per s (meaningful for kws); HW4 = 70,000 / steps per s "
        "(meaningful for speaker); CPU use = process CPU seconds per second (below the thread "
        "count when the machine is shared)"
    )


if __name__ == "__main__":
    main()
