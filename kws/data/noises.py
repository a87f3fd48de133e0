"""Synthetic noises: coloured noise and six stand-ins for Speech Commands' `_background_noise_`.

Every generator takes a number of samples and a seeded `numpy.random.Generator` and returns a
float32 array (S,) at 16 kHz with peak amplitude about 0.5 (real recordings are not normalised
either; `SpeechCommands` scales the windows it cuts with a random gain).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000


def coloured_noise(num_samples: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1 / f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    frequencies = np.fft.rfftfreq(num_samples, d=1.0 / SAMPLE_RATE)
    frequencies[0] = frequencies[1]  # no division by zero at DC
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n=num_samples)
    return (noise / (noise.std() + 1e-12)).astype(np.float32)


def _envelope(
    num_samples: int, rate_hz: float, depth: float, rng: np.random.Generator
) -> np.ndarray:
    """A slowly wandering gain in [1 - depth, 1]: smoothed random steps `rate_hz` times a second."""
    steps = max(2, int(num_samples / SAMPLE_RATE * rate_hz) + 2)
    knots = rng.uniform(1 - depth, 1, steps)
    return np.interp(np.arange(num_samples), np.linspace(0, num_samples, steps), knots)


def _bursts(num_samples: int, per_second: float, rng: np.random.Generator, make) -> np.ndarray:
    """Sum of short events `make(rng) -> array` placed at Poisson-random times."""
    out = np.zeros(num_samples)
    for _ in range(rng.poisson(per_second * num_samples / SAMPLE_RATE)):
        event = make(rng)
        start = rng.integers(0, max(1, num_samples - event.size))
        end = min(num_samples, start + event.size)
        out[start:end] += event[: end - start]
    return out


def _clink(rng: np.random.Generator) -> np.ndarray:
    """A plate or cutlery hit: a few inharmonic partials decaying in 50-300 ms."""
    t = np.arange(int(rng.uniform(0.05, 0.3) * SAMPLE_RATE)) / SAMPLE_RATE
    partials = rng.uniform(1500, 6000, 3)
    tone = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for f in partials)
    return rng.uniform(0.5, 2.0) * tone * np.exp(-t * rng.uniform(15, 60))


def _miaow(rng: np.random.Generator) -> np.ndarray:
    """A cat's miaow: a harmonic tone whose pitch rises and falls over 0.4-1 s."""
    duration = rng.uniform(0.4, 1.0)
    t = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = rng.uniform(450, 700) * (1 + 0.35 * np.sin(np.pi * t / duration))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    return rng.uniform(1.0, 3.0) * tone * np.sin(np.pi * t / duration) ** 2


def _normalise(wave: np.ndarray, peak: float = 0.5) -> np.ndarray:
    return (wave * (peak / (np.abs(wave).max() + 1e-12))).astype(np.float32)


def white_noise(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    return _normalise(coloured_noise(num_samples, 0.0, rng))


def pink_noise(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    return _normalise(coloured_noise(num_samples, 1.0, rng))


def running_tap(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Water: bright noise with a fast flicker of gain, plus a low rumble."""
    hiss = np.diff(coloured_noise(num_samples, 0.5, rng), prepend=0.0)  # tilts the spectrum up
    flicker = _envelope(num_samples, 40.0, 0.6, rng)
    rumble = 0.3 * coloured_noise(num_samples, 2.0, rng)
    return _normalise(hiss * flicker + rumble)


def exercise_bike(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A flywheel: a humming tone with harmonics and a whoosh, both pulsing with the pedalling."""
    t = np.arange(num_samples) / SAMPLE_RATE
    cadence = rng.uniform(1.0, 1.6)  # pedal strokes per second
    pulse = 0.6 + 0.4 * np.sin(2 * np.pi * cadence * t) ** 2
    hum_hz = rng.uniform(80, 140)
    hum = sum(np.sin(2 * np.pi * k * hum_hz * t) / k for k in range(1, 5))
    whoosh = coloured_noise(num_samples, 1.5, rng)
    return _normalise(pulse * (0.5 * hum + whoosh))


def doing_the_dishes(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A kitchen: a bed of brownish noise with clinks of plates and cutlery."""
    bed = 0.3 * coloured_noise(num_samples, 1.6, rng) * _envelope(num_samples, 0.5, 0.5, rng)
    return _normalise(bed + _bursts(num_samples, 2.5, rng, _clink))


def dude_miaowing(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A room with a cat: quiet pink noise and a miaow every few seconds."""
    room = 0.1 * coloured_noise(num_samples, 1.0, rng)
    return _normalise(room + _bursts(num_samples, 0.3, rng, _miaow))


BACKGROUND_NOISES = {
    "doing_the_dishes": doing_the_dishes,
    "dude_miaowing": dude_miaowing,
    "exercise_bike": exercise_bike,
    "pink_noise": pink_noise,
    "running_tap": running_tap,
    "white_noise": white_noise,
}
