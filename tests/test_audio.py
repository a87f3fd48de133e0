from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from kws.data.audio import load_wav, pad_or_trim

SAMPLE = Path(__file__).parent / "data" / "speech_commands_v0.01_sample"
FULL_CLIP = SAMPLE / "yes" / "439c84f4_nohash_1.wav"  # 16,000 samples
SHORT_CLIP = SAMPLE / "down" / "8d4cdc60_nohash_1.wav"  # 12,288 samples


def test_load_wav_gives_float32_scaled_int16_samples():
    wave = load_wav(FULL_CLIP)
    ints, rate = soundfile.read(FULL_CLIP, dtype="int16")
    assert rate == 16000
    assert wave.dtype == torch.float32 and wave.shape == (16000,)
    torch.testing.assert_close(wave, torch.from_numpy(ints.astype(np.float32) / 32768))
    assert wave.abs().max() <= 1.0 and wave.abs().max() > 0.01


def test_load_wav_reads_a_window():
    whole = load_wav(FULL_CLIP)
    torch.testing.assert_close(load_wav(FULL_CLIP, offset=1000, num_samples=500), whole[1000:1500])
    assert load_wav(FULL_CLIP, offset=15900, num_samples=500).shape == (100,)  # stops at the end
    with pytest.raises(ValueError, match="offset 16000"):
        load_wav(FULL_CLIP, offset=16000)


def test_short_clip_is_zero_padded_at_the_end():
    wave = load_wav(SHORT_CLIP)
    assert wave.shape == (12288,)
    padded = pad_or_trim(wave)
    assert padded.shape == (16000,)
    torch.testing.assert_close(padded[:12288], wave)
    assert (padded[12288:] == 0).all()


def test_pad_or_trim_cuts_long_and_keeps_exact_batches():
    batch = torch.randn(2, 3, 20000, dtype=torch.float64)
    torch.testing.assert_close(pad_or_trim(batch, 16000), batch[..., :16000])
    exact = torch.randn(5, 16000)
    assert pad_or_trim(exact) is exact


def _write(path, samples, rate=16000):
    soundfile.write(path, samples, rate, subtype="PCM_16")
    return path


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.wav"):
        load_wav(tmp_path / "nothere.wav")


def test_corrupt_file_is_named(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 3)
    with pytest.raises(ValueError, match=r"broken\.wav.*corrupt"):
        load_wav(bad)


def test_truncated_header_is_named(tmp_path):
    bad = tmp_path / "cut.wav"
    bad.write_bytes(FULL_CLIP.read_bytes()[:20])
    with pytest.raises(ValueError, match=r"cut\.wav"):
        load_wav(bad)


def test_wrong_sample_rate_is_named_with_the_fix(tmp_path):
    path = _write(tmp_path / "fast.wav", np.zeros(8000), rate=8000)
    with pytest.raises(
        ValueError, match=r"fast\.wav: sample rate is 8000 Hz, expected 16000 Hz.*[Rr]esample"
    ):
        load_wav(path)
    assert load_wav(path, expected_sr=8000).shape == (8000,)


def test_stereo_is_named(tmp_path):
    path = _write(tmp_path / "two.wav", np.zeros((1600, 2)))
    with pytest.raises(ValueError, match=r"two\.wav: has 2 channels \(stereo\).*mono"):
        load_wav(path)


def test_empty_file_is_named(tmp_path):
    path = _write(tmp_path / "empty.wav", np.zeros(0))
    with pytest.raises(ValueError, match=r"empty\.wav: holds no samples"):
        load_wav(path)
