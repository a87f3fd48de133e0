"""Kaggle's rule for a hidden test set: a public part shown during the homework, a private part
that makes the grade (`kws grade` / Gradescope with ``--public-share`` and ``--split-seed``).

The partition is of the hidden test items themselves, by each item's key (a clip's
``word/file.wav``, an utterance's feature path) and a seed only the course knows: an item is
public when the first 8 bytes of SHA-256(seed, key), read as a fraction of 2**64, fall below
the public share. So every submission of the class, on every run, is split the same way; the
split does not depend on the order the items are shown to the child (a fresh secret order each
run), nor on any sample drawn from them, and it composes with any other partition of the items
(a secret variant set is split by its own keys). The parent computes it; nothing of it reaches
the child.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kws.grading.testsets.hidden import HiddenTest


@dataclass(frozen=True)
class Split:
    """The Kaggle rule's settings: the share of items shown during the homework, the seed."""

    share: float
    seed: str

    def __post_init__(self):
        if not 0.0 < self.share < 1.0:
            raise ValueError(f"--public-share {self.share}: give a share between 0 and 1, e.g. 0.3")
        if not self.seed:
            raise ValueError("--split-seed is empty: give the course's secret seed (any text)")

    def is_public(self, key: str) -> bool:
        """Whether the hidden test item `key` is in the public part."""
        digest = hashlib.sha256(f"{self.seed}\0{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.share

    def public_keys(self, keys: Iterable[str]) -> set[str]:
        """The public ones of `keys`."""
        return {key for key in keys if self.is_public(key)}


@dataclass(frozen=True)
class PartAccuracy:
    """Accuracy on each part of the hidden test set, and how many items each has."""

    public: float
    private: float
    n_public: int
    n_private: int


def part_accuracy(correct: Mapping[str, bool], split: Split) -> PartAccuracy:
    """Accuracy on the public and on the private part, from each item's correctness.

    Args:
        correct: {item key: whether the prediction of that item is right}, every item.
        split: the rule's share and seed.

    Returns:
        Both accuracies (0 for an empty part) and the parts' sizes.
    """
    public = split.public_keys(correct)
    shown = [correct[key] for key in correct if key in public]
    kept = [correct[key] for key in correct if key not in public]
    return PartAccuracy(
        public=sum(shown) / len(shown) if shown else 0.0,
        private=sum(kept) / len(kept) if kept else 0.0,
        n_public=len(shown),
        n_private=len(kept),
    )


def model_correct(ids: Sequence[str], predictions: Sequence[int], labels: Sequence[int]) -> dict:
    """{item key: whether the child's prediction is right} for the inputs as shown to the child
    (`ids`, `labels`: the hidden test's, in that order); ValueError without item keys."""
    if not ids or not all(ids):
        raise ValueError("this data layout gives its test items no keys, so the Kaggle rule "
                         "cannot split them; leave --public-share out for it")  # fmt: skip
    return {key: int(p) == int(y) for key, p, y in zip(ids, predictions, labels, strict=True)}


def graded_correct(hidden: HiddenTest, predictions: Sequence[int]) -> dict:
    """`model_correct` over the inputs that are graded: the private test set's when the hidden
    test holds one (`HiddenTest.has_private`; the public clips beside it only measure the gap),
    else every input. The Kaggle rule then splits these items into its two parts."""
    keep = hidden.private if hidden.has_private else [True] * len(hidden.ids)
    chosen = [i for i, graded in enumerate(keep) if graded]
    return model_correct([hidden.ids[i] for i in chosen], [predictions[i] for i in chosen],
                         [hidden.labels[i] for i in chosen])  # fmt: skip
