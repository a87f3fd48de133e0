"""The one place the grader's command line is built: `kws grade`, `kws demo` and the Gradescope
autograder all run the hidden grader as

    python -m pytest GRADER -q -p no:cacheprovider --submission DIR --data DIR --results FILE
        [--hide PATH ...] [--assignment NAME --dataset NAME --tiers FILE ...]

where GRADER is `GRADER_DIR`, the grader's pytest folder (its conftest and graded tests). Every
path is made absolute here, so the command means the same from any working directory. The
Gradescope autograder's shell script runs it through this module's command line:

    python -m kws.grading.command --submission DIR --data DIR --results FILE [grader options]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

GRADER_DIR = Path(__file__).resolve().parents[2] / "grader"  # the checkout's grader/
# No caches written into the kit, and none of the instructor's own pytest plugins: random order,
# benchmarks or hypothesis could change how the grader runs, and loading them costs every
# student's grading a second or two.
GRADER_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def grader_folder(grader: Path | None = None) -> Path:
    """`grader` (default: `GRADER_DIR`), resolved; FileNotFoundError naming the fix without it."""
    folder = Path(grader or GRADER_DIR).resolve()
    if not folder.exists():
        raise FileNotFoundError(
            f"{folder} is missing: the hidden grader ships with the kit's repository, not the "
            "wheel; install the kit from a clone (pip install -e .)"
        )
    return folder


def grader_command(
    submission: Path,
    data: Path,
    results: Path,
    *,
    grader: Path | None = None,
    hide: list[Path] = (),
    options: list[str] = (),
    python: str = sys.executable,
) -> list[str]:
    """The argument list that grades `submission` against `data` into `results`.

    Args:
        grader: the grader folder or one graded test file (default: `GRADER_DIR`).
        hide: more paths the grading child must not read (``--hide``).
        options: more grader options, e.g. ``["--assignment", "speaker_id"]``, passed as given.
        python: the interpreter to run pytest with.
    """
    command = [python, "-m", "pytest", str(grader_folder(grader)), "-q", "-p", "no:cacheprovider"]
    paths = {"--submission": submission, "--data": data, "--results": results}
    command += [
        part for option, path in paths.items() for part in (option, str(Path(path).resolve()))
    ]
    command += [part for path in hide for part in ("--hide", str(Path(path).resolve()))]
    return command + list(options)


def grader_environment() -> dict[str, str]:
    """This process's environment with `GRADER_ENV` for the grader's pytest process."""
    return os.environ | GRADER_ENV


def main(argv: list[str] | None = None) -> int:
    """Grade one submission with the grader's command; the grader's exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m kws.grading.command",
        description="Run the hidden grader on one submission (other options go to the grader).",
    )
    for name in ("--submission", "--data", "--results"):
        parser.add_argument(name, type=Path, required=True)
    args, options = parser.parse_known_args(argv)
    command = grader_command(args.submission, args.data, args.results, options=options)
    return subprocess.run(command, env=grader_environment()).returncode


if __name__ == "__main__":
    sys.exit(main())
