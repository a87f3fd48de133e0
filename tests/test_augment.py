import pytest
import torch
from torch import nn

from kws.data.augment import WaveAugment, play_at_speed
from kws.models.tta import SpeedAveraging

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


def test_speed_moves_pitch_by_at_most_the_setting_and_keeps_the_centre(device):
    # a 500 Hz tone played at speed r becomes a 500 r Hz tone: read r off each clip's spectrum
    augment = WaveAugment(None, shift_ms=0, noise_prob=0.0, speed=0.1).to(device)
    time = torch.arange(S, dtype=torch.float64, device=device) / 16000
    tone = torch.sin(2 * torch.pi * 500 * (time - (S - 1) / 2 / 16000)).repeat(32, 1)
    out = augment(tone, torch.Generator(device).manual_seed(0))
    assert out.shape == tone.shape and out.dtype == tone.dtype
    middle = out[:, 7000:9000]  # inside every clip whatever its speed
    spectrum = torch.fft.rfft(middle * torch.hann_window(2000, dtype=torch.float64, device=device))
    rates = spectrum.abs().argmax(dim=1).double() * 16000 / 2000 / 500  # (32,) 8 Hz bins
    assert rates.min() >= 0.9 - 0.02 and rates.max() <= 1.1 + 0.02
    assert rates.max() - rates.min() > 0.1  # each clip its own speed
    # the tone is odd about the clip's centre (sample 7999.5); resampled around it, it still is
    torch.testing.assert_close(out[:, S // 2 - 1], -out[:, S // 2], rtol=0, atol=1e-9)
    # a faster clip is shorter: it ends in zeros at both ends; a slower one keeps every sample
    fast = rates > 1.03
    assert fast.any() and (out[fast, :50] == 0).all() and (out[fast, -50:] == 0).all()


def test_speed_zero_is_the_default_and_changes_nothing(device):
    clips = _ramp(4, device)
    out = WaveAugment(None, shift_ms=0, noise_prob=0.0)(clips, torch.Generator(device))
    torch.testing.assert_close(out, clips, rtol=0, atol=0)
    same = WaveAugment(None, shift_ms=0, noise_prob=0.0, speed=1e-9)
    torch.testing.assert_close(same(clips, torch.Generator(device)), clips, rtol=0, atol=1e-6)


def test_gain_scales_each_clip_by_its_own_level_within_the_decibels(device):
    clips = _ramp(256, device)
    augment = WaveAugment(None, shift_ms=0, noise_prob=0.0, gain_db=10.0)
    out = augment(clips, torch.Generator(device).manual_seed(0))
    ratio = out / clips  # one factor per clip, the same for every sample of it
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))
    decibels = 20 * torch.log10(ratio[:, 0])
    assert decibels.abs().max() <= 10.0 + 1e-9 and decibels.min() < -8 and decibels.max() > 8
    assert len(torch.unique(decibels)) == len(clips)  # each clip its own level
    again = augment(clips, torch.Generator(device).manual_seed(0))
    torch.testing.assert_close(again, out, rtol=0, atol=0)  # seeded
    plain = WaveAugment(None, shift_ms=0, noise_prob=0.0)(clips, torch.Generator(device))
    torch.testing.assert_close(plain, clips, rtol=0, atol=0)  # 0 dB, the default, changes nothing


def test_bad_settings_and_inputs_are_named():
    with pytest.raises(ValueError, match=r"speed=1.5 must lie in \[0, 1\)"):
        WaveAugment(None, noise_prob=0.0, speed=1.5)
    with pytest.raises(ValueError, match=r"gain_db=-3 must lie in \[0, 40\]"):
        WaveAugment(None, noise_prob=0.0, gain_db=-3)
    with pytest.raises(ValueError, match="noise_bank is None but noise_prob > 0"):
        WaveAugment(None)
    with pytest.raises(ValueError, match="noise_prob=1.5"):
        WaveAugment(None, noise_prob=1.5)
    augment = WaveAugment([torch.zeros(8000)])
    with pytest.raises(ValueError, match="8000 samples is shorter than the 16000-sample clips"):
        augment(torch.zeros(2, S), torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"waves must be \(B, S\)"):
        augment(torch.zeros(S), torch.Generator().manual_seed(0))


def test_play_at_speed_with_lengths_ignores_the_padding_after_a_clip(device):
    # three clips of 6,000, 11,000 and 16,000 samples, padded with garbage: played at 0.8 (slower,
    # longer) and 1.25 (faster, shorter), each comes out as it does alone, with zeros after it
    clip_lengths = torch.tensor([6000, 11000, 16000], device=device)
    waves = torch.rand(3, S, dtype=torch.float64, device=device) - 0.5
    garbage = waves.clone()
    for i, n in enumerate(clip_lengths.tolist()):
        garbage[i, n:] = 7.0
    for rate, expected in [(0.8, [7500, 13750, 16000]), (1.25, [4800, 8800, 12800])]:
        out, new_lengths = play_at_speed(garbage, rate, clip_lengths)
        assert new_lengths.tolist() == expected and new_lengths.dtype == clip_lengths.dtype
        for i, n in enumerate(clip_lengths.tolist()):
            alone = torch.zeros(1, S, dtype=torch.float64, device=device)
            alone[0, :n] = waves[i, :n]
            played, _ = play_at_speed(alone, rate, clip_lengths[i : i + 1])
            torch.testing.assert_close(out[i], played[0], rtol=0, atol=0)
            assert (out[i, expected[i] :] == 0).all()
    same, same_lengths = play_at_speed(waves, 1.0, clip_lengths)
    torch.testing.assert_close(
        same, waves * (torch.arange(S, device=device) < clip_lengths[:, None])
    )
    assert torch.equal(same_lengths, clip_lengths)
    with pytest.raises(ValueError, match="speeds must be > 0"):
        play_at_speed(waves, 0.0)


def test_speed_averaging_scores_the_mean_probability_over_speeds_in_eval_only():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(S, 5))  # any classifier of (B, S) waves

    class Waves(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, waves, lengths=None):
            return self.net(waves)

    inner = Waves().double()
    averaged = SpeedAveraging(inner, speeds=(0.9, 1.0, 1.1))
    waves = torch.rand(4, S, dtype=torch.float64) - 0.5
    averaged.eval()
    expected = sum(inner(play_at_speed(waves, r)[0]).softmax(-1) for r in (0.9, 1.0, 1.1)) / 3
    torch.testing.assert_close(averaged(waves).exp(), expected)
    one = SpeedAveraging(inner, speeds=(1.0,)).eval()
    torch.testing.assert_close(one(waves), inner(waves).log_softmax(-1))
    averaged.train()
    torch.testing.assert_close(averaged(waves), inner(waves), rtol=0, atol=0)
    assert list(averaged.state_dict()) == [f"model.{key}" for key in inner.state_dict()]
    with pytest.raises(ValueError, match=r"speeds=\(0.0, 1.0\): give one or more rates > 0"):
        SpeedAveraging(inner, speeds=(0.0, 1.0))
