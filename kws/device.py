"""One device, however it is named.

``"cuda"``, ``"cuda:0"``, ``torch.device("cuda")`` and the device of a tensor placed there are the
same GPU, but torch compares devices as they are written: ``torch.device("cuda") !=
torch.device("cuda:0")``, and a tensor moved to ``"cuda"`` reports ``cuda:0``. So the kit
resolves every device it is given once, to what a tensor placed there reports
(`resolve_device`), and compares only resolved devices: a check such as "the augmentation is on
the batches' device" then holds however the user named the device.

The CPU has the same mismatch the other way round: ``"cpu:0"`` names the device a tensor reports
as ``cpu``. That is the CPU stand-in for a GPU named without its index: every path that compares
devices is tested with ``"cpu:0"`` on a machine without a GPU (``tests/test_device.py``).
"""

from __future__ import annotations

import os

import torch


def resolve_device(device: str | int | torch.device = "auto") -> torch.device:
    """The device as a tensor placed there reports it: ``"auto"`` is CUDA when a GPU is visible,
    else the CPU; ``"cuda"`` is ``cuda:0`` (the current GPU); ``"cpu:0"`` is ``cpu``.

    Args:
        device: ``"auto"``, a device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...), a GPU's
            number, or a ``torch.device``.

    Returns:
        the resolved ``torch.device``; two names of one device resolve to equal devices.

    Raises:
        ValueError: not a device's name, CUDA asked for where no GPU is visible, or a GPU's number
            past the last one.
    """
    if isinstance(device, str) and device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        requested = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    if requested.type == "cuda":
        # cuBLAS's deterministic workspace (`seed_everything`), read when its first handle is made
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} asks for CUDA but no GPU is visible; use device='auto' or 'cpu'"
            )
        count = torch.cuda.device_count()
        if requested.index is not None and requested.index >= count:
            raise ValueError(
                f"device={device!r}: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}"
            )
    try:
        return torch.empty(0, device=requested).device
    except RuntimeError as error:  # e.g. a backend this build of torch lacks ("mps", "xpu")
        raise ValueError(f"device={device!r} cannot hold a tensor here: {error}") from None
