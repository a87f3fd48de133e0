"""The hand-in's model in the grading child: its class and kwargs from ``config.json``
(`read_config`), its weights from ``model.pt`` (`load_checkpoint`: ``weights_only``, strict).
Every error names the task's file and says what to save instead.
"""

import json
from pathlib import Path

from kws.grading.protocol.checkpoint import unwrap_state
from kws.i18n import gettext as _


def read_config(folder: Path, task: str, ns: dict) -> tuple[type, dict]:
    """The model class and kwargs named by `folder/config.json`, checked against the notebook."""
    path = folder / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            _(
                "{task}/config.json is missing; run the notebook's saving cell and hand in its "
                "outputs/ folder beside the notebook"
            ).format(task=task)
        )
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(
            f"{task}/config.json is not valid JSON; save it again from the notebook"
        ) from None
    if not isinstance(config, dict) or set(config) != {"task", "class", "kwargs"}:
        raise ValueError(f'{task}/config.json must be {{"task", "class", "kwargs"}} exactly')
    if config["task"] != task or not isinstance(config["kwargs"], dict):
        raise ValueError(
            f"{task}/config.json says task {config['task']!r}; it belongs to another task"
        )
    cls = ns.get(config["class"]) if isinstance(config["class"], str) else None
    if not isinstance(cls, type):
        raise ValueError(
            f"{task}/config.json names class {config['class']!r}, which the notebook's model cells "
            "do not define"
        )
    return cls, config["kwargs"]


def load_checkpoint(model, path: Path, task: str) -> None:
    """Strictly load a state dict saved with torch.save(model.state_dict(), path), or inside a
    training checkpoint (``{"model_state_dict": ..., "epoch": ...}``), with the ``_orig_mod.``
    prefix of ``torch.compile`` (or ``module.`` of DataParallel) removed
    (`kws.grading.protocol.checkpoint.unwrap_state`, as the grader counts its weights)."""
    import torch

    if not path.is_file():
        raise FileNotFoundError(
            _("{task}/model.pt is missing; run the notebook's saving cell").format(task=task)
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(
            f"{task}/model.pt cannot be loaded safely ({type(error).__name__}); save it with "
            "torch.save(model.state_dict(), path)"
        ) from None
    unwrapped = unwrap_state(state, lambda value: isinstance(value, torch.Tensor))
    if unwrapped is None:
        keys = f" (keys: {', '.join(map(str, list(state)[:5]))})" if isinstance(state, dict) else ""
        raise ValueError(
            f"{task}/model.pt is not a state dict{keys}; save model.state_dict(), not the model"
        )
    state = unwrapped
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{task}/model.pt does not match the model built from config.json: missing keys "
            f"{missing[:4]}, unexpected keys {unexpected[:4]}; save the model you trained"
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise ValueError(
                f"{task}/model.pt: {key} has shape {tuple(value.shape)}, the model built from "
                f"config.json expects {tuple(expected[key].shape)}; config.json and model.pt disagree"
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ValueError(f"{task}/model.pt: {key} holds NaN or infinite values")
    model.load_state_dict(state, strict=True)
