"""``fit``: the training loop — AdamW, warm-up cosine schedule (or your own), validation, checkpoints, resume.

A run, step by step, each step in a module of its own:

1. the plan ([`kws.training.plan`][]): the run's length, when it validates and logs, its warm-up;
2. the state ([`kws.training.state`][]): the model on its device, the optimizer, the schedule,
   the moving average of the weights, the history — or all of them read back to resume;
3. the steps (`TrainStep`, here): forward, loss, backward, clipping, optimizer and schedule;
4. every ``log_every`` steps, the numbers into the history and onto the bar
   ([`kws.training.progress`][]): losses, correct counts and gradient norms stay on the device
   until then and come to the host in one copy (one sync), so the GPU runs ahead of Python;
5. every ``eval_every`` steps, a validation (`validate`, here) and the output folder's files
   ([`kws.training.checkpoints.RunFolder`][]): the kept weights and the resumable state.
"""

import functools
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from kws.device import resolve_device
from kws.training.checkpoints import RunFolder, model_config_or
from kws.training.evaluation import call_model, evaluate, to_device, unpack_batch
from kws.training.history import History
from kws.training.plan import check_defaults_unset, check_keep, plan_run
from kws.training.progress import ProgressLog
from kws.training.runtime import autocast, resolve_precision, seed_everything
from kws.training.state import DEFAULT_LR, DEFAULT_WEIGHT_DECAY, TrainingState, build_adamw
from kws.training.stream import BatchStream

__all__ = ["DEFAULT_LR", "DEFAULT_WEIGHT_DECAY", "TrainStep", "build_adamw", "fit", "validate"]


def fit(
    model: nn.Module,
    train_batches: Iterable,
    valid_batches: Iterable | None = None,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    warmup_steps: int | None = None,
    lr_factor: Callable[[int, int], float] | None = None,
    label_smoothing: float = 0.0,
    grad_clip: float | None = 1.0,
    eval_every: int | None = None,
    log_every: int = 50,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    out_dir: str | Path | None = None,
    config: dict | None = None,
    device: str | torch.device = "auto",
    precision: str = "auto",
    seed: int = 0,
    progress: bool = True,
    resume: str | Path | None = None,
    compile: bool = False,
    keep: str = "best",
    average_decay: float = 0.999,
) -> History:
    """Train ``model`` on ``train_batches``, validating on ``valid_batches`` every ``eval_every`` steps.

    Args:
        model: maps ``(x, lengths)`` (or ``x`` when a batch's lengths are ``None``) to logits (B, C).
            Moved to ``device``; trained in place (it holds the *last* weights afterwards, or their
            average with ``keep="average"``; the kept ones are in ``out_dir/model.pt``).
        train_batches: iterable of ``(x, lengths or None, labels)``; iterated again when it runs out.
            To resume exactly, it must give the same batches when created again with the same seed
            (the kit's iterators do): the resumed run draws and drops the batches already used.
        valid_batches: iterable of ``(x, lengths, labels)``, one pass per validation; ``None`` to skip.
        steps: the length of the run in optimizer steps; give ``steps`` or ``epochs``, not both.
        epochs: the length of the run in passes over ``train_batches`` (needs its ``len``).
        lr: peak learning rate of the default AdamW (1e-3); leave ``None`` when passing ``optimizer``.
        weight_decay: AdamW weight decay on matrices (0.01); leave ``None`` with ``optimizer``.
        warmup_steps: linear warm-up before the cosine decay; default 5 % of the steps.
        lr_factor: your own schedule instead of the warm-up cosine: step ``i`` (0-based) of a run
            of ``total`` steps uses ``lr_factor(i, total)`` x the peak learning rate. Leave
            ``warmup_steps`` at ``None`` with it.
        label_smoothing: for the default cross-entropy loss; 0 turns it off.
        grad_clip: clip the total gradient norm to this; ``None`` or 0 turns clipping off.
        eval_every: steps between validations and checkpoints; default: each epoch for a finite
            ``train_batches``, else a tenth of the run. The last step always validates.
        log_every: steps between updates of the progress bar's numbers (each one host-device sync).
        loss_fn: ``loss_fn(logits, labels) -> mean loss`` instead of cross-entropy (e.g.
            ``kws.models.AMSoftmax``); it is also the validation loss. An ``nn.Module`` loss with
            parameters is trained along with the model.
        optimizer: your own optimizer over the model's parameters; the warm-up cosine schedule is still
            applied on top of its learning rates.
        out_dir: folder for ``model.pt`` (the weights ``keep`` names), ``config.json``,
            ``history.json`` and ``last.pt`` (see [`kws.training.checkpoints`][]); ``None`` writes nothing.
        config: the dict to save as ``config.json``; default ``kws.models.model_config(model)`` for
            kit models (those with a ``.config``), else no config file.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        precision: "auto" (bf16 autocast on CUDA, fp32 elsewhere), "bf16" or "fp32".
        seed: seeds Python, NumPy and torch at the start (dropout, SpecAugment). Seed before building
            the model too (`seed_everything`) to fix its initial weights.
        progress: show a tqdm bar (steps/s, clips/s, loss, train accuracy, learning rate) and a
            line per validation; ``False`` prints nothing.
        resume: an ``out_dir`` (or its ``last.pt``) of an interrupted run with the same settings:
            continue from its last checkpoint to the same result as an uninterrupted run.
        compile: train through ``torch.compile(model)`` (validation runs the plain model).
        keep: which weights ``out_dir/model.pt`` holds: ``"best"``, those of the validation with
            the highest accuracy (the last ones when there is no validation); ``"last"``, those of
            the last step. With a small validation split (a few speakers), picking by it fits
            those speakers: the last weights can do better on new ones. ``"average"``, an
            exponential moving average of the weights over the run (and of buffers such as batch
            norm statistics): validations score it, ``model.pt`` holds it, and the model holds it
            when ``fit`` returns (``last.pt`` keeps the last step's own weights; the parameters
            of a ``loss_fn`` module are not averaged).
        average_decay: with ``keep="average"``, how much of the average each step keeps: 0.999
            averages over roughly the last 1,000 steps (``1 / (1 - decay)``).

    Returns:
        the run's `History`.
    """
    check_keep(keep, average_decay)
    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    plan = plan_run(
        train_batches,
        steps=steps,
        epochs=epochs,
        eval_every=eval_every,
        log_every=log_every,
        warmup_steps=warmup_steps,
        lr_factor=lr_factor,
    )
    check_defaults_unset(loss_fn, label_smoothing, optimizer, lr, weight_decay)

    seed_everything(seed)
    state = TrainingState.start(
        model,
        plan,
        loss_fn=loss_fn,
        optimizer=optimizer,
        lr=lr,
        weight_decay=weight_decay,
        lr_factor=lr_factor,
        keep=keep,
        average_decay=average_decay,
        device=device,
    )
    train_step = TrainStep(
        state,
        loss_fn=loss_fn,
        label_smoothing=label_smoothing,
        grad_clip=grad_clip,
        device=device,
        precision=precision,
        compile=compile,
    )
    folder = RunFolder(out_dir, keep, model_config_or(model, config))
    stream = BatchStream(train_batches)
    start_step = state.resume(resume, stream) if resume is not None else 0

    log = ProgressLog(state.history, plan.total_steps, start_step, progress)
    model.train()
    try:
        for step in range(start_step + 1, plan.total_steps + 1):
            log.add(*train_step(stream.next()))
            if plan.logs_after(step):
                log.flush()
            if not plan.validates_after(step):
                continue
            log.clock()
            if valid_batches is not None:
                result, improved = validate(
                    state, valid_batches, step, device=device, loss_fn=loss_fn, precision=precision
                )
                if improved:
                    folder.best_so_far(state.kept)
                log.validated(step, result, improved)
            if step == plan.total_steps:
                folder.last_step(state.kept, validated=valid_batches is not None)
            folder.checkpoint(state.history, functools.partial(state.to_checkpoint, step))
    finally:
        log.close()
    state.finish()
    return state.history


