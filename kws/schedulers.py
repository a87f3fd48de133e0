"""Learning-rate schedules."""

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def get_cosine_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
) -> LambdaLR:
    """Linear warm-up from 0 to the optimizer's learning rate, then a cosine decay to 0.

    The HW4 / Hugging Face schedule: the learning rate is multiplied by

    - ``step / max(1, num_warmup_steps)`` while ``step < num_warmup_steps``;
    - then ``max(0, 0.5 * (1 + cos(pi * 2 * num_cycles * progress)))`` with
      ``progress = (step - num_warmup_steps) / max(1, num_training_steps - num_warmup_steps)``.

    With ``num_cycles=0.5`` the factor falls from 1 to 0 over the training steps (half a cosine
    period). The formula is kept exactly, past the end too: there ``max(0, .)`` never clamps
    (``1 + cos`` is never negative) and the factor rises again, as in Hugging Face's version, so
    stop training at ``num_training_steps``. Call ``scheduler.step()`` after every optimizer step.

    Args:
        optimizer: the optimizer whose learning rate(s) to schedule.
        num_warmup_steps: steps of linear warm-up.
        num_training_steps: total steps (warm-up included).
        num_cycles: number of cosine periods after warm-up (0.5: one decay to zero).
        last_epoch: index of the last step when resuming (-1 to start afresh).
    """
    if num_warmup_steps < 0 or num_training_steps < 0:
        raise ValueError(
            f"num_warmup_steps ({num_warmup_steps}) and num_training_steps "
            f"({num_training_steps}) must be >= 0"
        )

    def lr_lambda(step: int) -> float:
        if step < num_warmup_steps:
            return step / max(1, num_warmup_steps)
        progress = (step - num_warmup_steps) / max(1, num_training_steps - num_warmup_steps)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 2.0 * num_cycles * progress)))

    return LambdaLR(optimizer, lr_lambda, last_epoch)
