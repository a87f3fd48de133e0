"""Decode a dataset once into a few big tensors, cached on disk beside the data.

Reading 100,000 small WAV files (or 60,000 small ``.pt`` files) every epoch is what keeps a GPU
waiting. Here each dataset is decoded once, in parallel, into:

- :class:`ClipCache`: all clips of a Speech Commands split as one int16 tensor (N, S) with labels
  and speaker ids alongside (int16 is how the WAVs store them: exact, and half the memory of float);
- :class:`FeatureCache`: all utterances of an HW4 speaker-features folder as one float tensor of
  frames (sum of T, F) with offsets and lengths (utterance i is ``frames[offsets[i]:][:lengths[i]]``);
- :class:`NoiseBank`: the ``_background_noise_`` recordings, float32, concatenated.

Each is saved with ``torch.save`` in ``<data folder>/.kws_cache/`` and memory-mapped on load. The file
name holds a key: a hash of the file list (paths, sizes, modification times), the settings and the
cache version, so editing the data or the settings builds a new cache instead of reading a stale
one. A corrupt cache file is rebuilt with a warning; a read-only data folder falls back to
``$KWS_CACHE_DIR`` or ``~/.cache/kws``.

Letters used in shapes: N clips or utterances, S samples, F mel bins.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from kws.data.audio import load_wav
from kws.data.speech_commands import CLIP_SAMPLES, SpeechCommands, load_item

CACHE_VERSION = 1
CACHE_DIR_NAME = ".kws_cache"
_CHUNK = 256  # items decoded per task of the thread pool


def cache_dir_for(data_dir: str | os.PathLike) -> Path:
    """The folder where caches of ``data_dir`` live; created if needed.

    ``$KWS_CACHE_DIR/<name>-<hash>`` when that variable is set, else ``data_dir/.kws_cache`` when
    the data folder is writable, else ``~/.cache/kws/<name>-<hash>`` (``$XDG_CACHE_HOME`` is honoured)
    with a warning. ``<hash>`` tells apart data folders with the same name.
    """
    data_dir = Path(data_dir).resolve()
    tag = f"{data_dir.name}-{hashlib.sha256(str(data_dir).encode()).hexdigest()[:8]}"
    if os.environ.get("KWS_CACHE_DIR"):
        return _writable(Path(os.environ["KWS_CACHE_DIR"]) / tag)
    beside = _writable(data_dir / CACHE_DIR_NAME)
    if beside is not None:
        return beside
    user = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kws" / tag
    if _writable(user) is None:
        raise PermissionError(
            f"cannot write a cache beside {data_dir} nor in {user}; set KWS_CACHE_DIR to a "
            "writable folder"
        )
    warnings.warn(
        f"{data_dir} is read-only: caching its decoded data in {user} instead", stacklevel=3
    )
    return user


def _chosen_or_default(cache_dir: str | os.PathLike | None, data_dir: Path) -> Path:
    if cache_dir is None:
        return cache_dir_for(data_dir)
    if _writable(Path(cache_dir)) is None:
        raise PermissionError(f"cache_dir={str(cache_dir)!r} is not a writable folder")
    return Path(cache_dir)


def _writable(folder: Path) -> Path | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return folder
    except OSError:
        return None


def cache_key(settings: dict, files: Sequence[Path]) -> str:
    """A short hash of the cache version, ``settings`` (JSON-able) and each file's path, size, mtime."""
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, settings], sort_keys=True).encode())
    for path in files:
        stat = os.stat(path)
        digest.update(f"\n{path}\t{stat.st_size}\t{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def cached(
    folder: Path, name: str, key: str, build: Callable[[], dict[str, object]]
) -> dict[str, object]:
    """Load ``folder/name-key.pt`` (memory-mapped), or ``build()`` it, save it and return it.

    A file that cannot be read is rebuilt with a warning. Caches of the same ``name`` with another
    key (stale: the data or the settings changed) are deleted once the new one is saved.
    """
    path = folder / f"{name}-{key}.pt"
    if path.exists():
        try:
            payload = torch.load(path, mmap=True, weights_only=True)
            if payload.get("version") == CACHE_VERSION and payload.get("key") == key:
                return payload
            warnings.warn(f"cache {path} does not match its name; rebuilding it", stacklevel=3)
        except Exception as err:  # any unreadable file: truncated, garbage, an old torch format
            warnings.warn(f"cache {path} is corrupt ({err}); rebuilding it", stacklevel=3)
    payload = {**build(), "version": CACHE_VERSION, "key": key}
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        torch.save(payload, partial)
        os.replace(partial, path)  # atomic: a reader never sees a half-written cache
    finally:
        partial.unlink(missing_ok=True)
    for stale in folder.glob(f"{name}-*.pt"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return torch.load(path, mmap=True, weights_only=True)


def _parallel(
    fn: Callable[[int, int], None], total: int, desc: str, num_workers: int | None
) -> None:
    """Call ``fn(start, stop)`` on chunks of ``range(total)`` in a thread pool, with a tqdm bar.

    Threads suffice: libsndfile and file reads release the GIL, and numbers are written in place.
    """
    workers = num_workers or min(32, os.cpu_count() or 1)
    chunks = [(start, min(start + _CHUNK, total)) for start in range(0, total, _CHUNK)]
    with ThreadPoolExecutor(workers) as pool, tqdm(total=total, desc=desc, unit="item") as bar:
        futures = [pool.submit(fn, start, stop) for start, stop in chunks]
        for future, (start, stop) in zip(futures, chunks, strict=True):
            future.result()
            bar.update(stop - start)


def _to_device(tensor: torch.Tensor, device: str | torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; to CUDA through pinned memory, asynchronously (one big copy)."""
    device = torch.device(device)
    if tensor.device == device or (device.type == tensor.device.type and device.index is None):
        return tensor
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


_CLIP_TENSORS = ("waves", "gains", "labels", "speakers")
_FEATURE_TENSORS = ("frames", "offsets", "lengths", "labels")


@dataclass(frozen=True)
class ClipCache:
    """All clips of one Speech Commands split, decoded, as int16 samples.

    Clip i as float32 is ``waves[i] * (gains[i] / 32768)`` (:meth:`clip`), bit for bit the waveform
    ``SpeechCommands`` returns: the samples are the WAV's 16-bit integers, and the gain of a silence
    clip (cut from background noise) is kept apart instead of being rounded into them.

    Attributes:
        waves: (N, S) int16 samples, each clip padded or cut to S = 16000.
        gains: (N,) float32 gain of each clip (1.0 for word clips).
        labels: (N,) int64 class indices into ``classes``.
        speakers: (N,) int64 indices into ``speaker_names``, -1 for silence clips.
        classes: the dataset's class names.
        speaker_names: the speaker hashes, sorted.
    """

    waves: torch.Tensor
    gains: torch.Tensor
    labels: torch.Tensor
    speakers: torch.Tensor
    classes: tuple[str, ...]
    speaker_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: str | torch.device) -> ClipCache:
        """The same clips with every tensor on ``device`` (itself when already there)."""
        moved = {name: _to_device(getattr(self, name), device) for name in _CLIP_TENSORS}
        return replace(self, **moved)

    def clip(self, index: int) -> torch.Tensor:
        """Clip ``index`` as float32 (S,), equal to ``SpeechCommands(...)[index][0]``."""
        return self.waves[index].float() * (self.gains[index] / 32768)


def cache_clips(
    dataset: SpeechCommands,
    *,
    cache_dir: str | os.PathLike | None = None,
    num_workers: int | None = None,
) -> ClipCache:
    """Decode every clip of ``dataset`` once into a :class:`ClipCache`, or load it from disk.

    The key covers every item (path, label, speaker, offset, gain: so the label set, the fractions
    and the seed) and each file's size and modification time.

    Args:
        dataset: a :class:`kws.data.SpeechCommands` (any subset and label set).
        cache_dir: where to keep the cache; default :func:`cache_dir_for` ``(dataset.root)``.
        num_workers: threads that decode WAVs; default the CPU count.
    """
    items = dataset.items
    speaker_names = sorted({item.speaker for item in items} - {""})
    speaker_id = {name: i for i, name in enumerate(speaker_names)} | {"": -1}

    def build() -> dict[str, object]:
        waves = torch.empty(len(items), CLIP_SAMPLES, dtype=torch.int16)

        def decode(start: int, stop: int) -> None:
            for i in range(start, stop):
                wave = load_item(replace(items[i], gain=1.0))  # (S,) k / 32768 for int16 k
                waves[i] = (wave * 32768).round_().clamp_(-32768, 32767)

        _parallel(decode, len(items), f"caching {dataset.root.name}/{dataset.subset}", num_workers)
        return {"waves": waves}

    records = [(str(c.path), c.label, c.speaker, c.offset, c.gain) for c in items]
    settings = {"kind": "clips", "classes": list(dataset.classes), "items": records}
    files = sorted({item.path for item in items})
    key = cache_key(settings, files)
    folder = _chosen_or_default(cache_dir, dataset.root)
    payload = cached(folder, f"clips-{dataset.subset}-{dataset.labels}", key, build)
    return ClipCache(
        waves=payload["waves"],
        gains=torch.tensor([item.gain for item in items], dtype=torch.float32),
        labels=torch.tensor([item.label for item in items], dtype=torch.int64),
        speakers=torch.tensor([speaker_id[item.speaker] for item in items], dtype=torch.int64),
        classes=tuple(dataset.classes),
        speaker_names=tuple(speaker_names),
    )


@dataclass(frozen=True)
class FeatureCache:
    """Variable-length feature sequences stored end to end in one tensor.

    Attributes:
        frames: (sum of T, F) float32 (or float16) frames of all utterances, one after another.
        offsets: (N,) int64 first row of each utterance in ``frames``.
        lengths: (N,) int64 number of frames T of each utterance.
        labels: (N,) int64 speaker ids (``mapping.json``), -1 for unlabelled test utterances.
        feature_paths: the N ``feature_path`` names, in the order of the metadata file.
        speaker_names: speaker name of each id (``id2speaker``); empty for a test part.
    """

    frames: torch.Tensor
    offsets: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    feature_paths: tuple[str, ...]
    speaker_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.lengths)

    def to(self, device: str | torch.device) -> FeatureCache:
        """The same utterances with every tensor on ``device`` (itself when already there)."""
        moved = {name: _to_device(getattr(self, name), device) for name in _FEATURE_TENSORS}
        return replace(self, **moved)

    def utterance(self, index: int) -> torch.Tensor:
        """The frames (T, F) of utterance ``index``, as stored (a view, no copy)."""
        start = int(self.offsets[index])
        return self.frames[start : start + int(self.lengths[index])]

    def subset(self, indices: Sequence[int] | torch.Tensor) -> FeatureCache:
        """The utterances ``indices`` (e.g. a train/valid split), sharing ``frames`` (no copy)."""
        index = torch.as_tensor(indices, dtype=torch.int64)
        return FeatureCache(
            frames=self.frames,
            offsets=self.offsets[index],
            lengths=self.lengths[index],
            labels=self.labels[index],
            feature_paths=tuple(self.feature_paths[i] for i in index.tolist()),
            speaker_names=self.speaker_names,
        )


def _read_json(path: Path, key: str) -> dict:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: not an HW4 speaker-features folder. Build one with "
            "data_scripts/speaker_features.py, or point to the folder holding metadata.json"
        )
    content = json.loads(path.read_text())
    if key not in content:
        raise ValueError(
            f"{path} has no key {key!r}; the file is truncated or not in the HW4 format"
        )
    return content


def cache_features(
    root: str | os.PathLike,
    part: str = "train",
    *,
    dtype: torch.dtype = torch.float32,
    cache_dir: str | os.PathLike | None = None,
    num_workers: int | None = None,
) -> FeatureCache:
    """All utterances of an HW4 speaker-features folder, decoded once into a :class:`FeatureCache`.

    Args:
        root: the folder holding ``metadata.json``, ``mapping.json``, ``testdata.json``, ``uttr-*.pt``.
        part: ``"train"`` (``metadata.json``: every labelled utterance, speakers and utterances in
            file order; split train/valid with :meth:`FeatureCache.subset`) or ``"test"``
            (``testdata.json``, labels -1).
        dtype: storage type of the frames; ``torch.float16`` halves memory (the full HW4 set is
            ~7 GB in float32) at ~3 significant digits.
        cache_dir: where to keep the cache; default :func:`cache_dir_for` ``(root)``.
        num_workers: threads that read ``.pt`` files; default the CPU count.
    """
    root = Path(root)
    if part == "train":
        meta = _read_json(root / "metadata.json", "speakers")
        speaker2id = _read_json(root / "mapping.json", "speaker2id")["speaker2id"]
        entries, labels = [], []
        for speaker, utterances in meta["speakers"].items():
            if speaker not in speaker2id:
                raise ValueError(
                    f"{root / 'metadata.json'}: speaker {speaker!r} is not in mapping.json's speaker2id"
                )
            entries += utterances
            labels += [speaker2id[speaker]] * len(utterances)
        speaker_names = tuple(sorted(speaker2id, key=speaker2id.get))
        listing = ["metadata.json", "mapping.json"]
    elif part == "test":
        meta = _read_json(root / "testdata.json", "utterances")
        entries, labels, speaker_names = meta["utterances"], [-1] * len(meta["utterances"]), ()
        listing = ["testdata.json"]
    else:
        raise ValueError(f"part must be 'train' or 'test', got {part!r}")
    n_mels = int(meta.get("n_mels", 40))
    try:
        paths = [entry["feature_path"] for entry in entries]
        lengths = torch.tensor([int(entry["mel_len"]) for entry in entries], dtype=torch.int64)
    except KeyError as err:
        raise ValueError(f"{root / listing[0]}: an utterance has no key {err}") from None
    offsets = torch.cumsum(lengths, 0) - lengths

    def build() -> dict[str, object]:
        frames = torch.empty(int(lengths.sum()), n_mels, dtype=dtype)

        def decode(start: int, stop: int) -> None:
            for i in range(start, stop):
                path = root / paths[i]
                try:
                    x = torch.load(path, weights_only=True)
                except Exception as err:
                    raise ValueError(f"{path}: cannot be read ({err}); rebuild the folder") from err
                if tuple(x.shape) != (int(lengths[i]), n_mels):
                    raise ValueError(
                        f"{path}: shape {tuple(x.shape)}, but {listing[0]} says mel_len "
                        f"{int(lengths[i])} with n_mels {n_mels}"
                    )
                frames[offsets[i] : offsets[i] + lengths[i]] = x

        _parallel(decode, len(paths), f"caching {root.name}/{part}", num_workers)
        return {"frames": frames}

    files = [root / name for name in listing] + [root / path for path in paths]
    key = cache_key({"kind": "features", "part": part, "dtype": str(dtype)}, files)
    folder = _chosen_or_default(cache_dir, root)
    payload = cached(folder, f"features-{part}", key, build)
    return FeatureCache(
        frames=payload["frames"],
        offsets=offsets,
        lengths=lengths,
        labels=torch.tensor(labels, dtype=torch.int64),
        feature_paths=tuple(paths),
        speaker_names=speaker_names,
    )


@dataclass(frozen=True)
class NoiseBank:
    """The background-noise recordings, float32, end to end: file i is
    ``samples[offsets[i]:][:lengths[i]]``."""

    samples: torch.Tensor  # (sum of S,)
    offsets: torch.Tensor  # (files,) int64
    lengths: torch.Tensor  # (files,) int64
    names: tuple[str, ...]

    def recordings(self) -> list[torch.Tensor]:
        """Each recording (S_i,) as a view, e.g. for ``WaveAugment(bank.recordings())``."""
        return [
            self.samples[o : o + n]
            for o, n in zip(self.offsets.tolist(), self.lengths.tolist(), strict=True)
        ]


def cache_noise(
    noise_dir: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None
) -> NoiseBank:
    """The ``*.wav`` files of a ``_background_noise_`` folder (sorted by name) as a :class:`NoiseBank`."""
    noise_dir = Path(noise_dir)
    files = sorted(noise_dir.glob("*.wav"))
    if not files:
        raise FileNotFoundError(
            f"no background-noise WAVs in {noise_dir}; it should hold the 6 recordings of "
            "Speech Commands' _background_noise_ folder"
        )

    def build() -> dict[str, object]:
        waves = [load_wav(path) for path in files]
        lengths = torch.tensor([len(wave) for wave in waves], dtype=torch.int64)
        return {"samples": torch.cat(waves), "lengths": lengths}

    key = cache_key({"kind": "noise"}, files)
    folder = _chosen_or_default(cache_dir, noise_dir.parent)
    payload = cached(folder, "noise", key, build)
    lengths = payload["lengths"]
    offsets = torch.cumsum(lengths, 0) - lengths
    return NoiseBank(payload["samples"], offsets, lengths, tuple(path.stem for path in files))
