"""Peak memory and wall time of grading one hand-in on real-size test sets (what Gradescope's
container limit must hold): the summed resident memory of the whole grading process tree
(pytest, its grading children, the sandbox), sampled from /proc every 50 ms, and each process's
own peak and CPU seconds.

The test sets are made from a small data folder (e.g. the `tiny` synthetic twins) at the real
sizes, quickly: the 12-class test set's clips repeated under new names up to 4,890 clips, and
8,000 HW4 test utterances of random 40-mel features (lengths drawn around the real mean of about
775 frames) over the folder's own speakers, with hidden labels, so a hand-in trained on the
small folder is graded as it would be on the real sets. The utterances are `--distinct` random
ones, each listed under several names (hard links): speaker ID's accuracy comes from the hand-in's
predictions.csv, so the hand-in is copied with the predictions its models make on the grown test
set, which the distinct utterances make quick to compute (the grader still reads and re-runs
every name it samples). Usage:

    python benchmarks/bench_grading_memory.py --data TINY_DATA --submission HANDIN --work DIR
        [--clips 4890] [--utterances 8000] [--mean-frames 775] [--distinct 200]
        [--assignment speaker_id] [--private-utterances 600]
        [--cpu 0.5]   # half a CPU: a cgroup v1/v2 CPU quota when writable, else 1 core (said)
        [--python PYTHON]   # grade with another environment (e.g. torch's CPU build)
        [--child-timeout 1800] [--keep-data]

Prints the peak of the summed RSS, the largest single process at that moment, the process
count, the wall time and the CPU seconds of the whole tree, each process's peak and CPU
seconds, and the torch the grading ran with, and writes them to DIR/memory.json;
``--publish LABEL`` also keeps them as one run of the ``grading`` section of ``kws/figures.json``,
which the documentation quotes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from benchlib import add_publish_options, figures_section, figures_target, publish, run_step
from cgroups import MemoryGroup, cpu_quota

from kws.data.private_variant import PRIVATE_SUFFIX, make_private_test
from kws.spec import ASSIGNMENTS

KIT = Path(__file__).resolve().parents[1]
TEST_FOLDER = "speech_commands_test_set_v0.02"
PRIVATE_FOLDER = TEST_FOLDER + PRIVATE_SUFFIX  # what `kws private` writes beside it


def linked_features(
    folder: Path, utterances: int, frames: int, distinct: int, rng: random.Random, pattern: str
) -> list[tuple[str, int]]:
    """`utterances` feature files in `folder`, named ``pattern.format(i)``: `distinct` random
    40-mel tensors of about `frames` frames (drawn with `rng`), hard-linked under the other
    names, so that a test set of the real size costs little disk. Returns (name, frames) each."""
    templates = []
    for i in range(min(distinct, utterances)):
        length = max(50, int(rng.gauss(frames, frames / 3)))
        torch.save(torch.randn(length, 40), folder / f"template-{i:04d}.pt")
        templates.append((f"template-{i:04d}.pt", length))
    made = []
    for i in range(utterances):
        template, length = templates[i % len(templates)]
        os.link(folder / template, folder / pattern.format(i))
        made.append((pattern.format(i), length))
    for template, _ in templates:
        (folder / template).unlink()
    return made


def grow_private_set(data: Path, utterances: int, frames: int = 775, distinct: int = 200) -> Path:
    """A speaker private set of `utterances` held-back utterances in `data` (a test-sized folder
    of `make_test_sized_data`): random 40-mel features of about `frames` frames (`distinct`
    different ones, hard-linked under more names) over the folder's own speakers, in the format
    ``kws private`` writes; the folder ``speaker_features_private``."""
    root = data / "speaker_features"
    private = data / "speaker_features_private"
    shutil.rmtree(private, ignore_errors=True)
    private.mkdir()
    shutil.copy(root / "mapping.json", private / "mapping.json")
    speakers = list(json.loads((root / "mapping.json").read_text())["speaker2id"])
    held = {speaker: [] for speaker in speakers}
    made = linked_features(private, utterances, frames, distinct, random.Random(1),
                           "uttr-held-{:028x}.pt")  # fmt: skip
    for i, (name, length) in enumerate(made):
        held[speakers[i % len(speakers)]].append({"feature_path": name, "mel_len": length})
    metadata = {"n_mels": 40, "speakers": held}
    (private / "metadata.json").write_text(json.dumps(metadata))
    return private


def make_test_sized_data(
    small: Path, out: Path, clips: int, utterances: int, frames: int, distinct: int = 200
) -> None:
    """`out`: `small`'s test sets grown to `clips` clips and `utterances` HW4 test utterances
    (`distinct` different ones, each under `utterances / distinct` names): those `small` holds
    (a course of its own may grade one layout only)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    if (small / "speech_commands_test_set_v0.02").is_dir():
        _grow_clips(small, out, clips)
    if (small / "speaker_features").is_dir():
        _grow_features(small, out, utterances, frames, distinct)


