"""The Gradescope autograder zip: the scripts at its root, executable; the kit; only test data;
the grading plan (the assignment, the tier set, ...) decided at build time and carried as the
zip's plan.json, the shape `kws grade` writes, which run_autograder passes to the grader; a plan
edited or cut short is refused by the grader, naming the file, and no score is recorded."""

import dataclasses
import json
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kws.grading.publish.gradescope.autograder import make_autograder
from kws.grading.testsets.layouts.speech_commands import SpeechCommandsLayout
from kws.spec import ASSIGNMENTS, GradingCost


@pytest.fixture
def data(tmp_path):
    """A data folder shaped like the real one; grading must ship only its test part."""
    root = tmp_path / "data"
    for path in [
        "speech_commands_test_set_v0.02/yes/a_nohash_0.wav",
        "speech_commands_v0.02/yes/b_nohash_0.wav",
    ]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"RIFF")
    features = root / "speaker_features"
    features.mkdir()
    for name in ["uttr-train.pt", "uttr-test.pt"]:
        (features / name).write_bytes(b"pt")
    (features / "testdata.json").write_text(
        json.dumps({"n_mels": 40, "utterances": [{"feature_path": "uttr-test.pt", "mel_len": 5}]})
    )
    (features / "metadata.json").write_text("{}")
    (features / "mapping.json").write_text(
        json.dumps({"speaker2id": {"id1": 0}, "id2speaker": {"0": "id1"}})
    )
    (root / "speaker_features_hidden").mkdir()
    (root / "speaker_features_hidden/test_labels.csv").write_text("Id,Category\nuttr-test.pt,id1\n")
    return root


def test_zip_layout_and_scripts(tmp_path, data):
    path = make_autograder(tmp_path / "autograder.zip", data, dataset="synthetic-tiny")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        run_script = archive.read("run_autograder").decode()
    assert {"setup.sh", "run_autograder"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    graded = {
        f"kit/kws/assignments/{s.name}/graded_tests/__init__.py" for s in ASSIGNMENTS.values()
    }
    assert {"kit/pyproject.toml", *graded} <= names  # the graded tests travel in the package
    specs = {f"kit/kws/assignments/{spec.name}/spec.toml" for spec in ASSIGNMENTS.values()}
    assert len(specs) == 3 and specs <= names  # points, limits and tiers travel with the grader
    assert "kit/kws/grading/sandbox/run.py" in names and not any("__pycache__" in n for n in names)
    assert '--results "$RESULTS"' in run_script and '"$ROOT/submission"' in run_script
    expected_data = {
        "data/speech_commands_test_set_v0.02/yes/a_nohash_0.wav",
        "data/speaker_features/testdata.json",
        "data/speaker_features/mapping.json",
        "data/speaker_features/metadata.json",  # the feature reader needs it
        "data/speaker_features/uttr-test.pt",
        "data/speaker_features_hidden/test_labels.csv",
        "data/speech_commands_v0.02/backward/",  # tells the loader the version; empty
    }
    assert expected_data <= names
    assert "data/speaker_features/uttr-train.pt" not in names
    assert "data/speech_commands_v0.02/yes/b_nohash_0.wav" not in names


def test_the_image_installs_the_pair_kws_compat_names(tmp_path, data, monkeypatch):
    """The zip's setup.sh installs kws.compat's pair, whatever its copy in the kit says: with
    another pair named there, the zip's script installs that one, and no other torch."""
    from kws import compat

    other = compat.Pair("2.12.0", "2.11.0")
    monkeypatch.setattr(compat, "CPU_PAIR", other)
    path = make_autograder(tmp_path / "autograder.zip", data, dataset="synthetic-tiny")
    with zipfile.ZipFile(path) as archive:
        script = archive.read("setup.sh").decode()
    line = f'TORCH_PAIR=(--index-url {compat.CPU_INDEX} "torch==2.12.0" "torchaudio==2.11.0")'
    assert line in script.splitlines()
    assert '"${PIP[@]}" install --quiet "${TORCH_PAIR[@]}"' in script
    assert re.findall(r'"torch(?:audio)?[=<>!~][^"]*"', script) == [
        '"torch==2.12.0"',
        '"torchaudio==2.11.0"',
    ]


def test_scripts_are_valid_bash(tmp_path, data):
    path = make_autograder(tmp_path / "autograder.zip", data, dataset="synthetic-tiny")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "unpacked", members=["setup.sh", "run_autograder"])
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(tmp_path / "unpacked" / script)], check=True)


