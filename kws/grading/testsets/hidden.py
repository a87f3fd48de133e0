"""The hidden test data, on the grader's side: a layout writes the inputs the child may see in a
fresh secret order and keeps the labels in the returned `HiddenTest`, which never leaves this
process. Nothing here imports torch.
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
        private: (N,) bool, True for an input of the private test set (clips the students do
            not have, `kws.data.private_variant`), shuffled in among the public ones so that
            the child cannot tell them apart; all False (the default) without one. With a
            private set, `accuracy` is on its inputs alone and `public_accuracy` on the rest.
        labelled: False for a student's own copy of the test set (`kws handin`, which
            checks a hand-in before it is handed in: `kws.grading.testsets.layouts.public_test`):
            its labels are unknown (-1), so no accuracy can be given.

    Example:
        ```python
        def test_accuracy(grading, child, hidden):  # the ``hidden`` fixture
            accuracy = hidden.accuracy(grading.loaded_model(child, "task1")["predictions"])
        ```
    """

    inputs_file: Path
    labels: np.ndarray
    classes: tuple[str, ...]
    ids: tuple[str, ...]
    test_labels: Mapping[str, int] = field(default_factory=dict)
    private: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    labelled: bool = True

    def __post_init__(self):
        labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)  # a tensor, a list: (N,)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "ids", tuple(self.ids))
        private = np.asarray(self.private, dtype=bool).reshape(-1)
        if len(private) == 0:
            private = np.zeros(len(labels), dtype=bool)
        if len(private) != len(labels):
            raise ValueError(f"{len(private)} private marks for {len(labels)} test inputs")
        object.__setattr__(self, "private", private)
        if not self.test_labels and self.ids and all(self.ids):
            pairs = zip(self.ids, labels.tolist(), strict=True)
            object.__setattr__(self, "test_labels", dict(pairs))

    @property
    def has_private(self) -> bool:
        """Whether the inputs hold a private test set (then it is what is graded)."""
        return bool(self.private.any())

    def accuracy(self, predictions: Sequence[int]) -> float:
        """Fraction of the graded inputs whose predicted class index equals the hidden label:
        the private test set's inputs when there is one, else every input.

        Args:
            predictions: a class index per input, in the inputs file's order (the child's).

        Returns:
            The accuracy, 0..1.
        """
        right = self._right(predictions)
        return float(np.mean(right[self.private] if self.has_private else right))

    def public_accuracy(self, predictions: Sequence[int]) -> float | None:
        """The same fraction over the public inputs only, when a private set is graded (None
        otherwise, or when every input is private)."""
        right = self._right(predictions)
        public = right[~self.private]
        return float(np.mean(public)) if self.has_private and len(public) else None

    def _right(self, predictions: Sequence[int]) -> np.ndarray:
        if len(predictions) != len(self.labels):
            raise ValueError(f"{len(predictions)} predictions for {len(self.labels)} test inputs")
        return np.asarray(predictions) == self.labels  # (N,) bool


def secret_permutation(n: int) -> np.ndarray:
    """A random order of `n` items that nothing outside this process can reproduce (its seed is
    drawn from the OS), for the inputs file a layout writes.

    Args:
        n: the number of items.

    Returns:
        int64 (n,), a permutation of 0..n-1.

    Example:
        ```python
        order = secret_permutation(len(points)).tolist()
        ```
    """
    return np.random.default_rng(secrets.randbits(128)).permutation(n)


def secret_sample(n: int, size: int | None) -> np.ndarray:
    """`size` of the items 0..n-1 (all of them, when `size` is None or not smaller), drawn
    without replacement in a random order nobody outside this process can reproduce: a sample
    of every item alike, long or short (int64 (min(n, size),))."""
    return secret_permutation(n)[: n if size is None else min(n, size)]


def synthetic_preset(folder: Path) -> str | None:
    """The preset of a folder written by kws.data.synthetic (from its README), else None."""
    readme = folder / "README.md"
    text = readme.read_text(errors="replace") if readme.is_file() else ""
    match = re.search(r"preset '(\w+)'", text)
    return match[1] if match and "Synthetic" in text else None
