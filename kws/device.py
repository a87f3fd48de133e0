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

What a device *is* (the CPU or a GPU) needs no torch: `DeviceName` reads a name as written, so
the grader's own process, which never imports torch, decides by the same rule as the kit
(``cpu`` and ``cpu:0`` are the CPU, ``cuda`` and ``cuda:1`` a GPU). This module imports torch
only when `resolve_device` runs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

_NAME = re.compile(r"(?P<type>[a-z][a-z0-9_]*)(?::(?P<index>\d+))?")


def _not_a_device(name: object) -> ValueError:
    return ValueError(f"device={name!r} is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:N'")


@dataclass(frozen=True)
class DeviceName:
    """A device as it was named, read without torch: its type and the index written, if any.

    ``str()`` gives the name back as written (``cpu:0`` stays ``cpu:0``, the CPU stand-in for a
    GPU named with its index), so it can be handed on to a process that resolves it
    (`resolve_device`).

    Attributes:
        type: ``"cpu"``, ``"cuda"``, or another of torch's device types (``"mps"``, ...).
        index: the number after the colon, None when the name has none.

    Example:
        ```python
        DeviceName.parse("cpu:0").is_cpu      # True: the CPU, however it is named
        str(DeviceName.parse("cuda"))         # "cuda"
        ```
    """

    type: str
    index: int | None = None

    @classmethod
    def parse(cls, name: str | DeviceName) -> DeviceName:
        """The device `name` names (``"cpu"``, ``"cpu:0"``, ``"cuda"``, ``"cuda:1"``, ...).

        Raises:
            ValueError: not a device's name (``"auto"`` is a choice `resolve_device` makes,
                not a device).
        """
        if isinstance(name, DeviceName):
            return name
        found = _NAME.fullmatch(name) if isinstance(name, str) else None
        if found is None or found["type"] == "auto":
            raise _not_a_device(name)
        index = found["index"]
        return cls(found["type"], int(index) if index is not None else None)

    @property
    def is_cpu(self) -> bool:
        """True for the CPU, whatever index its name carries (``cpu`` and ``cpu:0``)."""
        return self.type == "cpu"

    @property
    def is_cuda(self) -> bool:
        """True for a CUDA GPU (``cuda``, ``cuda:N``): what needs the NVIDIA driver's files."""
        return self.type == "cuda"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"


def resolve_device(device: str | int | DeviceName | torch.device = "auto") -> torch.device:
    """The device as a tensor placed there reports it: ``"auto"`` is CUDA when a GPU is visible,
    else the CPU; ``"cuda"`` is ``cuda:0`` (the current GPU); ``"cpu:0"`` is ``cpu``.

    Args:
        device: ``"auto"``, a device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...) or its
            `DeviceName`, a GPU's number, or a ``torch.device``.

    Returns:
        the resolved ``torch.device``; two names of one device resolve to equal devices.

    Raises:
        ValueError: not a device's name, CUDA asked for where no GPU is visible, or a GPU's number
            past the last one.
    """
    import torch

    if isinstance(device, str) and device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if isinstance(device, str | DeviceName):
        device = str(DeviceName.parse(device))
    try:
        requested = torch.device(device)
    except (RuntimeError, TypeError):
        raise _not_a_device(device) from None
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
