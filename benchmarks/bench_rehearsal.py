"""How long `kws rehearse` takes an instructor on the kit's example course
(docs/tutorial/course.toml): run in a fresh folder as the tutorial runs it, twice. The first run
makes the synthetic class (the reference notebooks on the tiny data), grades it and plays the
term; the second keeps the class and its grading and plays the rest again. Prints each run's
wall seconds and phases with the machine's load average before and after (CPU seconds are not
counted: the grading children in the sandbox and the notebook kernels are not all this
process's waited-for children); ``--publish`` keeps them as the ``rehearsal`` section of
``kws/figures.json``, which the tutorial quotes.

    python benchmarks/bench_rehearsal.py [--publish] [--keep DIR]

Every run must succeed (exit code 0), the first must grade and the second reuse the grading:
anything else stops the benchmark. Time it with the machine as quiet as you can get: the load
average is published with the figure.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchlib import (
    ROOT,
    add_publish_options,
    cores_and_load,
    figures_target,
    load_average,
    publish,
    run_step,
)

COURSE = ROOT / "docs" / "tutorial" / "course.toml"


def _run(folder: Path) -> dict:
    """One `kws rehearse course.toml` in `folder`: its wall seconds, the load average before
    and after, and its rehearsal.json."""
    load = load_average()
    command = [sys.executable, "-m", "kws.cli", "rehearse", "course.toml"]
    wall = run_step(command, what="kws rehearse", cwd=folder).wall_seconds
    summary = json.loads((folder / "rehearsal" / "rehearsal.json").read_text())
    return {"wall": wall, "loads": [load, load_average()], "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_publish_options(parser, "rehearsal")
    parser.add_argument("--keep", type=Path, help="rehearse in this new folder, and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kws-bench-rehearsal-") as work:
        folder = args.keep or Path(work) / "term"
        folder.mkdir(parents=True)
        shutil.copyfile(COURSE, folder / "course.toml")
        first, again = _run(folder), _run(folder)
    if first["summary"]["reused_grading"] or not again["summary"]["reused_grading"]:
        raise SystemExit("the first run must grade the class and the second reuse its grading")
    loads = first["loads"] + again["loads"]
    for name, run in (("first", first), ("second", again)):
        phases = ", ".join(f"{k} {v:g} s" for k, v in run["summary"]["phases"].items())
        print(f"{name} run: {run['wall']:.1f} s wall ({phases})")
    print(f"on {os.cpu_count()} cores, load average {min(loads):.1f} to {max(loads):.1f}")
    target = figures_target(args)
    if target is not None:
        figures = {
            "command": "python benchmarks/bench_rehearsal.py --publish",
            "conditions": f"kws rehearse docs/tutorial/course.toml in a fresh folder, run twice "
            f"(the second keeps the class and its grading), on {cores_and_load(loads)} "
            "(1-minute averages before and after each run)",
            "synthetic": True,
            "wall_seconds": round(first["wall"], 1),
            "again_seconds": round(again["wall"], 1),
            "phases": first["summary"]["phases"],
            "again_phases": again["summary"]["phases"],
            "cores": os.cpu_count(),
            "load_average": [round(min(loads), 1), round(max(loads), 1)],
        }
        print(f"published into {publish('rehearsal', figures, target)}")


if __name__ == "__main__":
    main()
