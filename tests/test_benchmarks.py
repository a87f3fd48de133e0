"""The real-speech benchmarks' own code, on tiny data: folds and test folders by speaker
(benchmarks/holdout.py), what cross-validation over speakers relies on, and the benchmark scripts
as commands. Benchmark tests: the default run leaves them out; `pytest -m benchmark` runs them
(.ci/run does, after the README's test command)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from browser import MISSING as BROWSER_MISSING

from kws.data import SpeechCommands
from kws.data.speech_commands import KNOWN_WORDS_12, SILENCE, UNKNOWN, speaker_of

pytestmark = pytest.mark.benchmark
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def holdout(monkeypatch):
    """benchmarks/holdout.py, imported as the benchmark scripts import it (by its name, with
    benchmarks/ on the path); the path is restored after the test."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import holdout

    return holdout


def test_folds_cover_every_speaker_once_with_balanced_clip_counts(holdout):
    speaker_folds = holdout.speaker_folds
    counts = {f"s{i:03d}": 1 + (i * 7) % 23 for i in range(60)}  # 1 to 23 clips each
    folds = speaker_folds(counts, 5, seed=0)
    assert set().union(*folds) == set(counts)
    assert sum(len(f) for f in folds) == len(counts)  # disjoint
    totals = [sum(counts[s] for s in fold) for fold in folds]
    assert max(totals) - min(totals) <= max(counts.values())
    assert speaker_folds(counts, 5, seed=0) == folds
    assert speaker_folds(counts, 5, seed=1) != folds


def test_folds_refuse_too_few_speakers_or_folds(holdout):
    speaker_folds = holdout.speaker_folds
    with pytest.raises(ValueError, match="at least 2 folds"):
        speaker_folds({"a": 1, "b": 2}, 1)
    with pytest.raises(ValueError, match="3 speakers cannot make 5 folds"):
        speaker_folds({"a": 1, "b": 2, "c": 3}, 5)


