"""The named steps of `fit` that have a behaviour of their own: the run's plan (when it validates
and logs, its default warm-up) and the progress log (a log interval reaches the History at once)."""

import pytest
import torch

from kws.training import History
from kws.training.plan import plan_run
from kws.training.progress import ProgressLog


def _plan(batches, **settings):
    defaults = dict(steps=None, epochs=None, eval_every=None, log_every=50, warmup_steps=None)
    return plan_run(batches, **(defaults | {"lr_factor": None} | settings))


def test_the_plan_validates_each_epoch_or_each_tenth_and_after_the_last_step():
    batches = [None] * 4  # four batches an epoch
    by_epoch = _plan(batches, epochs=3)
    assert (by_epoch.total_steps, by_epoch.eval_every, by_epoch.warmup_steps) == (12, 4, 1)
    assert [s for s in range(1, 13) if by_epoch.validates_after(s)] == [4, 8, 12]

    by_steps = _plan(batches, steps=95, log_every=20)
    assert (by_steps.eval_every, by_steps.warmup_steps) == (9, 5)  # 95 // 10, ceil(5 % of 95)
    validations = [s for s in range(1, 96) if by_steps.validates_after(s)]
    assert validations == [9, 18, 27, 36, 45, 54, 63, 72, 81, 90, 95]  # the last step too
    logs = [s for s in range(1, 96) if by_steps.logs_after(s)]
    assert logs == sorted({20, 40, 60, 80, *validations})  # and at every validation


def test_the_plan_refuses_a_warm_up_longer_than_the_run():
    with pytest.raises(ValueError, match=r"warmup_steps=12 must lie in \[0, steps=10\]"):
        _plan([None], steps=10, warmup_steps=12)


def test_the_progress_log_copies_a_whole_log_interval_to_the_history_at_once():
    history = History()
    log = ProgressLog(history, total_steps=3, start_step=0, progress=False)
    log.add(torch.tensor([0.5, 3.0, 2.0]), lr=1e-3, batch_size=4)  # loss, correct, grad norm
    log.add(torch.tensor([0.25, 4.0, 1.0]), lr=2e-3, batch_size=4)
    assert history.steps == 0  # still on the device: nothing read back before the interval ends
    log.flush()
    assert history.loss == [0.5, 0.25] and history.grad_norm == [2.0, 1.0]
    assert history.train_accuracy == [0.75, 1.0]  # correct / batch size
    assert history.lr == [1e-3, 2e-3] and history.batch_size == [4, 4]
    log.add(torch.tensor([0.125, 2.0, 0.5]), lr=3e-3, batch_size=2)
    log.flush()
    assert history.steps == 3 and history.train_accuracy[-1] == 1.0
    log.close()
