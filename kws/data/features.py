"""Feature front-ends that run on batches, on any device: log-mel, MFCC and SpecAugment.

None of these modules has parameters; their constant tensors (window, mel filterbank, DCT matrix)
are buffers, so ``model.to(device)`` moves them with the model and a KWS classifier can carry its
own front-end (a saved model plus a waveform is all grading needs).

Letters used in shapes: B batch, S samples, T frames, F mel bins or coefficients.
"""

import torch
from torch import nn

from kws.compat import torchaudio  # checked: says what to install if it fails


class LogMel(nn.Module):
    """Natural log of a mel power spectrogram: ``log(mel + floor)``.

    Frames are centred (``center=True``), so a clip of S samples gives ``S // hop_length + 1``
    frames: 16000 samples -> 101 frames with the default 10 ms hop. The signal is zero-padded at
    its edges (``pad_mode="constant"``, not torchaudio's default ``"reflect"``) so that a clip's
    frames are the same whether it stands alone or is followed by padding in a batch.

    Args:
        sample_rate: sampling rate of the waveforms in Hz.
        n_fft: FFT size in samples (400 = 25 ms at 16 kHz).
        win_length: window length in samples; defaults to ``n_fft``.
        hop_length: hop between frames in samples (160 = 10 ms at 16 kHz).
        n_mels: number of mel bins F.
        floor: added to the mel power before the log, so silence gives ``log(floor)``, not -inf.

    Shapes:
        forward(waveform (B, S)) -> features (B, T, n_mels), T = S // hop_length + 1.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int = 160,
        n_mels: int = 40,
        floor: float = 1e-6,
    ):
        super().__init__()
        if floor <= 0:
            raise ValueError(f"floor must be > 0 so that log(mel + floor) is finite, got {floor}")
        if win_length is not None and win_length > n_fft:
            raise ValueError(
                f"win_length ({win_length}) must not exceed n_fft ({n_fft}); raise n_fft to at "
                f"least {win_length}"
            )
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.floor = floor
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=win_length,
            hop_length=hop_length,
            n_mels=n_mels,
            center=True,
            pad_mode="constant",
        )

    def num_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Frames produced for clips of ``num_samples`` samples (int tensor (B,)) -> (B,)."""
        return torch.div(num_samples, self.hop_length, rounding_mode="floor") + 1

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.dim() != 2:
            raise ValueError(
                f"LogMel expects a batch of waveforms (B, S), got shape {tuple(waveform.shape)}; "
                f"add a batch dimension with waveform.unsqueeze(0)"
            )
        mel = self.mel(waveform)  # (B, F, T)
        return torch.log(mel + self.floor).transpose(1, 2)  # (B, T, F)


class MFCC(nn.Module):
    """Mel-frequency cepstral coefficients: a type-II DCT (orthonormal) of `LogMel`.

    Written as log-mel followed by a fixed DCT matrix rather than ``torchaudio.transforms.MFCC``,
    whose decibel conversion clamps every value to 80 dB below the loudest bin of the whole batch,
    so one example's features would depend on the other examples it is batched with.

    Args:
        n_mfcc: number of coefficients kept (must not exceed ``n_mels``).
        n_mels: as in `LogMel`; the default 80 is the KWT recipe's.
        sample_rate: as in `LogMel`.
        n_fft: as in `LogMel`; the default 480 samples (30 ms) is the KWT recipe's window.
        win_length: as in `LogMel` (defaults to ``n_fft``).
        hop_length: as in `LogMel`; the default is the KWT recipe's 10 ms hop.
        floor: as in `LogMel`.

    Shapes:
        forward(waveform (B, S)) -> coefficients (B, T, n_mfcc), T = S // hop_length + 1.
    """

    def __init__(
        self,
        n_mfcc: int = 40,
        n_mels: int = 80,
        sample_rate: int = 16000,
        n_fft: int = 480,
        win_length: int | None = None,
        hop_length: int = 160,
        floor: float = 1e-6,
    ):
        super().__init__()
        if n_mfcc > n_mels:
            raise ValueError(f"n_mfcc ({n_mfcc}) must not exceed n_mels ({n_mels})")
        self.n_mfcc = n_mfcc
        self.hop_length = hop_length
        self.log_mel = LogMel(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=win_length,
            hop_length=hop_length,
            n_mels=n_mels,
            floor=floor,
        )
        dct = torchaudio.functional.create_dct(n_mfcc, n_mels, norm="ortho")  # (n_mels, n_mfcc)
        self.register_buffer("dct", dct)

    def num_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Frames produced for clips of ``num_samples`` samples (int tensor (B,)) -> (B,)."""
        return self.log_mel.num_frames(num_samples)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return (
            self.log_mel(waveform) @ self.dct
        )  # (B, T, n_mels) @ (n_mels, n_mfcc) -> (B, T, n_mfcc)


class SpecAugment(nn.Module):
    """Frequency and time masking (SpecAugment) on a batch of features, in training mode only.

    Each example gets its own random masks (torchaudio's ``iid_masks``). In ``eval()`` mode, or
    with zero masks, the module returns its input unchanged.

    Args:
        freq_masks: number of frequency masks per example.
        freq_width: largest width of a frequency mask (widths are drawn from [0, freq_width]).
        time_masks: number of time masks per example.
        time_width: largest width of a time mask, in frames.
        mask_value: value written into masked bins.

    Shapes:
        forward(features (B, T, F)) -> (B, T, F).
    """

    def __init__(
        self,
        freq_masks: int = 2,
        freq_width: int = 7,
        time_masks: int = 2,
        time_width: int = 25,
        mask_value: float = 0.0,
    ):
        super().__init__()
        for name, value in [
            ("freq_masks", freq_masks),
            ("freq_width", freq_width),
            ("time_masks", time_masks),
            ("time_width", time_width),
        ]:
            if value < 0:
                raise ValueError(f"SpecAugment {name} must be >= 0, got {value}")
        self.freq_masks = freq_masks
        self.time_masks = time_masks
        self.mask_value = mask_value
        self.freq_masking = torchaudio.transforms.FrequencyMasking(freq_width, iid_masks=True)
        self.time_masking = torchaudio.transforms.TimeMasking(time_width, iid_masks=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not self.training or (self.freq_masks == 0 and self.time_masks == 0):
            return features
        x = features.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): torchaudio's layout
        for _ in range(self.freq_masks):
            x = self.freq_masking(x, self.mask_value)
        for _ in range(self.time_masks):
            x = self.time_masking(x, self.mask_value)
        return x.squeeze(1).transpose(1, 2)  # (B, T, F)

    def extra_repr(self) -> str:
        return (
            f"freq_masks={self.freq_masks}, freq_width={self.freq_masking.mask_param}, "
            f"time_masks={self.time_masks}, time_width={self.time_masking.mask_param}"
        )
