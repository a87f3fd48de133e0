"""Machinery behind `kws.check` and `kws.grading.child.numeric`: check items, building student
classes, and the comparison of a layer with its reference (outputs, padding, gradients).

Each item carries a `topic` ("build", "outputs", "padding"), so the hidden grader can give the
points of one topic (say, the padding mask) apart from another.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import traceback
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from kws.check.weights import copy_weights  # the layer checks import it from here


class CheckSizes(NamedTuple):
    """The sizes of a layer check's inputs: batch B, time T, model width D, heads H, feed-forward
    width FF; all distinct, so swapped axes cannot go unnoticed."""

    B: int
    T: int
    D: int
    H: int
    FF: int


CHECK_SIZES = CheckSizes(B=2, T=5, D=12, H=3, FF=24)  # what `inputs` and `compare_layer` use
B, T, D, H, FF = CHECK_SIZES
LENGTHS = (5, 3)


@dataclass(frozen=True)
class Item:
    """One check: what was checked, whether it passed, and how to fix it if not."""

    passed: bool
    what: str
    fix: str = ""
    topic: str = "build"  # "build", "outputs" or "padding": which graded test it belongs to

    def __str__(self) -> str:
        return f"✓ {self.what}" if self.passed else f"✗ {self.what} — {self.fix}"


class CheckResult:
    """The outcome of one `kws.check` call; falsy when any check failed."""

    def __init__(self, name: str, items: list[Item]):
        self.name, self.items = name, items

    @property
    def failures(self) -> list[Item]:
        return [item for item in self.items if not item.passed]

    def __bool__(self) -> bool:
        return bool(self.items) and not self.failures

    def summary(self) -> str:
        passed = len(self.items) - len(self.failures)
        if self:
            return f"{self.name}: all {passed} checks passed."
        return f"{self.name}: {passed} of {len(self.items)} checks passed; fix the ✗ above."

    def report(self) -> str:
        """Every check's line, then the summary."""
        return "\n".join([*map(str, self.items), self.summary()])

    def __repr__(self) -> str:
        # Short: the lines were printed already, and Jupyter shows this after the last call.
        return f"<CheckResult {self.summary()}>"


class CheckStopped(Exception):
    """Raised inside a check when the remaining steps cannot run (the failure is recorded)."""


class Checker:
    """Collects check items for one student object, printing each one when `echo` is True.

    `topic` is the topic of the items recorded from now on; a comparison sets it per step.
    """

    def __init__(self, name: str, *, echo: bool = True):
        self.name, self.items, self.echo = name, [], echo
        self.todo: str | None = None  # the message of a TODO the check ran into
        self.topic = "build"

    def expect(self, passed: bool, what: str, fix: str) -> bool:
        item = Item(bool(passed), what, fix, self.topic)
        self.items.append(item)
        if self.echo:
            print(item)
        return item.passed

    def stop(self, what: str, fix: str):
        self.expect(False, what, fix)
        raise CheckStopped

    @contextlib.contextmanager
    def run(self):
        # The inputs are tiny: one thread is fastest, and on a busy machine several threads can
        # make one float64 convolution take most of a second.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield self
        except CheckStopped:
            pass
        finally:
            torch.set_num_threads(threads)

    def finish(self, strict: bool) -> CheckResult:
        result = CheckResult(self.name, self.items)
        print(result.summary())
        if self.todo is not None:
            # Unwritten code is not a wrong answer: stop "Run All" here, at the first TODO.
            raise NotImplementedError(self.todo)
        if strict and not result:
            raise AssertionError(result.report())
        return result


def _where(err: BaseException) -> str:
    """`file:line: source` of the innermost frame outside torch, for error messages."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "/torch/" not in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {frame.filename}:{frame.lineno}: {(frame.line or '').strip()})"


def call(checker: Checker, what: str, function):
    """Run `function()`; a TODO or an error becomes a failed item and stops the check."""
    try:
        return function()
    except NotImplementedError as err:
        message = str(err) or "a TODO raises NotImplementedError"
        checker.todo = checker.todo or message  # "Run All" stops at the first TODO met
        checker.stop(what, f"not written yet: {message}")  # this call's own TODO
    except Exception as err:
        checker.stop(what, f"raised {type(err).__name__}: {err}{_where(err)}")


def build(checker: Checker, cls, candidates: dict, expected: str) -> nn.Module:
    """Construct `cls` with the arguments its constructor names, seeded; eval mode, float64.

    Every floating parameter and buffer is then drawn at random (seeded): LayerNorm's ones and
    zeros, zero biases and BatchNorm's fresh statistics would hide a misplaced norm or bias.
    """
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        checker.stop(f"build {cls!r}", "pass the class itself (an nn.Module subclass)")
    kwargs, missing = {}, []
    for name, param in inspect.signature(cls).parameters.items():
        if name in candidates:
            kwargs[name] = candidates[name]
        elif param.default is param.empty and param.kind not in (
            param.VAR_POSITIONAL,
            param.VAR_KEYWORD,
        ):
            missing.append(name)
    shown = ", ".join(
        f"{k}={type(v).__name__ if isinstance(v, nn.Module) else v}" for k, v in kwargs.items()
    )
    what = f"{cls.__name__}({shown}) builds"
    if missing:
        checker.stop(
            what, f"its constructor needs {missing}; keep the skeleton's arguments ({expected})"
        )

    def construct():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return cls(**kwargs)

    module = call(checker, what, construct)
    checker.expect(True, what, "")
    return randomize(module.eval().double())


def randomize(module: nn.Module, seed: int = 2) -> nn.Module:
    """Draw `module`'s floating parameters and buffers from U(-0.5, 0.5), running variances from
    U(0.5, 1.5); seeded, so a student's module and its reference get the same numbers."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, value in module.state_dict().items():
            if value.is_floating_point():
                low = 0.5 if name.endswith("running_var") else -0.5
                noise = torch.rand(value.shape, generator=generator, dtype=torch.float64)
                value.copy_(noise + low)
    return module