def test_the_zip_carries_the_plan_kws_grade_writes_not_flags(tmp_path, data):
    """The selection and the tier set travel as the zip's plan.json, in the shape of a grades
    folder's plan (one reader checks both), with no hand-in yet and the zip's data folder;
    run_autograder passes that file and its digest, no selection flag."""
    from kws.grading.records.plan import read_plan_file

    tiers = tmp_path / "course_tiers.json"
    tiers.write_text(json.dumps({"simple": 0.5, "medium": 0.6, "strong": 0.7, "boss": 0.8}))
    path = make_autograder(tmp_path / "a.zip", data, assignment="speaker_id", tiers=tiers)
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "unpacked")
    unpacked = tmp_path / "unpacked"
    script = (unpacked / "run_autograder").read_text()
    digest = re.search(r'^PLAN_SHA256="([0-9a-f]{64})"', script, re.M)[1]
    kept = read_plan_file(unpacked / "plan.json", "fix", sha256=digest)
    assert (kept.decisions["assignment"], kept.decisions["data"], kept.notebooks) == (
        "speaker_id",
        "data",
        {},
    )
    tier_set = kept.decisions["tier_sets"]["speaker_id"]
    assert tier_set["tiers"] == {"simple": 0.5, "medium": 0.6, "strong": 0.7, "boss": 0.8}
    assert tier_set["name"] == "course_tiers.json"
    assert set(kept.written) == set(ASSIGNMENTS)  # every notebook's written questions
    assert kept.decisions["season"] is None and kept.decisions["held"] == {}
    for flag in ("SELECTION", "--assignment", "--tiers", "--dataset", "--public-share"):
        assert flag not in script
    assert '--plan "$ROOT/source/plan.json" --plan-sha256 "$PLAN_SHA256"' in script
    assert "tiers.json" not in zipfile.ZipFile(path).namelist()  # the plan holds its tiers


def test_the_zips_plan_has_the_shape_of_a_grades_folders(tmp_path, tiny_data):
    """The plan `kws gradescope` writes and the decisions `kws grade` keeps for the same
    selection (`plan_run`, whose plan `kws grade` writes into the grades folder) are the same:
    one shape, one reader; only where the data lies (the zip's own folder) and the hand-ins
    graded differ."""
    import shutil

    from kws.grading.classrun.plan import plan_run
    from kws.grading.publish.gradescope.autograder import zip_plan

    hand_in = tmp_path / "subs" / "ann"
    hand_in.mkdir(parents=True)
    notebook = ASSIGNMENTS["keyword_spotting"].notebook
    shutil.copy(Path(__file__).resolve().parents[1] / "assignments" / notebook, hand_in)
    run = plan_run(tmp_path / "subs", tiny_data, tmp_path / "grades", assignment="keyword_spotting")
    kept = json.loads(run.graders)
    zipped = json.loads(zip_plan(tiny_data, "keyword_spotting"))
    assert set(zipped) == {*kept, "notebooks"} and zipped["notebooks"] == {}
    differ = {"data", "held", "notebooks"}
    assert {k: v for k, v in zipped.items() if k not in differ} == {
        k: v for k, v in kept.items() if k not in differ
    }
    assert (zipped["data"], kept["data"]) == ("data", str(tiny_data.resolve()))
    assert kept["held"] == {str(hand_in.resolve()): ["keyword_spotting"]}


def test_data_the_kit_does_not_know_needs_a_tier_set(tmp_path, data):
    with pytest.raises(ValueError, match="add --tiers FILE .* or --dataset NAME"):
        make_autograder(tmp_path / "a.zip", data, assignment="speaker_id")
    assert not (tmp_path / "a.zip").exists()


def test_data_without_test_sets_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="has no 12-class test set"):
        make_autograder(tmp_path / "a.zip", tmp_path / "empty")


def test_kws_gradescope_prints_settings_gradescope_has(tmp_path, data, capsys):
    """The container and the timeout to choose, among Gradescope's options, for the zip's test
    sets: the tiny ones fit its defaults (768 MB, half a CPU, 10 minutes)."""
    from kws.cli import main
    from kws.grading.publish.gradescope.autograder import CPU_OPTIONS, MEMORY_OPTIONS_MB

    out = tmp_path / "a.zip"
    command = ["gradescope", "--data", str(data), "--out", str(out), "--dataset", "synthetic-tiny"]
    assert main(command) == 0
    printed = capsys.readouterr().out
    container = re.search(r"container: ([\d.]+) CPU, (\d+) MB \(the default\)", printed)
    assert container, printed
    assert float(container[1]) in CPU_OPTIONS and int(container[2]) in MEMORY_OPTIONS_MB
    assert "timeout: 10 minutes (the default)" in printed
    for stale in ("2 GB", "hours", "2,400 s", "169 s"):
        assert stale not in printed


