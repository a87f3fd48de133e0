"""One training run of the real-speech benchmark, and the cross-validated summary of many.

- :func:`run_recipe_row`: a ``kws.recipes`` recipe through ``kws.recipes.run.run_recipe``;
- :func:`run_notebook_row`: notebook 01's or 03's reference solution executed as a student runs
  it (``KWS_*`` settings, ``KWS_DATA_DIR`` the fold's folder), scored from the
  ``predictions.csv`` it writes for the fold's 12-class test folder; its other models' accuracies
  (01's CRNN baseline, 03's CRNN teacher) come from the notebook's summary file;
- :func:`summarize`: mean and spread over folds, overall and per class; :func:`merge_run` adds a
  fold's run to its row of a results file as the run ends;
- :func:`format_rows` / :func:`format_summary`: the tables the benchmark prints;
- :func:`real_speech_section`: the rows' summaries as the kit's figures file keeps them (its
  ``real_speech`` section, which ``bench_real_speech.py --folds`` and ``figures.py`` publish).

Every run reports its CPU seconds (threads and child processes included): on a shared machine
they, not the wall time, are the honest cost.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

from kws.data.labels_csv import read_labels_csv
from kws.data.speech_commands import SILENCE, UNKNOWN
from kws.recipes import Recipe
from kws.recipes.run import run_recipe

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
NOTEBOOK_01 = SOLUTIONS / "01_keyword_spotting.ipynb"
NOTEBOOKS = {"01": NOTEBOOK_01, "03": SOLUTIONS / "03_patch_transformer.ipynb"}
CLASSES = [SILENCE, UNKNOWN, "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
REAL_SPEECH_CV = Path(__file__).resolve().parent / "results" / "real_speech_cv.json"
REAL_SPEECH_PATCH = Path(__file__).resolve().parent / "results" / "real_speech_patch.json"
# Rows of the patch Transformer's results the kit quotes, under the name it quotes them by.
# (Notebook 03 as executed, its teacher's outputs stored, is the row "notebook 03" of
# results/real_speech_cv.json: bench_real_speech.py --notebook 03.)
PATCH_ROWS = {"patch: notebook": "notebook 03, teacher in the loop"}
REAL_SPEECH_COMMAND = (
    "python benchmarks/bench_real_speech.py --data DEV --folds 5 --notebook "
    "--recipes kws_transformer crnn_attention --jobs 2"
)
REAL_SPEECH_CONDITIONS = (
    "Real Speech Commands v0.02 clips, cross-validated over 5 speaker folds: each fold trains on "
    "the other folds' speakers and tests on every clip of its own, so every speaker is tested "
    "once. One torch thread a run, two runs side by side on a 2-core machine."
)
# What a cross-validated row keeps in the figures file: its summary, not every fold's record.
SUMMARY_KEYS = (
    "mean", "sd", "k", "total_folds", "test_clips", "per_class_mean", "per_class_sd",
    "cpu_seconds_mean", "crnn_mean", "crnn_sd",
)  # fmt: skip
# Settings every fold of a row shares, when it does (the notebook's runs record no model).
FOLD_KEYS = ("recipe", "model", "parameters", "steps", "batch_size", "threads")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_recipe_row(
    recipe: Recipe, data_root: Path, test_set: Path, out: Path, seed: int, resume: bool = False
) -> dict:
    """Train ``recipe`` on ``data_root`` and test it on the 12-class folder ``test_set``."""
    cpu, start = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    results = run_recipe(
        recipe, data_root, out, device="cpu", seed=seed, test_set=test_set, resume=resume
    )
    results["total_wall_seconds"] = round(time.perf_counter() - start, 1)
    results["total_cpu_seconds"] = round(_cpu(resource.RUSAGE_SELF) - cpu, 1)
    results["steps_per_second"] = round(results["steps"] / max(results["train_seconds"], 1e-9), 2)
    results["batch_size"] = recipe.batch_size
    results["threads"] = torch.get_num_threads()
    return results


def score_predictions(predictions_csv: Path, test_set: Path) -> dict:
    """Accuracy, overall and per class, of an ``Id,Category`` file for a 12-class test folder
    (each Id is ``CLASS/FILE.wav``; the folder is the truth)."""
    guesses = read_labels_csv(predictions_csv)
    truth = {
        f"{path.parent.name}/{path.name}": path.parent.name
        for path in sorted(test_set.glob("*/*.wav"))
    }
    missing = sorted(set(truth) - set(guesses))
    if missing:
        raise ValueError(
            f"{predictions_csv} has no prediction for {len(missing)} clips, e.g. {missing[0]}"
        )
    per_class = {}
    for name in CLASSES:
        ids = [i for i, label in truth.items() if label == name]
        per_class[name] = sum(guesses[i] == name for i in ids) / len(ids) if ids else None
    correct = sum(guesses[i] == label for i, label in truth.items())
    return {"test_accuracy": correct / len(truth), "test_per_class": per_class, "n": len(truth)}


def run_notebook_row(
    fold_root: Path, out: Path, settings: dict[str, str], threads: int, notebook: Path = NOTEBOOK_01
) -> dict:
    """Execute ``notebook`` (01's or 03's reference) with ``KWS_DATA_DIR=fold_root`` and
    ``settings`` (``KWS_*``), and score the predictions its graded model wrote for
    ``fold_root/speech_commands_test_set_v0.02``; the other models' accuracies come from the
    notebook's summary file (notebook 01's CRNN baseline, notebook 03's CRNN teacher)."""
    from kws.notebooks import execute_notebook
    from kws.spec import ASSIGNMENTS

    spec = next(spec for spec in ASSIGNMENTS.values() if spec.notebook == notebook.name)
    task = next(iter(spec.model_tasks))  # the graded model's outputs folder
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **settings,
        "KWS_DATA_DIR": str(fold_root),
        "KWS_OUT_DIR": str(out / "outputs"),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "MPLBACKEND": "Agg",
    }
    cpu, start = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    execute_notebook(notebook, env=env, timeout=4 * 3600, save_to=out / notebook.name)
    wall = time.perf_counter() - start
    results = score_predictions(
        out / "outputs" / task / "predictions.csv",
        fold_root / "speech_commands_test_set_v0.02",
    )
    history = json.loads((out / "outputs" / task / "history.json").read_text())
    summary = json.loads((out / "outputs" / f"{spec.name}_summary.json").read_text())
    results.update(
        recipe=f"notebook {notebook.name[:2]}",
        steps=int(settings.get("KWS_STEPS", 0)) or len(history.get("lr", [])),
        batch_size=int(settings.get("KWS_BATCH_SIZE", 0)),
        best_step=history.get("best_step"),
        crnn_test_accuracy=summary.get("CRNN baseline"),
        test_accuracy_teacher=summary.get("CRNN teacher"),
        notebook_summary=summary,
        total_wall_seconds=round(wall, 1),
        total_cpu_seconds=round(_cpu(resource.RUSAGE_CHILDREN) - cpu, 1),
        threads=threads,
        settings=settings,
    )
    return results


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(folds: list[dict]) -> dict:
    """Mean and standard deviation over ``folds`` (one result dict each) of the test accuracy,
    each class's accuracy, and the CPU and wall seconds; plus the pooled accuracy (every test
    clip of every fold counted once), and for a recipe scored with test-time averaging over
    speeds, its models' one-pass accuracy (``one_pass_mean``, ``one_pass_sd``)."""
    accuracy, sd = _mean_sd([f["test_accuracy"] for f in folds])
    per_class = {}
    for name in CLASSES:
        values = [
            f["test_per_class"][name] for f in folds if f["test_per_class"].get(name) is not None
        ]
        per_class[name] = _mean_sd(values) if values else (None, None)
    clips = [f.get("n") for f in folds]
    pooled = sum(f["test_accuracy"] * f["n"] for f in folds) / sum(clips) if all(clips) else None
    summary = {
        "k": len(folds),
        "mean": accuracy,
        "sd": sd,
        "pooled": pooled,
        "test_clips": sum(clips) if all(clips) else None,
        "per_class_mean": {name: m for name, (m, _) in per_class.items()},
        "per_class_sd": {name: s for name, (_, s) in per_class.items()},
        "cpu_seconds_mean": statistics.fmean(f["total_cpu_seconds"] for f in folds),
        "wall_seconds_mean": statistics.fmean(f["total_wall_seconds"] for f in folds),
    }
    crnn = [f["crnn_test_accuracy"] for f in folds if f.get("crnn_test_accuracy") is not None]
    if crnn:
        summary["crnn_mean"], summary["crnn_sd"] = _mean_sd(crnn)
    # a recipe scored with test-time averaging over speeds also reports one pass of its model
    one_pass = [f.get("test_accuracy_one_pass") for f in folds]
    if all(a is not None for a in one_pass) and one_pass != [f["test_accuracy"] for f in folds]:
        summary["one_pass_mean"], summary["one_pass_sd"] = _mean_sd(one_pass)
    # the variants script also scores each run with speeds averaged at test time
    speeds = [f["test_accuracy_speeds"] for f in folds if f.get("test_accuracy_speeds") is not None]
    if speeds:
        summary["speeds_mean"] = statistics.fmean(speeds)
    return summary


