import math

import pytest
import torch

from kws.schedulers import get_cosine_schedule_with_warmup


def _learning_rates(num_warmup_steps, num_training_steps, steps, **kwargs):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, num_warmup_steps, num_training_steps, **kwargs
    )
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_warmup_then_half_cosine_to_zero():
    rates = _learning_rates(10, 110, 130)
    assert rates[0] == 0.0  # step 0
    assert rates[5] == pytest.approx(2.0 * 5 / 10)  # mid warm-up
    assert rates[10] == pytest.approx(2.0)  # end of warm-up: the full rate
    assert rates[60] == pytest.approx(1.0)  # half-way through the decay: cos(pi / 2) -> 1/2
    assert rates[35] == pytest.approx(2.0 * 0.5 * (1 + math.cos(math.pi * 25 / 100)))
    assert rates[110] == pytest.approx(0.0, abs=1e-12)  # end
    # Past the end the formula goes on (as Hugging Face's does): with num_cycles=0.5 the
    # max(0, .) never clamps and the cosine rises again, so training must stop at the end.
    assert rates[125] == pytest.approx(2.0 * 0.5 * (1 + math.cos(math.pi * 115 / 100)))
    assert 0.0 < rates[125] < rates[35]


def test_num_cycles_and_no_warmup():
    rates = _learning_rates(0, 100, 101, num_cycles=1.0)
    assert rates[0] == pytest.approx(2.0)  # no warm-up: starts at the full rate
    assert rates[50] == pytest.approx(0.0, abs=1e-12)  # a full cycle reaches 0 half-way
    assert rates[100] == pytest.approx(2.0)  # and comes back up


def test_resuming_with_last_epoch_continues_the_schedule():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    optimizer.param_groups[0]["initial_lr"] = 2.0  # what a resumed optimizer carries
    scheduler = get_cosine_schedule_with_warmup(optimizer, 10, 110, last_epoch=59)
    assert scheduler.last_epoch == 60
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1.0)


def test_negative_steps_are_refused():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="num_warmup_steps"):
        get_cosine_schedule_with_warmup(optimizer, -1, 10)
