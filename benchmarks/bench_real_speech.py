"""The reference keyword models on real speech: train on some speakers, test on others.

    python benchmarks/bench_real_speech.py --data ../shared/realdev --folds 5 --notebook --jobs 2
    python benchmarks/bench_real_speech.py --data ../shared/realdev              # one hold-out
    python benchmarks/bench_real_speech.py --data DATA --synthetic SYNTH_ROOT   # + transfer row
    python benchmarks/bench_real_speech.py --data DATA --test-set TEST12_FOLDER # a given test set

``--data`` is any folder in the Speech Commands layout (``speech_commands_v0.02/`` inside it, or the
folder itself; WAV or FLAC clips; or a folder holding one ``.tar`` of that layout, which is
extracted). The benchmark writes working copies under ``--work``:

- ``--folds K`` (cross-validation, how figures are reported): the speakers are dealt into K groups
  of about equal clip counts (``holdout.py``); fold i tests on every clip of group i, written
  as a 12-class test-set folder (``_unknown_`` = the other words, ``_silence_`` = windows of the
  last ``_background_noise_`` recording, which training never sees), and trains on the other
  speakers (a seeded 10 % of them validating). Every speaker is tested exactly once. ``--fold-list``
  runs some folds only (3 of 5 for an ablation); ``--jobs N`` runs N folds side by side, one torch
  thread each. ``--notebook`` adds notebook 01's reference solution (``--notebook 03``: notebook
  03's, ``--notebook 01 03`` both), executed on each fold's folder with the settings of
  ``[budgets.real-cpu]`` in its assignment's ``spec.toml`` (``--set KWS_X=V`` changes one), as a
  student runs it.
- without ``--folds``: one hold-out, the speakers of the data's ``validation_list.txt``.
- with ``--test-set``: the given 12-class folder is the test set and every clip of ``--data`` trains.

Each recipe runs through ``kws.recipes.run.run_recipe`` (the kit's data path and ``fit``). Tables
give accuracy per class and CPU seconds (the honest cost on a shared machine); results are merged
into ``--out`` (JSON, one entry per row; cross-validated rows hold every fold and the summary),
and with ``--folds`` (to the default ``--out``) the rows' summaries are published into the kit's
``kws/figures.json`` (``figures.py``), which ``kws demo``, notebook 01 and the docs quote.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch
from benchlib import KIT_FIGURES, publish
from holdout import (
    TEST_FOLDER,
    find_layout,
    fold_roots,
    noise_recordings,
    prepare_split,
    speaker_counts,
    speaker_sample,
    word_clips,
    write_training_folder,
)
from real_speech_runs import (
    NOTEBOOKS,
    format_rows,
    format_summary,
    merge_run,
    real_speech_section,
    run_notebook_row,
    run_recipe_row,
    side_by_side,
)

from kws.data.speech_commands import speaker_of
from kws.recipes import SMALL, Recipe
from kws.spec import ASSIGNMENTS

RESULTS = Path(__file__).resolve().parent / "results"

# The recipes as they were tuned on the synthetic twin, kept to measure against.
SYNTHETIC_TUNED = {
    "kwt_tiny_synthetic_recipe": Recipe(
        name="kwt_tiny_synthetic_recipe",
        task="kws",
        model="kwt_tiny",
        overrides={"n_mfcc": None, "n_mels": 40, "n_fft": 400, "time_width": 10},
        steps=1500,
        batch_size=64,
        lr=3e-3,
        warmup_steps=100,
        label_smoothing=0.1,
        eval_every=300,
        unknown_fraction=0.25,
    ),
}
RECIPES = {**SMALL, **SYNTHETIC_TUNED}


def holdout_speakers(layout: Path, seed: int) -> tuple[set[str], str]:
    """The speakers of the data's validation_list.txt, else a seeded 10 % of them."""
    listed = layout / "validation_list.txt"
    names = listed.read_text().split() if listed.is_file() else []
    if names:
        return {speaker_of(n) for n in names}, f"the speakers of {listed}"
    speakers = set(speaker_counts(word_clips(layout)))
    return speaker_sample(speakers, 0.1, seed), f"a seeded 10 % of the speakers (seed {seed})"


