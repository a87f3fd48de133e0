"""How hard are the datasets? A linear model on the mean log-mel of each clip / utterance.

    python benchmarks/bench_linear_baseline.py --root DATA

DATA holds speech_commands_v0.02/ (+ the 12-class test set) and/or speaker_features/ (+
speaker_features_hidden/), e.g. from `python data_scripts/synthesize.py --root DATA --preset small`.
Each clip becomes one 40-dim vector (its log-mel frames averaged over time); multinomial logistic
regression (torch, full-batch L-BFGS, L2 weight chosen on the validation split) is trained on the
training split and scored on the 12-class test set and on the hidden speaker labels. A model that
looks at the order of the frames (the Transformers of the course) must beat these numbers clearly;
`--cnn-epochs 20` trains a small CNN on the keyword task to show that it can be done.

On the `small` preset (seed 0): 12 classes, linear 0.512, small CNN (20 epochs) 0.925;
50 speakers, linear 0.850 (100 speakers: 0.662, but the reference models then need far more
than the CPU demo budget to pass 90 %).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from kws.data.features import LogMel
from kws.data.speaker_features import SpeakerFeatures
from kws.data.speech_commands import SpeechCommands, load_item


def mean_logmel_clips(dataset: SpeechCommands, batch_size: int = 256) -> torch.Tensor:
    """(N, 40): every clip's 40-bin log-mel, averaged over its 101 frames."""
    logmel = LogMel(n_mels=40)
    rows = []
    for start in range(0, len(dataset.items), batch_size):
        items = dataset.items[start : start + batch_size]
        waves = torch.stack([load_item(item) for item in items])  # (B, 16000)
        with torch.no_grad():
            rows.append(logmel(waves).mean(dim=1))  # (B, 40)
    return torch.cat(rows)


def mean_features(dataset: SpeakerFeatures) -> torch.Tensor:
    """(N, F): every whole utterance's features averaged over time."""
    old_split, dataset.split = dataset.split, "valid"  # whole utterances, no random crops
    rows = torch.stack([dataset[i][0].mean(dim=0) for i in range(len(dataset))])
    dataset.split = old_split
    return rows


def fit_logistic_regression(
    x: torch.Tensor, y: torch.Tensor, n_classes: int, weight_decay: float
) -> torch.nn.Linear:
    """Multinomial logistic regression on standardised inputs (x (N, D), y (N,)), L-BFGS."""
    model = torch.nn.Linear(x.shape[1], n_classes, dtype=torch.float64)
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss = loss + weight_decay * model.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return model


def accuracy(model: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).double().mean().item()


def evaluate(name: str, train, valid, test, n_classes: int) -> None:
    """Pick the L2 weight on (x, y) `valid`, report train / valid / test accuracy."""
    mean, std = train[0].mean(dim=0), train[0].std(dim=0) + 1e-8
    train, valid, test = [((x - mean) / std, y) for x, y in (train, valid, test)]
    best = None
    for weight_decay in (1e-5, 1e-4, 1e-3, 1e-2):
        model = fit_logistic_regression(*train, n_classes, weight_decay)
        if best is None or accuracy(model, *valid) > best[0]:
            best = (accuracy(model, *valid), weight_decay, model)
    _, weight_decay, model = best
    print(
        f"{name}: linear on mean log-mel (L2 {weight_decay:g}): train {accuracy(model, *train):.3f}"
        f"  valid {accuracy(model, *valid):.3f}  test {accuracy(model, *test):.3f}"
        f"  ({len(train[1])}/{len(valid[1])}/{len(test[1])} examples, {n_classes} classes)"
    )


def small_cnn_accuracy(train: SpeechCommands, test: SpeechCommands, epochs: int) -> float:
    """Test accuracy of a 3-layer CNN (~25k parameters) on log-mel frames: the same data, but a
    model that sees the frames in order. Adam with a one-cycle schedule, time shifts of ±10 frames."""
    logmel = LogMel(n_mels=40)
    with torch.no_grad():
        x_train = logmel(torch.stack([load_item(item) for item in train.items]))  # (N, T, F)
        x_test = logmel(torch.stack([load_item(item) for item in test.items]))
    mean, std = x_train.mean(), x_train.std()
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    y_train = torch.tensor([item.label for item in train.items])
    y_test = torch.tensor([item.label for item in test.items])

    def block(c_in: int, c_out: int) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Conv2d(c_in, c_out, 3, padding=1),
            torch.nn.BatchNorm2d(c_out),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
        )

    model = torch.nn.Sequential(
        block(1, 16), block(16, 32), block(32, 64), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(64, len(train.classes)),
    )  # fmt: skip
    batch_size = 64
    steps = epochs * -(-len(x_train) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=5e-3, total_steps=steps)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(x_train)).split(batch_size):
            shift = int(torch.randint(-10, 11, ()))
            x = torch.roll(x_train[batch], shift, dims=1)[:, None]  # (B, 1, T, F)
            loss = torch.nn.functional.cross_entropy(model(x), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        return (model(x_test[:, None]).argmax(dim=1) == y_test).float().mean().item()


def speech_commands(folder: Path, cnn_epochs: int) -> None:
    splits, datasets = {}, {}
    for subset in ("training", "validation", "test12"):
        dataset = datasets[subset] = SpeechCommands(folder, subset, labels="12")
        labels = torch.tensor([item.label for item in dataset.items])
        splits[subset] = (mean_logmel_clips(dataset).double(), labels)
    evaluate("Speech Commands, 12 classes", *splits.values(), n_classes=12)
    if cnn_epochs:
        accuracy = small_cnn_accuracy(datasets["training"], datasets["test12"], cnn_epochs)
        print(f"Speech Commands, 12 classes: small CNN, {cnn_epochs} epochs: test {accuracy:.3f}")


def speaker_features(folder: Path, hidden: Path) -> None:
    train, valid = SpeakerFeatures(folder, "train"), SpeakerFeatures(folder, "valid")
    test = SpeakerFeatures(folder, "test")
    with open(hidden / "test_labels.csv") as file:
        truth = {row["Id"]: train.speaker2id[row["Category"]] for row in csv.DictReader(file)}
    splits = [
        (mean_features(train).double(), torch.tensor([s for _, _, s in train.items])),
        (mean_features(valid).double(), torch.tensor([s for _, _, s in valid.items])),
        (mean_features(test).double(), torch.tensor([truth[p] for p, _, _ in test.items])),
    ]
    evaluate(f"Speaker id, {train.num_speakers} speakers", *splits, n_classes=train.num_speakers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="folder the datasets are in")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--cnn-epochs", type=int, default=0, help="also train a small CNN this long (20: ~4 min)"
    )
    args = parser.parse_args(argv)
    # The tensors are small: more threads mostly wait for each other on a busy machine.
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    found = False
    if (args.root / "speech_commands_v0.02").is_dir():
        start = time.perf_counter()
        speech_commands(args.root / "speech_commands_v0.02", args.cnn_epochs)
        print(f"  ({time.perf_counter() - start:.1f} s)")
        found = True
    if (args.root / "speaker_features").is_dir():
        start = time.perf_counter()
        speaker_features(args.root / "speaker_features", args.root / "speaker_features_hidden")
        print(f"  ({time.perf_counter() - start:.1f} s)")
        found = True
    if not found:
        raise SystemExit(
            f"error: neither speech_commands_v0.02/ nor speaker_features/ in {args.root}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
