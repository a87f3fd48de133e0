"""Notebook 02's self-checks, reached through `kws.check` (``check.attention``, ...,
``check.task3``): each layer or formula a task asks for against torch.nn, torchaudio or the
formula (`layer_checks`, `formula_checks`, the comparisons the grading child runs too, through
checks.py); and each task's model: one forward pass, its facts measured by the function the
grading child measures the graded model with (`probe_facts`), judged by the task's rules and
limits in this folder's spec.toml, as the grader judges them; Task 3's also runs its numeric
checks (checks.py)."""

from __future__ import annotations

import inspect
import sys

import torch
from torch import nn

from kws.assignments.speaker_id import formula_checks, layer_checks, padding_checks
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
    "attention",
    "encoder_layer",
    "encoder",
    "conformer_block",
    "attention_pooling",
    "am_softmax",
    "task1",
    "task2",
    "task3",
]


# ---- one class or function of a task against torch.nn, torchaudio or a formula ----------------


def _name(obj) -> str:
    return getattr(obj, "__name__", str(obj))


def attention(cls: type, *, strict: bool = False) -> CheckResult:
    """Check a multi-head self-attention class against `torch.nn.MultiheadAttention`."""
    checker = Checker(_name(cls))
    checker.check(layer_checks.attention, cls)
    return checker.finish(strict)


def encoder_layer(cls: type, *, strict: bool = False) -> CheckResult:
    """Check an encoder layer against `torch.nn.TransformerEncoderLayer`: post-norm, and pre-norm
    (``norm_first=True``) when its constructor takes ``norm_first``."""
    checker = Checker(_name(cls))
    checker.check(layer_checks.encoder_layer, cls, norm_first=False)
    if isinstance(cls, type) and "norm_first" in inspect.signature(cls).parameters:
        checker.check(layer_checks.encoder_layer, cls, norm_first=True)
    return checker.finish(strict)


def encoder(cls: type, layer_class: type | None = None, *, strict: bool = False) -> CheckResult:
    """Check an encoder (a stack of 2 encoder layers here) against `torch.nn.TransformerEncoder`.

    If the constructor takes `encoder_layer`, an instance of `layer_class` is passed; by default
    the class named ``EncoderLayer`` defined beside `cls` (in the notebook) is used.
    """
    checker = Checker(_name(cls))
    checker.check(layer_checks.encoder, cls, layer_class)
    return checker.finish(strict)


def conformer_block(cls: type, *, strict: bool = False) -> CheckResult:
    """Check a Conformer block against torchaudio's `ConformerLayer` (kernel 3)."""
    checker = Checker(_name(cls))
    checker.check(layer_checks.conformer_block, cls)
    return checker.finish(strict)


def attention_pooling(cls: type, *, strict: bool = False) -> CheckResult:
    """Check self-attention pooling: softmax over the valid frames of a Linear score, weighted sum."""
    checker = Checker(_name(cls))
    checker.check(formula_checks.attention_pooling, cls)
    return checker.finish(strict)


def am_softmax(head: type | None = None, loss=None, *, strict: bool = False) -> CheckResult:
    """Check the AM-softmax head (cosines) and loss (margin at the true class, then scale)."""
    checker = Checker("AM-softmax")
    if head is not None:
        checker.check(formula_checks.am_softmax_head, head)
    if loss is not None:
        checker.check(formula_checks.am_softmax_loss, loss)
    return checker.finish(strict)


# ---- whole models -------------------------------------------------------------------------------


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
    checker = Checker(Text(N_("{task} model ({name})"), task=task, name=type(model).__name__))
    spec = spec_of(__file__)  # this folder: spec.toml, checks.py, rules.py
    rules, limits = spec.tasks[task].rules, spec.tasks[task].limits
    ns = ns if ns is not None else vars(sys.modules["__main__"])
    with checker.run():
        x, lengths = _speaker_batch()
        inputs = _model_inputs(model, x, lengths)
        output = run_model(checker, model, inputs, N_("forward runs"))
        shape_ok = output.dim() == 2 and output.shape[0] == 2
        if n_classes is not None:
            shape_ok = shape_ok and output.shape[1] == n_classes
        checker.expect(
            shape_ok,
            Text(
                N_("{call} returns scores of shape {shape}"),
                call="forward(x (2, 60, 40), lengths)",
                shape=shape_text(output),
            ),
            Text(
                N_("return one row of class scores per utterance: (B, {n})"),
                n=n_classes or "n_classes",
            ),
        )
        checker.expect(
            bool(torch.isfinite(output).all()),
            N_("scores are finite"),
            N_("the output has NaN/inf: look for a division by zero or a log of 0 (padding?)"),
        )
        # The facts the grading child sends the grader, measured by the same function.
        exact = output.device.type == "cpu"
        facts = call(
            checker,
            N_("forward runs traced"),
            lambda: probe_facts(task, model, ns, [(inputs, output)], exact, rules=rules),
        )
        _judge_facts(checker, facts, spec, limits)
    if task == "task1":  # the model's own forward: padded frames change nothing
        checker.check(padding_checks.padded_frames, type(model))
    if task == "task3":  # its self-check cell calls only task3(); Task 1 and 2 call their own
        run_task_checks(checker, spec, task, ns)
    return checker.finish(strict)


