"""The on-disk caches hold exactly what the per-item readers give, and are rebuilt when they must."""

import json
import os

import pytest
import soundfile
import torch
from fastpath_folders import N_MELS, make_speaker_features, make_speech_commands

import kws.data.cache as cache_module
from kws.data.audio import load_wav
from kws.data.augment import WaveAugment
from kws.data.cache import cache_clips, cache_dir_for, cache_features, cache_noise
from kws.data.speaker_features import SpeakerFeatures, load_features
from kws.data.speech_commands import SpeechCommands


@pytest.fixture(scope="module")
def sc_root(tmp_path_factory):
    return make_speech_commands(tmp_path_factory.mktemp("sc"))


def _dataset(root, subset="training", seed=0):
    # every other word is _unknown_ and silence is half the known words: all three kinds of item
    return SpeechCommands(
        root, subset, labels="12", unknown_fraction=1.0, silence_fraction=0.5, seed=seed
    )


@pytest.mark.parametrize("subset", ["training", "validation"])
def test_clip_cache_equals_the_dataset_bit_for_bit(sc_root, subset, tmp_path):
    dataset = _dataset(sc_root, subset)
    cache = cache_clips(dataset, cache_dir=tmp_path)
    assert len(cache) == len(dataset) and cache.waves.shape == (len(dataset), 16000)
    assert cache.waves.dtype == torch.int16 and cache.classes == tuple(dataset.classes)
    for i, item in enumerate(dataset.items):
        wave, label = dataset[i]
        assert torch.equal(cache.clip(i), wave), f"clip {i} ({item.path.name}) differs"
        assert cache.labels[i] == label
        speaker = cache.speakers[i]
        assert (
            (speaker == -1) if item.speaker == "" else cache.speaker_names[speaker] == item.speaker
        )
    assert cache.gains.lt(1).any(), "the silence clips (gain < 1) were not covered"


def test_clip_cache_is_read_back_without_decoding(sc_root, tmp_path, monkeypatch):
    first = cache_clips(_dataset(sc_root), cache_dir=tmp_path)

    def no_decoding(item):
        raise AssertionError(f"decoded {item.path} although the cache is valid")

    monkeypatch.setattr(cache_module, "load_item", no_decoding)
    again = cache_clips(_dataset(sc_root), cache_dir=tmp_path)
    assert torch.equal(again.waves, first.waves) and torch.equal(again.labels, first.labels)
    assert len(list(tmp_path.glob("*.pt"))) == 1


def test_clip_cache_is_rebuilt_when_a_file_or_a_setting_changes(tmp_path):
    root = make_speech_commands(tmp_path / "data")
    folder = tmp_path / "cache"
    before = cache_clips(_dataset(root), cache_dir=folder)
    # rewrite one clip: new content and modification time
    clip = _dataset(root).items[0].path
    samples = (load_wav(clip) * 0.5 * 32768).round().to(torch.int16).numpy()
    soundfile.write(clip, samples, 16000, subtype="PCM_16")
    os.utime(clip, ns=(os.stat(clip).st_atime_ns, os.stat(clip).st_mtime_ns + 10**9))
    after = cache_clips(_dataset(root), cache_dir=folder)
    assert not torch.equal(after.waves[0], before.waves[0])
    assert torch.equal(after.clip(0), _dataset(root)[0][0])
    assert len(list(folder.glob("clips-training-12-*.pt"))) == 1, "the stale cache was kept"
    # another seed draws other unknown/silence clips: another key
    other = cache_clips(_dataset(root, seed=1), cache_dir=folder)
    assert torch.equal(other.gains, torch.tensor([c.gain for c in _dataset(root, seed=1).items]))


def test_a_corrupt_cache_is_rebuilt_with_a_warning(sc_root, tmp_path):
    # a copy: the cache is memory-mapped, and truncating a mapped file in place breaks the map
    good = cache_clips(_dataset(sc_root), cache_dir=tmp_path).waves.clone()
    (path,) = tmp_path.glob("*.pt")
    path.write_bytes(path.read_bytes()[:1000])  # truncated, as by a full disk
    with pytest.warns(UserWarning, match="corrupt"):
        rebuilt = cache_clips(_dataset(sc_root), cache_dir=tmp_path)
    assert torch.equal(rebuilt.waves, good)


