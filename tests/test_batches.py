"""The device-side iterators give what the per-item readers give, cut, padded and seeded as promised."""

import pytest
import torch
from fastpath_folders import N_MELS, make_speaker_features, make_speech_commands

from kws.data.augment import WaveAugment
from kws.data.batches import ClipBatches, FeatureBatches
from kws.data.cache import cache_clips, cache_features, cache_noise
from kws.data.speaker_features import SpeakerFeatures, collate_features
from kws.data.speech_commands import SpeechCommands

PAD = -20.0


@pytest.fixture(scope="module")
def sc(tmp_path_factory):
    root = make_speech_commands(tmp_path_factory.mktemp("sc"))
    dataset = SpeechCommands(
        root, "training", labels="12", unknown_fraction=1.0, silence_fraction=0.5
    )
    return dataset, cache_clips(dataset), cache_noise(root / "_background_noise_")


@pytest.fixture(scope="module")
def hw4(tmp_path_factory):
    return cache_features(make_speaker_features(tmp_path_factory.mktemp("hw4")))


def test_clip_batches_in_order_equal_the_dataset(sc, device):
    dataset, cache, _ = sc
    batches = ClipBatches(cache, batch_size=3, device=device, shuffle=False)
    assert len(dataset) == 13 and len(batches) == 5  # 4 full batches and one of 1
    waves, labels = [], []
    for x, lengths, y in batches:
        assert x.device.type == device.type and x.dtype == torch.float32 and lengths is None
        waves.append(x.cpu())
        labels.append(y.cpu())
    assert [len(w) for w in waves] == [3, 3, 3, 3, 1]
    torch.testing.assert_close(torch.cat(waves), torch.stack([dataset[i][0] for i in range(13)]))
    assert torch.cat(labels).tolist() == [item.label for item in dataset.items]
    assert len(ClipBatches(cache, 3, device, drop_last=True)) == 4


def test_clip_batches_shuffle_each_epoch_deterministically(sc, device):
    _, cache, _ = sc
    batches = ClipBatches(cache, batch_size=4, device=device, seed=5, drop_last=True)
    epochs = [torch.cat([i.cpu() for *_, i in batches.indexed()]) for _ in range(2)]
    for order in epochs:  # 12 of the 13 clips, each at most once
        assert len(order) == 12 and len(set(order.tolist())) == 12
    assert not torch.equal(epochs[0], epochs[1]), "two epochs drew the same order"

    # each row is the clip its index names, with its label
    for x, _, y, i in ClipBatches(cache, batch_size=4, device=device, seed=5).indexed():
        assert torch.equal(y.cpu(), cache.labels[i.cpu()])
        torch.testing.assert_close(x.cpu(), torch.stack([cache.clip(k) for k in i.tolist()]))
    # the same seed gives the same epochs, another seed others
    first = [i.cpu() for *_, i in ClipBatches(cache, 4, device, seed=5, drop_last=True).indexed()]
    assert torch.equal(torch.cat(first), epochs[0])
    other = [i.cpu() for *_, i in ClipBatches(cache, 4, device, seed=6, drop_last=True).indexed()]
    assert not torch.equal(torch.cat(other), epochs[0])


def test_clip_batches_augment_on_the_device_with_the_seed(sc, device):
    dataset, cache, bank = sc
    augment = WaveAugment(bank.recordings()).to(device)

    def first_batch(seed):
        batches = ClipBatches(cache, 13, device, shuffle=False, seed=seed, augment=augment)
        return next(iter(batches))[0]

    clean = torch.stack([dataset[i][0] for i in range(13)]).to(device)
    noisy = first_batch(0)
    assert noisy.shape == (13, 16000) and noisy.device.type == device.type
    assert not torch.allclose(noisy, clean) and noisy.abs().max() <= 1
    torch.testing.assert_close(first_batch(0), noisy)
    assert not torch.allclose(first_batch(1), noisy)
    # no shift and no noise: augmentation is the identity
    identity = WaveAugment(None, shift_ms=0, noise_prob=0).to(device)
    x, _, _ = next(iter(ClipBatches(cache, 13, device, shuffle=False, augment=identity)))
    torch.testing.assert_close(x, clean)