# How the skeleton documents the forward of each layer a check compares: the arguments are passed
# in this order, by position, whatever the student named them.
LAYER_CALL = "forward(x, key_padding_mask=None)"


def accepts(module: nn.Module, *args) -> bool:
    """Whether ``module.forward`` can be called with `args` by position (a signature that cannot
    be read gets the benefit of the doubt: the call itself will tell)."""
    try:
        inspect.signature(module.forward).bind(*args)
    except TypeError:
        return False
    except ValueError:
        return True
    return True


def call_text(module: nn.Module) -> str:
    """The student's ``forward(feats, valid=None)``, for messages: names and defaults only."""
    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return "forward(...)"
    shown = []
    for p in parameters:
        star = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        shown.append(star + p.name + ("" if p.default is p.empty else f"={p.default!r}"))
    return f"forward({', '.join(shown)})"


def forward(module: nn.Module, x: torch.Tensor, mask: torch.Tensor | None = None):
    """``module(x)``, or ``module(x, mask)``: the padding mask (B, T) second, by position, as the
    skeleton documents it (`LAYER_CALL`, or ``forward(h, padding)``), whatever the student named
    the parameter; the first output if it returns a tuple."""
    out = module(x) if mask is None else module(x, mask)
    return out[0] if isinstance(out, (tuple, list)) else out


# torch.testing.assert_close's default (rtol, atol) per dtype. The comparison is written out
# because assert_close's first call imports torch.distributed (and sympy): over half a CPU-second
# in every grading child and notebook self-check.
TOLERANCES = {
    torch.float64: (1e-7, 1e-7),
    torch.float32: (1.3e-6, 1e-5),
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
}


