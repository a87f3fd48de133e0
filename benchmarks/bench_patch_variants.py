"""A patch Transformer on real speech, one lever at a time, cross-validated over speakers.

    python benchmarks/bench_patch_variants.py --data ../shared/realdev --fold-list 0,1 --jobs 2 \\
        --variant strips --variant squares-patchout

The measurements behind ``benchmarks/patch_transformer.md``. Each run trains a
``benchmarks/patch_models.py`` model (``PatchKWT``) with notebook 01's data and recipe, exactly
as ``bench_notebook_variants.py`` trains notebook 01's own model: the same speaker folds and
folders, the notebook's training clips (its ``twelve_class_labels`` and ``silence_windows``),
the kit's ``WaveAugment`` (speeds 0.9-1.1, levels ±10 dB, noise), ``fit`` with the notebook's
``RECIPE`` and ``learning_rate_factor`` and the last weights, scored on every clip of the fold's
speakers, one pass and with speeds averaged (``SpeedAveraging``). The fold's test clips are also
scored every eighth of the run (``fit``'s validation, nothing chosen by it): the learning curve.

``VARIANTS`` below: ``BASE`` and the model settings each one changes. A variant with a
``teacher`` first trains the course's CRNN (``crnn_attention``) on the same clips and recipe,
once per fold (kept in the fold's folder as ``teacher-*.pt`` and reused), then the student with
a distillation token against the CRNN's hard labels (``HardDistillation``, DeiT); the run records
the teacher's accuracy and each head's. Every run records its CPU seconds (one torch thread),
its training CPU seconds and steps per CPU second, and merges into
``benchmarks/results/real_speech_patch.json`` under "patch: VARIANT" as it ends.
``--speed VARIANT`` times training steps of that variant's model with and without its patchout
instead (CPU seconds per step on the same batches, alternating).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from holdout import find_layout, fold_roots
from patch_models import HardDistillation, PatchKWT
from real_speech_runs import CLASSES, format_summary, merge_run, side_by_side
from variant_runs import (
    fold_clips,
    job_settings,
    predictions,
    score,
    solution_names,
    training_batches,
)

RESULTS = Path(__file__).resolve().parent / "results" / "real_speech_patch.json"
BASE = {"steps": 4000, "batch_size": 64, "lr": 2e-3, "speed": 0.1, "gain_db": 10.0}
# PatchKWT's settings of the base model; a variant's "model" changes some of them.
STRIPS = {"patch_size": (40, 3), "stride": (40, 2), "d_model": 96, "nhead": 4}
SQUARES = {"patch_size": (10, 10), "stride": (5, 5), "d_model": 96, "nhead": 4}
TEACHER = {"model": "crnn_attention", "steps": 2500}
# notebook 03's teacher in its real-cpu budget: the CRNN trained 1,000 steps (about 480 CPU-s)
NOTEBOOK_TEACHER = {"model": "crnn_attention", "steps": 1000}
NOTEBOOK_03 = Path(__file__).resolve().parents[1] / "solutions" / "03_patch_transformer.ipynb"
VARIANTS: dict[str, dict] = {
    # Round 1, fold 0, 1,500 steps: what makes a patch Transformer train at all.
    # the kit's patch_transformer preset (64 mels, 16 x 16 patches every 10, d 192) as it is
    "preset": {"preset": "patch_transformer", "steps": 1500},
    # full-height strips (40 x 3 every 2 frames: 1 x 50 patches) of the log-mels as they are
    "strips-1500": {"model": STRIPS, "steps": 1500},
    # ... scaled to about zero mean and unit variance first
    "strips-1500-normalised": {"model": {**STRIPS, "normalise": True}, "steps": 1500},
    "strips-1500-lr-1e-3": {"model": STRIPS, "steps": 1500, "lr": 1e-3},
    "strips-1500-lr-4e-3": {"model": STRIPS, "steps": 1500, "lr": 4e-3},
    # 10 of the 50 time columns dropped in training
    "strips-1500-patchout": {"model": {**STRIPS, "patchout": (10, 0)}, "steps": 1500},
    # the preset's 16 x 16 patches every 10 frames on 40 mels (every 12 bins): 3 x 9 patches
    "squares16-1500": {
        "model": {**SQUARES, "patch_size": (16, 16), "stride": (12, 10)},
        "steps": 1500,
    },
    # squares with overlap (10 x 10 every 5: 7 x 19 patches), patchout of 6 columns and 2 rows
    "squares-1500-patchout": {"model": {**SQUARES, "patchout": (6, 2)}, "steps": 1500},
    "squares-1500-patchout-grid-positions": {
        "model": {**SQUARES, "patchout": (6, 2), "positions": "grid"},
        "steps": 1500,
    },
    # Round 2, 4,000 steps: strips with 10 of their 50 time columns dropped in training, without
    # patchout, and with a distillation token taught by the course's CRNN (hard labels, DeiT)
    "strips-patchout": {"model": {**STRIPS, "patchout": (10, 0)}},
    "strips": {"model": STRIPS},
    "strips-patchout-distilled": {"model": {**STRIPS, "patchout": (10, 0)}, "teacher": TEACHER},
    # the teacher alone: trained (once per fold, kept for the distilled runs) and scored
    "teacher": {"teacher_only": TEACHER},
    # Round 3, 4,000 steps: notebook 03's own classes (its solution's `model` cells) with its
    # settings: strips, 10 time columns dropped, a distillation token taught by the CRNN
    "notebook": {
        "notebook": True,
        "model": {**STRIPS, "patchout": (10, 0)},
        "teacher": NOTEBOOK_TEACHER,
    },
    "notebook-no-teacher": {"notebook": True, "model": {**STRIPS, "patchout": (10, 0)}},
    "notebook-no-teacher-no-patchout": {"notebook": True, "model": STRIPS},
}


def teacher_for(root: Path, spec: dict, batches, nb: dict, seed: int, test) -> tuple:
    """The fold's teacher (``spec``: a ``kws.models`` preset and its steps), trained on
    ``batches`` with the notebook's recipe once and kept in ``root``; with its test accuracy."""
    from kws.models import build_model
    from kws.training import fit, seed_everything

    path = root / f"teacher-{spec['model']}-{spec['steps']}-seed{seed}.pt"
    seed_everything(seed)
    teacher = build_model(spec["model"], n_classes=len(CLASSES))
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        teacher.load_state_dict(saved["model"])
        return teacher.eval(), saved["test_accuracy"], 0.0
    cpu = time.process_time()
    recipe = nb["RECIPE"]
    fit(
        teacher, batches, None, steps=spec["steps"], lr=recipe["lr"],
        weight_decay=recipe["weight_decay"], label_smoothing=recipe["label_smoothing"],
        lr_factor=nb["learning_rate_factor"], device="cpu", seed=seed, progress=False,
        keep="last",
    )  # fmt: skip
    accuracy = (predictions(teacher, test) == test.labels).float().mean().item()
    partial = path.with_suffix(".partial")
    torch.save({"model": teacher.state_dict(), "test_accuracy": accuracy}, partial)
    partial.replace(path)  # whole or absent: a run side by side never reads half a file
    return teacher.eval(), accuracy, round(time.process_time() - cpu, 1)


