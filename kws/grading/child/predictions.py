"""Predictions in the grading child: every unlabelled input through the loaded model, checked, in
batches that bound the memory of attention scores.

Shapes: B inputs in a batch, T frames of its longest, C classes.
"""

import contextlib
import ctypes
import random

# The memory bound of a prediction batch: B·T² at most this, so one (B, T, T) attention score
# matrix is 4 MiB of float32 (a model with H heads holds H of them, and a copy or two). Measured
# on the reference notebook 02 (utterances of ~775 frames, one thread): the models predict as
# many utterances per CPU-second in batches of one as in batches of six (the earlier 4,000,000),
# while those held 4 times the memory and, past glibc's 32 MiB, made the kernel map and zero
# every score matrix afresh (half the child's CPU time was the kernel's). Short inputs keep
# ChildRun.batch_size.
MAX_SCORES_PER_BATCH = 1_000_000


def prediction_batches(inputs, batch_size: int) -> list:
    """The index batches predictions run on (and the traced ones are picked from): the inputs'
    own batches, long utterances split further so that B·T² stays under MAX_SCORES_PER_BATCH
    (an utterance longer than that alone is a batch of its own)."""
    import torch

    batches = []
    for indices in inputs.index_batches(batch_size):
        frames = int(inputs.lengths[indices].max()) if inputs.kind == "features" else 1
        size = max(1, min(len(indices), MAX_SCORES_PER_BATCH // frames**2))
        batches += list(torch.split(indices, size))
    return batches


def predict(
    model,
    inputs,
    batches: list,
    n_classes: int,
    device: str,
    keep: frozenset[int] = frozenset(),
    near: float = 0.0,
) -> tuple[list[int], list[tuple], list[list[int]] | None]:
    """Argmax class of every input, in input order; ValueError on wrong shapes or NaN.

    Every batch runs under its own fixed seeds (`kws.tracing.determinism.seeded`, SEED + its
    number), so a model that draws random numbers in eval mode still predicts the same classes
    on every grading of the same files.

    Returns (predictions, kept, near ties): `kept` holds (indices, logits on the CPU, seed) of
    the batches numbered in `keep`, for the probes to trace and compare under the same seed; with
    `near` > 0, per
    input its runner-up class when scored within `near` of its score range (max - min) from
    its top score (`_near_ties`), else None.
    """
    import torch

    from kws.tracing.determinism import SEED, seeded

    predictions = torch.full((len(inputs),), -1, dtype=torch.int64)
    close: list[list[int]] = [[] for _ in range(len(inputs))]
    kept = []
    model.to(device).eval()
    try:
        with torch.no_grad():
            for number, indices in enumerate(batches):
                with seeded(SEED + number):
                    output = model(*inputs.batch(indices, device))
                logits = _logits(output, len(indices), n_classes)
                predictions[indices] = logits.argmax(dim=1).cpu()
                if near:
                    for row, item in zip(_near_ties(logits, near), indices.tolist(), strict=True):
                        close[item] = row
                if number in keep:
                    kept.append((indices, logits.detach().cpu().clone(), SEED + number))
    finally:
        model.to("cpu")  # the probes trace it on the CPU
    return predictions.tolist(), kept, close if near else None


def _near_ties(logits, near: float) -> list[list[int]]:
    """Per row of `logits` (B, C): the runner-up class when it scores within `near` of the row's
    range (max - min) from the top score, else none. Only the runner-up: a model that scored
    every class nearly alike would otherwise excuse any class a predictions file names."""
    if logits.shape[1] < 2:
        return [[] for _ in range(len(logits))]
    two = logits.topk(2, dim=1)  # values, indices: (B, 2) each
    span = two.values[:, 0] - logits.min(dim=1).values  # (B,)
    gap = two.values[:, 0] - two.values[:, 1]  # (B,)
    close = (gap <= near * span) & (span > 0)  # (B,)
    runner_up = two.indices[:, 1].tolist()
    return [[c] if ok else [] for c, ok in zip(runner_up, close.tolist(), strict=True)]


def release_memory() -> None:
    """Give the memory freed since the last call back to the OS (glibc's ``malloc_trim``): the
    freed score matrices of one task's predictions would otherwise stay mapped while the next
    task allocates its own beside them, raising the child's peak. Nothing where there is no
    glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def pick_batches(total: int, count: int = 3) -> frozenset[int]:
    """`count` of `total` prediction batches to trace, chosen with the OS's randomness (before
    student code runs, so the notebook cannot know or steer which ones); all when few."""
    return frozenset(random.SystemRandom().sample(range(total), min(count, total)))


def _logits(output, batch: int, n_classes: int):
    """The (batch, n_classes) finite scores in a model's output; ValueError otherwise."""
    import torch

    logits = output[0] if isinstance(output, tuple | list) else output
    if not isinstance(logits, torch.Tensor):
        raise ValueError(f"the model returned {type(logits).__name__}, not a tensor of scores")
    if logits.shape != (batch, n_classes):
        raise ValueError(
            f"the model returned {tuple(logits.shape)} for a batch of {batch}; expected logits "
            f"({batch}, {n_classes})"
        )
    if not torch.isfinite(logits).all():
        rows = int((~torch.isfinite(logits)).any(dim=1).sum())
        kind = "NaN" if torch.isnan(logits).any() else "infinite"
        raise ValueError(
            f"the model outputs {kind} scores for {rows} of the {batch} test inputs of a batch; "
            "in a padded batch look for a row whose keys are all masked (the padding mask is "
            "True where a frame is padding), a division by a length of 0 or a log of 0"
        )
    return logits