def test_forever_runs_past_the_end_of_an_epoch(sc, device):
    _, cache, _ = sc
    batches = ClipBatches(cache, batch_size=5, device=device)
    stream = batches.forever()
    labels = torch.cat([next(stream)[2].cpu() for _ in range(2 * len(batches))])
    assert len(labels) == 2 * len(cache)
    assert (
        sorted(labels[:13].tolist())
        == sorted(labels[13:].tolist())
        == sorted(cache.labels.tolist())
    )


def _rows_of(cache, x, lengths, index):
    """Check that each row of x is a window of its utterance, padded with PAD after lengths."""
    for row, n, k in zip(x.cpu(), lengths.cpu().tolist(), index.cpu().tolist(), strict=True):
        utterance = cache.utterance(k)
        assert n == min(len(utterance), x.shape[1])
        assert (row[n:] == PAD).all(), "padding must be -20"
        starts = [
            s for s in range(len(utterance) - n + 1) if torch.equal(utterance[s : s + n], row[:n])
        ]
        assert starts, f"row of utterance {k} is not a window of it"
        yield starts[0]


def test_feature_crops_lie_within_their_utterance(hw4, device):
    batches = FeatureBatches(hw4, batch_size=4, device=device, crop=8, seed=0)
    assert len(batches) == 3
    seen, starts = [], []
    for _ in range(20):  # many epochs: crops of the 40-frame utterance start all over it
        for x, lengths, labels, index in batches.indexed():
            assert x.shape == (len(index), 8, N_MELS) and x.dtype == torch.float32
            assert torch.equal(labels.cpu(), hw4.labels[index.cpu()])
            starts += [
                s
                for s, k in zip(_rows_of(hw4, x, lengths, index), index.tolist(), strict=True)
                if k == 1
            ]
            seen += index.tolist()
    assert sorted(set(seen)) == list(range(9))
    assert min(starts) < 8 and max(starts) > 24, "crops of a long utterance do not move"


def test_feature_crops_are_deterministic_with_the_seed(hw4, device):
    def epoch(seed):
        return [x.cpu() for x, _, _ in FeatureBatches(hw4, 4, device, crop=8, seed=seed)]

    for a, b in zip(epoch(3), epoch(3), strict=True):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(epoch(3), epoch(4), strict=True))


def test_whole_utterances_are_sorted_padded_and_indexed(hw4, device):
    batches = FeatureBatches(hw4, batch_size=4, device=device, crop=None, shuffle=False)
    widths, seen = [], []
    for x, lengths, labels, index in batches.indexed():
        assert torch.equal(lengths.cpu(), hw4.lengths[index.cpu()]), "whole utterances, no crop"
        assert x.shape[1] == int(lengths.max()), "padded to the longest of the batch only"
        assert list(_rows_of(hw4, x, lengths, index)) == [0] * len(index)
        assert torch.equal(labels.cpu(), hw4.labels[index.cpu()])
        widths.append(x.shape[1])
        seen += index.tolist()
    assert widths == sorted(widths) == [8, 25, 40]  # lengths 3 5 8 8 | 9 12 17 25 | 40
    assert sorted(seen) == list(range(9))
    shuffled = FeatureBatches(hw4, 4, device, crop=None, shuffle=True, seed=1)
    orders = {tuple(x.shape[1] for x, _, _ in shuffled) for _ in range(10)}
    assert len(orders) > 1 and all(sorted(o) == [8, 25, 40] for o in orders)


def test_whole_utterance_batches_equal_the_per_item_dataset_and_collate(tmp_path, device):
    dataset = SpeakerFeatures(make_speaker_features(tmp_path), "valid", valid_fraction=0.5)
    batches = FeatureBatches(cache_features(dataset), 2, device, crop=None, shuffle=False)
    for x, lengths, labels, index in batches.indexed():
        expected = collate_features([dataset[k] for k in index.tolist()])
        for got, want in zip((x, lengths, labels), expected, strict=True):
            assert torch.equal(got.cpu(), want)


def test_float16_frames_come_out_as_float32(tmp_path, device):
    half = cache_features(make_speaker_features(tmp_path), dtype=torch.float16)
    x, lengths, _ = next(iter(FeatureBatches(half, 9, device, crop=None, shuffle=False)))
    assert x.dtype == torch.float32 and (x[0, lengths[0] :] == PAD).all()


def test_bad_settings_are_refused(sc, hw4):
    with pytest.raises(ValueError, match="batch_size"):
        ClipBatches(sc[1], batch_size=0)
    with pytest.raises(ValueError, match="crop"):
        FeatureBatches(hw4, batch_size=2, crop=0)
