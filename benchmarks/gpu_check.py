"""The kit on a CUDA GPU, in one run: what the CPU suite can only stand in for.

    python benchmarks/gpu_check.py --out DIR              # on a machine with a CUDA GPU
    python benchmarks/gpu_check.py --out DIR --local      # the same steps on a CPU, tiny: a dry run
    python benchmarks/gpu_check.py --publish DIR/gpu_check.json   # back here: into kws/figures.json

Steps, each with its own time limit and log under ``--out`` (a step that fails or runs out of
time is recorded as such, and the next one runs):

1. the machine: the GPU's name, torch and its CUDA, the kit importable;
2. the kit's own tests marked ``gpu`` (``pytest -m gpu``: every layer, batch and augmentation
   test on CUDA beside the CPU);
3. training throughput (``bench_train.py --synthetic-tensors``: a Speech Commands epoch, the HW4
   budget);
4. ``kws demo --preset small`` on the GPU: the three reference notebooks side by side, each graded
   as it ends (the grading child evaluates on the GPU), the score printed;
5. the grader on that hand-in with the ``gpu`` re-training tests (each notebook re-run inside the
   sandbox on CUDA, then its re-trained model graded): the demo's 102 points and 6 more, in the
   hand-written sandbox; then the re-training tests again in bubblewrap, where there is one (on
   PATH, or unpacked at the kit's root into ``.bwrap/``);
6. the synthetic tiers on the GPU (``bench_tiers.py --device cuda``): more seeds of the three
   notebooks at the demo's budget and at a tenth of it, as time allows.

Everything the docs quote is gathered in ``OUT/gpu_check.json``; ``--publish`` writes it as the
``gpu`` section of ``kws/figures.json`` and the GPU's tier runs into
``benchmarks/results/tiers_synthetic_small.json``. On one H100 or H200 the whole check is meant to
take at most 8 minutes.

The GPU machine has no internet: install the kit there from wheels fetched here first (the
documentation's GPU check page, docs/development/gpu.md, gives the two commands).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from benchlib import BENCHMARKS, ROOT, Step, publish, run_step
from tier_records import OUT, merge_records

# step settings: (on the GPU, in the CPU dry run)
DEMO_PRESET = {"gpu": "small", "local": "tiny"}
RETRAIN = {
    "gpu": ["--retrain-steps", "600", "--retrain-timeout", "170"],
    "local": ["--retrain-device", "cpu:0", "--retrain-steps", "4"],
}
TRAIN_BENCH = {
    "gpu": ["--steps", "60", "--warmup", "15", "--variants", "eager-fused,compile-fused"],
    "local": ["--device", "cpu", "--quick"],
}
TIERS = {
    "gpu": ["--device", "cuda", "--seeds", "1", "2", "3", "4", "--jobs", "6"],
    "local": ["--device", "cpu:0", "--preset", "tiny", "--seeds", "1", "--fractions", "1"],
}
LIMITS = {
    "tests": 150, "bench_train": 120, "demo": 180, "grader": 200, "grader_bwrap": 120, "tiers": 240
}  # fmt: skip


class Check:
    """The steps' results, written to OUT/gpu_check.json after each step."""

    def __init__(self, out: Path, mode: str):
        self.out, self.mode = out, mode
        self.summary: dict = {"mode": mode, "steps": {}}
        self.start = time.monotonic()

    def run(self, name: str, command: list[str], env: dict | None = None) -> Step | None:
        """Run one step's command with its time limit, its output in OUT/<name>.log; None when
        it ran out of time."""
        print(f"== {time.strftime('%H:%M:%S')} {name}: {' '.join(command)}", flush=True)
        step = run_step(command, cwd=ROOT, env=env, timeout=LIMITS.get(name), check=False)
        text = step.stdout + step.stderr
        (self.out / f"{name}.log").write_text(text)
        code = "timeout" if step.returncode is None else step.returncode
        seconds = round(step.wall_seconds, 1)
        self.summary["steps"][name] = {"exit": code, "seconds": seconds}
        print(f"   exit {code} in {seconds} s; last line: {_last_line(text)}", flush=True)
        self.save()
        return None if step.returncode is None else step

    def record(self, name: str, **values) -> None:
        self.summary["steps"].setdefault(name, {}).update(values)
        self.save()

    def save(self) -> None:
        self.summary["seconds"] = round(time.monotonic() - self.start, 1)
        (self.out / "gpu_check.json").write_text(json.dumps(self.summary, indent=1) + "\n")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def machine(check: Check) -> bool:
    """The GPU and torch; False where torch sees no GPU (then only --local makes sense)."""
    probe = (
        "import json, torch, kws; print(json.dumps({'torch': torch.__version__, "
        "'cuda': torch.version.cuda, 'gpu': torch.cuda.get_device_name() "
        "if torch.cuda.is_available() else None, 'cores': __import__('os').cpu_count()}))"
    )
    done = check.run("machine", [sys.executable, "-c", probe])
    if done is None or done.returncode:
        return False
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    check.summary["machine"] = facts
    check.save()
    return facts["gpu"] is not None


def gpu_tests(check: Check, jobs: int) -> None:
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"]
    done = check.run("tests", [*command, "-n", str(jobs), "tests"])
    if done is not None:
        counts = dict(
            (word, int(number))
            for number, word in re.findall(r"(\d+) (passed|failed|skipped|error)", done.stdout)
        )
        check.record("tests", **counts)