class TrainStep:
    """One optimizer step on one batch: the forward pass (bf16 autocast on CUDA with
    ``precision="auto"``), the loss, the backward pass, gradient clipping, the optimizer's and
    the schedule's step, the moving average's update. Arguments as for `fit`."""

    def __init__(
        self,
        state: TrainingState,
        *,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None,
        label_smoothing: float,
        grad_clip: float | None,
        device: torch.device,
        precision: str,
        compile: bool,
    ):
        self.state = state
        if loss_fn is None:
            loss_fn = functools.partial(F.cross_entropy, label_smoothing=label_smoothing)
        self.loss_fn = loss_fn
        self.params = state.trained_parameters()
        self.model = torch.compile(state.model) if compile else state.model
        self.grad_clip, self.device, self.precision = grad_clip, device, precision

    def __call__(self, batch) -> tuple[torch.Tensor, float, int]:
        """Train on `batch` = ``(x, lengths or None, labels)``.

        Returns:
            (loss, correct count, gradient norm before clipping) as one tensor (3,) left on the
            device, the learning rate the step used, and the batch size.
        """
        x, lengths, labels = unpack_batch(batch)
        if labels is None:
            raise ValueError("train_batches must yield (x, lengths, labels); labels are missing")
        x, lengths, labels = (to_device(t, self.device) for t in (x, lengths, labels))
        state = self.state
        lr = state.scheduler.get_last_lr()[0]
        with autocast(self.device, self.precision):
            logits = call_model(self.model, x, lengths)  # (B, C)
        loss = self.loss_fn(logits.float(), labels)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        else:
            grad_norm = torch.nn.utils.get_total_norm(
                [p.grad for p in self.params if p.grad is not None]
            )
        state.optimizer.step()
        state.scheduler.step()
        if state.average is not None:
            state.average.update_parameters(state.model)
        correct = (logits.detach().argmax(dim=-1) == labels).sum()
        values = torch.stack([loss.detach(), correct.float(), grad_norm.float()])  # (3,)
        return values, lr, labels.numel()


def validate(
    state: TrainingState,
    valid_batches: Iterable,
    step: int,
    *,
    device: torch.device,
    loss_fn: Callable | None,
    precision: str,
) -> tuple[dict, bool]:
    """Score the kept weights (`TrainingState.kept`) on `valid_batches` after `step` and
    record it in the run's History (the best accuracy so far and its step too).

    Returns:
        `evaluate`'s result, and whether its accuracy is the best so far.
    """
    result = evaluate(
        state.kept, valid_batches, device=device, loss_fn=loss_fn, precision=precision
    )
    history = state.history
    history.eval_step.append(step)
    history.valid_loss.append(result["loss"])
    history.valid_accuracy.append(result["accuracy"])
    improved = (
        history.best_valid_accuracy is None or result["accuracy"] > history.best_valid_accuracy
    )
    if improved:
        history.best_step, history.best_valid_accuracy = step, result["accuracy"]
    return result, improved
