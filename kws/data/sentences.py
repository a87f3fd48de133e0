"""Random English sentences from a small grammar, for synthetic speakers to read.

    random_sentence(random.Random(0), 4, 8) -> e.g. "the quiet farmer painted a bridge and a ..."

Clauses are determiner, optional adjective, noun, verb, determiner, optional adjective, noun, with
an optional place ("near the river") and adverb, joined by conjunctions until the sentence is long
enough; the words are common and short, so eSpeak pronounces them well.
"""

from __future__ import annotations

import random

_DETERMINERS = "the a my your this that every some her his our their".split()
_ADJECTIVES = (
    "red green small large quiet noisy happy sad old new warm cold bright dark heavy light "
    "quick slow strange simple golden wooden clever gentle busy empty"
).split()
_NOUNS = (
    "dog cat bird house garden river teacher doctor window table computer letter city forest "
    "train music story kitchen mountain student farmer picture bottle island morning engine "
    "flower market bridge song"
).split()
_VERBS = (
    "found saw painted opened carried moved watched followed visited cleaned built wanted "
    "remembered described borrowed noticed repaired counted"
).split()
_LINKS = "on under near behind with beside across".split()
_ADVERBS = "today yesterday slowly quickly again together quietly carefully".split()
_CONJUNCTIONS = "and but because while so".split()
_FUNCTION_WORDS = {*_DETERMINERS, *_LINKS, *_CONJUNCTIONS}


def random_sentence(rng: random.Random, min_words: int, max_words: int) -> str:
    """A random sentence of at most `max_words` words (cut from one of `min_words` to `max_words`
    words, so a little shorter where the cut left a trailing "the" or "and")."""
    target = rng.randint(min_words, max_words)
    words: list[str] = []
    while len(words) < target:
        if words:
            words.append(rng.choice(_CONJUNCTIONS))
        clause = [rng.choice(_DETERMINERS)]
        clause += [rng.choice(_ADJECTIVES)] if rng.random() < 0.5 else []
        clause += [rng.choice(_NOUNS), rng.choice(_VERBS), rng.choice(_DETERMINERS)]
        clause += [rng.choice(_ADJECTIVES)] if rng.random() < 0.5 else []
        clause += [rng.choice(_NOUNS)]
        if rng.random() < 0.3:
            clause += [rng.choice(_LINKS), rng.choice(_DETERMINERS), rng.choice(_NOUNS)]
        if rng.random() < 0.3:
            clause += [rng.choice(_ADVERBS)]
        words += clause
    words = words[:target]
    while words[-1] in _FUNCTION_WORDS:  # end on a noun, verb, adjective or adverb
        words.pop()
    return " ".join(words)
