"""Whether the grading machine has a CUDA GPU for the grading child, decided without importing
torch in the grader's own process (torch alone would take 220-520 MB of the 768 MB Gradescope's
default container gives a whole grading).

A machine without an NVIDIA device node (``/dev/nvidia0``, or WSL's ``/dev/dxg``) has none: that
is all Gradescope's machines and most laptops, and costs a directory listing. Where there is one,
a short process asks torch itself (``torch.cuda.is_available()``), once per grader.
"""

from __future__ import annotations

import functools
import glob
import subprocess
import sys

DEVICE_NODES = ("/dev/nvidia[0-9]*", "/dev/dxg")
_ASK_TORCH = "import torch; print(torch.cuda.is_available())"


@functools.cache
def cuda_available() -> bool:
    """True when torch, run by this interpreter, sees a CUDA GPU here (as the grading child will)."""
    if not any(glob.glob(pattern) for pattern in DEVICE_NODES):
        return False
    try:
        asked = subprocess.run(
            [sys.executable, "-c", _ASK_TORCH], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return asked.stdout.strip() == "True"
