"""What feeds a training run and how long it is: the endless batch stream and the step count."""

from collections.abc import Iterable


class BatchStream:
    """An endless stream of training batches: iterates ``batches`` again each time it runs out.

    Works for a finite re-iterable (a list, ``ClipBatches``: one pass is one epoch) and for an
    infinite iterator alike. ``drawn`` counts the batches handed out so far.
    """

    def __init__(self, batches: Iterable):
        self.batches = batches
        self.iterator = iter(batches)
        self.drawn = 0
        self.epoch = 0

    def next(self):
        try:
            batch = next(self.iterator)
        except StopIteration:
            if self.drawn == 0:
                raise ValueError(_no_batch_at_all(self.batches)) from None
            self.epoch += 1
            self.iterator = iter(self.batches)
            try:
                batch = next(self.iterator)
            except StopIteration:
                raise ValueError(
                    f"train_batches ran out after {self.drawn} batches and gives no more: pass a "
                    f"re-iterable (a list, ClipBatches, FeatureBatches), not a one-shot generator"
                ) from None
        self.drawn += 1
        return batch

    def skip(self, n: int) -> None:
        """Draw and drop ``n`` batches (to resume a deterministic iterator where it stopped)."""
        for _ in range(n):
            self.next()


def _no_batch_at_all(batches: Iterable) -> str:
    """Why train_batches gave nothing: an empty split, or one smaller than a dropped last batch."""
    size, batch_size = getattr(batches, "size", None), getattr(batches, "batch_size", None)
    if size == 0:
        return "train_batches gives no batch: its training split is empty (0 examples)"
    if size is not None and batch_size is not None and getattr(batches, "drop_last", False):
        return (
            f"train_batches gives no batch: its training split has {size} examples, fewer than "
            f"batch_size={batch_size}, and drop_last=True drops that partial batch; use a "
            f"batch_size of at most {size}, or more data"
        )
    return "train_batches gives no batch at all: is the training split empty?"


def total_steps_of(train_batches: Iterable, steps: int | None, epochs: int | None) -> int:
    """The run's length in optimizer steps, from exactly one of ``steps`` and ``epochs``."""
    if (steps is None) == (epochs is None):
        raise ValueError(
            f"give exactly one of steps= and epochs= (got steps={steps}, epochs={epochs})"
        )
    if steps is not None:
        if steps < 1:
            raise ValueError(f"steps={steps} must be at least 1")
        return steps
    if epochs < 1:
        raise ValueError(f"epochs={epochs} must be at least 1")
    try:
        per_epoch = len(train_batches)
    except TypeError:
        raise ValueError(
            f"epochs= needs train_batches with a len() (batches per epoch); "
            f"{type(train_batches).__name__} has none: pass steps= instead"
        ) from None
    if per_epoch < 1:
        raise ValueError("train_batches is empty (len() == 0): is the training set empty?")
    return epochs * per_epoch
