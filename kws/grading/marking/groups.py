"""Answers that say the same thing, grouped so that one mark can be given to all of them.

    group_answers({"#1": "BatchNorm fixes the scale.", "#2": "batchnorm  fixes the scale",
                   "#3": "Something else."})     # [["#1", "#2"], ["#3"]]

Two answers are the same when their text is, after case, spacing and punctuation are made
uniform; nearly the same when their runs of three words overlap by at least `THRESHOLD`
(Jaccard: shared over all): a copied answer of 40 words with two words changed overlaps by
about 0.75 and stays in its group, while answers that only share the question's vocabulary
overlap by far less. Answers with no text are one group: no
answer. Groups keep the order of their first answer; a group's answers keep theirs.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict

THRESHOLD = 0.7
_SHINGLE = 3


def uniform(text: str) -> str:
    """`text` lower-cased, its punctuation dropped, its spacing one space."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _shingles(text: str) -> frozenset[str]:
    """The runs of `_SHINGLE` words of `text` (uniform), or its words when it has fewer."""
    words = text.split()
    if len(words) <= _SHINGLE:
        return frozenset(words)
    return frozenset(" ".join(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))


def _similar_pairs(shingles: list[frozenset[str]], usable: list[bool], threshold: float):
    """The pairs (i, j) of `shingles` whose Jaccard overlap is at least `threshold`, found by
    prefix filtering: with the shingles of each set ordered rarest first, two sets that overlap
    that much share one of the first ``len - ceil(threshold * len) + 1`` of each, so only the
    pairs sharing a prefix shingle are compared (all pairs would be 45,000 for 300 answers)."""
    counts = Counter(shingle for found in shingles for shingle in found)
    index: dict[str, list[int]] = defaultdict(list)
    for i, found in enumerate(shingles):
        if not usable[i]:
            continue
        ordered = sorted(found, key=lambda shingle: (counts[shingle], shingle))
        prefix = ordered[: len(ordered) - math.ceil(threshold * len(ordered)) + 1]
        candidates = {j for shingle in prefix for j in index[shingle]}
        for j in sorted(candidates):
            smaller, larger = sorted((len(found), len(shingles[j])))
            if smaller < threshold * larger:
                continue
            shared = len(found & shingles[j])
            if shared >= threshold * (len(found) + len(shingles[j]) - shared):
                yield j, i
        for shingle in prefix:
            index[shingle].append(i)


def group_answers(texts: dict[str, str], threshold: float = THRESHOLD) -> list[list[str]]:
    """The keys of `texts` ({answer key: its text}, in page order) in groups of the same or
    nearly the same answer, in the order of each group's first answer."""
    exact: dict[str, list[str]] = {}
    for key, text in texts.items():
        exact.setdefault(uniform(text), []).append(key)
    forms = list(exact)
    parent = list(range(len(forms)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    shingles = [_shingles(form) for form in forms]
    for i, j in _similar_pairs(shingles, [bool(form) for form in forms], threshold):
        parent[root(j)] = root(i)
    groups: dict[int, list[str]] = {}
    for index, form in enumerate(forms):
        groups.setdefault(root(index), []).extend(exact[form])
    order = {key: n for n, key in enumerate(texts)}
    return sorted((sorted(keys, key=order.get) for keys in groups.values()),
                  key=lambda keys: order[keys[0]])  # fmt: skip
