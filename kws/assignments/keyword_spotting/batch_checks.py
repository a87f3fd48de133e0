"""Notebook 01: a clip's logits do not depend on the other clips of its batch.

Task 3's checks build the KeywordTransformer with a reference tokenizer, so that a bug in Task 2
never costs Task 3's points; this check builds it again with the notebook's own ConvTokenizer and
compares the logits of a batch of whole clips (no padding: padding has its own check) with the
logits of each clip alone. In eval mode they must be equal: a BatchNorm that normalises with the
batch's statistics (``F.batch_norm(x, None, None, training=True)``, or ``self.norm.train()``
inside forward) makes each clip's logits depend on the clips beside it, so a prediction changes
with the batch it is graded in. The fix named is the cause found: a module forward left in
training mode, random numbers in eval mode, the tokenizer (its BatchNorm named), or what comes
after it.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from kws.author import N_, Checker, Text, call, differs

RUNNING_STATISTICS = Text(
    N_(
        "in eval mode a BatchNorm must normalise with its running statistics: call the module "
        "(self.norm(x)) and leave its mode to model.eval(), with no "
        "F.batch_norm(..., training=True) and no .train() inside forward"
    )
)


def clips_alone(checker: Checker, model: nn.Module, waves: torch.Tensor) -> None:
    """Items: `model` (eval mode, its own tokenizer) is deterministic, and gives each clip of
    `waves` (B, S), a batch of whole clips, the logits it gives that clip alone."""
    shown = f"forward(waves {tuple(waves.shape)})"
    runs = N_("{call} with your ConvTokenizer runs")
    with torch.no_grad():
        together = call(checker, Text(runs, call=shown), lambda: model(waves))
    what = N_("with your own ConvTokenizer, each clip of a batch gets the logits it gets alone")
    switched = [  # a BatchNorm forward put in training mode: its statistics change each call
        name
        for name, module in model.named_modules()
        if module.training and isinstance(module, nn.modules.batchnorm._BatchNorm)
    ]
    if switched:  # named before the unsteady outputs it causes
        checker.expect(False, what, _switched_fix(switched))
        return
    unsteady = checker.expect_steady(
        model, (waves,), N_("with your own ConvTokenizer, eval mode is deterministic")
    )
    with torch.no_grad():
        alone = call(
            checker,
            Text(N_("{call} with your ConvTokenizer runs on each clip alone"), call=shown),
            lambda: torch.cat([model(waves[b : b + 1]) for b in range(len(waves))]),
        )
    gap = differs(together, alone)
    fix = ""
    if gap is not None:
        differ = N_("they differ by up to {gap:.3g}: {cause}")
        fix = unsteady or Text(differ, gap=gap, cause=_cause(model, waves))
    checker.expect(gap is None, what, fix)


def _switched_fix(switched: list[str]) -> Text:
    """The fix when forward left the BatchNorms `switched` (their names) in training mode."""
    tokenizer = all(n.startswith("tokenizer.") for n in switched)
    said = (
        N_(
            "your ConvTokenizer's BatchNorm ({names}) uses the batch's statistics in eval mode: "
            "forward switches it to training mode (a .train() call inside forward); {fix}"
        )
        if tokenizer
        else N_(
            "your model's BatchNorm ({names}) uses the batch's statistics in eval mode: "
            "forward switches it to training mode (a .train() call inside forward); {fix}"
        )
    )
    return Text(said, names=", ".join(switched[:3]), fix=RUNNING_STATISTICS)


def _cause(model: nn.Module, waves: torch.Tensor) -> str:
    """Why a clip's logits depend on its batch, from what the model does (never raises)."""
    try:
        with torch.no_grad():
            return _tokenizer_cause(model, waves) or N_(
                "forward mixes the clips of a batch after the tokenizer (a statistic over the "
                "batch, dim=0?): compute each clip from its own tokens"
            )
    except Exception:  # student code: anything can come out
        return N_("compute each clip from its own samples, whatever else is in the batch")


def _tokenizer_cause(model: nn.Module, waves: torch.Tensor) -> str | None:
    """The tokenizer's part: None when it gives each clip alone the tokens it gives in the batch."""
    features = model.frontend(waves)  # (B, T, F)
    frames = model.frontend.num_frames(torch.full((len(waves),), waves.shape[1]))  # (B,)
    together = model.tokenizer(features, frames)[0]  # (B, N, D)
    alone = torch.cat(
        [model.tokenizer(features[b : b + 1], frames[b : b + 1])[0] for b in range(len(waves))]
    )
    if differs(together, alone) is None:
        return None
    tokenizer = model.tokenizer
    norms = [
        f"tokenizer.{name}"
        for name, module in tokenizer.named_modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm)
    ]
    try:
        calls_batch_norm = "batch_norm" in inspect.getsource(type(tokenizer).forward)
    except (OSError, TypeError):
        calls_batch_norm = False
    if norms or calls_batch_norm:
        which = f" ({', '.join(norms[:3])})" if norms else ""
        said = N_(
            "your ConvTokenizer's BatchNorm{which} uses the batch's statistics in eval mode: "
            "a clip's tokens change with the clips beside it; {fix}"
        )
        return Text(said, which=which, fix=RUNNING_STATISTICS)
    return N_(
        "your ConvTokenizer mixes the clips of a batch (a statistic over the batch, dim=0?): "
        "compute each clip's tokens from its own frames"
    )
