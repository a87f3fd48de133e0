"""Task 5's rules, judged once for the self-check and the grader: the model's size and no
ready-made Transformer.

The size is every tensor of every dtype in the model's state dict (its parameters, and buffers
such as the front-end's mel filterbank: a buffer can be trained and saved like a parameter, and
an integer tensor can hold weights as bit patterns) but a normalization's bookkeeping
(`kws.params.is_weight`, `kws.counts.is_bookkeeping`): the notebook's self-check counts
the live model's, the grader the submitted ``model.pt``, read in its own process.

"No ready-made Transformer" is judged on the library layers the tracer saw run in forward
(`kws.tracing.probes`: torch.nn's Transformer layers and attention, timm's modules, the kit's
models). The kit's encoder layers are the notebook's own skeleton, as in notebook 01 (notebook 02
is where students write them), so they are allowed; any other kit model is not (the kit's
PatchTransformer would do Tasks 1 to 3 for the student). Pure Python on the numbers and names
given: the grader's process may import it.
"""

from __future__ import annotations

from kws.author import N_, Text

# The kit's classes the notebook's encoder is built from, as the tracer names them.
KIT_ENCODER = (
    "kws.models.TransformerEncoder",
    "kws.models.TransformerEncoderLayer",
    "kws.models.MultiHeadSelfAttention",
)


def size_within(count: int, limit: int, text: str) -> tuple[bool, str, str]:
    """(passed, what, fix) for a model of `count` weights (`text`: the count as the course
    prints it, "318.47k") against the task's `limit` (``max_parameters``)."""
    return (
        count <= limit,
        Text(
            N_("The model holds {text} weights (limit: {limit:g}k, KWT-1's size)"),
            text=text,
            limit=limit / 1000,
        ),
        N_(
            "make it smaller: a narrower d_model or dim_feedforward, fewer layers, or larger "
            "patches (a patch's projection holds d_model x pf x pt weights)"
        ),
    )


def ready_made(forbidden: list[str]) -> list[str]:
    """The entries of `forbidden` (the tracer's "name (where)") that the task forbids: all but
    the kit's encoder layers."""
    return [entry for entry in forbidden if entry.split(" (", 1)[0] not in KIT_ENCODER]


def no_ready_made(forbidden: list[str]) -> tuple[bool, str, str]:
    """(passed, what, fix) for the library layers (`forbidden`, as the tracer names them) that
    ran in one forward."""
    found = ready_made(forbidden)
    return (
        not found,
        Text(
            N_(
                "no ready-made Transformer in forward: no torch.nn Transformer or attention "
                "layer, no timm module, no kws.models model but the encoder{found}"
            ),
            found=Text(N_(" (found {name})"), name=found[0]) if found else "",
        ),
        N_(
            "build the model from your own classes and the skeleton's encoder (the kit's "
            "TransformerEncoder), not a library's Transformer"
        ),
    )
