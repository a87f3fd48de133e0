"""Copy a student's weights into the reference layer it imitates, each tensor to the one that
does the same job (`copy_weights`), for the layer checks (`kws.check.layers`).

Neither names nor the order in which ``__init__`` registers sub-modules decides which tensor is
which: a student may name every sub-module their own way and define them in any order. What a
rewrite cannot move is what the tensors are and what the forward pass does with them, so the
tensors are matched

1. by shape: a tensor whose shape no other tensor has is matched at once;
2. among tensors of one shape, by the order in which one forward pass first uses each of them
   (`first_uses`: a ``TorchFunctionMode`` watches every torch function the forward calls, and a
   tensor is used when it is an argument of a call that computes a tensor), the student's
   forward and the reference's on the same example;
3. without a forward to watch (no example given, or the student's forward raises), by name where
   both sides use the same names;

and what is still ambiguous is said, naming the tensors. Sizes that differ are said too.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from kws.i18n import N_, Text
from kws.tracing.trace import tensors_in

_UNUSED = float("inf")  # the rank of a tensor no call of the forward pass used


class _FirstUses(TorchFunctionMode):
    """Records, for each watched tensor, the rank of the first call that used it."""

    def __init__(self, watched: set[int]):
        super().__init__()
        self.watched, self.rank = watched, {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if tensors_in(result):  # a computation, not a look at .shape, .dtype or .device
            for tensor in tensors_in((args, kwargs or {})):
                if id(tensor) in self.watched and id(tensor) not in self.rank:
                    self.rank[id(tensor)] = len(self.rank)
        return result


def first_uses(module: nn.Module, example: tuple) -> dict[str, float] | None:
    """{state-dict key: rank of its first use} in one forward pass ``module(*example)`` (0 for
    the first tensor used, `_UNUSED` for one never used); None when the forward raises."""
    entries = module.state_dict(keep_vars=True)
    watch = _FirstUses({id(tensor) for tensor in entries.values()})
    try:
        with torch.no_grad(), watch:
            module(*example)
    except Exception:  # a TODO or a bug: the check that runs forward reports it
        return None
    return {key: watch.rank.get(id(tensor), _UNUSED) for key, tensor in entries.items()}


def _shown(shape: tuple) -> str:
    return str(tuple(shape))


def _differing(ours: dict, theirs: dict, size) -> int:
    """How many sizes (by `size`) the two state dicts hold different numbers of."""
    have, need = Counter(map(size, ours.values())), Counter(map(size, theirs.values()))
    return sum(have[key] != need[key] for key in have | need)


def _sizes_problem(ours: dict, theirs: dict) -> str:
    """What differs between the two state dicts' tensors, in a sentence: a size yours has more of
    and one the reference has more of, with their names. Sizes are shapes, or numbers of elements
    where that names fewer differences: a Conv2d's kernel (D, 1, pf, pt) does the job of a
    Linear's weight (D, pf * pt), so a missing bias is said, not the kernel's shape."""
    shape = lambda t: tuple(t.shape)  # noqa: E731
    numel = lambda t: (t.numel(),)  # noqa: E731
    size = min((shape, numel), key=lambda each: _differing(ours, theirs, each))  # shape on a tie
    have, need = Counter(map(size, ours.values())), Counter(map(size, theirs.values()))

    def said(key: tuple, entries: dict) -> Text:
        named = ", ".join([f"`{k}`" for k, t in entries.items() if size(t) == key][:3])
        if size is shape:
            return Text(N_("shape {shape} ({names})"), shape=_shown(key), names=named)
        return Text.counted("{n} number ({names})", "{n} numbers ({names})", key[0], names=named)

    parts = []
    extra = [key for key in have if have[key] > need[key]]
    if extra:
        more = N_("yours has {n} tensor(s) of {size} where the reference has {wanted}")
        parts.append(Text(more, n=have[extra[0]], size=said(extra[0], ours), wanted=need[extra[0]]))
    missing = [key for key in need if need[key] > have[key]]
    if missing:
        fewer = N_("the reference has {n} tensor(s) of {size} where yours has {have}")
        size_of = said(missing[0], theirs)
        parts.append(Text(fewer, n=need[missing[0]], size=size_of, have=have[missing[0]]))
    return Text.joined("; ", parts)


def _pair(
    ours: list[str], theirs: list[str], ranks: tuple[dict | None, dict | None]
) -> list[tuple[str, str]] | str:
    """(our key, their key) for one group of same-sized tensors, or why they cannot be paired."""
    if len(ours) == 1:
        return [(ours[0], theirs[0])]
    mine, reference = ranks
    if mine is not None and reference is not None:
        order = lambda keys, rank: sorted(keys, key=lambda k: (rank[k], k))  # noqa: E731
        return list(zip(order(ours, mine), order(theirs, reference), strict=True))
    if sorted(ours) == sorted(theirs):
        return [(key, key) for key in ours]
    why = (
        N_("your forward did not run")
        if reference is not None
        else N_("no forward pass was watched")
    )
    said = N_(
        "cannot tell which of your {ours} is which of the reference's {theirs} ({why}, and the "
        "names differ)"
    )
    return Text(
        said,
        ours=", ".join(f"`{k}`" for k in ours),
        theirs=", ".join(f"`{k}`" for k in theirs),
        why=Text(why),
    )


def copy_weights(source: nn.Module, target: nn.Module, example: tuple | None = None) -> str | None:
    """Load the student's weights into a reference layer, each tensor into the one that does its job.

    Tensors are matched by what they do on `example` (see the module's docstring), not by name
    or registration order, so a rewrite that renames or reorders the student's layers keeps
    working. Without `example`, tensors of one shape are matched by name. Shapes may differ
    where the sizes agree (a (1, D) weight for a (D,)).

    Args:
        source: the student's module.
        target: the reference module (changed in place).
        example: the arguments of one forward pass of both, e.g. ``(x,)`` with x (B, T, D).

    Returns:
        None when every tensor was copied; else what stands in the way, in a sentence.

    Example:
        ```python
        problem = copy_weights(layer, reference, (x,))
        checker.expect(problem is None, N_("the weights fit torch.nn's layer"), problem or "")
        ```
    """
    ours, theirs = source.state_dict(), target.state_dict()
    size = lambda t: tuple(t.shape)  # noqa: E731
    if Counter(map(size, ours.values())) != Counter(map(size, theirs.values())):
        size = lambda t: (t.numel(),)  # noqa: E731
        if Counter(map(size, ours.values())) != Counter(map(size, theirs.values())):
            return _sizes_problem(ours, theirs)
    groups: dict[tuple, tuple[list[str], list[str]]] = {}
    for side, entries in enumerate((ours, theirs)):
        for key, tensor in entries.items():
            groups.setdefault(size(tensor), ([], []))[side].append(key)
    ranks: tuple[dict | None, dict | None] = (None, None)
    if example is not None and any(len(a) > 1 for a, _ in groups.values()):
        ranks = (first_uses(source, example), first_uses(target, example))
    pairs = []
    for mine, reference in groups.values():
        paired = _pair(mine, reference, ranks)
        if isinstance(paired, str):
            return paired
        pairs += paired
    target.load_state_dict({t: ours[s].reshape(theirs[t].shape) for s, t in pairs})
    return None
