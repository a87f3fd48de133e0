"""Publish measured figures into the kit's one figures file, ``kws/figures.json``.

``kws demo``, notebook 01 and the documentation site quote their measurements from that file
(package data, read by ``kws.figures``). The benchmark scripts write their own section of it with
``publish``, and nothing else writes it:

- ``bench_real_speech.py --folds K`` (with its default ``--out``): ``real_speech``, the summary
  of each cross-validated row of ``results/real_speech_cv.json``, after every fold it merges;
- ``bench_demo.py --publish``: ``demo``;
- ``bench_suite.py --publish``: ``suite`` (``suite_full`` with ``--full``);
- ``bench_grading_memory.py --publish``: ``grading``;
- ``bench_report.py --publish``: ``report``;
- ``bench_private_variant.py --publish``: ``private_variant``;
- ``bench_speaker_private.py --publish``: ``speaker_private``;
- ``bench_handin.py --publish``: ``handin``;
- ``bench_tiers.py --publish``: ``tiers``;
- ``gpu_check.py --publish SUMMARY``: ``gpu``;
- ``bench_rehearsal.py --publish``: ``rehearsal``.

    python benchmarks/figures.py    # publish the real-speech rows of results/ again

A test run of a benchmark writes to a figures file of its own (``--figures FILE``), never to the
kit's. A section of times records the machine's reference time under ``machine``
(``benchmarks/machine.py``: ``reference_time``), so that figures from two machines compare.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
from pathlib import Path

KIT_FIGURES = Path(__file__).resolve().parents[1] / "kws" / "figures.json"
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


def measured_at() -> dict:
    """The kit's commit (``git rev-parse HEAD``) and today's date, recorded with every section.

    Returns:
        ``{"commit": ..., "measured": "YYYY-MM-DD"}``.
    """
    kit = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=kit, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(
            f"benchmarks/figures.py: {kit} is not a git checkout ({done.stderr.strip()}); a "
            "published figure records the commit it was measured at, so run it from a clone"
        )
    return {"commit": done.stdout.strip(), "measured": datetime.date.today().isoformat()}


def publish(name: str, values: dict, figures: str | Path = KIT_FIGURES) -> Path:
    """Write ``values`` as section ``name`` of ``figures`` (the other sections kept), atomically,
    with the commit and the date it was measured at (``commit``, ``measured``: `measured_at`),
    unless ``values`` records them itself.

    Args:
        name: the section, e.g. ``grading``.
        values: the section's figures.
        figures: the figures file (the kit's by default; a test passes its own).

    Returns:
        the figures file.
    """
    figures = Path(figures)
    saved = json.loads(figures.read_text(encoding="utf-8")) if figures.is_file() else {}
    saved[name] = {**measured_at(), **values}  # a commit the benchmark recorded itself stays
    figures.parent.mkdir(parents=True, exist_ok=True)
    partial = figures.with_name(figures.name + ".partial")
    partial.write_text(json.dumps(saved, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(figures)
    return figures


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=REAL_SPEECH_CV)
    parser.add_argument("--patch-results", type=Path, default=REAL_SPEECH_PATCH)
    parser.add_argument("--figures", type=Path, default=KIT_FIGURES)
    args = parser.parse_args(argv)
    written = publish(
        "real_speech", real_speech_section(args.results, args.patch_results), args.figures
    )
    print(f"published the real-speech rows of {args.results} into {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
