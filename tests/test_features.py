import math

import pytest
import torch
import torchaudio

from kws.data.features import MFCC, LogMel, SpecAugment


def _waveforms(batch=2, samples=16000, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, samples, generator=generator)


def test_log_mel_one_second_gives_101_frames_batch_first():
    features = LogMel(n_mels=40)(_waveforms())
    assert features.shape == (2, 101, 40)
    assert LogMel().num_frames(torch.tensor([16000, 8000])).tolist() == [101, 51]


def test_log_mel_equals_torchaudio_mel_spectrogram_and_floors_silence():
    waveform = _waveforms(samples=4000).double()
    front = LogMel(n_mels=64, n_fft=400, hop_length=160).double()
    reference = torchaudio.transforms.MelSpectrogram(
        16000, n_fft=400, hop_length=160, n_mels=64, pad_mode="constant"
    ).double()
    expected = torch.log(reference(waveform) + 1e-6).transpose(1, 2)
    torch.testing.assert_close(front(waveform), expected)

    silence = front(torch.zeros(1, 4000, dtype=torch.float64))
    torch.testing.assert_close(silence, torch.full_like(silence, math.log(1e-6)))


def test_log_mel_of_a_padded_clip_matches_the_clip_alone():
    front = LogMel().double()
    clip = _waveforms(batch=1, samples=9600).double()
    padded = torch.nn.functional.pad(clip, (0, 6400))
    frames = int(front.num_frames(torch.tensor(9600)))
    torch.testing.assert_close(front(padded)[:, :frames], front(clip))


def test_front_ends_have_no_parameters_and_move_with_to():
    for front in [LogMel(), MFCC(), SpecAugment()]:
        assert sum(p.numel() for p in front.parameters()) == 0
    mfcc = MFCC().double()
    assert all(b.dtype == torch.float64 for b in mfcc.buffers())


def test_mfcc_is_orthonormal_dct_of_log_mel():
    waveform = _waveforms(samples=3200).double()
    mfcc = MFCC(n_mfcc=13, n_mels=20, n_fft=480).double()
    log_mel = LogMel(n_mels=20, n_fft=480).double()(waveform)
    coefficients = mfcc(waveform)
    assert coefficients.shape == (2, 21, 13)
    dct = torchaudio.functional.create_dct(13, 20, norm="ortho").double()
    torch.testing.assert_close(coefficients, log_mel @ dct)
    # The first coefficient of an orthonormal DCT-II is the mean log-mel times sqrt(n_mels).
    torch.testing.assert_close(coefficients[..., 0], log_mel.mean(-1) * math.sqrt(20))


def test_spec_augment_masks_in_training_only():
    features = torch.randn(2, 101, 40)
    augment = SpecAugment(freq_masks=2, freq_width=7, time_masks=2, time_width=25, mask_value=0.0)
    augment.eval()
    assert augment(features) is features

    augment.train()
    torch.manual_seed(0)
    masked = augment(features)
    assert masked.shape == features.shape
    changed = masked != features
    assert changed.any()
    assert (masked[changed] == 0).all()
    # Masks are whole frequency rows or time columns, drawn independently per example.
    assert not torch.equal(changed[0], changed[1])


def test_spec_augment_with_zero_masks_is_identity_in_training():
    augment = SpecAugment(freq_masks=0, time_masks=0).train()
    features = torch.randn(2, 7, 5)
    assert torch.equal(augment(features), features)


def test_front_end_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="batch of waveforms"):
        LogMel()(torch.zeros(16000))
    with pytest.raises(ValueError, match="n_mfcc"):
        MFCC(n_mfcc=41, n_mels=40)
    with pytest.raises(ValueError, match="floor"):
        LogMel(floor=0.0)
    with pytest.raises(ValueError, match="time_masks"):
        SpecAugment(time_masks=-1)
