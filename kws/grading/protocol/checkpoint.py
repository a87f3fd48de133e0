"""Where the state dict is inside a hand-in's ``model.pt`` (`unwrap_state`), read alike by the
grading child, which loads it, and by the grader's process, which counts its weights: the model
the child grades is the one whose weights the budget counts.
"""

from __future__ import annotations

from collections.abc import Callable

TRAINING_KEYS = ("model_state_dict", "state_dict", "model")  # training-checkpoint dicts
WRAPPER_PREFIXES = ("_orig_mod.", "module.")  # torch.compile, DataParallel


def unwrap_state(state: object, is_tensor: Callable[[object], bool]) -> dict | None:
    """The model's state dict inside what a ``model.pt`` holds, or None when there is none.

    Args:
        state: what the file holds (``torch.load``'s result, or `kws.data.tensor_file`'s).
        is_tensor: whether a value is one tensor (``torch.Tensor``, ``StoredTensor``).

    Returns:
        {key: tensor}: `state` itself, or its entry under one of `TRAINING_KEYS`, with the
        prefix of `WRAPPER_PREFIXES` that every key carries removed; None when neither is a
        non-empty dict of tensors.
    """

    def is_state(value) -> bool:
        return isinstance(value, dict) and all(is_tensor(v) for v in value.values())

    if isinstance(state, dict) and not is_state(state):
        state = next((state[k] for k in TRAINING_KEYS if is_state(state.get(k))), state)
    if not is_state(state) or not state:
        return None
    for prefix in WRAPPER_PREFIXES:
        if all(isinstance(key, str) and key.startswith(prefix) for key in state):
            state = {key[len(prefix) :]: value for key, value in state.items()}
    return dict(state)
