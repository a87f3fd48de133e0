"""Sets that are nearly the same: the pairs whose Jaccard overlap (shared over all) reaches a
threshold, and the groups those pairs join. `kws.grading.marking.groups` groups the written
answers with it, `kws.grading.publish.similarity` the hand-ins' code.

    sets = [frozenset("abc"), frozenset("abcd"), frozenset("xyz")]
    joined(range(3), similar_pairs(sets, 0.7))      # [[0, 1], [2]]
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator


def similar_pairs(sets: list[frozenset], threshold: float) -> Iterator[tuple[int, int]]:
    """The pairs (i, j), i < j, of `sets` whose Jaccard overlap is at least `threshold`; an
    empty set is in none.

    Found by prefix filtering (Bayardo, Ma and Srikant, 2007): with every set's members ordered
    rarest first, two sets that overlap that much share one of the first
    ``len - ceil(threshold * len) + 1`` of each, so only the pairs sharing a prefix member are
    compared (all pairs would be 45,000 for 300 sets)."""
    counts = Counter(member for found in sets for member in found)
    index: dict[Hashable, list[int]] = defaultdict(list)
    for i, found in enumerate(sets):
        ordered = sorted(found, key=lambda member: (counts[member], member))
        prefix = ordered[: len(ordered) - math.ceil(threshold * len(ordered)) + 1]
        for j in sorted({j for member in prefix for j in index[member]}):
            smaller, larger = sorted((len(found), len(sets[j])))
            if smaller < threshold * larger:
                continue  # too unlike in size to overlap that much
            shared = len(found & sets[j])
            if shared >= threshold * (len(found) + len(sets[j]) - shared):
                yield j, i
        for member in prefix:
            index[member].append(i)


def joined(items: Iterable[Hashable], pairs: Iterable[tuple]) -> list[list]:
    """`items` joined by `pairs` (two of `items` each), transitively, by union-find: each group
    in the order of `items`, the groups in the order of their first item."""
    parent = {item: item for item in items}

    def root(item: Hashable) -> Hashable:
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # halve the path: later finds are shorter
            item = parent[item]
        return item

    for first, second in pairs:
        parent[root(second)] = root(first)
    found: dict[Hashable, list] = {}
    for item in parent:
        found.setdefault(root(item), []).append(item)
    return list(found.values())
