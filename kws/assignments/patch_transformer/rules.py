"""Task 5's rules, judged once for the self-check and the grader: the model's size and "from
scratch".

The size is every floating tensor of the model's state dict (its parameters, and buffers such as
the front-end's mel filterbank: a buffer can be trained and saved like a parameter) but a
normalization's running statistics (`kws.params.is_weight`): the notebook's self-check counts
the live model's, the grader the submitted ``model.pt``, read in its own process. "From
scratch" is what the tracer saw run in forward (`kws.tracing.probes`: torch.nn's Transformer
layers and attention, the kit's models, timm's). Pure Python on the numbers and names given: the
grader's process may import it.
"""

from __future__ import annotations


def size_within(count: int, limit: int, text: str) -> tuple[bool, str, str]:
    """(passed, what, fix) for a model of `count` weights (`text`: the count as the course
    prints it, "318.47k") against the task's `limit` (``max_parameters``)."""
    return (
        count <= limit,
        f"The model holds {text} weights (limit: {limit / 1000:g}k, KWT-1's size)",
        "make it smaller: a narrower d_model or dim_feedforward, fewer layers, or larger patches "
        "(a patch's projection holds d_model x pf x pt weights)",
    )


def from_scratch(forbidden: list[str]) -> tuple[bool, str, str]:
    """(passed, what, fix) for the library layers (`forbidden`, as the tracer names them) that
    ran in one forward."""
    return (
        not forbidden,
        "written from scratch: no torch.nn Transformer or attention layer, no kws.models or timm "
        "model runs in forward" + (f" (found {forbidden[0]})" if forbidden else ""),
        "use the notebook's own Encoder (its attention written out), not a library's",
    )
