"""The recording chain of the synthetic words: each step does what it says, reproducibly."""

import random

import numpy as np
import pytest

from kws.data.recording import (
    DRY,
    Recording,
    add_noise,
    microphone,
    record,
    reverberate,
    room_impulse_response,
    warp_vocal_tract,
)

RATE = 16_000


def _sine(hz: float, seconds: float = 0.5) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE).astype(np.float32)


def _peak_hz(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(wave.size)))
    return np.fft.rfftfreq(wave.size, 1 / RATE)[spectrum.argmax()]


def _rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(wave**2)))


def test_vocal_tract_factor_scales_frequencies_and_shortens():
    tone = _sine(1_000.0)
    warped = warp_vocal_tract(tone, 1.25)
    assert warped.size == pytest.approx(tone.size / 1.25, abs=2)
    assert _peak_hz(warped) == pytest.approx(1_250.0, abs=5)
    assert _peak_hz(warp_vocal_tract(tone, 0.8)) == pytest.approx(800.0, abs=5)
    np.testing.assert_array_equal(warp_vocal_tract(tone, 1.0), tone)
    with pytest.raises(ValueError, match="factor 3"):
        warp_vocal_tract(tone, 3)


def test_room_response_has_the_asked_energy_ratio_and_decays_by_60_db():
    rng = np.random.default_rng(0)
    response = room_impulse_response(0.5, 6.0, rng)
    assert response.size == RATE // 2 and response[0] == 1.0
    assert not response[1:48].any()  # the first reflection comes 3 ms or more later
    tail = response[1:]
    assert 10 * np.log10(1.0 / np.sum(tail**2)) == pytest.approx(6.0, abs=1e-6)
    early, late = tail[:800], tail[-800:]  # first and last 50 ms of the tail
    assert 10 * np.log10(np.sum(early**2) / np.sum(late**2)) > 45
    with pytest.raises(ValueError, match="rt60=5"):
        room_impulse_response(5, 0.0, rng)


def test_reverberation_lengthens_the_decay():
    burst = np.random.default_rng(1).standard_normal(1_600).astype(np.float32)  # 0.1 s
    echoes = {}
    for rt60 in (0.2, 0.6):
        response = room_impulse_response(rt60, 3.0, np.random.default_rng(2))
        wet = reverberate(burst, response)
        assert wet.size == burst.size + response.size - 1
        np.testing.assert_allclose(wet[:48], burst[:48], atol=1e-5)  # the direct sound first
        echoes[rt60] = wet[burst.size + 1_600 :]  # what is still heard 0.1 s after the burst
    assert _rms(echoes[0.2]) > 0
    assert np.sum(echoes[0.6] ** 2) > 5 * np.sum(echoes[0.2] ** 2)  # a longer room rings longer


def test_microphone_cuts_below_the_high_pass_and_above_the_low_pass():
    def gain(hz):
        return _rms(microphone(_sine(hz), 300.0, 3_000.0)[800:-800]) / _rms(_sine(hz)[800:-800])

    assert gain(1_000.0) > 0.9
    assert gain(300.0) == pytest.approx(2**-0.5, abs=0.05)  # -3 dB at the corner
    assert gain(75.0) < 0.1 and gain(7_000.0) < 0.25


def test_noise_is_added_at_the_asked_snr():
    clip = np.zeros(RATE, dtype=np.float32)
    noisy = add_noise(clip, speech_rms=0.1, snr_db=20.0, rng=np.random.default_rng(0))
    assert 20 * np.log10(0.1 / _rms(noisy)) == pytest.approx(20.0, abs=0.1)


def test_record_is_reproducible_and_dry_changes_nothing():
    speech = np.random.default_rng(3).standard_normal(4_000).astype(np.float32)
    wet = Recording(reverb_prob=1.0, mic_prob=1.0)
    first = record(speech, wet, random.Random("clip"))
    np.testing.assert_array_equal(record(speech, wet, random.Random("clip")), first)
    assert first.size > speech.size  # the room's echo follows the word
    np.testing.assert_array_equal(record(speech, DRY, random.Random("clip")), speech)


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError, match="snr_db=.*low <= high"):
        Recording(snr_db=(30.0, 10.0))
    with pytest.raises(ValueError, match="reverb_prob=1.5"):
        Recording(reverb_prob=1.5)
    with pytest.raises(ValueError, match="below 8000"):
        Recording(lowpass_hz=(3_000.0, 9_000.0))
