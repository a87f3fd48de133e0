"""Clips per second of the device-side fast path against a per-item Dataset + DataLoader, same run.

Both pipelines do the same work per training clip: read it, pad it to one second, shift it by up
to ±100 ms, mix in background noise (p = 0.8, volume U(0, 0.1)) and compute 40 log-mel bins.

- per item (the usual student pipeline): a ``torch.utils.data.Dataset`` that reads one WAV with
  soundfile (``torchaudio.load`` needs torchcodec in torchaudio 2.9+), pads, shifts and adds noise
  with Python random numbers, applies ``torchaudio.transforms.MelSpectrogram`` and a log, and a
  ``DataLoader`` with ``--workers`` worker processes that collates batches;
- fast path: ``cache_clips`` (decoded once, int16, on disk) -> ``ClipBatches`` on ``--device`` with
  ``WaveAugment`` -> ``kws.data.features.LogMel`` on the same device.

The cache is built once into a fresh folder (its build time is reported), then loaded again from
disk (load time). Usage:

    python benchmarks/bench_data.py --preset small           # makes data/synthetic-small if missing
    python benchmarks/bench_data.py --root DATA/speech_commands_v0.02 --device cuda
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import soundfile
import torch
import torchaudio
from torch.utils.data import DataLoader, Dataset

from kws.data.augment import WaveAugment
from kws.data.batches import ClipBatches
from kws.data.cache import cache_clips, cache_noise
from kws.data.features import LogMel
from kws.data.speech_commands import SpeechCommands


class PerItemClips(Dataset):
    """One training clip at a time: read -> pad -> shift -> noise -> log-mel (40, 101)."""

    def __init__(self, dataset: SpeechCommands, noise_dir: Path):
        self.items = dataset.items
        self.noises = [
            torch.from_numpy(soundfile.read(p, dtype="float32")[0])
            for p in sorted(noise_dir.glob("*.wav"))
        ]
        self.mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=40)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        item = self.items[i]
        samples, _ = soundfile.read(item.path, dtype="float32", start=item.offset, frames=16000)
        wave = torch.from_numpy(samples) * item.gain
        wave = torch.nn.functional.pad(wave, (0, 16000 - len(wave)))  # (16000,)
        shift = random.randint(-1600, 1600)
        wave = torch.roll(wave, shift)
        if shift > 0:
            wave[:shift] = 0
        elif shift < 0:
            wave[shift:] = 0
        if random.random() < 0.8:
            noise = random.choice(self.noises)
            start = random.randint(0, len(noise) - 16000)
            wave = (wave + random.uniform(0, 0.1) * noise[start : start + 16000]).clamp(-1, 1)
        return torch.log(self.mel(wave) + 1e-6), item.label  # (40, 101)


def per_item_clips_per_second(dataset, noise_dir, batch_size, workers, batches) -> float:
    loader = DataLoader(
        PerItemClips(dataset, noise_dir),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        persistent_workers=workers > 0,
    )
    stream = iter(loader)
    next(stream)  # workers started and warm
    clips, start = 0, time.perf_counter()
    for _ in range(batches):
        try:
            features, labels = next(stream)
        except StopIteration:  # a new epoch (the persistent workers stay up)
            stream = iter(loader)
            features, labels = next(stream)
        clips += len(labels)
    assert features.shape == (batch_size, 40, 101)
    return clips / (time.perf_counter() - start)


def fast_path_clips_per_second(cache, noise, device, batch_size, batches) -> float:
    augment = WaveAugment(noise.recordings()).to(device)
    frontend = LogMel(n_mels=40).to(device)
    stream = ClipBatches(cache, batch_size, device, augment=augment, drop_last=True).forever()
    frontend(next(stream)[0])  # warm-up: first-call allocations
    _synchronize(device)
    clips, start = 0, time.perf_counter()
    for _ in range(batches):
        waves, _, labels = next(stream)
        features = frontend(waves)  # (B, 101, 40)
        clips += len(labels)
    _synchronize(device)
    assert features.shape == (batch_size, 101, 40)
    return clips / (time.perf_counter() - start)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--preset", choices=["tiny", "small", "full"], default="small")
    where.add_argument("--root", type=Path, help="an existing speech_commands_v0.02 folder")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="for --preset")
    parser.add_argument("--labels", default="35", choices=["35", "30", "12"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (per item)")
    parser.add_argument("--batches", type=int, default=20, help="batches timed per pipeline")
    args = parser.parse_args()

    root = args.root
    if root is None:
        parent = args.data_dir / f"synthetic-{args.preset}"
        root = parent / "speech_commands_v0.02"
        if not root.is_dir():
            from kws.data.synthetic import make_speech_commands

            print(f"making the {args.preset!r} synthetic Speech Commands in {parent} ...")
            make_speech_commands(parent, args.preset)
    device = torch.device(args.device)
    dataset = SpeechCommands(root, "training", labels=args.labels)
    noise_dir = root / "_background_noise_"
    print(f"{dataset}; batch {args.batch_size}; torch threads {torch.get_num_threads()}")

    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".bench-cache-") as folder:
        start = time.perf_counter()
        cache_clips(dataset, cache_dir=folder)
        build = time.perf_counter() - start
        start = time.perf_counter()
        cache = cache_clips(dataset, cache_dir=folder)
        load = time.perf_counter() - start
        noise = cache_noise(noise_dir, cache_dir=folder)
        fast = fast_path_clips_per_second(cache, noise, device, args.batch_size, args.batches)
        del cache
    slow = per_item_clips_per_second(
        dataset, noise_dir, args.batch_size, args.workers, args.batches
    )
    rows = [
        (
            "cache build (decode + save)",
            f"{build:8.2f} s",
            f"{len(dataset) / build:10,.0f} clips/s",
        ),
        ("cache load (memory-mapped)", f"{load:8.2f} s", ""),
        (f"per item, DataLoader x{args.workers}", "", f"{slow:10,.0f} clips/s"),
        (f"fast path on {device}", "", f"{fast:10,.0f} clips/s"),
        ("speed-up", "", f"{fast / slow:10.1f} x"),
    ]
    for name, seconds, rate in rows:
        print(f"{name:32s} {seconds:>10s} {rate:>18s}")


if __name__ == "__main__":
    main()