class Head(torch.nn.Module):
    """One head of a distilled PatchKWT read alone: ``which`` 0 (CLS) or 1 (distillation)."""

    def __init__(self, model: PatchKWT, which: int):
        super().__init__()
        self.model, self.which = model, which

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.heads(waves, lengths)[self.which]


def build(settings: dict, seed: int) -> torch.nn.Module:
    """The variant's model: a kit preset, or PatchKWT with the variant's settings."""
    from kws.models import build_model
    from kws.training import seed_everything

    seed_everything(seed)
    if "preset" in settings:
        return build_model(settings["preset"], n_classes=len(CLASSES))
    if settings.get("notebook"):  # the classes notebook 03's solution defines
        model = solution_names(NOTEBOOK_03, ("model",))["PatchKWT"](
            n_classes=len(CLASSES), distillation="teacher" in settings, **settings["model"]
        )
        model.patchout.generator = torch.Generator().manual_seed(seed)
        return model
    model = PatchKWT(
        n_classes=len(CLASSES), distillation="teacher" in settings, **settings.get("model", {})
    )
    model.generator = torch.Generator().manual_seed(seed)  # which rows and columns patchout drops
    return model


def learning_curve(history) -> list[dict]:
    """Each validation of a run: its step, the test accuracy then (nothing is chosen by it) and
    the mean training accuracy of the steps since the validation before."""
    curve, previous = [], 0
    for step, valid in zip(history.eval_step, history.valid_accuracy, strict=True):
        window = history.train_accuracy[previous:step]
        curve.append(
            {
                "step": step,
                "test_accuracy": round(valid, 4),
                "train_accuracy": round(sum(window) / len(window), 4),
            }
        )
        previous = step
    return curve


