"""Sets nearly the same (kws.grading.jaccard): the prefix-filtered pairs are exactly those a
comparison of every pair finds, and the groups join them transitively, in their items' order."""

import itertools
import random

from kws.grading.jaccard import joined, similar_pairs


def _every_pair(sets, threshold):
    return [
        (i, j)
        for i, j in itertools.combinations(range(len(sets)), 2)
        if sets[i] and len(sets[i] & sets[j]) >= threshold * len(sets[i] | sets[j])
    ]


def test_the_pairs_are_those_every_comparison_finds():
    rng = random.Random(7)
    for threshold in (0.3, 0.5, 0.7, 0.9, 1.0):
        base = frozenset(rng.sample(range(30), 10))
        sets = [frozenset(rng.sample(range(30), rng.randint(0, 12))) for _ in range(25)]
        sets += [base | {rng.randrange(30)} for _ in range(5)] + [frozenset(), frozenset()]
        found = sorted(similar_pairs(sets, threshold))
        assert found == _every_pair(sets, threshold), threshold


def test_groups_join_transitively_in_the_items_order():
    pairs = [("c", "e"), ("a", "d"), ("e", "b")]
    assert joined(["a", "b", "c", "d", "e", "f"], pairs) == [["a", "d"], ["b", "c", "e"], ["f"]]
    assert joined(range(3), []) == [[0], [1], [2]]
