"""Notebook 03's self-checks (``check.patches``, ``check.positions``, ``check.patchout``,
``check.distillation``, ``check.patch_model``, reached through `kws.check`): the judges of
patch_checks.py, model_checks.py, patchout_checks.py, distill_checks.py and rules.py, the same the
grading child runs (checks.py), with this folder's limits. The checks that build the notebook's
PatchKWT find it in the notebook's namespace (`ns`, default: the notebook's own)."""

from __future__ import annotations

import sys

import torch
from torch import nn

from kws.assignments.patch_transformer import (
    distill_checks,
    model_checks,
    patch_checks,
    patchout_checks,
    rules,
)
from kws.author import (
    N_,
    Checker,
    CheckResult,
    Text,
    call,
    probe_facts,
    run_model,
    shape_text,
    spec_of,
)

__all__ = ["patches", "positions", "patchout", "distillation", "patch_model"]

SPEC = spec_of(__file__)  # this folder: spec.toml, checks.py and the judges
N_CLASSES = len(SPEC.data["classes"])  # 12


def _namespace(ns: dict | None) -> dict:
    return ns if ns is not None else vars(sys.modules["__main__"])


def patches(grid_size=None, embedding: type | None = None, *, strict: bool = False) -> CheckResult:
    """Task 1: `grid_size(size, patch, stride)` counts the patches along an axis, and
    `PatchEmbedding(d_model, patch_size, stride)` gives the grid (B, F', T', D) that unfold + the
    Linear map it computes give (read off its outputs: a bias is optional). Either may be None
    (not checked)."""
    checker = Checker("patches")
    if grid_size is not None:
        checker.check(patch_checks.grid_size, grid_size)
    if embedding is not None:
        checker.check(patch_checks.patch_embedding, embedding)
    return checker.finish(strict)


def positions(cls: type, *, ns: dict | None = None, strict: bool = False) -> CheckResult:
    """Task 2: FreqTimePositions adds freq[f] + time[t] to patch (f, t) (the first time positions
    for a shorter clip), and the notebook's PatchKWT gives the encoder the CLS and distillation
    tokens as they are, then the patches with their positions."""
    checker = Checker(getattr(cls, "__name__", str(cls)))
    checker.check(model_checks.positions, cls, _namespace(ns))
    return checker.finish(strict)


def patchout(cls: type, *, ns: dict | None = None, strict: bool = False) -> CheckResult:
    """Task 3: the notebook's PatchKWT, built with this StructuredPatchout and patchout=(2, 1),
    traced: every patch in eval mode; whole rows and columns dropped in training, drawn with
    ``self.generator`` (not torch's global generator); one of each kept when more are asked
    for than the grid has. The grader's judge (`patchout_checks.structured_patchout`)."""
    checker = Checker(getattr(cls, "__name__", str(cls)))
    checker.check(patchout_checks.structured_patchout, cls, _namespace(ns))
    return checker.finish(strict)


def distillation(
    loss=None, average=None, *, ns: dict | None = None, strict: bool = False
) -> CheckResult:
    """Task 4: `distillation_loss` on fixed tensors, and `average_heads` (on fixed tensors, and
    in the notebook's PatchKWT). Either may be None (not checked)."""
    checker = Checker("distillation")
    if loss is not None:
        checker.check(distill_checks.distillation_loss, loss)
    if average is not None:
        checker.check(distill_checks.prediction, average, _namespace(ns))
    return checker.finish(strict)


def _clips() -> torch.Tensor:
    """Two seeded 1-second clips of noise (2, 16000), leaving the global random state alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return torch.rand(2, 16000) - 0.5


def patch_model(
    model: nn.Module,
    *,
    n_classes: int = N_CLASSES,
    ns: dict | None = None,
    strict: bool = False,
) -> CheckResult:
    """Task 5: waveforms (B, 16000) in, (B, n_classes) logits out, deterministic in eval mode;
    at most `max_parameters` weights; no ready-made Transformer in forward (traced by the
    function the grading child traces the graded model with, `probe_facts`)."""
    checker = Checker(Text(N_("patch model ({name})"), name=type(model).__name__))
    task = SPEC.tasks["patch"]
    with checker.run():
        clips = _clips()
        logits = run_model(checker, model, (clips,), Text(N_("{call} runs"), call="forward(waves)"))
        checker.expect(
            tuple(logits.shape) == (2, n_classes),
            Text(
                N_("{call} returns logits of shape {shape}"),
                call="forward(waves (2, 16000))",
                shape=shape_text(logits),
            ),
            Text(N_("take raw waveforms, return (B, {n})"), n=n_classes),
        )
        checker.expect(bool(torch.isfinite(logits).all()), N_("logits are finite"), "NaN/inf")
        checker.expect_steady(
            model, (clips,), N_("eval mode is deterministic (no SpecAugment, dropout or patch-out)")
        )
        batch = [(clips.to(logits.device), None)]  # traced, and compared with an untraced run
        exact = logits.device.type == "cpu"
        facts = call(
            checker,
            Text(N_("{call} runs (traced)"), call="forward(waves)"),
            lambda: probe_facts("patch", model, _namespace(ns), batch, exact, rules=task.rules),
        )
        if facts["traced_mismatch"]:  # the grader cannot check a model that does this
            checker.expect(
                False,
                N_("forward computes the same traced as untraced"),
                Text(
                    N_("{mismatch}; make forward compute the same thing every time"),
                    mismatch=facts["traced_mismatch"],
                ),
            )
        tokens = sorted({keys for _, keys in facts["attention_sizes"] or []})
        checker.expect(
            bool(tokens),
            Text(N_("the attention runs over {tokens} tokens a clip"), tokens=tokens),
            N_("run the encoder on the tokens in forward"),
        )
        count, text = facts["model_params"], facts["model_params_text"]
        passed, what, fix = rules.size_within(count, task.limits["max_parameters"], text)
        checker.expect(passed, what, fix)
        passed, what, fix = rules.no_ready_made(facts["forbidden"])
        checker.expect(passed, what, fix)
    return checker.finish(strict)
