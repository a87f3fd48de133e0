"""Speech Commands folders as real users have them: FLAC clips, stray files, no lists, odd versions.

Built from 3 real v0.02 clips stored as FLAC (tests/data/speech_commands_v0.02_flac_sample), copied
under the names of real speakers. Every speaker here is one of the official test split's, as in a
user's folder cut from it: the hash rule puts them all in "testing".
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from kws.data.batches import ClipBatches
from kws.data.cache import cache_clips, cache_noise
from kws.data.speech_commands import (
    WORDS_V1,
    EmptySplitError,
    SpeechCommands,
    load_background_noise,
    which_set,
)
from kws.training.loop import fit

SAMPLE = Path(__file__).parent / "data" / "speech_commands_v0.02_flac_sample"
FLAC = {clip.parent.name: clip for clip in SAMPLE.glob("*/*.flac")}  # yes, no, bed
SCRIPT = Path(__file__).parents[1] / "data_scripts" / "speech_commands.py"
# Real speaker hashes of Speech Commands v0.02 (all in its official test split).
SPEAKERS = (
    "022cd682 03401e93 0bac8a71 0fa1e7a9 1093c8e7 1538beb7 189cbabe 18f8afd5 1acc97de 1b4c9b89"
)
SPEAKERS = SPEAKERS.split()
VALIDATION, TESTING = SPEAKERS[:2], SPEAKERS[2:4]  # what the lists say; the rest is training


def _make(folder: Path, words=("yes", "no", "bed"), lists: bool = True) -> Path:
    """A FLAC copy of the dataset: WORD/SPEAKER_nohash_0.flac for every word and speaker, a FLAC
    background noise, and (when `lists`) the official lists, which name .wav files."""
    for word in words:
        (folder / word).mkdir(parents=True)
        for speaker in SPEAKERS:
            shutil.copy(FLAC.get(word, FLAC["bed"]), folder / word / f"{speaker}_nohash_0.flac")
    noise = np.concatenate([soundfile.read(FLAC[w], dtype="int16")[0] for w in sorted(FLAC)])
    (folder / "_background_noise_").mkdir()
    soundfile.write(folder / "_background_noise_" / "running_tap.flac", noise, 16000)
    if lists:
        for name, speakers in (("validation", VALIDATION), ("testing", TESTING)):
            entries = [f"{w}/{s}_nohash_0.wav" for w in words for s in speakers]
            (folder / f"{name}_list.txt").write_text("\n".join(entries) + "\n")
    return folder


def _info(root: Path) -> subprocess.CompletedProcess:
    """`python .../speech_commands.py info --root DATA`, run from DATA's parent."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), "info", "--root", root.name],
        cwd=root.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_flac_clips_follow_the_official_lists_that_name_wav(tmp_path):
    root = _make(tmp_path / "speech_commands_v0.02")
    speakers = {}
    for subset in ("training", "validation", "testing"):
        dataset = SpeechCommands(root, subset, "12", silence_fraction=0.0, unknown_fraction=1.0)
        assert all(item.path.suffix == ".flac" and item.path.is_file() for item in dataset.items)
        speakers[subset] = sorted({item.speaker for item in dataset.items})
        assert dataset.counts()["yes"] == dataset.counts()["no"] == len(speakers[subset])
    assert speakers == {
        "training": sorted(SPEAKERS[4:]),
        "validation": sorted(VALIDATION),
        "testing": sorted(TESTING),
    }


def test_flac_clips_load_and_cache_like_wav(tmp_path):
    root = _make(tmp_path / "speech_commands_v0.02")
    train = SpeechCommands(root, "training", "12", silence_fraction=0.5)
    assert train.counts()["_silence_"] == 6  # cut from the FLAC background noise
    wave, label = train[0]
    expected, rate = soundfile.read(train.items[0].path, dtype="float32")
    assert rate == 16000 and torch.equal(wave, torch.from_numpy(expected))
    cache = cache_clips(train, cache_dir=tmp_path / "cache")
    assert len(cache) == len(train) == 12 + 1 + 6  # yes+no, 10 % unknown, silence
    for i in range(len(train)):
        assert torch.equal(cache.clip(i), train[i][0])
    assert [len(w) for w in load_background_noise(root)] == [48000]
    assert cache_noise(root / "_background_noise_", cache_dir=tmp_path / "cache").names == (
        "running_tap",
    )


def test_files_that_are_not_clips_are_reported_not_dropped_silently(tmp_path):
    root = _make(tmp_path / "speech_commands_v0.02")
    (root / "yes" / f"{SPEAKERS[5]}_nohash_1.mp3").write_bytes(b"ID3 not decoded here")
    (root / "no" / "notes.txt").write_text("recorded on my phone")
    shutil.copy(FLAC["bed"], root / "bed" / "my_recording.flac")
    wav = root / "yes" / f"{SPEAKERS[6]}_nohash_0.wav"  # the same clip in both formats
    soundfile.write(wav, soundfile.read(FLAC["yes"], dtype="int16")[0], 16000)
    (root / "yes" / ".DS_Store").write_bytes(b"\0")  # hidden: ignored without a word
    with pytest.warns(UserWarning) as caught:
        train = SpeechCommands(root, "training", "12", silence_fraction=0.0)
    message = str(caught[0].message)
    assert "skipped 4 files of the word folders that are not clips" in message
    for part in (
        "1 .mp3 files",
        "1 .txt files",
        "1 audio files without '_nohash_'",
        "1 second copies of a clip in another format",
        f"yes/{SPEAKERS[5]}_nohash_1.mp3",
    ):
        assert part in message
    assert ".DS_Store" not in message
    assert wav in [item.path for item in train.items]  # the official format wins
    assert train.counts()["yes"] == 6


