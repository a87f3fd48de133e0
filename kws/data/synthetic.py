"""Offline synthetic twins of Speech Commands v0.02 and the HW4 speaker features.

Words and sentences are spoken by eSpeak NG (`kws.data.tts`). A speaker is a fixed `Voice` (accent,
variant, pitch, rate, range); every utterance jitters it a little and gets noise at a random SNR,
so the tasks are learnable but not trivial. Words are also "recorded" (`kws.data.recording`: vocal
tract, room, microphone, level), which brings a model trained on them closer to real speech. The folders have exactly the layouts of the real data:

    make_speech_commands(ROOT)  -> ROOT/speech_commands_v0.02/{WORD}/{HASH}_nohash_{N}.wav, ...
                                   ROOT/speech_commands_test_set_v0.02/{_silence_,_unknown_,yes,...}/
    make_speaker_features(ROOT) -> ROOT/speaker_features/{metadata,mapping,testdata}.json, uttr-*.pt
                                   ROOT/speaker_features_hidden/test_labels.csv

Everything is drawn from random streams seeded by (seed, what is drawn), so the same seed gives
byte-identical files whatever the number of worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import sys
import wave as wave_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from kws.data.noises import BACKGROUND_NOISES, coloured_noise
from kws.data.recording import Recording, add_noise, record, warp_vocal_tract
from kws.data.sentences import random_sentence
from kws.data.speaker_features import build_speaker_features
from kws.data.speech_commands import (
    BACKGROUND_NOISE,
    KNOWN_WORDS_12,
    SILENCE,
    UNKNOWN,
    WORDS_V2,
    which_set,
)
from kws.data.tts import (
    ENGLISH_LANGUAGES,
    HUMAN_VARIANTS,
    SAMPLE_RATE,
    Voice,
    synthesize,
    trim_silence,
)

CLIP_SAMPLES = SAMPLE_RATE
# Relative clip counts per word, as in v0.02: commands and digits ~3,800, other words ~2,000,
# the five v0.02-only words ~1,600.
_WORD_WEIGHTS = {word: 3.8 for word in WORDS_V2[:20]} | {w: 2.0 for w in WORDS_V2[20:30]}
_WORD_WEIGHTS |= {word: 1.6 for word in WORDS_V2[30:]}
# eSpeak reads a trailing "?" with a rising pitch and "!" with a stronger accent: people say the
# words all three ways.
_ENDINGS = ("", "?", "!")
# Accents of the Speech Commands speakers. Six of eSpeak's eight English accents say "on", "off",
# "stop", "go" and "no" with British or Caribbean vowels; the real clips were crowd-sourced online
# from English speakers, many of them American. Half the speakers get a US accent (en-us,
# en-us-nyc), so that both vowel sets are common; the other half one of the other six.
_SPEECH_COMMANDS_ACCENTS = {"en-us": 3.0, "en-us-nyc": 3.0} | {
    language: 1.0 for language in ENGLISH_LANGUAGES if not language.startswith("en-us")
}


@dataclass(frozen=True)
class Preset:
    """Sizes of one synthetic preset (Speech Commands part, then speaker-feature part)."""

    speakers: int  # Speech Commands speakers, split ~80/10/10 by the hash rule
    clips: int  # word clips in the 35 word folders
    test12_clips: int  # clips in the 12-class test set, ~equal per class
    test12_speakers: int  # its own speakers, none of them in the dataset
    noise_seconds: int  # length of each _background_noise_ recording
    sf_speakers: int  # speaker-feature speakers
    sf_utterances: int  # their utterances, held-out test part included
    sf_test: int  # utterances held out (testdata.json)
    sentence_words: tuple[int, int]  # words per sentence, min and max


PRESETS = {
    "tiny": Preset(
        speakers=10, clips=140, test12_clips=48, test12_speakers=4, noise_seconds=5,
        sf_speakers=6, sf_utterances=48, sf_test=6, sentence_words=(2, 4),
    ),
    "small": Preset(
        speakers=160, clips=9_000, test12_clips=1_200, test12_speakers=40, noise_seconds=20,
        sf_speakers=50, sf_utterances=1_000, sf_test=100, sentence_words=(3, 8),
    ),
    # The real sizes: v0.02 has 105,829 clips of 2,618 speakers and a 4,890-clip test set; HW4 has
    # 600 speakers, 56,666 training utterances and 8,000 test utterances.
    "full": Preset(
        speakers=2_618, clips=105_829, test12_clips=4_890, test12_speakers=250, noise_seconds=60,
        sf_speakers=600, sf_utterances=64_666, sf_test=8_000, sentence_words=(5, 14),
    ),
}  # fmt: skip


def make_speech_commands(
    root: str | os.PathLike,
    preset: str = "tiny",
    seed: int = 0,
    workers: int | None = None,
    overwrite: bool = False,
    recording: Recording | None = None,
) -> Path:
    """Write a synthetic Speech Commands v0.02 and its 12-class test set under `root`.

    Args:
        root: parent folder; gets speech_commands_v0.02/ and speech_commands_test_set_v0.02/.
        preset: "tiny" (unit tests, seconds), "small" (the demo, ~1 min) or "full" (real sizes).
        seed: the same seed gives byte-identical files.
        workers: processes to synthesise with; default: 1 for "tiny", every core otherwise.
        overwrite: replace existing folders instead of refusing.
        recording: the ranges of vocal tract, room, microphone, noise and level every word is
            drawn from (`kws.data.recording`); default `Recording()`; `kws.data.recording.DRY` is the
            bare synthesiser.

    Returns:
        ROOT/speech_commands_v0.02, the folder `SpeechCommands` takes.
    """
    sizes = _preset(preset)
    recording = recording or Recording()
    root = Path(root)
    dataset, test_set = root / "speech_commands_v0.02", root / "speech_commands_test_set_v0.02"
    _prepare(dataset, overwrite)
    _prepare(test_set, overwrite)
    partial, partial_test = _partial(dataset), _partial(test_set)

    rng = random.Random(f"{seed}/speech-commands")
    hashes = _speaker_hashes(sizes.speakers + sizes.test12_speakers, sizes.speakers, rng)
    voices = _voices(len(hashes), rng, _SPEECH_COMMANDS_ACCENTS)
    speakers, test_speakers = list(range(sizes.speakers)), list(range(sizes.speakers, len(hashes)))

    jobs, repeats = [], {}
    for word, count in zip(
        WORDS_V2, _allocate(sizes.clips, list(_WORD_WEIGHTS.values())), strict=True
    ):
        for _ in range(count):
            speaker = rng.choice(speakers)
            n = repeats[speaker, word] = repeats.get((speaker, word), -1) + 1
            name = f"{word}/{hashes[speaker]}_nohash_{n}.wav"
            jobs.append(
                _Job(partial / name, "word", word, voices[speaker], f"{seed}/{name}", recording)
            )
    classes = [SILENCE, UNKNOWN, *KNOWN_WORDS_12]
    unknown_words = [word for word in WORDS_V2 if word not in KNOWN_WORDS_12]
    for label, count in zip(
        classes, _allocate(sizes.test12_clips, [1.0] * len(classes)), strict=True
    ):
        for _ in range(count):
            speaker = rng.choice(test_speakers)
            word = rng.choice(unknown_words) if label == UNKNOWN else label
            kind = "silence" if label == SILENCE else "word"
            n = repeats[speaker, label] = repeats.get((speaker, label), -1) + 1
            name = f"{label}/{hashes[speaker]}_nohash_{n}.wav"
            jobs.append(
                _Job(
                    partial_test / name,
                    kind,
                    word,
                    voices[speaker],
                    f"{seed}/test/{name}",
                    recording,
                )
            )

    for folder in {job.path.parent for job in jobs}:
        folder.mkdir(parents=True, exist_ok=True)
    _run(_write_clip, jobs, workers, preset, "speech commands")
    _write_background_noise(partial / BACKGROUND_NOISE, sizes.noise_seconds, seed)

    lists = {"validation": [], "testing": [], "training": []}
    for job in jobs:
        if job.path.is_relative_to(partial):
            relative = job.path.relative_to(partial).as_posix()
            lists[which_set(relative)].append(relative)
    for subset in ("validation", "testing"):
        (partial / f"{subset}_list.txt").write_text(
            "".join(f"{p}\n" for p in sorted(lists[subset]))
        )
    counts = ", ".join(f"{len(paths):,} {subset}" for subset, paths in lists.items())
    contents = f"{sizes.clips:,} clips of {sizes.speakers:,} speakers ({counts})"
    _write_readme(partial, dataset.name, preset, seed, contents)
    contents = f"{sizes.test12_clips:,} clips in 12 class folders"
    _write_readme(partial_test, test_set.name, preset, seed, contents)
    partial.rename(dataset)
    partial_test.rename(test_set)
    return dataset


def make_speaker_features(
    root: str | os.PathLike,
    preset: str = "tiny",
    seed: int = 0,
    workers: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write synthetic HW4 speaker features: speakers reading random sentences.

    The sentences are synthesised into a temporary `SPEAKER/*.wav` folder and turned into features
    by `build_speaker_features`, exactly as real audio would be.

    Returns:
        ROOT/speaker_features (the student folder); the test labels go to
        ROOT/speaker_features_hidden/test_labels.csv.
    """
    sizes = _preset(preset)
    root = Path(root)
    out_root, hidden_root = root / "speaker_features", root / "speaker_features_hidden"
    _prepare(out_root, overwrite)
    _prepare(hidden_root, overwrite)
    audio_root = root / ".speaker_audio.partial"
    shutil.rmtree(audio_root, ignore_errors=True)

    rng = random.Random(f"{seed}/speaker-features")
    voices = _voices(sizes.sf_speakers, rng)
    weights = [rng.uniform(0.6, 1.4) for _ in voices]  # speakers have more or fewer utterances
    per_speaker = _allocate(sizes.sf_utterances - 2 * len(voices), weights)
    jobs = []
    for i, (voice, count) in enumerate(zip(voices, per_speaker, strict=True)):
        speaker = f"id{10001 + i:05d}"  # VoxCeleb-style names
        (audio_root / speaker).mkdir(parents=True)
        for k in range(count + 2):  # every speaker keeps at least one training utterance
            text = random_sentence(rng, *sizes.sentence_words)
            name = f"{speaker}/{k:05d}.wav"
            jobs.append(_Job(audio_root / name, "sentence", text, voice, f"{seed}/{name}"))
    _run(_write_clip, jobs, workers, preset, "speaker audio")
    try:
        build_speaker_features(
            audio_root,
            _partial(out_root),
            test_fraction=sizes.sf_test / sizes.sf_utterances,
            hidden_root=_partial(hidden_root),
            seed=seed,
            progress=preset != "tiny",
        )
    finally:
        shutil.rmtree(audio_root, ignore_errors=True)
    # The marker by which the grader recognises the dataset and picks its accuracy tiers.
    (_partial(out_root) / "README.md").write_text(
        "# Synthetic twin of the HW4 speaker features\n\n"
        f"Not real recordings: eSpeak NG voices turned into 40-mel features by `kws.data.synthetic`\n"
        f"(preset {preset!r}, seed {seed}). Same layout as the real dataset.\n"
    )
    _partial(out_root).rename(out_root)
    _partial(hidden_root).rename(hidden_root)
    return out_root


