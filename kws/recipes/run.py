"""Run a [`kws.recipes.Recipe`][] end to end: data -> model -> ``fit`` -> test -> figures and files.

``run_recipe(recipe, data_root, out_dir)`` expects the layouts of ``kws.data.synthetic`` (and of the
real data): ``data_root/speech_commands_v0.02`` with its sibling 12-class test set for KWS,
``data_root/speaker_features`` (and, when present, ``data_root/speaker_features_hidden`` with the
test labels) for speaker ID. It writes into ``out_dir/<recipe.name>/``: ``model.pt``,
``config.json``, ``history.json``, ``last.pt`` (from ``fit``), ``curves.png``, ``lr.png``,
``confusion.png``, ``attention.png`` (models with attention), ``predictions.csv`` and
``results.json``, and returns the results dict.
"""

import json
import time
from pathlib import Path

import torch

from kws import plots
from kws.data import SpeechCommands, WaveAugment, load_background_noise
from kws.data.batches import ClipBatches, FeatureBatches
from kws.data.cache import cache_clips, cache_features
from kws.data.speaker_features import SpeakerFeatures
from kws.models import build_model
from kws.models.speaker_models import criterion
from kws.models.tta import SpeedAveraging
from kws.params import count_parameters, format_count
from kws.recipes import Recipe
from kws.training import evaluate, fit, predict, resolve_device, seed_everything
from kws.training.checkpoints import STATE_FILE
from kws.training.evaluation import write_predictions_csv

EVAL_BATCH = 256


def kws_batches(
    root: Path,
    recipe: Recipe,
    device: torch.device,
    seed: int,
    test_set: Path | None = None,
) -> tuple[ClipBatches, ClipBatches, ClipBatches, list[str], list[str]]:
    """Train (shuffled, augmented), validation and 12-class test batches of Speech Commands, with
    the class names and the test clips' ids (``WORD/FILE.wav`` in the test-set folder).
    ``test_set`` is the 12-class test folder; default the dataset's sibling test set."""
    splits = {
        "training": SpeechCommands(
            root, "training", labels="12", unknown_fraction=recipe.unknown_fraction, seed=seed
        ),
        "validation": SpeechCommands(root, "validation", labels="12", seed=seed),
        "test12": SpeechCommands(root, "test12", labels="12", seed=seed, test_set_root=test_set),
    }
    caches = {subset: cache_clips(dataset) for subset, dataset in splits.items()}
    augment = None
    if recipe.augment:  # speeds, shifts, noise and levels (SpecAugment is in the model)
        noises = load_background_noise(root)
        augment = WaveAugment(noises, speed=recipe.speed, gain_db=recipe.gain_db).to(device)
    train = ClipBatches(
        caches["training"], recipe.batch_size, device, seed=seed, augment=augment, drop_last=True
    )
    valid = ClipBatches(caches["validation"], EVAL_BATCH, device, shuffle=False)
    test = ClipBatches(caches["test12"], EVAL_BATCH, device, shuffle=False)
    test_ids = [f"{clip.path.parent.name}/{clip.path.name}" for clip in splits["test12"].items]
    return train, valid, test, list(splits["training"].classes), test_ids


def speaker_batches(
    root: Path, recipe: Recipe, device: torch.device, seed: int
) -> tuple[FeatureBatches, FeatureBatches, FeatureBatches, list[str], list[str]]:
    """Train (random crops), validation (whole utterances, 10 %) and test batches of HW4 features,
    with the speaker names and the test ``feature_path`` ids."""
    train_split = SpeakerFeatures(root, "train", segment_len=recipe.crop or 128, seed=seed)
    valid_split = SpeakerFeatures(root, "valid", seed=seed)
    train = FeatureBatches(
        cache_features(train_split),
        recipe.batch_size,
        device,
        crop=recipe.crop,
        seed=seed,
        drop_last=True,
    )
    valid = FeatureBatches(cache_features(valid_split), 64, device, crop=None, shuffle=False)
    test_cache = cache_features(root, "test")
    test = FeatureBatches(test_cache, 64, device, crop=None, shuffle=False)
    return train, valid, test, list(train_split.speakers), list(test_cache.feature_paths)