def test_empty_split_says_why(tmp_path):
    root = _make(tmp_path / "speech_commands_v0.02")
    (root / "testing_list.txt").write_text("")  # as in a folder cut from training + validation
    with pytest.raises(
        EmptySplitError, match=r"'testing' split is empty: .*testing_list.txt names none of its 30"
    ):
        SpeechCommands(root, "testing", "12")
    everything = [f"{w}/{s}_nohash_0.wav" for w in ("yes", "no", "bed") for s in SPEAKERS]
    (root / "validation_list.txt").write_text("\n".join(everything))
    with pytest.raises(EmptySplitError, match="'training' split is empty: .* name all 30 clips"):
        SpeechCommands(root, "training", "12")


def test_folder_with_no_readable_clips_says_so(tmp_path):
    root = tmp_path / "speech_commands_v0.02"
    (root / "yes").mkdir(parents=True)
    (root / "yes" / "0a7c2a8d_nohash_0.m4a").write_bytes(b"\0\0\0 ftypM4A")
    with pytest.warns(UserWarning, match="1 .m4a files"):
        with pytest.raises(EmptySplitError, match="has no clips: none of its word folders"):
            SpeechCommands(root, "training", "12")


def test_hash_split_putting_nearly_everything_in_testing_warns_with_counts(tmp_path):
    root = _make(tmp_path / "speech_commands_v0.02", lists=False)
    assert {which_set(f"{s}_nohash_0.flac") for s in SPEAKERS} == {"testing"}
    with pytest.warns(UserWarning, match=r"training 0, validation 0, testing 30\)"):
        testing = SpeechCommands(root, "testing", "12", silence_fraction=0.0)
    assert testing.counts()["yes"] == 10
    with pytest.warns(UserWarning, match="puts most of its 30 clips outside training"):
        with pytest.raises(EmptySplitError, match="hash rule .* puts none of its 30 clips there"):
            SpeechCommands(root, "training", "12")


def test_fit_on_a_split_smaller_than_one_batch_says_so(tmp_path):
    root = _make(tmp_path / "speech_commands_v0.02")
    train = SpeechCommands(root, "training", "12", silence_fraction=0.0, unknown_fraction=0.0)
    batches = ClipBatches(
        cache_clips(train, cache_dir=tmp_path / "cache"), 64, "cpu", drop_last=True
    )
    model = torch.nn.Linear(16000, 12)
    with pytest.raises(
        ValueError, match="has 12 examples, fewer than batch_size=64, and drop_last"
    ):
        fit(model, batches, steps=1, device="cpu", progress=False)


def test_version_comes_from_the_folder_name_or_the_argument(tmp_path):
    # A v0.02 download without the five v0.02-only words: still v0.02, and said so.
    root = _make(tmp_path / "speech_commands_v0.02", words=WORDS_V1)
    with pytest.warns(UserWarning, match=r"no folder for 5 of the 35 words .*use labels='30'"):
        dataset = SpeechCommands(root, "training", "35")
    assert dataset.version == "v0.02"
    with pytest.raises(
        FileNotFoundError, match=r"(?s)speech_commands_test_set_v0.02 not found.*--version v0.02"
    ):
        SpeechCommands(root, "test12", "12")
    renamed = root.rename(tmp_path / "my_clips")  # the name says nothing: the words decide
    assert SpeechCommands(renamed, "training", "30").version == "v0.01"
    assert SpeechCommands(renamed, "training", "30", version="v0.02").version == "v0.02"
    with pytest.raises(ValueError, match="version='v0.03'"):
        SpeechCommands(renamed, "training", "30", version="v0.03")


def test_info_reads_a_flac_folder_and_reports_once(tmp_path):
    root = _make(tmp_path / "DATA" / "speech_commands_v0.02")
    (root / "testing_list.txt").write_text("")
    (root / "no" / "notes.txt").write_text("recorded on my phone")
    result = _info(tmp_path / "DATA")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    yes_row = next(line for line in result.stdout.splitlines() if line.startswith("yes "))
    assert yes_row.split() == ["yes", "8", "2", "0"]  # testing_list.txt empty: its 2 go to training
    assert "note: DATA/speech_commands_v0.02: the 'testing' split is empty" in result.stdout
    assert result.stderr.count("warning: DATA/speech_commands_v0.02: skipped 1 file of") == 1


def test_info_on_broken_or_empty_folders_exits_with_the_message(tmp_path):
    root = _make(tmp_path / "DATA" / "speech_commands_v0.02")
    (root / "testing_list.txt").unlink()
    result = _info(tmp_path / "DATA")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "error: DATA/speech_commands_v0.02/testing_list.txt is missing" in result.stderr
    shutil.rmtree(root)
    (root / "yes").mkdir(parents=True)
    (root / "yes" / "0a7c2a8d_nohash_0.m4a").write_bytes(b"\0\0\0 ftypM4A")
    result = _info(tmp_path / "DATA")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "has no clips" in result.stdout and "1 .m4a files" in result.stderr
