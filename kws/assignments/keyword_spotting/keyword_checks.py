"""Notebook 01's Task 1 (the 12-class training set) and Task 2 (tokens within a budget), checked
against their definitions: what the labels, the windows and the token lengths must be is written
out here, never taken from the kit's own 12-class code.

Each check draws its inputs from `seed`: the notebook's self-check uses 0, the hidden grader a
seed the student never sees (`kws.grading.child.numeric`). Topics of the items: "keywords",
"unknown" and "silence" (Task 1), "lengths" (Task 2's token lengths); `attention_budget` turns
what a traced forward ran into Task 2's budget items.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import torch
from torch import nn

from kws.author import N_, Checker, Text, build, call

KEYWORDS = "yes no up down left right on off stop go".split()
OTHER_WORDS = (
    "zero one two three four five six seven eight nine bed bird cat dog happy house marvin "
    "sheila tree wow backward forward follow learn visual"
).split()
UNKNOWN = "_unknown_"
N_MELS = 40
LENGTH_FIX = Text(
    N_(
        "compute each convolution's output length per clip, "
        "floor((L + 2 x padding - kernel) / stride) + 1, once per convolution"
    )
)


def limits(task: str) -> dict[str, int | float]:
    """The limits of keyword spotting's `task` ("data" or "tokens") from its spec."""
    from kws.author import spec_of

    return spec_of(__file__).tasks[task].limits


# ---- Task 1: the 12-class labels ---------------------------------------------------------------


def word_clips(seed: int) -> list[str]:
    """The word of each clip of a random split: 15-40 clips per keyword, 10-60 per other word, in
    random order (so the order of the clips says nothing about their words)."""
    rng = random.Random(f"word-clips/{seed}")
    words = [w for w in KEYWORDS for _ in range(rng.randint(15, 40))]
    words += [w for w in OTHER_WORDS for _ in range(rng.randint(10, 60))]
    rng.shuffle(words)
    return words


def grouped_by_word(words: list[str]) -> list[str]:
    """The same clips grouped by word, words in alphabetical order: how the notebook's clip list
    comes (one folder per word), where a block of neighbouring clips holds one or two words."""
    return sorted(words)


def _expected_words(counts: dict[str, int], drawn: int) -> float:
    """How many distinct words `drawn` clips taken at random from `counts` hold, on average."""
    total = sum(counts.values())
    return sum(1 - (1 - n / total) ** drawn for n in counts.values())


