"""A traced forward pass held against the graded one: the same computation, or why not.

The probes (`kws.tracing.probes`) trace a model on the very batches whose untraced outputs were
graded, each under the same seeds (`kws.tracing.determinism`), and compare: equal outputs mean
the structure traced is the structure graded. Where they differ, `unsteady` tells a model that
is not one computation (randomness left on in eval, state kept between calls: an honest
mistake, named) from one that computes something else while watched (the evidence a tampering
verdict needs).
"""

from __future__ import annotations

import torch
from torch import nn

from kws.i18n import N_, Text
from kws.tracing.determinism import random_draws, seeded


def untraced_output(model: nn.Module, inputs):
    """`model(*inputs)` in eval mode without gradients, with no observer attached."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(*inputs)
    finally:
        model.train(was_training)


def logits_of(output):
    """A model's scores: its output, or the output's first element."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _same(a: torch.Tensor, b: torch.Tensor, exact: bool) -> bool:
    """Equal (bit for bit, or within float rounding), NaN where the other has NaN."""
    if exact:
        nan = torch.isnan(a)
        return torch.equal(nan, torch.isnan(b)) and torch.equal(a[~nan], b[~nan])
    return torch.allclose(a, b, rtol=1e-3, atol=1e-3, equal_nan=True)


def traced_mismatch(traced, untraced, exact: bool = True) -> str | None:
    """Why the traced output differs from the untraced one on the same inputs; None if equal.

    On the CPU a forward pass under the same seeds is deterministic, so they must be equal bit for
    bit; `exact=False` (the untraced run was on a GPU) allows float rounding (1e-3 relative).
    NaN matches NaN: a model that outputs NaN does so traced or not.
    """
    traced, untraced = logits_of(traced), logits_of(untraced)
    if not isinstance(traced, torch.Tensor) or not isinstance(untraced, torch.Tensor):
        said = N_("it returned {traced} traced and {untraced} untraced")
        return Text(said, traced=type(traced).__name__, untraced=type(untraced).__name__)
    untraced = untraced.detach().to("cpu", traced.dtype)
    if traced.shape != untraced.shape:
        said = N_("shape {traced} traced and {untraced} untraced")
        return Text(said, traced=tuple(traced.shape), untraced=tuple(untraced.shape))
    if _same(traced, untraced, exact):
        return None
    difference = (traced - untraced).abs().nan_to_num(float("inf")).max().item()
    return Text(N_("its outputs differ by up to {difference:.3g}"), difference=difference)


def not_finite(output) -> str | None:
    """What of a model's output is NaN or infinite ("NaN in 3 of 8 rows"); None when all finite."""
    logits = logits_of(output)
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        return None
    bad = ~torch.isfinite(logits)
    if not bad.any():
        return None
    kind = "NaN" if torch.isnan(logits).any() else "infinite values"
    rows = int(bad.flatten(1).any(dim=1).sum()) if logits.ndim > 1 else int(bad.sum())
    return f"{kind} in {rows} of {len(logits)} rows"


def _largest_difference(a, b) -> float:
    """max |a - b| of two outputs' logits (NaN read as 0), inf when they are not alike."""
    a, b = logits_of(a), logits_of(b)
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape:
        return float("inf")
    b = b.detach().to("cpu", a.dtype)
    return (a.nan_to_num(0.0) - b.nan_to_num(0.0)).abs().max().item() if a.numel() else 0.0


# More untraced passes than two, and a margin on their spread: for randomness no seed fixes (a
# generator seeded by the OS), a traced pass is one more draw, and one scalar of noise puts it
# beyond twice the spread of three draws one time in eleven, beyond four times that of five draws
# one time in 1,200 (simulated with Gaussian draws); logits of many classes and inputs do better.
EXTRA_PASSES, SPREAD_MARGIN = 4, 4.0


def unsteady(model, inputs, untraced, traced, seed: int, exact: bool) -> str | None:
    """Why `model`'s traced output differs from its graded one without its knowing it is traced,
    from `EXTRA_PASSES` more untraced passes under the graded pass's `seed`: None (the
    difference is the model's doing while watched or graded) when those agree with each other,
    or when the traced output is farther from the graded one than `SPREAD_MARGIN` times the
    spread of the untraced passes (more than its own randomness explains); else the cause: the
    randomness it draws in eval mode, named where it is drawn, or state kept between calls or
    randomness no seed fixes."""
    extra = []
    for _ in range(EXTRA_PASSES):
        with seeded(seed):
            extra.append(untraced_output(model, inputs))
    if all(traced_mismatch(output, extra[0], exact) is None for output in extra[1:]):
        return None
    passes = [untraced, *extra]
    spread = max(_largest_difference(a, b) for i, a in enumerate(passes) for b in passes[i + 1 :])
    if not _largest_difference(traced, untraced) <= SPREAD_MARGIN * spread:
        return None
    draws = random_draws(model, inputs if isinstance(inputs, tuple) else (inputs,))
    if draws:
        return Text(N_("it draws random numbers in eval mode: {draws}"), draws="; ".join(draws))
    return Text(
        N_(
            "two passes under the same seeds differ: it keeps state between calls (on self or "
            "elsewhere) or draws random numbers that no seed fixes"
        )
    )
