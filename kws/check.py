"""Self-checks students run from their notebooks: each says what passed and what to fix.

Layer checks build the student's class with small distinct sizes (B=2, T=5, D=12, H=3), seeded,
in eval mode and float64, copy its weights into the kit's reference layer (`kws.models`) and
compare outputs; model checks trace one forward pass (`kws.grading.probes`). Nothing here uses
hidden data. Every check prints "✓ what" or "✗ what — how to fix", then a summary, and returns a
`CheckResult` that is falsy when something failed (``strict=True`` raises AssertionError instead).
A check that runs into a TODO (NotImplementedError) prints it, then raises it again, so that
"Run All" on a fresh student notebook stops at the first TODO with its message.

    check.attention(MultiHeadSelfAttention)
    check.encoder_layer(EncoderLayer)
    check.encoder(Encoder)                      # EncoderLayer is looked up beside Encoder
    check.task1(model)
    check.conformer_block(ConformerBlock)
    check.task2(model)
    check.task3(model)
    check.keyword_model(model)
"""

from __future__ import annotations

import inspect
import sys

import torch
from torch import nn

from kws.grading.selfcheck import (
    FF,
    B,
    Checker,
    CheckResult,
    D,
    H,
    T,
    build,
    call,
    compare_layer,
)

__all__ = [
    "CheckResult",
    "attention",
    "encoder_layer",
    "encoder",
    "conformer_block",
    "task1",
    "task2",
    "task3",
    "keyword_model",
]

ATTENTION_ARGS = {"embed_dim": D, "d_model": D, "num_heads": H, "nhead": H, "dropout": 0.0}
LAYER_ARGS = {**ATTENTION_ARGS, "dim_feedforward": FF, "ffn_dim": FF}
CONFORMER_ARGS = {**LAYER_ARGS, "input_dim": D, "num_attention_heads": H}
CONFORMER_ARGS |= {"depthwise_conv_kernel_size": 3, "kernel_size": 3}


def attention(cls: type, *, strict: bool = False) -> CheckResult:
    """Check a multi-head self-attention class against `kws.models.MultiHeadSelfAttention`."""
    from kws.models import MultiHeadSelfAttention

    checker = Checker(cls.__name__ if isinstance(cls, type) else str(cls))
    with checker.run():
        student = build(checker, cls, ATTENTION_ARGS, "embed_dim, num_heads, dropout")
        references = [MultiHeadSelfAttention(D, H)]
        compare_layer(checker, student, references, kind="attention")
    return checker.finish(strict)


def encoder_layer(cls: type, *, strict: bool = False) -> CheckResult:
    """Check an encoder layer against `kws.models.TransformerEncoderLayer` (either norm order)."""
    checker = Checker(cls.__name__ if isinstance(cls, type) else str(cls))
    with checker.run():
        student = build(checker, cls, LAYER_ARGS, "d_model, nhead, dim_feedforward, dropout")
        compare_layer(checker, student, _layer_references(), kind="encoder layer")
    return checker.finish(strict)


def _layer_references() -> list[nn.Module]:
    from kws.models import TransformerEncoderLayer

    return [
        TransformerEncoderLayer(D, H, FF, dropout=0.0, activation=act, norm_first=first)
        for first in (False, True)
        for act in ("relu", "gelu")
    ]


