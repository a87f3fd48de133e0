"""Unlabelled test inputs: written by the grader, read by the child that runs a student's model.

The file holds no labels, no file names and no telling order (a fresh secret order each run), as
``waves`` (int16 clips (N, S) with a gain each: clip i is ``waves[i] * gains[i] / 32768``, as
`ClipCache` stores it) or ``features`` (float32 frames end to end, (sum of T, F); batches padded
with -20). Neither side holds the whole set in memory, and nothing is unpickled::

    MAGIC | rows, item after item (native byte order) | header JSON | its length (u64)

The header (kind, width, per item its first row, row count and gain) comes last: it is only
complete once every item is written. Values are stored exactly, bit for bit.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

FEATURE_PAD = -20.0
MAGIC = b"KWS-INPUTS 2\n"
_DTYPES = {"waves": np.dtype(np.int16), "features": np.dtype(np.float32)}  # as stored
_TAIL = struct.Struct("<Q")  # the header's length in bytes
_CHUNK = 256  # items gathered per write when the source is one tensor


@dataclass(frozen=True)
class GradingInputs:
    """Test inputs of one kind, read from `path` batch by batch.

    Attributes:
        kind: "waves" or "features".
        path: the inputs file (absolute: a model cell may change directory).
        offsets: (N,) int64 first row of each item in the file's rows.
        lengths: (N,) int64 rows of each item (1 for a clip, its frames T for an utterance).
        gains: (N,) float32 gain of each clip (ones for features).
        width: values per row (S samples for a clip, F mel bins for an utterance).
    """

    kind: str
    path: Path
    offsets: torch.Tensor
    lengths: torch.Tensor
    gains: torch.Tensor
    width: int

    def __len__(self) -> int:
        return len(self.lengths)

    def _rows(self, file, item: int) -> torch.Tensor:
        """Item `item`'s rows (lengths[item], width) as stored."""
        import torch

        row_bytes = self.width * _DTYPES[self.kind].itemsize
        count = int(self.lengths[item])
        file.seek(len(MAGIC) + int(self.offsets[item]) * row_bytes)
        raw = bytearray(count * row_bytes)
        if file.readinto(raw) != len(raw):
            raise ValueError(f"{self.path} ends inside item {item}: the inputs file is truncated")
        dtype = torch.int16 if self.kind == "waves" else torch.float32
        return torch.frombuffer(raw, dtype=dtype).view(count, self.width)

    def batch(self, indices: torch.Tensor, device: str = "cpu") -> tuple[torch.Tensor, ...]:
        """Model arguments for items `indices`: (waves (B, S),) or (x (B, T, F), lengths (B,))."""
        import torch

        with open(self.path, "rb") as file:
            if self.kind == "waves":
                waves = torch.cat([self._rows(file, i) for i in indices.tolist()])  # (B, S)
                waves = waves.float() * (self.gains[indices, None] / 32768)
                return (waves.to(device),)  # (B, S)
            lengths = self.lengths[indices]
            x = torch.full((len(indices), int(lengths.max()), self.width), FEATURE_PAD)
            for row, i in enumerate(indices.tolist()):
                x[row, : int(lengths[row])] = self._rows(file, i)
        return x.to(device), lengths.to(device)  # (B, T, F), (B,)

    def index_batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """The indices of every item once, `batch_size` at a time; features grouped by length."""
        import torch

        order = torch.arange(len(self))
        if self.kind == "features":
            order = torch.argsort(self.lengths, stable=True)  # less padding
        yield from torch.split(order, batch_size)

    def example(self, count: int = 2, max_frames: int = 160) -> tuple[torch.Tensor, ...]:
        """A small batch for tracing: `count` items of distinct lengths, cut to `max_frames`."""
        import torch

        indices = torch.arange(min(count, len(self)))
        if self.kind == "waves":
            return self.batch(indices)
        x, lengths = self.batch(indices)
        lengths = lengths.clamp(max=max_frames)
        lengths[1:] = torch.minimum(lengths[1:], (lengths[0] - 1).clamp(min=1))  # distinct lengths
        return x[:, : int(lengths.max())].contiguous(), lengths  # (B, T, F), (B,)