def prepare_all(layout: Path, work: Path, seed: int) -> Path:
    """Every clip of the layout as WAV (for --test-set), a seeded 10 % of speakers validating."""
    root = work / "all"
    if not (root / "done").is_file():
        words = word_clips(layout)
        write_training_folder(
            words, set(speaker_counts(words)), noise_recordings(layout),
            root / "speech_commands_v0.02", seed,
        )  # fmt: skip
        (root / "done").write_text("all")
    return root


def _job(job: dict) -> dict:
    """One run (in a worker process when --jobs > 1): a recipe or the notebook on one split."""
    torch.set_num_threads(job["threads"])
    if job["kind"] == "notebook":
        result = run_notebook_row(
            job["root"], job["out"], job["settings"], job["threads"], NOTEBOOKS[job["notebook"]]
        )
    else:
        recipe = RECIPES[job["recipe"]]
        recipe = recipe if job["scale"] == 1 else recipe.scaled(job["scale"])
        if job["batch_size"]:
            recipe = replace(recipe, batch_size=job["batch_size"])
        result = run_recipe_row(
            recipe, job["root"], job["test_set"], job["out"], job["seed"], job["resume"]
        )
        result.pop("out_dir", None)
    result.update(row=job["row"], fold=job["fold"])
    return result


def _notebook_settings(notebook: str, overrides: list[str]) -> dict[str, str]:
    """The notebook's ``[budgets.real-cpu]``, with ``--set`` over it."""
    spec = next(s for s in ASSIGNMENTS.values() if s.notebook == NOTEBOOKS[notebook].name)
    settings = spec.budget("real-cpu")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("KWS_"):
            raise SystemExit(f"--set {item!r}: write KWS_NAME=VALUE, e.g. --set KWS_STEPS=3000")
        settings[key] = value
    return settings


