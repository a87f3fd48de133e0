"""Each test tier's coverage of the kit, and whether the default run holds its share.

    python .ci/tiers.py DEFAULT REST [--share 0.9]

DEFAULT and REST are coverage.py data files (or folders of them, combined here): the README's
default run, and the rest of the full run (``--full-rest``: what the default run leaves out), each
measured with ``--cov=kws``, subprocesses included (pyproject.toml's ``[tool.coverage.run]``).
The full run's lines are those of both. Printed: the lines of ``kws/`` each tier runs, with their
share of its statements; the share of the full run's lines the default run runs; the modules of
``kws/`` that no default test imports. Exit status 1 when that share is under `--share` (90 %)
or a module is never imported by the default run; 2 when a data file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent / "kws"


def executed(path: Path) -> dict[str, set[int]]:
    """{kit file, relative to the kit's folder: its lines run} of the coverage data at `path`: a
    data file, or a folder whose data files (a run's, one a process) are read together."""
    from coverage import CoverageData

    files = sorted(path.glob(".coverage*")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path}: no coverage data file (.coverage*) in it")
    lines: dict[str, set[int]] = {}
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no such coverage data file")
        data = CoverageData(basename=str(file))
        data.read()
        for measured in data.measured_files():
            name = _kit_name(measured)
            if name is not None:
                lines.setdefault(name, set()).update(data.lines(measured) or ())
    return lines


def _kit_name(measured: str) -> str | None:
    """`measured` relative to the kit's folder ("grading/cli.py"), None for a file outside it.
    A file measured in another checkout of the kit (a CI clone) counts by its path under kws/."""
    parts = Path(measured).parts
    if "kws" not in parts:
        return None
    at = len(parts) - 1 - parts[::-1].index("kws")
    return Path(*parts[at + 1 :]).as_posix() or None


def statement_lines(kit: Path = KIT) -> dict[str, list[int]]:
    """{kit file: its statements' lines}, as coverage.py counts them, for every module."""
    from coverage import Coverage

    counting = Coverage(data_file=None, config_file=False)
    found = {}
    for module in sorted(kit.rglob("*.py")):
        _, lines, _, _, _ = counting.analysis2(str(module))
        found[module.relative_to(kit).as_posix()] = lines
    return found


def compare(
    default: dict[str, set[int]], rest: dict[str, set[int]], statements: dict[str, list[int]]
):
    """(default's lines, the full run's lines, the default's share of them, the modules with
    statements that the default run never imported), counting only the lines of `statements`
    ({kit file: its statements' lines}: the kit as it is now)."""
    lines = {name: set(numbers) for name, numbers in statements.items()}
    ran = {name: default.get(name, set()) & lines[name] for name in lines}
    full = {name: ran[name] | (rest.get(name, set()) & lines[name]) for name in lines}
    done, whole = sum(map(len, ran.values())), sum(map(len, full.values()))
    never = [name for name in lines if lines[name] and not ran[name]]
    return done, whole, (done / whole if whole else 1.0), never


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("default", type=Path, help="the default run's coverage data")
    parser.add_argument("rest", type=Path, help="the rest of the full run's (--full-rest)")
    parser.add_argument("--share", type=float, default=0.9, help="the least share (0.9)")
    args = parser.parse_args(argv)
    try:
        default, rest = executed(args.default), executed(args.rest)
    except (OSError, ValueError) as error:
        print(f"tiers: {error}", file=sys.stderr)
        return 2
    statements = statement_lines()
    total = sum(map(len, statements.values()))
    ran, whole, share, never = compare(default, rest, statements)
    print(f"default run: {ran:,} lines of kws/ ({ran / total:.1%} of its {total:,} statements)")
    print(f"full run: {whole:,} lines of kws/ ({whole / total:.1%})")
    print(f"the default run runs {share:.1%} of the full run's lines (at least {args.share:.0%})")
    for name in never:
        print(f"no default test imports kws/{name}")
    if share < args.share or never:
        print("FAILED: move a test back into the default run, or a cheaper one that covers it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