def _real_size(root, clips: int = 4890, utterances: int = 8000, frames: int = 775):
    """A data folder listing test sets of the real sizes (empty files: only sizes are read)."""
    for i in range(clips):
        word = root / "speech_commands_test_set_v0.02" / ("yes", "no")[i % 2]
        word.mkdir(parents=True, exist_ok=True)
        (word / f"{i:05d}.wav").touch()
    features = root / "speaker_features"
    features.mkdir(parents=True)
    listed = [{"feature_path": f"uttr-{i}.pt", "mel_len": frames} for i in range(utterances)]
    (features / "testdata.json").write_text(json.dumps({"n_mels": 40, "utterances": listed}))
    return root


def test_real_size_test_sets_fit_gradescope_defaults(tmp_path):
    """Both notebooks at the real sizes fit Gradescope's default container: speaker ID's child
    re-runs only its sample ([accuracy] sample), not the 8,000 utterances."""
    from kws.grading.publish.gradescope import autograder as gradescope

    data = _real_size(tmp_path / "real")
    both = {"keyword_spotting", "speaker_id"}
    settings = gradescope.plan(data, both, cpu=0.5)
    assert (settings.cpu, settings.memory_mb) == (0.5, 768)
    assert settings.timeout == gradescope.DEFAULT_TIMEOUT_MINUTES
    for name in ASSIGNMENTS:  # and each notebook in a zip of its own
        alone = gradescope.plan(data, name, cpu=0.5)
        assert (alone.memory_mb, alone.timeout) == (768, gradescope.DEFAULT_TIMEOUT_MINUTES)
    every = gradescope.plan(data, cpu=0.5)  # every notebook of this layout in one zip
    assert every.timeout <= gradescope.MAX_TIMEOUT_MINUTES
    speaker = ASSIGNMENTS["speaker_id"]
    sampled = speaker.grading.expected_seconds(speaker.accuracy.sample * 775)
    assert settings.seconds["speaker_id"] == pytest.approx(sampled / 0.5)
    assert settings.peak_mib * gradescope.MEMORY_HEADROOM * 2**20 / 1e6 <= 768
    assert set(gradescope.child_timeouts(data, both)) == both


def test_a_zip_that_cannot_finish_in_40_minutes_is_refused(tmp_path, data, monkeypatch):
    """Grading slower than Gradescope's 40-minute limit on the chosen CPU: no zip, and the
    message names what to change; a CPU that fits raises the child's wall clock in the zip."""
    from kws.grading.publish.gradescope import autograder as gradescope

    for name, spec in list(ASSIGNMENTS.items()):  # as if grading took 18 minutes on one CPU
        slow = GradingCost(1100, gradescope.graded_size(spec, data), peak_mib=300)
        monkeypatch.setitem(ASSIGNMENTS, name, dataclasses.replace(spec, grading=slow))
    with pytest.raises(gradescope.SettingsError) as refused:
        make_autograder(tmp_path / "a.zip", data, dataset="synthetic-tiny")
    message = str(refused.value)
    assert "more than Gradescope's 40-minute limit" in message and not (tmp_path / "a.zip").exists()
    assert "--cpu 1" in message and "--assignment" in message and "kws grade" in message
    path = make_autograder(
        tmp_path / "a.zip", data, assignment="keyword_spotting", dataset="synthetic-tiny", cpu=1.0
    )
    script = zipfile.ZipFile(path).read("run_autograder").decode()
    assert f'CHILD_TIMEOUT="{37 * 60}"' in script  # 2 x 1,100 s, in minutes
    assert '${CHILD_TIMEOUT:+--child-timeout "$CHILD_TIMEOUT"}' in script
    settings = gradescope.plan(data, "keyword_spotting", cpu=1.0)
    assert settings.timeout == 38 and settings.memory_mb == 768  # + the container's start


def test_the_tiny_test_sets_bake_no_child_timeout(tmp_path, data):
    from kws.grading.publish.gradescope import autograder as gradescope

    assert max(gradescope.child_timeouts(data).values()) == gradescope.DEFAULT_CHILD_TIMEOUT
    path = make_autograder(tmp_path / "a.zip", data, dataset="synthetic-tiny")
    assert 'CHILD_TIMEOUT=""' in zipfile.ZipFile(path).read("run_autograder").decode()


def test_the_keyword_timeout_counts_the_test_set_that_is_graded(tmp_path):
    """A data folder with both test-set versions is graded on the first (v0.02): the child's
    time, and so its timeout, scales with that set's clips, not with both sets together."""
    from kws.grading.publish.gradescope import autograder as gradescope

    data = tmp_path / "data"
    for version, count in (("v0.02", 4890), ("v0.01", 3081)):
        for i in range(count):
            word = data / f"speech_commands_test_set_{version}" / ("yes", "no")[i % 2]
            word.mkdir(parents=True, exist_ok=True)
            (word / f"{i:05d}.wav").touch()
    spec = ASSIGNMENTS["keyword_spotting"]
    assert SpeechCommandsLayout(spec).test_set_size(data) == 4890 == spec.grading.measured_size
    seconds = gradescope.cpu_seconds(data)["keyword_spotting"]
    assert seconds == pytest.approx(spec.grading.cpu_seconds)


