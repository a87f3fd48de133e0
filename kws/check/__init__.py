"""Self-checks students run from their notebooks: each says what passed and what to fix.

Layer checks build the student's class with small distinct sizes (B=2, T=5, D=12, H=3), seeded,
in eval mode and float64, copy its weights into the torch.nn / torchaudio layer it imitates (or
into a formula written out in the check) and compare outputs, padding and gradients; the hidden
grader runs the very same comparisons (each assignment's ``checks.py``, `kws.check.registry`).
Model checks trace one forward pass (`kws.tracing.probes`) and judge it by the task's rules in
its spec, as the grader does; they live in each assignment's folder, ``selfcheck.py`` (its names
in ``__all__``), and are reached here as ``check.<name>`` (`__getattr__`). Nothing here uses hidden data. Every check prints "✓ what" or
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
from kws.check import formula_checks, layer_checks
from kws.check.selfcheck import Checker, CheckResult

__all__ = [
    "CheckResult",
    "attention",
    "encoder_layer",
    "encoder",
    "conformer_block",
    "attention_pooling",
    "am_softmax",
]  # and each assignment's selfcheck.py's (`__getattr__`)


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


# ---- whole models: each assignment's own (kws/assignments/<name>/selfcheck.py) ---------------


def _assignment_checks() -> dict:
    """{name: function} of every assignment folder's ``selfcheck.py`` (its ``__all__``)."""
    found = {}
    for spec in ASSIGNMENTS.values():
        if (spec.folder / "selfcheck.py").is_file():
            module = spec.module("selfcheck")
            found.update({name: getattr(module, name) for name in module.__all__})
    return found


def __getattr__(name: str):
    """``check.task1`` and the like: a model check of one assignment, from its folder."""
    if name.startswith("__"):
        raise AttributeError(name)
    checks = _assignment_checks()
    if name not in checks:
        raise AttributeError(
            f"module 'kws.check' has no check {name!r}; it has {__all__ + sorted(checks)}"
        )
    return checks[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_assignment_checks()))
