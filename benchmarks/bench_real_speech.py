"""The reference keyword models on real speech: train on some speakers, test on others.

    python benchmarks/bench_real_speech.py --data ../shared/realdev
    python benchmarks/bench_real_speech.py --data DATA --synthetic SYNTH_ROOT   # + transfer row
    python benchmarks/bench_real_speech.py --data DATA --test-set TEST12_FOLDER # a given test set

``--data`` is any folder in the Speech Commands layout (``speech_commands_v0.02/`` inside it, or the
folder itself; WAV or FLAC clips; or a folder holding one ``.tar`` of that layout, which is
extracted). The benchmark writes a working copy under ``--work``:

- the hold-out: every clip of the speakers named in the data's ``validation_list.txt`` (or, when
  that list is empty or missing, a seeded 10 % of the speakers), written as a 12-class test-set
  folder (10 words, ``_unknown_`` = their other words, ``_silence_`` = 1-s windows of the last
  ``_background_noise_`` recording, which training never sees);
- the training data: every other speaker's clips as WAV, with a validation list of a seeded 10 %
  of those speakers for choosing the best checkpoint. (Not the TensorFlow hash rule: a folder cut
  from one official split has all its speakers in one hash range.)

With ``--test-set`` the given 12-class folder is the test set and every clip of ``--data`` trains.
Each recipe then runs through ``kws.experiments.run_recipe`` (the kit's data path and ``fit``), and
the table gives accuracy per class, steps/s, wall and CPU seconds. Results are merged into
``--out`` (JSON, one entry per row), which ``kws demo`` quotes.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tarfile
import time
from pathlib import Path

import soundfile
import torch

from kws.data.speech_commands import (
    BACKGROUND_NOISE,
    CLIP_SAMPLES,
    KNOWN_WORDS_12,
    SILENCE,
    UNKNOWN,
    speaker_of,
)
from kws.experiments import run_recipe
from kws.recipes import SMALL, Recipe

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "real_speech.json"
AUDIO = (".wav", ".flac")

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


def find_layout(data: Path, work: Path) -> Path:
    """The ``speech_commands_v0.02``-style folder of ``data`` (extracting a lone .tar into work)."""
    for candidate in (data / "speech_commands_v0.02", data / "speech_commands_v0.01", data):
        if (candidate / "yes").is_dir():
            return candidate
    tars = sorted(data.glob("*.tar")) if data.is_dir() else []
    if len(tars) == 1:
        target = work / "source"
        if not target.is_dir():
            print(f"extracting {tars[0]} into {target}", flush=True)
            with tarfile.open(tars[0]) as tar:
                tar.extractall(target, filter="data")
        return find_layout(target, work)
    raise SystemExit(
        f"{data} is not a Speech Commands folder (no yes/ inside it or its speech_commands_v0.02/)"
        f" and holds no single .tar of one; pass the folder that holds the word folders"
    )


def _clips(layout: Path) -> dict[str, list[Path]]:
    """word -> its clips (.wav or .flac), for every word folder of the layout."""
    words = {}
    for folder in sorted(p for p in layout.iterdir() if p.is_dir() and not p.name.startswith("_")):
        clips = sorted(p for p in folder.iterdir() if p.suffix in AUDIO and "_nohash_" in p.name)
        if clips:
            words[folder.name] = clips
    return words


def _write_wav(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".wav":
        shutil.copyfile(source, target)
    else:
        audio, rate = soundfile.read(str(source), dtype="int16")
        soundfile.write(str(target), audio, rate, subtype="PCM_16")


def speaker_sample(speakers: set[str], fraction: float, seed: int) -> set[str]:
    """A seeded random ``fraction`` of the speakers. Not the hash rule: a folder cut from one
    official split (the development clips are) has all its speakers in one hash range."""
    ordered = sorted(speakers)
    return set(random.Random(f"speakers/{seed}").sample(ordered, round(fraction * len(ordered))))


def _held_out_speakers(
    layout: Path, words: dict[str, list[Path]], seed: int
) -> tuple[set[str], str]:
    listed = layout / "validation_list.txt"
    names = listed.read_text().split() if listed.is_file() else []
    if names:
        return {speaker_of(n) for n in names}, f"the speakers of {listed}"
    speakers = {speaker_of(p.name) for clips in words.values() for p in clips}
    return speaker_sample(speakers, 0.1, seed), f"a seeded 10 % of the speakers (seed {seed})"


def _write_training(words, speakers: set[str], noises: list[Path], root: Path, seed: int):
    """The clips of ``speakers`` as WAV in the layout, a validation list of a seeded 10 % of
    them, an empty testing list, and ``noises`` as the background noise."""
    validation_speakers = speaker_sample(speakers, 0.1, seed)
    validation = []
    for word, clips in words.items():
        for clip in clips:
            name = clip.with_suffix(".wav").name
            if speaker_of(name) in speakers:
                _write_wav(clip, root / word / name)
                if speaker_of(name) in validation_speakers:
                    validation.append(f"{word}/{name}")
    for noise in noises:
        _write_wav(noise, root / BACKGROUND_NOISE / noise.with_suffix(".wav").name)
    (root / "validation_list.txt").write_text("\n".join(sorted(validation)) + "\n")
    (root / "testing_list.txt").write_text("")


def prepare_holdout(layout: Path, work: Path, seed: int = 0) -> tuple[Path, Path, str]:
    """Write the training folder and the 12-class hold-out folder; returns (root, test, how)."""
    root, test = work / "holdout" / "speech_commands_v0.02", work / "holdout" / "test12"
    words = _clips(layout)
    held_out, how = _held_out_speakers(layout, words, seed)
    noises = sorted(p for p in (layout / BACKGROUND_NOISE).iterdir() if p.suffix in AUDIO)
    if len(noises) < 2:
        raise SystemExit(
            f"{layout / BACKGROUND_NOISE} needs at least 2 recordings: one for the test "
            f"_silence_ clips, the rest for training"
        )
    if not (work / "holdout" / "done").is_file():
        shutil.rmtree(work / "holdout", ignore_errors=True)
        test_counts, speakers = {}, set()
        for word, clips in words.items():
            for clip in clips:
                name = clip.with_suffix(".wav").name
                if speaker_of(name) not in held_out:
                    speakers.add(speaker_of(name))
                    continue
                label = word if word in KNOWN_WORDS_12 else UNKNOWN
                prefix = "" if label == word else f"{word}_"
                _write_wav(clip, test / label / f"{prefix}{name}")
                test_counts[label] = test_counts.get(label, 0) + 1
        _write_training(words, speakers, noises[:-1], root, seed)
        # Test silence: as many 1-s windows as an average keyword has clips, from a recording
        # that training never sees (neither as _silence_ nor as augmentation noise).
        n_silence = round(sum(test_counts.get(w, 0) for w in KNOWN_WORDS_12) / 10)
        noise, rate = soundfile.read(str(noises[-1]), dtype="int16")
        rng = random.Random(seed)
        for i in range(n_silence):
            start = rng.randrange(len(noise) - CLIP_SAMPLES + 1)
            window = (noise[start : start + CLIP_SAMPLES] * rng.random()).astype("int16")
            (test / SILENCE).mkdir(parents=True, exist_ok=True)
            soundfile.write(str(test / SILENCE / f"silence_{i:04d}.wav"), window, rate)
        (work / "holdout" / "done").write_text(how)
    return root.parent, test, how


def prepare_all(layout: Path, work: Path, seed: int = 0) -> Path:
    """Every clip of the layout as WAV (for --test-set), a seeded 10 % of speakers validating."""
    root = work / "all" / "speech_commands_v0.02"
    if not (work / "all" / "done").is_file():
        shutil.rmtree(work / "all", ignore_errors=True)
        words = _clips(layout)
        speakers = {speaker_of(p.name) for clips in words.values() for p in clips}
        noises = sorted(p for p in (layout / BACKGROUND_NOISE).iterdir() if p.suffix in AUDIO)
        _write_training(words, speakers, noises, root, seed)
        (work / "all" / "done").write_text("all")
    return root.parent


def _speakers(clips: list[Path]) -> set[str]:
    """Speakers of word clips; test ``_unknown_`` clips are named ``WORD_SPEAKER_nohash_N.wav``."""
    return {speaker_of(p.name).split("_")[-1] for p in clips if "_nohash_" in p.name}


def run_one(
    recipe: Recipe,
    data_root: Path,
    test_set: Path,
    out: Path,
    seed: int,
    label: str,
    resume: bool = False,
):
    """run_recipe plus the process's CPU time (threads included) and steps/s. ``resume`` continues
    an interrupted row from its ``last.pt`` (its CPU and wall times then count this process only)."""
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    results = run_recipe(
        recipe, data_root, out, device="cpu", seed=seed, test_set=test_set, resume=resume
    )
    end = resource.getrusage(resource.RUSAGE_SELF)
    results["total_wall_seconds"] = round(time.perf_counter() - start, 1)
    results["total_cpu_seconds"] = round(
        end.ru_utime + end.ru_stime - cpu_start.ru_utime - cpu_start.ru_stime, 1
    )
    results["steps_per_second"] = round(results["steps"] / max(results["train_seconds"], 1e-9), 2)
    results["row"] = label
    results["batch_size"] = recipe.batch_size
    results["threads"] = torch.get_num_threads()
    return results


def format_table(rows: list[dict]) -> str:
    """Accuracy per class and times, one row per run."""
    classes = list(rows[0]["test_per_class"]) if rows else []
    short = {SILENCE: "sil", UNKNOWN: "unk"}
    header = f"{'run':<34} {'test':>6} " + " ".join(f"{short.get(c, c):>5}" for c in classes)
    header += f" {'steps':>10} {'steps/s':>7} {'wall s':>7} {'CPU s':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        per_class = " ".join(f"{100 * r['test_per_class'][c]:5.1f}" for c in classes)
        lines.append(
            f"{r['row']:<34} {100 * r['test_accuracy']:5.1f}% {per_class} "
            f"{r['steps']:>5}x{r['batch_size']:<4} {r['steps_per_second']:>7.2f} "
            f"{r['train_seconds']:>7.0f} {r['cpu_seconds']:>7.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="real Speech Commands folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kws-real-speech"))
    parser.add_argument("--test-set", type=Path, help="a 12-class test-set folder to test on")
    parser.add_argument("--synthetic", type=Path, help="also train on this synthetic data root")
    parser.add_argument(
        "--recipes",
        nargs="*",
        default=["kws_transformer", "crnn_attention", "kwt_tiny_synthetic_recipe"],
        help=f"real rows, from kws.recipes.SMALL or {', '.join(SYNTHETIC_TUNED)} (none: only the "
        "--synthetic row)",
    )
    parser.add_argument(
        "--synthetic-recipe",
        default="kws_transformer_twin",
        help="the recipe of the --synthetic row",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="steps x this (quick looks)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2 cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue interrupted rows from their last checkpoint under --work",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results to merge into")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    work = args.work.resolve()
    layout = find_layout(args.data.resolve(), work)
    if args.test_set:
        data_root, test_set = prepare_all(layout, work, args.seed), args.test_set.resolve()
        how = f"the 12-class folder {args.test_set}"
    else:
        data_root, test_set, how = prepare_holdout(layout, work, args.seed)
    train_clips = [p for p in (data_root / "speech_commands_v0.02").rglob("*_nohash_*.wav")]
    test_clips = list(test_set.rglob("*.wav"))
    held_out = (
        f"{len(test_clips)} clips of {how} in {args.data} ({len(_speakers(test_clips))} speakers,"
        f" 12 classes)"
    )
    real_training = (
        f"{len(train_clips)} real word clips of {len(_speakers(train_clips))} other speakers"
    )
    print(f"test set: {held_out}\ntraining (real rows): {real_training}", flush=True)

    recipes = {**SMALL, **SYNTHETIC_TUNED}
    runs = []  # (recipe, data root, row label, what it trains on)
    for name in args.recipes:
        if name not in recipes or recipes[name].task != "kws":
            raise SystemExit(f"unknown KWS recipe {name!r}; choose from {', '.join(recipes)}")
        recipe = recipes[name] if args.scale == 1 else recipes[name].scaled(args.scale)
        runs.append((recipe, data_root, f"{name} (real)", real_training))
    if args.synthetic:
        if args.synthetic_recipe not in recipes:
            raise SystemExit(
                f"unknown recipe {args.synthetic_recipe!r}; choose from {', '.join(recipes)}"
            )
        recipe = recipes[args.synthetic_recipe]
        recipe = recipe if args.scale == 1 else recipe.scaled(args.scale)
        synthetic = f"the synthetic data in {args.synthetic}"
        runs.append(
            (recipe, args.synthetic.resolve(), f"{recipe.name} (synthetic -> real)", synthetic)
        )

    rows = []
    for recipe, root, label, trained_on in runs:
        print(f"\n== {label}: {recipe.steps} steps x {recipe.batch_size}", flush=True)
        out = work / "runs" / label.split(" ")[1].strip("()").replace("->", "to")
        rows.append(run_one(recipe, root, test_set, out, args.seed, label, args.resume))
        rows[-1]["test_set"], rows[-1]["trained_on"] = held_out, trained_on
        print(format_table(rows[-1:]), flush=True)

    print(f"\nTest set: {held_out}; real rows trained on {real_training}\n")
    print(format_table(rows))
    print(
        f"\nwall/CPU s: fit with its validations, {torch.get_num_threads()} torch thread(s); "
        "on a shared machine CPU s is the honest cost (about 2x the wall time on 2 free cores)"
    )
    saved = json.loads(args.out.read_text()) if args.out.is_file() else {}
    saved.update({r["row"]: {k: v for k, v in r.items() if k != "out_dir"} for r in rows})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(saved, indent=1) + "\n")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