def encoder(cls: type, layer_class: type | None = None, *, strict: bool = False) -> CheckResult:
    """Check an encoder (a stack of 2 encoder layers here) against `kws.models.TransformerEncoder`.

    If the constructor takes `encoder_layer`, an instance of `layer_class` is passed; by default
    the class named ``EncoderLayer`` defined beside `cls` (in the notebook) is used.
    """
    from kws.grading.probes import count_layer_calls
    from kws.models import TransformerEncoder

    checker = Checker(cls.__name__ if isinstance(cls, type) else str(cls))
    with checker.run():
        layer_class = layer_class or getattr(sys.modules.get(cls.__module__), "EncoderLayer", None)
        args = {**LAYER_ARGS, "num_layers": 2}
        if layer_class is not None:
            args["encoder_layer"] = build(checker, layer_class, LAYER_ARGS, "d_model, nhead, ...")
        student = build(checker, cls, args, "encoder_layer or d_model/nhead/..., num_layers")
        x = torch.randn(B, T, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        layer_name = layer_class.__name__ if layer_class is not None else "EncoderLayer"
        calls = call(checker, "forward(x) runs", lambda: count_layer_calls(student, x, layer_name))
        checker.expect(
            calls == 2,
            f"with num_layers=2, {layer_name} runs {calls} times in forward",
            "call every layer of the stack once, in order (e.g. `for layer in self.layers:`)",
        )
        references = [
            TransformerEncoder(layer, 2, norm=nn.LayerNorm(D) if final_norm else None)
            for layer in _layer_references()
            for final_norm in (False, True)
        ]
        compare_layer(checker, student, references, kind="encoder")
    return checker.finish(strict)


def conformer_block(cls: type, *, strict: bool = False) -> CheckResult:
    """Check a Conformer block against `kws.models.ConformerBlock` (kernel 3, BatchNorm)."""
    from kws.models import ConformerBlock

    checker = Checker(cls.__name__ if isinstance(cls, type) else str(cls))
    with checker.run():
        student = build(
            checker,
            cls,
            CONFORMER_ARGS,
            "input_dim, ffn_dim, num_attention_heads, depthwise_conv_kernel_size, dropout",
        )
        references = [ConformerBlock(D, FF, H, 3), ConformerBlock(D, FF, H, 3, use_group_norm=True)]
        compare_layer(checker, student, references, kind="conformer block")
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
    layer_class: str | None,
    num_classes: int | None,
    ns: dict | None,
    strict: bool,
) -> CheckResult:
    from kws.grading import probes
    from kws.grading.trace import trace_forward

    checker = Checker(f"{task} model ({type(model).__name__})")
    rules = probes.TASK_RULES[task]
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
        if num_classes is not None:
            shape_ok = shape_ok and output.shape[1] == num_classes
        checker.expect(
            shape_ok,
            f"forward(x (2, 60, 40), lengths) returns scores of shape {_shape(output)}",
            f"return one row of class scores per utterance: (B, {num_classes or 'n_speakers'})",
        )
        checker.expect(
            bool(torch.isfinite(output).all()),
            "scores are finite",
            "the output has NaN/inf: look for a division by zero or a log of 0 (padding?)",
        )
        if layer_class:
            calls = probes.layer_calls(traced, model, layer_class)
            limit = rules.get("max_layer_calls")
            checker.expect(
                calls >= 1 and (limit is None or calls <= limit),
                f"{layer_class} runs {calls} times in one forward"
                + (f" (limit: fewer than {limit + 1})" if limit else ""),
                f"call your {layer_class} in forward" if calls == 0 else "use fewer layers",
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
            budget = rules.get("max_encoder_params")
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
    return checker.finish(strict)


def _shape(t) -> str:
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__


def task1(model, *, num_classes=None, ns=None, strict=False) -> CheckResult:
    """Task 1: your own EncoderLayer, fewer than 4 run, encoder block under 500k parameters."""
    return _speaker_task(
        "task1", model, layer_class="EncoderLayer", num_classes=num_classes, ns=ns, strict=strict
    )


def task2(model, *, num_classes=None, ns=None, strict=False) -> CheckResult:
    """Task 2: your own ConformerBlock, and a normalization right before the final Linear."""
    return _speaker_task(
        "task2", model, layer_class="ConformerBlock", num_classes=num_classes, ns=ns, strict=strict
    )


def task3(model, *, num_classes=None, ns=None, strict=False) -> CheckResult:
    """Task 3: your own SelfAttentionPooling; scores whose argmax is the predicted speaker."""
    return _speaker_task(
        "task3",
        model,
        layer_class=None,
        num_classes=num_classes,
        ns=ns,
        strict=strict,
    )


def keyword_model(model: nn.Module, *, num_classes: int = 12, strict: bool = False) -> CheckResult:
    """Notebook 01: waveforms (B, 16000) in, (B, num_classes) logits out, deterministic in eval."""
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
                tuple(logits.shape) == (2, num_classes),
                f"forward(waves (2, 16000)) returns logits of shape {_shape(logits)}",
                f"take raw waveforms, return (B, {num_classes}); the front-end belongs in the model",
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
    return checker.finish(strict)