def side_by_side(run, jobs: list[dict], workers: int):
    """``run(job)`` for each of ``jobs``, ``workers`` at a time in worker processes (each job
    sets its own torch threads), yielding each result as it ends."""
    if workers == 1:
        yield from map(run, jobs)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield from (done.result() for done in as_completed([pool.submit(run, j) for j in jobs]))


def merge_run(out: Path, result: dict, total_folds: int) -> dict:
    """Add one fold's run to its row of the results file ``out`` (replacing the row's run of the
    same fold and seed; the row's other fields, such as a ``note``, are kept), write the file,
    and return the row's summary over all of its runs. Called as each run ends, so that a
    stopped benchmark keeps the runs already done."""
    saved = json.loads(out.read_text()) if out.is_file() else {}
    row = result["row"]
    runs = {(f["fold"], f.get("seed", 0)): f for f in saved.get(row, {}).get("folds", [])}
    runs[(result["fold"], result.get("seed", 0))] = result
    folds = [runs[key] for key in sorted(runs)]
    summary = summarize(folds)
    saved[row] = {**saved.get(row, {}), "folds": folds, **summary, "total_folds": total_folds}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(saved, indent=1) + "\n")
    return summary


SHORT = {SILENCE: "sil", UNKNOWN: "unk"}
CLASS_HEADER = " ".join(f"{SHORT.get(c, c):>5}" for c in CLASSES)


