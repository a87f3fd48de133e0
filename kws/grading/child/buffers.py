"""Tensors of a checkpoint that training cannot have written, found next to the student's model.

An optimizer updates parameters that require gradients; nothing in training writes a buffer
(``register_buffer``) or a frozen parameter (``requires_grad=False``), except a normalization's
own bookkeeping (its running statistics). So such a tensor should hold in ``model.pt`` what the
model's constructor builds: sinusoidal positions, a mel filterbank, a causal mask. One that
differs was written by other code after construction, such as a table of the test set's
fingerprints and labels that a model answers from. `snapshot` keeps what the constructor built,
`compare_with_construction` compares it with the loaded checkpoint; the grader's parent turns
the names into a flag for a person to read (`kws.grading.carried`).

What stays out, so that honest models are never named: a normalization's bookkeeping
(`kws.counts.is_bookkeeping`); a tensor the constructor draws at random (two builds differ: a
random projection), which cannot be compared; and small 1-D float buffers (at most
`SMALL_BUFFER` values: a hand-written norm's own running statistics are updated in forward).
"""

from __future__ import annotations

from collections.abc import Callable

from kws.counts import is_bookkeeping

SMALL_BUFFER = 4096  # 1-D float buffers up to this size may be a layer's running statistics


def _untrained(model) -> dict:
    """{name: tensor} of `model`'s buffers and frozen parameters that could carry data."""
    found = dict(model.named_buffers())
    found |= {n: p for n, p in model.named_parameters() if not p.requires_grad}
    return {
        name: tensor
        for name, tensor in found.items()
        if not is_bookkeeping(name, tensor)
        and not (
            tensor.is_floating_point() and tensor.dim() <= 1 and tensor.numel() <= SMALL_BUFFER
        )
    }


def snapshot(model) -> dict:
    """Copies (on the CPU) of what the constructor put in `model`'s untrained tensors."""
    return {name: t.detach().to("cpu", copy=True) for name, t in _untrained(model).items()}


def _same(a, b) -> bool:
    import torch

    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)


def compare_with_construction(model, built: dict, rebuild: Callable[[], object]) -> dict:
    """`model`'s untrained tensors (loaded from the checkpoint) against what its constructor
    built (`built`, a `snapshot`): ``{"written": names that differ, "constructed": names that
    do not}``, both sorted; a tensor a second build (`rebuild`) draws differently is in
    neither (it cannot be compared). A constructor that cannot run twice (student code may
    refuse) leaves every changed tensor written."""
    loaded = {n: t.detach().to("cpu") for n, t in _untrained(model).items()}
    common = [n for n in built if n in loaded]
    constructed = sorted(n for n in common if _same(built[n], loaded[n]))
    changed = [n for n in common if n not in constructed]
    try:
        again = snapshot(rebuild()) if changed else {}
    except (Exception, SystemExit):
        again = built
    written = sorted(n for n in changed if n in again and _same(built[n], again[n]))
    return {"written": written, "constructed": constructed}