def differs(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """Largest absolute difference when `a` and `b` are not close, else None: close means
    ``|a - b| <= atol + rtol * |b|`` everywhere with assert_close's tolerances for their dtype, the
    same dtype, and no NaN (inf when `a` is not a tensor of `b`'s shape)."""
    if not isinstance(a, torch.Tensor) or a.shape != b.shape:
        return math.inf
    a, b = a.detach(), b.detach()
    rtol, atol = TOLERANCES.get(b.dtype, (0.0, 0.0))
    if a.dtype == b.dtype and bool(torch.isclose(a, b, rtol=rtol, atol=atol).all()):
        return None
    return float((a - b).abs().max())


def attention_mask(
    key_padding_mask: torch.Tensor | None, heads: int, dtype: torch.dtype
) -> torch.Tensor | None:
    """What torch.nn's attention makes of a boolean ``key_padding_mask`` (B, T), True = padded:
    an additive mask (B * heads, T, T) of ``dtype``, 0 at valid keys and -inf at padded ones, to
    pass as ``attn_mask`` (``src_mask``, ``mask``) instead. The numbers are the same, but torch
    2.14's attention imports sympy the first time it is given a key padding mask: over half a
    CPU-second in every grading child."""
    if key_padding_mask is None:
        return None
    B, T = key_padding_mask.shape
    scores = torch.zeros(B, 1, 1, T, dtype=dtype, device=key_padding_mask.device)
    scores = scores.masked_fill(key_padding_mask[:, None, None, :], -math.inf)  # (B, 1, 1, T)
    return scores.expand(B, heads, T, T).reshape(B * heads, T, T)  # (B * H, T, T)


def inputs(shape=(B, T, D)) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x (seeded, float64), the padding mask of LENGTHS (B, T) True = padded, and large noise."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        x = torch.randn(*shape, dtype=torch.float64)
        noise = 10 * torch.randn(*shape, dtype=torch.float64)
    mask = torch.arange(shape[1]) >= torch.tensor(LENGTHS)[:, None]  # (B, T), True = padded
    return x, mask, noise


def per_example(reference: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The reference's output on each example cut to its length, at the valid frames (N, D).

    What a layer that masks its padding correctly must give at the valid frames: nothing can
    leak from frames that are not there (attention keys, or a convolution's reach).
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
    diagnose=None,
    signature: str = LAYER_CALL,
) -> None:
    """Outputs, padding and gradients of a (B, T, D) -> (B, T, D) layer against `references`.

    `references` take x (B, T, D) batch-first; the first whose parameter count and weights fit
    is compared (the student's weights are copied into each by what they do, `copy_weights`).
    The student's layer is called as `signature` documents it: ``forward(x)``, then
    ``forward(x, mask)`` by position. `diagnose(reference, x, y)` names a known bug when the
    outputs differ (or returns None; then `hint` is given). Topics: "build" (parameters),
    "outputs" (no padding, gradients), "padding" (the mask argument, padded frames ignored,
    outputs with padding).
    """
    checker.topic = "build"
    n = sum(p.numel() for p in student.parameters())
    counts = [sum(p.numel() for p in r.parameters()) for r in references]
    candidates = [r.eval().double() for r, c in zip(references, counts, strict=True) if c == n]
    if not candidates:
        checker.stop(
            f"{n:,} parameters",
            f"the reference {kind} has {counts[0]:,}; keep exactly the layers of the skeleton",
        )
    checker.expect(True, f"{n:,} parameters, as the reference {kind}", "")
    x, mask, noise = inputs()
    problems = [copy_weights(student, reference, (x,)) for reference in candidates]
    if all(problems):
        checker.topic = "outputs"  # a forward that raises (a TODO) says so first, as it would
        call(checker, "forward(x) runs", lambda: forward(student, x))
        checker.topic = "build"
        checker.stop(
            "weights copy into the reference", f"keep the skeleton's layers: {problems[0]}"
        )
    candidates = [r for r, problem in zip(candidates, problems, strict=True) if problem is None]

    checker.topic = "outputs"
    if not accepts(student, x):
        checker.stop(
            f"{call_text(student)} can be called as forward(x)",
            f"keep the skeleton's signature {signature}: the mask has a default",
        )
    y = call(checker, "forward(x) runs", lambda: forward(student, x))
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (B, T, D):
        checker.stop(
            f"forward(x (2, 5, 12)) returns shape {tuple(getattr(y, 'shape', ())) or type(y).__name__}",
            "return (B, T, D), batch-first, like the input: check the view/transpose that merges heads",
        )
    checker.expect(True, "output shape (2, 5, 12) = (B, T, D)", "")
    with torch.no_grad():
        outputs = [forward(r, x) for r in candidates]
    matched = next(
        (r for r, o in zip(candidates, outputs, strict=True) if differs(y, o) is None), None
    )
    fix = ""
    if matched is None:
        gap = differs(y, outputs[0])
        fix = (diagnose and diagnose(candidates[0], x, y)) or f"max difference {gap:.3g}; {hint}"
    checker.expect(
        matched is not None, f"outputs match {describe(matched or candidates[0])} (no padding)", fix
    )

    def backward():
        student.zero_grad()
        with torch.enable_grad():
            forward(student, x).sum().backward()

    call(checker, "backward runs", backward)
    unused = [n for n, p in student.named_parameters() if p.requires_grad and p.grad is None]
    checker.expect(
        not unused, "every parameter gets a gradient", f"{unused} are never used in forward"
    )

    checker.topic = "padding"
    if not accepts(student, x, mask):
        checker.stop(
            "forward takes a padding mask",
            f"your {call_text(student)} takes no second argument; keep the skeleton's signature "
            f"{signature} (the mask: bool (B, T), True = padded)",
        )
    y_mask = call(checker, "forward(x, mask) runs", lambda: forward(student, x, mask))
    y_noise = call(
        checker,
        "forward(x, mask) runs",
        lambda: forward(student, x + noise * mask[..., None], mask),
    )
    checker.expect(
        differs(y_mask[~mask], y_noise[~mask]) is None,
        "padded frames do not change the valid outputs",
        padding_fix,
    )
    if matched is not None:
        with torch.no_grad():
            gap = differs(y_mask[~mask], per_example(matched, x, mask))
        checker.expect(
            gap is None,
            f"outputs match {describe(matched)} with padding",
            f"max difference {gap:.3g}; {padding_fix}" if gap else "",
        )


def describe(reference: nn.Module) -> str:
    """What a reference is, for the check's lines: its `title`, or its class name."""
    return getattr(reference, "title", type(reference).__name__)


def shape_text(t) -> str:
    """A tensor's shape as text, ``(2, 12)``, or the name of what is not a tensor."""
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__
