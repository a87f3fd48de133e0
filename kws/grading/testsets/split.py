"""Kaggle's rule for a hidden test set: the public part, whose accuracy is shown during the
homework, and the held-out part, which makes the grade (docs/how-to/attempts.md). "Private" is
kept for the private test set; with both in use, the split covers only its items, the graded
ones (`graded_correct`). The parent computes it; nothing of it reaches the child.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kws.grading.testsets.hidden import HiddenTest


class SplitError(ValueError):
    """The public share cannot split the graded items into two non-empty parts."""


@dataclass(frozen=True)
class Split:
    """The Kaggle rule's settings: the share of the graded items in the public part, the seed."""

    share: float
    seed: str

    def __post_init__(self):
        if not 0.0 < self.share < 1.0:
            raise ValueError(f"--public-share {self.share}: give a share between 0 and 1, e.g. 0.3")
        if not self.seed:
            raise ValueError("--split-seed is empty: give the course's secret seed (any text)")

    def counts(self, n: int, what: str = "the graded items") -> tuple[int, int]:
        """(public, held-out) item counts of `n` graded items: ``round(share × n)`` public
        (halves rounded up), the rest held out.

        Raises:
            SplitError: a part would be empty; the message names `what` was split, the shares
                that leave each part an item, and where to set it.
        """
        public = math.floor(self.share * n + 0.5)
        if 0 < public < n:
            return public, n - public
        if n < 2:
            fix = "a split needs at least 2 graded items; leave public_share out for this data"
        else:
            # the shares, to three decimals, that leave each part at least one item
            low, high = math.ceil(500 / n) / 1000, (math.ceil(1000 - 500 / n) - 1) / 1000
            fix = f"give a share from {low:g} to {high:g}"
        empty = "public" if public == 0 else "held-out"
        raise SplitError(
            f"a public share of {self.share:g} leaves the {empty} part of {what} ({n} items) "
            f"empty; {fix} (the course file's [gradescope] public_share)"
        )

    def rank(self, key: str) -> int:
        """Where the item `key` stands in the seed's order (the lowest are public)."""
        digest = hashlib.sha256(f"{self.seed}\0{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def public_keys(self, keys: Iterable[str], what: str = "the graded items") -> set[str]:
        """The public part of `keys`, every graded item at once: exactly ``counts(n)[0]`` of
        them; SplitError (`counts`) when a part would be empty."""
        ordered = sorted(set(keys), key=lambda key: (self.rank(key), key))
        public, _ = self.counts(len(ordered), what)
        return set(ordered[:public])


@dataclass(frozen=True)
class PartAccuracy:
    """Accuracy on each part of the graded items, and how many items each part has."""

    public: float
    held_out: float
    n_public: int
    n_held_out: int


def part_accuracy(
    correct: Mapping[str, bool], split: Split, what: str = "the graded items"
) -> PartAccuracy:
    """Accuracy on the public and on the held-out part, from each item's correctness.

    Args:
        correct: {item key: whether the prediction of that item is right}, every graded item.
        split: the rule's share and seed.
        what: what the items are, for the error of a share that leaves a part empty.

    Returns:
        Both accuracies and the parts' sizes (each at least 1).

    Raises:
        SplitError: a part would be empty (`Split.counts`).
    """
    public = split.public_keys(correct, what)
    shown = [correct[key] for key in correct if key in public]
    kept = [correct[key] for key in correct if key not in public]
    return PartAccuracy(sum(shown) / len(shown), sum(kept) / len(kept), len(shown), len(kept))


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
