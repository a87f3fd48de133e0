"""Clips of other speakers: speaker-grouped folds and 12-class test folders from a Speech Commands folder.

A model is judged on speakers it never heard. These helpers cut a folder in the Speech Commands
layout (``WORD/SPEAKER_nohash_N.wav|flac`` and ``_background_noise_/``) by speaker:

- :func:`speaker_folds` deals the speakers into K groups of about equal clip counts (largest
  speakers first, each to the group with the fewest clips so far; ties by a seeded order), so
  that every speaker is tested exactly once in K-fold cross-validation;
- :func:`write_training_folder` writes the clips of some speakers in the dataset's layout (WAV),
  with a ``validation_list.txt`` of a seeded 10 % of them and the given background noise;
- :func:`write_test_folder` writes the clips of other speakers as a 12-class test-set folder
  (``yes/`` ... ``go/``, ``_unknown_/`` for every other word, ``_silence_/`` cut from a noise
  recording), the layout of the official ``speech_commands_test_set_v0.02``;
- :func:`prepare_split` writes both for one split of a data folder (:func:`find_layout`), once;
  :func:`fold_roots` the split of each of K speaker folds.

``bench_real_speech.py``, ``bench_notebook_variants.py``, ``bench_patch_variants.py`` and
``bench_private_variant.py`` build their hold-out and their cross-validation folds with them, in
the same folders (benchmark code: the kit itself never needs it).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import soundfile

from kws.data.download import safe_extract
from kws.data.speech_commands import (
    BACKGROUND_NOISE,
    CLIP_SAMPLES,
    KNOWN_WORDS_12,
    SILENCE,
    UNKNOWN,
    speaker_of,
)

AUDIO = (".wav", ".flac")
TEST_FOLDER = "speech_commands_test_set_v0.02"  # a split's 12-class test folder, in its folder


def word_clips(layout: str | Path) -> dict[str, list[Path]]:
    """Word -> its clips (``*_nohash_*.wav`` or ``.flac``, sorted), for every word folder of
    ``layout`` (folders starting with ``_`` such as ``_background_noise_`` are not words)."""
    layout = Path(layout)
    words = {}
    for folder in sorted(p for p in layout.iterdir() if p.is_dir() and not p.name.startswith("_")):
        clips = sorted(p for p in folder.iterdir() if p.suffix in AUDIO and "_nohash_" in p.name)
        if clips:
            words[folder.name] = clips
    return words


def noise_recordings(layout: str | Path) -> list[Path]:
    """The ``_background_noise_`` recordings of ``layout``, sorted by name."""
    folder = Path(layout) / BACKGROUND_NOISE
    return sorted(p for p in folder.iterdir() if p.suffix in AUDIO) if folder.is_dir() else []


def speaker_counts(words: dict[str, list[Path]]) -> dict[str, int]:
    """Speaker -> number of clips, over every word."""
    counts: dict[str, int] = {}
    for clips in words.values():
        for clip in clips:
            counts[speaker_of(clip.name)] = counts.get(speaker_of(clip.name), 0) + 1
    return counts


def speaker_folds(counts: dict[str, int], k: int, seed: int = 0) -> list[set[str]]:
    """Deal the speakers of ``counts`` (speaker -> clips) into ``k`` disjoint groups of about
    equal clip counts; the same ``seed`` gives the same groups.

    Raises:
        ValueError: ``k`` < 2, or fewer speakers than folds.
    """
    if k < 2:
        raise ValueError(f"k={k}: cross-validation needs at least 2 folds")
    if len(counts) < k:
        raise ValueError(f"{len(counts)} speakers cannot make {k} folds; use k <= {len(counts)}")
    speakers = sorted(counts)
    random.Random(f"folds/{seed}").shuffle(speakers)
    speakers.sort(key=lambda speaker: -counts[speaker])  # stable: ties keep the seeded order
    groups: list[set[str]] = [set() for _ in range(k)]
    totals = [0] * k
    for speaker in speakers:
        smallest = min(range(k), key=lambda j: (totals[j], j))
        groups[smallest].add(speaker)
        totals[smallest] += counts[speaker]
    return groups


def speaker_sample(speakers: set[str], fraction: float, seed: int) -> set[str]:
    """A seeded random ``fraction`` of ``speakers`` (at least one when there are two or more).

    Not the TensorFlow hash rule: a folder cut from one official split has all its speakers in one
    hash range, so the rule would put none of them in validation."""
    ordered = sorted(speakers)
    count = max(1, round(fraction * len(ordered))) if len(ordered) > 1 else 0
    return set(random.Random(f"speakers/{seed}").sample(ordered, count))


def _write_wav(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".wav":
        shutil.copyfile(source, target)
    else:
        audio, rate = soundfile.read(str(source), dtype="int16")
        soundfile.write(str(target), audio, rate, subtype="PCM_16")


def write_training_folder(
    words: dict[str, list[Path]],
    speakers: set[str],
    noises: list[Path],
    root: str | Path,
    seed: int = 0,
) -> Path:
    """Write the clips of ``speakers`` into ``root`` in the Speech Commands layout, as WAV.

    ``validation_list.txt`` names the clips of a seeded 10 % of those speakers (the notebook and
    ``fit`` choose their best checkpoint on them), ``testing_list.txt`` is empty, and ``noises``
    become ``_background_noise_/`` (silence clips and augmentation noise come from them).

    Returns:
        ``root``.
    """
    root = Path(root)
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
    return root


def write_test_folder(
    words: dict[str, list[Path]],
    speakers: set[str],
    silence_noise: Path,
    folder: str | Path,
    seed: int = 0,
) -> dict[str, int]:
    """Write the clips of ``speakers`` into ``folder`` as a 12-class test set.

    The ten keywords keep their folders; every other word goes to ``_unknown_/`` as
    ``WORD_SPEAKER_nohash_N.wav``; ``_silence_/`` gets as many one-second windows of
    ``silence_noise`` (at a random gain in [0, 1)) as an average keyword has clips. Give it a
    recording that training never sees, so silence is judged on new noise too.

    Returns:
        class -> clips written.
    """
    folder = Path(folder)
    counts: dict[str, int] = {}
    for label in (SILENCE, UNKNOWN, *KNOWN_WORDS_12):  # every class has its folder, even empty
        (folder / label).mkdir(parents=True, exist_ok=True)
    for word, clips in words.items():
        label = word if word in KNOWN_WORDS_12 else UNKNOWN
        prefix = "" if label == word else f"{word}_"
        for clip in clips:
            name = clip.with_suffix(".wav").name
            if speaker_of(name) in speakers:
                _write_wav(clip, folder / label / f"{prefix}{name}")
                counts[label] = counts.get(label, 0) + 1
    n_silence = round(sum(counts.get(w, 0) for w in KNOWN_WORDS_12) / len(KNOWN_WORDS_12))
    noise, rate = soundfile.read(str(silence_noise), dtype="int16")
    if len(noise) < CLIP_SAMPLES:
        raise ValueError(f"{silence_noise} is shorter than one second: give a longer recording")
    rng = random.Random(seed)
    for i in range(n_silence):
        start = rng.randrange(len(noise) - CLIP_SAMPLES + 1)
        window = (noise[start : start + CLIP_SAMPLES] * rng.random()).astype("int16")
        soundfile.write(str(folder / SILENCE / f"silence_{i:04d}.wav"), window, rate)
    counts[SILENCE] = n_silence
    return counts


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
            safe_extract(tars[0], target)  # every member checked; works without tarfile's filter
        return find_layout(target, work)
    raise SystemExit(
        f"{data} is not a Speech Commands folder (no yes/ inside it or its speech_commands_v0.02/)"
        f" and holds no single .tar of one; pass the folder that holds the word folders"
    )


def _noises(layout: Path) -> list[Path]:
    noises = noise_recordings(layout)
    if len(noises) < 2:
        raise SystemExit(
            f"{layout / '_background_noise_'} needs at least 2 recordings: one for the test "
            f"_silence_ clips, the rest for training"
        )
    return noises


def prepare_split(layout: Path, folder: Path, test_speakers: set[str], seed: int, how: str) -> Path:
    """``folder/speech_commands_v0.02`` (the other speakers) and ``folder/`` + TEST_FOLDER
    (``test_speakers``), written once (a ``done`` file marks a complete folder)."""
    if not (folder / "done").is_file():
        words, noises = word_clips(layout), _noises(layout)
        train_speakers = set(speaker_counts(words)) - test_speakers
        shutil.rmtree(folder, ignore_errors=True)
        write_training_folder(
            words, train_speakers, noises[:-1], folder / "speech_commands_v0.02", seed
        )
        write_test_folder(words, test_speakers, noises[-1], folder / TEST_FOLDER, seed)
        (folder / "done").write_text(how)
    return folder


def fold_roots(
    layout: Path, work: Path, n_folds: int, folds: list[int], seed: int
) -> list[tuple[int, Path]]:
    """``(i, folder)`` for each fold ``i`` of ``folds``: the speakers of ``layout`` dealt into
    ``n_folds`` groups (`speaker_folds`), each fold's folder written once under ``work`` by
    `prepare_split` (its training split and its 12-class test folder, `TEST_FOLDER`)."""
    groups = speaker_folds(speaker_counts(word_clips(layout)), n_folds, seed)
    roots = []
    for i in folds:
        root = work / f"folds{n_folds}-seed{seed}" / f"fold{i}"
        how = f"fold {i} of {n_folds}: {len(groups[i])} speakers"
        roots.append((i, prepare_split(layout, root, groups[i], seed, how)))
    return roots
