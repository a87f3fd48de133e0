"""Task 3 of notebook 02 against formulas written out here: self-attention pooling, the
AM-softmax head and the AM-softmax loss (see `kws.grading.child.numeric` for who calls these and
why).
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from torch import nn

from kws.author import N_, Checker, Text, build, call, layers

B, T, D, H, FF = layers.CHECK_SIZES  # the layer checks' distinct input sizes

# ---- Task 3: written-out formulas -------------------------------------------------------------

C = 7  # speakers in the head and loss checks, distinct from B, T, D and H
POOLING_ARGS = {"d_model": D, "input_dim": D, "embed_dim": D, "in_features": D, "dim": D}
HEAD_ARGS = POOLING_ARGS | {"n_classes": C, "out_features": C}


def pooling_formula(score: nn.Linear, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the valid frames of one Linear score per frame, then the weighted sum (B, D)."""
    scores = score(h).squeeze(-1).masked_fill(mask, float("-inf"))  # (B, T)
    return (scores.softmax(dim=1)[..., None] * h).sum(dim=1)  # (B, D)


def attention_pooling(checker: Checker, cls) -> None:
    """Self-attention pooling (B, T, D), padding (B, T) -> (B, D) against `pooling_formula`."""
    student = build(checker, cls, POOLING_ARGS, "d_model")
    score = nn.Linear(D, 1).double()
    problem = layers.copy_weights(student, score)
    if problem:
        checker.stop(
            N_("weights copy into one Linear(d_model, 1) score"),
            Text(
                N_("keep the skeleton's `self.score = nn.Linear(d_model, 1)`: {problem}"),
                problem=problem,
            ),
        )
    checker.topic = "outputs"
    h, mask, noise = layers.inputs()
    unpadded = torch.zeros_like(mask)
    if not layers.accepts(student, h, mask):
        checker.stop(
            Text(N_("{call} takes the padding mask second"), call=layers.call_text(student)),
            N_(
                "keep the skeleton's signature forward(h, padding) (padding: bool (B, T), True = padded)"
            ),
        )
    runs = Text(N_("{call} runs"), call="forward(h, padding)")
    y = call(checker, runs, lambda: layers.forward(student, h, unpadded))
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (B, D):
        got = tuple(getattr(y, "shape", ())) or type(y).__name__
        checker.stop(
            Text(N_("{call} returns {got}"), call="forward(h (2, 5, 12), padding)", got=got),
            N_("return one vector per utterance, (B, D): the weighted sum over time"),
        )
    with torch.no_grad():
        expected = pooling_formula(score, h, unpadded)
        bugs = [
            (
                h.mean(dim=1),
                N_("the frames are averaged; weight them by the softmax of their scores"),
            ),
            (
                (score(h).softmax(dim=0) * h).sum(dim=1),
                N_("the softmax runs over the batch; take it over time (dim=1)"),
            ),
        ]
    why = next((message for wrong, message in bugs if torch.allclose(y, wrong)), None)
    checker.expect(
        torch.allclose(y, expected),
        N_("outputs match softmax over time of score(h), weighted sum of the frames (no padding)"),
        why
        or N_("score each frame with self.score, softmax the scores over time, sum w·h over time"),
    )
    student.zero_grad()
    call(
        checker, N_("backward runs"), lambda: layers.forward(student, h, unpadded).sum().backward()
    )
    unused = [n for n, p in student.named_parameters() if p.grad is None]
    checker.expect(
        not unused,
        N_("every parameter gets a gradient"),
        Text(N_("{names} are never used"), names=unused),
    )
    checker.topic = "padding"
    y_mask = call(checker, runs, lambda: layers.forward(student, h, mask))
    y_noise = call(
        checker,
        runs,
        lambda: layers.forward(student, h + noise * mask[..., None], mask),
    )
    fix = N_("give padded frames a score of -inf before the softmax, so their weight is 0")
    checker.expect(
        torch.allclose(y_mask, y_noise), N_("padded frames do not change the pooled vector"), fix
    )
    with torch.no_grad():
        expected = pooling_formula(score, h, mask)
    checker.expect(
        torch.allclose(y_mask, expected), N_("outputs match the formula with padding"), fix
    )


