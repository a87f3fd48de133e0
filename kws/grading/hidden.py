"""The hidden test data, on the grader's side: unlabelled inputs for the child, labels kept here.

Each data layout reads its hidden test set (`kws.grading.layouts`: ``Layout.hidden_test``, e.g.
`kws.grading.layouts.speech_commands.hidden_keyword_test`): it writes the inputs file a child
may see (`kws.grading.shared.inputs`) in a fresh secret order (`secret_permutation`), and keeps
the labels, in that same order, in the returned `HiddenTest` — they never leave this process.
Asked for a sample (``sample=n``: an assignment whose accuracy is scored from the hand-in's
predictions.csv, `kws.grading.accuracy`), a layout writes the inputs of a secret random sample
of n items only (`secret_sample`), and keeps every item's label by its Id besides.

Nothing here imports torch: the grader's process never does (numpy, the standard library).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class HiddenTest:
    """Labels of the inputs written to `inputs_file`, in the same (shuffled) order.

    Attributes:
        inputs_file: the unlabelled inputs for the child.
        labels: (N,) int64 class index of every input (any sequence of ints is taken).
        classes: class names (speaker names for HW4, in mapping.json's id order).
        ids: per input, the Id a predictions.csv row uses (HW4 feature_path; "" for clips).
        test_labels: every item of the test set by its Id, its class index: the inputs and
            more when they are a sample (`secret_sample`); by default the inputs' own, when
            they have Ids, else empty.
    """

    inputs_file: Path
    labels: np.ndarray
    classes: tuple[str, ...]
    ids: tuple[str, ...]
    test_labels: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self):
        labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)  # a tensor, a list: (N,)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "ids", tuple(self.ids))
        if not self.test_labels and self.ids and all(self.ids):
            pairs = zip(self.ids, labels.tolist(), strict=True)
            object.__setattr__(self, "test_labels", dict(pairs))

    def accuracy(self, predictions: Sequence[int]) -> float:
        """Fraction of inputs whose predicted class index equals the hidden label."""
        if len(predictions) != len(self.labels):
            raise ValueError(f"{len(predictions)} predictions for {len(self.labels)} test inputs")
        return float(np.mean(np.asarray(predictions) == self.labels))


def secret_permutation(n: int) -> np.ndarray:
    """A random order of `n` items (int64 (n,)) that nothing outside this process can reproduce
    (its seed is drawn from the OS), for the inputs file a layout writes."""
    return np.random.default_rng(secrets.randbits(128)).permutation(n)


def secret_sample(n: int, size: int | None) -> np.ndarray:
    """`size` of the items 0..n-1 (all of them, when `size` is None or not smaller), drawn
    without replacement in a random order nobody outside this process can reproduce: a sample
    of every item alike, long or short (int64 (min(n, size),))."""
    return secret_permutation(n)[: n if size is None else min(n, size)]


def synthetic_preset(folder: Path) -> str | None:
    """The preset of a folder written by kws.data.synthetic (from its README), else None."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    match = re.search(r"preset '(\w+)'", readme.read_text(errors="replace"))
    return match[1] if match and "Synthetic" in readme.read_text(errors="replace") else None
