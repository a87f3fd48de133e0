"""How training runs: numeric precision, seeding, random-number state (the device: `kws.device`)."""

import contextlib
import random

import numpy as np
import torch

PRECISIONS = ("auto", "bf16", "fp32")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` means bf16 autocast on CUDA and plain fp32 elsewhere; returns ``"bf16"`` or ``"fp32"``.

    Raises:
        ValueError: an unknown precision name.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {PRECISIONS}")
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context a forward pass runs in: bf16 autocast, or nothing for fp32.

    bf16 keeps fp32's exponent range, so unlike fp16 it needs no gradient scaler.
    """
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and every GPU) random-number generators, and
    choose torch's deterministic algorithms: the same seed, on the same kind of device with the
    same torch, then gives the same run (docs/reference/devices.md, "What a seed fixes", says what a
    CPU and a GPU share and what they do not).

    On a GPU, cuDNN is kept to its deterministic algorithms and scatter-adds (the backward pass of
    indexing) sum in a fixed order; an operation that has no deterministic version there warns
    once and still runs. On the CPU torch's algorithms are deterministic already.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True, warn_only=True)
    # ... without also filling every new tensor with NaN, which only helps find reads of
    # uninitialised memory and costs a write of each allocation
    torch.utils.deterministic.fill_uninitialized_memory = False


def get_rng_state() -> dict:
    """Every global random-number state training touches, to store in a checkpoint."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what `get_rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