def _grow_clips(small: Path, out: Path, clips: int) -> None:
    """`small`'s 12-class test set in `out`, its clips repeated under new names up to `clips`."""
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


def _grow_features(small: Path, out: Path, utterances: int, frames: int, distinct: int) -> None:
    """`small`'s HW4 features in `out`, with `utterances` test utterances (`distinct` different
    ones of about `frames` frames) and their hidden labels."""
    speakers = out / "speaker_features"
    shutil.copytree(small / "speaker_features", speakers, ignore=shutil.ignore_patterns("uttr-*"))
    metadata = json.loads((speakers / "metadata.json").read_text())
    for utts in metadata["speakers"].values():  # the feature reader opens training files too
        for u in utts:
            shutil.copy(small / "speaker_features" / u["feature_path"], speakers)
    names = list(json.loads((speakers / "mapping.json").read_text())["speaker2id"])
    rng = random.Random(0)
    made = linked_features(speakers, utterances, frames, distinct, rng, "uttr-{:032x}.pt")
    listed = [{"feature_path": name, "mel_len": length} for name, length in made]
    labels = [(name, rng.choice(names)) for name, _ in made]
    (speakers / "testdata.json").write_text(json.dumps({"n_mels": 40, "utterances": listed}))
    hidden = out / "speaker_features_hidden"
    hidden.mkdir()
    with open(hidden / "test_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("Id", "Category"), *labels])


def honest_submission(submission: Path, data: Path, out: Path) -> Path:
    """A copy of `submission` in `out` whose predictions.csv files (of the notebooks graded on
    them: notebook 02's) hold what its models predict on `data`'s (grown) test set: what the
    notebook writes when run on it. Each distinct utterance (files of one inode) is predicted
    once."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(submission, out)
    for spec in ASSIGNMENTS.values():  # those graded on their predictions.csv of HW4 features
        if spec.accuracy.from_csv and spec.data.get("layout") == "hw4":
            if (out / spec.notebook).is_file() and (data / "speaker_features").is_dir():
                _predict(spec, out, data)
    return out


def _predict(spec, out: Path, data: Path) -> None:
    """The predictions.csv files of `spec`'s model tasks in the hand-in `out`, made by its
    models on `data`'s grown HW4 test set."""
    from kws.grading.child.cells import run_model_cells
    from kws.grading.child.checkpoint import load_checkpoint, read_config
    from kws.grading.protocol.handin import find_notebook, outputs_folder

    notebook = find_notebook(out, spec.notebook, list(spec.model_tasks.values()))
    namespace = run_model_cells(notebook)
    root = data / "speaker_features"
    listed = json.loads((root / "testdata.json").read_text())["utterances"]
    speakers = json.loads((root / "mapping.json").read_text())["id2speaker"]
    by_file: dict[int, list[str]] = {}
    for u in listed:
        by_file.setdefault(os.stat(root / u["feature_path"]).st_ino, []).append(u["feature_path"])
    for task in spec.model_tasks:
        folder = outputs_folder(out, notebook) / task
        cls, kwargs = read_config(folder, task, namespace)
        model = cls(**kwargs)
        load_checkpoint(model, folder / "model.pt", task)
        model.eval()
        rows = []
        with torch.no_grad():
            for names in by_file.values():
                x = torch.load(root / names[0], weights_only=True)[None]  # (1, T, F)
                logits = model(x, torch.tensor([x.shape[1]]))
                logits = logits[0] if isinstance(logits, tuple | list) else logits
                rows += [(name, speakers[str(int(logits.argmax()))]) for name in names]
        with open(folder / "predictions.csv", "w", newline="") as f:
            csv.writer(f).writerows([("Id", "Category"), *rows])


def _tree_rss(
    root: int, cpu: dict[int, float] | None = None, own: dict[int, tuple[str, int]] | None = None
) -> tuple[int, int, int]:
    """(summed RSS bytes, largest RSS bytes, process count) of `root` and its descendants;
    `cpu` gets each one's CPU seconds so far (user + system), `own` each one's name and peak."""
    from kws.demo.measure import process_tree

    tree = process_tree(root) or {}
    rss = {pid: size for pid, (size, _) in tree.items()}
    if cpu is not None:
        for pid, (_, seconds) in tree.items():
            cpu[pid] = max(cpu.get(pid, 0.0), seconds)
    if own is not None:
        for pid in tree:
            name, peak = own.get(pid) or (_process_name(pid), 0)
            own[pid] = (name, max(peak, rss[pid]))
    sizes = [rss.get(pid, 0) for pid in tree]
    return sum(sizes), max(sizes), len(tree)


def _process_name(pid: int) -> str:
    """What a process of the tree is: the grader (pytest), a grading child, the sandbox."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    for word in words:
        if word.startswith("kws.grading.child."):  # each child by the notebook it grades
            with contextlib.suppress(OSError, ValueError, KeyError):
                run = json.loads(Path(f"/proc/{pid}/cwd/run.json").read_text())
                return f"grading child ({word.rsplit('.', 1)[1]}, {run['notebook']})"
            return f"grading child ({word.rsplit('.', 1)[1]})"
    if "pytest" in words:
        return "grader (pytest)"
    return Path(words[0]).name or "?"


def measure(command: list[str], env: dict[str, str], group: MemoryGroup | None = None) -> dict:
    """Run `command`, sampling its tree's memory (and `group`'s memory that cannot be reclaimed,
    when it runs in one); the peaks, the wall time, the CPU seconds."""
    started = time.monotonic()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    peak, status, cpu, own = (0, 0, 0), None, {}, {}
    while status is None:
        peak = max(peak, _tree_rss(process.pid, cpu, own))
        if group:
            group.anon_mib()
        time.sleep(0.05)
        pid, code, _ = os.wait4(process.pid, os.WNOHANG)
        if pid:
            status = os.waitstatus_to_exitcode(code)
    log.seek(0)
    output = log.read().decode(errors="replace")
    processes = {}  # by name: the largest peak, and the CPU seconds of all of that name
    for pid, (name, most) in own.items():
        mib, seconds = processes.get(name, (0, 0.0))
        processes[name] = (max(mib, round(most / 2**20)), round(seconds + cpu.get(pid, 0.0), 1))
    return {
        "peak_tree_rss_mib": round(peak[0] / 2**20),
        "largest_process_mib": round(peak[1] / 2**20),
        "processes": peak[2],
        "wall_seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(sum(cpu.values()), 1),  # as last sampled, each process
        "per_process": {
            name: {"peak_mib": mib, "cpu_seconds": seconds}
            for name, (mib, seconds) in sorted(processes.items())
            if mib >= 8  # leave out the shell and the sandbox's tiny helpers
        },
        "exit_code": status,
        "tail": output[-1500:],
    }


MEDIAN_KEYS = ("peak_tree_rss_mib", "largest_process_mib", "wall_seconds", "cpu_seconds")


def medians(runs: list[dict]) -> dict:
    """The last run, with the median of each figure of `MEDIAN_KEYS` over `runs`."""
    return runs[-1] | {key: statistics.median(run[key] for run in runs) for key in MEDIAN_KEYS}


def graded(results: Path) -> dict:
    """The score of a grading run's results.json against full marks (every test's points), and
    the tests that lost points."""
    try:
        document = json.loads(results.read_text())
    except (OSError, ValueError):
        return {"score": None, "max_score": None, "lost": ["no results.json"]}
    full = sum(test["max_score"] for test in document["tests"])
    lost = [test["name"] for test in document["tests"] if test["score"] < test["max_score"]]
    return {"score": document["score"], "max_score": full, "lost": lost[:10]}


def tier_options(assignment: str | None, dataset: str, work: Path) -> list[str]:
    """The grader's tier options: ``--dataset`` when every assignment graded has that tier set,
    else a ``--tiers`` file of zeros in `work` (what grading costs does not depend on them)."""
    specs = [ASSIGNMENTS[assignment]] if assignment else list(ASSIGNMENTS.values())
    if all(dataset in spec.tiers for spec in specs):
        return ["--dataset", dataset]
    zeros = work.resolve() / "tiers.json"
    zeros.parent.mkdir(parents=True, exist_ok=True)
    zeros.write_text(json.dumps(dict.fromkeys(("simple", "medium", "strong", "boss"), 0.0)))
    return ["--tiers", str(zeros)]


def torch_of(python: str) -> str:
    """The torch the interpreter `python` imports (its version: +cpu, +cu130 ...)."""
    asked = [python, "-c", "import torch; print(torch.__version__)"]
    return run_step(asked, check=False).stdout.strip() or "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="small data folder (tiny twins)")
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=4890)
    parser.add_argument("--utterances", type=int, default=8000)
    parser.add_argument("--mean-frames", type=int, default=775)
    parser.add_argument(
        "--distinct", type=int, default=200, help="different HW4 test utterances among them"
    )
    parser.add_argument(
        "--private-utterances",
        type=int,
        default=0,
        help="speaker ID's private test set: this many held-back utterances (kws private's "
        "default holds back 600 of the real folder: 1 of each of 600 speakers)",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="the interpreter that grades (its torch build)"
    )
    parser.add_argument("--assignment", choices=sorted(ASSIGNMENTS),
                        help="grade this one (KWS_COURSE's, when it names a course)")  # fmt: skip
    parser.add_argument("--dataset", default="synthetic-tiny",
                        help="the tier set graded against (default synthetic-tiny; without it "
                        "in the spec, tiers of 0: the cost, not the score, is measured)")  # fmt: skip
    parser.add_argument("--cpu", type=float, help="CPU fraction (e.g. 0.5), else unlimited")
    parser.add_argument(
        "--memory", type=int, help="a memory cgroup of this many MiB (e.g. 768), else none"
    )
    parser.add_argument("--keep-data", action="store_true", help="reuse WORK/data if present")
    parser.add_argument(
        "--private",
        action="store_true",
        help="grade keyword spotting on a private test set (kws private, WORK/course.secret)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs, one after another; their medians are kept"
    )
    parser.add_argument(
        "--child-timeout", type=float, default=1800, help="wall seconds per grading child"
    )
    add_publish_options(parser, "grading", label="LABEL")
    args = parser.parse_args()
    if args.figures and not args.publish:
        parser.error("--figures FILE keeps the run under a name: add --publish LABEL")
    data = args.work.resolve() / "data"
    if not (args.keep_data and data.is_dir()):
        made = time.monotonic()
        make_test_sized_data(
            args.data, data, args.clips, args.utterances, args.mean_frames, args.distinct
        )
        if args.private_utterances:  # speaker ID's private set, re-run whole by the child
            grow_private_set(data, args.private_utterances, args.mean_frames, args.distinct)
        submission = honest_submission(args.submission, data, args.work.resolve() / "submission")
        print(f"test-sized data in {data}, hand-in {submission} ({time.monotonic() - made:.0f} s)")
    if args.private and not (data / PRIVATE_FOLDER).is_dir():
        noise = args.data / "speech_commands_v0.02" / "_background_noise_"
        made = time.monotonic()
        private, clips = make_private_test(data, args.work / "course.secret", TEST_FOLDER, noise)
        print(f"private test set {private}: {clips} clips ({time.monotonic() - made:.0f} s)")
    submission = args.work.resolve() / "submission"
    selection = ["--assignment", args.assignment] if args.assignment else []
    command = [args.python, "-m", "pytest", str(KIT / "grader"), "-q", "-p", "no:cacheprovider"]
    command += [*selection, *tier_options(args.assignment, args.dataset, args.work)]
    command += ["--submission", str(submission)]
    command += ["--data", str(data), "--results", str(args.work / "results.json")]
    command += ["--child-timeout", str(args.child_timeout)]
    how, group, quota = "unlimited CPU", None, None
    if args.cpu:
        prefix, how, quota = cpu_quota(args.cpu)
        command = prefix + command
    if args.memory:
        group = MemoryGroup.make(args.memory)
        if group is None:
            raise SystemExit("--memory: no writable memory cgroup here (it needs root)")
        command = group.prefix + command
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runs = []
    try:
        for number in range(args.repeat):
            if group:  # a group of its own per run: a fresh peak and OOM count
                group.remove()
                group = MemoryGroup.make(args.memory)
            (args.work / "results.json").unlink(missing_ok=True)
            runs.append(measure(command, env, group) | graded(args.work / "results.json"))
            if group:  # what the container's limit counted: the tree's memory and page cache
                runs[-1]["cgroup_peak_mib"] = round(group.peak_mib())
                runs[-1]["cgroup_unreclaimable_peak_mib"] = round(group.anon_peak_mib())
                runs[-1]["oom_kills"] = group.oom_kills()
                runs[-1]["memory_limit_mib"] = args.memory
            print(f"run {number + 1} of {args.repeat}: " + json.dumps(runs[-1]["per_process"]))
    finally:
        if group:
            group.remove()
        if quota:
            with contextlib.suppress(OSError):
                quota.rmdir()
    result = medians(runs) | {"cpu": how, "clips": args.clips}
    result |= {"utterances": args.utterances, "torch": torch_of(args.python)}
    result["private_utterances"] = args.private_utterances
    result["private_keyword_set"] = (data / PRIVATE_FOLDER).is_dir()
    result["repeat"] = args.repeat
    if args.repeat > 1:
        result["runs"] = [{k: v for k, v in run.items() if k != "tail"} for run in runs]
    (args.work / "memory.json").write_text(json.dumps(result, indent=2) + "\n")
    print(result.pop("tail"))
    print(json.dumps(result, indent=2))
    target = figures_target(args)
    if target is not None:
        runs = dict(figures_section("grading", target).get("runs", {}), **{args.publish: result})
        publish("grading", GRADING | {"runs": runs}, target)
    return 0


GRADING = {
    "command": "python benchmarks/bench_grading_memory.py --data TINY_DATA --submission HANDIN "
    "--work DIR --publish LABEL",
    "conditions": "The reference hand-in graded on synthetic test sets of the real sizes (4,890 "
    "clips; 8,000 HW4 utterances of about 775 frames, speaker ID's accuracy from its "
    "predictions.csv with 400 of them re-run), one torch thread; memory is the summed resident "
    "memory of the grader's whole process tree at its peak; medians of `repeat` runs (3 where a "
    "run does not say). A run in a memory cgroup (--memory) adds the group's peak as its limit "
    "counts it (page cache included), the peak of its memory no process can give back (anonymous "
    "and shared memory, sampled every 50 ms) and the processes killed for memory.",
    "synthetic": True,
}


if __name__ == "__main__":
    sys.exit(main())
