"""Notebook 01's self-checks (``check.keyword_model``, ``check.keyword_transformer``,
``check.training_recipe``, ``check.twelve_class_data``, ``check.conv_tokenizer``,
``check.token_budget``, reached through `kws.check`): the judges of keyword_checks.py and
keyword_model_checks.py and recipe_checks.py, the same the grading child runs (checks.py), with this folder's limits."""

from __future__ import annotations

import sys

import torch
from torch import nn

from kws.assignments.keyword_spotting import keyword_checks, keyword_model_checks, recipe_checks
from kws.author import (
    N_,
    Checker,
    CheckResult,
    Text,
    call,
    probe_facts,
    run_model,
    run_task_checks,
    shape_text,
    spec_of,
)

__all__ = [
    "keyword_model",
    "keyword_transformer",
    "training_recipe",
    "twelve_class_data",
    "conv_tokenizer",
    "token_budget",
]


SPEC = spec_of(__file__)  # this folder: spec.toml, checks.py, token_budget.py, schedule.py
KWS_CLASSES = len(SPEC.data["classes"])  # 12


def keyword_transformer(cls: type, *, strict: bool = False) -> CheckResult:
    """Notebook 01, Task 3: KeywordTransformer's forward against the specified pipeline
    recomputed with torch.nn.TransformerEncoder (CLS first, positions, mask, norm, classifier),
    padding that changes nothing, and a deterministic eval mode."""
    checker = Checker(getattr(cls, "__name__", str(cls)))
    checker.check(keyword_model_checks.keyword_transformer, cls)
    return checker.finish(strict)


def training_recipe(
    settings: dict, lr_factor=None, *, steps: int | None = None, strict: bool = False
) -> CheckResult:
    """Notebook 01, Task 4: the RECIPE's settings, and `learning_rate_factor(step, total_steps)`
    warms up then decays to near 0, judged as the grader judges it: over 1,000 steps and over
    the run's own `steps` (default: the notebook's STEPS setting), where a warm-up of a few
    percent of a short run can round to nothing."""
    checker = Checker(Text(N_("training recipe")))
    checker.check(recipe_checks.recipe, settings)
    if steps is None:
        steps = vars(sys.modules["__main__"]).get("STEPS")
    budgets = [1000]
    if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 and steps != 1000:
        budgets.append(steps)
    if lr_factor is not None:
        for total_steps in budgets:
            checker.check(recipe_checks.learning_rate_factor, lr_factor, total_steps)
    return checker.finish(strict)


def _two_clips() -> torch.Tensor:
    """Two seeded 1-second clips of noise (2, 16000), leaving the global random state alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return torch.rand(2, 16000) - 0.5


def keyword_model(
    model: nn.Module,
    *,
    n_classes: int = KWS_CLASSES,
    ns: dict | None = None,
    strict: bool = False,
) -> CheckResult:
    """Notebook 01: waveforms (B, 16000) in, (B, n_classes) logits out, deterministic in eval;
    then Task 3's checks of the class KeywordTransformer when `ns` (default: the notebook's
    namespace) defines it."""
    from kws.author import format_count

    checker = Checker(Text(N_("keyword model ({name})"), name=type(model).__name__))
    with checker.run():
        waves = _two_clips()
        logits = run_model(checker, model, (waves,), Text(N_("{call} runs"), call="forward(waves)"))
        checker.expect(
            tuple(logits.shape) == (2, n_classes),
            Text(
                N_("{call} returns logits of shape {shape}"),
                call="forward(waves (2, 16000))",
                shape=shape_text(logits),
            ),
            Text(
                N_("take raw waveforms, return (B, {n}); the front-end belongs in the model"),
                n=n_classes,
            ),
        )
        checker.expect(
            bool(torch.isfinite(logits).all()),
            N_("logits are finite"),
            N_("the output has NaN/inf"),
        )
        checker.expect_steady(
            model, (waves,), N_("eval mode is deterministic (SpecAugment and dropout are off)")
        )
        n = sum(p.numel() for p in model.parameters())
        checker.expect(
            True, Text.counted("{n} parameter", "{n} parameters", n, n=format_count(n)), ""
        )
    ns = ns if ns is not None else vars(sys.modules["__main__"])
    run_task_checks(checker, SPEC, "kws", ns)
    return checker.finish(strict)


# ---- Tasks 1 and 2: the 12-class data and the tokens ---------------------------------------------


def twelve_class_data(labels_function=None, windows_function=None, *, strict=False) -> CheckResult:
    """Task 1: `twelve_class_labels(words, unknown_fraction, seed)` keeps every keyword clip and
    round(fraction x keyword clips) other-word clips drawn at random as _unknown_, seeded; and
    `silence_windows(noises, count, seed, length)` cuts (count, length) random slices of random
    recordings. Either may be None (not checked)."""
    checker = Checker(Text(N_("12-class training set")))
    if labels_function is not None:
        checker.check(keyword_checks.twelve_class_labels, labels_function)
    if windows_function is not None:
        checker.check(keyword_checks.silence_windows, windows_function)
    return checker.finish(strict)


def conv_tokenizer(cls: type, *, strict: bool = False) -> CheckResult:
    """Task 2: ConvTokenizer(n_mels, d_model, channels) returns (B, N, d_model) tokens and, per
    clip, the number of tokens that clip gives alone (so padding is masked right)."""
    checker = Checker(getattr(cls, "__name__", str(cls)))
    checker.check(keyword_checks.conv_tokenizer, cls)
    return checker.finish(strict)


def token_budget(model: nn.Module, *, strict: bool = False) -> CheckResult:
    """Task 2: one forward of two 1-second clips, traced by the function the grading child traces
    the graded model with (`probe_facts`): the tokens its attention runs over (CLS included) and
    the attention memory of a training batch, against the assignment's limits."""
    checker = Checker(Text(N_("token budget ({name})"), name=type(model).__name__))
    with checker.run():
        waves, device = _two_clips(), next(model.parameters(), torch.empty(0)).device
        rules = SPEC.tasks["kws"].rules  # the model task the grader reads the sizes of
        facts = call(
            checker,
            Text(N_("{call} runs"), call="forward(waves (2, 16000))"),
            lambda: probe_facts("kws", model, {}, waves.to(device), rules=rules),
        )
        keyword_checks.attention_budget(checker, facts["attention_sizes"] or [])
    return checker.finish(strict)
