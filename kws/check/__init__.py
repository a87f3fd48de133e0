"""Self-checks students run from their notebooks: each says what passed and what to fix.

Layer checks build the student's class with small distinct sizes (B=2, T=5, D=12, H=3), seeded,
in eval mode and float64, copy its weights into the torch.nn / torchaudio layer it imitates (or
into a formula written out in the check) and compare outputs, padding and gradients; the hidden
grader runs the very same comparisons (each assignment's ``checks.py``, `kws.check.registry`).
Model checks trace one forward pass (`kws.tracing.probes`) and judge it by the task's rules in
its spec, as the grader does. Nothing here uses hidden data. Every check prints "✓ what" or
"✗ what — how to fix", then a summary, and returns a `CheckResult` that is falsy when something
failed (``strict=True`` raises AssertionError instead). A check that runs into a TODO
(NotImplementedError) prints it, then raises it again, so that "Run All" on a fresh student
notebook stops at the first TODO with its message.

    check.attention(MultiHeadSelfAttention)     # vs torch.nn.MultiheadAttention
    check.encoder_layer(EncoderLayer)           # vs torch.nn.TransformerEncoderLayer, both orders
    check.encoder(Encoder)                      # EncoderLayer is looked up beside Encoder
    check.task1(model)
    check.conformer_block(ConformerBlock)       # vs torchaudio's ConformerLayer
    check.task2(model)
    check.attention_pooling(SelfAttentionPooling)
    check.am_softmax(AMSoftmaxHead, am_softmax_loss)
    check.task3(model)                          # also runs the two above, from the notebook
    check.keyword_model(model)                  # also KeywordTransformer's forward, from the notebook
    check.keyword_transformer(KeywordTransformer)  # vs the pipeline with torch.nn's encoder
    check.training_recipe(RECIPE, learning_rate_factor)
    check.twelve_class_data(twelve_class_labels, silence_windows)   # notebook 01, Task 1
    check.conv_tokenizer(ConvTokenizer)         # notebook 01, Task 2: token lengths
    check.token_budget(model)                   # notebook 01, Task 2: tokens and attention memory
"""

from __future__ import annotations

import inspect
import sys

import torch
from torch import nn

from kws.assignments import ASSIGNMENTS
from kws.check import formula_checks, keyword_checks, keyword_model_checks, layer_checks
from kws.check.selfcheck import Checker, CheckResult, call

__all__ = [
    "CheckResult",
    "attention",
    "encoder_layer",
    "encoder",
    "conformer_block",
    "attention_pooling",
    "am_softmax",
    "task1",
    "task2",
    "task3",
    "keyword_model",
    "keyword_transformer",
    "training_recipe",
    "twelve_class_data",
    "conv_tokenizer",
    "token_budget",
]


def _name(obj) -> str:
    return getattr(obj, "__name__", str(obj))


def attention(cls: type, *, strict: bool = False) -> CheckResult:
    """Check a multi-head self-attention class against `torch.nn.MultiheadAttention`."""
    checker = Checker(_name(cls))
    with checker.run():
        layer_checks.attention(checker, cls)
    return checker.finish(strict)


def encoder_layer(cls: type, *, strict: bool = False) -> CheckResult:
    """Check an encoder layer against `torch.nn.TransformerEncoderLayer`: post-norm, and pre-norm
    (``norm_first=True``) when its constructor takes ``norm_first``."""
    checker = Checker(_name(cls))
    with checker.run():
        layer_checks.encoder_layer(checker, cls, norm_first=False)
    if isinstance(cls, type) and "norm_first" in inspect.signature(cls).parameters:
        with checker.run():
            layer_checks.encoder_layer(checker, cls, norm_first=True)
    return checker.finish(strict)


def encoder(cls: type, layer_class: type | None = None, *, strict: bool = False) -> CheckResult:
    """Check an encoder (a stack of 2 encoder layers here) against `torch.nn.TransformerEncoder`.

    If the constructor takes `encoder_layer`, an instance of `layer_class` is passed; by default
    the class named ``EncoderLayer`` defined beside `cls` (in the notebook) is used.
    """
    checker = Checker(_name(cls))
    with checker.run():
        layer_checks.encoder(checker, cls, layer_class)
    return checker.finish(strict)


