"""Grading memory: neither the grader nor its child holds the whole hidden test set, and a
notebook is graded inside Gradescope's default container's memory.

Gradescope's default container has 768 MB for everything; 8,000 real-size HW4 test utterances
are ~1 GB of float32. The grader streams them from the utterance files into the inputs file,
and the child reads one prediction batch at a time, so the memory of both stays flat as the
test set grows. These tests measure resident memory on a moderate synthetic set (no timings),
and grade the speaker-ID notebook at the real size inside a memory cgroup of 768 MiB where the
machine lets them make one.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from grading_helpers import TINY_SPEAKER, make_submission

from kws.grading.protocol.child_run import RUN_FILE, ChildRun
from kws.grading.protocol.inputs import load_inputs, save_feature_inputs, save_wave_inputs
from kws.grading.sandbox.run import ChildJob, run_child
from kws.grading.sandbox.supervise import Limits

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 2**20
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
GRADESCOPE_MIB = 768  # the memory of Gradescope's default container
# The grader's and its speaker-ID child's anonymous memory at their peak, in a 768 MiB group on
# synthetic real-size data: measured 434 MiB with torch 2.14.1+cu130 (whose `import torch` alone
# holds ~280 MiB of it). The whole hand-in's grading (benchmarks/bench_grading_memory.py) held 634
# MiB before the child's freed blocks went back (MALLOC_MMAP_THRESHOLD_), 471 after;
# the rest of the group holds the pages of torch's libraries the child runs from.
UNRECLAIMABLE_MIB = 520


def _processes() -> dict[int, tuple[str, int, int, int]]:
    """pid -> (command name, parent pid, start of stack, resident bytes) of every process now
    (from /proc/PID/stat and statm; processes that end while being read are left out)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    text = f.read()
                with open(f"/proc/{entry}/statm") as f:
                    rss = int(f.read().split()[1]) * PAGE
                fields = text.rsplit(")", 1)[1].split()
                name = text[text.index("(") + 1 : text.rindex(")")]
                found[int(entry)] = (name, int(fields[1]), int(fields[25]), rss)
            except (OSError, IndexError, ValueError):
                continue
    return found


