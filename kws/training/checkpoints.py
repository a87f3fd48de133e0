"""Files a training run writes into its output folder, and reading them back.

``out_dir/model.pt``      state dict of the best model (by validation accuracy; the last model when
                          there is no validation set, or with ``fit(..., keep="last")``; the moving
                          average of the weights with ``keep="average"``), tensors on the CPU,
                          loadable with ``torch.load``.
``out_dir/config.json``   how to rebuild the model: ``kws.models.model_config(model)`` for kit models,
                          or the dict the caller passed (e.g. a notebook's ``{"task", "class", "kwargs"}``).
``out_dir/history.json``  the [`kws.training.History`][] so far.
``out_dir/last.pt``       the full training state (model, optimizer, scheduler, step, random-number
                          states, history, batch-iterator state) that ``fit(..., resume=...)`` continues from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from kws.training.history import History

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
STATE_FILE = "last.pt"


def _atomic_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary name, then rename: a crash never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def cpu_state_dict(model: nn.Module) -> dict:
    """A copy of the model's state dict with every tensor on the CPU."""
    return {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}


def model_config_or(model: nn.Module, config: dict | None) -> dict | None:
    """The JSON config to save beside the weights: the caller's, else the kit model's own, else None."""
    if config is not None:
        json.dumps(config)  # fail now, not after an hour of training, if it is not JSON-able
        return config
    if hasattr(model, "config"):
        from kws.models import model_config

        return model_config(model)
    return None


def save_model(out_dir: Path, model: nn.Module, config: dict | None) -> None:
    """Write ``model.pt`` (and ``config.json`` when a config is known) into ``out_dir``."""
    _atomic_save(cpu_state_dict(model), out_dir / MODEL_FILE)
    if config is not None:
        (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1))


def save_training_state(path: Path, state: dict) -> None:
    """Write the resumable training state (see [`kws.training.fit`][]) to ``path`` atomically."""
    _atomic_save(state, path)


class RunFolder:
    """The output folder of one [`kws.training.fit`][] run and when each file is written;
    ``out_dir=None`` writes nothing.

    ``model.pt`` (with ``config.json``) holds the weights ``keep`` names: with ``"best"``, those
    of each validation that beats the ones before; else (and with no validation at all) those
    after the last step. ``history.json`` and ``last.pt`` are written after every validation.
    """

    def __init__(self, out_dir: str | Path | None, keep: str, config: dict | None):
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.keep, self.config = keep, config
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)

    def best_so_far(self, kept: nn.Module) -> None:
        """A validation scored `kept` better than every one before it."""
        if self.out_dir is not None and self.keep == "best":
            save_model(self.out_dir, kept, self.config)

    def last_step(self, kept: nn.Module, validated: bool) -> None:
        """The run's last step is done (`validated`: the run had validation data)."""
        if self.out_dir is not None and (self.keep != "best" or not validated):
            save_model(self.out_dir, kept, self.config)

    def checkpoint(self, history: History, training_state: Callable[[], dict]) -> None:
        """``history.json`` and ``last.pt``: the run's `history` and `training_state()` (what
        ``TrainingState.to_checkpoint`` gives, built only when there is a folder to write)."""
        if self.out_dir is not None:
            history.save(self.out_dir / HISTORY_FILE)
            save_training_state(self.out_dir / STATE_FILE, training_state())


def load_training_state(resume: str | Path) -> dict:
    """Read a training state written by `save_training_state`.

    Args:
        resume: the ``last.pt`` file, or the output folder that holds it.

    Raises:
        FileNotFoundError: neither ``resume`` nor ``resume/last.pt`` is a file.
    """
    path = Path(resume)
    if path.is_dir():
        path = path / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no training state at {path}; resume= takes the out_dir of an earlier fit() or its "
            f"{STATE_FILE}"
        )
    # The state holds NumPy and Python RNG states next to tensors, hence weights_only=False:
    # only resume from files you wrote yourself.
    return torch.load(path, map_location="cpu", weights_only=False)


def load_model(out_dir: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a kit model from ``out_dir/config.json`` and load ``out_dir/model.pt`` into it.

    Returns:
        the model in eval mode on ``device``.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the config was not written by ``kws.models.model_config`` (e.g. a notebook's
            ``{"task", "class", "kwargs"}``: build that class yourself and load ``model.pt``).
    """
    from kws.models import from_config

    out_dir = Path(out_dir)
    for name in (CONFIG_FILE, MODEL_FILE):
        if not (out_dir / name).is_file():
            raise FileNotFoundError(f"{out_dir / name} is missing; fit(..., out_dir=...) writes it")
    config = json.loads((out_dir / CONFIG_FILE).read_text())
    if "class" in config and "kwargs" in config:
        raise ValueError(
            f"{out_dir / CONFIG_FILE} describes a notebook class {config['class']!r}; build "
            f"{config['class']}(**kwargs) yourself and load_state_dict(torch.load('{MODEL_FILE}'))"
        )
    model = from_config(config)
    state = torch.load(out_dir / MODEL_FILE, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()
