"""torch and torchaudio, checked to work together: the kit's modules take torchaudio from here.

torchaudio's last releases (2.11.0 and 2.11.1) load with some torch releases and not with others.
Which pairs load was measured with the registry's wheels (``benchmarks/torch_pairs.py``; its
record is ``benchmarks/results/torch_pairs.json``) and is listed once, in `PAIRS`. The rest is
read from that table or checked against it: pyproject.toml's pins (`TORCH_RANGE`,
`TORCHAUDIO_RANGE`), the fix message below, the two ends CI installs (`ENDS`; .ci/run asks
``python -m kws.compat --other-end``), the documentation's table (docs/reference/torch-pairs.md),
and tests/test_torch_resolution.py, which asks pip what it would install for each of them.

A pairing that does not load stops the first torchaudio import with a message naming the
installed versions, why they do not load, and a measured pair to install, instead of a
traceback from the dynamic loader::

    from kws.compat import torchaudio     # torchaudio, or TorchPairingError saying what to install

    python -m kws.compat                  # prints the pairing, or the message and exit status 1
    python -m kws.compat --table          # the measured pairs
    python -m kws.compat --other-end      # CI: the pair at the range's end the installed torch is not
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Pair:
    """A torch release and a torchaudio release, installed together from the registry and probed.

    Attributes:
        torch: torch's version; ``+cpu`` marks the CPU-only build, otherwise the registry's CUDA
            build.
        torchaudio: torchaudio's version.
        error: what failed, in the dynamic loader's words; None when torchaudio loads and the
            kit's features (MelSpectrogram, AmplitudeToDB) and the reference Conformer run.
    """

    torch: str
    torchaudio: str
    error: str | None = None

    @property
    def loads(self) -> bool:
        """True when the pair loads and runs."""
        return self.error is None

    def requirements(self) -> tuple[str, str]:
        """The pair as pip requirements, ``("torch==X", "torchaudio==Y")``."""
        return f"torch=={self.torch}", f"torchaudio=={self.torchaudio}"


MEASURED_ON = "2026-11-28"  # with Python 3.11 on Linux x86_64, on the CPU
UNDEFINED_SYMBOL = "libtorchaudio.so: undefined symbol: torch_exception_get_what_without_backtrace"
CUDA_MISMATCH = (
    "Detected that PyTorch and TorchAudio were compiled with different CUDA versions. "
    "PyTorch has CUDA version 13.2 whereas TorchAudio has CUDA version 13.0."
)
CPU_TORCH = "libc10_cuda.so: cannot open shared object file: No such file or directory"
# Every pair measured: each torch release of the range and the next minor release against both
# torchaudio 2.11 releases. torchaudio 2.11.1 calls a function torch 2.11 and 2.12 lack; torch
# 2.15 is built for CUDA 13.2, torchaudio 2.11.0 for 13.0; the CPU-only torch (this machine's
# find-links folder) needs a CPU torchaudio, which the registry does not have.
PAIRS = (
    Pair("2.11.0", "2.11.0"),
    Pair("2.11.0", "2.11.1", UNDEFINED_SYMBOL),
    Pair("2.12.0", "2.11.0"),
    Pair("2.12.0", "2.11.1", UNDEFINED_SYMBOL),
    Pair("2.12.1", "2.11.0"),
    Pair("2.12.1", "2.11.1", UNDEFINED_SYMBOL),
    Pair("2.13.0", "2.11.0"),
    Pair("2.13.0", "2.11.1"),
    Pair("2.14.0", "2.11.0"),
    Pair("2.14.0", "2.11.1"),
    Pair("2.14.1", "2.11.0"),
    Pair("2.14.1", "2.11.1"),
    Pair("2.15.0", "2.11.0", CUDA_MISMATCH),
    Pair("2.15.0", "2.11.1"),
    Pair("2.13.0+cpu", "2.11.0", CPU_TORCH),
    Pair("2.13.0+cpu", "2.11.1", CPU_TORCH),
)

# pyproject.toml's pins (tests/test_compat.py keeps the two the same). No torchaudio release
# loads with every torch from 2.11 to 2.15, and pip cannot pin torchaudio by torch's version, so
# the pins leave out the broken pairs as a whole: torchaudio 2.11.0, which loads with torch 2.11
# to 2.14, and torch below 2.15. A machine that has torch 2.11 or 2.12 already (a lab image, a
# pinned Colab or Gradescope runtime) keeps it on `pip install -e .` and gets a torchaudio that
# loads, without downloading another torch; torchaudio 2.11.1 would not load there.
TORCH_RANGE = ">=2.11,<2.15"
TORCHAUDIO_RANGE = "==2.11.0"
LOWEST = Pair("2.11.0", "2.11.0")  # CI's two ends (.ci/run): the range's oldest torch ...
NEWEST = Pair("2.14.1", "2.11.0")  # ... and its newest, each with the pinned torchaudio
ENDS = (LOWEST, NEWEST)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # torch's own index of CPU-only builds
# The pair a machine without a GPU installs from `CPU_INDEX` before the kit: the fix message's,
# the README's, and the one `kws gradescope` writes into the image's setup.sh
# (`setup_script`). Exact versions: the index also serves torchaudio 2.11.1, which does not
# load with torch 2.11, and the kit's install keeps an exact 2.11.0 (its ``+cpu`` build
# satisfies the pin), where a range would swap in the registry's CUDA build.
CPU_PAIR = LOWEST
SETUP_PAIR_LINE = "TORCH_PAIR=("  # setup.sh's line that holds the pair (`setup_script`)


class TorchPairingError(ImportError):
    """torchaudio cannot be loaded with the installed torch; the message says what to install."""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _release(version: str) -> str:
    """A version as `PAIRS` names it: the CUDA build's local part (``+cu130``) left out."""
    public, _, local = version.partition("+")
    return f"{public}+cpu" if local == "cpu" else public


