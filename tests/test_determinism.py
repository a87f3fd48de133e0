"""Randomness and state in eval mode, the honest mistakes: held still by fixed seeds on every pass
the grader compares, named where they come from, and never read as a model that computes
something else while it is traced (kws.tracing.determinism, kws.tracing.probes)."""

import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from kws.check.selfcheck import Checker
from kws.tracing.compare import untraced_output
from kws.tracing.determinism import SEED, eval_unsteady, random_draws, seeded
from kws.tracing.probes import probe_facts

B, T, D, C = 3, 7, 12, 5
X = torch.randn(B, T, D, generator=torch.Generator().manual_seed(0))
RULES = {"layer_class": None, "own_classes": [], "norm_before_classifier": True}


class Attention(nn.Module):
    """One self-attention computation, so that the trace counts a layer."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D, 3 * D)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # (B, T, D) each
        return x + torch.softmax(q @ k.transpose(1, 2) / D**0.5, dim=-1) @ v  # (B, T, D)


class Model(nn.Module):
    """Attention, then a mean over time and a classifier; `noise` is the honest mistake."""

    def __init__(self, noise=None):
        super().__init__()
        self.encoder = Attention()
        self.norm = nn.LayerNorm(D)
        self.classifier = nn.Linear(D, C)
        self.noise = noise

    def forward(self, x):
        x = self.encoder(x if self.noise is None else self.noise(self, x))
        return self.classifier(self.norm(x.mean(dim=1)))  # (B, C)


def gaussian(model, x):
    return x + 0.01 * torch.randn_like(x)


def python_shift(model, x):
    return torch.roll(x, random.randint(1, T - 1), dims=1) if random.random() < 0.5 else x


def numpy_gain(model, x):
    return x * float(np.random.uniform(0.5, 1.5))


def functional_dropout(model, x):
    return F.dropout(x, 0.5)  # training defaults to True


def fresh_generator(model, x):
    noise = np.random.default_rng().normal(
        size=tuple(x.shape)
    )  # seeded by the OS: no seed fixes it
    return x + torch.from_numpy(noise).to(x.dtype)


def counter(model, x):
    model.calls = getattr(model, "calls", 0) + 1
    return x * model.calls


def nan_rows(model, x):
    return x.masked_fill(torch.arange(len(x))[:, None, None] == 0, float("nan"))


def graded(model, seed=SEED):
    """The output the grading child's prediction pass gives, under its seed."""
    with seeded(seed):
        return untraced_output(model, X)


def facts(model, output):
    return probe_facts("task1", model, {"__name__": "__main__"}, [(X, output, SEED)], rules=RULES)


def test_seeded_repeats_every_generator_and_restores_their_states():
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    before = torch.rand(1), random.random(), np.random.rand()
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    draws = []
    for _ in range(2):
        with seeded(5):
            draws.append((torch.rand(1), random.random(), np.random.rand()))
    after = torch.rand(1), random.random(), np.random.rand()
    assert torch.equal(draws[0][0], draws[1][0]) and draws[0][1:] == draws[1][1:]
    assert torch.equal(before[0], after[0]) and before[1:] == after[1:]  # as if nothing ran


@pytest.mark.parametrize("noise", [gaussian, python_shift, numpy_gain, functional_dropout])
def test_randomness_from_a_generator_is_one_model_under_the_graders_seeds(noise):
    model = Model(noise).eval()
    found = facts(model, graded(model))
    assert found["traced_mismatch"] is None and found["unsteady"] is None
    assert found["layer_calls"] == 1 and found["norm_before_classifier"][0]
    again = [graded(Model(noise).eval().requires_grad_(False)) for _ in range(2)]
    assert torch.equal(graded(model), graded(model)) and again[0].shape == (B, C)


@pytest.mark.parametrize(
    ("noise", "generator"),
    [(gaussian, "torch"), (python_shift, "random"), (numpy_gain, "numpy")],
)
def test_the_draws_are_named_by_module_and_generator(noise, generator):
    model = Model(noise).eval()
    assert random_draws(model, (X,)) == [f"model (Model): {generator}"]
    assert random_draws(Model().eval(), (X,)) == []


def test_dropout_inside_a_submodule_is_put_on_that_submodule():
    model = Model().eval()
    model.encoder.qkv = nn.Sequential(nn.Linear(D, 3 * D))
    model.encoder.forward = lambda x: functional_dropout(None, Attention.forward(model.encoder, x))
    assert random_draws(model, (X,)) == ["encoder (Attention): torch"]


def test_randomness_no_seed_fixes_is_unsteady_and_still_traced():
    model = Model(fresh_generator).eval()
    found = facts(model, graded(model))
    assert found["traced_mismatch"] is None and found["layer_calls"] == 1
    assert found["unsteady"].startswith("two passes under the same seeds differ")


def test_a_model_that_computes_something_else_when_traced_is_still_caught():
    class Aware(Model):
        def forward(self, x):
            import sys

            return super().forward(x) + (sys.getprofile() is not None)

    model = Aware().eval()
    found = facts(model, graded(model))
    assert found["unsteady"] is None
    assert "its outputs differ by up to 1" in found["traced_mismatch"]


def test_noise_does_not_excuse_a_traced_pass_far_beyond_it():
    """Randomness no seed fixes, beside a trace-aware switch: the traced output is farther from
    the graded one than the model's own randomness explains."""

    class NoisyAware(Model):
        def forward(self, x):
            import sys

            wobble = 1e-6 * float(np.random.default_rng().normal())
            return super().forward(x) + wobble + 5.0 * (sys.getprofile() is not None)

    model = NoisyAware().eval()
    found = facts(model, graded(model))
    assert found["unsteady"] is None and found["traced_mismatch"] is not None


def test_nan_outputs_are_named_and_are_no_mismatch():
    model = Model(nan_rows).eval()
    found = facts(model, graded(model))
    assert found["traced_mismatch"] is None and found["unsteady"] is None
    assert found["not_finite"] == f"NaN in 1 of {B} rows"


@pytest.mark.parametrize(
    ("noise", "cause", "fix"),
    [
        (gaussian, "draws random numbers in eval mode: model (Model): torch", "self.training"),
        (numpy_gain, "model (Model): numpy", "self.training"),
        (counter, "forward changes what the model keeps between calls (calls)", "not on `self`"),
        (fresh_generator, "two calls under the same seeds give different outputs", "no clock"),
    ],
)
def test_eval_unsteady_names_the_cause_and_its_fix(noise, cause, fix):
    problem = eval_unsteady(Model(noise).eval(), (X,))
    assert cause in problem[0] and fix in problem[1]
    assert eval_unsteady(Model().eval(), (X,)) is None


def test_the_determinism_item_gives_one_verdict_whatever_the_chance_of_a_branch():
    """A 50 % random shift passes a plain two-call comparison one time in four; the item fails
    every time, naming the generator."""
    verdicts = set()
    for seed in range(8):
        random.seed(seed)
        checker = Checker("model", echo=False)
        with checker.run():
            checker.expect_steady(Model(python_shift).eval(), (X,), "eval mode is deterministic")
        (item,) = checker.items
        verdicts.add((item.passed, item.fix))
    assert len(verdicts) == 1
    ((passed, fix),) = verdicts
    assert not passed and "model (Model): random" in fix