def bench_train(check: Check) -> None:
    command = [sys.executable, str(BENCHMARKS / "bench_train.py"), "--synthetic-tensors"]
    done = check.run("bench_train", [*command, *TRAIN_BENCH[check.mode]])
    if done is not None:
        rows = [line for line in done.stdout.splitlines() if "steps/s" in line]
        check.record("bench_train", rows=rows)


def demo(check: Check, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    preset = DEMO_PRESET[check.mode]
    command = [sys.executable, "-m", "kws.cli", "demo", "--preset", preset, "--out", str(folder)]
    env = os.environ | {"KWS_DEVICE": "cuda" if check.mode == "gpu" else "cpu:0"}
    check.run("demo", command, env=env)
    results = folder / "results.json"
    if results.is_file():
        document = json.loads(results.read_text())
        maximum = sum(test["max_score"] for test in document["tests"])
        timings = folder / "timings.json"
        check.record(
            "demo",
            score=document["score"],
            max_score=maximum,
            leaderboard=document.get("leaderboard", []),
            timings=json.loads(timings.read_text()) if timings.is_file() else None,
        )


def grader(check: Check, folder: Path, name: str = "grader", bwrap: str | None = None) -> None:
    """The grader on the demo's hand-in with re-training: every test in the hand-written
    sandbox, or with `bwrap` (a bubblewrap binary) the re-training tests alone in bubblewrap."""
    results = check.out / f"results_{name}.json"
    command = [sys.executable, "-m", "pytest", "grader/", "-p", "no:cacheprovider", "-rs"]
    command += ["--submission", str(folder / "submission"), "--data", str(folder / "data")]
    command += ["--results", str(results), *RETRAIN[check.mode]]
    if bwrap is None:
        env = os.environ | {"KWS_SANDBOX": "builtin"}
    else:
        env = os.environ | {"PATH": f"{Path(bwrap).parent}{os.pathsep}{os.environ['PATH']}"}
        command += ["-k", "retrains"]
    check.run(name, command, env=env)
    if results.is_file():
        document = json.loads(results.read_text())
        retrained = [t for t in document["tests"] if t["name"].startswith("Re-training")]
        check.record(
            name,
            score=document["score"],
            max_score=sum(test["max_score"] for test in document["tests"]),
            retraining={t["name"]: [t["score"], t["max_score"], t["output"]] for t in retrained},
            sandbox=[line for line in document.get("output", "").split("\n") if "sandbox:" in line],
        )


def find_bwrap() -> str | None:
    """bubblewrap on PATH, or unpacked at the kit's root (``dpkg -x bubblewrap_*.deb .bwrap``)."""
    unpacked = ROOT / ".bwrap" / "usr" / "bin" / "bwrap"
    return shutil.which("bwrap") or (str(unpacked) if unpacked.is_file() else None)


def tiers(check: Check) -> None:
    records = check.out / "tiers.json"
    command = [
        sys.executable,
        str(BENCHMARKS / "bench_tiers.py"),
        "--work",
        str(check.out / "tiers"),
    ]
    check.run("tiers", [*command, "--out", str(records), *TIERS[check.mode]])
    if records.is_file():
        check.record("tiers", summary=json.loads(records.read_text())["summary"])


def publish_check(summary_file: Path) -> None:
    """The ``gpu`` section of kws/figures.json from a check's summary, and its tier runs into
    the tiers record."""
    summary = json.loads(summary_file.read_text())
    if summary.get("mode") != "gpu":
        raise SystemExit(
            f"{summary_file} is a dry run on the CPU ({summary.get('mode')}): not published"
        )
    values = {key: value for key, value in summary.items() if key != "mode"}
    values |= {
        "command": "python benchmarks/gpu_check.py --out DIR",
        "conditions": "One CUDA GPU (its name under machine); the demo's synthetic data.",
        "synthetic": True,
    }
    publish("gpu", values)
    records = summary_file.parent / "tiers.json"
    if records.is_file():
        merge_records(json.loads(records.read_text())["runs"], OUT)
    print(f"published {summary_file} into kws/figures.json (gpu)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/gpu_check")))
    parser.add_argument("--local", action="store_true", help="a dry run on the CPU, tiny")
    parser.add_argument("--publish", type=Path, metavar="SUMMARY", help="a GPU check's summary")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=list(LIMITS), help="steps left out"
    )
    args = parser.parse_args(argv)
    if args.publish:
        publish_check(args.publish)
        return 0
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    check = Check(out, "local" if args.local else "gpu")
    has_gpu = machine(check)
    if not has_gpu and not args.local:
        print("torch sees no CUDA GPU here: run with --local for the dry run on the CPU")
        return 1
    steps = {
        "tests": lambda: gpu_tests(check, 8 if has_gpu else 2),
        "bench_train": lambda: bench_train(check),
        "demo": lambda: demo(check, out / "demo"),
        "grader": lambda: grader(check, out / "demo"),
        "grader_bwrap": lambda: (
            find_bwrap() and grader(check, out / "demo", "grader_bwrap", find_bwrap())
        ),
        "tiers": lambda: tiers(check),
    }
    for name, step in steps.items():
        if name not in args.skip:
            step()
    check.save()
    failed = [n for n, s in check.summary["steps"].items() if s.get("exit") not in (0, None)]
    print(
        f"done in {check.summary['seconds']} s; {out / 'gpu_check.json'}; failed: {failed or 'none'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
