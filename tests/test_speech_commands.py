"""SpeechCommands on small folders built from 12 real v0.01 clips (tests/data), copied under many names."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

from kws.data.audio import load_wav
from kws.data.speech_commands import (
    KNOWN_WORDS_12,
    LABEL_SETS,
    WORDS_V1,
    WORDS_V2,
    SpeechCommands,
    detect_version,
    load_item,
    which_set,
)

SAMPLE = Path(__file__).parent / "data" / "speech_commands_v0.01_sample"
CLIPS = sorted(SAMPLE.glob("*/*.wav"))
SUBSETS = ("training", "validation", "testing")


def _speakers(per_split: dict[str, int]) -> list[str]:
    """Speaker hashes ("00000a3f" style) chosen so the hash split gives `per_split` of each."""
    chosen, i = [], 0
    wanted = dict(per_split)
    while any(wanted.values()):
        name = f"{i:08x}"
        split = which_set(f"{name}_nohash_0.wav")
        if wanted[split] > 0:
            wanted[split] -= 1
            chosen.append(name)
        i += 1
    return chosen


SPEAKERS = _speakers({"training": 5, "validation": 2, "testing": 2})
# A speaker the hash puts in training, that validation_list.txt moves to validation.
MOVED = next(s for s in SPEAKERS if which_set(f"{s}_nohash_0.wav") == "training")


def _make_folder(folder: Path, words: list[str], lists: bool) -> Path:
    """A dataset folder: every word spoken by every speaker (real clips reused), two noise files."""
    n = 0
    for word in words:
        (folder / word).mkdir(parents=True)
        for speaker in SPEAKERS:
            shutil.copy(CLIPS[n % len(CLIPS)], folder / word / f"{speaker}_nohash_0.wav")
            n += 1
    noise = folder / "_background_noise_"
    noise.mkdir()
    rng = np.random.default_rng(0)
    soundfile.write(
        noise / "white_noise.wav", rng.uniform(-0.5, 0.5, 40000), 16000, subtype="PCM_16"
    )
    soundfile.write(
        noise / "running_tap.wav", rng.uniform(-0.2, 0.2, 24000), 16000, subtype="PCM_16"
    )
    (noise / "README.md").write_text("not audio")
    if lists:
        # Mostly the hash split, but one training speaker moved to validation: proves the lists rule.
        val = [
            f"{w}/{s}_nohash_0.wav"
            for w in words
            for s in SPEAKERS
            if which_set(s + "_nohash_0") == "validation" or s == MOVED
        ]
        test = [
            f"{w}/{s}_nohash_0.wav"
            for w in words
            for s in SPEAKERS
            if which_set(s + "_nohash_0") == "testing"
        ]
        (folder / "validation_list.txt").write_text("\n".join(val) + "\n")
        (folder / "testing_list.txt").write_text("\n".join(test) + "\n")
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """DATA/ with speech_commands_v0.02 (lists), speech_commands_v0.01 (lists), a hash-split v0.02
    copy, and the 12-class test set."""
    root = tmp_path_factory.mktemp("DATA")
    _make_folder(root / "speech_commands_v0.02", WORDS_V2, lists=True)
    _make_folder(root / "speech_commands_v0.01", WORDS_V1, lists=True)
    _make_folder(root / "hashsplit" / "speech_commands_v0.02", WORDS_V2, lists=False)
    test_set = root / "speech_commands_test_set_v0.02"
    for i, name in enumerate(LABEL_SETS["12"]):
        (test_set / name).mkdir(parents=True)
        for j in range(i % 3 + 1):
            shutil.copy(
                CLIPS[(i + j) % len(CLIPS)], test_set / name / f"ab{i:02d}cd{j:02d}_nohash_{j}.wav"
            )
    return root


@pytest.mark.parametrize("version", ["v0.02", "v0.01"])
def test_official_subsets_list_the_same_files_as_torchaudio(data, version):
    folder = data / f"speech_commands_{version}"
    labels = "35" if version == "v0.02" else "30"
    for subset in SUBSETS:
        ours = SpeechCommands(folder, subset, labels)
        theirs = torchaudio.datasets.SPEECHCOMMANDS(
            data, url=f"speech_commands_{version}", folder_in_archive="", subset=subset
        )
        meta = [theirs.get_metadata(n) for n in range(len(theirs))]
        assert len(ours) == len(theirs) > 0
        ours_rows = sorted(
            (item.path.relative_to(data).as_posix(), ours.classes[item.label], item.speaker)
            for item in ours.items
        )
        theirs_rows = sorted((path, label, speaker) for path, _, label, speaker, _ in meta)
        assert ours_rows == theirs_rows


def test_lists_decide_the_split_when_present(data):
    assert which_set(f"{MOVED}_nohash_0.wav") == "training"
    validation = SpeechCommands(data / "speech_commands_v0.02", "validation", "35")
    assert MOVED in {item.speaker for item in validation.items}
    training = SpeechCommands(data / "speech_commands_v0.02", "training", "35")
    assert MOVED not in {item.speaker for item in training.items}


def test_hash_split_without_lists_is_speaker_disjoint_and_complete(data):
    folder = data / "hashsplit" / "speech_commands_v0.02"
    splits = {s: SpeechCommands(folder, s, "35") for s in SUBSETS}
    for subset, ds in splits.items():
        assert all(which_set(item.path.name) == subset for item in ds.items)
    speakers = [{item.speaker for item in ds.items} for ds in splits.values()]
    assert (
        speakers[0].isdisjoint(speakers[1])
        and speakers[0].isdisjoint(speakers[2])
        and speakers[1].isdisjoint(speakers[2])
    )
    every = sorted(item.path for ds in splits.values() for item in ds.items)
    assert every == sorted(
        p for p in folder.glob("*/*.wav") if p.parent.name != "_background_noise_"
    )


def test_which_set_follows_the_published_rule():
    # The rule, spelled out: SHA-1 of the name before "_nohash_", modulo 2**27, as a percentage.
    for name in [
        "0a7c2a8d_nohash_0.wav",
        "c9b653a0_nohash_3.wav",
        "ffd2ba2f_nohash_4.wav",
        "3f2b358d_nohash_1.wav",
    ]:
        value = int(hashlib.sha1(name.split("_nohash_")[0].encode()).hexdigest(), 16) % 2**27
        percent = value * 100.0 / (2**27 - 1)
        expected = "validation" if percent < 10 else "testing" if percent < 20 else "training"
        assert which_set(f"yes/{name}") == expected
    # Every clip of a speaker goes the same way, and the shares are about 10 / 10 / 80 %.
    assert which_set("a/5f01c798_nohash_0.wav") == which_set("b/5f01c798_nohash_7.wav")
    names = [f"{i:08x}_nohash_0.wav" for i in range(0, 3_000_000, 1000)]
    share = {s: sum(which_set(n) == s for n in names) / len(names) for s in SUBSETS}
    assert abs(share["validation"] - 0.1) < 0.025 and abs(share["testing"] - 0.1) < 0.025
    assert which_set("x_nohash_0.wav", 0, 0) == "training"


def test_label_sets_35_and_30(data):
    v2 = SpeechCommands(data / "speech_commands_v0.02", "training", "35")
    assert v2.classes == sorted(WORDS_V2) and len(v2.classes) == 35
    assert all(v2.classes[item.label] == item.path.parent.name for item in v2.items)
    v2_30 = SpeechCommands(data / "speech_commands_v0.02", "training", "30")
    assert len(v2_30.classes) == 30 and "visual" not in v2_30.classes
    assert {item.path.parent.name for item in v2_30.items} == set(WORDS_V1)
    assert len(v2_30) == len(v2) * 30 // 35
    with pytest.raises(ValueError, match="v0.01, which has 30 words: use labels='30'"):
        SpeechCommands(data / "speech_commands_v0.01", "training", "35")
    assert detect_version(data / "speech_commands_v0.01") == "v0.01"
    assert detect_version(data / "speech_commands_v0.02") == "v0.02"


def test_12_classes_sizes_and_contents(data):
    folder = data / "speech_commands_v0.02"
    for subset in SUBSETS:
        ds = SpeechCommands(folder, subset, "12")
        assert ds.classes == [
            "_silence_",
            "_unknown_",
            "yes",
            "no",
            "up",
            "down",
            "left",
            "right",
            "on",
            "off",
            "stop",
            "go",
        ]
        counts = ds.counts()
        known = sum(counts[w] for w in KNOWN_WORDS_12)
        assert known == len(KNOWN_WORDS_12) * len(SpeechCommands(folder, subset, "35").items) // 35
        assert counts["_unknown_"] == round(0.1 * known) and counts["_silence_"] == round(
            0.1 * known
        )
        for item in ds.items:
            word = ds.classes[item.label]
            if word == "_unknown_":
                assert item.path.parent.name in set(WORDS_V2) - set(KNOWN_WORDS_12)
            elif word == "_silence_":
                assert item.path.parent.name == "_background_noise_" and item.speaker == ""
                assert (
                    0 <= item.offset <= soundfile.info(item.path).frames - 16000
                    and 0 <= item.gain < 1
                )
            else:
                assert item.path.parent.name == word and (item.offset, item.gain) == (0, 1.0)
    custom = SpeechCommands(
        folder, "training", "12", silence_fraction=0.5, unknown_fraction=0.0
    ).counts()
    known = sum(custom[w] for w in KNOWN_WORDS_12)
    assert custom["_silence_"] == round(0.5 * known) and custom["_unknown_"] == 0
    many = SpeechCommands(folder, "validation", "12", unknown_fraction=100.0).counts()
    assert many["_unknown_"] == 25 * 3  # all 25 other words of the 2 validation speakers + 1 moved


def test_12_classes_are_deterministic_given_the_seed(data):
    folder = data / "speech_commands_v0.02"
    a = SpeechCommands(folder, "training", "12", seed=3)
    b = SpeechCommands(folder, "training", "12", seed=3)
    c = SpeechCommands(folder, "training", "12", seed=4)
    assert a.items == b.items and a.items != c.items
    torch.testing.assert_close(a[len(a) - 1][0], b[len(b) - 1][0])


def test_silence_clip_is_a_scaled_noise_window(data):
    ds = SpeechCommands(data / "speech_commands_v0.02", "training", "12")
    item = next(item for item in ds.items if ds.classes[item.label] == "_silence_")
    wave, label = ds[ds.items.index(item)]
    assert label == 0 and wave.shape == (16000,) and wave.dtype == torch.float32
    noise = load_wav(item.path)[item.offset : item.offset + 16000]
    torch.testing.assert_close(wave, noise * item.gain)


def test_items_are_one_second_float32_and_short_clips_are_padded(data):
    ds = SpeechCommands(data / "speech_commands_v0.02", "training", "35")
    short = next(i for i, item in enumerate(ds.items) if soundfile.info(item.path).frames < 16000)
    wave, label = ds[short]
    frames = soundfile.info(ds.items[short].path).frames
    assert wave.shape == (16000,) and wave.dtype == torch.float32 and isinstance(label, int)
    torch.testing.assert_close(wave[:frames], load_wav(ds.items[short].path))
    assert (wave[frames:] == 0).all() and wave[:frames].abs().max() > 0
    assert torch.equal(load_item(ds.items[short]), wave)


def test_12_class_test_set(data):
    ds = SpeechCommands(data / "speech_commands_v0.02", "test12", "12")
    assert ds.counts() == {name: i % 3 + 1 for i, name in enumerate(LABEL_SETS["12"])}
    assert ds.items[0].speaker == "ab00cd00" and ds[0][0].shape == (16000,)
    with pytest.raises(ValueError, match="use labels='12'"):
        SpeechCommands(data / "speech_commands_v0.02", "test12", "35")
    with pytest.raises(FileNotFoundError, match=r"--version v0.01 --root"):
        SpeechCommands(data / "speech_commands_v0.01", "test12", "12")
    moved = SpeechCommands(
        data / "speech_commands_v0.01",
        "test12",
        "12",
        test_set_root=data / "speech_commands_test_set_v0.02",
    )
    assert len(moved) == len(ds)


def test_missing_or_wrong_folder_names_the_download_command(tmp_path, data):
    with pytest.raises(
        FileNotFoundError,
        match=rf"python data_scripts/speech_commands.py download --version v0.02 --root {tmp_path}",
    ):
        SpeechCommands(tmp_path / "speech_commands_v0.02")
    with pytest.raises(ValueError, match="pass root=.*speech_commands_v0.02"):
        SpeechCommands(data)
    with pytest.raises(ValueError, match="subset='train'"):
        SpeechCommands(data / "speech_commands_v0.02", "train")


def test_broken_folders_give_errors_naming_the_file(tmp_path):
    folder = _make_folder(tmp_path / "speech_commands_v0.02", ["yes", "no", "visual"], lists=True)
    (folder / "no" / f"{MOVED}_nohash_0.wav").write_bytes(b"RIFF garbage")
    soundfile.write(folder / "yes" / f"{MOVED}_nohash_0.wav", np.zeros(8000), 8000)
    ds = SpeechCommands(folder, "validation", "35")  # MOVED is listed for validation
    where = {(item.path.parent.name, item.speaker): i for i, item in enumerate(ds.items)}
    with pytest.raises(ValueError, match=rf"no/{MOVED}_nohash_0\.wav: cannot be read as audio"):
        ds[where["no", MOVED]]
    with pytest.raises(ValueError, match=rf"yes/{MOVED}_nohash_0\.wav: sample rate is 8000 Hz"):
        ds[where["yes", MOVED]]
    (folder / "no" / f"{MOVED}_nohash_0.wav").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"validation_list.txt names 1 clips missing .* no/"
    ):
        SpeechCommands(folder, "training", "35")
    (folder / "testing_list.txt").unlink()
    with pytest.raises(FileNotFoundError, match="testing_list.txt is missing"):
        SpeechCommands(folder, "training", "35")
    shutil.rmtree(folder / "_background_noise_")
    (folder / "validation_list.txt").unlink()
    with pytest.raises(
        FileNotFoundError,
        match="_background_noise_ has no .wav/.flac recordings.*silence_fraction=0",
    ):
        SpeechCommands(folder, "training", "12")
    assert SpeechCommands(folder, "training", "12", silence_fraction=0).counts()["_silence_"] == 0
