"""Unlabelled test inputs: written by the grader, read by the child that runs a student's model.

The file (``torch.save`` of plain tensors, read back with ``weights_only=True``) holds no labels,
no file names and — for keyword spotting, whose test set is stored class by class — no telling
order: the grader shuffles the clips with a fresh secret permutation and maps the predictions
back. Two kinds:

- ``waves``: keyword-spotting clips, int16 samples (N, S) and a gain (N,) each; clip i as float is
  ``waves[i] * gains[i] / 32768`` (exactly the `ClipCache` storage, half the size of float32);
- ``features``: speaker utterances of log-mel frames stored end to end, (sum of T, F) with
  offsets (N,) and lengths (N,); batches are padded with -20 as in training.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

FEATURE_PAD = -20.0


@dataclass(frozen=True)
class GradingInputs:
    """Test inputs of one kind; `batches` yields what the model's forward takes."""

    kind: str  # "waves" or "features"
    tensors: dict[str, torch.Tensor]

    def __len__(self) -> int:
        return len(self.tensors["gains" if self.kind == "waves" else "lengths"])

    def batch(self, indices: torch.Tensor, device: str = "cpu") -> tuple[torch.Tensor, ...]:
        """Model arguments for items `indices`: (waves (B, S),) or (x (B, T, F), lengths (B,))."""
        if self.kind == "waves":
            waves = self.tensors["waves"][indices].float() * (
                self.tensors["gains"][indices, None] / 32768
            )
            return (waves.to(device),)  # (B, S)
        frames, offsets = self.tensors["frames"], self.tensors["offsets"]
        lengths = self.tensors["lengths"][indices]
        x = torch.full((len(indices), int(lengths.max()), frames.shape[1]), FEATURE_PAD)
        for row, (i, n) in enumerate(zip(indices.tolist(), lengths.tolist(), strict=True)):
            start = int(offsets[i])
            x[row, :n] = frames[start : start + n].float()
        return x.to(device), lengths.to(device)  # (B, T, F), (B,)

    def batches(self, batch_size: int, device: str = "cpu") -> Iterator[tuple[torch.Tensor, tuple]]:
        """(indices, model arguments) for every item once; features grouped by length."""
        order = torch.arange(len(self))
        if self.kind == "features":
            order = torch.argsort(self.tensors["lengths"], stable=True)  # less padding
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            yield indices, self.batch(indices, device)

    def example(self, count: int = 2, max_frames: int = 160) -> tuple[torch.Tensor, ...]:
        """A small batch for tracing: `count` items of distinct lengths, cut to `max_frames`."""
        indices = torch.arange(min(count, len(self)))
        if self.kind == "waves":
            return self.batch(indices)
        x, lengths = self.batch(indices)
        lengths = lengths.clamp(max=max_frames)
        lengths[1:] = torch.minimum(lengths[1:], (lengths[0] - 1).clamp(min=1))  # distinct lengths
        return x[:, : int(lengths.max())].contiguous(), lengths  # (B, T, F), (B,)


def save_wave_inputs(path: Path, waves: torch.Tensor, gains: torch.Tensor) -> None:
    """Write keyword-spotting inputs: int16 waves (N, S), float gains (N,)."""
    if waves.dtype != torch.int16 or waves.ndim != 2 or gains.shape != (len(waves),):
        raise ValueError(
            f"expected int16 waves (N, S) and gains (N,), got {waves.dtype} {tuple(waves.shape)}"
        )
    torch.save({"kind": "waves", "waves": waves.contiguous(), "gains": gains.float()}, path)


def save_feature_inputs(
    path: Path, frames: torch.Tensor, offsets: torch.Tensor, lengths: torch.Tensor
) -> None:
    """Write speaker inputs: frames (sum of T, F), offsets (N,), lengths (N,)."""
    if frames.ndim != 2 or offsets.shape != lengths.shape:
        raise ValueError(
            f"expected frames (sum T, F) and equal-length offsets/lengths, got {tuple(frames.shape)}"
        )
    torch.save({"kind": "features", "frames": frames, "offsets": offsets, "lengths": lengths}, path)


def load_inputs(path: Path) -> GradingInputs:
    """Read a file written by `save_wave_inputs` or `save_feature_inputs`."""
    content = torch.load(path, map_location="cpu", weights_only=True)
    kind = content.pop("kind")
    return GradingInputs(kind=kind, tensors=content)
