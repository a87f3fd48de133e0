"""Speaker ID's private test set on the synthetic twin: the reference's public and private
accuracies per seed, how often its tier changes between two private sets, and the tiers.

    OMP_NUM_THREADS=1 python benchmarks/bench_speaker_private.py --work DIR \\
        [--seeds 0 1 2 3 4] [--pool 6] [--sizes 1 2 3] [--secrets 20] [--publish]

What it does, on the ``small`` synthetic HW4 features (seed 0, made in ``DIR/data`` unless there):

1. ``kws private`` with a fixed benchmark secret holds back a **pool** of ``--pool``
   utterances of every speaker (written as ``kws private`` writes them: the students' folder
   and the private one);
2. notebook 02's reference solution is trained once per seed on the students' folder, with
   ``kws demo``'s ``small`` budget (one torch thread, one training at a time; a seed whose
   hand-in is in ``DIR/seed<S>`` already is reused);
3. each task's model (the notebook's own classes, loaded from its hand-in as the grading child
   loads them) predicts every public test utterance and every pool utterance;
4. private sets of ``--sizes`` utterances a speaker are drawn from the pool with ``--secrets``
   different secrets, as ``kws private`` draws them (no retraining: the pool was never trained
   on), and graded against the tiers: how often the tier of two private sets of one reference
   differs (the credit its accuracy test gives, over every pair of secrets), beside the rate two independent sets of that size
   would give at the reference's pool accuracy (binomial), and the honest hand-ins the gap
   check would name (`kws.grading.judge.public_gap`) — it should be none.

The tiers it proposes for ``synthetic-small-private`` (``--publish`` writes them with the rest to
``kws/figures.json``'s ``speaker_private``; the spec is edited by hand): each task's target tier at
the 5th percentile of its private accuracies over seeds and secrets at the default size, rounded
down to 0.01, kept rising (simple 0.1 below medium). Synthetic figures: eSpeak voices, not
speech of real people; the held-back utterances come from the same generator as the test ones.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from benchlib import add_publish_options, figures_target, publish
from demo_runs import run_reference

from kws.data.speaker_private import PER_SPEAKER, rank, write_speaker_private
from kws.spec import ASSIGNMENTS, TIER_ORDER

SPEC = ASSIGNMENTS["speaker_id"]
SECRET = "benchmark-secret-0123456789abcdef"  # fixed, so that the figures can be re-measured
RESULTS = Path(__file__).resolve().parent / "results" / "speaker_private.json"
CONDITIONS = (
    "Synthetic HW4 features (the small preset, seed 0: 50 eSpeak speakers, 900 training and 100 "
    "test utterances), a pool of {pool} utterances of every speaker held back by kws private "
    "with a fixed benchmark secret; notebook 02's reference trained on the rest with kws demo's "
    "small budget, one torch thread (OMP_NUM_THREADS=1), once per seed ({seeds} seeds: "
    "about 540 CPU-s each); private sets of 1-3 utterances a speaker drawn from the pool with "
    "{secrets} secrets. Private sets drawn from one pool share utterances, so 'resampled' "
    "understates how often two fresh private sets differ; 'independent' is the binomial rate."
)


def train(work: Path, data: Path, seed: int, preset: str) -> Path:
    """Notebook 02's reference hand-in for `seed` in ``work/seed<S>`` (reused when there),
    trained with the `preset`'s budget."""
    handin = work / f"seed{seed}"
    if not (handin / "outputs" / "speaker_id_summary.json").is_file():
        record = run_reference(SPEC.notebook, data, handin, preset, seed, {})
        print(f"seed {seed}: trained in {record['cpu']:.0f} CPU-s", flush=True)
    return handin