def am_softmax_head(checker: Checker, cls) -> None:
    """The AM-softmax head (B, D) -> (B, C): cosines of the embeddings and the class weights."""
    student = build(checker, cls, HEAD_ARGS, "d_model, n_classes")
    holder = nn.Module()
    holder.weight = nn.Parameter(torch.empty(C, D, dtype=torch.float64))
    problem = layers.copy_weights(student, holder)
    if problem:
        checker.stop(
            N_("weights copy into one (n_classes, d_model) weight"),
            Text(N_("keep the skeleton's `self.weight`: {problem}"), problem=problem),
        )
    checker.topic = "outputs"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        e = torch.randn(B, D, dtype=torch.float64) * torch.tensor([[0.5], [4.0]])
    y = call(checker, Text(N_("{call} runs"), call="forward(embedding)"), lambda: student(e))
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (B, C):
        got = tuple(getattr(y, "shape", ())) or type(y).__name__
        checker.stop(
            Text(N_("{call} returns {got}"), call="forward(embedding (2, 12))", got=got),
            N_("return one cosine per speaker, (B, n_classes)"),
        )
    w = holder.weight.detach()
    unit = F.normalize
    bugs = [
        (
            e @ unit(w, dim=-1).T,
            N_("the embeddings are not normalized: F.normalize(embedding, dim=-1)"),
        ),
        (
            unit(e, dim=-1) @ w.T,
            N_("the class weights are not normalized: F.normalize(weight, dim=-1)"),
        ),
        (
            unit(e, dim=-1) @ unit(w, dim=0).T,
            N_(
                "the class weights are normalized over the speakers (dim=0); normalize each row (dim=-1)"
            ),
        ),
    ]
    why = next((message for wrong, message in bugs if torch.allclose(y, wrong)), None)
    checker.expect(
        torch.allclose(y, unit(e, dim=-1) @ unit(w, dim=-1).T),
        N_("outputs are the cosines between the embeddings and each speaker's weight"),
        why or N_("return F.normalize(embedding) @ F.normalize(weight).T: values in [-1, 1]"),
    )
    student.zero_grad()
    call(checker, N_("backward runs"), lambda: student(e).sum().backward())
    unused = [n for n, p in student.named_parameters() if p.grad is None]
    checker.expect(
        not unused,
        N_("every parameter gets a gradient"),
        Text(N_("{names} are never used"), names=unused),
    )


def am_softmax_formula(cosines, labels, margin: float, scale: float) -> torch.Tensor:
    """-log of e^{s(cos_y - m)} / (e^{s(cos_y - m)} + Σ_{j≠y} e^{s cos_j}), averaged over the batch."""
    true = F.one_hot(labels, cosines.shape[1]).bool()  # (B, C)
    logits = scale * torch.where(true, cosines - margin, cosines)  # (B, C)
    return -logits.log_softmax(dim=1)[true].mean()


def _loss_bug(cosines, labels, margin, scale, got) -> str | None:
    true = F.one_hot(labels, cosines.shape[1]).to(cosines.dtype)  # (B, C)

    def ce(logits, reduction="mean"):
        return F.cross_entropy(logits, labels, reduction=reduction)

    bugs = [
        (
            ce(scale * cosines),
            N_(
                "the margin is missing, or subtracted from every class (which changes nothing): "
                "subtract it from the true class's cosine only"
            ),
        ),
        (ce(scale * (cosines + margin * true)), N_("the margin is added; subtract it")),
        (
            ce(scale * (cosines - margin * (1 - true))),
            N_("the margin is subtracted from the other classes; subtract it from the true class"),
        ),
        (ce(cosines - margin * true), N_("the cosines are not multiplied by scale")),
        (ce(scale * cosines - margin * true), N_("scale the margin too: scale * (cos - margin)")),
        (ce(margin * (cosines - scale * true)), N_("margin and scale are swapped")),
        (
            ce(scale * (cosines - margin * true), "sum"),
            N_("the loss is summed over the batch; average it (cross-entropy's default)"),
        ),
    ]
    return next((message for wrong, message in bugs if torch.allclose(got, wrong)), None)


