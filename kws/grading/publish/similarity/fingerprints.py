"""Fingerprints of normalised code (`kws.grading.publish.similarity.normalise`), as MOSS takes them: the token
stream is cut into k-grams of `K` tokens, each hashed, and winnowed (Schleimer, Wilkerson and
Aiken, 2003): of every `WINDOW` consecutive hashes the smallest is kept, which guarantees that
any shared run of ``K + WINDOW - 1`` tokens shares a fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kws.grading.publish.similarity.normalise import Token

K = 10  # tokens in a k-gram: shorter runs are too common to mean anything
WINDOW = 8  # winnowing window: a shared run of K + WINDOW - 1 = 17 tokens is always caught


@dataclass(frozen=True)
class Fingerprint:
    """A winnowed k-gram hash and the (cell, line) pairs of the tokens it covers."""

    hash: int
    lines: tuple[tuple[int, int], ...]


_MODULUS = 2**61 - 1  # a Mersenne prime: k-gram hashes roll in O(1) per token
_BASE = 1_000_003


def _token_number(text: str) -> int:
    """A number for a token text, the same in every process (unlike `hash`)."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % _MODULUS


def _hashes(texts: list[str], k: int) -> list[int]:
    """The hash of every k-gram of `texts` (a polynomial rolling hash)."""
    numbers: dict[str, int] = {}
    values = [numbers.get(t) or numbers.setdefault(t, _token_number(t)) for t in texts]
    top = pow(_BASE, k - 1, _MODULUS)
    hashes, rolling = [], 0
    for i, value in enumerate(values):
        if i >= k:
            rolling = (rolling - values[i - k] * top) % _MODULUS
        rolling = (rolling * _BASE + value) % _MODULUS
        if i >= k - 1:
            hashes.append(rolling)
    return hashes


def _winnow(hashes: list[int], window: int) -> list[int]:
    """The positions winnowing keeps: the rightmost smallest hash of every `window` in a row."""
    chosen: dict[int, None] = {}  # positions, in order, each once
    for start in range(max(1, len(hashes) - window + 1)):
        span = hashes[start : start + window]
        if span:
            chosen[start + len(span) - 1 - span[::-1].index(min(span))] = None
    return list(chosen)


def fingerprint_hashes(texts: list[str], *, k: int = K, window: int = WINDOW) -> set[int]:
    """The winnowed fingerprints of token texts, as a set of hashes."""
    hashes = _hashes(texts, k)
    return {hashes[i] for i in _winnow(hashes, window)}


def fingerprints(tokens: list[Token], *, k: int = K, window: int = WINDOW) -> list[Fingerprint]:
    """The winnowed fingerprints of a token stream with the lines each covers, in stream
    order ([] below k tokens)."""
    hashes = _hashes([t.text for t in tokens], k)
    return [
        Fingerprint(hashes[i], tuple(dict.fromkeys((t.cell, t.line) for t in tokens[i : i + k])))
        for i in _winnow(hashes, window)
    ]
