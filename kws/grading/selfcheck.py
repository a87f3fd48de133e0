"""Machinery behind `kws.check`: result reporting, building student classes, layer comparisons."""

from __future__ import annotations

import contextlib
import inspect
import math
import traceback
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

B, T, D, H, FF = 2, 5, 12, 3, 24  # distinct sizes, so swapped axes cannot go unnoticed
LENGTHS = (5, 3)


@dataclass(frozen=True)
class Item:
    """One check: what was checked, whether it passed, and how to fix it if not."""

    passed: bool
    what: str
    fix: str = ""

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


class _Stop(Exception):
    """Raised inside a check when the remaining steps cannot run (the failure is recorded)."""


class Checker:
    """Collects and prints check items for one student object."""

    def __init__(self, name: str):
        self.name, self.items = name, []
        self.todo: str | None = None  # the message of a TODO the check ran into

    def expect(self, passed: bool, what: str, fix: str) -> bool:
        item = Item(bool(passed), what, fix)
        self.items.append(item)
        print(item)
        return item.passed

    def stop(self, what: str, fix: str):
        self.expect(False, what, fix)
        raise _Stop

    @contextlib.contextmanager
    def run(self):
        # The inputs are tiny: one thread is fastest, and on a busy machine several threads can
        # make one float64 convolution take most of a second.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield self
        except _Stop:
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
        checker.todo = str(err) or "a TODO raises NotImplementedError"
        checker.stop(what, f"not written yet: {checker.todo}")
    except Exception as err:
        checker.stop(what, f"raised {type(err).__name__}: {err}{_where(err)}")


def build(checker: Checker, cls, candidates: dict, expected: str) -> nn.Module:
    """Construct `cls` with the arguments its constructor names, seeded; eval mode, float64."""
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
    return module.eval().double()


def mask_argument(module: nn.Module) -> str | None:
    """The name of the padding-mask (or lengths) argument of `module.forward`, if any."""
    names = list(inspect.signature(module.forward).parameters)[1:]
    for test in ("key_padding_mask", "padding_mask", "pad", "lengths"):
        for name in names:
            if test in name:
                return name
    return next((n for n in names if "mask" in n and n not in ("attn_mask", "src_mask")), None)


def forward(module: nn.Module, x: torch.Tensor, mask: torch.Tensor | None = None, **extra):
    """`module(x, <mask argument>=mask)`; the first output if it returns a tuple."""
    if mask is not None:
        extra[mask_argument(module)] = mask
    out = module(x, **extra)
    return out[0] if isinstance(out, (tuple, list)) and not extra.get("need_weights") else out


def copy_weights(source: nn.Module, target: nn.Module) -> str | None:
    """Load `source`'s state into `target` by name, else in order when sizes match; None if done."""
    src, dst = source.state_dict(), target.state_dict()
    if src.keys() == dst.keys() and all(src[k].shape == dst[k].shape for k in src):
        target.load_state_dict(src)
        return None
    if len(src) == len(dst) and all(
        a.numel() == b.numel() for a, b in zip(src.values(), dst.values(), strict=True)
    ):
        target.load_state_dict(
            {k: v.reshape(dst[k].shape) for k, v in zip(dst, src.values(), strict=True)}
        )
        return None
    ours = [f"`{k}` {tuple(v.shape)}" for k, v in src.items()] + ["nothing"]
    theirs = [f"`{k}` {tuple(v.shape)}" for k, v in dst.items()] + ["nothing"]
    at = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b)
    return f"entry {at} of your state_dict is {ours[at]} where the reference has {theirs[at]}"