def twelve_class_labels(checker: Checker, function: Callable, seed: int = 0) -> None:
    """`function(words, unknown_fraction, seed)` -> one label per clip: the keyword itself, then
    "_unknown_" for round(fraction x keyword clips) other-word clips drawn at random, else None."""
    rng = random.Random(f"twelve-class-labels/{seed}")
    words = word_clips(seed)
    fraction = 0.25 if seed == 0 else round(rng.uniform(0.15, 0.4), 3)
    seeds = (7, 8) if seed == 0 else tuple(rng.sample(range(10**6), 2))
    shown = f"twelve_class_labels(words, unknown_fraction={fraction}, seed={seeds[0]})"

    def labels_for(draw_seed: int, clips: list[str] = words) -> list:
        given = list(clips)
        runs = Text(N_("{call} runs"), call=shown)
        out = call(checker, runs, lambda: function(given, fraction, draw_seed))
        if not isinstance(out, (list, tuple)) or len(out) != len(words):
            length = len(out) if hasattr(out, "__len__") else "?"
            returns = N_("{call} returns {kind} of length {n}")
            one_each = N_(
                "return a list with one entry per clip ({n} here): the clip's label or None"
            )
            checker.stop(
                Text(returns, call=shown, kind=type(out).__name__, n=length),
                Text(one_each, n=len(words)),
            )
        return list(out)

    labels = labels_for(seeds[0])
    keyword_clips = [i for i, w in enumerate(words) if w in KEYWORDS]
    other_clips = [i for i, w in enumerate(words) if w not in KEYWORDS]

    checker.topic = "keywords"
    wrong = [i for i in keyword_clips if labels[i] != words[i]]
    checker.expect(
        not wrong,
        Text(
            N_("all {n} keyword clips keep their word{example}"),
            n=len(keyword_clips),
            example=_example(wrong, words, labels),
        ),
        N_("keep every clip of the ten keywords, labelled with its own word"),
    )
    leaked = [i for i in other_clips if labels[i] in KEYWORDS]
    checker.expect(
        not leaked,
        Text(
            N_("no other word is labelled a keyword{example}"),
            example=_example(leaked, words, labels),
        ),
        Text(
            N_("label the other words' clips {unknown} (kept) or None (dropped)"),
            unknown=repr(UNKNOWN),
        ),
    )

    checker.topic = "unknown"
    strange = [i for i in other_clips if labels[i] not in (UNKNOWN, None) + tuple(KEYWORDS)]
    got = ""
    if strange:
        said = N_(" (clip {clip} got {label})")
        got = Text(said, clip=strange[0], label=repr(labels[strange[0]]))
    checker.expect(
        not strange,
        Text(
            N_("other words are labelled {unknown} or None{example}"),
            unknown=repr(UNKNOWN),
            example=got,
        ),
        Text(
            N_("label a kept other-word clip {unknown}, a dropped one None"), unknown=repr(UNKNOWN)
        ),
    )
    unknown = [i for i in other_clips if labels[i] == UNKNOWN]
    expected = round(fraction * len(keyword_clips))
    tolerance = limits("data")["unknown_tolerance"]
    whole = len(unknown) == len(other_clips)
    counted = N_(
        "{n} {unknown} clips for {keywords} keyword clips at unknown_fraction={fraction} "
        "(expected round({fraction} x {keywords}) = {expected})"
    )
    keep = N_(
        "keep round(unknown_fraction x number of keyword clips) of them, drawn at random; "
        "label the rest None"
    )
    largest = N_("every other-word clip is kept: {unknown} becomes the largest class. ")
    checker.expect(
        abs(len(unknown) - expected) <= tolerance,
        Text(
            counted,
            n=len(unknown),
            unknown=UNKNOWN,
            keywords=len(keyword_clips),
            fraction=fraction,
            expected=expected,
        ),
        Text.joined("", [Text(largest, unknown=UNKNOWN), keep]) if whole else keep,
    )
    if unknown:
        _many_words(checker, words, unknown, "")
        grouped = grouped_by_word(words)
        regrouped = labels_for(seeds[0], grouped)
        _many_words(
            checker,
            grouped,
            [i for i, w in enumerate(grouped) if w not in KEYWORDS and regrouped[i] == UNKNOWN],
            Text(N_(" of a clip list grouped by word")),
        )
    again = labels_for(seeds[0])
    checker.expect(
        again == labels,
        N_("the same seed gives the same labels"),
        N_("draw with a generator made from `seed` (random.Random(seed)), not the global one"),
    )
    other = labels_for(seeds[1])
    checker.expect(
        other != labels,
        Text(
            N_("another seed ({seed}) draws other {unknown} clips"), seed=seeds[1], unknown=UNKNOWN
        ),
        N_("make the draw depend on `seed`"),
    )


def _example(clips: list[int], words: list[str], labels: list) -> Text | str:
    """The first of `clips` as an example, its word and label; "" when there is none."""
    if not clips:
        return ""
    first = clips[0]
    said = N_(" (clip {clip}, '{word}', got {label})")
    return Text(said, clip=first, word=words[first], label=repr(labels[first]))


def _many_words(checker: Checker, words: list[str], unknown: list[int], where: str | Text) -> None:
    """The `unknown` clips of `words` hold at least half the words a random draw holds."""
    counts = {w: words.count(w) for w in OTHER_WORDS}
    distinct = len({words[i] for i in unknown})
    expected = _expected_words(counts, len(unknown))
    said = Text.counted(  # the form of "{distinct} different words": Polish "2 różne słowa"
        "the {count} {unknown} clips{where} hold {n} different word (a random draw holds "
        "about {expected:.0f})",
        "the {count} {unknown} clips{where} hold {n} different words (a random draw holds "
        "about {expected:.0f})",
        distinct,
        count=len(unknown),
        unknown=UNKNOWN,
        where=where,
        expected=expected,
    )
    checker.expect(
        distinct >= max(2, math.floor(expected / 2)),
        said,
        N_(
            "draw the kept clips at random from all other words' clips, not from one word, the "
            "first ones or one block of neighbouring clips (the notebook's clips come grouped by "
            "word): e.g. random.Random(seed).sample(their indices, count)"
        ),
    )


# ---- Task 1: silence windows -------------------------------------------------------------------


