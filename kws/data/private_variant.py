"""A private test set derived from a public one: each clip moved far by secret transformations.

Speech Commands' test set is public with its labels, so a model can carry a table of its clips
and their answers. The grader therefore also scores a private test set the students do not have
(``<test folder>_private/`` beside the public one, the same ``<class>/<clip>.wav`` layout): the
instructor's own recordings, or the variant this module writes with ``kws private``.

Every clip of the variant is its public clip, transformed with random settings drawn from a
generator seeded by the course secret and the clip's path (the same secret writes the same
bytes; without it the settings cannot be guessed):

1. speed and pitch together (resampling, as a tape played faster or slower), by a factor
   `VariantSettings.speed` away from 1;
2. room reverberation: an exponentially decaying noise impulse response of reverberation time
   `VariantSettings.rt60` seconds, mixed in at a direct-to-reverberant ratio of `VariantSettings.drr_db`;
3. a time shift of up to `VariantSettings.shift_seconds` (zero filled), cut or padded to one second;
4. a window of one of the dataset's own ``_background_noise_`` recordings at an SNR of
   `VariantSettings.snr_db` against the clip;
5. a gain of `VariantSettings.gain`.

These move what a lookup table could key on (a clip's samples, its mean log-mel spectrum) far,
while a word stays the word a model trained with the kit's augmentation recognises. The figures
(an honest model's accuracy on the variant against the public clips, and a nearest-neighbour
lookup's hit rate) are measured by ``benchmarks/bench_private_variant.py``. Numpy and soundfile
only: no torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile

from kws.data.audio import audio_files, read_audio
from kws.data.words import CLIP_SAMPLES, SAMPLE_RATE

# speech_commands_test_set_v0.02 -> speech_commands_test_set_v0.02_private
PRIVATE_SUFFIX = "_private"
MARKER = "VARIANT.json"  # in a private folder `kws private` wrote: its settings, not the secret
SECRET_BYTES = 32  # a new course secret: 256 random bits, written as hex


@dataclass(frozen=True)
class VariantSettings:
    """The ranges the secret settings of each clip are drawn from (uniformly).

    The defaults were chosen on real speech (``benchmarks/bench_private_variant.py``): a
    stronger room (reverberation time 0.15-0.4 s at 6-12 dB) or louder noise (15-25 dB)
    cost the reference model 2-4 points while moving a lookup's fingerprints little further.

    Attributes:
        speed: (low, high) |factor - 1| of the speed change; the sign is drawn too.
        rt60: (low, high) reverberation time in seconds.
        drr_db: (low, high) direct-to-reverberant energy ratio in dB.
        shift_seconds: the largest time shift, either way.
        snr_db: (low, high) signal-to-noise ratio of the added background noise, in dB.
        gain: (low, high) the final gain.
    """

    speed: tuple[float, float] = (0.04, 0.10)
    rt60: tuple[float, float] = (0.1, 0.2)
    drr_db: tuple[float, float] = (15.0, 20.0)
    shift_seconds: float = 0.1
    snr_db: tuple[float, float] = (20.0, 30.0)
    gain: tuple[float, float] = (0.5, 1.0)


def clip_rng(secret: str, name: str) -> np.random.Generator:
    """The generator of one clip's settings: seeded by the secret and the clip's `name` (its
    path under the test folder), so that each clip gets its own and the same secret the same."""
    digest = hashlib.sha256(f"{secret}\0{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def change_speed(wave: np.ndarray, factor: float) -> np.ndarray:
    """`wave` (S,) played `factor` times faster (pitch up by the same factor): (S / factor,)."""
    positions = np.arange(0, len(wave) - 1, factor)  # (S / factor,)
    return np.interp(positions, np.arange(len(wave)), wave).astype(np.float32)


def reverberate(
    wave: np.ndarray, rng: np.random.Generator, rt60: float, drr_db: float
) -> np.ndarray:
    """`wave` (S,) in a room: convolved with a direct path and a decaying noise tail whose energy
    is `drr_db` below it, decaying by 60 dB in `rt60` seconds; same length, same RMS."""
    t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * np.exp(-6.908 * t / rt60)  # 60 dB = e^-6.908
    tail *= np.sqrt(10 ** (-drr_db / 10) / max(np.sum(tail**2), 1e-12))
    response = np.concatenate([[1.0], tail])  # (1 + R,)
    size = len(wave) + len(response) - 1
    wet = np.fft.irfft(np.fft.rfft(wave, size) * np.fft.rfft(response, size), size)[: len(wave)]
    return (wet * _rms(wave) / max(_rms(wet), 1e-12)).astype(np.float32)


def shift(wave: np.ndarray, samples: int, length: int = CLIP_SAMPLES) -> np.ndarray:
    """`wave` moved `samples` later (earlier when negative), zero filled, cut or padded to
    `length`: (length,)."""
    moved = np.zeros(length, dtype=np.float32)
    source = wave[max(0, -samples) :]
    start = max(0, samples)
    take = min(len(source), length - start)
    if take > 0:
        moved[start : start + take] = source[:take]
    return moved


def add_noise(
    wave: np.ndarray, noise: np.ndarray, rng: np.random.Generator, snr_db: float
) -> np.ndarray:
    """`wave` (S,) plus a random window of `noise` (at least S samples) at `snr_db` below it."""
    start = int(rng.integers(0, len(noise) - len(wave) + 1))
    window = noise[start : start + len(wave)]
    scale = _rms(wave) / max(_rms(window), 1e-12) * 10 ** (-snr_db / 20)
    return (wave + scale * window).astype(np.float32)


def transform(
    wave: np.ndarray, noises: list[np.ndarray], rng: np.random.Generator, settings: VariantSettings
) -> np.ndarray:
    """One clip (float32 (S,) in [-1, 1]) moved by settings drawn from `rng`: speed, room,
    shift, noise, gain (the module's docstring); float32 (CLIP_SAMPLES,) in [-1, 1]."""
    factor = 1 + rng.choice([-1, 1]) * rng.uniform(*settings.speed)
    wave = change_speed(wave, factor)
    wave = reverberate(wave, rng, rng.uniform(*settings.rt60), rng.uniform(*settings.drr_db))
    most = int(settings.shift_seconds * SAMPLE_RATE)
    wave = shift(wave, int(rng.integers(-most, most + 1)))
    noise = noises[int(rng.integers(len(noises)))]
    wave = add_noise(wave, noise, rng, rng.uniform(*settings.snr_db))
    wave *= rng.uniform(*settings.gain)
    return np.clip(wave, -1.0, 32767 / 32768)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def read_noises(folder: Path) -> list[np.ndarray]:
    """The recordings of a ``_background_noise_`` folder (float32 (S,) each, at least one
    second); FileNotFoundError naming the folder when it has none."""
    found = audio_files(folder) if folder.is_dir() else []
    recordings = [read_audio(p, SAMPLE_RATE) for p in found]
    recordings = [r for r in recordings if len(r) >= CLIP_SAMPLES]
    if not recordings:
        raise FileNotFoundError(
            f"{folder} holds no background-noise recording of a second or more; the private "
            "variant mixes them in. Extract the dataset's _background_noise_ folder there, or "
            "pass another folder of noise recordings with --noise"
        )
    return recordings


def write_private_variant(
    public: Path,
    private: Path,
    secret: str,
    noises: list[np.ndarray],
    settings: VariantSettings = VariantSettings(),
) -> int:
    """Write the variant of every clip of the test folder `public` (``<class>/<clip>``) into
    `private` in the same layout, each under a name that does not give its public clip away,
    and `MARKER` (the settings, not the secret); returns the number of clips. Files already in
    `private` are replaced."""
    count = 0
    private.mkdir(parents=True, exist_ok=True)
    made = {"made_by": "kws private", "from": public.name, "settings": asdict(settings)}
    (private / MARKER).write_text(json.dumps(made, indent=1) + "\n")
    for folder in sorted(p for p in public.iterdir() if p.is_dir()):
        (private / folder.name).mkdir(parents=True, exist_ok=True)
        for path in audio_files(folder):
            name = f"{folder.name}/{path.name}"
            wave = read_audio(path, SAMPLE_RATE)
            moved = transform(wave, noises, clip_rng(secret, name), settings)
            digest = hashlib.sha256(f"{secret}\0name\0{name}".encode()).hexdigest()[:20]
            samples = np.rint(moved * 32768).astype(np.int16)
            soundfile.write(private / folder.name / f"{digest}.wav", samples, SAMPLE_RATE)
            count += 1
    return count


def read_secret(path: Path, create: bool = False) -> str:
    """The course secret in the file `path` (its first line); with `create`, a new random one
    is written there first when the file does not exist (readable by its owner only).
    FileNotFoundError / ValueError naming the file when there is none, it is empty, or it lies
    in the kit's package (which the student bundle ships)."""
    path = Path(path)
    package = Path(__file__).resolve().parents[1]  # kws/: the student bundle ships it
    if path.resolve().is_relative_to(package):
        raise ValueError(
            f"{path} lies inside the kit's package ({package}), which `kws release` ships to "
            "students; keep the course secret outside the course repository"
        )
    if create and not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(SECRET_BYTES) + "\n")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no course secret there; give the file that holds it")
    lines = path.read_text().splitlines()
    secret = lines[0].strip() if lines else ""
    if len(secret) < 16:
        raise ValueError(
            f"{path}: the course secret must be at least 16 characters on its first line; "
            "delete the file and let `kws private` write a new one"
        )
    return secret


def make_private_test(
    data: Path, secret_file: Path, test_folder: str, noise: Path | None = None
) -> tuple[Path, int]:
    """``kws private``: write the secret variant of ``data/<test_folder>`` to
    ``data/<test_folder>_private``, with the noises of `noise` (default: the dataset's own
    ``speech_commands_<version>/_background_noise_`` beside it) and the secret in `secret_file`
    (a new one when the file does not exist). Returns (the private folder, its clips)."""
    public = Path(data) / test_folder
    if not public.is_dir():
        raise FileNotFoundError(
            f"{public} is missing; give `kws private` the data folder that holds the public test set "
            f"{test_folder}/ (the folder the grader's --data names)"
        )
    version = test_folder.rsplit("_", 1)[-1]
    noise = noise or Path(data) / f"speech_commands_{version}" / "_background_noise_"
    noises = read_noises(Path(noise))
    secret = read_secret(secret_file, create=True)
    private = public.with_name(public.name + PRIVATE_SUFFIX)
    return private, write_private_variant(public, private, secret, noises)