def _fold_list(text: str | None, folds: int) -> list[int]:
    """``--fold-list 0,2`` as fold indices, each checked against ``--folds``."""
    if not text:
        return list(range(folds))
    try:
        chosen = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        message = f"--fold-list {text!r}: give fold numbers separated by commas, e.g. 0,1,2"
        raise SystemExit(message) from None
    wrong = [i for i in chosen if not 0 <= i < folds]
    if wrong or not chosen:
        raise SystemExit(
            f"--fold-list {text!r}: folds are numbered 0 to {folds - 1} with --folds {folds}"
        )
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="real Speech Commands folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kws-real-speech"))
    parser.add_argument("--folds", type=int, help="speaker-grouped K-fold cross-validation")
    parser.add_argument("--fold-list", help="run only these folds, e.g. 0,1,2")
    parser.add_argument("--test-set", type=Path, help="a 12-class test-set folder to test on")
    parser.add_argument("--synthetic", type=Path, help="also train on this synthetic data root")
    parser.add_argument(
        "--recipes",
        nargs="*",
        default=["kws_transformer", "crnn_attention"],
        help=f"rows from {', '.join(RECIPES)} (none: only --notebook / --synthetic rows)",
    )
    parser.add_argument(
        "--notebook",
        nargs="*",
        choices=list(NOTEBOOKS),
        help="add these reference notebooks, executed as a student runs them (alone: 01)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KWS_X=V", help="a notebook setting"
    )
    parser.add_argument("--label", help="name of the notebook row (default: notebook NN)")
    parser.add_argument("--synthetic-recipe", default="kws_transformer_twin")
    parser.add_argument("--scale", type=float, default=1.0, help="steps x this (quick looks)")
    parser.add_argument("--batch-size", type=int, help="every recipe's batch (quick looks)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of one run")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (1 thread each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue interrupted recipe rows")
    parser.add_argument("--out", type=Path, help="JSON results to merge into")
    parser.add_argument(
        "--figures",
        type=Path,
        help="figures file to publish the cross-validated rows into (default: the kit's "
        "kws/figures.json when --out is not given; none otherwise)",
    )
    args = parser.parse_args(argv)
    for name in args.recipes:
        if name not in RECIPES or RECIPES[name].task != "kws":
            raise SystemExit(f"unknown KWS recipe {name!r}; choose from {', '.join(RECIPES)}")
    if args.fold_list and not args.folds:
        raise SystemExit("--fold-list picks folds of --folds K; give --folds too")
    chosen = _fold_list(args.fold_list, args.folds) if args.folds else []
    threads = 1 if args.jobs > 1 else args.threads
    work = args.work.resolve()
    layout = find_layout(args.data.resolve(), work)

    # The splits: (fold index or None, data root, test folder).
    if args.folds:
        roots = fold_roots(layout, work, args.folds, chosen, args.seed)
        splits = [(i, root, root / TEST_FOLDER) for i, root in roots]
    elif args.test_set:
        splits = [(None, prepare_all(layout, work, args.seed), args.test_set.resolve())]
    else:
        speakers, how = holdout_speakers(layout, args.seed)
        root = prepare_split(layout, work / "holdout", speakers, args.seed, how)
        splits = [(None, root, root / TEST_FOLDER)]

    jobs = []
    for fold, root, test_set in splits:
        tag = "holdout" if fold is None else f"fold{fold}"
        for name in args.recipes:
            jobs.append(dict(kind="recipe", recipe=name, row=f"{name} (real)", root=root))
        for notebook in ["01"] if args.notebook == [] else args.notebook or []:
            label = args.label or f"notebook {notebook}"
            settings = _notebook_settings(notebook, args.set)
            jobs.append(
                dict(kind="notebook", notebook=notebook, row=label, settings=settings, root=root)
            )
        if args.synthetic:
            jobs.append(
                dict(kind="recipe", recipe=args.synthetic_recipe, root=args.synthetic.resolve(),
                     row=f"{args.synthetic_recipe} (synthetic -> real)")
            )  # fmt: skip
        for job in jobs:
            if "fold" not in job:
                slug = (
                    job["row"].replace(" ", "_").replace(">", "").replace("(", "").replace(")", "")
                )
                job.update(
                    fold=fold, test_set=test_set, out=work / "runs" / tag / slug, seed=args.seed,
                    threads=threads, scale=args.scale, batch_size=args.batch_size,
                    resume=args.resume,
                )  # fmt: skip
    print(f"{len(jobs)} runs on {len(splits)} split(s), {args.jobs} at a time", flush=True)

    out = args.out or RESULTS / ("real_speech_cv.json" if args.folds else "real_speech.json")
    figures = args.figures or (KIT_FIGURES if args.folds and args.out is None else None)
    results, summaries = [], {}
    for result in side_by_side(_job, jobs, args.jobs):  # each merged into --out as it ends
        results.append(result)
        print(format_rows([result]), flush=True)
        summary = merge_result(out, result, args.folds)
        if summary is not None:
            summaries[result["row"]] = summary
            if figures is not None:  # what the kit quotes follows every merged fold
                publish("real_speech", real_speech_section(out), figures)

    print("\n" + format_rows(results))
    if summaries:
        print(f"\nCross-validated over speakers ({args.folds} folds; folds run so far):")
        print(format_summary(summaries))
    print(
        f"\nCPU s: the run with its validations and child processes, {threads} torch thread(s) "
        "a run; on a shared machine CPU s is the honest cost"
    )
    print(
        f"saved {out}" + (f"; published its rows into {figures}" if figures and summaries else "")
    )
    return 0


def merge_result(out: Path, result: dict, folds: int | None) -> dict | None:
    """Merge one run into the JSON file ``out`` as it ends: a cross-validated run into its row's
    folds (returning the row's summary so far), a hold-out run as its row."""
    if folds:
        return merge_run(out, result, folds)
    saved = json.loads(out.read_text()) if out.is_file() else {}
    saved[result["row"]] = result
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(saved, indent=1) + "\n")
    return None


if __name__ == "__main__":
    sys.exit(main())
