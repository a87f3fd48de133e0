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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

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


CHECK_SIZES = CheckSizes(B=2, T=5, D=12, H=3, FF=24)
"""The sizes `inputs` and `compare_layer` use: build a reference layer with the same ones.

Example:
    ```python
    B, T, D, H, FF = CHECK_SIZES
    reference = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=True)
    ```
"""
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
    """The outcome of one self-check: its items, falsy when any failed.

    Args:
        name: what was checked.
        items: the check's items, in order.

    Example:
        ```python
        result = checker.finish(strict=False)
        if not result:
            print(result.report())  # every item, then "n of m checks passed; fix the ✗ above."
        ```
    """

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

    A check records items with `expect` (one rule: passed or not, what, how to fix) and ends
    early with `stop` when the remaining steps cannot run. `topic` is the topic of the items
    recorded from now on ("build", "outputs", "padding"): a graded numeric test may give the
    points of one topic apart from another.

    Args:
        name: what is checked, for the summary ("masked_mean").
        echo: print each item as it is recorded (a notebook's self-check), or stay silent.

    Example:
        ```python
        checker = Checker("masked_mean", echo=False)
        with checker.run():
            checker.expect(out.shape == (2, 3), "one vector per sequence", "return (B, D)")
        ```
    """

    def __init__(self, name: str, *, echo: bool = True):
        self.name, self.items, self.echo = name, [], echo
        self.todo: str | None = None  # the message of a TODO the check ran into
        self.topic = "build"

    def expect(self, passed: bool, what: str, fix: str) -> bool:
        """Record one item: a rule, whether it holds, and how to fix it when it does not.

        Args:
            passed: whether the rule holds.
            what: the rule, as a passed item says it ("padded frames are left out of the mean").
            fix: what to change when it does not hold, in a sentence a student can act on.

        Returns:
            `passed`, as a bool.
        """
        item = Item(bool(passed), what, fix, self.topic)
        self.items.append(item)
        if self.echo:
            print(item)
        return item.passed

    def stop(self, what: str, fix: str):
        """Record a failed item and end the check here: the steps after it cannot run.

        Args:
            what: the step that failed.
            fix: how to fix it.

        Raises:
            CheckStopped: always; `run` catches it.
        """
        self.expect(False, what, fix)
        raise CheckStopped

    @contextlib.contextmanager
    def run(self) -> Iterator[Checker]:
        """The context a check runs in: a `stop` ends it quietly, on one torch thread.

        Returns:
            A context manager yielding the checker.
        """
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
        """The result of the check, its summary printed.

        Args:
            strict: raise AssertionError (with every item) when a check failed.

        Returns:
            The `CheckResult`.

        Raises:
            NotImplementedError: the check met a TODO ("Run All" stops at the first one).
            AssertionError: `strict` and a check failed.
        """
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


def call(checker: Checker, what: str, function: Callable[[], Any]) -> Any:
    """Run a step of the student's code; a TODO or an error becomes a failed item and stops the check.

    Args:
        checker: the `Checker` the failed item goes into.
        what: the step, as a passed item would say it ("masked_mean(x, lengths) runs").
        function: the step, a function of no arguments.

    Returns:
        What `function()` returns.

    Raises:
        CheckStopped: the step raised (a ``NotImplementedError`` is reported as "not written
            yet"); `Checker.run` catches it.

    Example:
        ```python
        out = call(checker, "masked_mean(x, lengths) runs", lambda: function(x, lengths))
        ```
    """
    try:
        return function()
    except NotImplementedError as err:
        message = str(err) or "a TODO raises NotImplementedError"
        checker.todo = checker.todo or message  # "Run All" stops at the first TODO met
        checker.stop(what, f"not written yet: {message}")  # this call's own TODO
    except Exception as err:
        checker.stop(what, f"raised {type(err).__name__}: {err}{_where(err)}")


def build(checker: Checker, cls: type, candidates: dict, expected: str) -> nn.Module:
    """Construct the student's class with the arguments its constructor names, seeded, eval mode,
    float64.

    Every floating parameter and buffer is then drawn at random (seeded): LayerNorm's ones and
    zeros, zero biases and BatchNorm's fresh statistics would hide a misplaced norm or bias.

    Args:
        checker: the `Checker`; a constructor that fails stops the check with a failed item.
        cls: the student's class.
        candidates: {argument name: value} to pass by name, for every name the skeleton's
            constructor may use (``{"d_model": 12, "embed_dim": 12, ...}``); the constructor's
            own names pick from it.
        expected: the constructor call the skeleton documents, for messages.

    Returns:
        The module, in eval mode and float64, its weights drawn at random.

    Example:
        ```python
        layer = build(checker, cls, {"d_model": D, "nhead": H}, "EncoderLayer(d_model, nhead)")
        ```
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


def accepts(module: nn.Module, *args: object) -> bool:
    """Whether ``module.forward`` can be called with `args` by position.

    A signature that cannot be read gets the benefit of the doubt: the call itself will tell.

    Args:
        module: the student's module.
        *args: the positional arguments to try.

    Returns:
        True when the signature takes them.

    Example:
        ```python
        takes_mask = accepts(layer, x, mask)
        ```
    """
    try:
        inspect.signature(module.forward).bind(*args)
    except TypeError:
        return False
    except ValueError:
        return True
    return True


def call_text(module: nn.Module) -> str:
    """The student's ``forward`` signature, for messages: names and defaults only.

    Args:
        module: the student's module.

    Returns:
        The text, e.g. ``"forward(feats, valid=None)"``.

    Example:
        ```python
        checker.expect(ok, f"{call_text(layer)} takes the padding mask second", fix)
        ```
    """
    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return "forward(...)"
    shown = []
    for p in parameters:
        star = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        shown.append(star + p.name + ("" if p.default is p.empty else f"={p.default!r}"))
    return f"forward({', '.join(shown)})"


def forward(module: nn.Module, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Call a layer the way its skeleton documents it, whatever the student named the parameters.

    ``module(x)``, or ``module(x, mask)`` with the padding mask second, by position (as
    ``LAYER_CALL`` or ``forward(h, padding)`` documents it).

    Args:
        module: the student's (or a reference) module.
        x: the input, (B, T, D).
        mask: the padding mask, bool (B, T), True = padded; None: call ``module(x)``.

    Returns:
        The output; the first element when the module returns a tuple.

    Example:
        ```python
        x, mask, noise = inputs()
        y = forward(layer, x, mask)  # (B, T, D)
        ```
    """
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
    """The largest absolute difference between `a` and `b` when they are not close, else None.

    Close means ``|a - b| <= atol + rtol * |b|`` everywhere with ``torch.testing.assert_close``'s
    tolerances for their dtype, the same dtype and no NaN.

    Args:
        a: the student's result.
        b: the reference.

    Returns:
        None when close; else the largest absolute difference (inf when `a` is not a tensor of
        `b`'s shape).

    Example:
        ```python
        gap = differs(y, reference(x))
        checker.expect(gap is None, "outputs match torch.nn's", f"they differ by {gap:.2g}")
        ```
    """
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
    """What torch.nn's attention makes of a boolean key padding mask: an additive float mask.

    Pass it as ``attn_mask`` (``src_mask``, ``mask``) instead of ``key_padding_mask``: the numbers
    are the same, but torch 2.14's attention imports sympy the first time it is given a key
    padding mask, over half a CPU-second in every grading child.

    Args:
        key_padding_mask: bool (B, T), True = padded, or None.
        heads: the number of attention heads H.
        dtype: the dtype of the mask (the layer's).

    Returns:
        (B * H, T, T) of `dtype`, 0 at valid keys and -inf at padded ones; None for None.

    Example:
        ```python
        y = reference(x, src_mask=attention_mask(mask, H, x.dtype))
        ```
    """
    if key_padding_mask is None:
        return None
    B, T = key_padding_mask.shape
    scores = torch.zeros(B, 1, 1, T, dtype=dtype, device=key_padding_mask.device)
    scores = scores.masked_fill(key_padding_mask[:, None, None, :], -math.inf)  # (B, 1, 1, T)
    return scores.expand(B, heads, T, T).reshape(B * heads, T, T)  # (B * H, T, T)


def inputs(
    shape: tuple[int, int, int] = (B, T, D),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded inputs of a layer check: x, its padding mask, and large noise for the padded frames.

    The padding mask is that of lengths (5, 3): the second sequence is padded after 3 frames.

    Args:
        shape: (B, T, D); by default `CHECK_SIZES`' (2, 5, 12).

    Returns:
        (x, mask, noise): x float64 (B, T, D), mask bool (B, T) True = padded, noise float64
        (B, T, D) to write into the padded frames (an output that changes with it reads them).

    Example:
        ```python
        x, mask, noise = inputs()
        ```
    """
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


def shape_text(t: object) -> str:
    """A value's shape as text for a message: ``(2, 12)`` for a tensor, else its type's name.

    Args:
        t: what the student's code returned.

    Returns:
        The text.

    Example:
        ```python
        checker.expect(out.shape == (2, 3), f"returns {shape_text(out)}", "return (B, D)")
        ```
    """
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__