def _class_columns(accuracy: dict[str, float | None]) -> str:
    """Each class's accuracy in percent, in CLASSES order ("n/a" for a class with no clips)."""
    return " ".join(
        "  n/a" if accuracy[c] is None else f"{100 * accuracy[c]:5.1f}" for c in CLASSES
    )


def format_rows(rows: list[dict]) -> str:
    """One line per run: accuracy per class, steps and times."""
    header = f"{'run':<40} {'test':>6} {CLASS_HEADER}"
    header += f" {'steps':>10} {'wall s':>7} {'CPU s':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        per_class = _class_columns(r["test_per_class"])
        lines.append(
            f"{r['row']:<40} {100 * r['test_accuracy']:5.1f}% {per_class} "
            f"{r['steps']:>5}x{r['batch_size']:<4} {r['total_wall_seconds']:>7.0f} "
            f"{r['total_cpu_seconds']:>7.0f}"
        )
    return "\n".join(lines)


def format_summary(summaries: dict[str, dict]) -> str:
    """One line per row: the mean ± sd over folds, each class's mean, mean CPU seconds a fold."""
    header = f"{'row':<40} {'mean ± sd':>13} {CLASS_HEADER}"
    header += f" {'folds':>5} {'CPU s':>6}"
    lines = [header, "-" * len(header)]
    for name, s in summaries.items():
        per_class = _class_columns(s["per_class_mean"])
        lines.append(
            f"{name:<40} {100 * s['mean']:5.1f} ± {100 * s['sd']:3.1f}% {per_class} "
            f"{s['k']:>5} {s['cpu_seconds_mean']:>6.0f}"
        )
        if "crnn_mean" in s:
            lines.append(
                f"{'  its CRNN baseline':<40} {100 * s['crnn_mean']:5.1f} ± {100 * s['crnn_sd']:3.1f}%"
            )
        if "one_pass_mean" in s:
            label = "  the same models, one pass (no speeds)"
            lines.append(
                f"{label:<40} {100 * s['one_pass_mean']:5.1f} ± {100 * s['one_pass_sd']:3.1f}%"
            )
    return "\n".join(lines)


def row_summary(row: dict) -> dict:
    """A cross-validated results row (with its ``folds``) as the figures file keeps it: the
    summary, the settings its folds share, and the range of CPU seconds a fold."""
    summary = {key: row[key] for key in SUMMARY_KEYS if row.get(key) is not None}
    folds = row.get("folds", [])
    for key in FOLD_KEYS:
        values = {json.dumps(fold.get(key)) for fold in folds}
        if len(values) == 1 and folds[0].get(key) is not None:
            summary[key] = folds[0][key]
    seconds = [fold["total_cpu_seconds"] for fold in folds if "total_cpu_seconds" in fold]
    if seconds:
        summary["cpu_seconds_min"], summary["cpu_seconds_max"] = min(seconds), max(seconds)
        summary.setdefault("cpu_seconds_mean", round(statistics.fmean(seconds), 1))
    teachers = [f for f in folds if f.get("test_accuracy_teacher") is not None]
    if teachers:  # a distilled row: its teacher's accuracy and training cost, per fold
        accuracy = [f["test_accuracy_teacher"] for f in teachers]
        summary["teacher_mean"] = statistics.fmean(accuracy)
        summary["teacher_sd"] = statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0
        cost = [f["teacher_cpu_seconds"] for f in teachers if f.get("teacher_cpu_seconds")]
        if cost:
            summary["teacher_cpu_seconds_mean"] = round(statistics.fmean(cost), 1)
    summary["folds_run"] = [fold["fold"] for fold in folds]
    return summary


def real_speech_section(
    results: str | Path = REAL_SPEECH_CV, patch_results: str | Path | None = REAL_SPEECH_PATCH
) -> dict:
    """The ``real_speech`` section: every cross-validated row of ``results``, summarised, and
    the rows of ``patch_results`` named in ``PATCH_ROWS`` (``bench_patch_variants.py``), under
    their short names."""
    rows = json.loads(Path(results).read_text(encoding="utf-8"))
    summaries = {name: row_summary(row) for name, row in rows.items() if "folds" in row}
    if patch_results is not None and Path(patch_results).is_file():
        patch = json.loads(Path(patch_results).read_text(encoding="utf-8"))
        for name, short in PATCH_ROWS.items():
            if "folds" in patch.get(name, {}):
                summaries[short] = row_summary(patch[name])
    return {
        "command": REAL_SPEECH_COMMAND,
        "conditions": REAL_SPEECH_CONDITIONS,
        "synthetic": False,
        "rows": summaries,
    }
