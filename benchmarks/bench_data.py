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
import multiprocessing
import random
import tempfile
import time
from pathlib import Path

import soundfile
import torch
import torchaudio
from benchlib import cpu_seconds
from torch.utils.data import DataLoader, Dataset

from kws.data.augment import WaveAugment
from kws.data.batches import ClipBatches, FeatureBatches
from kws.data.cache import cache_clips, cache_features, cache_noise
from kws.data.features import LogMel
from kws.data.speaker_features import SpeakerFeatures, collate_features
from kws.data.speech_commands import SpeechCommands
from kws.device import resolve_device


class PerItemClips(Dataset):
    """One training clip at a time: read -> pad -> shift -> noise -> log-mel (40, 101)."""

    def __init__(self, dataset: SpeechCommands, noise_dir: Path, features: bool, counter=None):
        self.items, self.features, self.counter = dataset.items, features, counter
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
        if self.counter is not None:
            with self.counter.get_lock():
                self.counter.value += 1
        if not self.features:
            return wave, item.label  # (16000,)
        return torch.log(self.mel(wave) + 1e-6), item.label  # (40, 101)


def per_item(dataset, noise_dir, batch_size, workers, batches, features) -> tuple[float, float]:
    """(clips/s, CPU ms per clip) of the per-item pipeline, its worker processes included."""
    clips_made = multiprocessing.Value("l", 0)  # counted in the workers, prefetched clips too
    items = PerItemClips(dataset, noise_dir, features, clips_made)
    loader = DataLoader(items, batch_size, shuffle=True, num_workers=workers, drop_last=True)
    cpu = cpu_seconds()
    stream = iter(loader)
    next(stream)  # workers started and warm
    clips, start = 0, time.perf_counter()
    for _ in range(batches):
        try:
            x, labels = next(stream)
        except StopIteration:  # a new epoch
            stream = iter(loader)
            x, labels = next(stream)
        clips += len(labels)
    seconds = time.perf_counter() - start
    del stream  # shuts the workers down, so that their CPU time is counted
    assert x.shape == ((batch_size, 40, 101) if features else (batch_size, 16000))
    return clips / seconds, 1000 * (cpu_seconds() - cpu) / clips_made.value


def fast_path(cache, noise, device, batch_size, batches, features) -> tuple[float, float]:
    """(clips/s, CPU ms per clip) of the device-side path."""
    augment = WaveAugment(noise.recordings()).to(device)
    frontend = LogMel(n_mels=40).to(device) if features else torch.nn.Identity()
    stream = ClipBatches(cache, batch_size, device, augment=augment, drop_last=True).forever()
    frontend(next(stream)[0])  # warm-up: first-call allocations
    _synchronize(device)
    cpu, clips, start = cpu_seconds(), 0, time.perf_counter()
    for _ in range(batches):
        waves, _, labels = next(stream)
        x = frontend(waves)  # (B, 101, 40) log-mel, or the waves
        clips += len(labels)
    _synchronize(device)
    seconds = time.perf_counter() - start
    assert x.shape == ((batch_size, 101, 40) if features else (batch_size, 16000))
    return clips / seconds, 1000 * (cpu_seconds() - cpu) / clips


def speaker_batches_per_second(root, device, workers, batches) -> tuple[float, float]:
    """Training batches/s of HW4 features (32 random 128-frame crops): per item vs fast path."""
    dataset = SpeakerFeatures(root, "train")
    loader = DataLoader(
        dataset, 32, shuffle=True, num_workers=workers, collate_fn=collate_features, drop_last=True
    )
    with tempfile.TemporaryDirectory(dir=Path(root).parent, prefix=".bench-cache-") as folder:
        fast = FeatureBatches(cache_features(dataset, cache_dir=folder), 32, device, drop_last=True)
        rates = [_batches_per_second(loader, batches), _batches_per_second(fast, batches)]
    _synchronize(device)
    return rates[0], rates[1]


def _batches_per_second(batches, count: int) -> float:
    stream = iter(batches)
    next(stream)  # warm-up (workers started)
    start = time.perf_counter()
    for _ in range(count):
        try:
            x, lengths, labels = next(stream)
        except StopIteration:  # a new epoch
            stream = iter(batches)
            x, lengths, labels = next(stream)
    labels.sum().item()  # wait for the device
    return count / (time.perf_counter() - start)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--preset", choices=["tiny", "small", "full"], default="small")
    where.add_argument("--root", type=Path, help="an existing speech_commands_v0.02 folder")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="for --preset")
    parser.add_argument(
        "--speaker-root", type=Path, help="also time HW4 feature batches from this folder"
    )
    parser.add_argument("--labels", default="35", choices=["35", "30", "12"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the fast path")
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
    device = resolve_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)  # workers of the per-item loader use 1 thread each
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
        fast = {
            features: fast_path(cache, noise, device, args.batch_size, args.batches, features)
            for features in (True, False)
        }
        del cache
    slow = {
        features: per_item(
            dataset, noise_dir, args.batch_size, args.workers, args.batches, features
        )
        for features in (True, False)
    }
    print(f"{'':34s} {'clips/s':>10s} {'CPU ms/clip':>12s}")
    print(f"{'cache build (decode + save)':34s} {len(dataset) / build:10,.0f}   ({build:.2f} s)")
    print(f"{'cache load (memory-mapped)':34s} {'':10s}   ({load:.2f} s)")
    for features, what in ((True, "augment + log-mel"), (False, "augment only")):
        for name, (rate, cpu) in (
            (f"per item, {args.workers} workers", slow[features]),
            (f"fast path, {device}", fast[features]),
        ):
            print(f"{what + ': ' + name:34s} {rate:10,.0f} {cpu:12.3f}")
        speed = fast[features][0] / slow[features][0]
        cpu = slow[features][1] / fast[features][1]
        print(f"{what + ': fast / per item':34s} {speed:9.1f}x {cpu:11.1f}x")
    if args.speaker_root is not None:
        slow_sf, fast_sf = speaker_batches_per_second(
            args.speaker_root, device, args.workers, 10 * args.batches
        )
        print(
            f"HW4 batches of 32 x 128 frames:    per item, {args.workers} workers {slow_sf:8,.0f}/s"
        )
        print(f"{'':34s} fast path, {device} {fast_sf:14,.0f}/s   {fast_sf / slow_sf:.1f}x")


if __name__ == "__main__":
    main()
