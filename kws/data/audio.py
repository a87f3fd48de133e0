"""Reading WAV (and FLAC) files into float32 tensors, listing them, and fixing their length.

Every clip in the kit goes through `load_wav` (or `read_audio`, its numpy form, which the grader's
process uses: it never imports torch): it reads with `soundfile` (libsndfile), never with
`torchaudio.load`, whose backend changes between torchaudio releases. A file that cannot be used raises
an error that names the file and says what to do about it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile

if TYPE_CHECKING:
    import torch

# What the kit reads as audio: the dataset's WAVs, and FLAC, which many copies of it are shrunk to.
AUDIO_SUFFIXES = (".wav", ".flac")


def is_audio(name: str) -> bool:
    """True when the file name ends in one of `AUDIO_SUFFIXES` (any case: `A.WAV` too)."""
    return name.lower().endswith(AUDIO_SUFFIXES)


def audio_files(folder: str | os.PathLike) -> list[Path]:
    """The WAV and FLAC files directly in `folder`, sorted by name ([] when it does not exist)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if is_audio(p.name) and p.is_file())


def load_wav(
    path: str | os.PathLike,
    expected_sr: int = 16000,
    *,
    offset: int = 0,
    num_samples: int | None = None,
) -> torch.Tensor:
    """Read a mono audio file as float32 samples in [-1, 1] (the tensor of `read_audio`'s array;
    the arguments, the result and the errors are `read_audio`'s)."""
    import torch

    return torch.from_numpy(read_audio(path, expected_sr, offset=offset, num_samples=num_samples))


def read_audio(
    path: str | os.PathLike,
    expected_sr: int = 16000,
    *,
    offset: int = 0,
    num_samples: int | None = None,
) -> np.ndarray:
    """Read a mono audio file as float32 samples in [-1, 1].

    Args:
        path: the file (WAV, or anything else libsndfile reads: FLAC, OGG).
        expected_sr: the sample rate the file must have, in Hz.
        offset: first sample to read.
        num_samples: how many samples to read from `offset`; None reads to the end. Fewer come back
            when the file ends sooner.

    Returns:
        waveform: float32 array (S,). 16-bit files are scaled by 1/32768.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is corrupt or not audio, has another sample rate, more than one
            channel, no samples, or `offset` lies past its end. The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such audio file")
    try:
        with soundfile.SoundFile(path) as f:
            if f.samplerate != expected_sr:
                raise ValueError(
                    f"{path}: sample rate is {f.samplerate} Hz, expected {expected_sr} Hz. Resample it, "
                    f"e.g. `ffmpeg -i IN -ar {expected_sr} OUT.wav` or "
                    f"torchaudio.functional.resample(wave, {f.samplerate}, {expected_sr})."
                )
            if f.channels != 1:
                raise ValueError(
                    f"{path}: has {f.channels} channels ({'stereo' if f.channels == 2 else 'multi-channel'}),"
                    f" expected mono. Mix it down, e.g. `ffmpeg -i IN -ac 1 OUT.wav`."
                )
            if f.frames == 0:
                raise ValueError(
                    f"{path}: holds no samples (an empty recording); delete or replace it."
                )
            if not 0 <= offset < f.frames:
                raise ValueError(f"{path}: offset {offset} lies outside its {f.frames} samples.")
            f.seek(offset)
            samples = f.read(frames=-1 if num_samples is None else num_samples, dtype="float32")
    except soundfile.LibsndfileError as err:
        raise ValueError(
            f"{path}: cannot be read as audio ({err}). The file is corrupt or not WAV/FLAC audio; "
            "delete it and download or extract the dataset again."
        ) from err
    return samples  # (S,)


def pad_or_trim(wave: torch.Tensor, length: int = 16000) -> torch.Tensor:
    """Zero-pad at the end, or cut, the last axis of `wave` to exactly `length` samples.

    Args:
        wave: (..., S) samples.
        length: the number of samples wanted.

    Returns:
        (..., length): `wave` itself when it already has that length.
    """
    size = wave.shape[-1]
    if size == length:
        return wave
    if size > length:
        return wave[..., :length]
    import torch.nn.functional as F

    return F.pad(wave, (0, length - size))
