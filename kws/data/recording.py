"""Make synthetic speech sound recorded: vocal tract, room, microphone, noise and level.

eSpeak NG speaks in a dry, bright and noiseless voice with a few dozen timbres. Real Speech Commands
clips were said by thousands of people into laptop and phone microphones in ordinary rooms. A model
trained on the dry voice learns cues that real speech does not have, so `kws.data.synthetic` passes
every word through the chain below, each step drawn at random from the ranges of a `Recording`:

    vocal tract   resample by a factor a: every frequency (formants, pitch) x a, duration kept by
                  asking eSpeak for a rate / a (vocal-tract-length perturbation, VTLP)
    room          convolve with a synthetic room impulse response: a direct path, then exponentially
                  decaying noise reaching -60 dB after RT60 seconds (Schroeder's statistical model)
    microphone    a zero-phase band-pass: high-pass (small membranes lose the bass) and low-pass
                  (cheap microphones and codecs lose the treble), both second order
    noise, level  coloured noise at a signal-to-noise ratio and a peak level

Every function takes a float waveform (S,) at 16 kHz and returns a new one; random draws come from
the `random.Random` / `numpy.random.Generator` passed in, so a clip is reproducible from its seed.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

import numpy as np
import torch

from kws.compat import torchaudio  # checked: says what to install if it fails
from kws.data.noises import coloured_noise

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Recording:
    """Ranges the recording conditions of one synthetic word are drawn from (uniformly).

    Args:
        vocal_tract: (low, high) frequency scale a of `warp_vocal_tract`; (1, 1) turns it off.
        reverb_prob: probability that a clip is said in a room (`reverberate`), else dry.
        rt60: (low, high) reverberation time in seconds.
        drr_db: (low, high) direct-to-reverberant energy ratio in dB (low: far from the microphone).
        mic_prob: probability that a clip goes through `microphone`.
        highpass_hz: (low, high) high-pass corner frequency of the microphone.
        lowpass_hz: (low, high) low-pass corner frequency of the microphone.
        snr_db: (low, high) signal-to-noise ratio of the added coloured noise.
        peak: (low, high) peak level of the speech.
    """

    vocal_tract: tuple[float, float] = (0.85, 1.2)
    reverb_prob: float = 0.5
    rt60: tuple[float, float] = (0.15, 0.7)
    drr_db: tuple[float, float] = (0.0, 12.0)
    mic_prob: float = 0.8
    highpass_hz: tuple[float, float] = (40.0, 250.0)
    lowpass_hz: tuple[float, float] = (2_500.0, 7_500.0)
    snr_db: tuple[float, float] = (15.0, 55.0)
    peak: tuple[float, float] = (0.1, 0.9)

    def __post_init__(self) -> None:
        for name in ("vocal_tract", "rt60", "highpass_hz", "lowpass_hz", "snr_db", "peak"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"Recording {name}=({low}, {high}): need 0 < low <= high.")
        for name in ("reverb_prob", "mic_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Recording {name}={getattr(self, name)} must lie in [0, 1].")
        if self.lowpass_hz[1] >= SAMPLE_RATE / 2:
            raise ValueError(f"Recording lowpass_hz must stay below {SAMPLE_RATE // 2} Hz.")


# The synthesis of the first versions, kept to measure what the chain brings: no vocal-tract
# change, no room, no microphone, louder noise.
DRY = Recording(vocal_tract=(1.0, 1.0), reverb_prob=0.0, mic_prob=0.0, snr_db=(5.0, 35.0))


def warp_vocal_tract(wave: np.ndarray, factor: float) -> np.ndarray:
    """`wave` (S,) played `factor` times faster: frequencies x factor, length S / factor.

    A shorter vocal tract (a child, many women) has higher formants; factor 1.1 moves every
    formant up by 10 %. Synthesise at `rate / factor` beforehand to keep the word's duration.
    The factor is rounded to 1/400 so that the resampling kernel stays short.
    """
    if not 0.5 <= factor <= 2.0:
        raise ValueError(f"vocal-tract factor {factor} is out of range; use 0.5 ... 2.0.")
    source = round(factor * 400)
    if source == 400:
        return wave.astype(np.float32)
    warped = _resampler(source)(torch.from_numpy(wave.astype(np.float32)))
    return warped.numpy()


@functools.cache
def _resampler(source: int) -> torchaudio.transforms.Resample:
    """Read at 40 * source Hz, written at 16 kHz: the same samples, source / 400 times faster.
    Kept per rate: building the kernel costs more than applying it to one word."""
    return torchaudio.transforms.Resample(source, 400)


def room_impulse_response(rt60: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response (L,), L = rt60 seconds.

    1 at t = 0 (the direct sound); silence until the first reflection, 3-10 ms later (the walls
    are 1-3 m further away than the speaker); then Gaussian noise decaying by 60 dB over `rt60`
    seconds, scaled so that the direct sound has `drr_db` dB more energy than the tail. Higher
    frequencies decay faster in real rooms; a one-pole low-pass on the tail stands in for that.
    """
    if not 0.05 <= rt60 <= 2.0:
        raise ValueError(f"rt60={rt60} s is out of range; use 0.05 ... 2.0 s.")
    length, delay = int(rt60 * SAMPLE_RATE), int(rng.uniform(0.003, 0.010) * SAMPLE_RATE)
    t = np.arange(delay, length) / SAMPLE_RATE
    tail = rng.standard_normal(t.size) * np.exp(-3 * math.log(10) * t / rt60)  # -60 dB at rt60
    tail = _one_pole_lowpass(tail, rng.uniform(0.2, 0.6))
    tail *= math.sqrt(10 ** (-drr_db / 10) / (np.sum(tail**2) + 1e-12))
    return np.concatenate([[1.0], np.zeros(delay - 1), tail])