def _preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; use one of {sorted(PRESETS)}.")
    return PRESETS[name]


def _prepare(folder: Path, overwrite: bool) -> None:
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{folder} exists; delete it or pass overwrite=True (--overwrite in the script)."
            )
        shutil.rmtree(folder)
    elif folder.exists():
        folder.rmdir()
    shutil.rmtree(_partial(folder), ignore_errors=True)


def _partial(folder: Path) -> Path:
    """Where `folder` is written; renamed at the end, so an interrupted run leaves no half folder."""
    return folder.with_name(f".{folder.name}.partial")


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainders get the rest)."""
    shares = [total * w / sum(weights) for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _speaker_hashes(count: int, in_dataset: int, rng: random.Random) -> list[str]:
    """`count` distinct 8-hex-digit speaker hashes; of the first `in_dataset`, 10 % fall in
    validation and 10 % in testing under the hash rule, the rest in training."""
    wanted = {"validation": round(0.1 * in_dataset), "testing": round(0.1 * in_dataset)}
    wanted["training"] = in_dataset - wanted["validation"] - wanted["testing"]
    hashes: list[str] = []
    while len(hashes) < in_dataset:
        candidate = f"{rng.getrandbits(32):08x}"
        subset = which_set(f"{candidate}_nohash_0.wav")
        if wanted[subset] > 0 and candidate not in hashes:
            wanted[subset] -= 1
            hashes.append(candidate)
    rng.shuffle(hashes)
    while len(hashes) < count:  # speakers of the separate 12-class test set
        candidate = f"{rng.getrandbits(32):08x}"
        if candidate not in hashes:
            hashes.append(candidate)
    return hashes


def _voices(count: int, rng: random.Random, accents: dict[str, float] | None = None) -> list[Voice]:
    """`count` distinct speakers: accent (drawn with the weights `accents`, language -> weight;
    default: every English accent alike), variant, pitch 20-80, rate 120-220, range 30-80."""
    voices: dict[Voice, None] = {}
    while len(voices) < count:
        voice = Voice(
            language=(
                rng.choice(ENGLISH_LANGUAGES)
                if accents is None
                else rng.choices(list(accents), list(accents.values()))[0]
            ),
            variant=rng.choice(HUMAN_VARIANTS),
            pitch=rng.randint(20, 80),
            rate=rng.randint(120, 220),
            pitch_range=rng.randint(30, 80),
        )
        voices[voice] = None
    return list(voices)


@dataclass(frozen=True)
class _Job:
    """One file to write: a spoken word or sentence, or one second of noise ("silence")."""

    path: Path
    kind: str  # "word", "sentence" or "silence"
    text: str
    voice: Voice
    seed: str  # seeds every random choice made for this file, whichever process makes it
    recording: Recording = Recording()  # how words are recorded (sentences ignore it)


def _write_clip(job: _Job) -> None:
    """Make one clip and write it as a 16-bit WAV."""
    rng = random.Random(job.seed)
    noise_rng = np.random.default_rng(rng.getrandbits(64))
    if job.kind == "silence":
        noise = rng.choice(list(BACKGROUND_NOISES.values()))(CLIP_SAMPLES, noise_rng)
        return _write_wav(job.path, noise * rng.uniform(0.02, 0.4))
    if job.kind == "sentence":
        return _write_wav(job.path, _sentence_clip(job, rng, noise_rng))
    return _write_wav(job.path, _word_clip(job, rng, noise_rng))


def _word_clip(job: _Job, rng: random.Random, noise_rng: np.random.Generator) -> np.ndarray:
    """One spoken word (S,), S <= 16,000, recorded under conditions drawn from `job.recording`."""
    settings = job.recording
    voice = job.voice.jitter(rng)
    # A shorter or longer vocal tract: synthesise at rate / factor, then speed up by factor, so
    # that only the frequencies move.
    factor = rng.uniform(*settings.vocal_tract)
    voice = replace(voice, rate=min(450, max(80, round(voice.rate / factor))))
    text = job.text + rng.choice(_ENDINGS)  # statement, question or exclamation intonation
    speech = warp_vocal_tract(trim_silence(synthesize(text, voice)).numpy(), factor)
    speech = record(speech, settings, rng)
    speech = speech * (rng.uniform(*settings.peak) / (np.abs(speech).max() + 1e-9))
    # Most clips last 1 s; like the real ones, some are shorter.
    length = CLIP_SAMPLES if rng.random() < 0.9 else rng.randint(12_000, CLIP_SAMPLES - 1)
    length = max(length, min(CLIP_SAMPLES, speech.size + 800))
    speech = speech[:length]  # a long room echo is cut at the end of the clip
    clip = np.zeros(length, dtype=np.float32)
    offset = rng.randint(0, length - speech.size)
    clip[offset : offset + speech.size] = speech
    rms = np.sqrt(np.mean(speech**2)) + 1e-9
    return add_noise(clip, rms, rng.uniform(*settings.snr_db), noise_rng)


def _sentence_clip(job: _Job, rng: random.Random, noise_rng: np.random.Generator) -> np.ndarray:
    """One read sentence with 0.1-0.3 s of room noise around it. Sentences vary more than words:
    read on different days, into different microphones."""
    voice = job.voice.jitter(rng, pitch=8, rate=0.12, pitch_range=15)
    speech = trim_silence(synthesize(job.text, voice)).numpy()
    # The microphone: a random spectral tilt, y[n] = x[n] - c x[n-1].
    speech = speech - rng.uniform(-0.7, 0.7) * np.concatenate([[0.0], speech[:-1]])
    speech = speech * (rng.uniform(0.1, 0.9) / (np.abs(speech).max() + 1e-9))  # loudness
    length = speech.size + rng.randint(1_600, 4_800)
    clip = np.zeros(length, dtype=np.float32)
    offset = rng.randint(0, length - speech.size)
    clip[offset : offset + speech.size] = speech
    snr_db = rng.uniform(0.0, 25.0)
    rms = np.sqrt(np.mean(speech**2)) + 1e-9
    noise = coloured_noise(length, rng.uniform(0.0, 2.0), noise_rng)
    return clip + noise * (rms / 10 ** (snr_db / 20))


def _write_wav(path: Path, wave: np.ndarray) -> None:
    """16 kHz mono 16-bit PCM, with the standard library (soundfile syncs every file to disk,
    which is slower than synthesising it)."""
    samples = np.round(np.clip(wave, -1.0, 32767 / 32768) * 32768).astype("<i2")
    with wave_module.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(samples.tobytes())


def _write_background_noise(folder: Path, seconds: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in BACKGROUND_NOISES.items():
        noise_rng = np.random.default_rng(random.Random(f"{seed}/noise/{name}").getrandbits(64))
        _write_wav(folder / f"{name}.wav", make(seconds * SAMPLE_RATE, noise_rng))


def _write_readme(folder: Path, name: str, preset: str, seed: int, contents: str) -> None:
    (folder / "README.md").write_text(
        f"# Synthetic twin of Google Speech Commands ({name})\n\n"
        f"Not real recordings: every clip was spoken by the eSpeak NG synthesiser and mixed with\n"
        f"synthetic noise by `kws.data.synthetic` (preset {preset!r}, seed {seed}).\n"
        f"Contents: {contents}.\nSame layout as the real dataset; use it to test code offline.\n"
    )
    (folder / "LICENSE").write_text(
        "Synthetic data generated by the kws course kit; it contains no recordings of people\n"
        "and may be used, copied and changed without restriction.\n"
    )


def _run(work: Callable, jobs: list, workers: int | None, preset: str, what: str) -> None:
    """Apply `work` to every job, in `workers` processes (0 or 1: in this process)."""
    if workers is None:
        workers = 1 if preset == "tiny" else os.cpu_count() or 1
    bar = dict(total=len(jobs), desc=what, unit="clip", disable=preset == "tiny")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one clip is far too small to share among threads
    try:
        if workers <= 1:
            for job in tqdm(jobs, **bar):
                work(job)
            return
        # fork starts workers at once; macOS and Windows must spawn fresh interpreters instead.
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with context.Pool(workers, _single_thread) as pool:
            for _ in tqdm(pool.imap_unordered(work, jobs, chunksize=32), **bar):
                pass
    finally:
        torch.set_num_threads(threads)


def _single_thread() -> None:
    torch.set_num_threads(1)
