"""Google Speech Commands (v0.01 and v0.02): download, splits, label sets, and a Dataset of 1-s clips.

On disk (as extracted from the official archives; the synthetic twin writes the same layout):

    ROOT/speech_commands_v0.02/{WORD}/{SPEAKERHASH}_nohash_{N}.wav   35 word folders (30 in v0.01)
                              /_background_noise_/*.wav               6 long noise recordings
                              /validation_list.txt, testing_list.txt  official split (relative paths)
    ROOT/speech_commands_test_set_v0.02/{_silence_,_unknown_,yes,...}/*.wav   the 12-class test set

`SpeechCommands` lists its clips as `Clip` records in `.items` and loads one with `load_item`; the cache in
`kws.data.cache` builds its tensors from exactly these two.
"""

from __future__ import annotations

import copy
import os
import random
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import soundfile
import torch
from torch.utils.data import Dataset

from kws.data.audio import audio_files, load_wav, pad_or_trim
from kws.data.download import download, safe_extract
from kws.data.splits import EmptySplitError, split_clips
from kws.data.splits import which_set as which_set  # re-exported: part of this dataset's API

# The words and label sets: kws.data.words (torch-free), this module's names too.
from kws.data.words import BACKGROUND_NOISE as BACKGROUND_NOISE
from kws.data.words import CLIP_SAMPLES as CLIP_SAMPLES
from kws.data.words import KNOWN_WORDS_12 as KNOWN_WORDS_12
from kws.data.words import LABEL_SETS as LABEL_SETS
from kws.data.words import SAMPLE_RATE as SAMPLE_RATE
from kws.data.words import SILENCE as SILENCE
from kws.data.words import UNKNOWN as UNKNOWN
from kws.data.words import WORDS_V1 as WORDS_V1
from kws.data.words import WORDS_V2 as WORDS_V2
from kws.data.words import WORDS_V2_ONLY as WORDS_V2_ONLY

SUBSETS = ("training", "validation", "testing", "test12")


@dataclass(frozen=True)
class Archive:
    """One published archive: its file name, SHA-256 (None: not published) and size in bytes."""

    filename: str
    sha256: str | None
    size: int | None

    @property
    def folder(self) -> str:
        """The folder it is extracted to, beside the archive."""
        return self.filename.removesuffix(".tar.gz")


URL_BASE = "http://download.tensorflow.org/data"
ARCHIVES = {
    "v0.02": Archive(
        "speech_commands_v0.02.tar.gz",
        "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        2_428_923_189,
    ),
    "v0.01": Archive(
        "speech_commands_v0.01.tar.gz",
        "743935421bb51cccdb6bdd152e04c5c70274e935c82119ad7faeec31780d811d",
        None,
    ),
    "test_set_v0.02": Archive("speech_commands_test_set_v0.02.tar.gz", None, 112_563_277),
    "test_set_v0.01": Archive("speech_commands_test_set_v0.01.tar.gz", None, None),
}


def download_command(root: str | os.PathLike, version: str = "v0.02") -> str:
    """The shell command that downloads `version` into `root` (quoted in error messages)."""
    return f"python data_scripts/speech_commands.py download --version {version} --root {root}"


def download_speech_commands(
    root: str | os.PathLike,
    version: str = "v0.02",
    with_test_set: bool = True,
    url_base: str = URL_BASE,
    keep_archives: bool = False,
    progress: bool = True,
) -> dict[str, Path]:
    """Download and extract Speech Commands `version` (and its 12-class test set) into `root`.

    Folders already extracted are left alone; an archive already downloaded is not fetched again.

    Args:
        root: parent folder; gets `speech_commands_{version}/` and `speech_commands_test_set_{version}/`.
        version: "v0.02" or "v0.01".
        with_test_set: also fetch the separate 12-class test set.
        url_base: where the archives are (a mirror, or a local server in tests).
        keep_archives: keep the .tar.gz files after extraction (else they are deleted).
        progress: show progress bars.

    Returns:
        {"dataset": Path, "test_set": Path} (no "test_set" without `with_test_set`).
    """
    if version not in ("v0.01", "v0.02"):
        raise ValueError(f"unknown Speech Commands version {version!r}; use 'v0.02' or 'v0.01'")
    root = Path(root)
    wanted = {"dataset": ARCHIVES[version]}
    if with_test_set:
        wanted["test_set"] = ARCHIVES[f"test_set_{version}"]
    folders = {}
    for key, archive in wanted.items():
        folder = root / archive.folder
        if not folder.is_dir():
            tarball = download(
                f"{url_base.rstrip('/')}/{archive.filename}",
                root / archive.filename,
                sha256=archive.sha256,
                size=archive.size,
                progress=progress,
            )
            safe_extract(tarball, folder)
            if not keep_archives:
                tarball.unlink()
        folders[key] = folder
    return folders


