"""The hidden test data, on the grader's side: unlabelled inputs for the child, labels kept here.

Each data layout reads its hidden test set (`kws.grading.layouts`: ``Layout.hidden_test``, e.g.
`kws.grading.layouts.speech_commands.hidden_keyword_test`): it writes the inputs file a child
may see (`kws.grading.shared.inputs`) in a fresh secret order (`secret_permutation`), and keeps
the labels, in that same order, in the returned `HiddenTest` — they never leave this process.

torch and the data readers are imported where the test sets are read: `kws grade` itself only
looks for the test sets (`kws.grading.layouts`), and its graders import torch.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class HiddenTest:
    """Labels of the inputs written to `inputs_file`, in the same (shuffled) order.

    Attributes:
        inputs_file: the unlabelled inputs for the child.
        labels: (N,) int64 class index of every input.
        classes: class names (speaker names for HW4, in mapping.json's id order).
        ids: per input, the Id a predictions.csv row uses (HW4 feature_path; "" for clips).
    """

    inputs_file: Path
    labels: torch.Tensor
    classes: tuple[str, ...]
    ids: tuple[str, ...]

    def accuracy(self, predictions: list[int]) -> float:
        """Fraction of inputs whose predicted class index equals the hidden label."""
        if len(predictions) != len(self.labels):
            raise ValueError(f"{len(predictions)} predictions for {len(self.labels)} test inputs")
        import torch

        return float((torch.tensor(predictions) == self.labels).float().mean())


def secret_permutation(n: int) -> torch.Tensor:
    """A random order of `n` items that nothing outside this process can reproduce (its seed is
    drawn from the OS), for the inputs file a layout writes."""
    import torch

    return torch.randperm(n, generator=torch.Generator().manual_seed(secrets.randbits(63)))


def synthetic_preset(folder: Path) -> str | None:
    """The preset of a folder written by kws.data.synthetic (from its README), else None."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    match = re.search(r"preset '(\w+)'", readme.read_text(errors="replace"))
    return match[1] if match and "Synthetic" in readme.read_text(errors="replace") else None