def predictions(handin: Path, root: Path, utterances: list[tuple[str, int]]) -> dict:
    """{task: {feature_path: predicted speaker id}} of the hand-in's models on `utterances`
    (feature_path, mel_len) of the HW4 folder `root`, as the grading child builds them."""
    from kws.data.speaker_features import collate_features, load_features
    from kws.grading.child.cells import run_model_cells
    from kws.grading.child.checkpoint import load_checkpoint, read_config

    namespace = run_model_cells(handin / SPEC.notebook)
    features = [(load_features(root / p, 40, n), p) for p, n in utterances]
    found = {}
    for task in SPEC.model_tasks:
        cls, kwargs = read_config(handin / "outputs" / task, task, namespace)
        model = cls(**kwargs)
        load_checkpoint(model, handin / "outputs" / task / "model.pt", task)
        model.eval()
        found[task] = {}
        with torch.no_grad():
            for start in range(0, len(features), 32):
                x, lengths, paths = collate_features(features[start : start + 32])
                chosen = model(x, lengths).argmax(dim=1).tolist()  # (B,)
                found[task].update(zip(paths, chosen, strict=True))
    return found


def credit(accuracy: float, tiers: dict[str, float], task: str) -> int:
    """How many of the tiers up to `task`'s target `accuracy` reaches: what its points follow
    (`kws.grading.judge.tiers.tier_credit`)."""
    wanted = TIER_ORDER[: TIER_ORDER.index(SPEC.tasks[task].target) + 1]
    return sum(accuracy >= tiers[name] for name in wanted)


def binomial_flips(p: float, n: int, tiers: dict[str, float], task: str) -> float:
    """The chance two independent private sets of `n` items give a model of accuracy `p`
    different credit for `task`."""
    counts = np.arange(n + 1)
    mass = np.array([math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in counts])
    levels = [credit(k / n, tiers, task) for k in counts]
    by_level = np.bincount(levels, weights=mass, minlength=5)
    return float(1 - np.sum(by_level**2))


def samples(pool: dict[str, list[str]], size: int, secrets: int) -> list[list[str]]:
    """The private sets `kws private --per-speaker size` would hold back of `pool` with each of
    `secrets` benchmark secrets."""
    drawn = []
    for number in range(secrets):
        secret = f"{SECRET}-{number}"
        drawn.append([path for speaker, paths in pool.items()
                      for path in sorted(paths, key=lambda p: rank(secret, speaker, p))[:size]])  # fmt: skip
    return drawn


def measure(
    work: Path, seeds: list[int], pool_size: int, sizes: list[int], secrets: int, preset: str
) -> dict:
    """Train, predict and resample (the module's docstring); every record, by seed and task."""
    from kws.data.labels_csv import read_labels_csv
    from kws.data.speaker_format import read_speaker_folder
    from kws.data.synthetic import make_speaker_features

    data = work / "data"
    if not (data / "speaker_features_hidden").is_dir():
        make_speaker_features(data, preset, seed=0)
    root = data / "speaker_features"
    if not (data / "speaker_features_private").is_dir():
        write_speaker_private(root, SECRET, per_speaker=pool_size)
    held = read_speaker_folder(data / "speaker_features_private")
    pool: dict[str, list[str]] = {}
    for path, _, speaker in held.labelled:
        pool.setdefault(held.speakers[speaker], []).append(path)
    truth = {p: held.speaker2id[s] for p, s in read_labels_csv(
        data / "speaker_features_hidden" / "test_labels.csv").items()}  # fmt: skip
    pool_truth = {path: speaker for path, _, speaker in held.labelled}
    tests = read_speaker_folder(root, need_test=True).test
    drawn = {size: samples(pool, size, secrets) for size in sizes}
    records = {}
    for seed in seeds:
        handin = train(work, data, seed, preset)
        public = predictions(handin, root, tests)
        private = predictions(handin, data / "speaker_features_private",
                              [(p, n) for p, n, _ in held.labelled])  # fmt: skip
        for task in SPEC.model_tasks:
            right = {p: public[task][p] == truth[p] for p in truth}
            hits = {p: private[task][p] == pool_truth[p] for p in pool_truth}
            csv = read_labels_csv(handin / "outputs" / task / "predictions.csv")
            records[f"{seed}/{task}"] = {
                "seed": seed,
                "task": task,
                "speakers": len(pool),
                "public": float(np.mean(list(right.values()))),
                "public_csv": float(np.mean([held.speaker2id[csv[p]] == truth[p] for p in truth])),
                "pool": float(np.mean(list(hits.values()))),
                "private": {
                    str(size): [float(np.mean([hits[p] for p in sample])) for sample in drawn[size]]
                    for size in sizes
                },  # fmt: skip
            }
    return records