def _tree(root: int, leave_out: frozenset[int] = frozenset()) -> list[tuple[int, str, int]]:
    """(pid, name, resident bytes) of `root`'s descendants (not `root` itself), without the
    processes in `leave_out` and their descendants.

    A copy of `root` that has not yet exec'd (the moment between `subprocess.Popen`'s vfork or
    fork and its exec) shares `root`'s memory and would count the whole test process again: it
    is recognised by its stack, which sits where `root`'s does (an exec'd process gets a new,
    randomised one), and left out."""
    processes = _processes()
    root_stack = processes[root][2]
    children: dict[int, list[int]] = {}
    for pid, (_, parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    tree, stack = [], list(children.get(root, []))
    while stack:
        pid = stack.pop()
        if pid in leave_out:
            continue
        name, _, process_stack, rss = processes[pid]
        if process_stack != root_stack:
            tree.append((pid, name, rss))
        stack += children.get(pid, [])
    return tree


def _children(root: int) -> frozenset[int]:
    """The processes whose parent is `root` now."""
    return frozenset(pid for pid, (_, parent, _, _) in _processes().items() if parent == root)


class PeakOfChildren:
    """Sample the summed RSS of the processes this process starts while the block runs, every
    20 ms (processes an earlier test of the same pytest worker left running are not counted).
    `at_peak` names the processes the peak was summed over, for the failure message."""

    def __enter__(self):
        self.peak, self.at_peak, self._stop = 0, [], threading.Event()
        self._before = _children(os.getpid())
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            tree = _tree(os.getpid(), self._before)
            total = sum(rss for _, _, rss in tree)
            if total > self.peak:
                self.peak, self.at_peak = total, tree
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def describe(self) -> str:
        return ", ".join(f"{name} {pid}: {rss / MIB:.0f} MiB" for pid, name, rss in self.at_peak)


def test_inputs_read_back_bit_for_bit_in_the_written_order(tmp_path):
    """The streamed file gives exactly the batches built from the tensors that were written, so
    every prediction, and so every accuracy, is what the grader computed before streaming."""
    generator = torch.Generator().manual_seed(0)
    waves = (torch.randn(7, 16000, generator=generator) * 3000).short()
    gains = torch.rand(7, generator=generator)
    order = torch.randperm(7, generator=generator)
    save_wave_inputs(tmp_path / "w.bin", waves, gains, order)
    inputs = load_inputs(tmp_path / "w.bin")
    indices = torch.tensor([4, 0, 6])
    (got,) = inputs.batch(indices)
    expected = waves[order][indices].float() * (gains[order][indices, None] / 32768)
    assert torch.equal(got, expected) and len(inputs) == 7

    lengths = torch.tensor([90, 130, 70, 200, 110])
    frames = torch.randn(int(lengths.sum()), 40, generator=generator)
    utterances = frames.split(lengths.tolist())
    save_feature_inputs(tmp_path / "f.bin", (u for u in utterances))
    inputs = load_inputs(tmp_path / "f.bin")
    x, got_lengths = inputs.batch(torch.tensor([3, 2]))
    assert got_lengths.tolist() == [200, 70] and x.shape == (2, 200, 40)
    assert torch.equal(x[0], utterances[3]) and torch.equal(x[1, :70], utterances[2])
    assert (x[1, 70:] == -20).all()


def test_a_truncated_or_foreign_inputs_file_is_named(tmp_path):
    save_feature_inputs(tmp_path / "f.bin", [torch.zeros(50, 40)])
    (tmp_path / "cut.bin").write_bytes((tmp_path / "f.bin").read_bytes()[:-20])
    (tmp_path / "other.bin").write_bytes(b"not an inputs file at all")
    with pytest.raises(ValueError, match="cut.bin is truncated"):
        load_inputs(tmp_path / "cut.bin")
    with pytest.raises(ValueError, match="other.bin is not a grading inputs file"):
        load_inputs(tmp_path / "other.bin")


def _speaker_test_set(tiny_data, out, utterances: int, frames: int):
    """`tiny_data`'s speaker folder with `utterances` random test utterances of `frames` frames."""
    root = out / "speaker_features"
    shutil.copytree(tiny_data / "speaker_features", root)
    names = list(json.loads((root / "mapping.json").read_text())["speaker2id"])
    listed, labels = [], [("Id", "Category")]
    generator = torch.Generator().manual_seed(0)
    for i in range(utterances):
        name = f"uttr-test{i:06d}.pt"
        torch.save(torch.randn(frames, 40, generator=generator), root / name)
        listed.append({"feature_path": name, "mel_len": frames})
        labels.append((name, names[i % len(names)]))
    (root / "testdata.json").write_text(json.dumps({"n_mels": 40, "utterances": listed}))
    (out / "speaker_features_hidden").mkdir(exist_ok=True)
    with open(out / "speaker_features_hidden" / "test_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(labels)
    return out


# 3,000 utterances of 400 frames: 192 MB of float32, far more than either side may grow by.
UTTERANCES, FRAMES, SET_MIB = 3000, 400, 3000 * 400 * 40 * 4 / MIB
GROWTH_MIB = 48  # a few batches, the file's header and the labels; not the set
SMALL = 3 * ChildRun.batch_size  # the baseline set: three full prediction batches


@pytest.mark.full  # 3,000 utterances written, then streamed: 12 CPU-s
def test_the_grader_streams_the_hidden_speaker_set(tiny_data, tmp_path):
    """The grader's side: writing the inputs file grows its peak memory by far less than the set,
    and writes no cache into the instructor's data folder."""
    data = _speaker_test_set(tiny_data, tmp_path / "data", UTTERANCES, FRAMES)
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    script = (
        "import resource, sys, torch\n"
        "from pathlib import Path\n"
        "from kws.grading.testsets.layouts.hw4 import hidden_speaker_test\n"
        "start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "hidden = hidden_speaker_test(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "print(len(hidden.labels), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(data), str(tmp_path / "inputs.bin")],
        capture_output=True,
        text=True,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    count, grown_kib = map(int, done.stdout.split())
    assert count == UTTERANCES
    assert grown_kib / 1024 < GROWTH_MIB, (
        f"writing the hidden inputs grew the grader by {grown_kib / 1024:.0f} MiB for a "
        f"{SET_MIB:.0f} MiB set: it holds the whole set in memory again"
    )
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before


@pytest.mark.full  # a real child predicting 3,000 utterances: 20 CPU-s
def test_the_grading_child_reads_one_batch_at_a_time(tiny_data, tmp_path):
    """The child's side: its peak (summed over the sandbox's processes) on the moderate set is
    within a few batches of its peak on a set of a few full prediction batches (the baseline
    must hold full batches too: a batch's attention scores, not the set, set the child's peak)."""
    submission = make_submission(
        tmp_path / "hand-in",
        "02_speaker_id.ipynb",
        [(TINY_SPEAKER, ["model"])],
        {"task1": ("SpeakerTransformer", {"num_speakers": 10})},
    )
    generator = torch.Generator().manual_seed(0)
    peaks, processes = {}, {}
    for count in (SMALL, UTTERANCES):
        inputs = tmp_path / f"inputs-{count}.bin"
        save_feature_inputs(
            inputs, (torch.randn(FRAMES, 40, generator=generator) for _ in range(count))
        )
        run = ChildRun("02_speaker_id.ipynb", {"task1": "SpeakerTransformer"}, 10)
        folder = tmp_path / f"run-{count}"
        folder.mkdir()
        with PeakOfChildren() as peak:
            job = ChildJob(
                ["-m", "kws.grading.child.runner", "{result}", f"{{work}}/{RUN_FILE}"],
                submission=submission,
                inputs={run.inputs: inputs, RUN_FILE: run.save(folder)},
                limits=Limits(wall_seconds=300, cpu_seconds=300),
            )
            result = run_child(job)
        assert result.status == "ok", result.reason + result.stderr_tail
        assert len(result.payload["tasks"]["task1"]["predictions"]) == count
        peaks[count], processes[count] = peak.peak / MIB, peak.describe()
    # Sampled every 20 ms, the peak of 120 batches catches a transient copy more often than the
    # peak of 8 (up to ~60 MiB measured); holding the set would add all of its 183 MiB.
    assert peaks[UTTERANCES] - peaks[SMALL] < SET_MIB / 2, (
        f"the grading child peaked at {peaks[UTTERANCES]:.0f} MiB on {SET_MIB:.0f} MiB of inputs, "
        f"{peaks[SMALL]:.0f} MiB on {SMALL} utterances: it holds the whole set in memory again "
        f"(at the peaks: {processes[UTTERANCES]}; and {processes[SMALL]})"
    )


TORCH_PROBE = """
import os, sys


def pytest_sessionfinish(session):
    with open(os.environ["KWS_TORCH_PROBE"], "w") as file:
        file.write(" ".join(sorted(m for m in sys.modules if m.split(".")[0] == "torch"))[:200])
"""


@pytest.mark.full  # a whole grading run of the reference: 15 CPU-s
def test_the_grader_never_imports_torch(tiny_data, reference_submission, tmp_path):
    """A whole grading run of every notebook leaves torch out of the grader's own process (it
    holds 220-520 MB, which Gradescope's 768 MB cannot spare twice): the test sets are read with
    numpy and soundfile, accuracy and checkpoints counted without it; only the child imports it."""
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "torch_probe.py").write_text(TORCH_PROBE)
    found = tmp_path / "torch-modules.txt"
    env = os.environ | {"KWS_TORCH_PROBE": str(found), "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(tmp_path / "probe"), env.get("PYTHONPATH")])
    )
    command = [sys.executable, "-m", "kws.grading.command", "-p", "torch_probe"]
    command += ["--submission", str(reference_submission), "--data", str(tiny_data)]
    command += ["--results", str(tmp_path / "results.json")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    document = json.loads((tmp_path / "results.json").read_text())
    full = sum(test["max_score"] for test in document["tests"])
    assert len(document["leaderboard"]) >= 3 and document["score"] == full, done.stdout[-3000:]
    assert found.read_text() == "", f"the grader imported {found.read_text()}"


@pytest.mark.slow
@pytest.mark.full  # real-size test sets graded in a 768 MiB memory cgroup: checks the machine too
def test_the_speaker_notebook_keeps_full_marks_in_gradescopes_memory(
    tiny_data, reference_submission, tmp_path, monkeypatch
):
    """The reference hand-in's speaker-ID notebook graded at the real test-set size (8,000
    utterances of ~775 frames, the longest 1,396; 400 of them re-run by the child) inside a memory
    cgroup of Gradescope's 768 MiB, no swap, for the grader and its child together, with the
    torch installed here: full marks, nothing killed for memory, and the memory no process can
    give back (anonymous pages) within UNRECLAIMABLE_MIB, so that the pages of torch's libraries
    the child runs from keep room beside it. A change that costs the grading child memory (a
    second copy of the model, the test set decoded whole, freed scores kept mapped) fails here
    before it lands. Skipped where no memory cgroup can be made."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_grading_memory as bench
    from cgroups import MemoryGroup

    group = MemoryGroup.make(GRADESCOPE_MIB, f"kws-test-{os.getpid()}")
    if group is None:
        pytest.skip("no memory cgroup can be made here (it needs root, and cgroup v1 or v2)")
    data, results = tmp_path / "data", tmp_path / "results.json"
    try:
        # 20 different utterances, each under 400 names: the sample of 400 the child re-runs
        # holds every one of them, the longest (1,396 frames) too, whichever it draws.
        bench.make_test_sized_data(tiny_data, data, 4890, 8000, 775, distinct=20)
        submission = bench.honest_submission(reference_submission, data, tmp_path / "hand-in")
        command = [sys.executable, "-m", "kws.grading.command", "--assignment", "speaker_id"]
        command += ["--dataset", "synthetic-tiny", "--submission", str(submission)]
        command += ["--data", str(data), "--results", str(results), "--child-timeout", "1800"]
        env = os.environ | {"OMP_NUM_THREADS": "1"}
        grading = subprocess.Popen(
            group.prefix + command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        while grading.poll() is None:
            group.anon_mib()  # sampled: the group keeps the peak of its page cache only
            time.sleep(0.05)
        output = grading.stdout.read().decode(errors="replace")
        killed, anon = group.oom_kills(), group.anon_peak_mib()
    finally:
        group.remove()
    graded = bench.graded(results)
    said = f"(the group's unreclaimable peak: {anon:.0f} MiB) {output[-3000:]}"
    assert killed == 0, f"{killed} process(es) of the grading were killed for memory {said}"
    assert graded["score"] == graded["max_score"] and not graded["lost"], said
    assert anon < UNRECLAIMABLE_MIB, said
