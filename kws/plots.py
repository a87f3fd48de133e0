"""Figures of a training run: loss/accuracy curves, learning rate, confusion matrix, attention map.

Every function returns a `matplotlib.figure.Figure` (a notebook shows it when it is the cell's
last value) and, given ``path``, also saves it as a PNG. Figures are built without ``pyplot``, so they
work headless (no display, no backend to choose) and are not kept alive by pyplot's global state.
Text in Chinese (class names, titles) is drawn with an installed font that has it (`kws.fonts`).
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from kws.fonts import readable
from kws.training.history import History


def _save(figure: Figure, path: str | Path | None) -> Figure:
    readable(figure)  # labels in Chinese drawn with a font that has them (kws.fonts)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=120, bbox_inches="tight")
    return figure


def _moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Mean of each ``window`` consecutive values (shorter at the start), same length as ``values``."""
    values = np.asarray(values, dtype=float)
    sums = np.cumsum(np.insert(values, 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def plot_curves(history: History, path: str | Path | None = None, title: str = "") -> Figure:
    """Loss (left) and accuracy (right) against the training step: train per step, lightly drawn,
    with its moving average, and validation at each evaluation as markers.

    Raises:
        ValueError: the history has no steps.
    """
    if history.steps == 0:
        raise ValueError("the history has no training steps to plot; was fit() run?")
    steps = np.arange(1, history.steps + 1)
    window = max(1, history.steps // 50)
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    loss_ax, acc_ax = figure.subplots(1, 2)
    for ax, train, valid, name in (
        (loss_ax, history.loss, history.valid_loss, "loss"),
        (acc_ax, history.train_accuracy, history.valid_accuracy, "accuracy"),
    ):
        ax.plot(steps, train, color="tab:blue", alpha=0.25, linewidth=0.8)
        ax.plot(
            steps,
            _moving_average(train, window),
            color="tab:blue",
            label=f"train (mean of {window})",
        )
        if valid:
            ax.plot(history.eval_step, valid, "o-", color="tab:orange", label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if history.best_step is not None:
        acc_ax.axvline(history.best_step, color="tab:green", linestyle=":", label="best checkpoint")
        acc_ax.legend()
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_learning_rate(history: History, path: str | Path | None = None) -> Figure:
    """The learning rate of every step (warm-up, then cosine decay)."""
    if history.steps == 0:
        raise ValueError("the history has no training steps to plot; was fit() run?")
    figure = Figure(figsize=(5, 3.2), layout="constrained")
    ax = figure.subplots()
    ax.plot(np.arange(1, history.steps + 1), history.lr)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax.grid(alpha=0.3)
    return _save(figure, path)


def confusion_matrix(
    labels: torch.Tensor | Sequence[int], predictions: torch.Tensor | Sequence[int], n_classes: int
) -> np.ndarray:
    """Counts (C, C): row = true class, column = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.shape[0]} labels but {predictions.shape[0]} predictions")
    for name, values in (("label", labels), ("prediction", predictions)):
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise ValueError(f"a {name} lies outside [0, {n_classes}): give one name per class")
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def plot_confusion_matrix(
    labels: torch.Tensor | Sequence[int],
    predictions: torch.Tensor | Sequence[int],
    class_names: Sequence[str],
    *,
    normalize: bool = False,
    path: str | Path | None = None,
    title: str = "",
) -> Figure:
    """Confusion matrix with class names: row = true class, column = predicted class.

    Args:
        labels: the true class indices (N,).
        predictions: the predicted class indices (N,).
        class_names: C names, in class-index order.
        normalize: divide each row by its count, so a cell is the fraction of that true class.
        path: save a PNG here too.
        title: figure title; the overall accuracy is appended.
    """
    counts = confusion_matrix(labels, predictions, len(class_names))
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    n = len(class_names)
    size = min(max(4.0, 0.45 * n + 2.0), 16.0)
    figure = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = figure.subplots()
    vmax = 1.0 if normalize else max(1, shown.max())
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=vmax)
    figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(n), class_names, rotation=90 if n > 6 else 0)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n <= 30:  # numbers in the cells while they still fit
        threshold = vmax / 2  # white text on the dark half of the colour map
        for i in range(n):
            for j in range(n):
                text = f"{shown[i, j]:.2f}" if normalize else str(counts[i, j])
                color = "white" if shown[i, j] > threshold else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title + ' — ' if title else ''}accuracy {accuracy:.2%} of {counts.sum()}")
    return _save(figure, path)


def attention_layers(model: nn.Module) -> list[nn.Module]:
    """The model's self-attention modules (those with ``keep_attention``), in forward order."""
    return [m for m in model.modules() if hasattr(m, "keep_attention")]


@torch.no_grad()
def attention_weights(
    model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None = None, layer: int = -1
) -> torch.Tensor:
    """The attention weights (H, T, T) of one layer for one example, from an eval-mode forward pass.

    Args:
        model: a model built on [`MultiHeadSelfAttention`][kws.models.attention.MultiHeadSelfAttention].
        x: one example, batched: (1, S) waveform or (1, T, F) features.
        lengths: (1,) valid frames, or ``None``.
        layer: which attention layer (index into `attention_layers`; -1 = the last).

    Raises:
        ValueError: the model has no attention layer, or ``x`` holds more than one example.
    """
    layers = attention_layers(model)
    if not layers:
        raise ValueError(
            f"{type(model).__name__} has no MultiHeadSelfAttention layer (no keep_attention attribute)"
        )
    if x.size(0) != 1:
        raise ValueError(f"attention maps are drawn for one example: x has batch size {x.size(0)}")
    chosen = layers[layer]
    was_training = model.training
    model.eval()
    chosen.keep_attention = True
    try:
        device = next(model.parameters()).device
        model(x.to(device)) if lengths is None else model(x.to(device), lengths.to(device))
        weights = chosen.last_attention
    finally:
        chosen.keep_attention = False
        chosen.last_attention = None
        model.train(was_training)
    return weights[0].float().cpu()  # (H, T, T)


def plot_attention(
    model: nn.Module,
    x: torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    layer: int = -1,
    path: str | Path | None = None,
    title: str = "",
) -> Figure:
    """Attention map of one example: one panel per head, query token (row) against key token (column).

    See `attention_weights` for the arguments. Token 0 is the CLS token in models that have one.
    """
    weights = attention_weights(model, x, lengths, layer)  # (H, T, T)
    n_heads = weights.size(0)
    columns = min(n_heads, 4)
    rows = -(-n_heads // columns)
    figure = Figure(figsize=(3.2 * columns + 0.8, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for head, ax in enumerate(axes):
        if head >= n_heads:
            ax.axis("off")
            continue
        image = ax.imshow(weights[head].numpy(), cmap="viridis", vmin=0, aspect="auto")
        ax.set_title(f"head {head}")
        ax.set_xlabel("key token")
        ax.set_ylabel("query token")
    figure.colorbar(image, ax=axes.tolist(), shrink=0.8)
    index = layer if layer >= 0 else len(attention_layers(model)) + layer
    figure.suptitle(f"{title + ' — ' if title else ''}attention of layer {index}")
    return _save(figure, path)
