"""Batch iterators that run on the training device itself, with no DataLoader workers.

The whole split (a [`kws.data.cache.ClipCache`][] or [`kws.data.cache.FeatureCache`][]) is
moved to the device once; each step then picks rows with a random permutation, converts,
augments and crops them with a few tensor operations on that device. On a GPU nothing waits for
Python code per example; on a CPU the same code runs, and still outruns per-file loading
(``benchmarks/bench_data.py`` measures both).

Iterating gives one epoch of ``(x, lengths, labels)`` tuples; ``len()`` is the number of batches
per epoch; `forever` repeats epochs for step-based training; `indexed` also yields
the dataset index of every row (to put predictions of a shuffled or length-sorted pass back in
order). Random numbers come from a ``torch.Generator`` on the device seeded with ``seed``, so the
same seed gives the same batches.

Letters used in shapes: N examples, B batch, S samples, T frames, F mel bins.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

import torch

from kws.data.augment import WaveAugment
from kws.data.cache import ClipCache, FeatureCache
from kws.device import resolve_device

Batch = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]


class _DeviceBatches(ABC):
    """What both iterators share: the device, the generator, epoch length and iteration."""

    def __init__(
        self, size: int, batch_size: int, device: str | torch.device, seed: int, drop_last: bool
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.size, self.batch_size, self.drop_last = size, batch_size, drop_last
        self.device = resolve_device(device)  # "cuda" -> cuda:0: what its tensors report
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        full, rest = divmod(self.size, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[Batch]:
        for x, lengths, labels, _ in self.indexed():
            yield x, lengths, labels

    @abstractmethod
    def indexed(
        self,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]]:
        """One epoch of ``(x, lengths, labels, indices)``: ``indices`` (B,) int64 are the rows'
        positions in the cache."""

    def forever(self) -> Iterator[Batch]:
        """Epoch after epoch, without end (shuffled: a new order each epoch)."""
        while True:
            yield from self

    def _permutation(self, shuffle: bool) -> torch.Tensor:
        if shuffle:
            return torch.randperm(self.size, generator=self.generator, device=self.device)
        return torch.arange(self.size, device=self.device)


class ClipBatches(_DeviceBatches):
    """Batches of one-second clips from a [`kws.data.cache.ClipCache`][], on ``device``.

    Each batch: the int16 rows are gathered on the device, scaled to float32 (times each clip's
    gain) and, when ``augment`` is given, shifted and mixed with noise there too. Features are left
    to the model, which carries its own front-end.

    Args:
        cache: the decoded split ([`kws.data.cache.cache_clips`][]).
        batch_size: clips per batch B.
        device: where batches are made; the int16 clips are copied there once (pinned and
            asynchronous for CUDA). Call ``cache.to(device)`` first to share one copy between
            several iterators.
        shuffle: a new random order each epoch; else the cache's order.
        seed: seeds the order and the augmentation.
        augment: a [`kws.data.augment.WaveAugment`][] already on ``device`` (training only).
        drop_last: leave out the last, smaller batch of an epoch.

    Iterating yields batches ``(waves (B, S) float32, None, labels (B,) int64)``: every clip
    has S = 16000 samples, so there are no lengths.
    """

    def __init__(
        self,
        cache: ClipCache,
        batch_size: int,
        device: str | torch.device = "cpu",
        *,
        shuffle: bool = True,
        seed: int = 0,
        augment: WaveAugment | None = None,
        drop_last: bool = False,
    ):
        super().__init__(len(cache), batch_size, device, seed, drop_last)
        if augment is not None and augment.bank.device != self.device:
            raise ValueError(
                f"augment is on {augment.bank.device}, the batches on {self.device}: move it "
                f"there first, augment = augment.to({str(self.device)!r})"
            )
        on_device = cache.to(self.device)
        self.waves = on_device.waves  # (N, S) int16
        self.scales = on_device.gains / 32768  # (N,) int16 -> [-1, 1], times the gain
        self.labels = on_device.labels  # (N,)
        self.shuffle, self.augment = shuffle, augment

    def indexed(self) -> Iterator[tuple[torch.Tensor, None, torch.Tensor, torch.Tensor]]:
        order = self._permutation(self.shuffle)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]  # (B,)
            waves = self.waves[index].float().mul_(self.scales[index, None])  # (B, S)
            if self.augment is not None:
                waves = self.augment(waves, self.generator)
            yield waves, None, self.labels[index], index


class FeatureBatches(_DeviceBatches):
    """Batches of log-mel feature sequences from a [`kws.data.cache.FeatureCache`][].

    Training (``crop`` set): each utterance gives one random window of ``crop`` frames, cut on the
    device by a gather (utterances shorter than ``crop`` are taken whole and padded with
    ``pad_value``); x is always (B, crop, F). This is the HW4 recipe (128 frames, padding -20).

    Evaluation (``crop=None``): whole utterances. They are sorted by length and cut into batches in
    that order, so each batch is padded only to its own longest utterance; ``shuffle`` then only
    shuffles the order of these batches. `indexed` says where each row came from, to put
    predictions back in the cache's order.

    Args:
        cache: the decoded utterances ([`kws.data.cache.cache_features`][], or a ``subset``).
        batch_size: utterances per batch B.
        device: where batches are made; the frames are copied there once (use ``cache.to(device)``
            first to share them between a train and a valid iterator).
        crop: frames per training window, or None for whole utterances.
        shuffle: a new random order each epoch.
        seed: seeds the order and the crop positions.
        pad_value: value of padded frames (-20: the log of a tiny energy).
        drop_last: leave out the last, smaller batch of an epoch.

    Iterating yields batches ``(x (B, T, F) float32, lengths (B,) int64 valid frames, labels
    (B,) int64)``.
    """

    def __init__(
        self,
        cache: FeatureCache,
        batch_size: int,
        device: str | torch.device = "cpu",
        *,
        crop: int | None = 128,
        shuffle: bool = True,
        seed: int = 0,
        pad_value: float = -20.0,
        drop_last: bool = False,
    ):
        super().__init__(len(cache), batch_size, device, seed, drop_last)
        if crop is not None and crop < 1:
            raise ValueError(f"crop must be >= 1 frame, or None for whole utterances; got {crop}")
        if len(cache) and int(cache.lengths.min()) < 1:
            empty = int(cache.lengths.argmin())
            raise ValueError(
                f"utterance {empty} ({cache.feature_paths[empty]}) has no frames; "
                "remove it from the metadata"
            )
        on_device = cache.to(self.device)
        self.frames = on_device.frames  # (sum of T, F)
        self.offsets, self.lengths = on_device.offsets, on_device.lengths  # (N,), (N,)
        self.labels = on_device.labels  # (N,)
        self.crop, self.shuffle, self.pad_value = crop, shuffle, pad_value
        if crop is None:
            # Length-sorted buckets, planned on the CPU so that no step waits for the device.
            by_length = torch.sort(cache.lengths, stable=True).indices
            stop = len(self) * batch_size
            buckets = [by_length[i : min(i + batch_size, stop)] for i in range(0, stop, batch_size)]
            self.bucket_widths = [int(cache.lengths[bucket].max()) for bucket in buckets]
            self.buckets = [bucket.to(self.device) for bucket in buckets]

    def indexed(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        if self.crop is not None:
            order = self._permutation(self.shuffle)
            for start in range(0, len(self) * self.batch_size, self.batch_size):
                index = order[start : start + self.batch_size]  # (B,)
                yield self._crops(index)
            return
        batches = range(len(self.buckets))
        if self.shuffle:
            batches = torch.randperm(
                len(self.buckets), generator=self.generator, device=self.device
            ).tolist()
        for b in batches:
            index = self.buckets[b]  # (B,)
            starts = torch.zeros_like(index)
            yield self._gather(index, starts, self.bucket_widths[b])

    def _crops(self, index: torch.Tensor):
        lengths = self.lengths[index]  # (B,)
        room = (lengths - self.crop).clamp(min=0) + 1  # (B,) possible window starts
        u = torch.rand(
            len(index), generator=self.generator, device=self.device, dtype=torch.float64
        )
        starts = (u * room).long()  # (B,) uniform in [0, room)
        return self._gather(index, starts, self.crop)

    def _gather(self, index: torch.Tensor, starts: torch.Tensor, width: int):
        """Frames [start, start + width) of each utterance, padded past its end -> (B, width, F)."""
        lengths = (self.lengths[index] - starts).clamp(max=width)  # (B,) valid frames
        steps = torch.arange(width, device=self.device)  # (T,)
        # Past an utterance's end, read its last frame (then overwrite): never another utterance.
        within = torch.minimum(steps[None, :], lengths[:, None] - 1)  # (B, T)
        rows = self.offsets[index, None] + starts[:, None] + within  # (B, T)
        x = self.frames[rows].float()  # (B, T, F)
        padded = steps[None, :] >= lengths[:, None]  # (B, T) True = padding
        x = x.masked_fill(padded[:, :, None], self.pad_value)
        return x, lengths, self.labels[index], index
