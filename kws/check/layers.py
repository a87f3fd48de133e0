"""The layer toolkit: check a student's layer against the reference it imitates (torch.nn,
torchaudio, a formula written out), with copied weights, in float64, on inputs of small distinct
sizes (B=2, T=5, D=12, H=3, so swapped axes fail).

Published as one name of the Authoring API, ``layers`` (``from kws.author import layers``), used
as ``layers.compare_layer(...)``:

- `compare_layer`: outputs, padding and gradients against candidate references; `per_example`:
  what a reference gives each example alone, at its valid frames;
- `inputs`, `CHECK_SIZES`: the seeded inputs and their sizes; `attention_mask`: a padding mask as
  torch.nn's attention takes it (kws.check.layer_inputs);
- `accepts`, `call_text`, `forward`: the student's layer called as its skeleton documents it;
- `copy_weights` (kws.check.weights): a student's weights into the reference, tensor by the job
  it does; `count_layer_calls` (kws.tracing.probes): how often a class's forward runs;
- `torchaudio`: torchaudio, checked to load with the installed torch (kws.compat), imported the
  first time a check reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from kws.check.layer_inputs import (
    CHECK_SIZES,
    LAYER_CALL,
    accepts,
    attention_mask,
    call_text,
    forward,
    inputs,
)
from kws.check.selfcheck import Checker, call, differs, quiet_unsteady_fix
from kws.check.weights import copy_weights
from kws.i18n import N_, Text
from kws.tracing.probes import count_layer_calls

if TYPE_CHECKING:  # loaded on first use by `__getattr__` below
    from kws.compat import torchaudio

__all__ = [
    "CHECK_SIZES",
    "accepts",
    "attention_mask",
    "call_text",
    "compare_layer",
    "copy_weights",
    "count_layer_calls",
    "forward",
    "inputs",
    "per_example",
    "torchaudio",
]

B, T, D, H, FF = CHECK_SIZES


def per_example(reference: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The reference's output on each example cut to its length, at the valid frames.

    What a layer that masks its padding correctly must give at the valid frames: nothing can
    leak from frames that are not there (attention keys, or a convolution's reach).

    Args:
        reference: the reference layer, (B, T, D) -> (B, T, D), called as `forward` calls it.
        x: the inputs, (B, T, D).
        mask: the padding mask, bool (B, T), True = padded.

    Returns:
        (N, D): the outputs at the N valid frames, in the order of ``x[~mask]``.

    Example:
        ```python
        x, mask, noise = inputs()
        gap = differs(forward(layer, x, mask)[~mask], per_example(reference, x, mask))
        ```
    """
    rows = [forward(reference, x[b : b + 1, : int((~m).sum())])[0] for b, m in enumerate(mask)]
    return torch.cat(rows)  # (valid frames, D), in the order of x[~mask]


