"""torch and torchaudio, checked to work together: the kit's modules take torchaudio from here.

torchaudio's last release (2.11) is built against torch's stable ABI, so a newer torch may load it
or not. Measured with the registry's wheels (CUDA 13.0 builds): torch 2.11, 2.12, 2.13 and 2.14
load torchaudio 2.11; torch 2.15 (CUDA 13.2) does not ("compiled with different CUDA versions"),
nor does the CPU wheel of torch 2.13 with the registry's CUDA torchaudio ("libc10_cuda.so: cannot
open shared object file"; a CPU torch needs the CPU torchaudio of download.pytorch.org/whl/cpu).
A pairing that does not load stops the import with a message naming the
installed versions and what to install, instead of a traceback from the dynamic loader::

    from kws.compat import torchaudio

    python -m kws.compat    # prints the pairing, or the message and exit status 1
"""

from __future__ import annotations

import sys
from importlib import metadata

# The range pyproject.toml declares and CI tests at both ends (keep the three in sync).
TORCH_RANGE = ">=2.11,<2.15"
TORCHAUDIO_RANGE = ">=2.11,<2.12"
KNOWN_GOOD = "2.11"  # the pairing the kit is developed with: torch 2.11.* + torchaudio 2.11.*


class TorchPairingError(ImportError):
    """torchaudio cannot be loaded with the installed torch; the message says what to install."""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def pairing_message(error: BaseException) -> str:
    """What a user reads when `import torchaudio` fails: versions, the cause, the fix."""
    torch_version, audio_version = _version("torch"), _version("torchaudio")
    cpu = "+cpu" in torch_version
    build = "a CPU-only build" if cpu else "this build"
    index = " --index-url https://download.pytorch.org/whl/cpu" if cpu else ""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"torchaudio {audio_version} does not load with torch {torch_version} ({build}): {first}\n"
        f"The kit needs torch{TORCH_RANGE} with torchaudio{TORCHAUDIO_RANGE}. Install a pairing "
        f"that loads, then restart Python (or the notebook's runtime):\n"
        f'    pip install{index} "torch=={KNOWN_GOOD}.*" "torchaudio=={KNOWN_GOOD}.*"\n'
        "(on a CUDA machine, leave out --index-url to get the CUDA build)."
    )


def load_torchaudio():
    """Import torchaudio, or raise TorchPairingError saying which versions to install."""
    try:
        import torchaudio
    except (ImportError, OSError, RuntimeError) as error:  # RuntimeError: CUDA versions differ
        raise TorchPairingError(pairing_message(error)) from None  # the message says it all
    return torchaudio


def main() -> int:
    """Print the installed pairing and return 0, or print what to install and return 1."""
    try:
        audio = load_torchaudio()
    except TorchPairingError as error:
        print(error, file=sys.stderr)
        return 1
    import torch

    print(f"torch {torch.__version__} and torchaudio {audio.__version__} load together")
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    torchaudio = load_torchaudio()
