"""The checker behind `kws.check` and `kws.grading.child.numeric`: check items (`Checker`,
`CheckResult`), running and building the student's code (`call`, `run_model`, `build`), comparing tensors
(`differs`, `shape_text`). Checking a layer against its reference is `kws.check.layers`.

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
from typing import Any

import torch
from torch import nn

from kws.check.precision import in_float32, is_dtype_error
from kws.i18n import N_, Text, ngettext, shown
from kws.i18n import gettext as _
from kws.tracing.compare import untraced_output
from kws.tracing.determinism import eval_unsteady, seeded

# A TODO's failed item starts so in every language: the grader reads the field's start
# (`kws.grading.judge.facts`); the student reads it translated (`Item.__str__`).
NOT_WRITTEN = "not written yet: "
LATER_MARK = "–"  # a check not run here: the grader runs it after the hand-in


@dataclass(frozen=True)
class Item:
    """One check: what was checked, whether it passed, and how to fix it if not; or a check
    that did not run here (`ran` False: the grader runs it after the hand-in), which neither
    passed nor failed: it is marked "–", never "✓"."""

    passed: bool
    what: str
    fix: str = ""
    topic: str = "build"  # "build", "outputs" or "padding": which graded test it belongs to
    ran: bool = True

    def __str__(self) -> str:
        """The item's line, in the active language (`kws.i18n.shown`: the fields stay
        English)."""
        what = shown(self.what)
        if not self.ran:
            return f"{LATER_MARK} {what}"
        if self.passed:
            return f"✓ {what}"
        fix = shown(self.fix)
        if self.fix.startswith(NOT_WRITTEN):
            fix = _("not written yet: {message}").format(message=self.fix[len(NOT_WRITTEN) :])
        return f"✗ {what} — {fix}"


class CheckResult:
    """The outcome of one self-check: its items, falsy when any failed (an item that did not
    run here, `Item.ran` False, neither passes nor fails: the summary counts it apart).

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
        return [item for item in self.items if item.ran and not item.passed]

    @property
    def later(self) -> list[Item]:
        """The items that did not run here: the grader checks them after the hand-in."""
        return [item for item in self.items if not item.ran]

    def __bool__(self) -> bool:
        return bool(self.items) and not self.failures

    def summary(self) -> str:
        later = len(self.later)
        ran = len(self.items) - later
        passed, after = ran - len(self.failures), ""
        name = shown(self.name) if isinstance(self.name, Text) else self.name  # a class's name
        if later:
            after = ngettext(
                "{n} is checked by the grader after you hand in",
                "{n} are checked by the grader after you hand in",
                later,
            ).format(n=later)
        if self and after:
            return _("{name}: all {n} checks passed; {after}.").format(
                name=name, n=passed, after=after
            )
        if self:
            return _("{name}: all {n} checks passed.").format(name=name, n=passed)
        if after:
            return _(
                "{name}: {passed} of {total} checks passed; fix the ✗ above ({after})."
            ).format(name=name, passed=passed, total=ran, after=after)
        return _("{name}: {passed} of {total} checks passed; fix the ✗ above.").format(
            name=name, passed=passed, total=ran
        )

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

    def later(self, what: str) -> None:
        """Record a check that does not run here: the grader runs it after the hand-in (a check
        the course keeps with its grader, a rule this notebook cannot show yet). Printed with
        its own mark ("– what"), it is neither passed nor failed.

        Args:
            what: the check, and why it does not run here.
        """
        item = Item(True, what, "", self.topic, ran=False)
        self.items.append(item)
        if self.echo:
            print(item)

    def expect_steady(self, model: nn.Module, inputs: tuple, what: str) -> str | None:
        """Record one item `what`: `model` in eval mode gives the same outputs on every call;
        failed, its fix names the cause found: the module that draws random numbers and from
        which generator, or the state forward changes between calls
        (`kws.tracing.determinism.eval_unsteady`), the same answer on every run whatever the
        chance of a random branch. A forward that raises stops the check, as in `call`.

        Args:
            model: the student's model (run in eval mode, without gradients, on its device).
            inputs: forward's positional arguments.
            what: the rule, as a passed item says it ("eval mode is deterministic").

        Returns:
            None, or the failed item's fix (the cause, then what to change), for other items
            whose comparisons the unsteady outputs spoil.

        Example:
            ```python
            unsteady = checker.expect_steady(model, (waves,), "eval mode is deterministic")
            ```
        """
        fix = call(self, N_("a second forward runs"), lambda: unsteady_fix(model, inputs))
        self.expect(fix is None, what, fix or "")
        return fix

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
        """The context a check runs in: a `stop` ends it quietly, on one torch thread, under
        fixed seeds of every generator (`kws.tracing.determinism.seeded`: the same code gets
        the same verdict on every run, even where it draws random numbers; the caller's
        generators are left as they were).

        Returns:
            A context manager yielding the checker.
        """
        # The inputs are tiny: one thread is fastest, and on a busy machine several threads can
        # make one float64 convolution take most of a second.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with seeded():
                yield self
        except CheckStopped:
            pass
        finally:
            torch.set_num_threads(threads)

    def check(self, judge: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Run one judge, ``judge(checker, *args, **kwargs)``, in `run`'s context, and record
        its items.

        A judge that stops on a dtype error (the student's code casts back to float32 where the
        check runs in float64) runs again in float32 (`kws.check.precision`), and that run's
        items are recorded: a cast is no failure, and what still fails is the student's own.

        Args:
            judge: a check of ``checks.py`` or ``kws.check.layers`` (it records items on the
                checker it is given).
            *args: its arguments after the checker.
            **kwargs: its keyword arguments.
        """
        found = self._judged(judge, args, kwargs)
        if any(is_dtype_error(item.fix) for item in found.failures):
            with in_float32():
                again = self._judged(judge, args, kwargs)
            if not any(is_dtype_error(item.fix) for item in again.failures):
                found = again
        for item in found.items:
            self.items.append(item)
            if self.echo:
                print(item)
        self.todo = self.todo or found.todo

    def _judged(self, judge: Callable[..., None], args: tuple, kwargs: dict) -> Checker:
        checker = Checker(self.name, echo=False)
        checker.topic = self.topic
        with checker.run():
            judge(checker, *args, **kwargs)
        return checker

    @property
    def failures(self) -> list[Item]:
        return [item for item in self.items if not item.passed]

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
    code = (frame.line or "").strip()
    return Text(
        N_(" (at {file}:{line}: {code})"), file=frame.filename, line=frame.lineno, code=code
    )


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
        message = str(err) or N_("a TODO raises NotImplementedError")
        checker.todo = checker.todo or message  # "Run All" stops at the first TODO met
        checker.stop(what, NOT_WRITTEN + message)  # this call's own TODO
    except Exception as err:
        raised = N_("raised {error}: {message}{where}")
        checker.stop(what, Text(raised, error=type(err).__name__, message=err, where=_where(err)))


def run_model(
    checker: Checker, model: nn.Module, inputs: tuple, what: str = N_("forward runs")
) -> torch.Tensor:
    """Run the student's model as the grading child runs the graded one: on the model's device,
    in eval mode, without gradients (its training mode restored after); its scores are the
    output, or the output's first element (a model may return scores and attention weights).

    A step of the check, like `call`: an error or a TODO stops the check with a failed item, and
    so does an output that is not a tensor.

    Args:
        checker: the `Checker` a failed item goes into.
        model: the student's model.
        inputs: forward's positional arguments, tensors (moved to the model's device).
        what: the step, as a passed item would say it ("forward(waves) runs").

    Returns:
        The scores, a tensor on the model's device.

    Example:
        ```python
        logits = run_model(checker, model, (waves,), "forward(waves) runs")
        checker.expect(logits.shape == (2, 12), f"returns {shape_text(logits)}", "return (B, 12)")
        ```
    """
    device = next(model.parameters(), torch.empty(0)).device
    inputs = tuple(x.to(device) for x in inputs)
    output = call(checker, what, lambda: untraced_output(model, inputs))
    scores = output[0] if isinstance(output, tuple | list) else output
    if not isinstance(scores, torch.Tensor):
        checker.stop(
            Text(N_("forward returns {kind}"), kind=type(scores).__name__),
            N_("return the scores as one tensor (B, C)"),
        )
    return scores


def unsteady_fix(model: nn.Module, inputs: tuple) -> str | None:
    """The fix to give when `model` in eval mode gives other outputs on each call: the cause
    found (`kws.tracing.determinism.eval_unsteady`), then what to change; None when it gives
    the same. Runs on the model's device; raises what forward raises."""
    device = next(model.parameters(), torch.empty(0)).device
    problem = eval_unsteady(model, tuple(x.to(device) for x in inputs))
    said = N_("the outputs change from call to call ({cause}): {fix}")
    return problem and Text(said, cause=problem[0], fix=problem[1])


def quiet_unsteady_fix(model: nn.Module, inputs: tuple) -> str | None:
    """`unsteady_fix`, None when forward raises (the items that run it say so): the fix of an
    item whose comparison the unsteady outputs spoil."""
    try:
        return unsteady_fix(model, inputs)
    except Exception:  # student code: anything can come out
        return None


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
        checker.stop(
            Text(N_("build {given}"), given=repr(cls)),
            N_("pass the class itself (an nn.Module subclass)"),
        )
    kwargs, missing = {}, []
    for name, param in inspect.signature(cls).parameters.items():
        if name in candidates:
            kwargs[name] = candidates[name]
        elif param.default is param.empty and param.kind not in (
            param.VAR_POSITIONAL,
            param.VAR_KEYWORD,
        ):
            missing.append(name)
    arguments = ", ".join(
        f"{k}={type(v).__name__ if isinstance(v, nn.Module) else v}" for k, v in kwargs.items()
    )
    what = Text(N_("{call} builds"), call=f"{cls.__name__}({arguments})")
    if missing:
        needs = N_("its constructor needs {missing}; keep the skeleton's arguments ({expected})")
        checker.stop(what, Text(needs, missing=missing, expected=Text(expected)))

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
