"""Task 1's layer rule, judged once for the self-check and the grader.

"Fewer than max_layer_calls + 1 encoder layers run in forward": the layers that ran are counted
as the longest chain of attention computations, each fed by the one before
(`kws.tracing.trace.Trace.attention_layers`), whatever the classes are called. The notebook's
`check.task1` traces its forward and the grader's test_task1_layers_that_run reads the count the
grading child traced; both pass it here. Pure Python: the grader's process may import it.
"""

from __future__ import annotations

from kws.author import Text


def layers_that_run(calls: int, limit: int | None) -> tuple[bool, str]:
    """(passed, what) for `calls` encoder layers that ran one after another in one forward,
    against the task's `limit` (``max_layer_calls``; None: only "at least one")."""
    passed = calls >= 1 and (limit is None or calls <= limit)
    if limit is None:
        return passed, Text.counted(
            "{n} encoder layer runs in one forward",
            "{n} encoder layers run one after another in one forward",
            calls,
        )
    said = Text.counted(
        "{n} encoder layer runs in one forward (counted by its attention; limit: fewer than "
        "{limit})",
        "{n} encoder layers run one after another in one forward (counted by their attention; "
        "limit: fewer than {limit})",
        calls,
        limit=limit + 1,
    )
    return passed, said
