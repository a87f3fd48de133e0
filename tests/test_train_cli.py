"""`kws train`: a recipe (or a model preset with overrides) trained on a data folder from the shell.

Run the way a user runs it, from a working folder of its own with relative paths: the first
training as `python -m kws.cli train ...` in a subprocess; the commands after it through
`kws.cli.main` in the test's process (the same parser and handler, without another interpreter
that loads torch), and the refusals before torch loads in a fresh process each.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from kws.recipes import SMALL, resolve_recipe

TINY_CLASSES = ["_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off",
                "stop", "go"]  # fmt: skip


def kws(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "kws.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def kws_here(*args, cwd, monkeypatch, capsys) -> subprocess.CompletedProcess:
    """`kws ARGS` typed in `cwd`, run by `kws.cli.main` in this process; its exit code and output
    as `kws` gives them."""
    from kws.cli import main

    monkeypatch.chdir(cwd)
    capsys.readouterr()  # what came before
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["kws", *args], code, out, err)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_data):
    """A working folder with the tiny data as `data/` and a one-clip-per-class test set `mine/`."""
    tiny = tiny_data
    work = tmp_path_factory.mktemp("train-cli")
    shutil.copytree(tiny / "speech_commands_v0.02", work / "data" / "speech_commands_v0.02")
    shutil.copytree(
        tiny / "speech_commands_test_set_v0.02", work / "data" / "speech_commands_test_set_v0.02"
    )
    for name in TINY_CLASSES:
        first = sorted((tiny / "speech_commands_test_set_v0.02" / name).glob("*.wav"))[0]
        (work / "mine" / name).mkdir(parents=True)
        shutil.copy(first, work / "mine" / name / first.name)
    return work


@pytest.mark.slow
@pytest.mark.full  # trains
def test_train_a_recipe_on_a_folder_with_a_test_set_then_resume(workdir, monkeypatch, capsys):
    args = ["train", "kws_transformer", "--data", "data", "--test-set", "mine", "--out", "runs",
            "--steps", "4", "--batch-size", "8", "--eval-every", "2"]  # fmt: skip
    first = kws(*args, cwd=workdir)
    assert first.returncode == 0, first.stderr
    out = workdir / "runs" / "kws_transformer"
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == SMALL["kws_transformer"].model and results["steps"] == 4
    # Tested on the given folder: one clip per class, so each class is right or wrong entirely.
    assert list(results["test_per_class"]) == TINY_CLASSES
    assert set(results["test_per_class"].values()) <= {0.0, 1.0}
    assert (out / "predictions.csv").read_text().count("\n") == 1 + len(TINY_CLASSES)
    assert "test accuracy" in first.stdout and "_silence_" in first.stdout
    assert "step" in first.stderr  # the progress bar

    # --resume picks up the finished run's last checkpoint: nothing left to train, same result.
    here = dict(cwd=workdir, monkeypatch=monkeypatch, capsys=capsys)
    again = kws_here(*args, "--resume", **here)
    assert again.returncode == 0, again.stderr
    resumed = json.loads((out / "results.json").read_text())
    for key in ("steps", "best_step", "valid_accuracy", "test_accuracy", "test_per_class"):
        assert resumed[key] == results[key], key
    # Resuming with another length is refused with the reason, not a traceback.
    other = kws_here(*args[:-4], "--steps", "6", "--resume", **here)
    assert other.returncode == 2 and "4 steps" in other.stderr
    assert "Traceback" not in other.stderr


@pytest.mark.slow
@pytest.mark.full  # trains
def test_train_a_model_preset_with_overrides(workdir, monkeypatch, capsys):
    result = kws_here("train", "kws_conformer", "--set", "d_model=32", "--set", "num_layers=1",
                      "--data", "data/speech_commands_v0.02", "--out", "presets", "--steps", "2",
                      "--batch-size", "4", cwd=workdir, monkeypatch=monkeypatch,
                      capsys=capsys)  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads((workdir / "presets" / "kws_conformer" / "config.json").read_text())
    assert config["config"]["d_model"] == 32 and config["config"]["num_layers"] == 1
    # The default test set is the dataset's sibling 12-class folder: 48 clips in `tiny`.
    csv = (workdir / "presets" / "kws_conformer" / "predictions.csv").read_text()
    assert csv.count("\n") == 1 + 48


@pytest.mark.parametrize(
    "args, message",
    [
        (["kws_transformer", "--data", "nowhere"], "nowhere: no speech_commands_v0.02/"),
        (["kws_transformer", "--data", "data", "--test-set", "gone"], "--test-set gone"),
        (["transformer9", "--data", "data"], "unknown recipe or model 'transformer9'"),
        (["kws_transformer", "--data", "data", "--set", "d_model"], "write KEY=VALUE"),
        (["kws_transformer", "--data", "data", "--set", "width=3"], "has no setting width"),
    ],
)
def test_bad_input_gets_a_clear_error(workdir, args, message, monkeypatch, capsys):
    result = kws_here("train", *args, "--steps", "1", "--out", "bad", cwd=workdir,
                      monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["kws_transformer", "--data", "nowhere"],
        ["kws_transformer", "--data", "data", "--test-set", "gone"],
        ["kws_transformer", "--data", "data", "--set", "d_model"],
    ],
)
def test_bad_data_or_settings_of_a_recipe_are_refused_before_torch_loads(workdir, args):
    # A typo costs the user no wait: torch's import (about two seconds) comes after the checks.
    probe = "import sys, kws.cli; code = kws.cli.main(sys.argv[1:]); print(sorted(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe, "train", *args, "--out", "bad"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "kws train: error:" in result.stderr, result.stderr[-2000:]
    assert "'torch'" not in result.stdout and "'kws.recipes'" in result.stdout


def test_resolve_recipe_scales_warmup_and_validation_with_the_steps():
    base = SMALL["kws_transformer"]
    half = resolve_recipe("kws_transformer", steps=base.steps // 2, lr=1e-3)
    assert half.steps == base.steps // 2 and half.lr == 1e-3
    assert half.warmup_steps == round(base.warmup_steps / 2)
    assert half.eval_every == round(base.eval_every / 2)
    preset = resolve_recipe("crnn_attention", settings=["gru_hidden=64", "channels=[16, 32, 64]"])
    assert preset.overrides["gru_hidden"] == 64 and preset.overrides["channels"] == [16, 32, 64]
    speaker = resolve_recipe("speaker_conformer", full=True, batch_size=8)
    assert speaker.task == "speaker" and speaker.steps == 70_000 and speaker.batch_size == 8