def _differs(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """Largest absolute difference when `a` and `b` are not close (float64 tolerances), else None."""
    if a.shape != b.shape:
        return math.inf
    try:
        torch.testing.assert_close(a, b)
        return None
    except AssertionError:
        return float((a - b).detach().abs().max())


def _inputs():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        x = torch.randn(B, T, D, dtype=torch.float64)
        noise = 10 * torch.randn(B, T, D, dtype=torch.float64)
    mask = torch.arange(T) >= torch.tensor(LENGTHS)[:, None]  # (B, T), True = padded
    return x, mask, noise


def compare_layer(checker: Checker, student: nn.Module, references: list[nn.Module], *, kind: str):
    """Parameters, output shape, outputs vs the reference, padding mask and gradients of a layer."""
    n = sum(p.numel() for p in student.parameters())
    counts = [sum(p.numel() for p in r.parameters()) for r in references]
    candidates = [r.eval().double() for r, c in zip(references, counts, strict=True) if c == n]
    if not candidates:
        checker.stop(
            f"{n:,} parameters",
            f"the reference {kind} has {counts[0]:,}; keep exactly the layers of the skeleton",
        )
    checker.expect(True, f"{n:,} parameters, as the reference {kind}", "")
    problems = [copy_weights(student, reference) for reference in candidates]
    if all(problems):
        checker.stop("weights copy into the reference", f"keep the skeleton's names: {problems[0]}")
    candidates = [r for r, problem in zip(candidates, problems, strict=True) if problem is None]

    x, mask, noise = _inputs()
    y = call(checker, "forward(x) runs", lambda: forward(student, x))
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (B, T, D):
        checker.stop(
            f"forward(x (2, 5, 12)) returns shape {tuple(getattr(y, 'shape', ())) or type(y).__name__}",
            "return (B, T, D), batch-first, like the input: check the view/transpose that merges heads",
        )
    checker.expect(True, "output shape (2, 5, 12) = (B, T, D)", "")
    matched = next((r for r in candidates if _differs(y, forward(r, x)) is None), None)
    if matched is not None:
        checker.expect(True, f"outputs match the reference {kind} (no padding)", "")
    else:
        gap = _differs(y, forward(candidates[0], x))
        checker.expect(
            False,
            f"outputs match the reference {kind} (no padding)",
            _diagnose(kind, candidates[0], x, y, gap),
        )

    name = mask_argument(student)
    if name is None:
        checker.stop(
            "forward takes a padding mask",
            "add `key_padding_mask=None` (bool (B, T), True = padded)",
        )
    y_mask = call(checker, f"forward(x, {name}=mask) runs", lambda: forward(student, x, mask))
    y_noise = call(
        checker,
        f"forward(x, {name}=mask) runs",
        lambda: forward(student, x + noise * mask[..., None], mask),
    )
    fix = "mask padded keys: fill their scores with -inf (or a very large negative number) before the softmax"
    if kind == "conformer block":
        fix += ", and zero padded frames before the depthwise convolution"
    checker.expect(
        _differs(y_mask[~mask], y_noise[~mask]) is None,
        "padded frames do not change the valid outputs",
        fix,
    )
    if matched is not None:
        gap = _differs(y_mask[~mask], forward(matched, x, mask)[~mask])
        checker.expect(
            gap is None,
            f"outputs match the reference {kind} with padding",
            f"max difference {gap:.3g}; {fix}" if gap else "",
        )
    if "need_weights" in inspect.signature(student.forward).parameters:
        _check_weights(checker, student, candidates[0], x, mask)

    def backward():
        student.zero_grad()
        with torch.enable_grad():
            forward(student, x, mask)[~mask].sum().backward()

    call(checker, "backward runs", backward)
    unused = [n for n, p in student.named_parameters() if p.requires_grad and p.grad is None]
    checker.expect(
        not unused, "every parameter gets a gradient", f"{unused} are never used in forward"
    )


def _check_weights(checker, student, reference, x, mask):
    out = call(
        checker,
        "forward(..., need_weights=True) runs",
        lambda: student(x, **{mask_argument(student): mask}, need_weights=True),
    )
    weights = out[1] if isinstance(out, (tuple, list)) and len(out) > 1 else None
    expected = reference(x, key_padding_mask=mask, need_weights=True)[1]
    checker.expect(
        isinstance(weights, torch.Tensor) and _differs(weights, expected) is None,
        f"attention weights have shape {tuple(expected.shape)} = (B, H, T, T) and match the reference",
        "return the softmax weights per head, (B, H, T, T), 0 at padded keys",
    )


# Common attention bugs, as (options of _attention_variant, what to tell the student).
_SPLIT = "the heads are split with view(B, H, T, hs); use view(B, T, H, hs).transpose(1, 2)"
ATTENTION_BUGS = [
    ({"scale": 1.0}, "the scores are not divided by sqrt(head_dim); divide q·kᵀ by sqrt(D / H)"),
    ({"scale": math.sqrt(D)}, "the scores are divided by sqrt(D); divide by sqrt(head_dim)"),
    ({"softmax_dim": -2}, "the softmax runs over the queries; take it over the keys (dim=-1)"),
    ({"split_right": False}, _SPLIT),
    ({"split_right": False, "merge_right": False}, _SPLIT + " and merge with transpose(1, 2)"),
]


def _attention_variant(ref, x, *, scale=None, softmax_dim=-1, split_right=True, merge_right=True):
    """Attention with `ref`'s weights and one deliberate mistake, to name a student's bug."""
    hs = D // H
    q, k, v = F.linear(x, ref.in_proj_weight, ref.in_proj_bias).split(D, dim=-1)  # 3 x (B, T, D)
    if split_right:
        q, k, v = (t.view(B, T, H, hs).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hs)
    else:
        q, k, v = (t.reshape(B, H, T, hs) for t in (q, k, v))  # (B, H, T, hs), heads mixed up
    scores = q @ k.transpose(-2, -1) / (scale or math.sqrt(hs))  # (B, H, T, T)
    y = scores.softmax(dim=softmax_dim) @ v  # (B, H, T, hs)
    y = y.transpose(1, 2).reshape(B, T, D) if merge_right else y.reshape(B, T, D)  # (B, T, D)
    return F.linear(y, ref.out_proj.weight, ref.out_proj.bias)


def _diagnose(kind: str, reference: nn.Module, x: torch.Tensor, y: torch.Tensor, gap: float) -> str:
    generic = {
        "attention": "check the head split .view(B, T, H, hs).transpose(1, 2), the scaling and the softmax axis",
        "encoder layer": "check the residual connections and where norm1/norm2 go (post-norm: norm1(x + attn(x)))",
        "encoder": "run the layers in order, each on the previous output, and pass the mask to each",
        "conformer block": "check the order: ½ FFN, attention, convolution module, ½ FFN, final LayerNorm",
    }[kind]
    if kind == "attention":
        with torch.no_grad():
            for options, message in ATTENTION_BUGS:
                if _differs(y, _attention_variant(reference, x, **options)) is None:
                    return message
    return f"max difference {gap:.3g}; {generic}"
