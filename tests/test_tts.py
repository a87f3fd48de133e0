"""eSpeak NG through ctypes: voices, 16 kHz output, determinism and bad settings."""

import random
import subprocess
import sys

import pytest
import torch

from kws.data.tts import (
    ENGLISH_LANGUAGES,
    HUMAN_VARIANTS,
    SAMPLE_RATE,
    Voice,
    available_variants,
    synthesize,
    trim_silence,
)


def test_synthesize_gives_a_float_waveform_at_16_khz():
    wave = synthesize("seven", Voice(language="en-us", variant="m3"))
    assert wave.dtype == torch.float32 and wave.ndim == 1
    # One word at the default rate lasts a few tenths of a second at 16 kHz.
    assert 0.2 * SAMPLE_RATE < wave.numel() < 1.0 * SAMPLE_RATE
    assert wave.abs().max() <= 1.0
    assert trim_silence(wave).abs().max() > 0.05  # really speech, not silence


def test_same_text_and_voice_give_the_same_samples_whatever_came_before():
    # f2 is breathy (random noise) and m1 has pitch flutter (state carried between utterances).
    for voice in (Voice(variant="f2"), Voice(variant="m1"), Voice(variant="klatt3")):
        first = synthesize("forward", voice)
        synthesize("something else entirely", Voice(language="en-gb-x-rp", variant="m7", pitch=90))
        torch.testing.assert_close(synthesize("forward", voice), first, rtol=0, atol=0)


def test_same_samples_in_a_fresh_process():
    code = (
        "from kws.data.tts import Voice, synthesize;"
        "print(synthesize('marvin', Voice('en-029', 'f5', 30, 150, 70)).sum().item())"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ]
    here = synthesize("marvin", Voice("en-029", "f5", 30, 150, 70)).sum().item()
    assert float(runs[0].stdout) == here


def test_voice_settings_change_the_sound():
    base = synthesize("happy", Voice(variant="m2"))
    slow = synthesize("happy", Voice(variant="m2", rate=120))
    assert slow.numel() > base.numel()  # slower speech lasts longer
    other = synthesize("happy", Voice(variant="f3", pitch=80))
    assert not torch.equal(other[: base.numel()], base[: other.numel()])


def test_every_listed_language_and_variant_exists():
    assert set(HUMAN_VARIANTS) <= set(available_variants())
    for language in ENGLISH_LANGUAGES:
        assert synthesize("go", Voice(language=language)).numel() > 0


def test_jitter_stays_close_and_in_range():
    voice = Voice(pitch=98, rate=200, pitch_range=50)
    rng = random.Random(0)
    for _ in range(50):
        jittered = voice.jitter(rng)
        assert 94 <= jittered.pitch <= 100
        assert 184 <= jittered.rate <= 216
        assert 42 <= jittered.pitch_range <= 58
        assert (jittered.language, jittered.variant) == (voice.language, voice.variant)


def test_bad_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="pitch=120"):
        Voice(pitch=120)
    with pytest.raises(ValueError, match="rate=20"):
        Voice(rate=20)
    with pytest.raises(ValueError, match="xx-yy"):
        synthesize("yes", Voice(language="xx-yy"))
    with pytest.raises(ValueError, match="bogus"):
        synthesize("yes", Voice(variant="bogus"))
    with pytest.raises(ValueError, match="empty"):
        synthesize("  ", Voice())


def test_trim_silence():
    wave = torch.cat([torch.zeros(100), torch.tensor([0.5, -0.2, 0.0, 0.3]), torch.zeros(50)])
    torch.testing.assert_close(trim_silence(wave), torch.tensor([0.5, -0.2, 0.0, 0.3]))
    assert trim_silence(torch.zeros(10)).numel() == 0
