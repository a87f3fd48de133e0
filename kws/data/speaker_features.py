"""HW4 speaker features: 40-dim log-mel frames of speakers, in the homework's folder format.

    ROOT/metadata.json  {"n_mels": 40, "speakers": {SPEAKER: [{"feature_path": "uttr-....pt",
                                                               "mel_len": INT}, ...]}}
    ROOT/mapping.json   {"speaker2id": {SPEAKER: INT}, "id2speaker": {"0": SPEAKER, ...}}
    ROOT/testdata.json  {"n_mels": 40, "utterances": [{"feature_path": ..., "mel_len": INT}, ...]}
    ROOT/uttr-*.pt      float32 tensor (mel_len, 40) saved with torch.save

`SpeakerFeatures` reads it (train/valid split, random crops, whole test utterances),
`collate_features` pads a batch with -20, `write_predictions_csv` writes the `Id,Category` file, and
`build_speaker_features` writes the format from folders of speaker-labelled audio.

Letters used in shapes: B batch, T frames, F = n_mels = 40.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import random
import warnings
from pathlib import Path

import soundfile
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from kws.compat import torchaudio  # checked: says what to install if it fails
from kws.data.features import LogMel
from kws.data.speaker_format import check_features, numpy_features_error, read_speaker_folder

N_MELS = 40
_BATCH = 32  # utterances per LogMel call in build_speaker_features
PAD_VALUE = -20.0  # log of a tiny energy: what padded frames look like to the model
SAMPLE_RATE = 16_000


class SpeakerFeatures(Dataset):
    """One split of an HW4 speaker-features folder.

    Args:
        root: the folder holding metadata.json, mapping.json, testdata.json and uttr-*.pt.
        split: "train" or "valid" (a seeded split of metadata.json) or "test" (testdata.json).
        segment_len: frames of the random crop taken from each training utterance; shorter
            utterances are kept whole (`collate_features` pads them).
        valid_fraction: share of the labelled utterances held out for validation.
        seed: seeds the train/valid split (the crops use torch's global generator).

    Attributes:
        items: one (feature_path, mel_len, speaker id) per utterance, speaker id -1 for "test".
        speakers: speaker names by id (from mapping.json); speaker2id: the reverse map.
        n_mels: feature bins F (metadata.json's "n_mels").

    Items: (features (T, F) float32, speaker id int) for train/valid,
    (features (T, F), feature_path str) for test. T = segment_len for long training utterances,
    the whole utterance otherwise. Feature files are read (and checked) when an item is asked for.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        segment_len: int = 128,
        valid_fraction: float = 0.1,
        seed: int = 0,
    ):
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split={split!r}; use 'train', 'valid' or 'test'.")
        if not 0.0 <= valid_fraction < 1.0:
            raise ValueError(f"valid_fraction={valid_fraction} must be in [0, 1).")
        if segment_len < 1:
            raise ValueError(f"segment_len={segment_len} must be at least 1 frame.")
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"Speaker-feature folder {self.root} not found; build one with "
                f"`python data_scripts/speaker_features.py build` or kws.data.synthetic."
            )
        self.split, self.segment_len = split, segment_len
        # Every JSON file is read and cross-checked here, so bad data fails now, naming the file.
        folder = read_speaker_folder(self.root, need_test=split == "test")
        self.n_mels, self.speakers, self.speaker2id = (
            folder.n_mels,
            folder.speakers,
            folder.speaker2id,
        )
        # One record per utterance: (feature_path, mel_len, speaker id, or -1 when unlabelled).
        if split == "test":
            self.items = [(path, mel_len, -1) for path, mel_len in folder.test]
        else:
            labelled = folder.labelled
            order = torch.randperm(len(labelled), generator=torch.Generator().manual_seed(seed))
            num_valid = round(valid_fraction * len(labelled))
            chosen = order[num_valid:] if split == "train" else order[:num_valid]
            self.items = [labelled[i] for i in sorted(chosen.tolist())]
            if split == "train" and not self.items:
                raise ValueError(
                    f"{self.root}: the 'train' split is empty: valid_fraction={valid_fraction} "
                    f"takes all {len(labelled)} labelled utterances; use a smaller valid_fraction."
                )
        missing = [path for path, _, _ in self.items if not (self.root / path).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} feature files listed in {self.root} are missing, e.g. "
                f"{self.root / missing[0]}; copy the whole folder again."
            )

    @property
    def num_speakers(self) -> int:
        return len(self.speakers)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | str]:
        path, mel_len, speaker = self.items[index]
        features = load_features(self.root / path, self.n_mels, mel_len)  # (T, F)
        if self.split == "train" and mel_len > self.segment_len:
            start = int(torch.randint(mel_len - self.segment_len + 1, ()))
            features = features[start : start + self.segment_len]  # (segment_len, F)
        return features, (path if self.split == "test" else speaker)

    def __repr__(self) -> str:
        return (
            f"SpeakerFeatures({str(self.root)!r}, split={self.split!r}: {len(self)} utterances, "
            f"{self.num_speakers} speakers)"
        )


