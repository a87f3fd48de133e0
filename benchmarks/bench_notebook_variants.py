"""Notebook 01's own model and recipe, changed one lever at a time, cross-validated over speakers.

    python benchmarks/bench_notebook_variants.py --data ../shared/realdev --fold-list 0,1 --jobs 2 \\
        --variant base --variant no-specaugment --variant steps-4000

The ablation behind the README's real-speech rounds, as a script anyone can run again. Each run
builds the classes of the solution notebook (its cells tagged ``model``: ``twelve_class_labels``,
``silence_windows``, ``ConvTokenizer``, ``KeywordTransformer``; and its ``recipe`` cell:
``RECIPE``, ``learning_rate_factor``) on one speaker fold of ``bench_real_speech.py --folds 5``
(the same folders, written there once), makes the training set as the notebook does (its
``training`` split, the fold's validating speakers left out), trains with the kit's
``WaveAugment`` and ``fit`` without validating (``keep="last"``: the last weights are scored),
and tests on every clip of the fold's speakers: once as the grader runs the model (one pass), and
once with the probabilities averaged over the clip played at speeds 0.9, 1.0 and 1.1
(``kws.models.tta.SpeedAveraging``, which a hand-in's one-pass ``forward`` cannot use).

"base" is the notebook's model and recipe as the rounds before this one trained it (2,000 steps
of 64 clips, learning rate 2e-3, speeds 0.9-1.1, each clip at its own level, ±10 dB); every other
variant changes one thing of it (``VARIANTS`` below). "steps-4000" is the notebook as it now
trains on real speech (``[budgets.real-cpu]``). The "-average" variants keep a moving average of
the weights (``fit(..., keep="average")``) and score it and the last step's own weights of the
same run; "-all-speakers" also trains on the fold's validating speakers (a twin of the fold
folder with an empty ``validation_list.txt``, its words linked). The "pooled-stem" variants
swap the notebook's ``ConvTokenizer`` for the course CRNN's convolutions (``PooledTokenizer``),
which cost 1.8 times as much a step, and train 3,000 steps. One run takes 7-8 CPU-minutes
with one torch thread (twice that for ``steps-4000`` and ``sam``, three times for ``steps-6000``);
each run merges into ``benchmarks/results/real_speech_cv_ablation.json`` under "notebook 01
model: VARIANT" as it ends, so stopping the script keeps the runs already done.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchaudio
from holdout import find_layout, fold_roots
from real_speech_runs import CLASSES, format_summary, merge_run, side_by_side
from variant_runs import (
    fold_clips,
    job_settings,
    predictions,
    score,
    solution_names,
    training_batches,
)

from kws.models.crnn import conv_blocks, run_conv_blocks
from kws.models.pooling import SelfAttentionPooling

RESULTS = Path(__file__).resolve().parent / "results" / "real_speech_cv_ablation.json"
BASE = {"steps": 2000, "batch_size": 64, "lr": 2e-3, "speed": 0.1, "gain_db": 10.0}
# One lever each, on top of BASE. model: a kws.models preset instead of the notebook's class.
VARIANTS: dict[str, dict] = {
    "base": {},
    "no-specaugment": {"specaugment": False},
    "cepstra-20": {"cepstra": 20},  # the log-mel's spectral envelope only (its first 20 cepstra)
    "batch-32": {"batch_size": 32, "steps": 4000},  # the same clips in twice the updates
    "steps-4000": {"steps": 4000},
    "steps-6000": {"steps": 6000},
    "sam": {"sam_rho": 0.05},  # sharpness-aware minimisation: two passes a step
    "crnn-2500": {"model": "crnn_attention", "steps": 2500},  # the course's CRNN, trained longer
    # fit(keep="average"): the moving average of the weights is scored (and the last ones too)
    "steps-4000-average": {"steps": 4000, "average_decay": 0.999},
    # ... trained on the fold's validating speakers as well (the notebook validates on them)
    "steps-4000-average-all-speakers": {
        "steps": 4000,
        "average_decay": 0.999,
        "all_speakers": True,
    },
    # the course CRNN's convolutions as the tokenizer (PooledTokenizer), fewer steps: same CPU time
    "pooled-stem-3000": {"steps": 3000, "tokenizer": "pooled"},
    "pooled-stem-d128-3000": {
        "steps": 3000,
        "tokenizer": "pooled",
        "sizes": {"d_model": 128, "nhead": 4, "dim_feedforward": 256},
    },
    # three times as many other-word clips as _unknown_ (0.3 x the keyword clips, not 0.1)
    "steps-4000-unknown-0.3": {"steps": 4000, "unknown_fraction": 0.3},
    # the kit's Conformer (SMALL["kws_transformer"]'s model) with the notebook's data and recipe
    "conformer-4000": {"model": "kws_conformer", "steps": 4000},
    # the course CRNN trained first (2,500 steps, as crnn-2500), then notebook 01's model 4,000
    # steps on half the usual loss and half the CRNN's probabilities at temperature 2
    "distil-crnn-4000": {
        "steps": 4000,
        "teacher": {"model": "crnn_attention", "steps": 2500, "weight": 0.5, "temperature": 2.0},
    },
    # the CRNN's attention pooling over the encoder's outputs in place of the CLS output
    "attention-pool-4000": {"steps": 4000, "readout": "attention"},
}


class Cepstra(torch.nn.Module):
    """A front-end's log-mels kept to their first ``n`` cepstra (DCT-II over the mel axis, then
    back): the spectral envelope without the pitch harmonics that the narrow low mel bins resolve.
    (B, T, F) -> (B, T, F)."""

    def __init__(self, frontend: torch.nn.Module, n: int):
        super().__init__()
        self.frontend = frontend
        dct = torchaudio.functional.create_dct(n, frontend.n_mels, norm="ortho")  # (F, n), as MFCC
        self.register_buffer("smooth", dct @ dct.T)  # (F, F)

    def num_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        return self.frontend.num_frames(num_samples)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        return self.frontend(waves) @ self.smooth  # (B, T, F)


class PooledTokenizer(torch.nn.Module):
    """The course CRNN's convolutions as a tokenizer: 3 x [Conv2d 3x3 + BatchNorm + SiLU] with
    MaxPool2d(2) after the first two (channels 32/64/128; ``kws.models.crnn``'s blocks), each
    time step's 128 x n_mels / 4 values projected to ``d_model``.
    (B, T, F), (B,) -> (B, T // 4, D), (B,)."""

    def __init__(
        self, n_mels: int = 40, d_model: int = 64, channels: tuple[int, ...] = (32, 64, 128)
    ):
        super().__init__()
        self.blocks = conv_blocks(channels)
        self.pool = torch.nn.MaxPool2d(2)
        self.proj = torch.nn.Linear(channels[-1] * (n_mels // 4), d_model)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor):
        x, lengths = run_conv_blocks(self.blocks, self.pool, features.unsqueeze(1), lengths)
        B, C, N, F = x.shape  # (B, C, T // 4, F // 4)
        return self.proj(x.permute(0, 2, 1, 3).reshape(B, N, C * F)), lengths


class AttentionReadout(torch.nn.Module):
    """Notebook 01's encoder followed by the course CRNN's attention pooling over each clip's
    outputs (CLS and tokens, padding left out), put where the model reads its CLS output
    (position 0), so that the notebook's ``forward`` classifies the pooled vector instead.
    (B, 1 + N, D), padding mask (B, 1 + N) -> (B, 1 + N, D)."""

    def __init__(self, encoder: torch.nn.Module, d_model: int):
        super().__init__()
        self.encoder = encoder
        self.pool = SelfAttentionPooling(d_model)

    def forward(self, h: torch.Tensor, src_key_padding_mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(h, src_key_padding_mask=src_key_padding_mask)  # (B, 1 + N, D)
        pooled = self.pool(h, (~src_key_padding_mask).sum(1))  # (B, D); padding is at the end
        return torch.cat([pooled[:, None], h[:, 1:]], dim=1)


class Distilled(torch.nn.Module):
    """A student trained on a fixed teacher's probabilities: in training, each batch the student
    sees also goes through the teacher (eval mode, no gradient), whose logits ``loss`` then
    reads. The teacher's weights are frozen, so ``fit``'s optimizer leaves them alone."""

    def __init__(self, student: torch.nn.Module, teacher: torch.nn.Module):
        super().__init__()
        self.student, self.teacher = student, teacher.eval().requires_grad_(False)
        self.teacher_logits: torch.Tensor | None = None

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()  # its BatchNorm statistics and dropout stay as trained
        return self

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                self.teacher_logits = self.teacher(waves, lengths)  # (B, C)
        return self.student(waves, lengths)  # (B, C)

    def loss(self, smoothing: float, weight: float, temperature: float):
        """``loss_fn`` for ``fit``: (1 - weight) x cross-entropy with label smoothing + weight x
        T² x KL(teacher || student), both at temperature T."""

        def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            hard = F.cross_entropy(logits, labels, label_smoothing=smoothing)
            soft = F.kl_div(
                F.log_softmax(logits / temperature, -1),
                F.log_softmax(self.teacher_logits / temperature, -1),
                log_target=True,
                reduction="batchmean",
            )
            return (1 - weight) * hard + weight * temperature**2 * soft

        return loss_fn


def without_validation_list(root: Path) -> Path:
    """A twin of the fold folder ``root`` whose training split holds every speaker: its words
    linked, its ``validation_list.txt`` empty."""
    twin = root.with_name(root.name + "-all-speakers")
    src, dst = root / "speech_commands_v0.02", twin / "speech_commands_v0.02"
    dst.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        if entry.name == "validation_list.txt":
            (dst / entry.name).write_text("")
        elif not (dst / entry.name).exists():
            (dst / entry.name).symlink_to(entry.resolve())
    return twin


def sam_step(model, loss_of, optimizer, rho: float) -> torch.Tensor:
    """One sharpness-aware step: the gradient taken at the weights moved by ``rho`` along the
    normalised gradient, applied to the weights as they were (then AdamW steps on it)."""
    loss = loss_of()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])) + 1e-12
    with torch.no_grad():
        moves = [rho * p.grad / norm for p in params]
        for p, move in zip(params, moves, strict=True):
            p.add_(move)
    optimizer.zero_grad(set_to_none=True)
    loss_of().backward()
    with torch.no_grad():
        for p, move in zip(params, moves, strict=True):
            p.sub_(move)
    return loss


def run(job: dict) -> dict:
    """Train one variant on one fold and score it on the fold's test folder."""
    from kws.models import build_model
    from kws.models.tta import SpeedAveraging
    from kws.training import fit, seed_everything
    from kws.training.checkpoints import load_training_state
    from kws.training.loop import build_adamw

    torch.set_num_threads(job["threads"])
    cpu, start = time.process_time(), time.perf_counter()
    settings = job_settings(job, BASE, VARIANTS)
    seed = job["seed"]
    nb = solution_names(LR=settings["lr"])
    root = without_validation_list(job["root"]) if settings.get("all_speakers") else job["root"]
    train, test, noises = fold_clips(
        root, job["root"], nb, seed, settings.get("unknown_fraction", 0.1)
    )

    seed_everything(seed)
    if "model" in settings:
        model = build_model(settings["model"], n_classes=len(CLASSES), **settings.get("sizes", {}))
    else:
        if settings.get("tokenizer") == "pooled":  # KeywordTransformer builds nb's ConvTokenizer
            nb["ConvTokenizer"] = PooledTokenizer
        model = nb["KeywordTransformer"](n_classes=len(CLASSES), **settings.get("sizes", {}))
        if not settings.get("specaugment", True):
            model.specaugment = torch.nn.Identity()
        if "cepstra" in settings:
            model.frontend = Cepstra(model.frontend, settings["cepstra"])
        if settings.get("readout") == "attention":
            model.encoder = AttentionReadout(model.encoder, model.norm.normalized_shape[0])
    batches = training_batches(train, noises, settings, seed)
    recipe = nb["RECIPE"]
    averaged = "average_decay" in settings  # score the average and the last weights of one run
    teacher_accuracy = None
    if settings.get("sam_rho"):
        optimizer = build_adamw([model], recipe["lr"], recipe["weight_decay"], torch.device("cpu"))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: nb["learning_rate_factor"](step, settings["steps"])
        )
        stream, loss_fn = batches.forever(), torch.nn.CrossEntropyLoss(label_smoothing=0.1)
        model.train()
        for _ in range(settings["steps"]):
            x, _, y = next(stream)
            sam_step(model, lambda x=x, y=y: loss_fn(model(x), y), optimizer, settings["sam_rho"])
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
    else:
        loss_fn, smoothing = None, recipe["label_smoothing"]
        if "teacher" in settings:  # train the teacher first, on the same clips and recipe
            spec = settings["teacher"]
            teacher = build_model(spec["model"], n_classes=len(CLASSES))
            fit(
                teacher, batches, None, steps=job.get("steps") or spec["steps"], lr=recipe["lr"],
                weight_decay=recipe["weight_decay"], label_smoothing=smoothing,
                lr_factor=nb["learning_rate_factor"], device="cpu", seed=seed, progress=False,
                keep="last",
            )  # fmt: skip
            teacher_accuracy = (predictions(teacher, test) == test.labels).float().mean().item()
            model = Distilled(model, teacher)
            loss_fn = model.loss(smoothing, spec["weight"], spec["temperature"])
            smoothing = 0.0  # inside loss_fn
        with tempfile.TemporaryDirectory() as out:
            fit(
                model, batches, None, steps=settings["steps"], lr=recipe["lr"],
                weight_decay=recipe["weight_decay"], label_smoothing=smoothing, loss_fn=loss_fn,
                lr_factor=nb["learning_rate_factor"], device="cpu", seed=seed, progress=False,
                keep="average" if averaged else "last",
                average_decay=settings.get("average_decay", 0.999),
                out_dir=out if averaged else None,  # last.pt: the last weights beside the average
            )  # fmt: skip
            if averaged:  # the last step's own weights, to compare with their average
                last = copy.deepcopy(model)
                last.load_state_dict(load_training_state(out)["model"])
        if isinstance(model, Distilled):  # the student alone is scored
            model = model.student

    readouts = {"one_pass": model, "speeds": SpeedAveraging(model)}
    if averaged:
        readouts |= {"last_one_pass": last, "last_speeds": SpeedAveraging(last)}
    accuracy, per_class = score(readouts, test)
    return {
        "row": f"notebook 01 model: {job['variant']}",
        "fold": job["fold"],
        "seed": seed,
        "settings": settings,
        "test_accuracy": accuracy["one_pass"],
        "test_accuracy_speeds": accuracy["speeds"],
        "test_accuracy_last": accuracy.get("last_one_pass"),
        "test_accuracy_last_speeds": accuracy.get("last_speeds"),
        "test_accuracy_teacher": teacher_accuracy,
        "test_per_class": per_class,
        "n": len(test),
        "train_clips": len(train),  # words kept, _unknown_ clips drawn and _silence_ windows
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": settings["steps"],
        "batch_size": settings["batch_size"],
        "total_cpu_seconds": round(time.process_time() - cpu, 1),
        "total_wall_seconds": round(time.perf_counter() - start, 1),
        "threads": job["threads"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="real Speech Commands folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kws-real-speech"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--fold-list", default="0,1", help="folds to run, e.g. 0,1,2")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (1 thread each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of one run")
    parser.add_argument("--steps", type=int, help="every variant this many steps (a quick look)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    folds = [int(i) for i in args.fold_list.split(",")]
    if any(not 0 <= i < args.folds for i in folds):
        raise SystemExit(f"--fold-list {args.fold_list}: folds are 0 to {args.folds - 1}")

    threads = 1 if args.jobs > 1 else args.threads
    work = args.work.resolve()
    layout = find_layout(args.data.resolve(), work)
    jobs = []
    for i, root in fold_roots(layout, work, args.folds, folds, args.seed):
        jobs += [
            dict(variant=v, fold=i, root=root, seed=args.seed, threads=threads, steps=args.steps)
            for v in args.variant
        ]
    print(f"{len(jobs)} runs, {args.jobs} at a time", flush=True)
    summaries = {}
    for r in side_by_side(run, jobs, args.jobs):  # each saved as it ends: a stopped run keeps them
        print(
            f"{r['row']:<40} fold {r['fold']}: {100 * r['test_accuracy']:.1f} % one pass, "
            f"{100 * r['test_accuracy_speeds']:.1f} % speeds averaged, {r['total_cpu_seconds']:.0f} CPU-s"
            + (
                f" (last weights: {100 * r['test_accuracy_last']:.1f} % one pass, "
                f"{100 * r['test_accuracy_last_speeds']:.1f} % speeds averaged)"
                if r["test_accuracy_last"] is not None
                else ""
            ),
            flush=True,
        )
        summaries[r["row"]] = merge_run(args.out, r, args.folds)
    print("\nOne pass (as graded), mean over the runs so far:")
    print(format_summary(summaries))
    print("Speeds averaged at test time: " + ", ".join(
        f"{row} {100 * s['speeds_mean']:.1f} %" for row, s in summaries.items() if s.get("speeds_mean")
    ))  # fmt: skip
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
