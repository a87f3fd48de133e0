"""What ``kws reference`` sets in a spec besides the tiers, from the same runs:

- ``[public_gap]``: on data with a private test set, how far the honest reference's accuracy on
  a sample of the public test set led its accuracy on the private one, per dataset: the largest
  gap of the seeds, plus `GAP_MARGIN`, rounded up. The carried-accuracy flag
  (`kws.grading.judge.public_gap`) allows that much on this course's private set, in place of the
  kit's figure measured on real speech;
- ``[grading]``: the CPU seconds and peak memory of grading the first seed's hand-in alone
  (`kws.demo.measure.measure_grading`), for the size of the test set graded, from which
  ``kws gradescope`` sizes the zip's limits.

Both are written only with ``--write-tiers``, each entry's line replaced where it was
(`write_entry`, which says what it replaced).
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kws.demo.runs import Run
    from kws.spec import Spec

GAP_MARGIN = 0.03  # above the largest honest gap of the seeds: another seed's gap stays below


def shown(path: Path) -> str:
    """`path` as the user typed it: relative to the working directory when under it."""
    path = Path(path)
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def write_entry(spec: Spec, table: str, key: str, value: str, note: str = "") -> str | None:
    """Set ``key = value`` in `spec`'s ``[table]`` (its line replaced, or added at the end of the
    table; the table made where there is none), the rest of the file as it was; written whole.

    Args:
        spec: the assignment (its ``spec.toml`` is rewritten).
        table: the table's name (``tiers``, ``public_gap``, ``grading``).
        key: the entry's key.
        value: its TOML value, as written.
        note: a comment after it (none when empty).

    Returns:
        The line replaced, or None when `key` was not there.
    """
    lines = spec.path.read_text(encoding="utf-8").splitlines()
    line = f"{key} = {value}" + (f"  # {note}" if note else "")
    pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
    header = next((i for i, t in enumerate(lines) if re.match(rf"^\s*\[{table}\]", t)), None)
    replaced = None
    if header is None:
        lines += ["", f"[{table}]  # kws reference", line]
    else:
        end = next(
            (i for i in range(header + 1, len(lines)) if re.match(r"^\s*\[", lines[i])),
            len(lines),
        )
        found = next((i for i in range(header + 1, end) if pattern.match(lines[i])), None)
        if found is not None:
            replaced, lines[found] = lines[found].strip(), line
        else:
            while end > header + 1 and not lines[end - 1].strip():
                end -= 1
            lines.insert(end, line)
    with tempfile.NamedTemporaryFile("w", dir=spec.folder, delete=False, suffix=".partial") as out:
        out.write("\n".join(lines) + "\n")
    Path(out.name).replace(spec.path)
    return replaced


def _gap_lines(spec: Spec, runs: list[Run], dataset: str, write: bool) -> list[str]:
    gaps = [gap for run in runs if not run.tenth for gap in run.gaps.values()]
    if not gaps:
        return []
    allowed = math.ceil((max(0.0, max(gaps)) + GAP_MARGIN) * 100 - 1e-9) / 100
    lines = [f"  public test set vs private: the reference's public accuracy leads by "
             f"{' '.join(f'{g:+.4f}' for g in gaps)} (largest {max(gaps):.4f}) -> the "
             f"carried-accuracy flag allows {allowed:g} on {dataset}"]  # fmt: skip
    if write:
        note = f"kws reference: largest honest gap of {len(gaps)} run(s) + {GAP_MARGIN:g}"
        replaced = write_entry(spec, "public_gap", dataset, f"{allowed:g}", note)
        lines.append(f"  wrote [public_gap] {dataset} = {allowed:g} into {shown(spec.path)}"
                     + (f" (was: {replaced})" if replaced else ""))  # fmt: skip
    return lines


def _cost_lines(spec: Spec, run: Run, data: Path, options: list[str], write: bool) -> list[str]:
    from kws.demo.measure import measure_grading
    from kws.grading.command import grader_command, grader_environment
    from kws.grading.testsets.layouts import layout_of

    with tempfile.TemporaryDirectory(prefix="kws-measure-") as temporary:
        results = Path(temporary) / "results.json"
        command = grader_command(run.folder, data, results, threads=1,
                                 options=["--assignment", spec.name, *options])  # fmt: skip
        cost = measure_grading(command, grader_environment())
    size = layout_of(spec).test_set_size(data)
    if cost.returncode not in (0, 1) or not size or cost.cpu_seconds <= 0:
        return [f"  grading time and memory: not measured (the grading of {run.folder} ended "
                f"with exit code {cost.returncode}); kws gradescope cannot size {spec.name}"]  # fmt: skip
    memory = "memory not measured" if cost.peak_mib is None else f"peak {cost.peak_mib} MiB"
    lines = [f"  grading {run.name} alone: {cost.cpu_seconds:g} CPU seconds, {memory}, on a "
             f"test set of size {size:,} (this machine's torch; one child thread)"]  # fmt: skip
    if write:
        values = {"cpu_seconds": f"{cost.cpu_seconds:g}", "measured_size": str(size)}
        if cost.peak_mib is not None:
            values["peak_mib"] = str(cost.peak_mib)
        for key, value in values.items():
            write_entry(spec, "grading", key, value)
        lines.append(f"  wrote [grading] into {shown(spec.path)}: kws gradescope sizes {spec.name} "
                     "from it")  # fmt: skip
    else:
        lines.append("  (--write-tiers writes it as the spec's [grading], which kws gradescope "
                     "sizes the zip from)")  # fmt: skip
    return lines


def calibrate(
    spec: Spec, runs: list[Run], data: Path, dataset: str, *, write: bool, options: list[str]
) -> list[str]:
    """Measure `spec`'s honest public-private gap from `runs` (graded) and the cost of grading
    the first seed's hand-in (graded again, alone, with the grader `options`); write them into
    the spec with `write`. Returns the lines that say what was measured and written."""
    first = next(run for run in runs if not run.tenth)
    return _gap_lines(spec, runs, dataset, write) + _cost_lines(spec, first, data, options, write)