def test_cache_lives_beside_the_data_or_falls_back_to_the_user_cache(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.delenv("KWS_CACHE_DIR", raising=False)
    assert cache_dir_for(data) == data.resolve() / ".kws_cache"

    writable = cache_module._writable
    monkeypatch.setattr(
        cache_module, "_writable", lambda d: None if data.resolve() in d.parents else writable(d)
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user"))
    with pytest.warns(UserWarning, match="read-only"):
        fallback = cache_dir_for(data)
    assert fallback.parent == tmp_path / "user" / "kws" and fallback.is_dir()

    monkeypatch.setenv("KWS_CACHE_DIR", str(tmp_path / "chosen"))
    assert cache_dir_for(data).parent == tmp_path / "chosen"


@pytest.fixture(scope="module")
def hw4_root(tmp_path_factory):
    return make_speaker_features(tmp_path_factory.mktemp("hw4"))


def test_feature_cache_holds_every_utterance_of_the_metadata(hw4_root, tmp_path):
    cache = cache_features(hw4_root, cache_dir=tmp_path)
    metadata = json.loads((hw4_root / "metadata.json").read_text())
    speaker2id = json.loads((hw4_root / "mapping.json").read_text())["speaker2id"]
    expected = [(u, s) for s, utts in metadata["speakers"].items() for u in utts]
    assert len(cache) == len(expected) == 9
    assert cache.frames.shape == (sum(u["mel_len"] for u, _ in expected), N_MELS)
    for i, (utterance, speaker) in enumerate(expected):
        assert cache.feature_paths[i] == utterance["feature_path"]
        assert cache.lengths[i] == utterance["mel_len"] and cache.labels[i] == speaker2id[speaker]
        stored = torch.load(hw4_root / utterance["feature_path"])
        assert torch.equal(cache.utterance(i), stored)
    assert cache.speaker_names == ("id10007", "id10020", "id10001")  # id2speaker order


def test_feature_cache_of_the_test_part_and_a_subset(hw4_root, tmp_path):
    test = cache_features(hw4_root, "test", cache_dir=tmp_path)
    assert test.lengths.tolist() == [11, 4] and test.labels.tolist() == [-1, -1]
    assert torch.equal(test.utterance(1), torch.load(hw4_root / test.feature_paths[1]))

    train = cache_features(hw4_root, cache_dir=tmp_path)
    valid = train.subset([7, 2])
    assert valid.frames is train.frames, "a subset must share the frames, not copy them"
    assert valid.feature_paths == (train.feature_paths[7], train.feature_paths[2])
    assert torch.equal(valid.utterance(0), train.utterance(7))


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_feature_cache_of_a_split_equals_the_dataset(hw4_root, split, tmp_path):
    dataset = SpeakerFeatures(hw4_root, split, valid_fraction=0.34, seed=1)
    cache = cache_features(dataset, cache_dir=tmp_path)
    assert len(cache) == len(dataset) > 0
    for i, (path, mel_len, label) in enumerate(dataset.items):
        assert cache.feature_paths[i] == path and cache.lengths[i] == mel_len
        assert cache.labels[i] == label
        whole = load_features(hw4_root / path, N_MELS)
        assert torch.equal(cache.utterance(i), whole)
        if split != "train":  # no random crop: the dataset's item is the whole utterance
            assert torch.equal(dataset[i][0], whole)


def test_packed_subset_holds_only_its_own_frames(hw4_root, tmp_path):
    train = cache_features(hw4_root, cache_dir=tmp_path)
    valid = train.subset([7, 2, 4])
    packed = valid.packed()
    assert packed.frames.shape == (int(valid.lengths.sum()), N_MELS)
    assert packed.offsets.tolist() == [0, 9, 17]  # lengths 9, 8, 8 end to end
    for i in range(3):
        assert torch.equal(packed.utterance(i), valid.utterance(i))
    assert valid.to("cpu").frames is train.frames, "on the same device a subset shares frames"


def test_feature_cache_in_float16(hw4_root, tmp_path):
    half = cache_features(hw4_root, dtype=torch.float16, cache_dir=tmp_path)
    full = cache_features(hw4_root, cache_dir=tmp_path)
    assert half.frames.dtype == torch.float16 and full.frames.dtype == torch.float32
    torch.testing.assert_close(half.frames.float(), full.frames, rtol=1e-3, atol=1e-3)


def test_feature_cache_names_a_bad_file(tmp_path):
    root = make_speaker_features(tmp_path)
    torch.save(torch.zeros(7, N_MELS), root / "uttr-00004.pt")  # metadata says 8 frames
    with pytest.raises(ValueError, match=r"uttr-00004\.pt has 7 frames"):
        cache_features(root, cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match="part must be"):
        cache_features(root, "valid")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        cache_features(tmp_path / "nowhere")


def test_noise_bank_holds_the_recordings_and_feeds_wave_augment(sc_root, tmp_path):
    bank = cache_noise(sc_root / "_background_noise_", cache_dir=tmp_path)
    files = sorted((sc_root / "_background_noise_").glob("*.wav"))
    assert bank.names == ("pink_noise", "white_noise")
    for recording, path in zip(bank.recordings(), files, strict=True):
        assert torch.equal(recording, load_wav(path))
    augment = WaveAugment(bank.recordings(), shift_ms=0, noise_prob=1.0, noise_volume=1.0)
    noisy = augment(torch.zeros(3, 16000), torch.Generator().manual_seed(0))
    assert noisy.abs().amax(dim=1).gt(0).all()
    with pytest.raises(FileNotFoundError, match="no background-noise"):
        cache_noise(tmp_path)
