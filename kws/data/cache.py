"""Decode a dataset once into a few big tensors, cached on disk beside the data.

Reading 100,000 small WAV files (or 60,000 small ``.pt`` files) every epoch is what keeps a GPU
waiting. Here each dataset is decoded once, in parallel, into:

- `ClipCache`: all clips of a Speech Commands split as one int16 tensor (N, S) with labels
  and speaker ids alongside (int16 is how the WAVs store them: exact, and half the memory of float);
- `FeatureCache`: all utterances of an HW4 speaker-features folder as one float tensor of
  frames (sum of T, F) with offsets and lengths (utterance i is ``frames[offsets[i]:][:lengths[i]]``);
- `NoiseBank`: the ``_background_noise_`` recordings, float32, concatenated.

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

from kws.data.audio import audio_files, load_wav
from kws.data.speaker_features import SpeakerFeatures, load_features
from kws.data.speech_commands import CLIP_SAMPLES, SpeechCommands, load_item
from kws.device import resolve_device

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
        chosen = Path(os.environ["KWS_CACHE_DIR"]) / tag
        if _writable(chosen) is None:
            raise PermissionError(
                f"KWS_CACHE_DIR: cannot write to {chosen}; pick a writable folder"
            )
        return chosen
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
        try:
            for future, (start, stop) in zip(futures, chunks, strict=True):
                future.result()  # re-raises a worker's error, e.g. one naming a corrupt file
                bar.update(stop - start)
        except BaseException:
            for future in futures:
                future.cancel()  # stop at the first bad file instead of decoding the rest
            raise


def _to_device(
    tensor: torch.Tensor, device: str | torch.device, rows: torch.Tensor | None = None
) -> torch.Tensor:
    """``tensor[rows]`` (all rows when None) on ``device``; itself when nothing is to be done.

    To CUDA the rows go in chunks of ~64 MB through pinned memory, asynchronously: the data is
    never held twice in host memory, so a cache nearly as large as the RAM still fits the GPU.
    """
    device = resolve_device(device)
    if tensor.device == device and rows is None:
        return tensor
    count = len(tensor) if rows is None else len(rows)
    out = torch.empty((count, *tensor.shape[1:]), dtype=tensor.dtype, device=device)
    row_bytes = max(1, tensor[:1].nbytes)
    step = max(1, (64 << 20) // row_bytes)
    for start in range(0, count, step):
        chunk = tensor[start : start + step] if rows is None else tensor[rows[start : start + step]]
        if device.type == "cuda" and chunk.device.type == "cpu":
            chunk = chunk.pin_memory()
        out[start : start + step].copy_(chunk, non_blocking=True)
    return out


_CLIP_TENSORS = ("waves", "gains", "labels", "speakers")
_FEATURE_TENSORS = ("frames", "offsets", "lengths", "labels")


@dataclass(frozen=True)
class ClipCache:
    """All clips of one Speech Commands split, decoded, as int16 samples.

    Clip i as float32 is ``waves[i] * (gains[i] / 32768)`` (`clip`), bit for bit the waveform
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
    """Decode every clip of ``dataset`` once into a `ClipCache`, or load it from disk.

    The key covers every item (path, label, speaker, offset, gain: so the label set, the fractions
    and the seed) and each file's size and modification time.

    Args:
        dataset: a [`SpeechCommands`][kws.data.speech_commands.SpeechCommands] (any subset and label set).
        cache_dir: where to keep the cache; default `cache_dir_for` ``(dataset.root)``.
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


def add_silence(cache: ClipCache, windows: torch.Tensor, *, seed: int) -> ClipCache:
    """``cache`` with the one-second noise ``windows`` appended as ``_silence_`` clips.

    Each window gets a random gain in [0, 1) (seeded), as ``SpeechCommands(labels="12")`` gives
    its silence clips, so the model hears quiet and loud noise alike.

    Args:
        cache: a 12-class cache (its classes hold "_silence_").
        windows: (K, S) float waveforms in [-1, 1], S = 16000 samples each.
        seed: seeds the gains.

    Raises:
        ValueError: the cache has no _silence_ class, or ``windows`` is not (K, 16000) float.
    """
    if "_silence_" not in cache.classes:
        raise ValueError(f"classes {cache.classes} have no _silence_: use a 12-class cache")
    if (
        not isinstance(windows, torch.Tensor)
        or not windows.is_floating_point()
        or windows.dim() != 2
        or windows.shape[1] != CLIP_SAMPLES
    ):
        shape = tuple(windows.shape) if isinstance(windows, torch.Tensor) else type(windows)
        raise ValueError(
            f"silence windows of shape {shape}: give a float tensor (K, {CLIP_SAMPLES}), one "
            "second of noise per row"
        )
    count = len(windows)
    samples = (windows.detach().cpu().float() * 32768).round_().clamp_(-32768, 32767)
    gains = torch.rand(count, generator=torch.Generator().manual_seed(seed))
    return replace(
        cache,
        waves=torch.cat([cache.waves.cpu(), samples.to(torch.int16)]),
        gains=torch.cat([cache.gains.cpu(), gains]),
        labels=torch.cat(
            [cache.labels.cpu(), torch.full((count,), cache.classes.index("_silence_"))]
        ),
        speakers=torch.cat([cache.speakers.cpu(), torch.full((count,), -1)]),
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
        """The same utterances with every tensor on ``device`` (itself when already there).

        Moving a `subset` to another device copies only its own utterances' frames
        (`packed`), so a train and a valid subset together take the memory of one.
        """
        device = resolve_device(device)
        if device != self.frames.device:
            return self.packed(device)
        moved = {name: _to_device(getattr(self, name), device) for name in _FEATURE_TENSORS}
        return replace(self, **moved)

    def packed(self, device: str | torch.device | None = None) -> FeatureCache:
        """A copy on ``device`` (default: where it is) holding only these utterances' frames,
        end to end in their order, with offsets re-based to match."""
        device = self.frames.device if device is None else resolve_device(device)
        starts = torch.cumsum(self.lengths, 0) - self.lengths  # (N,) offsets once packed
        # the row of every frame of every utterance: its offset + its position in the utterance
        within = torch.arange(int(self.lengths.sum())) - starts.repeat_interleave(self.lengths)
        rows = self.offsets.repeat_interleave(self.lengths) + within  # (sum of T,)
        return replace(
            self,
            frames=_to_device(self.frames, device, rows),
            offsets=starts.to(device),
            lengths=self.lengths.to(device),
            labels=self.labels.to(device),
        )

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


def cache_features(
    source: str | os.PathLike | SpeakerFeatures,
    part: str = "train",
    *,
    dtype: torch.dtype = torch.float32,
    cache_dir: str | os.PathLike | None = None,
    num_workers: int | None = None,
) -> FeatureCache:
    """All utterances of an HW4 speaker-features folder, decoded once into a `FeatureCache`.

    Args:
        source: the folder holding ``metadata.json``, ``mapping.json``, ``testdata.json`` and
            ``uttr-*.pt``; or a [`SpeakerFeatures`][kws.data.speaker_features.SpeakerFeatures] split, which gives the
            `FeatureCache.subset` of its utterances, in its order, of the folder's cache.
        part: ``"train"`` (every labelled utterance of ``metadata.json``, in file order) or
            ``"test"`` (``testdata.json``, labels -1); taken from ``source`` when it is a split.
        dtype: storage type of the frames; ``torch.float16`` halves memory (the full HW4 set is
            ~7 GB in float32) at ~3 significant digits.
        cache_dir: where to keep the cache; default `cache_dir_for` ``(folder)``.
        num_workers: threads that read ``.pt`` files; default the CPU count.
    """
    if isinstance(source, SpeakerFeatures):
        part = "test" if source.split == "test" else "train"
        whole = cache_features(
            source.root, part, dtype=dtype, cache_dir=cache_dir, num_workers=num_workers
        )
        position = {path: i for i, path in enumerate(whole.feature_paths)}
        return whole.subset([position[path] for path, _, _ in source.items])
    if part not in ("train", "test"):
        raise ValueError(f"part must be 'train' or 'test', got {part!r}")
    # SpeakerFeatures reads and checks the JSON files; valid_fraction=0 keeps every utterance.
    listing = SpeakerFeatures(source, part, valid_fraction=0.0)
    root, n_mels = listing.root, listing.n_mels
    paths = [path for path, _, _ in listing.items]
    lengths = torch.tensor([mel_len for _, mel_len, _ in listing.items], dtype=torch.int64)
    offsets = torch.cumsum(lengths, 0) - lengths

    def build() -> dict[str, object]:
        frames = torch.empty(int(lengths.sum()), n_mels, dtype=dtype)

        def decode(start: int, stop: int) -> None:
            for i in range(start, stop):
                utterance = load_features(root / paths[i], n_mels, int(lengths[i]))  # (T, F)
                frames[offsets[i] : offsets[i] + lengths[i]] = utterance

        _parallel(decode, len(paths), f"caching {root.name}/{part}", num_workers)
        return {"frames": frames}

    listed = ["metadata.json", "mapping.json"] if part == "train" else ["testdata.json"]
    files = [root / name for name in listed] + [root / path for path in paths]
    key = cache_key({"kind": "features", "part": part, "dtype": str(dtype)}, files)
    payload = cached(_chosen_or_default(cache_dir, root), f"features-{part}", key, build)
    return FeatureCache(
        frames=payload["frames"],
        offsets=offsets,
        lengths=lengths,
        labels=torch.tensor([label for _, _, label in listing.items], dtype=torch.int64),
        feature_paths=tuple(paths),
        speaker_names=tuple(listing.speakers) if part == "train" else (),
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
    """The WAV/FLAC files of a ``_background_noise_`` folder (sorted by name) as a `NoiseBank`."""
    noise_dir = Path(noise_dir)
    files = audio_files(noise_dir)
    if not files:
        raise FileNotFoundError(
            f"no background-noise WAV or FLAC files in {noise_dir}; it should hold the 6 recordings of "
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
