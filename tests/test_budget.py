"""The encoder budget the grader measures from the submitted checkpoint, in its own process."""

import pytest
import torch
from torch import nn

from kws.grading.judge.budget import (
    BudgetError,
    block_prefixes,
    checkpoint_weights,
    encoder_budget,
)


class Model(nn.Module):
    """Prenet, an encoder of two linear layers, a classifier; extras added per test."""

    def __init__(self):
        super().__init__()
        self.prenet = nn.Linear(40, 80)
        self.encoder = nn.Sequential(nn.Linear(80, 80), nn.LayerNorm(80))  # 6,480 + 160
        self.classifier = nn.Linear(80, 600)


def _saved(tmp_path, model) -> object:
    path = tmp_path / "task1" / "model.pt"
    path.parent.mkdir(exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def test_an_honest_encoder_is_counted_as_the_course_prints_it(tmp_path):
    budget = encoder_budget(_saved(tmp_path, Model()), "task1")
    assert budget.count == 6_480 + 160 and budget.text == "6.64k"
    assert budget.prefixes == ("encoder",) and budget.tensors == 4


def test_weights_kept_as_buffers_count_and_norm_statistics_do_not(tmp_path):
    model = Model()
    model.encoder.register_buffer("weights", torch.zeros(2_370_000))  # trained via the optimizer
    model.encoder.append(nn.BatchNorm1d(80))  # 160 weights, plus running statistics
    budget = encoder_budget(_saved(tmp_path, model), "task1")
    assert budget.count == 6_480 + 160 + 2_370_000 + 160
    assert budget.text == "2.38M"


def test_integer_and_bool_tensors_count_like_float_ones(tmp_path):
    """Weights kept as int32 bit patterns (viewed as float32 in forward), an int64 hash table
    and a bool mask: every dtype counts, not only floating tensors."""
    model = Model()
    bits = torch.randn(2_370_000).view(torch.int32)
    model.encoder.register_buffer("bits", bits)
    model.encoder.register_buffer("table", torch.zeros(4_890, 2, dtype=torch.int64))
    model.encoder.register_buffer("mask", torch.ones(10, dtype=torch.bool))
    budget = encoder_budget(_saved(tmp_path, model), "task1")
    assert budget.count == 6_640 + 2_370_000 + 9_780 + 10


def test_only_a_norms_own_bookkeeping_is_left_out(tmp_path):
    """BatchNorm's running mean, variance (1-D) and integer num_batches_tracked are left out;
    a table saved under those names with another shape or dtype is not."""
    model = Model()
    model.encoder.append(nn.BatchNorm1d(80))  # 160 weights + 2 x 80 statistics + 1 counter
    table = nn.Module()
    table.register_buffer("running_mean", torch.zeros(4_890, 40))  # not 1-D: counts
    table.register_buffer("num_batches_tracked", torch.zeros(100, dtype=torch.long))
    model.encoder.append(table)
    budget = encoder_budget(_saved(tmp_path, model), "task1")
    assert budget.count == 6_640 + 160 + 4_890 * 40 + 100


def test_a_module_where_attention_ran_counts_wherever_it_sits(tmp_path):
    model = Model()
    model.refiner = nn.Sequential(nn.Linear(80, 80), nn.Linear(80, 80))  # 2 x 6,480
    path = _saved(tmp_path, model)
    assert encoder_budget(path, "task1").count == 6_640
    budget = encoder_budget(path, "task1", ["encoder.0", "refiner.1.attn", "refiner.0"])
    assert budget.count == 6_640 + 2 * 6_480 and budget.prefixes == ("encoder", "refiner")
    assert block_prefixes(["model"]) == ("", "encoder")  # attention in the model's own forward
    assert encoder_budget(path, "task1", ["model"]).count == sum(
        p.numel() for p in model.parameters()
    )


def test_a_tensor_saved_under_two_names_counts_once(tmp_path):
    model = Model()
    model.encoder.append(model.encoder[0])  # the same layer twice
    assert encoder_budget(_saved(tmp_path, model), "task1").count == 6_640


@pytest.mark.parametrize(
    "save",
    [
        lambda model: {f"_orig_mod.{k}": v for k, v in model.state_dict().items()},  # compiled
        lambda model: nn.DataParallel(model).state_dict(),  # module.
        lambda model: {"model_state_dict": model.state_dict(), "epoch": 3, "lr": 1e-3},
    ],
    ids=["torch.compile", "DataParallel", "training-checkpoint"],
)
def test_a_checkpoint_the_child_unwraps_is_counted_the_same(tmp_path, save):
    """The grading child loads these (kws.grading.child.checkpoint); their weights are counted as
    a plain state dict's, so a wrapper's prefix is no way around the budget."""
    model = Model()
    path = tmp_path / "task1" / "model.pt"
    path.parent.mkdir()
    torch.save(save(model), path)
    assert encoder_budget(path, "task1").count == 6_480 + 160
    assert checkpoint_weights(path, "task1").count == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (None, "task1/model.pt is missing"),
        (lambda p: p.write_bytes(b"not a checkpoint"), "cannot be loaded safely"),
        (lambda p: torch.save(Model(), p), "cannot be loaded safely"),
        (lambda p: torch.save([torch.zeros(3)], p), "is not a state dict"),
        (lambda p: torch.save({"prenet.weight": torch.zeros(3)}, p), "no `encoder.` weights"),
    ],
    ids=["missing", "garbage", "whole-model-pickle", "list", "no-encoder"],
)
def test_checkpoints_that_cannot_be_measured_say_why(tmp_path, write, message):
    path = tmp_path / "task1" / "model.pt"
    path.parent.mkdir()
    if write is not None:
        write(path)
    with pytest.raises(BudgetError, match=message):
        encoder_budget(path, "task1")
