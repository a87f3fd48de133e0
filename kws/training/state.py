"""What a training run changes as it trains: the weights, the optimizer, the learning-rate
schedule, the moving average of the weights and the history. Built once at the start of
[`kws.training.fit`][], written to ``last.pt`` at each validation and read back to resume.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from kws.schedulers import get_cosine_schedule_with_warmup
from kws.training.checkpoints import load_training_state
from kws.training.history import History
from kws.training.plan import RunPlan
from kws.training.runtime import get_rng_state, set_rng_state
from kws.training.stream import BatchStream

DEFAULT_LR = 1e-3
DEFAULT_WEIGHT_DECAY = 0.01


def build_adamw(
    modules: list[nn.Module], lr: float, weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and convolution kernels only.

    Biases, norm scales/shifts and other 1-D parameters are not decayed: shrinking them toward zero
    does not limit the model's capacity, it only fights the normalisation.
    """
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, fused=device.type == "cuda")


@dataclass
class TrainingState:
    """Everything one run changes, and so everything ``last.pt`` holds.

    ``loss_module`` is the loss when it is an ``nn.Module`` (its parameters train with the
    model), else None; ``average`` the moving average of the weights with ``keep="average"``,
    else None.
    """

    model: nn.Module
    loss_module: nn.Module | None
    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler
    average: AveragedModel | None
    total_steps: int
    history: History = field(default_factory=History)

    @classmethod
    def start(
        cls,
        model: nn.Module,
        plan: RunPlan,
        *,
        loss_fn: Callable | None,
        optimizer: torch.optim.Optimizer | None,
        lr: float | None,
        weight_decay: float | None,
        lr_factor: Callable[[int, int], float] | None,
        keep: str,
        average_decay: float,
        device: torch.device,
    ) -> "TrainingState":
        """Move the model (and a loss module) to `device`; build the default AdamW unless
        `optimizer` is given, the warm-up cosine schedule (or `lr_factor`'s) over the plan's
        steps, and the moving average with ``keep="average"``. Arguments as for ``fit``."""
        model.to(device)
        loss_module = loss_fn if isinstance(loss_fn, nn.Module) else None
        modules = [model]
        if loss_module is not None:
            loss_module.to(device)
            modules.append(loss_module)
        if optimizer is None:
            optimizer = build_adamw(
                modules,
                DEFAULT_LR if lr is None else lr,
                DEFAULT_WEIGHT_DECAY if weight_decay is None else weight_decay,
                device,
            )
        total = plan.total_steps
        if lr_factor is None:
            scheduler = get_cosine_schedule_with_warmup(optimizer, plan.warmup_steps, total)
        else:
            scheduler = LambdaLR(optimizer, lambda step: float(lr_factor(step, total)))
        average = None
        if keep == "average":
            average = AveragedModel(
                model, multi_avg_fn=get_ema_multi_avg_fn(average_decay), use_buffers=True
            )
        return cls(model, loss_module, optimizer, scheduler, average, total)

    @property
    def kept(self) -> nn.Module:
        """The weights validated and kept: the live model, or its moving average."""
        return self.model if self.average is None else self.average.module

    def trained_parameters(self) -> list[nn.Parameter]:
        """The parameters the optimizer updates (the model's, and the loss module's)."""
        modules = [self.model] + ([self.loss_module] if self.loss_module is not None else [])
        return [p for m in modules for p in m.parameters() if p.requires_grad]

    def to_checkpoint(self, step: int) -> dict:
        """What ``last.pt`` holds after `step`: every state above and the random-number states."""
        return {
            "step": step,
            "total_steps": self.total_steps,
            "model": self.model.state_dict(),
            "average": self.average.state_dict() if self.average is not None else None,
            "loss_fn": self.loss_module.state_dict() if self.loss_module is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": self.history.to_dict(),
            "rng": get_rng_state(),
        }

    def resume(self, resume: str | Path, stream: BatchStream) -> int:
        """Continue the run saved at `resume` (an ``out_dir`` or its ``last.pt``): load every
        state, draw and drop the batches it used from `stream`; the last step it did.

        Raises:
            ValueError: the saved run has another length, or kept no average where this one
                needs it.
        """
        state = load_training_state(resume)
        if state["total_steps"] != self.total_steps:
            raise ValueError(
                f"{resume} is a run of {state['total_steps']} steps, this one has "
                f"{self.total_steps}: resume with the same steps/epochs and batches"
            )
        self.model.load_state_dict(state["model"])
        if self.average is not None:
            if state.get("average") is None:
                raise ValueError(
                    f"{resume} holds no average of the weights: resume it with the keep= it was "
                    f'trained with, or start a new run with keep="average"'
                )
            self.average.load_state_dict(state["average"])
        if self.loss_module is not None:
            self.loss_module.load_state_dict(state["loss_fn"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history = History.from_dict(state["history"])
        stream.skip(state["step"])
        set_rng_state(state["rng"])  # after skipping: skipping may draw random numbers itself
        return state["step"]

    def finish(self) -> None:
        """With a moving average, leave it in the model (``fit`` returns the averaged model)."""
        if self.average is not None:
            self.model.load_state_dict(self.average.module.state_dict())
