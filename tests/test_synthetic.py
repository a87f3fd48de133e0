"""The synthetic twins (tiny preset): exact layouts, audio format, hash-rule lists, determinism."""

import csv
import hashlib
import json
import random
import re

import numpy as np
import pytest
import soundfile

from kws.data.recording import Recording
from kws.data.sentences import random_sentence
from kws.data.speaker_features import SpeakerFeatures
from kws.data.speech_commands import KNOWN_WORDS_12, WORDS_V2, SpeechCommands, which_set
from kws.data.synthetic import PRESETS, make_speaker_features, make_speech_commands

NOISES = {
    "doing_the_dishes.wav",
    "dude_miaowing.wav",
    "exercise_bike.wav",
    "pink_noise.wav",
    "running_tap.wav",
    "white_noise.wav",
}
TEST12 = {"_silence_", "_unknown_", *KNOWN_WORDS_12}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    make_speech_commands(root, "tiny", seed=0)
    make_speaker_features(root, "tiny", seed=0)
    return root


def _tree_digest(folder):
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_speech_commands_layout(root):
    dataset = root / "speech_commands_v0.02"
    folders = {p.name for p in dataset.iterdir() if p.is_dir()}
    assert folders == {*WORDS_V2, "_background_noise_"}
    assert {p.name for p in (dataset / "_background_noise_").iterdir()} == NOISES
    clips = sorted(dataset.glob("*/*_nohash_*.wav"))
    assert len(clips) == PRESETS["tiny"].clips
    for word in WORDS_V2:
        assert len(list((dataset / word).glob("*.wav"))) >= 2, word
    assert all(re.fullmatch(r"[0-9a-f]{8}_nohash_\d+\.wav", p.name) for p in clips)
    assert "synthetic" in (dataset / "README.md").read_text().lower()
    assert (dataset / "LICENSE").is_file()
    assert not list(root.glob(".*partial")), "no partial folders may be left behind"


def test_clips_are_16_bit_16_khz_mono_at_most_one_second(root):
    lengths = []
    for path in sorted((root / "speech_commands_v0.02").glob("*/*.wav")):
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), path
        if path.parent.name != "_background_noise_":
            lengths.append(info.frames)
    assert max(lengths) == 16000 and min(lengths) >= 12000
    assert any(n < 16000 for n in lengths), "like the real data, some clips are shorter than 1 s"
    noise = soundfile.info(root / "speech_commands_v0.02/_background_noise_/white_noise.wav")
    assert noise.frames == PRESETS["tiny"].noise_seconds * 16000


def test_lists_follow_the_hash_rule_and_keep_speakers_apart(root):
    dataset = root / "speech_commands_v0.02"
    listed = {}
    for subset in ("validation", "testing"):
        lines = (dataset / f"{subset}_list.txt").read_text().splitlines()
        assert lines == sorted(lines) and lines
        listed.update({line: subset for line in lines})
    speakers = {"training": set(), "validation": set(), "testing": set()}
    for path in dataset.glob("*/*_nohash_*.wav"):
        relative = path.relative_to(dataset).as_posix()
        subset = listed.get(relative, "training")
        assert which_set(relative) == subset, relative
        speakers[subset].add(path.name.split("_nohash_")[0])
    assert not (speakers["training"] & speakers["validation"])
    assert not (speakers["training"] & speakers["testing"])
    assert len(speakers["validation"]) == len(speakers["testing"]) == 1  # 10 % of 10 speakers


def test_test_set_folder_has_12_balanced_classes_of_new_speakers(root):
    test_set = root / "speech_commands_test_set_v0.02"
    counts = {p.name: len(list(p.glob("*.wav"))) for p in test_set.iterdir() if p.is_dir()}
    assert set(counts) == TEST12
    assert sum(counts.values()) == PRESETS["tiny"].test12_clips
    assert max(counts.values()) - min(counts.values()) <= 1
    dataset_speakers = {
        p.name.split("_nohash_")[0] for p in (root / "speech_commands_v0.02").glob("*/*_nohash_*")
    }
    for path in test_set.glob("*/*.wav"):
        assert path.name.split("_nohash_")[0] not in dataset_speakers
        assert soundfile.info(path).frames <= 16000


