"""Waveform augmentation for training batches: speed perturbation, random time shift, background
noise and level changes; and `play_at_speed`, which test-time averaging uses too.

Both act on a whole batch (B, S) at once on the batch's device, with random numbers from a
`torch.Generator` on that device, so a training run is reproducible from its seed and the GPU never waits
for per-example Python code. Apply it to training batches only; validation and test clips stay clean.
(SpecAugment, the third augmentation of the recipe, acts on features: see `kws.data.features`.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from kws.device import resolve_device


class WaveAugment(nn.Module):
    """Optionally resample each clip at a random speed, shift it by up to ±`shift_ms` (zero-filled),
    then mix in background noise, and optionally change each clip's level.

    The noise is a random window of the noise bank, added with probability `noise_prob` at a volume drawn
    from U(0, `noise_volume`); the result is clipped to [-1, 1]. This is the Speech Commands recipe
    (±100 ms, p = 0.8, volume U(0, 0.1)). Windows never straddle two recordings of the bank.

    Args:
        noise_bank: the noise recordings — a list of 1-D tensors (S_i,) (e.g. from
            `kws.data.load_background_noise`), a (K, L) stack of them, or one 1-D tensor (N,) (e.g.
            all of them concatenated); each at least as long as the clips. None when there is no
            noise (then `noise_prob` must be 0).
        shift_ms: largest shift in milliseconds, either way; 0 disables it.
        speed: each clip is played at a random speed in [1 - speed, 1 + speed] around its centre
            (linear interpolation; duration, pitch and formants change together, as with a faster
            or slower speaker with a shorter or longer vocal tract); 0 (the default) disables it.
            Notebook 01 uses 0.1 (the real-speech ablation, benchmarks/real_speech.md: alone it
            moved one speaker fold by less than its noise, with learning rate 2e-3 it was part of
            the best recipe).
        gain_db: after the noise, each clip (noise included) is scaled by its own random gain in
            [-gain_db, +gain_db] decibels, so that the model meets each word louder and quieter
            than it was recorded (a log-mel feature moves by a constant); the result may exceed
            [-1, 1] by that gain. 0 (the default) disables it. In the real-speech
            ablation 10 dB was worth about a point on speakers the model never heard (3 folds).
        noise_prob: probability that a clip gets noise.
        noise_volume: largest noise volume (a factor on the noise samples).
        sample_rate: samples per second of the clips and the noise.

    Move it with the batches: `augment = WaveAugment(bank).to(device)`.
    """

    def __init__(
        self,
        noise_bank: torch.Tensor | Sequence[torch.Tensor] | None,
        shift_ms: float = 100.0,
        noise_prob: float = 0.8,
        noise_volume: float = 0.1,
        sample_rate: int = 16000,
        speed: float = 0.0,
        gain_db: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= gain_db <= 40.0:
            raise ValueError(f"gain_db={gain_db} must lie in [0, 40] (e.g. 10 for -10 to +10 dB)")
        self.gain_db = gain_db
        if not 0.0 <= speed < 1.0:
            raise ValueError(f"speed={speed} must lie in [0, 1) (e.g. 0.1 for speeds 0.9 to 1.1)")
        self.speed = speed
        if not 0.0 <= noise_prob <= 1.0:
            raise ValueError(f"noise_prob={noise_prob} must lie in [0, 1]")
        if shift_ms < 0 or noise_volume < 0:
            raise ValueError(f"shift_ms={shift_ms} and noise_volume={noise_volume} must be >= 0")
        if noise_bank is None and noise_prob > 0:
            raise ValueError(
                "noise_bank is None but noise_prob > 0: pass the recordings or noise_prob=0"
            )
        self.max_shift = round(shift_ms * sample_rate / 1000)
        self.noise_prob, self.noise_volume = noise_prob, noise_volume
        recordings = [] if noise_bank is None else _as_recordings(noise_bank)
        self.recording_lengths = [len(r) for r in recordings]
        lengths = torch.tensor(self.recording_lengths, dtype=torch.long)
        flat = torch.cat(recordings) if recordings else torch.zeros(0)
        starts = torch.cumsum(lengths, 0) - lengths
        # Buffers move with .to(device) but are not saved in a model's state_dict.
        flat = flat if flat.is_floating_point() else flat.float()
        self.register_buffer("bank", flat, persistent=False)  # (N,) recordings end to end
        self.register_buffer("starts", starts, persistent=False)  # (K,) first sample of each
        self.register_buffer("lengths", lengths, persistent=False)  # (K,)

    def forward(self, waves: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment a batch.

        Args:
            waves: (B, S) float waveforms.
            generator: a torch.Generator on `waves.device` (seed it once per run).

        Returns:
            (B, S) augmented waveforms, a new tensor of the same dtype.
        """
        if waves.dim() != 2:
            raise ValueError(f"waves must be (B, S), got shape {tuple(waves.shape)}")
        if resolve_device(generator.device) != waves.device:
            raise ValueError(
                f"generator is on {generator.device} but waves are on {waves.device}: "
                f"use torch.Generator(device=waves.device)"
            )
        if self.noise_prob > 0 and self.bank.device != waves.device:  # the noise is read there
            raise ValueError(
                f"WaveAugment's noise is on {self.bank.device}, the waves on {waves.device}: "
                f"move it there first, augment = augment.to({str(waves.device)!r})"
            )
        if self.speed > 0:
            waves = self.change_speed(waves, generator)
        waves = self.shift(waves, generator)
        if self.noise_prob > 0:
            waves = self.add_noise(waves, generator)
        if self.gain_db > 0:
            waves = self.change_gain(waves, generator)
        return waves

    def change_gain(self, waves: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Scale each clip by its own random gain, uniform in [-gain_db, +gain_db] decibels."""
        B = waves.shape[0]
        decibels = (
            2 * torch.rand(B, 1, generator=generator, device=waves.device) - 1
        ) * self.gain_db
        return waves * 10 ** (decibels.to(waves.dtype) / 20)  # (B, S)

    def change_speed(self, waves: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Resample each clip at its own random speed in [1 - speed, 1 + speed], keeping its
        centre in place and its length: faster clips end in zeros, slower ones lose their ends."""
        B = waves.shape[0]
        rate = 1 + (2 * torch.rand(B, generator=generator, device=waves.device) - 1) * self.speed
        return play_at_speed(waves, rate)[0]

    def shift(self, waves: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Move each clip by its own random whole number of samples in [-max_shift, max_shift]."""
        if self.max_shift == 0:
            return waves
        B, S = waves.shape
        m = self.max_shift
        shifts = torch.randint(-m, m + 1, (B,), generator=generator, device=waves.device)
        padded = F.pad(waves, (m, m))  # (B, S + 2m), zeros either side
        windows = padded.unfold(1, S, 1)  # (B, 2m + 1, S), a view: window j starts at sample j
        # A shift of +k (later in time) reads the window starting k samples before the clip.
        return windows[torch.arange(B, device=waves.device), m - shifts]  # (B, S)

    def add_noise(self, waves: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Add a random noise window to each clip with probability `noise_prob`, then clip to [-1, 1]."""
        B, S = waves.shape
        if min(self.recording_lengths) < S:
            raise ValueError(
                f"a noise recording of {min(self.recording_lengths)} samples is shorter than the "
                f"{S}-sample clips"
            )
        # Draw uniformly among all windows that lie inside one recording. The total comes from
        # Python ints, so nothing here waits for the GPU.
        total = sum(n - S + 1 for n in self.recording_lengths)
        windows_per_recording = self.lengths - S + 1  # (K,)
        ends = torch.cumsum(windows_per_recording, 0)  # (K,)
        u = torch.randint(0, total, (B,), generator=generator, device=waves.device)
        k = torch.searchsorted(ends, u, right=True)  # (B,) recording of each window
        first = self.starts[k] + u - (ends[k] - windows_per_recording[k])  # (B,) start in the bank
        noise = self.bank.unfold(0, S, 1)[first].to(waves.dtype)  # (B, S)
        use = torch.rand(B, generator=generator, device=waves.device) < self.noise_prob
        volume = torch.rand(B, generator=generator, device=waves.device, dtype=waves.dtype)
        volume = volume * self.noise_volume
        volume = volume * use  # (B,) zero for the clips left clean
        return (waves + volume[:, None] * noise).clamp(-1.0, 1.0)


def play_at_speed(
    waves: torch.Tensor, rate: float | torch.Tensor, lengths: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Play each clip ``rate`` times as fast (linear interpolation): duration, pitch and formants
    change together, as with a faster speaker with a shorter vocal tract.

    Without ``lengths`` every clip keeps its S samples and its centre: a faster clip ends in zeros,
    a slower one loses its ends. With ``lengths``, clip i's valid samples [0, L_i) become
    [0, L'_i), ``L'_i = min(S, round(L_i / rate_i))``, centred alike, and zeros follow: what a clip
    becomes does not depend on the padding after it.

    Args:
        waves: (B, S) float waveforms.
        rate: one speed for every clip, or (B,) speeds; 1.0 returns the clips unchanged.
        lengths: (B,) valid samples of each clip, or None (all S).

    Returns:
        ``(waves (B, S), lengths (B,) or None)``.
    """
    B, S = waves.shape
    rate = torch.as_tensor(rate, dtype=waves.dtype, device=waves.device).expand(B)  # (B,)
    rate = rate[:, None]  # (B, 1)
    if bool((rate <= 0).any()):
        raise ValueError(f"speeds must be > 0, got {rate.flatten().tolist()}")
    if lengths is None:
        valid = new = torch.full((B, 1), S, dtype=waves.dtype, device=waves.device)
    else:
        valid = lengths.to(waves.dtype)[:, None]  # (B, 1)
        new = torch.round(valid / rate).clamp(1, S)  # (B, 1)
    time = torch.arange(S, device=waves.device, dtype=waves.dtype)  # (S,)
    source = (valid - 1) / 2 + (time - (new - 1) / 2) * rate  # (B, S) where each sample is read
    inside = (source >= 0) & (source <= valid - 1) & (time < new)  # the rest are zeros
    left = source.floor().clamp(0, S - 2)
    weight = source - left  # (B, S), in [0, 1] inside the clip
    left = left.long()
    read = waves.gather(1, left) * (1 - weight) + waves.gather(1, left + 1) * weight
    new_lengths = None if lengths is None else new[:, 0].to(lengths.dtype)
    return read * inside, new_lengths  # (B, S), (B,)


def _as_recordings(noise_bank: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(noise_bank, torch.Tensor):
        # (N,) one recording, or (K, L) recordings of equal length stacked
        noise_bank = [noise_bank] if noise_bank.dim() == 1 else list(noise_bank)
    recordings = list(noise_bank)
    if not recordings:
        raise ValueError(
            "noise_bank is empty: pass at least one recording, or None with noise_prob=0"
        )
    for i, r in enumerate(recordings):
        if r.dim() != 1:
            raise ValueError(f"noise recording {i} has shape {tuple(r.shape)}; expected 1-D (S_i,)")
    return recordings