def compare_layer(
    checker: Checker,
    student: nn.Module,
    references: list[nn.Module],
    *,
    kind: str,
    hint: str,
    padding_fix: str,
    diagnose: Callable[[nn.Module, torch.Tensor, torch.Tensor], str | None] | None = None,
    signature: str = LAYER_CALL,
) -> None:
    """Compare a (B, T, D) -> (B, T, D) layer with its references: outputs, padding, gradients.

    The first reference whose parameter count and weights fit is compared (the student's weights
    are copied into each by what they do, `copy_weights`). The student's layer is called as
    `signature` documents it: ``forward(x)``, then ``forward(x, mask)`` by position. Items go under
    the topics "build" (parameters), "outputs" (no padding, gradients) and "padding" (the mask
    argument, padded frames ignored, outputs with padding).

    Args:
        checker: the `Checker` the items go into.
        student: the student's layer, built with `build`.
        references: candidate reference layers taking x (B, T, D) batch-first (e.g. torch.nn's
            ``TransformerEncoderLayer`` with both norm orders).
        kind: what the layer is, for messages ("encoder layer").
        hint: the fix to propose when the outputs differ and `diagnose` names no bug.
        padding_fix: the fix to propose when the padded frames change the output.
        diagnose: ``diagnose(reference, x, y) -> str | None``, a known bug's name when the
            outputs differ, or None.
        signature: the call the skeleton documents, for messages.

    Returns:
        None; the items are on `checker`.

    Example:
        ```python
        compare_layer(checker, layer, [TorchLayer()], kind="encoder layer",
                      hint="add the residual after dropout", padding_fix="pass the mask on")
        ```
    """
    kind, hint, padding_fix = _said(kind), _said(hint), _said(padding_fix)
    checker.topic = "build"
    n = sum(p.numel() for p in student.parameters())
    counts = [sum(p.numel() for p in r.parameters()) for r in references]
    candidates = [r.eval().double() for r, c in zip(references, counts, strict=True) if c == n]
    written = f"{n:,}"  # the count as it is read; `n` picks the words' form
    if not candidates:
        checker.stop(
            Text.counted("{n} parameter", "{n} parameters", n, n=written),
            Text(
                N_("the reference {kind} has {count}; keep exactly the layers of the skeleton"),
                kind=kind,
                count=f"{counts[0]:,}",
            ),
        )
    said = Text.counted(
        "{n} parameter, as the reference {kind}",
        "{n} parameters, as the reference {kind}",
        n,
        n=written,
        kind=kind,
    )
    checker.expect(True, said, "")
    x, mask, noise = inputs()
    problems = [copy_weights(student, reference, (x,)) for reference in candidates]
    if all(problems):
        checker.topic = "outputs"  # a forward that raises (a TODO) says so first, as it would
        call(checker, Text(N_("{call} runs"), call="forward(x)"), lambda: forward(student, x))
        checker.topic = "build"
        checker.stop(
            N_("weights copy into the reference"),
            Text(N_("keep the skeleton's layers: {problem}"), problem=problems[0]),
        )
    candidates = [r for r, problem in zip(candidates, problems, strict=True) if problem is None]

    checker.topic = "outputs"
    if not accepts(student, x):
        checker.stop(
            Text(N_("{call} can be called as forward(x)"), call=call_text(student)),
            Text(
                N_("keep the skeleton's signature {signature}: the mask has a default"),
                signature=signature,
            ),
        )
    y = call(checker, Text(N_("{call} runs"), call="forward(x)"), lambda: forward(student, x))
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (B, T, D):
        got = tuple(getattr(y, "shape", ())) or type(y).__name__
        checker.stop(
            Text(N_("{call} returns shape {shape}"), call="forward(x (2, 5, 12))", shape=got),
            N_(
                "return (B, T, D), batch-first, like the input: check the view/transpose that "
                "merges heads"
            ),
        )
    said = N_("output shape {shape} = (B, T, D)")
    checker.expect(True, Text(said, shape=(2, 5, 12)), "")
    with torch.no_grad():
        outputs = [forward(r, x) for r in candidates]
    matched = next(
        (r for r, o in zip(candidates, outputs, strict=True) if differs(y, o) is None), None
    )
    fix = ""
    unsteady = quiet_unsteady_fix(student, (x,))  # what spoils every comparison, if anything
    if matched is None:
        gap = differs(y, outputs[0])
        fix = unsteady or (diagnose and diagnose(candidates[0], x, y))
        fix = fix or Text(N_("max difference {gap:.3g}; {fix}"), gap=gap, fix=hint)
    checker.expect(
        matched is not None,
        Text(
            N_("outputs match {reference} (no padding)"),
            reference=_describe(matched or candidates[0]),
        ),
        fix,
    )

    def backward():
        student.zero_grad()
        with torch.enable_grad():
            forward(student, x).sum().backward()

    call(checker, N_("backward runs"), backward)
    unused = [n for n, p in student.named_parameters() if p.requires_grad and p.grad is None]
    checker.expect(not unused, N_("every parameter gets a gradient"), _unused_fix(student, unused))

    checker.topic = "padding"
    if not accepts(student, x, mask):
        said = N_(
            "your {call} takes no second argument; keep the skeleton's signature {signature} "
            "(the mask: bool (B, T), True = padded)"
        )
        checker.stop(
            N_("forward takes a padding mask"),
            Text(said, call=call_text(student), signature=signature),
        )
    runs = Text(N_("{call} runs"), call="forward(x, mask)")
    y_mask = call(checker, runs, lambda: forward(student, x, mask))
    y_noise = call(checker, runs, lambda: forward(student, x + noise * mask[..., None], mask))
    cause = unsteady or _nonfinite(y_mask[~mask], y_noise[~mask])  # before the padding's fix
    checker.expect(
        differs(y_mask[~mask], y_noise[~mask]) is None,
        N_("padded frames do not change the valid outputs"),
        cause or padding_fix,
    )
    if matched is not None:
        with torch.no_grad():
            gap = differs(y_mask[~mask], per_example(matched, x, mask))
        differ = (
            Text(N_("max difference {gap:.3g}; {fix}"), gap=gap, fix=padding_fix) if gap else ""
        )
        checker.expect(
            gap is None,
            Text(N_("outputs match {reference} with padding"), reference=_describe(matched)),
            (cause or differ) if gap else "",
        )


def _unused_fix(student: nn.Module, unused: list[str]) -> str:
    """What to tell about the parameters no gradient reached: the student's by name; those of a
    reference standing in for one of the student's modules (it has a `title`) as the reference's,
    at the student's module path."""
    stand_ins = {n: m for n, m in student.named_modules() if n and hasattr(m, "title")}
    at = sorted({p for p in stand_ins for n in unused if n.startswith(p + ".")})
    own = [n for n in unused if not any(n.startswith(p + ".") for p in at)]
    fixes = [Text(N_("your {names} are never used in forward"), names=own)] if own else []
    stands = N_(
        "{reference}, standing in for your {name} in this check, is never used: call "
        "self.{name} in forward"
    )
    fixes += [Text(stands, reference=_describe(stand_ins[p]), name=p) for p in at]
    return Text.joined("; ", fixes)


def _nonfinite(*outputs: torch.Tensor) -> str | None:
    """The fix when the valid outputs hold NaN or inf (NaN differs from everything, so no
    comparison names it); None when they are finite."""
    if all(bool(torch.isfinite(y).all()) for y in outputs):
        return None
    return N_(
        "the outputs at valid frames hold NaN or inf: look for a row whose every key is masked "
        "(the mask is True at padded frames only) or a NaN written into the padding"
    )


def _said(text: str) -> Text:
    """A caller's sentence (a `kind`, a `hint`) as a `Text`, translated where it is shown."""
    return text if isinstance(text, Text) else Text(text)


def _describe(reference: nn.Module) -> str:
    """What a reference is, for the check's lines: its `title`, or its class name."""
    return getattr(reference, "title", type(reference).__name__)


def __getattr__(name: str):
    """`torchaudio`, imported when a check first reads it: a check that never compares with
    torchaudio (keyword spotting's, in every grading child) does not pay for its import."""
    if name == "torchaudio":
        from kws.compat import torchaudio

        return torchaudio
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
