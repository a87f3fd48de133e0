import pytest
import torch

from kws.data.augment import WaveAugment

S = 16000


def _ramp(batch: int, device) -> torch.Tensor:
    """(B, S) clips whose samples are all different and non-zero, so a shift can be read off."""
    return torch.linspace(0.1, 0.9, S, dtype=torch.float64, device=device).repeat(batch, 1)


def _shift_of(row: torch.Tensor, clip: torch.Tensor) -> int:
    """The k with row == clip moved k samples later (zero-filled); fails if there is none."""
    k = int((row == 0).long().argmin()) if row[0] == 0 else -int((row.flip(0) == 0).long().argmin())
    expected = torch.zeros_like(clip)
    if k >= 0:
        expected[k:] = clip[: S - k]
    else:
        expected[:k] = clip[-k:]
    torch.testing.assert_close(row, expected, rtol=0, atol=0)
    return k


def test_time_shift_is_a_zero_filled_move_within_100_ms(device):
    augment = WaveAugment(None, shift_ms=100, noise_prob=0.0).to(device)
    clips = _ramp(64, device)
    out = augment(clips, torch.Generator(device).manual_seed(0))
    assert out.shape == (64, S) and out.dtype == torch.float64 and out.device == clips.device
    shifts = [_shift_of(out[b], clips[b]) for b in range(64)]
    assert max(abs(k) for k in shifts) <= 1600
    assert len(set(shifts)) > 50 and min(shifts) < -400 and max(shifts) > 400  # each clip its own


def test_same_seed_same_batch_other_seed_other_batch(device):
    bank = [torch.randn(50_000, dtype=torch.float64), torch.randn(30_000, dtype=torch.float64)]
    augment = WaveAugment(bank).to(device)
    clips = torch.rand(6, S, dtype=torch.float64, device=device) - 0.5
    a = augment(clips, torch.Generator(device).manual_seed(7))
    b = augment(clips, torch.Generator(device).manual_seed(7))
    c = augment(clips, torch.Generator(device).manual_seed(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_noise_is_a_scaled_window_from_inside_one_recording(device):
    # Recording values count up from 1 and 1e6: out = volume * (start + arange(S)) reveals the window,
    # and a window straddling the two recordings would break the arithmetic progression.
    first = 1.0 + torch.arange(20_000, dtype=torch.float64)
    second = 1e6 + torch.arange(17_500, dtype=torch.float64)
    augment = WaveAugment([first, second], shift_ms=0, noise_prob=1.0, noise_volume=1e-7).to(device)
    out = augment(
        torch.zeros(64, S, dtype=torch.float64, device=device),
        torch.Generator(device).manual_seed(1),
    )
    volume = out[:, 1] - out[:, 0]  # (B,)
    start = torch.round(out[:, 0] / volume)  # (B,)
    expected = volume[:, None] * (start[:, None] + torch.arange(S, device=device))  # (B, S)
    torch.testing.assert_close(out, expected)
    in_first = (start >= 1) & (start <= 20_000 - S + 1)
    in_second = (start >= 1e6) & (start <= 1e6 + 17_500 - S)
    assert (in_first | in_second).all() and in_first.any() and in_second.any()
    assert ((volume > 0) & (volume < 1e-7)).all()


def test_noise_probability_and_volume(device):
    # Short clips keep the batch small; p = 0.8 and volume U(0, 0.1) by default.
    augment = WaveAugment(torch.ones(300), shift_ms=0).to(device)
    clips = torch.zeros(4000, 200, device=device)
    volume = augment(clips, torch.Generator(device).manual_seed(2))[:, 0]  # noise is all ones
    noisy = volume > 0
    assert abs(noisy.float().mean().item() - 0.8) < 0.03
    assert volume.max() < 0.1 and abs(volume[noisy].mean().item() - 0.05) < 0.005
    assert (augment(clips, torch.Generator(device).manual_seed(2))[~noisy] == 0).all()


def test_output_is_clipped_to_the_waveform_range(device):
    augment = WaveAugment(torch.ones(2, S), shift_ms=0, noise_prob=1.0, noise_volume=0.5).to(device)
    out = augment(torch.full((3, S), 0.99, device=device), torch.Generator(device).manual_seed(0))
    assert out.max() == 1.0


def test_bad_settings_and_inputs_are_named():
    with pytest.raises(ValueError, match="noise_bank is None but noise_prob > 0"):
        WaveAugment(None)
    with pytest.raises(ValueError, match="noise_prob=1.5"):
        WaveAugment(None, noise_prob=1.5)
    augment = WaveAugment([torch.zeros(8000)])
    with pytest.raises(ValueError, match="8000 samples is shorter than the 16000-sample clips"):
        augment(torch.zeros(2, S), torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"waves must be \(B, S\)"):
        augment(torch.zeros(S), torch.Generator().manual_seed(0))
