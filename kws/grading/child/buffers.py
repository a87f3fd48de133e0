"""Tensors of a checkpoint that training cannot have written, found next to the student's model.

Nothing in training writes a buffer or a frozen parameter, so ``model.pt`` should hold what the
constructor builds (`snapshot`); one that differs (`compare_with_construction`) was written by
other code, e.g. a table of the test set, and the parent flags it (`kws.grading.judge.carried`).
Left out, so that honest models are never named: the running statistics a torch normalization
layer owns, and a tensor the constructor draws at random (it cannot be compared).
"""

from __future__ import annotations

from collections.abc import Callable

from kws.counts import is_bookkeeping


def _norm_statistics(model) -> set[str]:
    """Names of the running statistics of `model`'s torch normalization layers (BatchNorm,
    InstanceNorm): bookkeeping only where such a layer owns it, not wherever the name is used."""
    from torch.nn.modules.batchnorm import _NormBase

    return {
        f"{prefix}.{name}" if prefix else name
        for prefix, module in model.named_modules()
        if isinstance(module, _NormBase)
        for name, tensor in module.named_buffers(recurse=False)
        if is_bookkeeping(name, tensor)
    }


def _untrained(model) -> dict:
    """{name: tensor} of `model`'s buffers and frozen parameters that could carry data."""
    found = dict(model.named_buffers())
    found |= {n: p for n, p in model.named_parameters() if not p.requires_grad}
    statistics = _norm_statistics(model)
    return {name: tensor for name, tensor in found.items() if name not in statistics}


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