def load_features(path: Path, n_mels: int = N_MELS, mel_len: int | None = None) -> torch.Tensor:
    """One uttr-*.pt file as float32 (mel_len, n_mels); errors name the file and what is wrong."""
    try:
        features = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as error:
        # weights_only refuses anything but tensors and plain containers; its message is long
        # and about security, so say what the file holds instead.
        if "numpy" in str(error):
            raise numpy_features_error(path) from None
        raise ValueError(
            f"{path} holds a pickled object that is not a tensor; save each utterance with "
            f"torch.save(features, path), features a float32 tensor (mel_len, {n_mels})."
        ) from None
    except Exception as error:
        raise ValueError(
            f"{path} is not a readable torch.save file ({str(error)[:200]}); the file is truncated "
            "or corrupt: copy it again."
        ) from error
    return check_features(features, path, n_mels, mel_len)


def collate_features(
    batch: list[tuple[torch.Tensor, int | str]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | list[str]]:
    """Pad a list of (features (T_i, F), target) items with -20.

    Returns:
        x (B, T, F) with T = max T_i, lengths int64 (B,), and the targets: int64 (B,) speaker ids,
        or the list of feature paths for test items.
    """
    features = [f for f, _ in batch]
    lengths = torch.tensor([f.shape[0] for f in features], dtype=torch.int64)  # (B,)
    x = torch.nn.utils.rnn.pad_sequence(features, batch_first=True, padding_value=PAD_VALUE)
    targets = [t for _, t in batch]
    if all(isinstance(t, str) for t in targets):
        return x, lengths, targets
    return x, lengths, torch.tensor(targets, dtype=torch.int64)


def write_predictions_csv(
    path: str | os.PathLike, ids: list[str], speaker_names: list[str]
) -> Path:
    """Write the `Id,Category` CSV: one row per test feature_path and its predicted speaker."""
    if len(ids) != len(speaker_names):
        raise ValueError(f"{len(ids)} ids but {len(speaker_names)} predictions; give one per id.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Id", "Category"])
        writer.writerows(zip(ids, speaker_names, strict=True))
    return path


