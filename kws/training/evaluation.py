"""Running a trained model over batches: accuracy and loss, or predictions for a CSV.

Batches are tuples ``(x, lengths, labels)`` as the kit's iterators yield them
([`kws.data.batches.ClipBatches`][], [`kws.data.batches.FeatureBatches`][]) or any iterable of
the same shape: ``x`` (B, S) waveforms or (B, T, F) features, ``lengths`` (B,) or ``None``, ``labels``
(B,) int64. For `predict` the third item may be absent or anything (e.g. dummy labels).

The kit's iterators may hand out examples in another order than the dataset's (shuffled, or
sorted by length to pad less); they say where each row came from through ``indexed()``, which
is used here to return predictions in the dataset's order.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from kws.data import speaker_features
from kws.device import resolve_device
from kws.training.runtime import autocast, resolve_precision


def unpack_batch(batch) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Split a batch into ``(x, lengths or None, labels or None)``.

    Raises:
        ValueError: the batch is not a tuple/list of 2 or 3 items.
    """
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError(
            f"a batch must be a tuple (x, lengths, labels) or (x, lengths), got {type(batch).__name__}"
            + (f" of {len(batch)} items" if isinstance(batch, (tuple, list)) else "")
            + "; lengths may be None for fixed-length inputs"
        )
    x, lengths = batch[0], batch[1]
    labels = batch[2] if len(batch) == 3 else None
    return x, lengths, labels


