"""The private variant of a public test set, measured on real speech over 5 speaker folds.

    python benchmarks/bench_private_variant.py --data ../shared/realdev            # lookups
    python benchmarks/bench_private_variant.py --data ../shared/realdev \\
        --models /work/cache/real-speech                                           # + models

For each fold of ``bench_real_speech.py --folds 5`` (the same speakers, the same folders under
``--work``), the fold's 12-class test folder gets its private variant (``kws private``, with a
fixed benchmark secret and the fold's training noises), then:

- **the lookup**: a table of the public clips' mean log-mel spectra (40 mels) -> label, the
  answer table a student could carry in a checkpoint. Its hit rate is its label accuracy on the
  variant's clips (the nearest public entry's label); beside it the same table keyed on the
  gain-normalised spectrum (each clip's mean removed), the same searching mel-bin shifts of up
  to 3 either way (to undo a speed and pitch change), the same again on a noise-robust
  spectrum (a floor 30 dB below the clip's loudest bin, so that added noise does not fill the
  quiet bins), how often the nearest entry is the
  clip's own source, and the "honest" rate of such a table on clips it does not hold (each
  public clip looked up among the others): what a lookup earns without the answers.
- **the models** (``--models``: the ``--work`` of a ``bench_real_speech.py --notebook`` run):
  each fold's trained reference hand-in (``runs/foldI/notebook_01``, and ``notebook_03`` where
  one was trained) graded by the kit's grader (``pytest grader/``) on the fold's data with its
  private folder: the accuracy on the private variant (graded) and on the public clips, from
  the grader's own output. Folds without a trained hand-in are left out (and say so).

Results go to ``--out`` (``results/private_variant.json``) and, with ``--publish``, to the
``private_variant`` section of ``kws/figures.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch
import torchaudio
from benchlib import ROOT, add_publish_options, figures_target, publish, run_step
from holdout import TEST_FOLDER, find_layout, fold_roots

from kws.data.audio import audio_files, read_audio
from kws.data.private_variant import MARKER, PRIVATE_SUFFIX, make_private_test

RESULTS = Path(__file__).resolve().parent / "results"
HANDINS = {"notebook_01": "keyword_spotting", "notebook_03": "patch_transformer"}  # runs/foldI/*
CONDITIONS = (
    "Real Speech Commands v0.02 clips (../shared/realdev), the 5 speaker folds of "
    "bench_real_speech.py: each fold's 12-class test folder and its private variant "
    "(kws private, a fixed benchmark secret, the fold's training noises). Lookup: nearest "
    "public clip by mean log-mel (40 mels). Models: the trained reference hand-ins graded by "
    "pytest grader/ with the private folder in --data, one torch thread."
)
SECRET = "benchmark-secret-0123456789abcdef"  # fixed, so that the figures can be re-measured
MEL = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=40)


def fingerprints(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every clip of a 12-class folder: its mean log-mel (N, 40), its label (N,), its name."""
    rows, labels, names = [], [], []
    for label, cls in enumerate(sorted(p.name for p in folder.iterdir() if p.is_dir())):
        for path in audio_files(folder / cls):
            wave = torch.from_numpy(read_audio(path))
            rows.append(torch.log(MEL(wave) + 1e-6).mean(dim=1).numpy())  # (40,)
            labels.append(label)
            names.append(f"{cls}/{path.name}")
    return np.stack(rows), np.asarray(labels), names


def nearest(table: np.ndarray, queries: np.ndarray, leave_out_self: bool = False) -> np.ndarray:
    """Index of the nearest row of `table` (N, F) to each query (M, F), Euclidean."""
    d = (queries**2).sum(1)[:, None] - 2 * queries @ table.T + (table**2).sum(1)[None]  # (M, N)
    if leave_out_self:
        np.fill_diagonal(d, np.inf)
    return d.argmin(1)


def robust_fingerprints(folder: Path) -> np.ndarray:
    """Every clip's mean log-mel with a floor 30 dB below its loudest bin (N, 40), in the order
    of `fingerprints`: added noise no longer fills the quiet bins' logarithms."""
    rows = []
    for cls in sorted(p.name for p in folder.iterdir() if p.is_dir()):
        for path in audio_files(folder / cls):
            mel = MEL(torch.from_numpy(read_audio(path)))  # (40, T)
            rows.append(torch.log(mel + 1e-3 * mel.max()).mean(dim=1).numpy())
    return np.stack(rows)


def nearest_shifted(table: np.ndarray, queries: np.ndarray, most: int = 3) -> np.ndarray:
    """`nearest` on gain-normalised rows, each query also tried moved by up to `most` mel bins
    either way (edge bins repeated): a lookup that searches for a speed (pitch) change."""
    table = table - table.mean(1, keepdims=True)
    best = np.full((len(queries), len(table)), np.inf)
    for step in range(-most, most + 1):
        moved = np.roll(queries, step, axis=1)
        if step > 0:
            moved[:, :step] = queries[:, :1]
        elif step < 0:
            moved[:, step:] = queries[:, -1:]
        moved = moved - moved.mean(1, keepdims=True)
        d = (moved**2).sum(1)[:, None] - 2 * moved @ table.T + (table**2).sum(1)[None]
        best = np.minimum(best, d)
    return best.argmin(1)


