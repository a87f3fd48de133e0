"""What a layer check feeds a layer and how it calls it: the check's sizes (`CHECK_SIZES`), its
seeded inputs with a padding mask (`inputs`), the padding mask as torch.nn's attention takes it
(`attention_mask`), and a layer called the way its skeleton documents it, whatever the student
named the parameters (`accepts`, `call_text`, `forward`). Published with the comparison itself as
one namespace, `kws.check.layers`.
"""

from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import torch
from torch import nn


class CheckSizes(NamedTuple):
    """The sizes of a layer check's inputs: batch B, time T, model width D, heads H, feed-forward
    width FF; all distinct, so swapped axes cannot go unnoticed."""

    B: int
    T: int
    D: int
    H: int
    FF: int


CHECK_SIZES = CheckSizes(B=2, T=5, D=12, H=3, FF=24)
"""The sizes `inputs` and `compare_layer` use: build a reference layer with the same ones.

Example:
    ```python
    B, T, D, H, FF = CHECK_SIZES
    reference = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=True)
    ```
"""
B, T, D, H, FF = CHECK_SIZES
LENGTHS = (5, 3)


# How the skeleton documents the forward of each layer a check compares: the arguments are passed
# in this order, by position, whatever the student named them.
LAYER_CALL = "forward(x, key_padding_mask=None)"


def accepts(module: nn.Module, *args: object) -> bool:
    """Whether ``module.forward`` can be called with `args` by position.

    A signature that cannot be read gets the benefit of the doubt: the call itself will tell.

    Args:
        module: the student's module.
        *args: the positional arguments to try.

    Returns:
        True when the signature takes them.

    Example:
        ```python
        takes_mask = accepts(layer, x, mask)
        ```
    """
    try:
        inspect.signature(module.forward).bind(*args)
    except TypeError:
        return False
    except ValueError:
        return True
    return True


def call_text(module: nn.Module) -> str:
    """The student's ``forward`` signature, for messages: names and defaults only.

    Args:
        module: the student's module.

    Returns:
        The text, e.g. ``"forward(feats, valid=None)"``.

    Example:
        ```python
        checker.expect(ok, f"{call_text(layer)} takes the padding mask second", fix)
        ```
    """
    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return "forward(...)"
    shown = []
    for p in parameters:
        star = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        shown.append(star + p.name + ("" if p.default is p.empty else f"={p.default!r}"))
    return f"forward({', '.join(shown)})"


def forward(module: nn.Module, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Call a layer the way its skeleton documents it, whatever the student named the parameters.

    ``module(x)``, or ``module(x, mask)`` with the padding mask second, by position (as
    ``LAYER_CALL`` or ``forward(h, padding)`` documents it).

    Args:
        module: the student's (or a reference) module.
        x: the input, (B, T, D).
        mask: the padding mask, bool (B, T), True = padded; None: call ``module(x)``.

    Returns:
        The output; the first element when the module returns a tuple.

    Example:
        ```python
        x, mask, noise = inputs()
        y = forward(layer, x, mask)  # (B, T, D)
        ```
    """
    out = module(x) if mask is None else module(x, mask)
    return out[0] if isinstance(out, (tuple, list)) else out


# torch.testing.assert_close's default (rtol, atol) per dtype. The comparison is written out


def attention_mask(
    key_padding_mask: torch.Tensor | None, heads: int, dtype: torch.dtype
) -> torch.Tensor | None:
    """What torch.nn's attention makes of a boolean key padding mask: an additive float mask.

    Pass it as ``attn_mask`` (``src_mask``, ``mask``) instead of ``key_padding_mask``: the numbers
    are the same, but torch 2.14's attention imports sympy the first time it is given a key
    padding mask, over half a CPU-second in every grading child.

    Args:
        key_padding_mask: bool (B, T), True = padded, or None.
        heads: the number of attention heads H.
        dtype: the dtype of the mask (the layer's).

    Returns:
        (B * H, T, T) of `dtype`, 0 at valid keys and -inf at padded ones; None for None.

    Example:
        ```python
        y = reference(x, src_mask=attention_mask(mask, H, x.dtype))
        ```
    """
    if key_padding_mask is None:
        return None
    B, T = key_padding_mask.shape
    scores = torch.zeros(B, 1, 1, T, dtype=dtype, device=key_padding_mask.device)
    scores = scores.masked_fill(key_padding_mask[:, None, None, :], -math.inf)  # (B, 1, 1, T)
    return scores.expand(B, heads, T, T).reshape(B * heads, T, T)  # (B * H, T, T)


def inputs(
    shape: tuple[int, int, int] = (B, T, D),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded inputs of a layer check: x, its padding mask, and large noise for the padded frames.

    The padding mask is that of lengths (5, 3): the second sequence is padded after 3 frames.

    Args:
        shape: (B, T, D); by default `CHECK_SIZES`' (2, 5, 12).

    Returns:
        (x, mask, noise): x float64 (B, T, D), mask bool (B, T) True = padded, noise float64
        (B, T, D) to write into the padded frames (an output that changes with it reads them).

    Example:
        ```python
        x, mask, noise = inputs()
        ```
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        x = torch.randn(*shape, dtype=torch.float64)
        noise = 10 * torch.randn(*shape, dtype=torch.float64)
    mask = torch.arange(shape[1]) >= torch.tensor(LENGTHS)[:, None]  # (B, T), True = padded
    return x, mask, noise