def build_speaker_features(
    audio_root: str | os.PathLike,
    out_root: str | os.PathLike,
    test_fraction: float = 0.1,
    hidden_root: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Turn `audio_root/SPEAKER/*.wav|*.flac` into an HW4 folder at `out_root`.

    Features: 40 log-mel bins, 25 ms window (n_fft 400), 10 ms hop, at 16 kHz (other rates are
    resampled, channels averaged). A seeded `test_fraction` of the utterances, each speaker keeping
    at least one, goes to testdata.json without labels; their labels go to
    `hidden_root/test_labels.csv` (`Id,Category`), by default a sibling `OUT_ROOT_hidden` folder,
    which must stay away from students. Feature files get random names (seeded), so a name says
    nothing about its speaker.

    Returns:
        out_root.
    """
    audio_root, out_root = Path(audio_root), Path(out_root)
    hidden_root = (
        Path(hidden_root) if hidden_root else out_root.with_name(out_root.name + "_hidden")
    )
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction} must be in [0, 1).")
    speakers = (
        sorted(p.name for p in audio_root.iterdir() if p.is_dir()) if audio_root.is_dir() else []
    )
    files, skipped = {}, []
    for speaker in speakers:
        for path in sorted((audio_root / speaker).iterdir()):
            if path.suffix.lower() in (".wav", ".flac") and path.is_file():  # .WAV from Windows too
                files.setdefault(speaker, []).append(path)
            elif not path.name.startswith("."):  # .DS_Store and the like are not worth a word
                skipped.append(f"{speaker}/{path.name}")
    if not files:
        raise FileNotFoundError(f"No SPEAKER/*.wav or *.flac files under {audio_root}.")
    if skipped:
        warnings.warn(
            f"{audio_root}: skipped {len(skipped)} entries that are not .wav or .flac files "
            f"(e.g. {', '.join(skipped[:3])}); convert them to WAV or FLAC to include them",
            stacklevel=2,
        )

    rng = random.Random(seed)
    utterances = [(s, path) for s, paths in files.items() for path in paths]
    names = [f"uttr-{rng.getrandbits(128):032x}.pt" for _ in utterances]
    is_test = _choose_test(utterances, round(test_fraction * len(utterances)), rng)

    out_root.mkdir(parents=True, exist_ok=True)
    hidden_root.mkdir(parents=True, exist_ok=True)
    logmel = LogMel(sample_rate=SAMPLE_RATE, n_fft=400, hop_length=160, n_mels=N_MELS)
    metadata = {"n_mels": N_MELS, "speakers": {s: [] for s in files}}
    test, labels = [], []
    bar = tqdm(total=len(utterances), desc="features", unit="uttr", disable=not progress)
    for start in range(0, len(utterances), _BATCH):
        batch = range(start, min(start + _BATCH, len(utterances)))
        for i, features in zip(
            batch, _log_mels([utterances[i][1] for i in batch], logmel), strict=True
        ):
            torch.save(features, out_root / names[i])
            record = {"feature_path": names[i], "mel_len": features.shape[0]}
            if is_test[i]:
                test.append(record)
                labels.append((names[i], utterances[i][0]))
            else:
                metadata["speakers"][utterances[i][0]].append(record)
        bar.update(len(batch))
    bar.close()
    order = list(range(len(test)))
    rng.shuffle(order)  # test utterances in no particular order (not grouped by speaker)
    mapping = {
        "speaker2id": {s: i for i, s in enumerate(files)},
        "id2speaker": {str(i): s for i, s in enumerate(files)},
    }
    _write_json(out_root / "metadata.json", metadata)
    _write_json(out_root / "mapping.json", mapping)
    _write_json(
        out_root / "testdata.json", {"n_mels": N_MELS, "utterances": [test[i] for i in order]}
    )
    ids, names = [labels[i][0] for i in order], [labels[i][1] for i in order]
    write_predictions_csv(hidden_root / "test_labels.csv", ids, names)
    return out_root


def _choose_test(utterances: list[tuple[str, Path]], count: int, rng: random.Random) -> list[bool]:
    """Mark `count` random utterances as test, leaving every speaker at least one."""
    left = {}
    for speaker, _ in utterances:
        left[speaker] = left.get(speaker, 0) + 1
    is_test = [False] * len(utterances)
    order = list(range(len(utterances)))
    rng.shuffle(order)
    for i in order:
        if count == 0:
            break
        speaker = utterances[i][0]
        if left[speaker] > 1:
            is_test[i], left[speaker], count = True, left[speaker] - 1, count - 1
    return is_test


def _log_mels(paths: list[Path], logmel: LogMel) -> list[torch.Tensor]:
    """Features (T_i, F) of several files, computed as one zero-padded batch (much faster than
    one by one; LogMel pads with zeros itself, so the frames are the same)."""
    waves = [_load_audio(path) for path in paths]
    lengths = torch.tensor([wave.numel() for wave in waves])  # (B,)
    with torch.no_grad():
        batch = logmel(torch.nn.utils.rnn.pad_sequence(waves, batch_first=True))  # (B, T, F)
    frames = logmel.num_frames(lengths)  # (B,)
    return [batch[i, : frames[i]].clone() for i in range(len(waves))]  # clone: save only these


def _load_audio(path: Path) -> torch.Tensor:
    """Mono float32 (S,) at 16 kHz."""
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as error:
        raise ValueError(f"Cannot read audio file {path}: {error}") from error
    wave = torch.from_numpy(samples).mean(dim=1)  # (S,)
    if rate != SAMPLE_RATE:
        wave = torchaudio.functional.resample(wave, rate, SAMPLE_RATE)
    return wave


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