def measured(torch_version: str, audio_version: str) -> Pair | None:
    """The measured pair of these two versions.

    Args:
        torch_version, audio_version: installed versions (a CUDA build's ``+cu130`` is ignored,
            a CPU-only build's ``+cpu`` is not).

    Returns:
        Its `Pair` in `PAIRS`, or None when that pair was not measured.
    """
    key = (_release(torch_version), _release(audio_version))
    return next((pair for pair in PAIRS if (pair.torch, pair.torchaudio) == key), None)


def advised(torch_version: str) -> Pair:
    """The pair to install where `torch_version` is installed.

    Args:
        torch_version: the installed torch's version.

    Returns:
        The same torch with the pinned torchaudio when that pair was measured to load (no torch
        to download), else `NEWEST`.
    """
    keep = measured(torch_version, LOWEST.torchaudio)
    return keep if keep is not None and keep.loads else NEWEST


def advice(torch_version: str) -> tuple[str, ...]:
    """The requirements the fix message gives pip where `torch_version` is installed.

    Args:
        torch_version: the installed torch's version.

    Returns:
        torchaudio's requirement alone when that torch loads the pinned torchaudio (pip keeps the
        installed torch: nothing to download, and no other build of that version, such as a
        ``+cpu`` one, comes in); else both requirements of the `advised` pair.
    """
    pair = advised(torch_version)
    if pair.torch == _release(torch_version):
        return (f"torchaudio=={pair.torchaudio}",)
    return pair.requirements()


def _causes(error: BaseException) -> list[str]:
    """The first line of `error` and of each error it wraps (torch wraps the loader's error)."""
    lines: list[str] = []
    while error is not None and len(lines) < 5:
        text = str(error).strip()
        lines.append(text.splitlines()[0] if text else type(error).__name__)
        error = error.__cause__ or error.__context__
    return lines


