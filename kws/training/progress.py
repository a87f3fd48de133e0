"""What a training run records as it goes: each step's numbers into the History, the tqdm bar,
a line per validation, and the time spent.

A step's loss, correct count and gradient norm stay on the device until the log interval ends;
then one copy to the host (one sync) brings the whole interval's, so the GPU runs ahead of Python.
"""

import time

import torch
from tqdm.auto import tqdm

from kws.training.history import History


class ProgressLog:
    """The record of one run of ``total_steps`` steps, continuing at ``start_step`` (0 for a new
    run); ``progress=False`` shows nothing and still records everything."""

    def __init__(self, history: History, total_steps: int, start_step: int, progress: bool):
        self.history, self.total_steps, self.progress = history, total_steps, progress
        self.bar = tqdm(
            total=total_steps,
            initial=start_step,
            disable=not progress,
            unit="step",
            dynamic_ncols=True,
        )
        self.pending: list[torch.Tensor] = []  # per step, on the device: (loss, correct, norm)
        self.pending_meta: list[tuple[float, int]] = []  # per step, on the host: (lr, batch size)
        self.window_start, self.window_clips = time.perf_counter(), 0
        self.run_start = time.perf_counter()
        self.seconds_before = history.train_seconds  # of the runs this one resumes

    def add(self, values: torch.Tensor, lr: float, batch_size: int) -> None:
        """One step done: `values` = (loss, correct count, gradient norm), still on the device;
        `lr` the learning rate it used."""
        self.pending.append(values)
        self.pending_meta.append((lr, batch_size))
        self.window_clips += batch_size
        self.bar.update()

    def flush(self) -> None:
        """Copy the steps since the last flush to the History and show the latest on the bar
        (loss, train accuracy, learning rate, clips per second since the last flush)."""
        history = self.history
        values = torch.stack(self.pending).tolist()  # the one sync of this log interval
        for (loss, correct, norm), (lr, size) in zip(values, self.pending_meta, strict=True):
            history.loss.append(loss)
            history.train_accuracy.append(correct / size)
            history.grad_norm.append(norm)
            history.lr.append(lr)
            history.batch_size.append(size)
        self.pending, self.pending_meta = [], []
        now = time.perf_counter()
        clips_per_s = self.window_clips / max(now - self.window_start, 1e-9)
        self.window_start, self.window_clips = now, 0
        self.bar.set_postfix(
            loss=f"{history.loss[-1]:.3f}",
            acc=f"{history.train_accuracy[-1]:.3f}",
            lr=f"{history.lr[-1]:.2e}",
            clips_s=f"{clips_per_s:.0f}",
            refresh=False,
        )

    def clock(self) -> None:
        """Set the History's ``train_seconds``: the time this run has taken, plus its earlier parts'."""
        self.history.train_seconds = self.seconds_before + time.perf_counter() - self.run_start

    def validated(self, step: int, result: dict, improved: bool) -> None:
        """A line under the bar for a validation after `step` (`result`: ``evaluate``'s)."""
        if self.progress:
            self.bar.write(
                f"step {step}/{self.total_steps}: valid loss {result['loss']:.4f}, "
                f"valid accuracy {result['accuracy']:.4f}" + (" (best)" if improved else "")
            )

    def close(self) -> None:
        self.bar.close()
