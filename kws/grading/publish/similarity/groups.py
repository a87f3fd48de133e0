"""Copy groups and the code a class shares, for `kws report`'s similarity flags
(`kws.grading.publish.similarity.matches`).

What many students write alike is how the task is done, not copying: fingerprints found in more
than `COMMON_SHARE` of the hand-ins and in more than `COMMON_MIN` of them are the class's common
code, left out of every comparison. Counted naively, a ring of eleven copies in a class of twenty
would make its own code common and vanish; so hand-ins whose code is nearly the same (a copy
group, `copy_groups`) count once.
"""

from __future__ import annotations

import math
from collections import Counter

# Fingerprints in more than this share of the hand-ins (and more than COMMON_MIN of them) count
# as skeleton: what a tenth of a class writes alike is how the task is done, not copying.
COMMON_SHARE = 0.1
COMMON_MIN = 10
# Hand-ins whose fingerprints have at least this Jaccard similarity form a copy group.
GROUP_JACCARD = 0.8


def copy_groups(hashes: list[frozenset[int]], jaccard: float = GROUP_JACCARD) -> list[int]:
    """The copy group of each hand-in (an index; a hand-in alone is a group of its own): hand-ins
    whose fingerprint sets have a Jaccard similarity of at least `jaccard`, joined transitively.

    Candidates come from prefix filtering (Bayardo, Ma and Srikant, 2007): with every set's
    fingerprints ordered rarest first, two sets that similar share a fingerprint among the first
    ``len - ceil(jaccard * len) + 1`` of each, so only those are indexed and compared."""
    counts = Counter(h for found in hashes for h in found)
    group = list(range(len(hashes)))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    index: dict[int, list[int]] = {}
    for i, found in enumerate(hashes):
        ranked = sorted(found, key=lambda h: (counts[h], h))
        prefix = ranked[: len(found) - math.ceil(jaccard * len(found)) + 1] if found else []
        for j in {j for h in prefix for j in index.get(h, ())}:
            if len(found & hashes[j]) >= jaccard * len(found | hashes[j]):
                group[root(i)] = root(j)
        for h in prefix:
            index.setdefault(h, []).append(i)
    return [root(i) for i in range(len(hashes))]


def common_code(hashes: list[frozenset[int]]) -> set[int]:
    """The fingerprints more than a tenth of the hand-ins share, and more than `COMMON_MIN`,
    each copy group counted once."""
    groups = copy_groups(hashes)
    holders: dict[int, set[int]] = {}
    for found, group in zip(hashes, groups, strict=True):
        for h in found:
            holders.setdefault(h, set()).add(group)
    limit = max(COMMON_MIN, COMMON_SHARE * len(hashes))
    return {h for h, held in holders.items() if len(held) > limit}
