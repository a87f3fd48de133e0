"""Peak memory and wall time of grading one hand-in on real-size test sets (what Gradescope's
container limit must hold): the summed resident memory of the whole grading process tree
(pytest, its grading children, the sandbox), sampled from /proc every 50 ms.

The test sets are made from a small data folder (e.g. the `tiny` synthetic twins) at the real
sizes, quickly: the 12-class test set's clips repeated under new names up to 4,890 clips, and
8,000 HW4 test utterances of random 40-mel features (lengths drawn around the real mean of about
775 frames) over the folder's own speakers, with hidden labels, so a hand-in trained on the
small folder is graded as it would be on the real sets. Usage:

    python benchmarks/bench_grading_memory.py --data TINY_DATA --submission HANDIN --work DIR
        [--clips 4890] [--utterances 8000] [--mean-frames 775] [--assignment speaker_id]
        [--cpu 0.5]   # half a CPU: a cgroup v1/v2 CPU quota when writable, else 1 core (said)
        [--child-timeout 1800]

Prints the peak of the summed RSS, the largest single process at that moment, the process
count, the wall time and the CPU seconds of the whole tree, and writes them to DIR/memory.json;
``--publish LABEL`` also keeps them as one run of the ``grading`` section of ``kws/figures.json``,
which the documentation quotes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from figures import KIT_FIGURES, publish

KIT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def make_test_sized_data(small: Path, out: Path, clips: int, utterances: int, frames: int) -> None:
    """`out`: `small`'s test sets grown to `clips` clips and `utterances` HW4 test utterances."""
    if out.exists():
        shutil.rmtree(out)
    test = out / "speech_commands_test_set_v0.02"
    source = sorted((small / "speech_commands_test_set_v0.02").rglob("*.wav"))
    for i in range(clips):
        clip = source[i % len(source)]
        target = test / clip.parent.name / f"{i:08x}_nohash_{i % 5}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(clip, target) if i >= len(source) else shutil.copy(clip, target)
    for name in ("README.md", "LICENSE"):
        if (small / "speech_commands_test_set_v0.02" / name).exists():
            shutil.copy(small / "speech_commands_test_set_v0.02" / name, test / name)
    (out / "speech_commands_v0.02").mkdir()
    speakers = out / "speaker_features"
    shutil.copytree(small / "speaker_features", speakers, ignore=shutil.ignore_patterns("uttr-*"))
    metadata = json.loads((speakers / "metadata.json").read_text())
    for utts in metadata["speakers"].values():  # the feature reader opens training files too
        for u in utts:
            shutil.copy(small / "speaker_features" / u["feature_path"], speakers)
    names = list(json.loads((speakers / "mapping.json").read_text())["speaker2id"])
    rng, listed, labels = random.Random(0), [], []
    for i in range(utterances):
        length = max(50, int(rng.gauss(frames, frames / 3)))
        name = f"uttr-{i:032x}.pt"
        torch.save(torch.randn(length, 40), speakers / name)
        listed.append({"feature_path": name, "mel_len": length})
        labels.append((name, rng.choice(names)))
    (speakers / "testdata.json").write_text(json.dumps({"n_mels": 40, "utterances": listed}))
    hidden = out / "speaker_features_hidden"
    hidden.mkdir()
    with open(hidden / "test_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("Id", "Category"), *labels])


def _tree_rss(root: int, cpu: dict[int, float] | None = None) -> tuple[int, int, int]:
    """(summed RSS bytes, largest RSS bytes, process count) of `root` and its descendants;
    `cpu` gets each one's CPU seconds so far (user + system)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    seconds: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        seconds[int(entry)] = (int(fields[11]) + int(fields[12])) / TICKS
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack += children.get(pid, [])
    if cpu is not None:
        for pid in tree:
            cpu[pid] = max(cpu.get(pid, 0.0), seconds.get(pid, 0.0))
    sizes = [rss.get(pid, 0) for pid in tree]
    return sum(sizes), max(sizes), len(tree)


def _cpu_quota(fraction: float) -> tuple[list[str], str]:
    """A command prefix that runs at `fraction` of a CPU, and how (a cgroup quota or 1 core)."""
    for folder in (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup")):
        group = folder / "kws-bench"
        try:
            group.mkdir(exist_ok=True)
            if (group / "cpu.max").exists():
                (group / "cpu.max").write_text(f"{int(fraction * 100000)} 100000")
            else:
                (group / "cpu.cfs_quota_us").write_text(str(int(fraction * 100000)))
            script = f'echo $$ > {group}/cgroup.procs && exec "$@"'
            return ["sh", "-c", script, "sh"], f"{fraction} CPU (cgroup quota {group})"
        except OSError:
            continue
    return ["taskset", "-c", "0"], "1 core (taskset; no writable cgroup for a CPU quota)"


def measure(command: list[str], env: dict[str, str]) -> dict:
    """Run `command`, sampling its tree's memory; the peaks and the wall time."""
    started = time.monotonic()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    peak, status, cpu = (0, 0, 0), None, {}
    while status is None:
        peak = max(peak, _tree_rss(process.pid, cpu))
        time.sleep(0.05)
        pid, code, _ = os.wait4(process.pid, os.WNOHANG)
        if pid:
            status = os.waitstatus_to_exitcode(code)
    log.seek(0)
    output = log.read().decode(errors="replace")
    return {
        "peak_tree_rss_mib": round(peak[0] / 2**20),
        "largest_process_mib": round(peak[1] / 2**20),
        "processes": peak[2],
        "wall_seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(sum(cpu.values()), 1),  # as last sampled, each process
        "exit_code": status,
        "tail": output[-1500:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="small data folder (tiny twins)")
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=4890)
    parser.add_argument("--utterances", type=int, default=8000)
    parser.add_argument("--mean-frames", type=int, default=775)
    parser.add_argument("--assignment", choices=["keyword_spotting", "speaker_id"])
    parser.add_argument("--cpu", type=float, help="CPU fraction (e.g. 0.5), else unlimited")
    parser.add_argument("--keep-data", action="store_true", help="reuse WORK/data if present")
    parser.add_argument(
        "--child-timeout", type=float, default=1800, help="wall seconds per grading child"
    )
    parser.add_argument(
        "--publish", metavar="LABEL", help="keep the run as LABEL in kws/figures.json's grading"
    )
    parser.add_argument("--figures", type=Path, default=KIT_FIGURES, help="with --publish")
    args = parser.parse_args()
    data = args.work.resolve() / "data"
    if not (args.keep_data and data.is_dir()):
        made = time.monotonic()
        make_test_sized_data(args.data, data, args.clips, args.utterances, args.mean_frames)
        print(f"test-sized data in {data} ({time.monotonic() - made:.0f} s)")
    selection = ["--assignment", args.assignment] if args.assignment else []
    command = [sys.executable, "-m", "pytest", str(KIT / "grader"), "-q", "-p", "no:cacheprovider"]
    command += [*selection, "--dataset", "synthetic-tiny", "--submission", str(args.submission)]
    command += ["--data", str(data), "--results", str(args.work / "results.json")]
    command += ["--child-timeout", str(args.child_timeout)]
    how = "unlimited CPU"
    if args.cpu:
        prefix, how = _cpu_quota(args.cpu)
        command = prefix + command
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = measure(command, env) | {"cpu": how, "clips": args.clips}
    result["utterances"] = args.utterances
    (args.work / "memory.json").write_text(json.dumps(result, indent=2) + "\n")
    print(result.pop("tail"))
    print(json.dumps(result, indent=2))
    if args.publish:
        runs = dict(figures_section(args.figures).get("runs", {}), **{args.publish: result})
        publish("grading", GRADING | {"runs": runs}, args.figures)
    return 0


GRADING = {
    "command": "python benchmarks/bench_grading_memory.py --data TINY_DATA --submission HANDIN "
    "--work DIR --publish LABEL",
    "conditions": "The reference hand-in graded on synthetic test sets of the real sizes (4,890 "
    "clips; 8,000 HW4 utterances of about 775 frames), one torch thread; memory is the summed "
    "resident memory of the grader's whole process tree at its peak.",
    "synthetic": True,
}


def figures_section(figures: Path) -> dict:
    saved = json.loads(figures.read_text()) if figures.is_file() else {}
    return saved.get("grading", {})


if __name__ == "__main__":
    sys.exit(main())
