"""Recipes build their models; run_recipe trains, tests and writes every file on the tiny presets."""

import csv
import json
import shutil
from dataclasses import replace

import pytest
import torch

from kws.data import SpeechCommands
from kws.data.batches import ClipBatches
from kws.data.cache import cache_clips
from kws.demo.run import real_speech_table
from kws.models import build_model
from kws.models.tta import SpeedAveraging
from kws.recipes import FULL, SMALL, Recipe
from kws.recipes.run import format_per_class, kws_batches, per_class_accuracy, run_recipe
from kws.training import evaluate
from kws.training.checkpoints import load_training_state


@pytest.mark.parametrize("recipe", [*SMALL.values(), *FULL.values()], ids=lambda r: r.name)
def test_every_recipe_builds_its_model(recipe):
    classes = {"n_classes": 12} if recipe.task == "kws" else {"n_classes": 7}
    model = build_model(recipe.model, **classes, **recipe.overrides)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert recipe.warmup_steps <= recipe.steps and recipe.eval_every <= recipe.steps


def test_recipe_checks_and_scaling():
    with pytest.raises(ValueError, match="task='asr'"):
        Recipe(
            "x", "asr", "kwt_tiny", steps=10, batch_size=2, lr=1e-3, warmup_steps=1, eval_every=5
        )
    with pytest.raises(ValueError, match="keep='final'; use one of"):
        replace(SMALL["kws_transformer"], keep="final")
    with pytest.raises(ValueError, match="warmup_steps=20"):
        Recipe(
            "x", "kws", "kwt_tiny", steps=10, batch_size=2, lr=1e-3, warmup_steps=20, eval_every=5
        )
    short = SMALL["kws_transformer"].scaled(0.01)
    assert short.steps >= 1 and short.warmup_steps <= short.steps
    assert 1 <= short.eval_every <= short.steps


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory, tiny_data):
    """The module's copy of the session's tiny data (a run may cache features beside it)."""
    return shutil.copytree(tiny_data, tmp_path_factory.mktemp("tiny") / "data", symlinks=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kws_transformer", "speaker_conformer_ams"])
def test_run_recipe_writes_checkpoint_figures_and_predictions(tiny_root, tmp_path, name):
    recipe = replace(SMALL[name], steps=2, warmup_steps=1, eval_every=2, batch_size=4)
    results = run_recipe(recipe, tiny_root, tmp_path, device="cpu", progress=False)
    out = tmp_path / name
    for file in ("model.pt", "config.json", "history.json", "last.pt", "curves.png", "lr.png",
                 "confusion.png", "predictions.csv", "results.json"):  # fmt: skip
        assert (out / file).stat().st_size > 0, file
    assert json.loads((out / "results.json").read_text()) == results
    assert results["steps"] == 2 and 0.0 <= results["test_accuracy"] <= 1.0
    with (out / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    if recipe.task == "kws":
        assert len(rows) == 48 and (out / "attention.png").is_file()  # tiny: 48 test clips
    else:
        test_ids = [u["feature_path"] for u in json.loads(
            (tiny_root / "speaker_features" / "testdata.json").read_text())["utterances"]]  # fmt: skip
        assert sorted(row["Id"] for row in rows) == sorted(test_ids)
    state = torch.load(out / "model.pt", weights_only=True)
    assert state.keys() == build_model(recipe.model, **recipe.overrides).state_dict().keys()


@pytest.mark.slow
def test_run_recipe_scores_the_test_set_averaged_over_speeds(tiny_root, tmp_path):
    # test_speeds: the test accuracy is the saved model's, wrapped in SpeedAveraging; the one-pass
    # accuracy of the same checkpoint is reported beside it
    recipe = replace(
        SMALL["kws_transformer"], steps=4, warmup_steps=1, eval_every=4, batch_size=8, speed=0.1,
        test_speeds=(0.8, 1.0, 1.25),
    )  # fmt: skip
    train, *_ = kws_batches(tiny_root / "speech_commands_v0.02", recipe, torch.device("cpu"), 0)
    # the recipe's speeds and levels reach the training batches
    assert (train.augment.speed, train.augment.gain_db) == (0.1, SMALL["kws_transformer"].gain_db)
    results = run_recipe(recipe, tiny_root, tmp_path, device="cpu", progress=False)
    model = build_model(recipe.model, n_classes=12, **recipe.overrides)
    saved = torch.load(tmp_path / recipe.name / "model.pt", weights_only=True)
    last = load_training_state(tmp_path / recipe.name)["model"]
    assert recipe.keep == "last" and saved.keys() == last.keys()  # the last step's weights
    assert all(torch.equal(saved[name], last[name]) for name in saved)
    model.load_state_dict(saved)
    test = SpeechCommands(tiny_root / "speech_commands_v0.02", "test12", labels="12")
    batches = ClipBatches(cache_clips(test), 256, shuffle=False)
    averaged = evaluate(SpeedAveraging(model, recipe.test_speeds), batches)["accuracy"]
    assert results["test_accuracy"] == averaged
    assert results["test_accuracy_one_pass"] == evaluate(model, batches)["accuracy"]
    with pytest.raises(ValueError, match=r"test_speeds=\(0.0,\) must all be > 0"):
        replace(recipe, test_speeds=(0.0,))


def test_per_class_accuracy_and_its_report():
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    predictions = torch.tensor([0, 1, 1, 1, 0, 2])
    per_class = per_class_accuracy(labels, predictions, ["a", "b", "c", "d"])
    assert per_class == {"a": 0.5, "b": 2 / 3, "c": 1.0, "d": None}  # d: no test clip
    results = {"recipe": "r", "model": "m", "parameters": 1234, "steps": 10, "train_seconds": 5.0,
               "cpu_seconds": 9.0, "valid_accuracy": 0.75, "best_step": 10,
               "test_accuracy": 4 / 6, "test_per_class": per_class}  # fmt: skip
    report = format_per_class(results)
    assert "test accuracy 66.67%" in report and "b             66.67%" in report
    assert report.splitlines()[-1].split() == ["d", "-"]


def test_the_demo_quotes_cross_validated_results_with_their_spread(tmp_path):
    row = {"mean": 0.951, "sd": 0.012, "k": 2, "total_folds": 5, "cpu_seconds_mean": 612.0}
    path = tmp_path / "figures.json"
    path.write_text(json.dumps({"real_speech": {"rows": {"notebook 01": row}}}))
    table = real_speech_table(path)
    assert "notebook 01  95.10% ± 1.20% over 2 of 5 speaker folds (612 CPU-s a fold)" in table
    assert "unseen speakers" in table
    assert real_speech_table(tmp_path / "absent.json") == ""