def _write(
    path: Path, kind: str, items: Iterable[np.ndarray], gains: list[float] | None = None
) -> None:
    """Write `items` (each (rows, width) of the kind's dtype: numpy arrays, or anything
    ``numpy.asarray`` takes, such as a CPU tensor) end to end, then the header."""
    dtype = _DTYPES[kind]
    offsets, lengths, width, row = [], [], None, 0
    with open(path, "wb") as file:
        file.write(MAGIC)
        for number, item in enumerate(items):
            item = np.asarray(item)
            if item.dtype != dtype or item.ndim != 2 or width not in (None, item.shape[1]):
                raise ValueError(
                    f"{kind} item {number}: expected {dtype} (rows, {width or 'width'}), got "
                    f"{item.dtype} {tuple(item.shape)}"
                )
            width = item.shape[1]
            file.write(np.ascontiguousarray(item).tobytes())
            offsets.append(row)
            lengths.append(len(item))
            row += len(item)
        if gains is not None and len(gains) != len(lengths):
            raise ValueError(f"{len(gains)} gains for {len(lengths)} {kind} items")
        header = {"kind": kind, "width": width or 0, "offsets": offsets, "lengths": lengths}
        header["gains"] = [1.0] * len(lengths) if gains is None else gains
        encoded = json.dumps(header).encode()
        file.write(encoded + _TAIL.pack(len(encoded)))


def save_wave_inputs(path: Path, waves, gains, order=None) -> None:
    """Write keyword-spotting inputs: clips ``waves[order]`` (int16 (N, S)) with ``gains[order]``
    (numpy arrays, or CPU tensors).

    The clips are gathered a few hundred at a time, so a memory-mapped cache is never copied
    whole into memory.
    """
    waves, gains = np.asarray(waves), np.asarray(gains)
    if waves.dtype != np.int16 or waves.ndim != 2 or gains.shape != (len(waves),):
        raise ValueError(
            f"expected int16 waves (N, S) and gains (N,), got {waves.dtype} {tuple(waves.shape)}"
        )
    order = np.arange(len(waves)) if order is None else np.asarray(order)
    chunks = (waves[order[start : start + _CHUNK]] for start in range(0, len(order), _CHUNK))
    clips = (clip[None] for chunk in chunks for clip in chunk)
    _write(path, "waves", clips, gains.astype(np.float32)[order].tolist())


def save_clip_inputs(path: Path, clips: Iterable[np.ndarray]) -> None:
    """Write keyword-spotting inputs one clip at a time: each int16 (S,) as read from its file,
    gain 1 (a generator keeps one clip in memory at a time)."""
    _write(path, "waves", (np.asarray(clip)[None] for clip in clips))


def save_feature_inputs(path: Path, utterances: Iterable[np.ndarray]) -> None:
    """Write the grading child's inputs of a ``"features"`` layout: each item's float32 frames.

    Args:
        path: the inputs file (`Layout.hidden_test`'s ``out_file``).
        utterances: each item's frames, (T, F), in the order of the labels (a generator keeps
            one item in memory at a time).

    Returns:
        None.

    Example:
        ```python
        save_feature_inputs(out_file, (np.array([points[i]], dtype=np.float32) for i in order))
        ```
    """
    _write(path, "features", utterances)


def inputs_header(path: Path) -> dict:
    """The header of an inputs file: its ``kind``, ``width`` and per item ``offsets``,
    ``lengths``, ``gains``; ValueError naming the file when it is not one, or is cut short."""
    path = Path(path)
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        if file.read(len(MAGIC)) != MAGIC or size < len(MAGIC) + _TAIL.size:
            raise ValueError(f"{path} is not a grading inputs file (kws.grading.protocol.inputs)")
        file.seek(size - _TAIL.size)
        (length,) = _TAIL.unpack(file.read(_TAIL.size))
        try:
            file.seek(size - _TAIL.size - length)
            return json.loads(file.read(length))
        except (OSError, ValueError):
            raise ValueError(f"{path} is truncated: write the grading inputs again") from None


def load_inputs(path: Path) -> GradingInputs:
    """The inputs file written by `save_wave_inputs`, `save_clip_inputs` or
    `save_feature_inputs`, ready to read batch by batch (in the grading child: torch)."""
    import torch

    path = Path(path).resolve()
    header = inputs_header(path)
    return GradingInputs(
        kind=header["kind"],
        path=path,
        offsets=torch.tensor(header["offsets"], dtype=torch.int64),
        lengths=torch.tensor(header["lengths"], dtype=torch.int64),
        gains=torch.tensor(header["gains"], dtype=torch.float32),
        width=int(header["width"]),
    )
