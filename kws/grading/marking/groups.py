"""Answers that say the same thing, grouped so that one mark can be given to all of them: the
same text once case, spacing and punctuation are made uniform, or runs of three words that
overlap by at least `THRESHOLD` (Jaccard, `kws.grading.jaccard`). A copied answer of 40 words
with two words changed overlaps by about 0.75; answers that only share the question's vocabulary
by far less.

    group_answers({"#1": "BatchNorm fixes the scale.", "#2": "batchnorm  fixes the scale",
                   "#3": "Something else."})     # [["#1", "#2"], ["#3"]]
"""

from __future__ import annotations

import re
import unicodedata

from kws.grading.jaccard import joined, similar_pairs

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


def group_answers(texts: dict[str, str], threshold: float = THRESHOLD) -> list[list[str]]:
    """The keys of `texts` ({answer key: its text}, in page order) in groups of the same or
    nearly the same answer, in the order of each group's first answer."""
    exact: dict[str, list[str]] = {}
    for key, text in texts.items():
        exact.setdefault(uniform(text), []).append(key)
    forms = list(exact)
    shingles = [_shingles(form) for form in forms]
    pairs = similar_pairs(shingles, threshold)
    order = {key: n for n, key in enumerate(texts)}
    found = [
        sorted((key for i in group for key in exact[forms[i]]), key=order.get)
        for group in joined(range(len(forms)), pairs)
    ]
    return sorted(found, key=lambda keys: order[keys[0]])