def noise_recordings(seed: int, length: int = 16000) -> list[torch.Tensor]:
    """Four float32 recordings of 2-5 windows of `length` each, every sample distinct."""
    generator = torch.Generator().manual_seed(seed)
    sizes = torch.randint(2 * length, 5 * length, (4,), generator=generator).tolist()
    return [torch.randn(size, generator=generator) * 0.1 for size in sizes]


def _slice_of(row: torch.Tensor, recordings: list[torch.Tensor]) -> tuple[int, int] | None:
    """(recording, offset) where `row` is found sample for sample, or None."""
    for k, recording in enumerate(recordings):
        row_k = row.to(recording.dtype)
        for offset in (recording == row_k[0]).nonzero().flatten().tolist():
            window = recording[offset : offset + len(row)]
            if len(window) == len(row) and torch.equal(window, row_k):
                return k, offset
    return None


def silence_windows(checker: Checker, function: Callable, seed: int = 0) -> None:
    """`function(noises, count, seed, length=16000)` (arguments passed by position) -> (count,
    length) windows, each a slice of a random recording at a random offset, from more than one
    recording, seeded."""
    checker.topic = "silence"
    rng = random.Random(f"silence-windows/{seed}")
    noises = noise_recordings(seed)
    kept = [n.clone() for n in noises]
    count = 20 if seed == 0 else rng.randint(12, 30)
    seeds = (3, 4) if seed == 0 else tuple(rng.sample(range(10**6), 2))
    short = 4000 if seed == 0 else rng.randint(1000, 8000)

    def windows(draw_seed: int, length: int | None = None) -> torch.Tensor:
        extra = () if length is None else (length,)  # by position, as the skeleton documents it
        shown = f"silence_windows(noises, count={count}, seed={draw_seed}" + (
            f", length={length})" if length else ")"
        )
        runs = Text(N_("{call} runs"), call=shown)
        out = call(checker, runs, lambda: function(noises, count, draw_seed, *extra))
        want = (count, length or 16000)
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        if got != want:
            one_tensor = N_("return one tensor {shape} = (count, length): one window per row")
            checker.stop(
                Text(N_("{call} returns {got}"), call=shown, got=got),
                Text(one_tensor, shape=want),
            )
        return out.detach().cpu()

    out = windows(seeds[0])
    checker.expect(
        True, Text(N_("windows of shape {shape} = (count, length)"), shape=(count, 16000)), ""
    )
    found = [_slice_of(row, noises) for row in out]
    missing = [i for i, where in enumerate(found) if where is None]
    not_row = Text(N_(" (not row {row})"), row=missing[0]) if missing else ""
    checker.expect(
        not missing,
        Text(N_("every window is a slice of one recording{example}"), example=not_row),
        N_(
            "cut each window as recording[offset : offset + length], sample for sample: no gain, "
            "no padding, no mixing"
        ),
    )
    places = [where for where in found if where is not None]
    recordings = len({k for k, _ in places})
    checker.expect(
        recordings >= 2,
        Text(
            N_("the windows come from {n} of the {total} recordings"),
            n=recordings,
            total=len(noises),
        ),
        N_("pick the recording at random for every window, from all of them"),
    )
    checker.expect(
        len(set(places)) >= count // 2,
        Text.counted(
            "{n} different window among {count}",
            "{n} different windows among {count}",
            len(set(places)),
            count=count,
        ),
        N_("draw a new random offset in [0, len(recording) - length] for every window"),
    )
    checker.expect(
        all(torch.equal(a, b) for a, b in zip(noises, kept, strict=True)),
        N_("the recordings are left unchanged"),
        N_("do not modify the noises in place; slice them (and .clone() if you change a window)"),
    )
    cut = windows(seeds[0], short)
    checker.expect(
        all(_slice_of(row, noises) is not None for row in cut),
        Text.counted(
            "with length={n}, the windows are slices of {n} sample",
            "with length={n}, the windows are slices of {n} samples",
            short,
        ),
        N_("use the `length` argument for the window size"),
    )
    checker.expect(
        torch.equal(windows(seeds[0]), out),
        N_("the same seed gives the same windows"),
        N_("draw with a generator made from `seed` (random.Random(seed) or torch.Generator)"),
    )
    checker.expect(
        not torch.equal(windows(seeds[1]), out),
        Text(N_("another seed ({seed}) gives other windows"), seed=seeds[1]),
        N_("make the draw depend on `seed`"),
    )


# ---- Task 2: token lengths ---------------------------------------------------------------------


