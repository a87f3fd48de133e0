"""``fit``: the training loop — AdamW, warm-up cosine schedule (or your own), validation, checkpoints, resume.

The hot loop never reads a number back from the GPU at each step: losses, correct counts and gradient
norms stay on the device and are copied to the host once every ``log_every`` steps (one sync), so the
GPU runs ahead of Python.
"""

import functools
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from kws.schedulers import get_cosine_schedule_with_warmup
from kws.training.checkpoints import (
    STATE_FILE,
    load_training_state,
    model_config_or,
    save_model,
    save_training_state,
)
from kws.training.evaluation import call_model, evaluate, to_device, unpack_batch
from kws.training.history import History
from kws.training.runtime import (
    autocast,
    get_rng_state,
    resolve_device,
    resolve_precision,
    seed_everything,
    set_rng_state,
)
from kws.training.stream import BatchStream, total_steps_of

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
            ``history.json`` and ``last.pt`` (see :mod:`kws.training.checkpoints`); ``None`` writes nothing.
        config: the dict to save as ``config.json``; default ``kws.models.model_config(model)`` for
            kit models (those with a ``.config``), else no config file.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        precision: "auto" (bf16 autocast on CUDA, fp32 elsewhere), "bf16" or "fp32".
        seed: seeds Python, NumPy and torch at the start (dropout, SpecAugment). Seed before building
            the model too (:func:`seed_everything`) to fix its initial weights.
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
        the run's :class:`History`.
    """
    if keep not in ("best", "last", "average"):
        raise ValueError(f'keep={keep!r} must be "best", "last" or "average"')
    if not 0 < average_decay < 1:
        raise ValueError(f"average_decay={average_decay} must lie strictly between 0 and 1")
    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    total_steps = total_steps_of(train_batches, steps, epochs)
    if eval_every is None:
        if epochs is not None:
            eval_every = total_steps // epochs
        else:
            eval_every = max(1, total_steps // 10)
    if eval_every < 1 or log_every < 1:
        raise ValueError(f"eval_every={eval_every} and log_every={log_every} must be at least 1")
    if lr_factor is not None and warmup_steps is not None:
        raise ValueError(
            "warmup_steps= configures the default warm-up cosine schedule; with lr_factor= the "
            "warm-up is part of your lr_factor"
        )
    if warmup_steps is None:
        warmup_steps = math.ceil(0.05 * total_steps)
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps={warmup_steps} must lie in [0, steps={total_steps}]")
    if loss_fn is not None and label_smoothing:
        raise ValueError(
            f"label_smoothing={label_smoothing} applies to the default cross-entropy only; "
            f"build the smoothing into your loss_fn"
        )
    if optimizer is not None and (lr is not None or weight_decay is not None):
        raise ValueError(
            "lr= and weight_decay= configure the default AdamW; set them on your optimizer"
        )

    seed_everything(seed)
    model.to(device)
    modules = [model]
    if isinstance(loss_fn, nn.Module):
        loss_fn.to(device)
        modules.append(loss_fn)
    if loss_fn is None:
        train_loss_fn = functools.partial(F.cross_entropy, label_smoothing=label_smoothing)
    else:
        train_loss_fn = loss_fn
    if optimizer is None:
        optimizer = build_adamw(
            modules,
            DEFAULT_LR if lr is None else lr,
            DEFAULT_WEIGHT_DECAY if weight_decay is None else weight_decay,
            device,
        )
    if lr_factor is None:
        scheduler = get_cosine_schedule_with_warmup(optimizer, warmup_steps, total_steps)
    else:
        scheduler = LambdaLR(optimizer, lambda step: float(lr_factor(step, total_steps)))
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    average = None  # the weights validated and kept: the live model, or its moving average
    if keep == "average":
        average = AveragedModel(
            model, multi_avg_fn=get_ema_multi_avg_fn(average_decay), use_buffers=True
        )
    kept = model if average is None else average.module
    train_model = torch.compile(model) if compile else model

    out_dir = Path(out_dir) if out_dir is not None else None
    saved_config = model_config_or(model, config)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    stream = BatchStream(train_batches)
    history = History()
    start_step = 0
    if resume is not None:
        state = load_training_state(resume)
        if state["total_steps"] != total_steps:
            raise ValueError(
                f"{resume} is a run of {state['total_steps']} steps, this one has {total_steps}: "
                f"resume with the same steps/epochs and batches"
            )
        model.load_state_dict(state["model"])
        if average is not None:
            if state.get("average") is None:
                raise ValueError(
                    f"{resume} holds no average of the weights: resume it with the keep= it was "
                    f'trained with, or start a new run with keep="average"'
                )
            average.load_state_dict(state["average"])
        if isinstance(loss_fn, nn.Module):
            loss_fn.load_state_dict(state["loss_fn"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = History.from_dict(state["history"])
        start_step = state["step"]
        stream.skip(start_step)
        set_rng_state(state["rng"])  # after skipping: skipping may draw random numbers itself

    def checkpoint(step: int) -> None:
        history.save(out_dir / "history.json")
        state = {
            "step": step,
            "total_steps": total_steps,
            "model": model.state_dict(),
            "average": average.state_dict() if average is not None else None,
            "loss_fn": loss_fn.state_dict() if isinstance(loss_fn, nn.Module) else None,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "history": history.to_dict(),
            "rng": get_rng_state(),
        }
        save_training_state(out_dir / STATE_FILE, state)

    bar = tqdm(
        total=total_steps, initial=start_step, disable=not progress, unit="step", dynamic_ncols=True
    )
    pending: list[torch.Tensor] = []  # per step, on the device: (loss, correct, grad norm)
    pending_meta: list[tuple[float, int]] = []  # per step, on the host: (lr, batch size)
    window_start, window_clips = time.perf_counter(), 0
    run_start = time.perf_counter()
    train_seconds_before = history.train_seconds
    model.train()
    try:
        for step in range(start_step + 1, total_steps + 1):
            x, lengths, labels = unpack_batch(stream.next())
            if labels is None:
                raise ValueError(
                    "train_batches must yield (x, lengths, labels); labels are missing"
                )
            x, lengths, labels = (to_device(t, device) for t in (x, lengths, labels))
            lr_now = scheduler.get_last_lr()[0]
            with autocast(device, precision):
                logits = call_model(train_model, x, lengths)
            loss = train_loss_fn(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip:
                grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
            else:
                grad_norm = torch.nn.utils.get_total_norm(
                    [p.grad for p in params if p.grad is not None]
                )
            optimizer.step()
            scheduler.step()
            if average is not None:
                average.update_parameters(model)
            correct = (logits.detach().argmax(dim=-1) == labels).sum()
            pending.append(torch.stack([loss.detach(), correct.float(), grad_norm.float()]))
            pending_meta.append((lr_now, labels.numel()))
            window_clips += labels.numel()
            bar.update()

            is_eval = step % eval_every == 0 or step == total_steps
            if step % log_every == 0 or is_eval:
                values = torch.stack(pending).tolist()  # the one sync of this log interval
                for (loss_v, correct_v, norm_v), (lr_v, size) in zip(
                    values, pending_meta, strict=True
                ):
                    history.loss.append(loss_v)
                    history.train_accuracy.append(correct_v / size)
                    history.grad_norm.append(norm_v)
                    history.lr.append(lr_v)
                    history.batch_size.append(size)
                pending, pending_meta = [], []
                now = time.perf_counter()
                clips_per_s = window_clips / max(now - window_start, 1e-9)
                window_start, window_clips = now, 0
                bar.set_postfix(
                    loss=f"{history.loss[-1]:.3f}",
                    acc=f"{history.train_accuracy[-1]:.3f}",
                    lr=f"{history.lr[-1]:.2e}",
                    clips_s=f"{clips_per_s:.0f}",
                    refresh=False,
                )
            if not is_eval:
                continue
            history.train_seconds = train_seconds_before + time.perf_counter() - run_start
            if valid_batches is not None:
                result = evaluate(
                    kept, valid_batches, device=device, loss_fn=loss_fn, precision=precision
                )
                history.eval_step.append(step)
                history.valid_loss.append(result["loss"])
                history.valid_accuracy.append(result["accuracy"])
                improved = (
                    history.best_valid_accuracy is None
                    or result["accuracy"] > history.best_valid_accuracy
                )
                if improved:
                    history.best_step, history.best_valid_accuracy = step, result["accuracy"]
                    if out_dir is not None and keep == "best":
                        save_model(out_dir, kept, saved_config)
                if progress:
                    bar.write(
                        f"step {step}/{total_steps}: valid loss {result['loss']:.4f}, "
                        f"valid accuracy {result['accuracy']:.4f}" + (" (best)" if improved else "")
                    )
            if (
                out_dir is not None
                and step == total_steps
                and (keep != "best" or valid_batches is None)
            ):
                save_model(out_dir, kept, saved_config)
            if out_dir is not None:
                checkpoint(step)
    finally:
        bar.close()
    if average is not None:
        model.load_state_dict(average.module.state_dict())
    return history