def pairing_message(error: BaseException) -> str:
    """What a user reads when `import torchaudio` fails: versions, the cause, the fix.

    Args:
        error: what `import torchaudio` raised.

    Returns:
        The message: the installed versions and the loader's words; for torchaudio built against
        a newer torch (an undefined symbol), that diagnosis; the range the kit needs; a command
        that installs a pair measured to load (for a CPU-only torch, from torch's CPU index).
    """
    torch_version, audio_version = _version("torch"), _version("torchaudio")
    causes = _causes(error)
    cpu = "+cpu" in torch_version
    build = "a CPU-only build" if cpu else "this build"
    lines = [
        f"torchaudio {audio_version} does not load with torch {torch_version} ({build}): {causes[0]}"
    ]
    symbol = next((line for line in causes if "undefined symbol" in line), None)
    if symbol is not None:
        lines.append(
            f"torchaudio {audio_version} was built against a newer torch than {torch_version} "
            f"({symbol.strip()}): the pair torch {_release(torch_version)} + torchaudio "
            f"{_release(audio_version)} does not load."
        )
    elif len(causes) > 1:
        lines.append(f"The loader says: {causes[-1]}")
    requirements = advice(torch_version)
    if cpu:  # the registry's torchaudio is a CUDA build: a CPU torch needs torch's CPU index
        requirements = CPU_PAIR.requirements()
    index = f" --index-url {CPU_INDEX}" if cpu else ""
    command = " ".join(f'"{requirement}"' for requirement in requirements)
    lines += [
        f"The kit needs torch{TORCH_RANGE} with torchaudio{TORCHAUDIO_RANGE} (the pairs measured "
        f"on {MEASURED_ON}: python -m kws.compat --table). Install a pairing that loads, then "
        "restart Python (or the notebook's runtime):",
        f"    pip install{index} {command}",
    ]
    if cpu:
        lines.append("(on a CUDA machine, leave out --index-url to get the CUDA build).")
    return "\n".join(lines)


def load_torchaudio():
    """Import torchaudio, or raise TorchPairingError saying which versions to install.

    Returns:
        The torchaudio module.
    """
    try:
        import torchaudio
    except (ImportError, OSError, RuntimeError) as error:  # RuntimeError: CUDA versions differ
        raise TorchPairingError(pairing_message(error)) from None  # the message says it all
    return torchaudio


def __getattr__(name: str):
    """``from kws.compat import torchaudio`` loads torchaudio on first use, checked; the table
    and the ranges read without it (CI, the docs)."""
    if name == "torchaudio":
        module = load_torchaudio()
        globals()["torchaudio"] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setup_script(text: str) -> str:
    """The Gradescope image's setup.sh `text` with `CPU_PAIR` on its ``TORCH_PAIR=(...)`` line:
    the one source of the pair it installs (`kws gradescope` writes every zip's so).

    Args:
        text: setup.sh as the kit's scripts hold it.

    Returns:
        The script, its pair line ``TORCH_PAIR=(--index-url CPU_INDEX "torch==X"
        "torchaudio==Y")``: pip's arguments.

    Raises:
        ValueError: the script has no such line (it is not the kit's setup.sh).
    """
    lines = text.splitlines(keepends=True)
    found = [n for n, line in enumerate(lines) if line.startswith(SETUP_PAIR_LINE)]
    if len(found) != 1:
        raise ValueError(
            f"setup.sh needs one line starting {SETUP_PAIR_LINE!r}; it has {len(found)}"
        )
    pair = " ".join(f'"{requirement}"' for requirement in CPU_PAIR.requirements())
    lines[found[0]] = f"{SETUP_PAIR_LINE}--index-url {CPU_INDEX} {pair})\n"
    return "".join(lines)


def table() -> str:
    """The measured pairs, one a line: versions, and "loads" or what failed."""
    rows = [f"measured on {MEASURED_ON} with the registry's wheels (benchmarks/torch_pairs.py)"]
    for pair in PAIRS:
        rows.append(f"torch {pair.torch:11} torchaudio {pair.torchaudio:7} {pair.error or 'loads'}")
    return "\n".join(rows)


def other_end(torch_version: str) -> Pair:
    """The end of `ENDS` an environment is not at (CI installs it in its second venv).

    Args:
        torch_version: the environment's torch.

    Returns:
        `LOWEST` where the environment has `NEWEST`'s torch, else `NEWEST`.
    """
    return LOWEST if _release(torch_version) == NEWEST.torch else NEWEST


def main(argv: list[str] | None = None) -> int:
    """Check the installed pairing (exit status 0, or 1 with what to install), or print the
    measured table (``--table``) or CI's other end as pip requirements (``--other-end``)."""
    parser = argparse.ArgumentParser(
        prog="python -m kws.compat", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--table", action="store_true", help="print the measured pairs")
    parser.add_argument(
        "--other-end", action="store_true", help="print the pair at the range's other end"
    )
    args = parser.parse_args(argv)
    if args.table:
        print(table())
        return 0
    if args.other_end:
        print(" ".join(other_end(_version("torch")).requirements()))
        return 0
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