def teacher_row(job: dict, settings: dict, batches, nb: dict, test, train_clips: int, cpu, start):
    """The "teacher" variant's run: the fold's teacher trained (or the saved one read back) and
    scored as the students are."""
    from kws.models.tta import SpeedAveraging

    spec = settings["teacher_only"]
    spec = spec if not job.get("steps") else {**spec, "steps": job["steps"]}
    teacher, _, teacher_cpu = teacher_for(job["root"], spec, batches, nb, job["seed"], test)
    accuracy, per_class = score({"one_pass": teacher, "speeds": SpeedAveraging(teacher)}, test)
    return {
        "row": f"patch: {job['variant']}",
        "fold": job["fold"],
        "seed": job["seed"],
        "settings": settings,
        "test_accuracy": accuracy["one_pass"],
        "test_accuracy_speeds": accuracy["speeds"],
        "test_accuracy_teacher": None,
        "test_per_class": per_class,
        "n": len(test),
        "train_clips": train_clips,
        "parameters": sum(p.numel() for p in teacher.parameters()),
        "steps": spec["steps"],
        "batch_size": settings["batch_size"],
        "curve": [],
        "train_cpu_seconds": teacher_cpu,  # 0 when the fold's saved teacher was read back
        "total_cpu_seconds": round(time.process_time() - cpu, 1),
        "total_wall_seconds": round(time.perf_counter() - start, 1),
        "threads": job["threads"],
    }