def summarize(records: dict, pool: int, sizes: list[int], secrets: int, tests: int) -> dict:
    """The ``speaker_private`` section: per seed and task the public and private accuracies,
    the proposed tiers, the tier changes between private sets and the honest flags."""
    from kws.grading.judge.public_gap import allowed_gap

    size = str(PER_SPEAKER)
    speakers = next(iter(records.values()))["speakers"]
    tiers = propose_tiers(records, size)
    flips, flags, per_seed = {}, 0, {}
    for size_text in map(str, sizes):
        changed, binomial = [], []
        for record in records.values():
            levels = [credit(a, tiers, record["task"]) for a in record["private"][size_text]]
            pairs = list(itertools.combinations(levels, 2))
            changed.append(sum(a != b for a, b in pairs) / len(pairs))
            n = int(size_text) * speakers
            binomial.append(binomial_flips(record["pool"], n, tiers, record["task"]))
        flips[size_text] = {"resampled": round(float(np.mean(changed)), 4),
                            "independent": round(float(np.mean(binomial)), 4)}  # fmt: skip
    for key, record in records.items():
        n = int(size) * speakers
        for accuracy in record["private"][size]:
            for lead, count in ((record["public"], tests), (record["public_csv"], tests)):
                flags += lead - accuracy > allowed_gap(lead, count, accuracy, n)
        per_seed[key] = {
            "public": round(record["public"], 4),
            "public_csv": round(record["public_csv"], 4),
            "private_mean": round(float(np.mean(record["private"][size])), 4),
            "private_min": round(float(np.min(record["private"][size])), 4),
            "private_max": round(float(np.max(record["private"][size])), 4),
            "pool": round(record["pool"], 4),
        }
    return {
        "command": "python benchmarks/bench_speaker_private.py --work DIR --publish",
        "conditions": CONDITIONS.format(
            pool=pool, secrets=secrets, seeds=len({r["seed"] for r in records.values()})
        ),
        "synthetic": True,
        "per_speaker": PER_SPEAKER,
        "seeds": sorted({r["seed"] for r in records.values()}),
        "per_seed": per_seed,
        "tiers": tiers,
        "tier_changes": flips,
        "honest_flags": int(flags),
        "honest_checks": sum(len(r["private"][size]) * 2 for r in records.values()),
    }


def propose_tiers(records: dict, size: str) -> dict[str, float]:
    """Each task's target tier at the 5th percentile of its private accuracies at `size`,
    rounded down to 0.01, rising from task to task; simple 0.1 below medium."""
    tiers = {}
    for name, task in SPEC.tasks.items():
        if not task.target:
            continue
        accuracies = [a for r in records.values() if r["task"] == name for a in r["private"][size]]
        tiers[task.target] = math.floor(100 * float(np.percentile(accuracies, 5))) / 100
    for lower, higher in itertools.pairwise(TIER_ORDER[1:]):
        tiers[higher] = max(tiers[higher], tiers[lower])
    tiers["simple"] = round(tiers["medium"] - 0.1, 2)
    return {name: tiers[name] for name in TIER_ORDER}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="data, hand-ins, results")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--pool", type=int, default=6, help="utterances a speaker held back")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--secrets", type=int, default=20)
    parser.add_argument("--preset", default="small", help="data and budget (tiny: a smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    add_publish_options(parser, "speaker_private")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.monotonic()
    work = args.work.resolve()
    records = measure(work, args.seeds, args.pool, args.sizes, args.secrets, args.preset)
    tests = len(json.loads((args.work / "data" / "speaker_features" / "testdata.json")
                           .read_text())["utterances"])  # fmt: skip
    summary = summarize(records, args.pool, args.sizes, args.secrets, tests)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"records": records, "summary": summary}, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    print(f"{time.monotonic() - start:.0f} s", flush=True)
    target = figures_target(args)
    if target is not None:
        publish("speaker_private", summary, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