def lookup_rates(public: Path, private: Path) -> dict:
    """The lookup's figures on one fold (the module's docstring)."""
    table, labels, names = fingerprints(public)
    queries, query_labels, query_names = fingerprints(private)
    source = {
        hashlib.sha256(f"{SECRET}\0name\0{n}".encode()).hexdigest()[:20]: i
        for i, n in enumerate(names)
    }
    own = np.asarray([source[Path(n).stem] for n in query_names])
    robust = nearest_shifted(robust_fingerprints(public), robust_fingerprints(private))
    found = nearest(table, queries)
    normed = nearest(table - table.mean(1, keepdims=True), queries - queries.mean(1, keepdims=True))
    return {
        "clips": len(names),
        "hit_rate": float(np.mean(labels[found] == query_labels)),
        "hit_rate_gain_normalised": float(np.mean(labels[normed] == query_labels)),
        "hit_rate_pitch_search": float(
            np.mean(labels[nearest_shifted(table, queries)] == query_labels)
        ),
        "hit_rate_robust": float(np.mean(labels[robust] == query_labels)),
        "own_clip_found": float(np.mean(found == own)),
        "own_clip_found_robust": float(np.mean(robust == own)),
        "own_clip_found_gain_normalised": float(np.mean(normed == own)),
        "plain_hit_rate": float(np.mean(labels[nearest(table, table)] == labels)),
        "honest_rate": float(np.mean(labels[nearest(table, table, True)] == labels)),
        "chance": float(np.max(np.bincount(labels)) / len(labels)),
    }


def graded_accuracies(handin: Path, data: Path, assignment: str) -> dict | None:
    """The grader's private and public accuracies of a trained hand-in on `data` (None when the
    fold has no trained hand-in)."""
    if not list(handin.glob("*.ipynb")) or not list(handin.glob("outputs/*/model.pt")):
        return None
    results = handin.parent / f"private_results_{handin.name}.json"
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "grader/",
        "--submission", str(handin), "--data", str(data), "--results", str(results),
        "--assignment", assignment, "--dataset", "speech_commands_12",
        "-k", "test_accuracy",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    run_step(command, cwd=ROOT, env=env, check=False)  # a failed test still writes its results
    output = " ".join(t.get("output", "") for t in json.loads(results.read_text())["tests"])
    output += " " + json.loads(results.read_text()).get("output", "")
    found = re.search(r"private test clips\D*(\d\.\d+)\D+public test clips\D*(\d\.\d+)", output)
    if not found:
        raise SystemExit(f"no private/public accuracies in {results}: {output[:500]}")
    return {"private": float(found[1]), "public": float(found[2])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="real Speech Commands folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kws-real-speech"))
    parser.add_argument("--models", type=Path, help="--work of a bench_real_speech --notebook run")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "private_variant.json")
    add_publish_options(parser, "private_variant")
    parser.add_argument(
        "--reuse", action="store_true", help="keep each fold's variant written by an earlier run"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    work = args.work.resolve()
    layout = find_layout(args.data.resolve(), work)
    secret_file = work / "benchmark.secret"
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text(SECRET + "\n")
    folds = []
    for i, root in fold_roots(layout, work, args.folds, list(range(args.folds)), args.seed):
        private = root / (TEST_FOLDER + PRIVATE_SUFFIX)
        if not (args.reuse and (private / MARKER).is_file()):
            private, _ = make_private_test(root, secret_file, TEST_FOLDER)
        row = {"fold": i, **lookup_rates(root / TEST_FOLDER, private)}
        for name, assignment in HANDINS.items() if args.models else ():
            handin = args.models.resolve() / "runs" / f"fold{i}" / name
            row[name] = graded_accuracies(handin, root, assignment)
        print(json.dumps(row), flush=True)
        folds.append(row)
    summary = summarize(folds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"folds": folds, "summary": summary}, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    target = figures_target(args)
    if target is not None:
        publish("private_variant", summary, target)
    return 0


def summarize(folds: list[dict]) -> dict:
    """Means over the folds of the lookup's rates, and the models' accuracies per fold (the
    ``private_variant`` section of kws/figures.json)."""
    keys = [k for k, v in folds[0].items() if isinstance(v, float)]
    summary = {
        "command": "python benchmarks/bench_private_variant.py --data DEV --models WORK --publish",
        "conditions": CONDITIONS,
        "synthetic": False,
        "folds": len(folds),
        "lookup": {k: round(float(np.mean([f[k] for f in folds])), 4) for k in keys},
        "lookup_per_fold": [
            {k: round(f[k], 4) for k in ("hit_rate", "own_clip_found", "own_clip_found_robust")}
            for f in folds
        ],
        "models": {},
    }
    for name in HANDINS:
        graded = {str(f["fold"]): f[name] for f in folds if f.get(name)}
        if graded:
            gaps = [v["public"] - v["private"] for v in graded.values()]
            summary["models"][name] = {
                "per_fold": {k: {m: round(x, 4) for m, x in v.items()} for k, v in graded.items()},
                "gap_mean": round(float(np.mean(gaps)), 4),
                "gap_max": round(float(np.max(gaps)), 4),
            }
    return summary


if __name__ == "__main__":
    sys.exit(main())
