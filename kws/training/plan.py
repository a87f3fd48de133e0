"""The shape of a training run, settled before anything is built: how many steps, when it
validates and logs, how long it warms up — and every contradictory setting refused, naming the fix."""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from torch import nn

from kws.training.stream import total_steps_of

KEEPS = ("best", "last", "average")


@dataclass(frozen=True)
class RunPlan:
    """When a run of ``total_steps`` optimizer steps (numbered from 1) validates and logs.

    ``warmup_steps`` is the default schedule's linear warm-up (unused with your own ``lr_factor``).
    """

    total_steps: int
    eval_every: int
    log_every: int
    warmup_steps: int

    def validates_after(self, step: int) -> bool:
        """Every ``eval_every`` steps, and always after the last one."""
        return step % self.eval_every == 0 or step == self.total_steps

    def logs_after(self, step: int) -> bool:
        """Every ``log_every`` steps, and at every validation."""
        return step % self.log_every == 0 or self.validates_after(step)


def check_keep(keep: str, average_decay: float) -> None:
    """Refuse an unknown ``keep=`` and an ``average_decay`` outside (0, 1)."""
    if keep not in KEEPS:
        raise ValueError(f'keep={keep!r} must be "best", "last" or "average"')
    if not 0 < average_decay < 1:
        raise ValueError(f"average_decay={average_decay} must lie strictly between 0 and 1")


def plan_run(
    train_batches: Iterable,
    *,
    steps: int | None,
    epochs: int | None,
    eval_every: int | None,
    log_every: int,
    warmup_steps: int | None,
    lr_factor: Callable[[int, int], float] | None,
) -> RunPlan:
    """The run's plan from [`kws.training.fit`][]'s arguments of the same names, defaults filled
    in: validation each epoch (or a tenth of the run), warm-up 5 % of the steps.

    Raises:
        ValueError: a length, interval or warm-up that cannot be, or a ``warmup_steps`` given
            with your own ``lr_factor``.
    """
    total_steps = total_steps_of(train_batches, steps, epochs)
    if eval_every is None:
        if epochs is not None:
            eval_every = total_steps // epochs
        else:
            eval_every = max(1, total_steps // 10)
    if eval_every < 1 or log_every < 1:
        raise ValueError(f"eval_every={eval_every} and log_every={log_every} must be at least 1")
    if lr_factor is not None and warmup_steps is not None:
        raise ValueError(
            "warmup_steps= configures the default warm-up cosine schedule; with lr_factor= the "
            "warm-up is part of your lr_factor"
        )
    if warmup_steps is None:
        warmup_steps = math.ceil(0.05 * total_steps)
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps={warmup_steps} must lie in [0, steps={total_steps}]")
    return RunPlan(total_steps, eval_every, log_every, warmup_steps)


def check_defaults_unset(
    loss_fn: Callable | nn.Module | None,
    label_smoothing: float,
    optimizer: object | None,
    lr: float | None,
    weight_decay: float | None,
) -> None:
    """Refuse settings of the default loss or optimizer given together with your own."""
    if loss_fn is not None and label_smoothing:
        raise ValueError(
            f"label_smoothing={label_smoothing} applies to the default cross-entropy only; "
            f"build the smoothing into your loss_fn"
        )
    if optimizer is not None and (lr is not None or weight_decay is not None):
        raise ValueError(
            "lr= and weight_decay= configure the default AdamW; set them on your optimizer"
        )