def _loss_parameters(function) -> list[inspect.Parameter] | None:
    """The parameters `function` takes by position (the skeleton documents cosines, labels,
    margin and scale, in that order); None when it cannot take four arguments by position."""
    try:
        signature = inspect.signature(function)
        signature.bind(None, None, None, None)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p for p in signature.parameters.values() if p.kind in kinds]


def am_softmax_loss(checker: Checker, function) -> None:
    """The AM-softmax loss(cosines, labels, margin, scale), its arguments passed by position as
    the skeleton documents them, against `am_softmax_formula`."""
    parameters = _loss_parameters(function) if callable(function) else None
    if parameters is None:
        checker.stop(
            N_("am_softmax_loss takes cosines, labels, margin and scale"),
            N_(
                "keep the skeleton's signature am_softmax_loss(cosines, labels, margin=0.2, scale=30.0)"
            ),
        )
    checker.topic = "outputs"
    generator = torch.Generator().manual_seed(4)
    cosines = torch.rand(4, C, dtype=torch.float64, generator=generator) * 2 - 1  # (4, C)
    labels = torch.tensor([0, 3, 6, 3])
    empty = inspect.Parameter.empty  # no default known, e.g. under *args
    named = (parameters[2:4] + [None, None])[:2]
    defaults = {
        k: empty if p is None else p.default
        for k, p in zip(("margin", "scale"), named, strict=True)
    }
    settings = [{"margin": 0.35, "scale": 10.0}, {"margin": 0.1, "scale": 25.0}]
    if empty not in defaults.values():
        settings.append({})
    for given in settings:
        options = defaults | given
        shown = ", ".join(f"{k}={v}" for k, v in (given or options).items())
        shown = shown if given else Text(N_("its defaults {values}"), values=shown)
        got = call(
            checker,
            Text(
                N_("{call} runs"),
                call=Text.joined("", ["am_softmax_loss(cosines, labels, ", shown, ")"]),
            ),
            lambda given=given: function(cosines, labels, *given.values()),
        )
        if not isinstance(got, torch.Tensor) or got.dim() != 0:
            checker.stop(
                Text(
                    N_("{call} returns {got}"),
                    call="am_softmax_loss",
                    got=f"{type(got).__name__} {tuple(getattr(got, 'shape', ()))}",
                ),
                N_("return one number (a 0-dim tensor): the loss averaged over the batch"),
            )
        expected = am_softmax_formula(cosines, labels, **options)
        with torch.no_grad():
            why = _loss_bug(cosines, labels, options["margin"], options["scale"], got)
        checker.expect(
            torch.allclose(got, expected),
            Text(
                N_("with {options}, the loss is {loss:.4f}; the AM-softmax gives {expected:.4f}"),
                options=shown,
                loss=float(got),
                expected=float(expected),
            ),
            why or N_("cross-entropy of scale * (cos - margin at the true class only)"),
        )
    leaf = cosines.clone().requires_grad_(True)
    call(
        checker,
        N_("backward runs"),
        lambda: function(leaf, labels, *settings[0].values()).backward(),
    )
    checker.expect(
        leaf.grad is not None and bool(leaf.grad.abs().sum() > 0),
        N_("the loss has a gradient with respect to the cosines"),
        N_("compute it with torch operations on `cosines` (no .item(), .detach() or numpy)"),
    )