@dataclass(frozen=True)
class Clip:
    """One example: samples [offset, offset + 16000) of `path`, times `gain`, zero-padded to 1 s.

    Word clips have offset 0 and gain 1.0 (the whole file). Silence clips cut from
    `_background_noise_` carry that recording's path, the window's first sample and the random gain;
    their speaker is "". `label` indexes the dataset's `.classes`.
    """

    path: Path
    label: int
    speaker: str
    offset: int = 0
    gain: float = 1.0


def load_item(item: Clip) -> torch.Tensor:
    """The float32 waveform (16000,) of a `Clip`. Errors name the file (see `load_wav`)."""
    wave = load_wav(item.path, SAMPLE_RATE, offset=item.offset, num_samples=CLIP_SAMPLES)
    if item.gain != 1.0:
        wave = wave * item.gain
    return pad_or_trim(wave, CLIP_SAMPLES)


def speaker_of(filename: str) -> str:
    """The speaker hash of `SPEAKER_nohash_N.wav` (the file's stem when there is no `_nohash_`)."""
    name = os.path.basename(filename)
    return name.split("_nohash_")[0] if "_nohash_" in name else name.split(".")[0]


def detect_version(root: str | os.PathLike) -> str:
    """ "v0.01" or "v0.02": from the folder's name when it says (speech_commands_v0.02), else
    "v0.02" if any v0.02-only word folder is in `root`, "v0.01" if only v0.01 words are."""
    root = Path(root)
    named = re.search(r"v0\.0[12]", root.name)
    if named:
        return named.group()
    if any((root / word).is_dir() for word in WORDS_V2_ONLY):
        return "v0.02"
    if any((root / word).is_dir() for word in WORDS_V1):
        return "v0.01"
    raise ValueError(f"{root} holds none of the Speech Commands word folders (yes/, no/, ...)")


def background_noise_files(root: str | os.PathLike) -> list[Path]:
    """The WAV/FLAC recordings in ROOT/_background_noise_/ (sorted), or [] when it is absent."""
    return audio_files(Path(root) / BACKGROUND_NOISE)


def load_background_noise(root: str | os.PathLike) -> list[torch.Tensor]:
    """Every `_background_noise_` recording as a float32 tensor (S_i,), for `WaveAugment`."""
    files = background_noise_files(root)
    if not files:
        raise FileNotFoundError(f"{Path(root) / BACKGROUND_NOISE} has no .wav or .flac recordings")
    return [load_wav(f, SAMPLE_RATE) for f in files]


