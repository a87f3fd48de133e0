"""How long `kws demo` takes, and what it prints: run it as a newcomer does, time it, and keep
its figures (synthetic accuracies, the grader's score).

    python benchmarks/bench_demo.py --preset small --publish    # the figures the docs quote
    python benchmarks/bench_demo.py --preset tiny --figures FILE  # a quick look, elsewhere

The demo runs in a fresh folder (``--work``, a temporary one by default) as ``python -m kws.cli
demo``; the wall time and the CPU seconds of its whole process tree (notebook kernels and
graders included) are measured from here. Its accuracies are the notebooks' own summary files
and its score the grader's ``results.json``: figures on the **synthetic** data, which say the
loop works, not what a model reaches on real speech. ``--publish`` writes them as the ``demo``
section of the kit's ``kws/figures.json`` (``--figures FILE`` into another file).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import KIT_FIGURES, publish


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_demo(work: Path, preset: str, seed: int) -> dict:
    """Run `kws demo` in `work`; its time, score and accuracies as the ``demo`` section."""
    command = [sys.executable, "-m", "kws.cli", "demo", "--preset", preset, "--out", "demo"]
    command += ["--seed", str(seed)]
    wall, cpu = time.monotonic(), _children_cpu()
    done = subprocess.run(command, cwd=work, capture_output=True, text=True)
    wall, cpu = time.monotonic() - wall, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(
            f"kws demo failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr}"
        )
    out = work / "demo"
    accuracies = {}
    for summary in sorted((out / "submission" / "outputs").glob("*_summary.json")):
        accuracies.update(json.loads(summary.read_text()))
    report = json.loads((out / "results.json").read_text())
    return {
        "command": f"python benchmarks/bench_demo.py --preset {preset} --publish",
        "conditions": f"kws demo --preset {preset} --seed {seed}, timed from its start to its end "
        "(its whole process tree); the accuracies and the score are on the synthetic data",
        "synthetic": True,
        "preset": preset,
        "wall_seconds": round(wall),
        "cpu_seconds": round(cpu),
        "accuracies": {name: round(value, 4) for name, value in accuracies.items()},
        "score": report["score"],
        "max_score": sum(test.get("max_score", 0) for test in report["tests"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small", help="the demo's data preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="run the demo here (default: a temporary folder)")
    parser.add_argument("--publish", action="store_true", help="write kws/figures.json's demo")
    parser.add_argument("--figures", type=Path, help="write the demo section into this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kws-bench-demo-") as temporary:
        work = (args.work or Path(temporary)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        figures = run_demo(work, args.preset, args.seed)
    print(json.dumps(figures, indent=1))
    target = args.figures or (KIT_FIGURES if args.publish else None)
    if target is not None:
        print(f"published into {publish('demo', figures, target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
