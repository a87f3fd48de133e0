"""Randomness in a forward pass, held still and found.

A model in eval mode should compute the same thing every time; an honest one sometimes does not
(augmentation or dropout left on, a numpy gain, LayerDrop). Two tools keep that from looking
like anything else:

- `seeded` runs a block under fixed seeds of every generator a notebook draws from (torch's on
  the CPU and on CUDA, numpy's, Python's `random`), the states before restored after, so a
  model whose randomness comes from a generator gives the same output on every pass that the
  grader compares, and the same files give the same grade;
- `random_draws` finds which module drew from which generator during one eval forward pass, so
  the determinism check can name the cause.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import torch
from torch import nn

from kws.i18n import N_, Text

# The seed of the graded passes; a batch's passes use SEED + its number, all of them alike.
SEED = 20_231


def _numpy_random():
    try:
        import numpy.random
    except ImportError:  # the kit needs numpy, but a bare environment may still trace
        return None
    return numpy.random


@contextlib.contextmanager
def seeded(seed: int = SEED) -> Iterator[None]:
    """Run the block with torch (CPU and every initialised CUDA device), numpy and Python's
    `random` seeded to `seed`; their states as they were afterwards."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    numpy_random = _numpy_random()
    python_state = random.getstate()
    numpy_state = numpy_random.get_state() if numpy_random else None
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)  # CUDA's generators too
        random.seed(seed)
        if numpy_random:
            numpy_random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(python_state)
            if numpy_random:
                numpy_random.set_state(numpy_state)


def _states() -> dict[str, object]:
    """A fingerprint of every generator's state: what changes when something draws."""
    states = {"torch": torch.random.get_rng_state()}
    if torch.cuda.is_initialized():
        states["torch (CUDA)"] = torch.cuda.get_rng_state_all()
    numpy_random = _numpy_random()
    if numpy_random:
        kind, keys, position, *_ = numpy_random.get_state()
        states["numpy"] = (kind, bytes(keys), position)
    states["random"] = random.getstate()
    return states


def _drawn(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """The generators whose state differs between two fingerprints."""
    changed = []
    for name, state in after.items():
        earlier = before.get(name)
        if isinstance(state, torch.Tensor):
            same = isinstance(earlier, torch.Tensor) and torch.equal(state, earlier)
        elif isinstance(state, list):  # CUDA: one state tensor per device
            same = earlier is not None and all(map(torch.equal, state, earlier))
        else:
            same = state == earlier
        if not same:
            changed.append(name)
    return changed


def random_draws(model: nn.Module, inputs: tuple) -> list[str]:
    """Where `model(*inputs)` draws random numbers in eval mode, without gradients.

    Every module's forward is watched through hooks on the model's own modules: a draw is put
    on the innermost module that made it (its name in the model, its class and the generator),
    and a draw outside every submodule on the model itself. [] when the pass draws nothing.
    Exceptions from the model propagate; the hooks are always removed, and the generators'
    states are restored.

    Example:
        ```python
        random_draws(model, (x, lengths))  # ["tokenizer.augment (SpecAugment): torch"]
        ```
    """
    found: dict[str, list[str]] = {}
    stack: list[tuple[str, dict, int]] = []  # (name, states at entry, draws seen inside)
    names = {id(m): name or "model" for name, m in model.named_modules(remove_duplicate=False)}

    def enter(module, args):
        stack.append((names.get(id(module), "model"), _states(), len(found)))

    def leave(module, args, output):
        if not stack:
            return
        name, before, inner = stack.pop()
        drawn = _drawn(before, _states())
        if drawn and len(found) == inner:  # no submodule explains it: this module drew
            found[f"{name} ({type(module).__name__})"] = drawn

    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    was_training = model.training
    model.eval()
    try:
        with seeded(), torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return [f"{where}: {', '.join(generators)}" for where, generators in found.items()]


# nn.Module's own bookkeeping (its parameters, buffers, submodules, hooks, training flag).
_MODULE_KEYS = frozenset(vars(nn.Module()))


def _kept_state(model: nn.Module) -> dict[str, object]:
    """What a model keeps between calls besides its parameters and submodules: every module's
    buffers and plain attributes (``self._mask`` too), each as a value to compare (a tensor's
    copy, a repr)."""
    state: dict[str, object] = {}
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        for key, value in vars(module).items():
            if key in _MODULE_KEYS or isinstance(value, nn.Module):
                continue
            state[prefix + key] = value.detach().clone() if torch.is_tensor(value) else repr(value)
        for key, value in module.named_buffers(recurse=False):
            state[f"{prefix}{key}"] = value.detach().clone()
    return state


def _changed(before: dict[str, object], after: dict[str, object]) -> list[str]:
    def same(a, b) -> bool:
        if torch.is_tensor(a) and torch.is_tensor(b):
            return a.shape == b.shape and bool(torch.equal(a.nan_to_num(), b.nan_to_num()))
        return a == b if not (torch.is_tensor(a) or torch.is_tensor(b)) else False

    keys = dict.fromkeys([*before, *after])
    return [
        key
        for key in keys
        if key not in before or key not in after or not same(before[key], after[key])
    ]


def eval_unsteady(model: nn.Module, inputs: tuple) -> tuple[str, str] | None:
    """Why `model(*inputs)` in eval mode is not one computation, and the fix; None when it is.

    First the randomness it draws (`random_draws`: which module, which generator); then two
    passes under the same seeds, and what of the model's state the first pass changed (an
    attribute or buffer of a module, such as a cached mask or a call counter). One finding for
    the self-check and the grader alike, whatever the chance of a random branch.

    Example:
        ```python
        problem = eval_unsteady(model, (waves, lengths))
        checker.expect(problem is None, "eval mode is deterministic", problem and problem[1])
        ```
    """
    draws = random_draws(model, inputs)
    if draws:
        return (
            Text(N_("forward draws random numbers in eval mode: {draws}"), draws="; ".join(draws)),
            N_(
                "run augmentation, dropout and every other random step only when `self.training` "
                "is True (F.dropout(x, p, training=self.training))"
            ),
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            before = _kept_state(model)
            with seeded():
                first = model(*inputs)
            changed = _changed(before, _kept_state(model))
            with seeded():
                second = model(*inputs)
    finally:
        model.train(was_training)
    first, second = (o[0] if isinstance(o, tuple | list) else o for o in (first, second))
    if torch.is_tensor(first) and torch.is_tensor(second) and first.shape == second.shape:
        nan = torch.isnan(first)
        if torch.equal(nan, torch.isnan(second)) and torch.equal(first[~nan], second[~nan]):
            return None
    if changed:
        changes = N_(
            "two calls give different outputs: forward changes what the model keeps between "
            "calls ({names})"
        )
        return (
            Text(changes, names=", ".join(changed[:3])),
            N_(
                "compute masks and other per-batch values from each call's inputs, as local "
                "variables, not on `self`"
            ),
        )
    return (
        N_("two calls under the same seeds give different outputs"),
        N_(
            "forward must not depend on anything but its inputs and weights: no random numbers "
            "outside torch's, numpy's and `random`'s generators, no clock, no counter"
        ),
    )