class SpeechCommands(Dataset):
    """Speech Commands clips of one subset under one label set, each padded or cut to 1 s.

    Subsets: "training", "validation", "testing" come from `validation_list.txt` / `testing_list.txt`
    when the folder has them (the same files as `torchaudio.datasets.SPEECHCOMMANDS`; training is every
    other clip), from the TF hash split (`which_set`) when it has neither; "test12" is the separate
    12-class test set (labels="12" only), read as published.

    Label sets: "35" (all v0.02 words) and "30" (the v0.01 words; v0.02's five extra words are left
    out), classes sorted alphabetically; "12": `_silence_`, `_unknown_`, then yes no up down left right
    on off stop go. For "12", `_unknown_` is a seeded random sample of the other words' clips in the
    split, `round(unknown_fraction * K)` of them (or all, if fewer), and `_silence_` is
    `round(silence_fraction * K)` one-second windows of random `_background_noise_` recordings at a
    random gain in [0, 1), where K is the number of known-word clips in the split. The fractions
    apply only to "12" and the "training"/"validation"/"testing" subsets; the same seed always gives
    the same items.

    Args:
        root: the extracted folder, e.g. DATA/speech_commands_v0.02. Clips are `WORD/*.wav` or
            `*.flac`; other files there are skipped with a warning.
        subset: "training", "validation", "testing" or "test12".
        labels: "35", "30" or "12".
        silence_fraction: size of `_silence_` relative to the known words (labels "12").
        unknown_fraction: size of `_unknown_` relative to the known words (labels "12").
        seed: seeds the choice of unknown clips and silence windows (each subset draws its own).
        test_set_root: the 12-class test set folder; default the sibling
            `speech_commands_test_set_{version}`.
        version: "v0.02" or "v0.01"; default from the folder's name (speech_commands_v0.02), or,
            when the name does not say, from its word folders (`detect_version`).

    Raises:
        EmptySplitError: the subset holds no clips (the message says why: no clips, the lists,
            or the hash rule). A hash split that leaves most clips outside training warns.

    Attributes:
        classes: class names; a label is an index into this list.
        items: list of `Clip` (path, label, speaker, offset, gain), sorted words first, then silence.
        version: "v0.01" or "v0.02".

    Item `i` is `(waveform float32 (16000,), label int)`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        subset: str = "training",
        labels: str = "35",
        silence_fraction: float = 0.1,
        unknown_fraction: float = 0.1,
        seed: int = 0,
        test_set_root: str | os.PathLike | None = None,
        version: str | None = None,
    ) -> None:
        if version not in (None, "v0.01", "v0.02"):
            raise ValueError(f"version={version!r}; use 'v0.02', 'v0.01' or None (detect it)")
        if subset not in SUBSETS:
            raise ValueError(f"subset={subset!r}; use one of {', '.join(SUBSETS)}")
        if labels not in LABEL_SETS:
            raise ValueError(f"labels={labels!r}; use '35', '30' or '12'")
        if silence_fraction < 0 or unknown_fraction < 0:
            raise ValueError(
                f"silence_fraction={silence_fraction}, unknown_fraction={unknown_fraction}: "
                "fractions must be >= 0"
            )
        self.root = Path(root)
        _check_folder(self.root)
        self.version = version or detect_version(self.root)
        if labels == "35" and self.version == "v0.01":
            raise ValueError(
                f"{self.root} is Speech Commands v0.01, which has 30 words: use labels='30'"
                + ("" if version else " (or version='v0.02' if it is v0.02)")
            )
        if subset == "test12" and labels != "12":
            raise ValueError(
                f"subset='test12' is the 12-class test set: use labels='12', not {labels!r}"
            )
        self.subset, self.labels, self.seed = subset, labels, seed
        self.classes = list(LABEL_SETS[labels])
        if subset == "test12":
            default = self.root.parent / ARCHIVES[f"test_set_{self.version}"].folder
            self.items = _test_set_items(Path(test_set_root or default), self.classes, self.version)
            return
        words = WORDS_V1 if labels == "30" or self.version == "v0.01" else WORDS_V2
        folders = {word: self.root / word for word in words}
        index = {name: i for i, name in enumerate(self.classes)}

        def clip(word: str, name: str, label: str) -> Clip:
            return Clip(folders[word] / name, index[label], name.split("_nohash_")[0])

        absent = [word for word in words if not folders[word].is_dir()]
        if absent and labels != "12":
            warnings.warn(
                f"{self.root} has no folder for {len(absent)} of the {len(words)} words "
                f"({', '.join(absent[:5])}{', ...' if len(absent) > 5 else ''}): their classes get "
                "no clips."
                + (
                    " For the 30 v0.01 words use labels='30'."
                    if set(absent) <= set(WORDS_V2_ONLY)
                    else ""
                ),
                stacklevel=2,
            )
        clips = split_clips(self.root, words, subset)  # [(word, file name)], sorted
        if labels != "12":
            self.items = [clip(word, name, word) for word, name in clips]
            return
        rng = random.Random(f"{seed}/{subset}")  # str seeds are hashed the same on every run
        known = [(word, name) for word, name in clips if word in KNOWN_WORDS_12]
        others = [(word, name) for word, name in clips if word not in KNOWN_WORDS_12]
        n_unknown = min(round(unknown_fraction * len(known)), len(others))
        unknown = rng.sample(others, n_unknown)
        self.items = [clip(word, name, word) for word, name in known]
        self.items += [clip(word, name, UNKNOWN) for word, name in unknown]
        self.items.sort(key=lambda item: (item.path.parent.name, item.path.name))
        n_silence = round(silence_fraction * len(known))
        self.items += _silence_clips(self.root, n_silence, index[SILENCE], rng)
        if not known:
            raise EmptySplitError(
                f"{self.root}: the {subset!r} split has {len(clips):,} clips but none of the ten "
                f"keywords ({', '.join(KNOWN_WORDS_12)}), so labels='12' has nothing to learn; "
                "use labels='35' or '30', or add those word folders."
            )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        item = self.items[i]
        return load_item(item), item.label

    def with_labels(self, labels: Sequence[str | None]) -> SpeechCommands:
        """The same clips under the 12-class label set, labelled by `labels` (one per item).

        How notebook 01 builds its 12 classes from the student's own choice: `labels[i]` is item
        i's new class, one of the ten keywords or "_unknown_", and None drops the item.
        `_silence_` comes from noise instead (`kws.data.cache.add_silence`). Items keep their
        order; the copy's `labels` is "12", so `cache_clips` caches it as a 12-class split.

        Raises:
            ValueError: `labels` has not one entry per item, or an entry is not a 12-class word.
        """
        if len(labels) != len(self.items):
            raise ValueError(
                f"{len(labels):,} labels for the {len(self.items):,} clips of {self!r}: give one "
                "per clip (None drops it)"
            )
        classes = LABEL_SETS["12"]
        index = {name: i for i, name in enumerate(classes) if name != SILENCE}
        bad = next((label for label in labels if label is not None and label not in index), SILENCE)
        if bad != SILENCE:
            raise ValueError(
                f"label {bad!r} is not one of the ten keywords or {UNKNOWN!r}; label the other "
                "words' clips _unknown_ or None (dropped)"
            )
        relabelled = copy.copy(self)
        relabelled.labels, relabelled.classes = "12", list(classes)
        relabelled.items = [
            replace(item, label=index[label])
            for item, label in zip(self.items, labels, strict=True)
            if label is not None
        ]
        return relabelled

    def counts(self) -> dict[str, int]:
        """Number of items per class name, in class order."""
        counts = dict.fromkeys(self.classes, 0)
        for item in self.items:
            counts[self.classes[item.label]] += 1
        return counts

    def __repr__(self) -> str:
        return (
            f"SpeechCommands({str(self.root)!r}, subset={self.subset!r}, labels={self.labels!r}, "
            f"{len(self)} clips, {self.version})"
        )


def _check_folder(root: Path) -> None:
    """Raise FileNotFoundError with the download command when `root` is not a dataset folder."""
    if root.is_dir():
        for archive in (ARCHIVES["v0.02"], ARCHIVES["v0.01"]):
            if (root / archive.folder).is_dir():
                raise ValueError(
                    f"{root} is the download folder; pass root={root / archive.folder}"
                )
        return
    version = "v0.01" if "v0.01" in root.name else "v0.02"
    raise FileNotFoundError(
        f"Speech Commands folder {root} not found. Download it with\n"
        f"    {download_command(root.parent, version)}\n"
        f"or make the synthetic twin with data_scripts/synthesize.py."
    )


def _silence_clips(root: Path, count: int, label: int, rng: random.Random) -> list[Clip]:
    """`count` random one-second windows of the background-noise recordings at random gains."""
    if count == 0:
        return []
    files = background_noise_files(root)
    if not files:
        raise FileNotFoundError(
            f"{root / BACKGROUND_NOISE} has no .wav/.flac recordings to cut `_silence_` clips from; "
            "restore it, or pass silence_fraction=0"
        )
    frames = []
    for f in files:
        frames.append(soundfile.info(str(f)).frames)
        if frames[-1] < CLIP_SAMPLES:
            raise ValueError(f"{f}: {frames[-1]} samples, shorter than the 1-s silence window")
    clips = []
    for _ in range(count):
        k = rng.randrange(len(files))
        offset = rng.randrange(frames[k] - CLIP_SAMPLES + 1)
        clips.append(Clip(files[k], label, "", offset=offset, gain=rng.random()))
    return clips


def _test_set_items(folder: Path, classes: list[str], version: str) -> list[Clip]:
    """Every clip of the 12-class test set, sorted by class then name."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"12-class test set {folder} not found. Download it (with the dataset) with\n"
            f"    {download_command(folder.parent, version)}"
        )
    items = []
    for label, name in enumerate(classes):
        if not (folder / name).is_dir():
            raise FileNotFoundError(f"{folder / name} is missing; extract the test set again")
        for path in audio_files(folder / name):
            items.append(Clip(path, label, speaker_of(path.name)))
    return items