def _judge_facts(checker: Checker, facts: dict, spec, limits: dict) -> None:
    """The ✓/✗ lines of a task's probe facts (`probe_facts`), judged as its graded tests judge
    them: layers that run, the classes written in the notebook, no library layer, the encoder's
    size, a normalization before the classifier, and the same forward traced or not."""
    layer_class = facts["layer_class"]
    if layer_class and "max_layer_calls" in limits:
        # The grader's measure and judge (test_task1_layers_that_run): attention chains.
        calls = facts["layer_calls"]
        judge = spec.module("rules").layers_that_run  # the grader's test calls it too
        passed, what = judge(calls, limits["max_layer_calls"])
        checker.expect(
            passed,
            what,
            Text(N_("call your {name} in forward"), name=layer_class)
            if calls == 0
            else N_("use fewer layers"),
        )
    elif layer_class:  # no limit to judge: only that the notebook's layer runs at all
        calls = facts["layer_class_calls"]
        checker.expect(
            calls >= 1,
            Text.counted(
                "{name} runs {n} time in one forward",
                "{name} runs {n} times in one forward",
                calls,
                name=layer_class,
            ),
            Text(N_("call your {name} in forward"), name=layer_class),
        )
    problems = dict(facts["class_problems"])
    if layer_class:
        problems[layer_class] = facts["layer_class_problem"]
    for name, problem in problems.items():
        written = Text(N_("{name} is written in this notebook"), name=name)
        checker.expect(problem is None, written, problem or "")
    forbidden = facts["forbidden"]
    checker.expect(
        not forbidden,
        N_("written from scratch: no torch.nn/torchaudio/kws Transformer layers run in forward"),
        Text(N_("found {names}; use your own classes instead"), names=", ".join(forbidden)),
    )
    if facts["encoder_params"] is not None:
        budget = limits.get("max_encoder_params")
        checker.expect(
            budget is None or facts["encoder_params"] < budget,
            Text(
                N_("The parameter size of encoder block is {size}{budget}"),
                size=facts["encoder_params_text"],
                budget=Text(N_(" (budget: under {n}k)"), n=budget // 1000) if budget else "",
            ),
            N_("make the encoder smaller: fewer layers, a narrower d_model or dim_feedforward"),
        )
    if facts["norm_before_classifier"] is not None:
        passed, why = facts["norm_before_classifier"]
        checker.expect(passed, N_("a normalization feeds the final Linear classifier"), why)
    if facts["traced_mismatch"]:  # the grader cannot check a model that does this
        checker.expect(
            False,
            N_("forward computes the same traced as untraced"),
            Text(
                N_("{mismatch}; make forward compute the same thing every time"),
                mismatch=facts["traced_mismatch"],
            ),
        )


def task1(model, *, n_classes=None, ns=None, strict=False) -> CheckResult:
    """Task 1: your own EncoderLayer, run at most `max_layer_calls` times, an encoder block
    under `max_encoder_params` parameters (the task's limits in kws/assignments/speaker_id/spec.toml),
    and padded frames that change no logits (`padding_checks`, on the class built small)."""
    return _speaker_task("task1", model, n_classes=n_classes, ns=ns, strict=strict)


def task2(model, *, n_classes=None, ns=None, strict=False) -> CheckResult:
    """Task 2: your own ConformerBlock, and a normalization right before the final Linear."""
    return _speaker_task("task2", model, n_classes=n_classes, ns=ns, strict=strict)


def task3(model, *, n_classes=None, ns=None, strict=False) -> CheckResult:
    """Task 3: your own SelfAttentionPooling; scores whose argmax is the predicted speaker; and
    the notebook's SelfAttentionPooling, AMSoftmaxHead and am_softmax_loss against formulas."""
    return _speaker_task("task3", model, n_classes=n_classes, ns=ns, strict=strict)
