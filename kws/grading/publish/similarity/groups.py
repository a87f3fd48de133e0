"""Copy groups and the code a class shares, for `kws report`'s similarity flags: a ring of
copies counts once, so that its own code does not become the class's common code and vanish.
"""

from __future__ import annotations

from kws.grading.jaccard import joined, similar_pairs

# Fingerprints in more than this share of the hand-ins (and more than COMMON_MIN of them) are
# the class's common code: what a tenth of a class writes alike is how the task is done.
COMMON_SHARE = 0.1
COMMON_MIN = 10
# Hand-ins whose fingerprints have at least this Jaccard similarity form a copy group.
GROUP_JACCARD = 0.8


def copy_groups(hashes: list[frozenset[int]], jaccard: float = GROUP_JACCARD) -> list[int]:
    """The copy group of each hand-in (a number; a hand-in alone is a group of its own):
    hand-ins whose fingerprint sets have a Jaccard similarity of at least `jaccard`, joined
    transitively (`kws.grading.jaccard`)."""
    group = [0] * len(hashes)
    for number, members in enumerate(joined(range(len(hashes)), similar_pairs(hashes, jaccard))):
        for i in members:
            group[i] = number
    return group


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