def _tokenize(tokenizer: nn.Module, features: torch.Tensor, lengths: torch.Tensor):
    """(tokens, token_lengths) from `tokenizer(features, lengths)`, or a description of the output."""
    out = tokenizer(features, lengths)
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        return None, type(out).__name__
    return out, ""


def conv_tokenizer(checker: Checker, cls, seed: int = 0) -> None:
    """ConvTokenizer(n_mels, d_model, channels): (B, T, n_mels), lengths (B,) -> tokens (B, N,
    d_model), token_lengths (B,): each clip's token length is the number of tokens it gives alone."""
    d_model, channels = 16, 6
    tokenizer = build(
        checker,
        cls,
        {"n_mels": N_MELS, "d_model": d_model, "channels": channels},
        "n_mels, d_model, channels",
    )
    checker.topic = "lengths"
    rng = random.Random(f"conv-tokenizer/{seed}")
    frames = 101 if seed == 0 else rng.randint(60, 101)
    lengths = [frames, 51, 36] if seed == 0 else [frames, *rng.sample(range(20, frames - 1), 2)]
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(3, frames, N_MELS, generator=generator, dtype=torch.float64)
    for b, length in enumerate(lengths):
        features[b, length:] = 0.0
    shown = f"forward(features (3, {frames}, {N_MELS}), lengths {lengths})"
    out, what = call(
        checker,
        Text(N_("{call} runs"), call=shown),
        lambda: _tokenize(tokenizer, features, torch.tensor(lengths)),
    )
    if out is None:
        checker.stop(
            Text(N_("{call} returns {got}"), call=shown, got=what),
            N_("return (tokens, token_lengths)"),
        )
    tokens, token_lengths = out
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 3 or tokens.shape[0] != 3:
        got = tuple(getattr(tokens, "shape", ())) or type(tokens).__name__
        checker.stop(
            Text(N_("tokens of shape {shape}"), shape=got),
            Text(N_("return tokens (B, N, d_model) = {shape}"), shape=f"(3, N, {d_model})"),
        )
    checker.expect(
        tokens.shape[2] == d_model,
        Text(N_("tokens of shape {shape} = (B, N, d_model)"), shape=tuple(tokens.shape)),
        Text(
            N_("project each position to d_model={d} features (the Linear after the flatten)"),
            d=d_model,
        ),
    )
    if not isinstance(token_lengths, torch.Tensor) or tuple(token_lengths.shape) != (3,):
        got = getattr(token_lengths, "shape", type(token_lengths).__name__)
        checker.stop(
            Text(N_("token_lengths is {got}"), got=got),
            N_("return token_lengths as a tensor (B,): the valid tokens of each clip"),
        )
    n = tokens.shape[1]
    all_frames = N_("a clip of all {frames} frames has token length {length} of N = {n}")
    checker.expect(
        int(token_lengths[0]) == n,
        Text(all_frames, frames=frames, length=int(token_lengths[0]), n=n),
        Text(N_("a clip with no padding keeps all N tokens; {fix}"), fix=LENGTH_FIX),
    )
    for b, length in enumerate(lengths[1:], start=1):
        alone = call(
            checker,
            Text.counted(
                "forward on clip {b} alone ({n} frame) runs",
                "forward on clip {b} alone ({n} frames) runs",
                length,
                b=b,
            ),
            lambda b=b, length=length: _tokenize(
                tokenizer, features[b : b + 1, :length], torch.tensor([length])
            )[0],
        )
        own = alone[0].shape[1] if alone is not None else -1
        checker.expect(
            int(token_lengths[b]) == own,
            Text(
                N_("a clip of {n} frames: token length {length}, and it gives {own} tokens alone"),
                n=length,
                length=int(token_lengths[b]),
                own=own,
            ),
            LENGTH_FIX,
        )


# ---- Task 2: the token and memory budget -------------------------------------------------------


def attention_budget(checker: Checker, sizes: list[list[int]]) -> None:
    """Token and memory items from what one forward of 1-s clips ran: `sizes` holds, for each
    attention computation, [score elements per clip, keys], e.g. [H x N x N, N]. The numbers and
    sentences are the grader's own (`kws.assignments.keyword_spotting.token_budget`)."""
    from kws.author import spec_of

    budget = spec_of(__file__).module("token_budget")  # the grader's judge
    for topic, passed, what, fix in budget.budget_items(sizes):
        if topic == "build":
            checker.stop(what, fix)
        checker.topic = topic
        checker.expect(passed, what, fix)
