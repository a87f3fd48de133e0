"""Notebook 03, Task 4: the loss of a distillation token (DeiT's hard distillation) on fixed
tensors, and the prediction of the two heads.

``distillation_loss(cls_logits, dist_logits, labels, teacher_logits, label_smoothing)`` is called
with its arguments in that order (so any names do), on 6 examples of 5 classes where the
teacher's answer (its argmax) differs from the true label on some, with and without label
smoothing, in float64, and compared with the definition written out here:

    ½ cross-entropy(cls_logits, labels) + ½ cross-entropy(dist_logits, teacher_logits.argmax(-1))

both with the label smoothing. A loss against the teacher's probabilities (soft targets), swapped
heads, a sum instead of the average or an ignored smoothing are named.

`prediction`: ``average_heads(cls_logits, dist_logits)`` is their average, and the notebook's
PatchKWT (built by `model_checks.build_patch_model`) returns it in eval mode (the CLS head alone
without a distillation token).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kws.assignments.patch_transformer.model_checks import N_CLASSES, build_patch_model, waves
from kws.author import N_, Checker, Text, call, differs, shape_text

BATCH, CLASSES = 6, 5
LABELS = (0, 3, 4, 1, 3, 2)
TEACHER = (0, 1, 4, 1, 2, 2)  # the teacher's answers: wrong on clips 1 and 4
DEFINITION = N_(
    "½ cross_entropy(cls_logits, labels) + ½ cross_entropy(dist_logits, "
    "teacher_logits.argmax(-1)), both with label_smoothing"
)


def inputs() -> tuple[torch.Tensor, ...]:
    """(cls_logits, dist_logits, labels, teacher_logits): fixed, float64."""
    generator = torch.Generator().manual_seed(5)
    cls_logits, dist_logits, teacher = (
        torch.randn(BATCH, CLASSES, generator=generator, dtype=torch.float64) for _ in range(3)
    )
    teacher[torch.arange(BATCH), torch.tensor(TEACHER)] += 4.0  # a confident teacher
    return cls_logits, dist_logits, torch.tensor(LABELS), teacher


def definition(cls_logits, dist_logits, labels, teacher_logits, smoothing: float):
    """The hard-distillation loss as the task defines it."""
    true = F.cross_entropy(cls_logits, labels, label_smoothing=smoothing)
    taught = F.cross_entropy(dist_logits, teacher_logits.argmax(-1), label_smoothing=smoothing)
    return (true + taught) / 2


def _bug(cls_logits, dist_logits, labels, teacher, smoothing, got) -> str | None:
    soft = teacher.softmax(-1)
    true = F.cross_entropy(cls_logits, labels, label_smoothing=smoothing)
    hard = teacher.argmax(-1)
    soft_loss = F.cross_entropy(dist_logits, soft)
    kl = F.kl_div(dist_logits.log_softmax(-1), soft, reduction="batchmean")
    soft_fix = N_(
        "the distillation head is trained against the teacher's probabilities (soft targets); "
        "hard distillation uses its answers: teacher_logits.argmax(-1)"
    )
    bugs = [
        ((true + soft_loss) / 2, soft_fix),
        ((true + kl) / 2, soft_fix),
        ((F.cross_entropy(cls_logits, labels) + soft_loss) / 2, soft_fix),
        (
            definition(dist_logits, cls_logits, labels, teacher, smoothing),
            N_(
                "the heads are swapped: the CLS head learns the true labels, the distillation head "
                "the teacher's"
            ),
        ),
        (
            (true + F.cross_entropy(dist_logits, labels, label_smoothing=smoothing)) / 2,
            N_(
                "the distillation head learns the true labels; it learns the teacher's answers, "
                "teacher_logits.argmax(-1)"
            ),
        ),
        (
            2 * definition(cls_logits, dist_logits, labels, teacher, smoothing),
            N_("the two losses are summed; average them: (cls_loss + dist_loss) / 2"),
        ),
        (
            definition(cls_logits, dist_logits, labels, teacher, 0.0),
            N_("label_smoothing is ignored: pass it to both cross-entropies"),
        ),
        (
            F.cross_entropy(dist_logits, hard, label_smoothing=smoothing),
            N_("the CLS head's loss is missing: add the cross-entropy of cls_logits and labels"),
        ),
    ]
    return next((message for wrong, message in bugs if differs(got, wrong) is None), None)


def distillation_loss(checker: Checker, function) -> None:
    """Task 4: `function` against `definition` (see the module's docstring)."""
    if not callable(function):
        checker.stop(
            N_("distillation_loss is a function"), N_("keep the skeleton's def distillation_loss")
        )
    checker.topic = "outputs"
    cls_logits, dist_logits, labels, teacher = inputs()
    for smoothing in (0.0, 0.1):
        shown = f"distillation_loss(cls_logits, dist_logits, labels, teacher_logits, {smoothing})"
        got = call(
            checker,
            Text(N_("{call} runs"), call=shown),
            lambda smoothing=smoothing: function(
                cls_logits, dist_logits, labels, teacher, smoothing
            ),
        )
        if not isinstance(got, torch.Tensor) or got.dim() != 0:
            checker.stop(
                Text(
                    N_("{call} returns {got}"),
                    call=shown,
                    got=f"{type(got).__name__} {tuple(getattr(got, 'shape', ()))}",
                ),
                N_("return one number (a 0-dim tensor): the loss averaged over the batch"),
            )
        expected = definition(cls_logits, dist_logits, labels, teacher, smoothing)
        with torch.no_grad():
            why = _bug(cls_logits, dist_logits, labels, teacher, smoothing, got)
        checker.expect(
            differs(got, expected) is None,
            Text(
                N_(
                    "with label_smoothing={smoothing}, the loss is {loss:.4f}; hard distillation "
                    "gives {expected:.4f}"
                ),
                smoothing=smoothing,
                loss=float(got),
                expected=float(expected),
            ),
            why or DEFINITION,
        )
    leaves = [t.clone().requires_grad_(True) for t in (cls_logits, dist_logits, teacher)]
    call(
        checker,
        N_("backward runs"),
        lambda: function(leaves[0], leaves[1], labels, leaves[2], 0.1).backward(),
    )
    checker.expect(
        all(leaf.grad is not None and bool(leaf.grad.abs().sum() > 0) for leaf in leaves[:2]),
        N_("both heads' logits get a gradient"),
        N_(
            "compute the loss with torch operations on both heads' logits (no .item() or .detach())"
        ),
    )
    checker.expect(
        leaves[2].grad is None or not bool(leaves[2].grad.abs().sum() > 0),
        N_("the teacher gets no gradient (it is frozen; its answers are labels)"),
        N_("use the teacher's hard labels, teacher_logits.argmax(-1): nothing flows back into it"),
    )


def prediction(checker: Checker, function, ns: dict) -> None:
    """Task 4: `average_heads(cls_logits, dist_logits)` is their average; and in eval mode the
    notebook's PatchKWT returns it (the CLS head alone without a distillation token)."""
    checker.topic = "outputs"
    if not callable(function):
        checker.stop(N_("average_heads is a function"), N_("keep the skeleton's def average_heads"))
    generator = torch.Generator().manual_seed(6)
    cls_logits, dist_logits = torch.randn(2, 3, N_CLASSES, generator=generator, dtype=torch.float64)
    got = call(
        checker,
        Text(N_("{call} runs"), call="average_heads(cls_logits, dist_logits)"),
        lambda: function(cls_logits, dist_logits),
    )
    bugs = [
        (cls_logits, N_("it returns the CLS head alone; average the two heads")),
        (dist_logits, N_("it returns the distillation head alone; average the two heads")),
        (cls_logits + dist_logits, N_("it sums the heads; average them: (a + b) / 2")),
    ]
    why = next((message for wrong, message in bugs if differs(got, wrong) is None), None)
    checker.expect(
        differs(got, (cls_logits + dist_logits) / 2) is None,
        Text(
            N_("{call} returns {shape}, their average"),
            call="average_heads(cls_logits (3, 5), dist_logits (3, 5))",
            shape=shape_text(got),
        ),
        why or N_("return (cls_logits + dist_logits) / 2"),
    )
    clips = waves()
    for distillation in (True, False):
        model = build_patch_model(checker, ns, keep=None, distillation=distillation)
        checker.topic = "outputs"
        with torch.no_grad():
            heads_run = Text(N_("{call} runs"), call="heads(waves)")
            heads = call(checker, heads_run, lambda model=model: model.heads(clips))
            forward_run = Text(N_("{call} runs"), call="forward(waves)")
            got = call(checker, forward_run, lambda model=model: model(clips))
        head, other = heads
        expected = head if other is None else (head + other) / 2
        which = N_("the average of its two heads") if distillation else N_("its CLS head")
        checker.expect(
            (other is None) != distillation and differs(got, expected) is None,
            Text(
                N_("with a distillation token, the model returns {shape}: {which}")
                if distillation
                else N_("without a distillation token, the model returns {shape}: {which}"),
                shape=shape_text(got),
                which=Text(which),
            ),
            N_(
                "keep the skeleton's PatchKWT.forward: average_heads of self.heads(waves, lengths), "
                "the CLS head's logits when there is no distillation token"
            ),
        )
