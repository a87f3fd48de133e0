"""What the variant benchmarks share (``bench_notebook_variants.py``, ``bench_patch_variants.py``):
notebook 01's data and recipe on a speaker fold, as they train a model on it and score it.

- `solution_names`: the names a solution notebook's tagged cells define (notebook 01's classes,
  its ``RECIPE`` and ``learning_rate_factor``; notebook 03's classes);
- `fold_clips`: a fold's training clips made as notebook 01 makes them, its 12-class test clips
  and its training noises; `training_batches`: its augmented batches;
- `job_settings`: a variant's settings; `predictions`, `score`: a model's accuracy on the test
  clips, overall and per class.
"""

from __future__ import annotations

from pathlib import Path

import torch
from real_speech_runs import CLASSES, NOTEBOOK_01


def solution_names(notebook: Path = NOTEBOOK_01, tags=("model", "recipe"), **names) -> dict:
    """The names the solution `notebook`'s cells tagged `tags` define, run in that order with
    `names` defined first (notebook 01's recipe reads ``LR``)."""
    from kws.notebooks import code_of_tagged_cells, python_source, read_notebook

    nb = read_notebook(notebook)
    namespace: dict = dict(names)
    for tag in tags:
        exec(python_source(code_of_tagged_cells(nb, tag)), namespace)  # noqa: S102
    return namespace


def predictions(model: torch.nn.Module, clips) -> torch.Tensor:
    """``model``'s class for each of the cached ``clips``, in their order (eval mode)."""
    from kws.data.batches import ClipBatches

    model.eval()
    with torch.no_grad():
        return torch.cat(
            [model(x).argmax(-1) for x, _, _ in ClipBatches(clips, 256, shuffle=False)]
        )


def fold_clips(train_root: Path, test_root: Path, nb: dict, seed: int, unknown_fraction: float):
    """Notebook 01's training clips from ``train_root``'s training split (the keywords, a seeded
    draw of other words as ``_unknown_`` with its ``twelve_class_labels``, ``_silence_`` windows
    of the training noises with its ``silence_windows``), the fold's 12-class test clips (from
    ``test_root``, written by ``holdout.prepare_split``) and the training noises."""
    from kws.data import SpeechCommands, add_silence, load_background_noise
    from kws.data.cache import cache_clips

    sc = train_root / "speech_commands_v0.02"
    noises = load_background_noise(sc)
    clips = SpeechCommands(sc, "training", labels="35")
    words = [clips.classes[c.label] for c in clips.items]
    labels = nb["twelve_class_labels"](words, unknown_fraction, seed)
    keywords = sum(label not in (None, "_unknown_") for label in labels)
    silence = nb["silence_windows"](noises, round(0.1 * keywords), seed)
    train = add_silence(cache_clips(clips.with_labels(labels)), silence, seed=seed)
    test_clips = SpeechCommands(test_root / "speech_commands_v0.02", "test12", labels="12")
    return train, cache_clips(test_clips), noises


def job_settings(job: dict, base: dict, variants: dict[str, dict]) -> dict:
    """A job's settings: ``base`` with its variant's levers on top, every variant ``job["steps"]``
    long when the job asks for a quick look (and in the kit's test)."""
    settings = {**base, **variants[job["variant"]]}
    if job.get("steps"):
        settings["steps"] = job["steps"]
    return settings


def training_batches(train, noises, settings: dict, seed: int):
    """The notebook's augmented training batches of ``train`` (tiny data still trains: a batch is
    at most the whole training set)."""
    from kws.data import WaveAugment
    from kws.data.batches import ClipBatches

    augment = WaveAugment(noises, speed=settings["speed"], gain_db=settings["gain_db"])
    batch_size = min(settings["batch_size"], len(train))
    return ClipBatches(train, batch_size, seed=seed, augment=augment, drop_last=True)


def score(readouts: dict[str, torch.nn.Module], test) -> tuple[dict, dict]:
    """The accuracy of each of ``readouts`` on the cached ``test`` clips, and the accuracy per
    class of ``readouts["one_pass"]`` (None for a class the fold has no clip of)."""
    truth = test.labels
    scores = {readout: predictions(scorer, test) for readout, scorer in readouts.items()}
    accuracy = {name: (guess == truth).float().mean().item() for name, guess in scores.items()}
    per_class = {
        name: (scores["one_pass"][truth == i] == i).float().mean().item()
        if (truth == i).any()
        else None
        for i, name in enumerate(CLASSES)
    }
    return accuracy, per_class
