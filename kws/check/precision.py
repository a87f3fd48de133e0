"""The checks' precision, followed where the student's code fixes its own.

The numeric checks compare a student's class with its reference in float64, so that a tolerance
of 1e-7 tells a real bug from rounding. A class that casts back to float32 itself (a sum done in
float64 and a hard-coded ``.float()``, written for a model trained in float32) then meets the
checks' float64 tensors and stops with a dtype error that says nothing about the task. Such a
check is run again in float32 (`in_float32`), with float32's tolerances: the cast is no
failure, and what still fails there is the class's own.
"""

from __future__ import annotations

import re

import torch
from torch.overrides import TorchFunctionMode

# What torch says when two dtypes meet where one is expected.
DTYPE_ERROR = re.compile(
    r"dtype|scalar type (Float|Double)|Float and Double|Double and Float|(Float|Double) did not "
    r"match (Float|Double)"  # torch.allclose's
)


class in_float32(TorchFunctionMode):  # noqa: N801 - used as `with in_float32():`
    """Every float64 the block asks torch for becomes float32: ``dtype=torch.float64`` arguments,
    ``.double()`` and ``.to(torch.float64)``, so a check written in float64 runs in float32."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if kwargs.get("dtype") is torch.float64:
            kwargs["dtype"] = torch.float32
        if func is torch.Tensor.double:
            func = torch.Tensor.float
        elif func in (torch.Tensor.to, torch.Tensor.type):
            args = tuple(torch.float32 if a is torch.float64 else a for a in args)
        return func(*args, **kwargs)


def is_dtype_error(text: str) -> bool:
    """Whether a failed item's fix reports two dtypes meeting (a raised RuntimeError)."""
    return "raised" in text and bool(DTYPE_ERROR.search(text))