SCRIPT = Path(make_autograder.__code__.co_filename).with_name("scripts") / "run_autograder"
# A grader that stops without results: printing the fault line the real one prints, then exiting.
STOPPED = {
    75: "kws grader: a fault of the grading machine, not of the hand-in: OSError: [Errno 28] "
    "No space left on device",
    1: "Traceback (most recent call last):\nModuleNotFoundError: No module named 'torch'",
}


@pytest.mark.parametrize("code", sorted(STOPPED))
def test_a_grader_that_writes_no_results_gives_gradescope_no_score(tmp_path, code):
    """A machine's fault (75) or a grader that cannot start is never the student's: the
    autograder writes no results.json (Gradescope shows its failure; nothing is recorded, not
    even a 0), exits non-zero and says what to do."""
    root = tmp_path / "autograder"
    (root / "source" / "kit").mkdir(parents=True)
    (root / "submission").mkdir()
    script = root / "source" / "run_autograder"
    script.write_text(SCRIPT.read_text())
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    # (the grader writes results.json atomically; a stale one from an earlier run may be there)
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 0, "tests": []}')
    python.write_text(f'#!/bin/sh\necho "{STOPPED[code]}" >&2\nexit {code}\n')
    python.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "AUTOGRADER_ROOT": str(root),
        "KWS_VENV": str(python.parents[1]),
    }
    done = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == (75 if code == 75 else 1), done.stderr
    assert not (root / "results" / "results.json").exists()
    assert STOPPED[code].splitlines()[-1] in done.stderr
    assert "Gradescope records no score" in done.stderr and "regrade" in done.stderr.lower()


def _autograder(tmp_path: Path, data: Path) -> Path:
    """The zip of `data` unpacked where Gradescope puts it (the root), with an empty upload
    and Gradescope's venv: this Python, started by a script (a link would start the base
    interpreter without the venv's packages)."""
    root = tmp_path / "autograder"
    path = make_autograder(tmp_path / "a.zip", data, dataset="synthetic-tiny")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    python = root / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return root


def _edit_tier(text: str) -> str:
    plan = json.loads(text)
    plan["tier_sets"]["keyword_spotting"]["tiers"]["boss"] = 0.01
    return json.dumps(plan, indent=2) + "\n"


def test_run_autograder_refuses_a_plan_edited_after_the_build(tmp_path, data):
    """The zip's plan.json changed after `kws gradescope` wrote it (a tier lowered by hand):
    the grader grades nothing under it; no results are written, so Gradescope records no
    score, and the output names the file and the fix."""
    root = _autograder(tmp_path, data)
    plan = root / "source" / "plan.json"
    plan.write_text(_edit_tier(plan.read_text()))
    env = {"PATH": "/usr/bin:/bin", "AUTOGRADER_ROOT": str(root), "KWS_VENV": str(root / "venv")}
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (root / "results" / "results.json").exists()
    said = f"ERROR: {plan} is not the plan it was written as (edited since); build the "
    assert said + "autograder zip again with `kws gradescope`" in done.stderr, done.stderr
    assert "Gradescope records no score" in done.stderr


@pytest.mark.parametrize(
    "edit, said",
    [
        (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "written"}),
         "lacks the run's decision written"),
        (lambda text: text[: len(text) // 2], "cannot be read"),
        (lambda text: text.replace('"tier_sets": {', '"tier_sets": {"x": [],', 1),
         "a tier set or the split is not as the kit writes it"),
    ],
    ids=["a-decision-cut", "cut-short", "a-tier-set-mangled"],
)  # fmt: skip
def test_the_grader_refuses_a_plan_cut_short_or_mangled(tmp_path, data, capsys, edit, said):
    """run_autograder's line, `python -m kws.grading.command --plan plan.json`, on a plan
    lacking a decision, cut short or holding a tier set the kit never writes: refused before
    any grading (no results), naming the file and saying to build the zip again."""
    from kws.grading.command import USAGE_ERROR, main

    root = _autograder(tmp_path, data)
    plan = root / "source" / "plan.json"
    plan.write_text(edit(plan.read_text()))
    results = root / "results.json"
    argv = ["--plan", str(plan), "--submission", str(root / "submission"),
            "--data", str(root / "source" / "data"), "--results", str(results)]  # fmt: skip
    assert main(argv) == USAGE_ERROR and not results.exists()
    err = capsys.readouterr().err
    assert f"ERROR: {plan}" in err and said in err, err
    assert "build the autograder zip again with `kws gradescope`" in err
