"""Notebook 01, Task 2: the token and attention-memory budget of what a model ran.

Neutral ground: the notebook's self-check (`kws.assignments.keyword_spotting.keyword_checks`) and the hidden grader
(graded_tests/test_01_tasks.py, from the sizes the grading child traced) judge the same numbers with
the same sentences, and neither side imports the other.
"""

from __future__ import annotations

from kws.author import N_, Text, spec_of


def budget_items(sizes: list[list[int]]) -> list[tuple[str, bool, str, str]]:
    """[(topic, passed, what, fix)] for "tokens" and "memory", from `sizes`: for each attention
    computation of one forward of 1-s clips, [score elements per clip, keys] (H x N x N, N).
    Empty `sizes` (no attention ran) gives one failed "build" item."""
    rules = spec_of(__file__).tasks["tokens"].limits  # this folder's spec.toml
    if not sizes:
        return [
            (
                "build",
                False,
                N_("an attention computation runs in forward"),
                N_("run your Transformer encoder on the tokens in forward"),
            )
        ]
    tokens = max(n for _, n in sizes)
    batch = rules["attention_batch"]
    mib = sum(elements for elements, _ in sizes) * batch * 4 / 2**20
    written, budget = f"{tokens:,}", f"{rules['max_tokens']:,}"  # `tokens` picks the form
    return [
        (
            "tokens",
            tokens <= rules["max_tokens"],
            Text.counted(
                "{n} token (CLS included) for one second of audio (budget: {budget})",
                "{n} tokens (CLS included) for one second of audio (budget: {budget})",
                tokens,
                n=written,
                budget=budget,
            ),
            N_(
                "make fewer tokens: stride in both time and frequency, and flatten frequency x "
                "channels into each token instead of making every mel bin a token"
            ),
        ),
        (
            "memory",
            mib <= rules["max_attention_mib"],
            Text(
                N_(
                    "attention maps of a training batch of {batch} clips: {mib} MiB over {n} "
                    "attention computations (budget: {budget} MiB)"
                ),
                batch=batch,
                mib=f"{mib:,.1f}",
                n=len(sizes),
                budget=f"{rules['max_attention_mib']:,}",
            ),
            N_("fewer tokens (memory grows with N²), or fewer layers x heads"),
        ),
    ]