def conformer_block(cls: type, *, strict: bool = False) -> CheckResult:
    """Check a Conformer block against torchaudio's `ConformerLayer` (kernel 3)."""
    checker = Checker(_name(cls))
    with checker.run():
        layer_checks.conformer_block(checker, cls)
    return checker.finish(strict)


def attention_pooling(cls: type, *, strict: bool = False) -> CheckResult:
    """Check self-attention pooling: softmax over the valid frames of a Linear score, weighted sum."""
    checker = Checker(_name(cls))
    with checker.run():
        formula_checks.attention_pooling(checker, cls)
    return checker.finish(strict)


def am_softmax(head: type | None = None, loss=None, *, strict: bool = False) -> CheckResult:
    """Check the AM-softmax head (cosines) and loss (margin at the true class, then scale)."""
    checker = Checker("AM-softmax")
    if head is not None:
        with checker.run():
            formula_checks.am_softmax_head(checker, head)
    if loss is not None:
        with checker.run():
            formula_checks.am_softmax_loss(checker, loss)
    return checker.finish(strict)


# ---- whole models -----------------------------------------------------------------------------


def _speaker_batch(n_mels: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Two log-mel utterances (B=2, T=60, 40) padded with -20 after 49 frames in the second."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        x = torch.randn(2, 60, n_mels)
    lengths = torch.tensor([60, 49])
    x[1, 49:] = -20.0
    return x, lengths


def _model_inputs(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> tuple:
    """(x, lengths) on the model's device; just (x,) if forward takes one argument."""
    device = next(model.parameters(), torch.empty(0)).device
    takes_lengths = len(inspect.signature(model.forward).parameters) >= 2
    return (x.to(device), lengths.to(device)) if takes_lengths else (x.to(device),)


def _speaker_task(
    task: str,
    model: nn.Module,
    *,
    n_classes: int | None,
    ns: dict | None,
    strict: bool,
) -> CheckResult:
    from kws.tracing import probes
    from kws.tracing.trace import trace_forward

    checker = Checker(f"{task} model ({type(model).__name__})")
    spec = ASSIGNMENTS["speaker_id"]  # kws/assignments/speaker_id/: spec.toml, checks.py
    rules, limits = spec.tasks[task].rules, spec.tasks[task].limits
    layer_class = rules.get("layer_class")
    ns = ns if ns is not None else vars(sys.modules["__main__"])
    with checker.run():
        x, lengths = _speaker_batch()
        traced = call(
            checker, "forward runs", lambda: trace_forward(model, _model_inputs(model, x, lengths))
        )
        output = traced.output[0] if isinstance(traced.output, (tuple, list)) else traced.output
        if not isinstance(output, torch.Tensor):
            checker.stop(
                f"forward returns {type(output).__name__}", "return the scores as one tensor (B, C)"
            )
        shape_ok = output.dim() == 2 and output.shape[0] == 2
        if n_classes is not None:
            shape_ok = shape_ok and output.shape[1] == n_classes
        checker.expect(
            shape_ok,
            f"forward(x (2, 60, 40), lengths) returns scores of shape {_shape(output)}",
            f"return one row of class scores per utterance: (B, {n_classes or 'n_classes'})",
        )
        checker.expect(
            bool(torch.isfinite(output).all()),
            "scores are finite",
            "the output has NaN/inf: look for a division by zero or a log of 0 (padding?)",
        )
        if layer_class and "max_layer_calls" in limits:
            # The grader's measure and judge (test_task1_layers_that_run): attention chains.
            calls = traced.attention_layers
            judge = spec.module("rules").layers_that_run  # the grader's test calls it too
            passed, what = judge(calls, limits["max_layer_calls"])
            checker.expect(
                passed,
                what,
                f"call your {layer_class} in forward" if calls == 0 else "use fewer layers",
            )
        elif layer_class:  # no limit to judge: only that the notebook's layer runs at all
            calls = probes.layer_calls(traced, model, layer_class)
            checker.expect(
                calls >= 1,
                f"{layer_class} runs {calls} times in one forward",
                f"call your {layer_class} in forward",
            )
        for name in rules.get("own_classes", []) + ([layer_class] if layer_class else []):
            problem = probes.layer_class_problem(ns, name)
            checker.expect(problem is None, f"{name} is written in this notebook", problem or "")
        forbidden = probes.forbidden_in(traced)
        checker.expect(
            not forbidden,
            "written from scratch: no torch.nn/torchaudio/kws Transformer layers run in forward",
            f"found {', '.join(forbidden)}; use your own classes instead",
        )
        if hasattr(model, "encoder"):
            n = probes.encoder_params(model)
            budget = limits.get("max_encoder_params")
            text = probes.encoder_params_text(model)
            checker.expect(
                budget is None or n < budget,
                f"The parameter size of encoder block is {text}"
                + (f" (budget: under {budget // 1000}k)" if budget else ""),
                "make the encoder smaller: fewer layers, a narrower d_model or dim_feedforward",
            )
        if rules.get("norm_before_classifier"):
            passed, why = probes.norm_feeds_classifier_in(traced)
            checker.expect(passed, "a normalization feeds the final Linear classifier", why)
    if task == "task3":  # its self-check cell calls only task3(); Task 1 and 2 call their own
        _numeric_checks(checker, spec, task, ns)
    return checker.finish(strict)


def _numeric_checks(checker: Checker, spec, task: str, ns: dict) -> None:
    """Run into `checker` the numeric checks of `task` (the assignment's ``checks.py``, as the
    grader runs them) whose class or function the notebook's namespace `ns` defines."""
    for component in spec.checks().NUMERIC.values():
        if component.task == task and component.name in ns:
            with checker.run():
                component.check(checker, ns[component.name], ns)


def _shape(t) -> str:
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__


def task1(model, *, n_classes=None, ns=None, strict=False) -> CheckResult:
    """Task 1: your own EncoderLayer, run at most `max_layer_calls` times, and an encoder block
    under `max_encoder_params` parameters (the task's limits in kws/assignments/speaker_id/spec.toml)."""
    return _speaker_task("task1", model, n_classes=n_classes, ns=ns, strict=strict)


def task2(model, *, n_classes=None, ns=None, strict=False) -> CheckResult:
    """Task 2: your own ConformerBlock, and a normalization right before the final Linear."""
    return _speaker_task("task2", model, n_classes=n_classes, ns=ns, strict=strict)


def task3(model, *, n_classes=None, ns=None, strict=False) -> CheckResult:
    """Task 3: your own SelfAttentionPooling; scores whose argmax is the predicted speaker; and
    the notebook's SelfAttentionPooling, AMSoftmaxHead and am_softmax_loss against formulas."""
    return _speaker_task("task3", model, n_classes=n_classes, ns=ns, strict=strict)


KWS_CLASSES = len(ASSIGNMENTS["keyword_spotting"].data["classes"])  # 12


def keyword_transformer(cls: type, *, strict: bool = False) -> CheckResult:
    """Notebook 01, Task 3: KeywordTransformer's forward against the specified pipeline
    recomputed with torch.nn.TransformerEncoder (CLS first, positions, mask, norm, classifier),
    padding that changes nothing, and a deterministic eval mode."""
    checker = Checker(_name(cls))
    with checker.run():
        keyword_model_checks.keyword_transformer(checker, cls)
    return checker.finish(strict)


def training_recipe(
    settings: dict, lr_factor=None, *, steps: int | None = None, strict: bool = False
) -> CheckResult:
    """Notebook 01, Task 4: the RECIPE's settings, and `learning_rate_factor(step, total_steps)`
    warms up then decays to near 0, judged as the grader judges it: over 1,000 steps and over
    the run's own `steps` (default: the notebook's STEPS setting), where a warm-up of a few
    percent of a short run can round to nothing."""
    checker = Checker("training recipe")
    with checker.run():
        keyword_model_checks.recipe(checker, settings)
    if steps is None:
        steps = vars(sys.modules["__main__"]).get("STEPS")
    budgets = [1000]
    if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 and steps != 1000:
        budgets.append(steps)
    if lr_factor is not None:
        for total_steps in budgets:
            with checker.run():
                keyword_model_checks.learning_rate_factor(checker, lr_factor, total_steps)
    return checker.finish(strict)


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
    from kws.params import format_count

    checker = Checker(f"keyword model ({type(model).__name__})")
    with checker.run():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            waves = torch.rand(2, 16000) - 0.5
        device = next(model.parameters(), torch.empty(0)).device
        was_training = model.training

        def forward():
            with torch.no_grad():
                return model.eval()(waves.to(device))

        try:
            logits = call(checker, "forward(waves) runs", forward)
            if not isinstance(logits, torch.Tensor):
                checker.stop(f"forward returns {type(logits).__name__}", "return logits (B, C)")
            checker.expect(
                tuple(logits.shape) == (2, n_classes),
                f"forward(waves (2, 16000)) returns logits of shape {_shape(logits)}",
                f"take raw waveforms, return (B, {n_classes}); the front-end belongs in the model",
            )
            checker.expect(
                bool(torch.isfinite(logits).all()), "logits are finite", "the output has NaN/inf"
            )
            checker.expect(
                torch.equal(logits, call(checker, "a second forward runs", forward)),
                "eval mode is deterministic (SpecAugment and dropout are off)",
                "augmentation must only run when `self.training` is True",
            )
        finally:
            model.train(was_training)
        n = sum(p.numel() for p in model.parameters())
        checker.expect(True, f"{format_count(n)} parameters", "")
    ns = ns if ns is not None else vars(sys.modules["__main__"])
    _numeric_checks(checker, ASSIGNMENTS["keyword_spotting"], "kws", ns)
    return checker.finish(strict)


# ---- notebook 01: the 12-class data and the tokens ---------------------------------------------


def twelve_class_data(labels_function=None, windows_function=None, *, strict=False) -> CheckResult:
    """Task 1: `twelve_class_labels(words, unknown_fraction, seed)` keeps every keyword clip and
    round(fraction x keyword clips) other-word clips drawn at random as _unknown_, seeded; and
    `silence_windows(noises, count, seed, length)` cuts (count, length) random slices of random
    recordings. Either may be None (not checked)."""
    checker = Checker("12-class training set")
    if labels_function is not None:
        with checker.run():
            keyword_checks.twelve_class_labels(checker, labels_function)
    if windows_function is not None:
        with checker.run():
            keyword_checks.silence_windows(checker, windows_function)
    return checker.finish(strict)


def conv_tokenizer(cls: type, *, strict: bool = False) -> CheckResult:
    """Task 2: ConvTokenizer(n_mels, d_model, channels) returns (B, N, d_model) tokens and, per
    clip, the number of tokens that clip gives alone (so padding is masked right)."""
    checker = Checker(_name(cls))
    with checker.run():
        keyword_checks.conv_tokenizer(checker, cls)
    return checker.finish(strict)


def token_budget(model: nn.Module, *, strict: bool = False) -> CheckResult:
    """Task 2: one forward of two 1-second clips, traced: the tokens its attention runs over (CLS
    included) and the attention memory of a training batch, against the assignment's limits."""
    from kws.tracing.trace import trace_forward

    checker = Checker(f"token budget ({type(model).__name__})")
    with checker.run():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            waves = torch.rand(2, 16000) - 0.5
        device = next(model.parameters(), torch.empty(0)).device
        traced = call(
            checker,
            "forward(waves (2, 16000)) runs",
            lambda: trace_forward(model, waves.to(device)),
        )
        keyword_checks.attention_budget(checker, traced.attention_sizes)
    return checker.finish(strict)
