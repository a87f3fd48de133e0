"""Answers that say the same thing, grouped so that one mark can be given to all of them: the
same text once case, spacing and punctuation are made uniform, or runs of three words that
overlap by at least `THRESHOLD` (Jaccard, `kws.grading.jaccard`). In a script written without
spaces between words (Chinese, Japanese, Korean, Thai...) each character is a token and a run
is two of them, as most Chinese words are two characters; words (English, Polish with its
diacritics) and characters mix in one text by runs. A copied answer of 40 words with two words
changed overlaps by about 0.75, a Chinese one of 30 characters with two characters changed
too; answers that only share the question's vocabulary by far less.

    group_answers({"#1": "BatchNorm fixes the scale.", "#2": "batchnorm  fixes the scale",
                   "#3": "Something else."})     # [["#1", "#2"], ["#3"]]
    tokens("Softmax會飽和，梯度消失")   # ["softmax", "會", "飽", "和", "梯", "度", "消", "失"]
"""

from __future__ import annotations

import unicodedata

from kws.grading.jaccard import joined, similar_pairs

THRESHOLD = 0.7
_RUN = 6  # the size of a compared run: three words, or two characters (`_shingles`)
# The blocks of the scripts written without spaces between words, whose characters are tokens:
# Thai and Lao, Myanmar, Khmer; Hangul Jamo; CJK radicals, symbols (々, 〇), kana,
# Bopomofo, compatibility Jamo; CJK Extension A, the unified ideographs, Yi; Hangul syllables;
# CJK compatibility ideographs; half-width kana; the ideographs of the supplementary planes.
_UNSPACED = (
    (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1100, 0x11FF), (0x1780, 0x17FF),
    (0x2E80, 0x31FF), (0x3400, 0xA4CF), (0xAC00, 0xD7FF), (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F), (0x20000, 0x3134F),
)  # fmt: skip


def _unspaced(char: str) -> bool:
    code = ord(char)
    return code >= 0x0E00 and any(low <= code <= high for low, high in _UNSPACED)


def tokens(text: str) -> list[str]:
    """The tokens of `text` (NFKC-normalised and case-folded, punctuation dropped): its words,
    and each character of its runs in a script written without spaces, in order. A combining
    mark (a Thai vowel sign, a diacritic NFKC has no letter for) stays on its letter."""
    found: list[str] = []
    word = ""  # the word being read
    for char in unicodedata.normalize("NFKC", text).casefold():
        mark = unicodedata.category(char)[0] == "M"
        if mark and found and not word and _unspaced(found[-1][0]):
            found[-1] += char  # a Thai vowel sign, on the character before it
        elif char.isalnum() and _unspaced(char):
            found += [word, char] if word else [char]
            word = ""
        elif char.isalnum() or char == "_" or (mark and word):
            word += char
        elif word:
            found.append(word)
            word = ""
    return [*found, word] if word else found


def uniform(text: str) -> str:
    """`text` as its tokens joined by one space: case, spacing and punctuation made uniform."""
    return " ".join(tokens(text))


def _shingles(text: str) -> frozenset[str]:
    """The runs of `text` (uniform) that hold three words or two characters of a script written
    without spaces (most Chinese words are two characters), a word counting for two of `_RUN`'s
    six and such a character for three; its tokens when the whole text is one run or less."""
    found = text.split()
    sizes = [3 if _unspaced(token[0]) else 2 for token in found]
    if sum(sizes) <= _RUN:
        return frozenset(found)  # one run or less: its tokens, in any order
    runs = []
    for start in range(len(found)):
        end, size = start, 0
        while end < len(found) and size < _RUN:
            size += sizes[end]
            end += 1
        if size < _RUN:
            break  # the text's tail, inside the runs before it
        runs.append(" ".join(found[start:end]))
    return frozenset(runs)


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