def reverberate(wave: np.ndarray, impulse_response: np.ndarray) -> np.ndarray:
    """`wave` (S,) convolved with `impulse_response` (L,): (S + L - 1,), the room's echo after it."""
    size = wave.size + impulse_response.size - 1
    n_fft = 1 << (size - 1).bit_length()
    spectrum = np.fft.rfft(wave, n_fft) * np.fft.rfft(impulse_response, n_fft)
    return np.fft.irfft(spectrum, n_fft)[:size].astype(np.float32)


def microphone(wave: np.ndarray, highpass_hz: float, lowpass_hz: float) -> np.ndarray:
    """`wave` (S,) through a zero-phase band-pass with second-order (12 dB/octave) skirts:
    gain 1 / sqrt(1 + (f_hp / f)^4) below `highpass_hz`, 1 / sqrt(1 + (f / f_lp)^4) above
    `lowpass_hz`."""
    n_fft = 1 << (wave.size - 1).bit_length()
    frequencies = np.fft.rfftfreq(n_fft, d=1.0 / SAMPLE_RATE)
    frequencies[0] = 1.0  # DC: avoid dividing by zero (its gain is ~0 anyway)
    gain = 1 / np.sqrt(
        (1 + (highpass_hz / frequencies) ** 4) * (1 + (frequencies / lowpass_hz) ** 4)
    )
    return np.fft.irfft(np.fft.rfft(wave, n_fft) * gain, n_fft)[: wave.size].astype(np.float32)


def record(speech: np.ndarray, settings: Recording, rng: random.Random) -> np.ndarray:
    """The room and microphone steps of the chain on dry `speech` (S,): returns (S',), S' >= S,
    where the extra samples are the room's echo. (The vocal tract acts before, on the synthesis;
    noise and level after, once the word sits in its clip.)"""
    noise_rng = np.random.default_rng(rng.getrandbits(64))
    if rng.random() < settings.reverb_prob:
        response = room_impulse_response(
            rng.uniform(*settings.rt60), rng.uniform(*settings.drr_db), noise_rng
        )
        speech = reverberate(speech, response)
    if rng.random() < settings.mic_prob:
        highpass = _log_uniform(rng, *settings.highpass_hz)
        speech = microphone(speech, highpass, _log_uniform(rng, *settings.lowpass_hz))
    return speech


def add_noise(clip: np.ndarray, speech_rms: float, snr_db: float, rng: np.random.Generator):
    """`clip` (S,) plus coloured noise (exponent 0-2: white to brown) at `snr_db` below
    `speech_rms`."""
    noise = coloured_noise(clip.size, rng.uniform(0.0, 2.0), rng)
    noise /= np.sqrt(np.mean(noise**2)) + 1e-12  # unit power, DC offset of brown noise included
    return clip + noise * (speech_rms / 10 ** (snr_db / 20))


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _one_pole_lowpass(x: np.ndarray, pole: float) -> np.ndarray:
    """y[n] = (1 - pole) x[n] + pole y[n-1], by FFT of its impulse response (no Python loop)."""
    n_fft = 1 << (2 * x.size - 1).bit_length()
    response = (1 - pole) * pole ** np.arange(min(x.size, 64))  # pole^64 < 1e-14: long enough
    return np.fft.irfft(np.fft.rfft(x, n_fft) * np.fft.rfft(response, n_fft), n_fft)[: x.size]