def run(job: dict) -> dict:
    """Train one variant on one fold and score it on the fold's speakers."""
    from kws.data.batches import ClipBatches
    from kws.models.tta import SpeedAveraging
    from kws.training import fit

    torch.set_num_threads(job["threads"])
    cpu, start = time.process_time(), time.perf_counter()
    settings = job_settings(job, BASE, VARIANTS)
    seed = job["seed"]
    nb = solution_names(LR=settings["lr"])
    train, test, noises = fold_clips(job["root"], job["root"], nb, seed, 0.1)
    batches = training_batches(train, noises, settings, seed)
    recipe = nb["RECIPE"]
    if "teacher_only" in settings:
        return teacher_row(job, settings, batches, nb, test, len(train), cpu, start)
    model = build(settings, seed)
    trained, loss_fn, smoothing = model, None, recipe["label_smoothing"]
    teacher_accuracy = teacher_cpu = None
    if "teacher" in settings:
        spec = settings["teacher"] if not job.get("steps") else {**TEACHER, "steps": job["steps"]}
        teacher, teacher_accuracy, teacher_cpu = teacher_for(
            job["root"], spec, batches, nb, seed, test
        )
        trained = HardDistillation(model, teacher)
        loss_fn, smoothing = trained.loss(smoothing), 0.0  # the smoothing is inside loss_fn
    fit_cpu = time.process_time()
    history = fit(
        trained, batches, ClipBatches(test, 256, shuffle=False), steps=settings["steps"],
        lr=recipe["lr"], weight_decay=recipe["weight_decay"], label_smoothing=smoothing,
        loss_fn=loss_fn, lr_factor=nb["learning_rate_factor"], device="cpu", seed=seed,
        progress=False, keep="last", eval_every=max(1, settings["steps"] // 8),
    )  # fmt: skip
    fit_cpu = time.process_time() - fit_cpu

    readouts = {"one_pass": model, "speeds": SpeedAveraging(model)}
    if "teacher" in settings:
        readouts |= {"cls_head": Head(model, 0), "dist_head": Head(model, 1)}
    accuracy, per_class = score(readouts, test)
    return {
        "row": f"patch: {job['variant']}",
        "fold": job["fold"],
        "seed": seed,
        "settings": settings,
        "test_accuracy": accuracy["one_pass"],
        "test_accuracy_speeds": accuracy["speeds"],
        "test_accuracy_cls_head": accuracy.get("cls_head"),
        "test_accuracy_dist_head": accuracy.get("dist_head"),
        "test_accuracy_teacher": teacher_accuracy,
        "teacher_cpu_seconds": teacher_cpu,  # 0 when the fold's saved teacher was reused
        "test_per_class": per_class,
        "n": len(test),
        "train_clips": len(train),
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": settings["steps"],
        "batch_size": settings["batch_size"],
        "curve": learning_curve(history),
        "train_cpu_seconds": round(fit_cpu, 1),
        "steps_per_cpu_second": round(settings["steps"] / fit_cpu, 3),
        "total_cpu_seconds": round(time.process_time() - cpu - (teacher_cpu or 0.0), 1),
        "total_wall_seconds": round(time.perf_counter() - start, 1),
        "threads": job["threads"],
    }


def time_patchout(variant: str, root: Path, seed: int, steps: int, blocks: int = 4) -> dict:
    """CPU seconds per training step of ``variant``'s model with its patchout and without it
    (the same model and batches; ``blocks`` alternating blocks of ``steps`` steps each)."""
    from kws.data import WaveAugment
    from kws.data.batches import ClipBatches
    from kws.training.loop import build_adamw

    settings = {**BASE, **VARIANTS[variant]}
    nb = solution_names(LR=settings["lr"])
    train, _, noises = fold_clips(root, root, nb, seed, 0.1)
    augment = WaveAugment(noises, speed=settings["speed"], gain_db=settings["gain_db"])
    stream = ClipBatches(train, settings["batch_size"], seed=seed, augment=augment).forever()
    batches = [next(stream) for _ in range(steps)]  # augmented once: only the model is timed
    model = build(settings, seed).train()
    optimizer = build_adamw([model], settings["lr"], 0.01, torch.device("cpu"))
    patchout, seconds = model.patchout, {"with": 0.0, "without": 0.0}
    # notebook 03's patch-out is a module (StructuredPatchout(k_t, k_f)), this module's a pair
    none = type(patchout)(0, 0) if isinstance(patchout, torch.nn.Module) else (0, 0)
    for block in range(2 * blocks + 1):  # the first block warms up and is not counted
        which = "with" if block % 2 else "without"
        model.patchout = patchout if which == "with" else none
        cpu = time.process_time()
        for x, lengths, labels in batches:
            loss = torch.nn.functional.cross_entropy(model(x, lengths), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if block:
            seconds[which] += time.process_time() - cpu
    per_step = {which: s / (blocks * steps) for which, s in seconds.items()}
    return {
        "variant": variant,
        "patchout": settings["model"]["patchout"],
        "grid": list(model.patches(torch.zeros(1, 101, 40)).shape[1:3]),
        "cpu_seconds_per_step_with": round(per_step["with"], 4),
        "cpu_seconds_per_step_without": round(per_step["without"], 4),
        "speed_up": round(per_step["without"] / per_step["with"], 2),
        "steps_timed_each": blocks * steps,
        "batch_size": settings["batch_size"],
        "threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="real Speech Commands folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kws-real-speech"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--fold-list", default="0,1", help="folds to run, e.g. 0,1,2")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), default=[])
    parser.add_argument("--speed", choices=list(VARIANTS), help="time patchout instead of training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (1 thread each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of one run")
    parser.add_argument("--steps", type=int, help="every variant this many steps (a quick look)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    folds = [int(i) for i in args.fold_list.split(",")]
    if any(not 0 <= i < args.folds for i in folds):
        raise SystemExit(f"--fold-list {args.fold_list}: folds are 0 to {args.folds - 1}")
    if not args.variant and not args.speed:
        raise SystemExit("name one --variant or more to train, or --speed VARIANT to time")
    work = args.work.resolve()
    roots = fold_roots(find_layout(args.data.resolve(), work), work, args.folds, folds, args.seed)

    if args.speed:
        torch.set_num_threads(args.threads)
        if not any(VARIANTS[args.speed].get("model", {}).get("patchout", (0, 0))):
            raise SystemExit(f"--speed {args.speed}: that variant has no patchout to time")
        timing = time_patchout(args.speed, roots[0][1], args.seed, args.steps or 25)
        print(
            f"{args.speed}: {timing['cpu_seconds_per_step_without']:.3f} CPU-s a step without "
            f"patchout, {timing['cpu_seconds_per_step_with']:.3f} with {tuple(timing['patchout'])}"
            f" (time columns, frequency rows) of a {timing['grid']} grid: "
            f"{timing['speed_up']:.2f} times as many steps per CPU-second",
            flush=True,
        )
        saved = json.loads(args.out.read_text()) if args.out.is_file() else {}
        saved[f"patchout speed: {args.speed}"] = timing
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(saved, indent=1) + "\n")
        print(f"saved {args.out}")
        return 0

    threads = 1 if args.jobs > 1 else args.threads
    jobs = [
        dict(variant=v, fold=i, root=root, seed=args.seed, threads=threads, steps=args.steps)
        for i, root in roots
        for v in args.variant
    ]
    print(f"{len(jobs)} runs, {args.jobs} at a time", flush=True)
    summaries = {}
    for r in side_by_side(run, jobs, args.jobs):  # each saved as it ends
        if not r["curve"]:  # the teacher alone
            print(
                f"{r['row']:<40} fold {r['fold']}: {100 * r['test_accuracy']:.1f} % one pass, "
                f"{100 * r['test_accuracy_speeds']:.1f} % speeds averaged, "
                f"{r['total_cpu_seconds']:.0f} CPU-s",
                flush=True,
            )
            summaries[r["row"]] = merge_run(args.out, r, args.folds)
            continue
        curve = ", ".join(f"{p['step']}: {100 * p['test_accuracy']:.1f}" for p in r["curve"])
        print(
            f"{r['row']:<40} fold {r['fold']}: {100 * r['test_accuracy']:.1f} % one pass, "
            f"{100 * r['test_accuracy_speeds']:.1f} % speeds averaged, {r['parameters']:,} "
            f"parameters, {r['steps_per_cpu_second']:.2f} steps/CPU-s, "
            f"{r['total_cpu_seconds']:.0f} CPU-s; curve {curve}; training accuracy at the end "
            f"{100 * r['curve'][-1]['train_accuracy']:.1f} %"
            + (
                f"; teacher {100 * r['test_accuracy_teacher']:.1f} %, CLS head "
                f"{100 * r['test_accuracy_cls_head']:.1f} %, distillation head "
                f"{100 * r['test_accuracy_dist_head']:.1f} %"
                if r["test_accuracy_teacher"] is not None
                else ""
            ),
            flush=True,
        )
        summaries[r["row"]] = merge_run(args.out, r, args.folds)
    print("\nOne pass (as graded), mean over the runs so far:")
    print(format_summary(summaries))
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
