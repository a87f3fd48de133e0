"""Parameter budgets, measured by the grader from the submitted checkpoint without torch
(`kws.data.tensor_file`: shapes only, never unpickled), so nothing a notebook does at run time
changes the count. Every tensor of every dtype counts but a normalization's bookkeeping
(`kws.counts.is_bookkeeping`); "the encoder block" is every tensor under ``encoder.`` plus every
top-level module in which the grading child saw attention run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kws.counts import format_count, is_weight
from kws.data.tensor_file import StoredTensor, TensorFileError, read_tensor_file
from kws.grading.protocol.checkpoint import unwrap_state
from kws.i18n import gettext as _

MAX_CHECKPOINT_BYTES = 2 * 2**30


class BudgetError(ValueError):
    """A checkpoint that cannot be measured; the message says what to hand in (a graded test
    reads it through ``grading.model_weights`` and ``grading.encoder_budget``, which fail the test
    with it)."""


@dataclass(frozen=True)
class WeightCount:
    """What a checkpoint holds: `count` numbers in `tensors` tensors under `prefixes` ("" = the
    whole model)."""

    count: int
    prefixes: tuple[str, ...]
    tensors: int

    @property
    def text(self) -> str:
        """The count as the course prints it, e.g. "154.88k"."""
        return format_count(self.count)


def block_prefixes(attention_modules: list[str] = (), root: str = "encoder") -> tuple[str, ...]:
    """`root` plus the top-level module of each module where attention ran ("" = the model)."""
    found = {"" if name in ("", "model") else name.split(".", 1)[0] for name in attention_modules}
    return tuple(sorted(found | {root}))


def load_state(path: Path, task: str) -> dict[str, StoredTensor]:
    """Read the submitted ``model.pt`` at `path` safely (never unpickled): {key: a stand-in with
    the tensor's ``shape``, ``dtype`` and ``numel``, no values} of the state dict the grading
    child loads (`kws.grading.protocol.checkpoint.unwrap_state`). BudgetError, naming `task`'s
    file and what to hand in, when it is missing, too large, not loadable safely or not a state
    dict."""
    path = Path(path)
    if not path.is_file():
        said = _("{task}/model.pt is missing, so its weights cannot be counted")
        raise BudgetError(said.format(task=task))
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        said = _("{task}/model.pt is larger than {size} GiB")
        raise BudgetError(said.format(task=task, size=MAX_CHECKPOINT_BYTES // 2**30))
    try:
        state = read_tensor_file(path)
    except (TensorFileError, OSError) as error:
        said = _("{task}/model.pt cannot be loaded safely ({error}); save it with "
                 "torch.save(model.state_dict(), path)")  # fmt: skip
        raise BudgetError(said.format(task=task, error=type(error).__name__)) from None
    # The weights the grading child loads: a training checkpoint's state dict, a wrapped
    # model's without its prefix (`unwrap_state`), so that they cannot escape the count.
    unwrapped = unwrap_state(state, lambda value: isinstance(value, StoredTensor))
    if unwrapped is None:
        said = _("{task}/model.pt is not a state dict; save model.state_dict()")
        raise BudgetError(said.format(task=task))
    return unwrapped


def encoder_budget(
    path: Path, task: str, attention_modules: list[str] = (), root: str = "encoder"
) -> WeightCount:
    """The `WeightCount` of the encoder block (`root`, the attribute the skeleton names it, and
    the modules of `attention_modules`, where the grading child saw attention run:
    `block_prefixes`) in the ``model.pt`` at `path`, tensors shared by storage counted once;
    BudgetError when it cannot be read (`load_state`) or has no `root` weights."""
    state = load_state(path, task)
    prefixes = block_prefixes(attention_modules, root)
    if not any(key.startswith(root + ".") for key in state):
        said = _("{task}/model.pt has no `{root}.` weights; keep the skeleton's "
                 "`self.{root} = ...` holding the encoder block")  # fmt: skip
        raise BudgetError(said.format(task=task, root=root))
    unique = {  # by storage: a tensor saved twice under two names (a shared module) counts once
        (value.storage.key, value.offset, value.shape): value.numel
        for key, value in state.items()
        if any(p == "" or key.startswith(p + ".") for p in prefixes) and is_weight(key, value)
    }
    return WeightCount(count=sum(unique.values()), prefixes=prefixes, tensors=len(unique))


def checkpoint_weights(path: Path, task: str) -> WeightCount:
    """The `WeightCount` of the whole model in the ``model.pt`` at `path` (``prefixes`` ("",)):
    every tensor of every dtype but a normalization's bookkeeping (`kws.counts.is_weight`), a
    tensor saved under two names counted twice, as the self-check counts the live model's state
    dict (`kws.tracing.probes.model_params`); BudgetError when it cannot be read (`load_state`)."""
    state = load_state(path, task)
    weights = [value for key, value in state.items() if is_weight(key, value)]
    return WeightCount(count=sum(v.numel for v in weights), prefixes=("",), tensors=len(weights))