def test_speech_commands_loader_reads_it(root):
    training = SpeechCommands(root / "speech_commands_v0.02", "training", labels="12")
    assert set(training.classes) == TEST12 and len(training) > 0
    test12 = SpeechCommands(root / "speech_commands_v0.02", "test12", labels="12")
    assert len(test12) == PRESETS["tiny"].test12_clips
    waveform, label = test12[0]
    assert waveform.shape == (16000,)


def test_speaker_features_layout_and_hidden_labels(root):
    folder, hidden = root / "speaker_features", root / "speaker_features_hidden"
    sizes = PRESETS["tiny"]
    metadata = json.loads((folder / "metadata.json").read_text())
    assert len(metadata["speakers"]) == sizes.sf_speakers
    assert sum(map(len, metadata["speakers"].values())) == sizes.sf_utterances - sizes.sf_test
    test = json.loads((folder / "testdata.json").read_text())["utterances"]
    with open(hidden / "test_labels.csv") as file:
        labels = {row["Id"]: row["Category"] for row in csv.DictReader(file)}
    assert sorted(labels) == sorted(u["feature_path"] for u in test) and len(test) == sizes.sf_test
    assert set(labels.values()) <= set(metadata["speakers"])
    assert not list(folder.glob("*.csv")) and not list(root.glob(".speaker_audio*"))
    train = SpeakerFeatures(folder, "train")
    features, speaker = train[0]
    assert features.shape[1] == 40 and 0 <= speaker < sizes.sf_speakers


def test_same_seed_gives_identical_files_whatever_the_workers(root, tmp_path):
    make_speech_commands(tmp_path, "tiny", seed=0, workers=2)
    make_speaker_features(tmp_path, "tiny", seed=0, workers=2)
    for name in ("speech_commands_v0.02", "speech_commands_test_set_v0.02", "speaker_features"):
        assert _tree_digest(tmp_path / name) == _tree_digest(root / name), name
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_speech_commands(tmp_path, "tiny", seed=0)
    make_speech_commands(tmp_path, "tiny", seed=1, overwrite=True)
    assert _tree_digest(tmp_path / "speech_commands_v0.02") != _tree_digest(
        root / "speech_commands_v0.02"
    )


def test_words_are_recorded_at_the_asked_levels(tmp_path):
    # Quiet noise, so that a clip's peak is the speech's peak.
    recording = Recording(peak=(0.2, 0.4), snr_db=(70.0, 80.0), reverb_prob=1.0)
    make_speech_commands(tmp_path, "tiny", seed=0, recording=recording)
    peaks = [
        np.abs(soundfile.read(path)[0]).max()
        for path in sorted((tmp_path / "speech_commands_v0.02").glob("*/*_nohash_*.wav"))
    ]
    assert len(peaks) == PRESETS["tiny"].clips
    assert 0.199 <= min(peaks) and max(peaks) <= 0.401
    assert max(peaks) - min(peaks) > 0.1  # drawn across the range, not one level


def test_unknown_preset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'huge'"):
        make_speech_commands(tmp_path, "huge")


def test_random_sentences_are_seeded_and_end_on_a_content_word():
    first = [random_sentence(random.Random(5), 3, 8) for _ in range(2)]
    assert first[0] == first[1]
    rng = random.Random(0)
    for _ in range(200):
        words = random_sentence(rng, 3, 8).split()
        assert 1 <= len(words) <= 8
        assert words[-1] not in {"the", "a", "and", "but", "on", "with"}


def test_speech_commands_speakers_are_half_american_and_speaker_features_unweighted():
    from kws.data.synthetic import _SPEECH_COMMANDS_ACCENTS, _voices
    from kws.data.tts import ENGLISH_LANGUAGES

    assert set(_SPEECH_COMMANDS_ACCENTS) == set(ENGLISH_LANGUAGES)  # every accent, none unknown
    american = [
        v.language.startswith("en-us")
        for v in _voices(600, random.Random(0), _SPEECH_COMMANDS_ACCENTS)
    ]
    assert 0.42 < sum(american) / len(american) < 0.58
    # The HW4 twin keeps drawing every accent alike (2 of 8 American).
    american = [v.language.startswith("en-us") for v in _voices(600, random.Random(0))]
    assert 0.18 < sum(american) / len(american) < 0.32