def test_the_benchmark_executes_notebook_03_on_a_fold_as_a_student_runs_it(tiny_data, tmp_path):
    """bench_real_speech.py --notebook 03: notebook 03's reference executed on a fold's folder,
    scored from the predictions its distilled model wrote, its teacher's accuracy beside it."""
    script = BENCHMARKS / "bench_real_speech.py"
    out = tmp_path / "cv.json"
    budget = ["KWS_STEPS=4", "KWS_TEACHER_STEPS=2", "KWS_BATCH_SIZE=8", "KWS_VALID_EVERY=2"]
    done = subprocess.run(
        [sys.executable, str(script), "--data", str(tiny_data), "--work", str(tmp_path / "w"),
         "--folds", "3", "--fold-list", "0", "--recipes", "--notebook", "03", "--threads", "1",
         "--out", str(out), "--figures", str(tmp_path / "figures.json"),
         *[part for item in budget for part in ("--set", item)]],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(out.read_text())["notebook 03"]
    fold = row["folds"][0]
    assert fold["recipe"] == "notebook 03" and fold["steps"] == 4 and fold["settings"]["KWS_STEPS"]
    assert fold["notebook_summary"]["PatchKWT (distilled)"] == pytest.approx(fold["test_accuracy"])
    assert 0 <= fold["test_accuracy_teacher"] <= 1
    quoted = json.loads((tmp_path / "figures.json").read_text())["real_speech"]["rows"]
    assert quoted["notebook 03"]["teacher_mean"] == fold["test_accuracy_teacher"]


@pytest.mark.filterwarnings("ignore:.*has no folder for")  # the tiny data lacks some words
def test_a_fold_trains_and_tests_on_other_speakers(holdout, tiny_data, tmp_path):
    layout = tiny_data / "speech_commands_v0.02"
    words, noises = holdout.word_clips(layout), holdout.noise_recordings(layout)
    folds = holdout.speaker_folds(holdout.speaker_counts(words), 3, seed=0)
    test_speakers = folds[0]
    train_speakers = set(holdout.speaker_counts(words)) - test_speakers
    root = holdout.write_training_folder(words, train_speakers, noises[:-1], tmp_path / "sc")
    counts = holdout.write_test_folder(words, test_speakers, noises[-1], tmp_path / "test12")

    training = SpeechCommands(root, "training", labels="35")
    validation = SpeechCommands(root, "validation", labels="35")
    trained = {clip.speaker for clip in training.items} | {c.speaker for c in validation.items}
    assert trained == train_speakers and validation.items
    assert {c.speaker for c in training.items}.isdisjoint(c.speaker for c in validation.items)
    assert len(holdout.noise_recordings(root)) == len(noises) - 1  # the test's noise stays out

    test = SpeechCommands(root, "test12", labels="12", test_set_root=tmp_path / "test12")
    tested = {speaker_of(c.path.name).split("_")[-1] for c in test.items if c.label > 0}
    assert tested == test_speakers
    assert sorted(p.name for p in (tmp_path / "test12").iterdir()) == sorted(
        [SILENCE, UNKNOWN, *KNOWN_WORDS_12]
    )
    keywords = sum(counts.get(w, 0) for w in KNOWN_WORDS_12)
    assert counts[SILENCE] == round(keywords / 10)
    assert len(test) == sum(counts.values())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--folds", "5", "--fold-list", "5"], "folds are numbered 0 to 4 with --folds 5"),
        (["--folds", "5", "--fold-list", "0,two"], "give fold numbers separated by commas"),
        (["--fold-list", "1"], "give --folds too"),
    ],
)
def test_the_benchmark_names_a_fold_list_it_cannot_run(tmp_path, options, message):
    """A typo in --fold-list stops the cross-validation before any data is read, saying why."""
    script = BENCHMARKS / "bench_real_speech.py"
    missing = tmp_path / "no-such-data"  # never read: the options are checked first
    done = subprocess.run(
        [sys.executable, str(script), "--data", str(missing), *options],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr


def test_the_benchmark_merges_each_recipe_fold_into_its_cross_validated_row(tiny_data, tmp_path):
    """bench_real_speech.py --folds: the kit's recipe trained on each fold through run_recipe,
    each run merged into --out as it ends, a second invocation's fold added to the same row and
    the summary taken over both; an older row of the file is left as it was."""
    script = BENCHMARKS / "bench_real_speech.py"
    out, published = tmp_path / "cv.json", tmp_path / "figures.json"
    out.write_text(json.dumps({"an older row": {"mean": 0.5}}))
    kit_figures = (BENCHMARKS.parent / "kws" / "figures.json").read_bytes()
    for fold in ("0", "1"):
        done = subprocess.run(
            [sys.executable, str(script), "--data", str(tiny_data), "--work", str(tmp_path / "w"),
             "--folds", "3", "--fold-list", fold, "--recipes", "kws_transformer",
             "--scale", "0.001", "--batch-size", "8", "--threads", "1", "--out", str(out),
             "--figures", str(published)],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert rows["an older row"] == {"mean": 0.5}
    row = rows["kws_transformer (real)"]
    assert [f["fold"] for f in row["folds"]] == [0, 1] and row["k"] == 2 == row["total_folds"] - 1
    accuracies = [f["test_accuracy"] for f in row["folds"]]
    assert row["mean"] == pytest.approx(sum(accuracies) / 2)
    assert all(f["steps"] == 4 for f in row["folds"])  # 4,000 steps x --scale 0.001
    assert "Cross-validated over speakers (3 folds" in done.stdout
    # each merged fold is published as the figures the kit quotes: the row's summary, not its
    # folds; the kit's own figures file is written only by a run into the default results
    quoted = json.loads(published.read_text())["real_speech"]["rows"]["kws_transformer (real)"]
    assert quoted["mean"] == row["mean"] and quoted["k"] == 2 and quoted["folds_run"] == [0, 1]
    assert quoted["parameters"] == 650_684 and quoted["steps"] == 4 and "folds" not in quoted
    assert (BENCHMARKS.parent / "kws" / "figures.json").read_bytes() == kit_figures


@pytest.mark.filterwarnings("ignore:.*has no folder for")
def test_the_notebook_variants_run_on_speaker_folds_and_merge_their_results(tiny_data, tmp_path):
    """benchmarks/bench_notebook_variants.py, the README's ablation as a command: each variant
    trains notebook 01's own classes on a fold and is scored on that fold's speakers, one pass
    and with speeds averaged; a second run of another fold (in worker processes) adds to the row
    instead of replacing it."""
    script = BENCHMARKS / "bench_notebook_variants.py"
    out = tmp_path / "ablation.json"
    for fold, jobs in (("0", "1"), ("1", "2")):  # in this process, then 2 worker processes
        done = subprocess.run(
            [sys.executable, str(script), "--data", str(tiny_data), "--work", str(tmp_path / "w"),
             "--folds", "3", "--fold-list", fold, "--steps", "2", "--out", str(out), "--jobs", jobs,
             "--variant", "base", "--variant", "cepstra-20", "--variant", "sam",
             "--variant", "steps-4000-average-all-speakers", "--variant", "pooled-stem-d128-3000",
             "--variant", "steps-4000-unknown-0.3", "--variant", "conformer-4000",
             "--variant", "distil-crnn-4000", "--variant", "attention-pool-4000"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())
    variants = (
        "base", "cepstra-20", "sam", "steps-4000-average-all-speakers", "pooled-stem-d128-3000",
        "steps-4000-unknown-0.3", "conformer-4000", "distil-crnn-4000", "attention-pool-4000",
    )  # fmt: skip
    assert set(rows) == {f"notebook 01 model: {v}" for v in variants}
    for row in rows.values():
        assert [f["fold"] for f in row["folds"]] == [0, 1] and row["k"] == 2
        for fold in row["folds"]:
            assert 0 <= fold["test_accuracy"] <= 1 and 0 <= fold["test_accuracy_speeds"] <= 1
            assert fold["n"] == sum(1 for _ in (tmp_path / "w").glob(
                f"folds3-seed0/fold{fold['fold']}/speech_commands_test_set_v0.02/*/*.wav"
            ))  # fmt: skip
    assert rows["notebook 01 model: sam"]["folds"][0]["settings"]["sam_rho"] == 0.05
    # three times as many _unknown_ clips: more training clips than base on the same fold
    for base, more in zip(
        rows["notebook 01 model: base"]["folds"],
        rows["notebook 01 model: steps-4000-unknown-0.3"]["folds"],
        strict=True,
    ):
        assert more["train_clips"] > base["train_clips"]
    pooled = rows["notebook 01 model: pooled-stem-d128-3000"]["folds"][0]["settings"]
    assert pooled["tokenizer"] == "pooled" and pooled["sizes"]["d_model"] == 128
    # the kit's Conformer preset in place of the notebook's class: its own size, 650,684 weights
    conformer = rows["notebook 01 model: conformer-4000"]["folds"][0]
    assert conformer["settings"]["model"] == "kws_conformer"
    base_parameters = rows["notebook 01 model: base"]["folds"][0]["parameters"]
    assert conformer["parameters"] == 650_684 != base_parameters
    # distillation scores its CRNN teacher beside the student, which alone is counted and scored
    for base, distilled in zip(
        rows["notebook 01 model: base"]["folds"],
        rows["notebook 01 model: distil-crnn-4000"]["folds"],
        strict=True,
    ):
        assert 0 <= distilled["test_accuracy_teacher"] <= 1
        assert base["test_accuracy_teacher"] is None
        assert distilled["parameters"] == base["parameters"]  # the notebook's model, not the pair
    assert "Speeds averaged at test time" in done.stdout
    # the averaged variant also scores the last weights of its run; the others have no such pair
    averaged = rows["notebook 01 model: steps-4000-average-all-speakers"]["folds"]
    assert all(0 <= f["test_accuracy_last"] <= 1 for f in averaged)
    assert rows["notebook 01 model: base"]["folds"][0]["test_accuracy_last"] is None
    assert "last weights:" in done.stdout
    # ... and trains on the validating speakers too: its twin folder's training split holds both
    fold = tmp_path / "w" / "folds3-seed0" / "fold1" / "speech_commands_v0.02"
    twin = tmp_path / "w" / "folds3-seed0" / "fold1-all-speakers" / "speech_commands_v0.02"
    assert (twin / "validation_list.txt").read_text() == ""
    assert (fold / "validation_list.txt").read_text() != ""  # the fold itself is left as it was
    split = {s: len(SpeechCommands(fold, s, labels="35")) for s in ("training", "validation")}
    assert len(SpeechCommands(twin, "training", labels="35")) == sum(split.values())


def test_the_pooled_tokenizer_gives_a_padded_clip_the_tokens_it_gives_alone(monkeypatch):
    """The pooled-stem variants' tokenizer (the course CRNN's convolutions): a clip padded in a
    batch gets the tokens and the token count it gets alone, four frames to a token."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from bench_notebook_variants import PooledTokenizer

    torch.manual_seed(0)
    tokenizer = PooledTokenizer(n_mels=40, d_model=32).eval()
    features, lengths = torch.randn(2, 101, 40), torch.tensor([101, 58])
    tokens, token_lengths = tokenizer(features, lengths)
    assert tokens.shape == (2, 25, 32) and token_lengths.tolist() == [25, 14]
    alone, alone_lengths = tokenizer(features[1:, :58], lengths[1:])
    assert alone_lengths.tolist() == [14]
    torch.testing.assert_close(tokens[1, :14], alone[0], atol=1e-5, rtol=0)


def test_cepstra_keep_the_envelope_and_all_of_them_change_nothing(monkeypatch):
    """The cepstra-20 variant's front-end: all 40 cepstra give the log-mels back; 20 remove the
    fast ripple across mel bins (pitch harmonics) and keep a smooth spectral envelope."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from bench_notebook_variants import Cepstra

    from kws.data.features import LogMel

    waves = torch.randn(2, 16000) * 0.1
    frontend = LogMel(n_mels=40)
    torch.testing.assert_close(Cepstra(frontend, 40)(waves), frontend(waves), atol=1e-4, rtol=0)
    bins = torch.arange(40, dtype=torch.float32)

    def cosine(k):  # a cosine across the mel bins with k half-periods: cepstrum k
        return torch.cos(torch.pi / 40 * (bins + 0.5) * k)

    envelope, ripple = cosine(3), cosine(35)
    smooth = Cepstra(frontend, 20).smooth
    torch.testing.assert_close(envelope @ smooth, envelope, atol=1e-5, rtol=0)
    assert (ripple @ smooth).abs().max() < 1e-5


def test_distillation_trains_the_student_alone_on_the_frozen_teachers_probabilities(monkeypatch):
    """The distil variant's pair: training the student leaves the CRNN teacher's weights and
    BatchNorm statistics as they were; the loss is the label loss plus T² x KL to the teacher's
    probabilities, zero on the soft side when the student already agrees with the teacher."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from bench_notebook_variants import Distilled

    from kws.models import build_model
    from kws.training import fit

    torch.manual_seed(0)
    teacher, student = (
        build_model("crnn_attention", n_classes=3),
        build_model("kwt_tiny", n_classes=3),
    )
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    pair = Distilled(student, teacher)
    waves, labels = torch.randn(8, 16000) * 0.1, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    fit(pair, [(waves, None, labels)], steps=2, lr=1e-3, loss_fn=pair.loss(0.1, 0.5, 2.0),
        device="cpu", progress=False, keep="last")  # fmt: skip
    assert not teacher.training  # the student trained, the teacher stayed in eval mode
    for name, value in teacher.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert all(p.grad is None for p in teacher.parameters())
    # the loss: weight 0 is the label loss; a student equal to its teacher adds no soft part
    logits = torch.randn(4, 3)
    pair.teacher_logits, targets = logits.clone(), torch.tensor([0, 1, 2, 0])
    hard = torch.nn.functional.cross_entropy(logits, targets, label_smoothing=0.1)
    torch.testing.assert_close(pair.loss(0.1, 0.0, 2.0)(logits, targets), hard)
    torch.testing.assert_close(pair.loss(0.1, 0.5, 2.0)(logits, targets), 0.5 * hard)
    pair.teacher_logits = torch.zeros(4, 3)  # uniform teacher: the soft part pulls to uniform
    assert pair.loss(0.1, 1.0, 2.0)(logits, targets) > 0


def test_the_attention_readout_classifies_a_padded_clip_as_it_does_alone(monkeypatch):
    """The attention-pool variant: notebook 01's model reads the encoder's outputs through the
    CRNN's attention pooling instead of its CLS output; a clip padded in a batch gets the logits
    it gets alone, and the pooling adds only its scorer (d_model + 1 weights)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from bench_notebook_variants import AttentionReadout
    from variant_runs import solution_names

    torch.manual_seed(0)
    model = solution_names(LR=2e-3)["KeywordTransformer"](n_classes=12)
    plain = sum(p.numel() for p in model.parameters())
    model.encoder = AttentionReadout(model.encoder, 64)
    assert sum(p.numel() for p in model.parameters()) == plain + 65
    model.eval()
    waves, lengths = torch.randn(2, 16000) * 0.1, torch.tensor([16000, 9000])
    with torch.no_grad():
        batch, alone = model(waves, lengths), model(waves[1:, :9000])
    torch.testing.assert_close(batch[1], alone[0], atol=1e-4, rtol=0)


def test_the_demo_benchmark_publishes_the_demos_time_and_figures(tmp_path):
    """bench_demo.py: `kws demo` run as a newcomer runs it, timed, and its synthetic accuracies
    and score kept as the figures file's `demo` section (here on the tiny preset), with the
    time to its first graded notebook and the machine's reference time."""
    published = tmp_path / "figures.json"
    published.write_text(json.dumps({"report": {"kept": True}}))
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_demo.py"), "--preset", "tiny", "--runs", "1",
         "--work", str(tmp_path / "w"), "--figures", str(published), "--reference-runs", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    saved = json.loads(published.read_text())
    assert saved["report"] == {"kept": True}  # the other sections are left as they were
    demo = saved["demo"]
    assert demo["synthetic"] is True and demo["preset"] == "tiny"
    assert demo["max_score"] > 0 and demo["score"] == demo["max_score"]  # the reference's marks
    assert {"KeywordTransformer", "CRNN baseline", "task1"} <= set(demo["accuracies"])
    assert demo["cpu_seconds"] > 0 and demo["wall_seconds"] > 0
    assert demo["runs"] == 1 and len(demo["commit"].split()[0]) == 12  # the commit measured at
    phases = {"synthetic data", "the notebooks, side by side, and their grading"}
    assert set(demo["phases"]) == phases and all(p["cpu"] > 0 for p in demo["phases"].values())
    assert 0 < demo["first_graded_seconds"] < demo["wall_seconds"]
    machine = demo["machine"]  # benchmarks/machine.py's, as bench_suite.py records it
    assert machine["reference_seconds"] > 0 and machine["reference_runs"] == [
        machine["reference_seconds"]
    ]
    assert demo["shared"] is False
    assert "s wall" in done.stdout and "grader score" in done.stdout  # what it printed


@pytest.fixture
def bench_demo(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_demo

    return bench_demo


@pytest.fixture
def benchlib(monkeypatch):
    """benchmarks/benchlib.py, what the scripts share (publishing, the machine, commands)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import benchlib

    return benchlib


def _run(wall, load):
    phases = {"synthetic data": {"wall": wall / 4, "cpu": 10.0}, "grading": {"wall": 5, "cpu": 5}}
    accuracies = {"KeywordTransformer": 0.9}
    return dict(load_before=load, wall_seconds=wall, cpu_seconds=2 * wall, phases=phases,
                accuracies=accuracies, score=101, max_score=101,
                first_graded_seconds=wall / 3)  # fmt: skip


def test_the_demo_benchmark_keeps_the_median_of_its_runs(bench_demo):
    section = bench_demo.summary([_run(300, 0.1), _run(100, 0.2), _run(200, 0.3)], "small", 0)
    assert section["wall_seconds"] == 200 and section["cpu_seconds"] == 400
    assert section["phases"]["synthetic data"] == {"wall": 50.0, "cpu": 10.0}
    assert section["runs"] == 3 and section["load_before"] == 0.3  # the busiest run's load
    assert section["first_graded_seconds"] == pytest.approx(200 / 3, abs=0.1)
    assert "median of 3 runs" in section["conditions"] and section["synthetic"] is True


def test_the_demo_benchmark_publishes_no_time_measured_on_a_busy_machine(
    bench_demo, benchlib, monkeypatch, tmp_path, capsys
):
    """The docs quote the demo's time on an idle machine: a run under load is not published
    into the kit's figures (it may go to a file of its own), and the message says why."""
    kit = tmp_path / "figures.json"
    kit.write_text(json.dumps({"report": {"kept": True}}))
    monkeypatch.setattr(benchlib, "KIT_FIGURES", kit)
    settled = []  # --publish waits for the last run's load to decay; a quick look does not
    monkeypatch.setattr(
        bench_demo,
        "run_once",
        lambda work, preset, seed, settle=False: settled.append(settle) or _run(900, 7.9),
    )
    quick = ["--runs", "1", "--reference-runs", "0"]  # no reference workload: not measured here
    assert bench_demo.main([*quick, "--publish"]) == 3
    assert json.loads(kit.read_text()) == {"report": {"kept": True}}
    message = capsys.readouterr().err
    assert "load average 7.9" in message and "idle machine" in message and "--shared" in message
    elsewhere = tmp_path / "mine.json"
    assert bench_demo.main([*quick, "--figures", str(elsewhere)]) == 0
    assert json.loads(elsewhere.read_text())["demo"]["wall_seconds"] == 900
    assert settled == [True, False]
    # --shared publishes it, saying so: the docs then quote it as measured on a shared machine
    assert bench_demo.main([*quick, "--publish", "--shared"]) == 0
    assert settled == [True, False, False]  # --shared does not wait for an idle machine
    shared = json.loads(kit.read_text())["demo"]
    assert shared["shared"] is True and "shared with other work" in shared["conditions"]
    monkeypatch.setattr(bench_demo, "run_once", lambda work, preset, seed, settle: _run(250, 0.2))
    assert bench_demo.main([*quick, "--publish"]) == 0
    assert json.loads(kit.read_text())["demo"]["wall_seconds"] == 250


def test_the_demo_benchmark_waits_for_the_last_runs_load_to_decay(benchlib, monkeypatch):
    """A 7-minute run leaves the load average high for minutes: before the next run the
    benchmark waits until it is idle again, or gives up after its wait and reports the load."""
    readings = iter([1.9, 1.2, 0.7, 0.4, 0.4])
    monkeypatch.setattr(benchlib.os, "getloadavg", lambda: (next(readings), 0.0, 0.0))
    monkeypatch.setattr(benchlib.time, "sleep", lambda seconds: None)
    assert benchlib.settled_load(limit=0.5, wait=60) == 0.4
    monkeypatch.setattr(benchlib.os, "getloadavg", lambda: (3.0, 0.0, 0.0))
    assert benchlib.settled_load(limit=0.5, wait=0) == 3.0


def test_no_benchmark_script_imports_another_script():
    """What the scripts share lives in modules (benchlib.py and the like), never in a script:
    a script imports no file of benchmarks/ that runs as a command of its own."""
    import ast

    local = {path.stem: path for path in BENCHMARKS.glob("*.py")}
    scripts = {name for name, path in local.items() if "__main__" in path.read_text()}
    imported = []
    for name in sorted(scripts):
        for node in ast.walk(ast.parse(local[name].read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module] if isinstance(node, ast.ImportFrom) else [
                    alias.name for alias in node.names
                ]  # fmt: skip
                imported += [f"{name} imports {m}" for m in modules if m in scripts]
    assert imported == []


def test_a_benchmark_step_is_timed_stopped_at_its_limit_and_fails_with_its_output(benchlib):
    """`benchlib.run_step`: a command's output and its CPU seconds (its own, counted from its
    end); a command past its time limit is stopped (None, as gpu_check.py records "timeout");
    a failed command stops the benchmark with the end of what it printed."""
    busy = "import sys; sum(i * i for i in range(3_000_000)); print('done'); sys.exit(0)"
    step = benchlib.run_step([sys.executable, "-c", busy])
    assert step.returncode == 0 and step.stdout == "done\n" and step.cpu_seconds > 0
    asleep = benchlib.run_step(
        [sys.executable, "-c", "import time; time.sleep(600)"], timeout=1, check=False
    )
    assert asleep.returncode is None and asleep.wall_seconds < 600
    with pytest.raises(SystemExit) as failed:
        benchlib.run_step([sys.executable, "-c", "print('why'); exit(3)"], what="the step")
    assert str(failed.value) == "the step failed (exit 3):\nwhy\n"


def test_the_demo_profile_names_each_cells_phase_and_counts_its_cpu(monkeypatch):
    """profile_demo.py: a cell is named by what it does (its notebook's rules, then the common
    ones), phases add up their cells, and a process's CPU seconds grow as it works."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import profile_demo

    nb03 = "03_patch_transformer.ipynb"
    assert profile_demo.phase_of(nb03, "plain = PatchKWT(**PATCH_CONFIG)") == (
        "no-teacher twin (train + test)"
    )
    assert profile_demo.phase_of(nb03, "from kws.data.prepare import prepare_keyword_data")
    assert profile_demo.phase_of("01_keyword_spotting.ipynb", "check.x(X)").startswith("other")
    rows = [dict(phase="a", cpu=1.0, wall=2.0), dict(phase="b", cpu=3.0, wall=1.0)]
    rows.append(dict(phase="a", cpu=0.5, wall=0.5))
    assert profile_demo.by_phase(rows) == {
        "a": {"cpu": 1.5, "wall": 2.5},
        "b": {"cpu": 3.0, "wall": 1.0},
    }
    before = profile_demo.process_cpu(os.getpid())
    sum(i * i for i in range(3_000_000))
    assert profile_demo.process_cpu(os.getpid()) > before


def test_the_demo_profile_runs_the_three_notebooks_as_the_demo_does(tiny_data, tmp_path):
    """`python benchmarks/profile_demo.py`, as an instructor runs it (on the tiny preset and
    data made already): each notebook's CPU seconds, phase by phase, in its record and table."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "profile_demo.py"), "--out", "p", "--data",
         str(tiny_data), "--preset", "tiny"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = json.loads((tmp_path / "p" / "profile.json").read_text())
    notebooks = record["notebooks"]
    assert set(notebooks) == {"01_keyword_spotting.ipynb", "02_speaker_id.ipynb",
                              "03_patch_transformer.ipynb"}  # fmt: skip
    assert "CRNN baseline (train + test)" in notebooks["01_keyword_spotting.ipynb"]["phases"]
    assert "no-teacher twin (train + test)" in notebooks["03_patch_transformer.ipynb"]["phases"]
    assert all(notebook["cpu"] > 0 for notebook in notebooks.values())
    lines = (tmp_path / "p" / "cells.jsonl").read_text().splitlines()
    assert len(lines) == sum(len(cells) - 1 for cells in record["cells"].values())
    assert "task1 training (+ validation, test)" in done.stdout and "CPU-s" in done.stdout


def test_the_demo_budget_curve_runs_a_notebook_per_value_and_names_the_tiers(tiny_data, tmp_path):
    """`python benchmarks/demo_budgets.py`, as the demo's budgets were chosen (here on the tiny
    preset): one run per value of the setting, each with the notebook's own test accuracies, its
    CPU seconds and the setting it ran with, beside the tier that gives full marks."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "demo_budgets.py"), "--data", str(tiny_data),
         "--work", "curve", "--notebook", "02_speaker_id.ipynb", "--preset", "tiny",
         "--set", "KWS_STEPS=2,3", "--also", "KWS_BASELINE_STEPS=1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "'task3': ('boss', 0.93)" in done.stdout  # synthetic-small's tier for full marks
    runs = json.loads((tmp_path / "curve" / "budgets-02_speaker_id.json").read_text())["runs"]
    assert [run["settings"] for run in runs] == [
        {"KWS_BASELINE_STEPS": "1", "KWS_STEPS": "2"},
        {"KWS_BASELINE_STEPS": "1", "KWS_STEPS": "3"},
    ]
    assert all(set(run["accuracy"]) >= {"task1", "task2", "task3"} for run in runs)
    assert all(run["cpu"] > 0 for run in runs)
    executed = (tmp_path / "curve" / "KWS_STEPS=3-seed0" / "02_speaker_id.ipynb").read_text()
    assert "STEPS=3" in executed  # the notebook ran with the value, not the preset's


def test_the_suite_timing_clones_the_kit_and_runs_the_readmes_command(tmp_path):
    """`python benchmarks/bench_suite.py`, on one small test file: a clone of the committed kit,
    the README's own command in it, wall and CPU seconds, worker-seconds and CPU seconds per
    test file, and the machine's reference time."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_suite.py"), "--runs", "1", "--work", "w",
         "--figures", "figures.json", "--reference-runs", "1", "--", "tests/test_tiers.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    section = json.loads((tmp_path / "figures.json").read_text())["suite"]
    assert section["test_command"] == (
        "python -m pytest -q -n auto --dist loadgroup tests/test_tiers.py"
    )
    assert section["command"] == "python benchmarks/bench_suite.py --publish"
    assert section["wall_seconds"] > 0 and section["cpu_seconds"] > 0
    assert list(section["slowest_files"]) == ["tests/test_tiers.py"]
    assert list(section["costliest_files_cpu"]) == ["tests/test_tiers.py"]
    assert section["costliest_files_cpu"]["tests/test_tiers.py"] > 0
    machine = section["machine"]
    assert machine["reference_seconds"] > 0 and machine["reference_runs"] == [
        machine["reference_seconds"]
    ]
    assert machine["workload"] and machine["torch"]
    assert "passed" in section["outcome"]
    [run] = section["each_run"]  # each run's own figures beside the medians
    assert run["outcome"] == section["outcome"]
    assert [round(run["wall_seconds"]), round(run["cpu_seconds"])] == [
        section["wall_seconds"], section["cpu_seconds"]
    ]  # fmt: skip
    assert (tmp_path / "w" / "run-1" / "README.md").is_file()  # a clone, not the checkout


def test_the_speaker_private_benchmark_resamples_private_sets_and_publishes(tiny_data, tmp_path):
    """`python benchmarks/bench_speaker_private.py` on the tiny preset: one reference trained on
    what students get, private sets drawn from its held-back pool with several secrets, the
    public and private accuracies per task, tiers that rise, and the section it publishes."""
    import shutil

    work = tmp_path / "work"
    for name in ("speaker_features", "speaker_features_hidden"):
        shutil.copytree(tiny_data / name, work / "data" / name)
    figures = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_speaker_private.py"), "--work", str(work),
         "--preset", "tiny", "--seeds", "0", "--pool", "3", "--sizes", "1", "2",
         "--secrets", "4", "--out", str(tmp_path / "out.json"), "--publish",
         "--figures", str(figures)],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1", "KWS_STEPS": "3", "KWS_BASELINE_STEPS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    records = json.loads((tmp_path / "out.json").read_text())["records"]
    assert set(records) == {"0/task1", "0/task2", "0/task3"}
    for record in records.values():
        assert [len(record["private"][size]) for size in ("1", "2")] == [4, 4]  # one per secret
        assert record["public"] == record["public_csv"]  # the notebook's file is its model's
    section = json.loads(figures.read_text())["speaker_private"]
    assert section["synthetic"] is True and section["command"].startswith("python benchmarks/")
    tiers = [section["tiers"][name] for name in ("simple", "medium", "strong", "boss")]
    assert tiers == sorted(tiers) and set(section["tier_changes"]) == {"1", "2"}
    assert section["honest_checks"] == 3 * 4 * 2 and section["honest_flags"] >= 0


def test_the_grading_memory_benchmark_grows_a_speaker_private_set(tiny_data, tmp_path, monkeypatch):
    """`bench_grading_memory.py --private-utterances N`: N held-back utterances over the folder's
    speakers, in the format `kws private` writes, which the grader reads as a private set."""
    import shutil

    from kws.grading.testsets.layouts.hw4 import hidden_speaker_test

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from bench_grading_memory import grow_private_set

    for name in ("speaker_features", "speaker_features_hidden"):
        shutil.copytree(tiny_data / name, tmp_path / name)
    private = grow_private_set(tmp_path, 30, frames=60, distinct=5)
    hidden = hidden_speaker_test(tmp_path, tmp_path / "in.bin", sample=4)
    assert hidden.private.sum() == 30 and len(hidden.labels) == 34
    assert len({p.stat().st_ino for p in private.glob("uttr-*.pt")}) == 5  # hard links


def test_the_handin_benchmark_times_a_passing_check_and_publishes_it(tmp_path):
    """bench_handin.py: notebook 02's reference hand-in, executed on the tiny data, checked by
    `kws handin` (every line must pass, or the benchmark stops), its time published into the
    figures file it is given, never the kit's."""
    script = BENCHMARKS / "bench_handin.py"
    published = tmp_path / "figures.json"
    kit_figures = (BENCHMARKS.parent / "kws" / "figures.json").read_bytes()
    done = subprocess.run(
        [sys.executable, str(script), "--repeat", "1", "--figures", str(published)],
        cwd=tmp_path, capture_output=True, text=True, timeout=1200,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    section = json.loads(published.read_text())["handin"]
    assert section["synthetic"] and section["repeat"] == 1 and section["wall_seconds"] > 0
    assert section["runs_wall_seconds"] == [section["wall_seconds"]]
    assert section["cores"] == os.cpu_count() and len(section["load_average"]) == 2
    assert "kws handin on notebook 02: median" in done.stdout
    assert (BENCHMARKS.parent / "kws" / "figures.json").read_bytes() == kit_figures


def test_the_gpu_check_dry_run_records_each_step_and_is_never_published(tmp_path):
    """gpu_check.py --local on a CPU: each step's exit and time in gpu_check.json (here the
    machine, the `gpu` tests, skipped without CUDA, and the training benchmark), and --publish
    refuses a dry run's figures, leaving the kit's figures file as it was."""
    script = BENCHMARKS / "gpu_check.py"
    out = tmp_path / "check"
    done = subprocess.run(
        [sys.executable, str(script), "--local", "--out", str(out), "--skip", "demo", "grader",
         "grader_bwrap", "tiers"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((out / "gpu_check.json").read_text())
    assert summary["mode"] == "local" and set(summary["steps"]) == {
        "machine", "tests", "bench_train"
    }  # fmt: skip
    assert all(step["exit"] == 0 for step in summary["steps"].values())
    assert summary["machine"]["torch"] == torch.__version__
    if not torch.cuda.is_available():
        assert (
            summary["steps"]["tests"]["skipped"] > 0 and "failed" not in summary["steps"]["tests"]
        )
    assert any("steps/s" in row for row in summary["steps"]["bench_train"]["rows"])
    assert (out / "tests.log").is_file() and (out / "bench_train.log").is_file()
    kit_figures = (BENCHMARKS.parent / "kws" / "figures.json").read_bytes()
    refused = subprocess.run(
        [sys.executable, str(script), "--publish", str(out / "gpu_check.json")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode != 0 and "dry run" in refused.stderr + refused.stdout
    assert (BENCHMARKS.parent / "kws" / "figures.json").read_bytes() == kit_figures


def test_the_rehearsal_benchmark_times_two_runs_of_the_example_course_and_publishes_them(tmp_path):
    """bench_rehearsal.py: `kws rehearse` on docs/tutorial/course.toml twice in a fresh folder
    (the first grades the class, the second must reuse its grading, or the benchmark stops),
    its times published into the figures file it is given, never the kit's."""
    published = tmp_path / "figures.json"
    kit_figures = (BENCHMARKS.parent / "kws" / "figures.json").read_bytes()
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_rehearsal.py"), "--figures", str(published),
         "--keep", str(tmp_path / "term")],
        cwd=tmp_path, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    section = json.loads(published.read_text())["rehearsal"]
    assert section["synthetic"] and 0 < section["again_seconds"] < section["wall_seconds"]
    assert "the class" in section["phases"] and "the season (grading reused)" in section[
        "again_phases"]  # fmt: skip
    assert section["cores"] == os.cpu_count() and len(section["load_average"]) == 2
    assert "first run:" in done.stdout and "second run:" in done.stdout
    assert (tmp_path / "term" / "rehearsal" / "rehearsal.html").is_file()
    assert (BENCHMARKS.parent / "kws" / "figures.json").read_bytes() == kit_figures


@pytest.mark.skipif(BROWSER_MISSING is not None, reason=str(BROWSER_MISSING))
def test_the_marking_page_benchmark_times_the_start_the_page_and_the_keyboard(tmp_path):
    """bench_mark_page.py on a class of 45: the start, the page's loads in Chromium, 40 marks
    by keyboard, as one JSON object."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_mark_page.py"), "--students", "45", "--loads",
         "2", "--output-kib", "4"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert (figures["students"], figures["questions"], figures["answers"]) == (45, 3, 135)
    assert len(figures["page_load_s"]["all"]) == 2 and figures["page_load_s"]["median"] > 0
    assert figures["keyboard"]["answers_per_minute"] > 0 and figures["start"]["wall_s"] > 0


def test_the_torch_pair_probe_records_what_loads_and_the_loader_s_words(tmp_path, monkeypatch):
    """benchmarks/torch_pairs.py's probe: this environment's pair loads and runs the kit's
    torchaudio parts; a torchaudio whose library does not load is recorded at its import, with
    the first line of torch's error and of the loader's, which it wraps."""
    from importlib import metadata

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import torch_pairs

    def probe(env: dict[str, str]) -> dict:
        run = subprocess.run(
            [sys.executable, "-c", torch_pairs.PROBE],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        return json.loads(run.stdout.strip().splitlines()[-1])

    found = probe(dict(os.environ))
    assert found["stage"] is None and found["error"] is None, found
    assert found["installed"]["torch"] == metadata.version("torch")
    fake = tmp_path / "fake" / "torchaudio"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "try:\n"
        "    raise OSError('libtorchaudio.so: undefined symbol: f_without_backtrace')\n"
        "except OSError as loader:\n"
        "    raise OSError('Could not load this library: libtorchaudio.so') from loader\n"
    )
    broken = probe(os.environ | {"PYTHONPATH": str(tmp_path / "fake")})
    assert broken["stage"] == "import torchaudio"
    assert broken["error"] == "OSError: Could not load this library: libtorchaudio.so"
    assert broken["cause"] == "OSError: libtorchaudio.so: undefined symbol: f_without_backtrace"