def to_device(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    """Move to ``device`` (a no-op when it is already there), without blocking the host when the
    copy goes to a GPU. Never so to the CPU: the host would read the copy before it lands."""
    if tensor is None:
        return None
    return tensor.to(device, non_blocking=device.type != "cpu")


def indexed_batches(batches: Iterable) -> Iterator[tuple[tuple, torch.Tensor | None]]:
    """``(batch, indices)`` pairs: the dataset index of every row when ``batches`` has
    ``indexed()`` (the kit's iterators), else ``None``."""
    if hasattr(batches, "indexed"):
        for *batch, indices in batches.indexed():
            yield tuple(batch), indices
    else:
        for batch in batches:
            yield batch, None


def in_dataset_order(values: torch.Tensor, indices: list[torch.Tensor | None]) -> torch.Tensor:
    """Put per-row ``values`` (N,) back in dataset order, given each batch's row indices."""
    if any(index is None for index in indices):
        return values
    indices = torch.cat(indices).cpu()
    if not torch.equal(indices.sort().values, torch.arange(len(indices))):
        raise ValueError(
            f"the batches hold {len(indices)} rows that are not each example exactly once "
            f"(drop_last=True?): build the evaluation batches with drop_last=False"
        )
    ordered = torch.empty_like(values)
    ordered[indices] = values
    return ordered


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def call_model(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """``model(x, lengths)``, or ``model(x)`` when there are no lengths -> logits (B, C)."""
    return model(x) if lengths is None else model(x, lengths)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    batches: Iterable,
    *,
    device: str | torch.device | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    precision: str = "auto",
    return_predictions: bool = False,
) -> dict:
    """Loss and accuracy of ``model`` over every batch, in eval mode (no dropout, no augmentation).

    Args:
        model: maps ``(x, lengths)`` (or ``x``) to logits (B, C).
        batches: iterable of ``(x, lengths, labels)``; one pass is made.
        device: where to run; defaults to the model's device ("auto" picks CUDA when present).
        loss_fn: ``loss_fn(logits, labels) -> mean loss``; defaults to plain cross-entropy (no label
            smoothing, so validation losses of differently smoothed runs compare).
        precision: "auto" (bf16 autocast on CUDA, fp32 elsewhere), "bf16" or "fp32".
        return_predictions: also return ``predictions`` and ``labels``, int64 (N,) on the CPU, in
            the dataset's order (see the module docstring).

    Returns:
        dict with ``loss`` (mean over examples), ``accuracy`` (fraction right), ``n`` (examples), and
        ``predictions``/``labels`` when asked. The model's train/eval mode is restored afterwards.

    Raises:
        ValueError: ``batches`` is empty or a batch has no labels.
    """
    device = model_device(model) if device is None else resolve_device(device)
    precision = resolve_precision(precision, device)
    loss_fn = loss_fn if loss_fn is not None else F.cross_entropy
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    predictions, all_labels, all_indices = [], [], []
    try:
        for batch, indices in indexed_batches(batches):
            x, lengths, labels = unpack_batch(batch)
            if labels is None:
                raise ValueError(
                    "evaluate() needs batches (x, lengths, labels); use predict() without labels"
                )
            x, lengths, labels = (to_device(t, device) for t in (x, lengths, labels))
            with autocast(device, precision):
                logits = call_model(model, x, lengths)
            logits = logits.float()
            predicted = logits.argmax(dim=-1)
            loss_sum += loss_fn(logits, labels) * labels.numel()
            correct += (predicted == labels).sum()
            n += labels.numel()
            if return_predictions:
                predictions.append(predicted.cpu())
                all_labels.append(labels.cpu())
                all_indices.append(indices)
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate() got no batches: is the validation/test set empty?")
    result = {"loss": loss_sum.item() / n, "accuracy": correct.item() / n, "n": n}
    if return_predictions:
        result["predictions"] = in_dataset_order(torch.cat(predictions), all_indices)
        result["labels"] = in_dataset_order(torch.cat(all_labels), all_indices)
    return result


@torch.inference_mode()
def predict(
    model: nn.Module,
    batches: Iterable,
    *,
    device: str | torch.device | None = None,
    precision: str = "auto",
) -> torch.Tensor:
    """The predicted class of every example, in the dataset's order.

    Args:
        model: maps ``(x, lengths)`` (or ``x``) to scores (B, C); the argmax is the prediction.
        batches: the kit's iterators (their ``indexed()`` gives the dataset order; any shuffling or
            length sorting is undone), or any iterable of ``(x, lengths)`` or
            ``(x, lengths, anything)``, whose order is kept.
        device: where to run; defaults to the model's device.
        precision: "auto", "bf16" or "fp32" (see `evaluate`).

    Returns:
        int64 tensor (N,) on the CPU.

    Raises:
        ValueError: no batches, or the kit's iterator leaves examples out (``drop_last=True``).
    """
    device = model_device(model) if device is None else resolve_device(device)
    precision = resolve_precision(precision, device)
    was_training = model.training
    model.eval()
    predictions, all_indices = [], []
    try:
        for batch, indices in indexed_batches(batches):
            x, lengths, _ = unpack_batch(batch)
            with autocast(device, precision):
                logits = call_model(model, to_device(x, device), to_device(lengths, device))
            predictions.append(logits.argmax(dim=-1).cpu())
            all_indices.append(indices)
    finally:
        model.train(was_training)
    if not predictions:
        raise ValueError("predict() got no batches: is the test set empty?")
    return in_dataset_order(torch.cat(predictions), all_indices)


def write_predictions_csv(
    path: str | Path,
    ids: Sequence[str],
    predictions: torch.Tensor | Sequence[int],
    class_names: Sequence[str],
) -> Path:
    """Write the Kaggle-style ``Id,Category`` CSV: one row per example, the class name as Category.

    Args:
        path: the CSV file to write (its folder is created); written by
            [`kws.data.speaker_features.write_predictions_csv`][].
        ids: one Id per example (for HW4: the test utterance's ``feature_path``).
        predictions: class indices (N,), in the order of ``ids``.
        class_names: the name of each class index (for HW4: ``mapping.json``'s ``id2speaker``).

    Raises:
        ValueError: ``ids`` and ``predictions`` differ in length, or an index has no class name.
    """
    predictions = [int(p) for p in predictions]
    if len(ids) != len(predictions):
        raise ValueError(
            f"{len(ids)} ids but {len(predictions)} predictions: predict over the same examples, "
            f"in the same order, as the ids"
        )
    bad = [p for p in predictions if not 0 <= p < len(class_names)]
    if bad:
        raise ValueError(
            f"prediction {bad[0]} has no class name: only {len(class_names)} names given"
        )
    # The HW4 reader owns the file format; this adds the index -> name step on top of it.
    return speaker_features.write_predictions_csv(
        path, list(ids), [class_names[p] for p in predictions]
    )