def per_class_accuracy(
    labels: torch.Tensor, predictions: torch.Tensor, class_names: list[str]
) -> dict[str, float | None]:
    """Class name -> share of its examples predicted right (None for a class with no examples)."""
    accuracy = {}
    for index, name in enumerate(class_names):
        mine = labels == index
        total = int(mine.sum())
        accuracy[name] = None if total == 0 else int((predictions[mine] == index).sum()) / total
    return accuracy


def hidden_test_accuracy(csv_path: Path, labels_path: Path) -> float | None:
    """Accuracy of a predictions CSV against the hidden ``Id,Category`` labels, if they exist."""
    if not labels_path.is_file():
        return None
    from kws.data.labels_csv import read_labels_csv  # a BOM, CRLF or quotes as a spreadsheet saves

    truth, guesses = read_labels_csv(labels_path), read_labels_csv(csv_path)
    return sum(guesses.get(i) == c for i, c in truth.items()) / len(truth)


def run_recipe(
    recipe: Recipe,
    data_root: str | Path,
    out_dir: str | Path,
    *,
    device: str | torch.device = "auto",
    seed: int = 0,
    progress: bool = True,
    test_set: str | Path | None = None,
    resume: bool = False,
) -> dict:
    """Train ``recipe`` on the data under ``data_root``; test the weights ``recipe.keep`` names.

    ``test_set`` (KWS) is a 12-class test-set folder (``_silence_/``, ``_unknown_/``, ``yes/``, ...)
    to test on instead of ``data_root/speech_commands_test_set_v0.02``. ``resume=True`` continues
    an interrupted run from ``out_dir/<recipe.name>/last.pt`` when there is one.

    Returns:
        dict: ``recipe``, ``model``, ``parameters``, ``steps``, ``train_seconds`` (``fit`` only),
        ``wall_seconds`` and ``cpu_seconds`` (``fit`` with its validations; CPU time of this
        process, which tells a busy shared machine apart from a slow recipe),
        ``best_step``, ``valid_accuracy`` (best), ``test_accuracy`` (KWS: the 12-class test set,
        averaged over ``recipe.test_speeds`` when it names some; speaker ID: the hidden test
        labels when present, else None), ``test_per_class`` (KWS: class name -> accuracy on the
        test set; speaker ID: None), ``test_accuracy_one_pass`` (KWS: the same model scored
        without the averaging; speaker ID: None), ``out_dir``.
    """
    device = resolve_device(device)
    data_root, out = Path(data_root), Path(out_dir) / recipe.name
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)
    if recipe.task == "kws":
        sc_root = data_root / "speech_commands_v0.02"
        test_root = None if test_set is None else Path(test_set)
        train, valid, test, class_names, test_ids = kws_batches(
            sc_root, recipe, device, seed, test_root
        )
        model = build_model(recipe.model, n_classes=len(class_names), **recipe.overrides)
        loss_fn = None
    else:
        sf_root = data_root / "speaker_features"
        train, valid, test, class_names, test_ids = speaker_batches(sf_root, recipe, device, seed)
        model = build_model(recipe.model, n_classes=len(class_names), **recipe.overrides)
        cosine = getattr(model.config, "head", "linear") == "cosine"
        loss_fn = criterion(model) if cosine else None

    start, cpu_start = time.perf_counter(), time.process_time()
    history = fit(
        model,
        train,
        valid,
        steps=recipe.steps,
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        warmup_steps=recipe.warmup_steps,
        eval_every=recipe.eval_every,
        loss_fn=loss_fn,
        label_smoothing=recipe.label_smoothing if loss_fn is None else 0.0,
        out_dir=out,
        device=device,
        seed=seed,
        progress=progress,
        resume=out if resume and (out / STATE_FILE).is_file() else None,
        keep=recipe.keep,
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    model.load_state_dict(torch.load(out / "model.pt", map_location=device, weights_only=True))

    plots.plot_curves(history, out / "curves.png", title=f"{recipe.name} ({recipe.model})")
    plots.plot_learning_rate(history, out / "lr.png")
    one_pass = None
    if recipe.task == "kws":
        scored = SpeedAveraging(model, recipe.test_speeds) if recipe.test_speeds else model
        tested = evaluate(scored, test, return_predictions=True)
        test_accuracy = tested["accuracy"]
        one_pass = evaluate(model, test)["accuracy"] if recipe.test_speeds else test_accuracy
        labels, predictions = tested["labels"], tested["predictions"]
        per_class = per_class_accuracy(labels, predictions, class_names)
        write_predictions_csv(out / "predictions.csv", test_ids, predictions, class_names)
        clip = test.waves[:1].float() * test.scales[:1, None]  # (1, S)
    else:
        validated = evaluate(model, valid, loss_fn=loss_fn, return_predictions=True)
        labels, predictions = validated["labels"], validated["predictions"]
        write_predictions_csv(out / "predictions.csv", test_ids, predict(model, test), class_names)
        hidden = data_root / "speaker_features_hidden" / "test_labels.csv"
        test_accuracy = hidden_test_accuracy(out / "predictions.csv", hidden)
        clip, per_class = None, None
    plots.plot_confusion_matrix(
        labels,
        predictions,
        class_names,
        normalize=True,
        path=out / "confusion.png",
        title=f"{recipe.name} ({'12-class test' if recipe.task == 'kws' else 'validation'})",
    )
    if clip is not None and plots.attention_layers(model):
        plots.plot_attention(
            model, clip, path=out / "attention.png", title=f"{recipe.name}, clip 0"
        )

    results = {
        "recipe": recipe.name,
        "model": recipe.model,
        "parameters": count_parameters(model),
        "steps": history.steps,
        "train_seconds": round(history.train_seconds, 1),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "best_step": history.best_step,
        "valid_accuracy": history.best_valid_accuracy,
        "test_accuracy": test_accuracy,
        "test_per_class": per_class,
        "test_accuracy_one_pass": one_pass,
        "out_dir": str(out),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results


def format_results(results: list[dict]) -> str:
    """A plain-text table of `run_recipe` results, one row per recipe."""
    header = (
        f"{'recipe':<24} {'model':<20} {'params':>8} {'steps':>6} {'train s':>8} "
        f"{'valid acc':>9} {'test acc':>9}"
    )
    rows = [header, "-" * len(header)]
    for r in results:
        test = "-" if r["test_accuracy"] is None else f"{r['test_accuracy']:.2%}"
        rows.append(
            f"{r['recipe']:<24} {r['model']:<20} {format_count(r['parameters']):>8} "
            f"{r['steps']:>6} {r['train_seconds']:>8.1f} {r['valid_accuracy']:>9.2%} {test:>9}"
        )
    return "\n".join(rows)


def format_per_class(results: dict) -> str:
    """One run's test accuracy, overall and per class (KWS), with its time, as plain text."""
    lines = [
        f"{results['recipe']} ({results['model']}, {format_count(results['parameters'])} "
        f"parameters): {results['steps']} steps in {results['train_seconds']:.0f} s "
        f"({results['cpu_seconds']:.0f} CPU-s), best validation {results['valid_accuracy']:.2%} "
        f"at step {results['best_step']}"
    ]
    if results["test_accuracy"] is not None:
        lines.append(f"test accuracy {results['test_accuracy']:.2%}")
    for name, accuracy in (results.get("test_per_class") or {}).items():
        lines.append(f"  {name:<12} {'-' if accuracy is None else f'{accuracy:.2%}':>7}")
    return "\n".join(lines)
