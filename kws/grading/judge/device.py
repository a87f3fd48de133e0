"""Where the grading child runs, decided without importing torch in the grader's own process
(torch alone would take 220-520 MB of the 768 MB Gradescope's default container gives a whole
grading): a machine without a GPU's device file (`kws.grading.sandbox.gpu.device_files`) has no
GPU; where there is one, a short process asks torch itself, once per grader.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import subprocess
import sys

from kws.device import DeviceName
from kws.grading.sandbox.gpu import device_files

CPU = DeviceName("cpu")
CUDA = DeviceName("cuda")
_ASK_TORCH = "import torch; print(torch.cuda.is_available())"


@functools.cache
def cuda_available() -> bool:
    """True when torch, run by this interpreter, sees a CUDA GPU here (as the grading child will)."""
    if not device_files():
        return False
    try:
        asked = subprocess.run(
            [sys.executable, "-c", _ASK_TORCH], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return asked.stdout.strip() == "True"


def grading_device(name: str) -> DeviceName:
    """The device a grading option names (``--retrain-device``): the CPU (``cpu``, or ``cpu:0``,
    the CPU named as a GPU is: the tests' stand-in for ``cuda``) or a CUDA GPU (``cuda``,
    ``cuda:N``); `argparse.ArgumentTypeError` with the choices for anything else."""
    with contextlib.suppress(ValueError):
        device = DeviceName.parse(name)
        if device.is_cpu or device.is_cuda:
            return device
    raise argparse.ArgumentTypeError(
        f"{name!r} is not a grading device: use cpu, cpu:0, cuda or cuda:N"
    )
