"""Tier sets: only datasets the kit knows are recognised; anything else must be named. The
tables are the specs' [tiers] (kws/assignments/<name>/spec.toml), so editing a spec is what changes
them.

The folders here hold only what detection reads (file names and the two JSON files), so the
real sizes — 4,890 test clips, 600 speakers and 8,000 test utterances — cost nothing to build.
"""

import json
import shutil

import pytest

from kws.grading.judge.tiers import detect_dataset, tier_set
from kws.spec import ASSIGNMENTS, load

CLASSES = ["_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off"]
CLASSES += ["stop", "go"]


def _kws_test_set(root, clips: int, readme: str = ""):
    folder = root / "speech_commands_test_set_v0.02"
    for number in range(clips):
        word = folder / CLASSES[number % len(CLASSES)]
        word.mkdir(parents=True, exist_ok=True)
        (word / f"{number:08x}_nohash_0.wav").touch()
    if readme:
        (folder / "README.md").write_text(readme)
    return root


def _speaker_features(root, speakers: int, tests: int):
    folder = root / "speaker_features"
    folder.mkdir(parents=True)
    names = [f"id{10001 + i}" for i in range(speakers)]
    mapping = {
        "speaker2id": {n: i for i, n in enumerate(names)},
        "id2speaker": dict(enumerate(names)),
    }
    (folder / "mapping.json").write_text(json.dumps(mapping))
    utterances = [{"feature_path": f"uttr-{i}.pt", "mel_len": 100} for i in range(tests)]
    (folder / "testdata.json").write_text(json.dumps({"n_mels": 40, "utterances": utterances}))
    return root


def test_the_real_datasets_are_recognised_by_their_sizes(tmp_path):
    _kws_test_set(tmp_path, 4_890)
    _speaker_features(tmp_path, 600, 8_000)
    assert detect_dataset(tmp_path, "keyword_spotting") == "speech_commands_12"
    assert detect_dataset(tmp_path, "speaker_id") == "hw4_2023"
    assert tier_set(tmp_path, "speaker_id").tiers["simple"] == 0.66025


def test_a_synthetic_dataset_is_recognised_by_its_readme(tmp_path):
    readme = "# Synthetic twin of Google Speech Commands\n(preset 'small', seed 0)\n"
    _kws_test_set(tmp_path, 24, readme)
    assert tier_set(tmp_path, "keyword_spotting").name == "synthetic-small"


@pytest.mark.parametrize("speakers, tests", [(10, 40), (600, 7_999)])
def test_other_speaker_data_gets_no_silent_tiers(tmp_path, speakers, tests):
    _speaker_features(tmp_path, speakers, tests)
    assert detect_dataset(tmp_path, "speaker_id") is None
    with pytest.raises(ValueError, match=r"add --tiers FILE .* or --dataset NAME"):
        tier_set(tmp_path, "speaker_id")
    assert tier_set(tmp_path, "speaker_id", dataset="hw4_2022").tiers["simple"] == 0.60824
    with pytest.raises(
        ValueError, match=r"--dataset hw4_2099: .*speaker_id/spec\.toml has no tiers"
    ):
        tier_set(tmp_path, "speaker_id", dataset="hw4_2099")


def test_a_custom_keyword_test_set_gets_no_silent_tiers(tmp_path):
    _kws_test_set(tmp_path, 120)
    with pytest.raises(ValueError, match="not a dataset the grader knows"):
        tier_set(tmp_path, "keyword_spotting")


def test_a_tiers_file_names_the_tiers_and_is_checked(tmp_path):
    _speaker_features(tmp_path, 10, 40)
    mine = tmp_path / "lab_tiers.json"
    mine.write_text(
        json.dumps({"speaker": {"simple": 0.5, "medium": 0.6, "strong": 0.7, "boss": 0.8}})
    )
    chosen = tier_set(tmp_path, "speaker_id", tiers_file=mine)
    assert chosen.name == "lab_tiers.json" and chosen.tiers["boss"] == 0.8
    assert "tier set 'lab_tiers.json' (simple 0.5, medium 0.6" in chosen.describe()
    mine.write_text(json.dumps({"simple": 0.9, "medium": 0.6, "strong": 0.7, "boss": 0.8}))
    with pytest.raises(ValueError, match="in rising order"):
        tier_set(tmp_path, "speaker_id", tiers_file=mine)


@pytest.mark.parametrize("key", ["speaker_id", "speaker"])
def test_a_tiers_file_may_hold_one_table_per_assignment(tmp_path, key):
    """Keyed by assignment name, or by the family key of the old grader/thresholds.json."""
    _speaker_features(tmp_path, 10, 40)
    mine = tmp_path / "course.json"
    other = {"simple": 0.1, "medium": 0.2, "strong": 0.3, "boss": 0.4}
    ours = {"simple": 0.5, "medium": 0.6, "strong": 0.7, "boss": 0.8}
    mine.write_text(json.dumps({"keyword_spotting": other, key: ours}))
    assert tier_set(tmp_path, "speaker_id", tiers_file=mine).tiers == ours


def test_tiers_come_from_the_spec_one_edit_changes_them(tmp_path):
    """The grader's tiers are the spec's: an edited copy of speaker_id/spec.toml changes the tier set
    of the data it describes, with nothing else to edit."""
    _speaker_features(tmp_path, 600, 8_000)
    spec = ASSIGNMENTS["speaker_id"]
    assert tier_set(tmp_path, "speaker_id").tiers == spec.tiers["hw4_2023"]
    copy = tmp_path / "speaker_id.toml"
    shutil.copy(spec.path, copy)
    text = copy.read_text()
    old = "hw4_2023 = { simple = 0.66025,"
    assert old in text
    copy.write_text(text.replace(old, "hw4_2023 = { simple = 0.5,"))
    edited = tier_set(tmp_path, "speaker_id", spec=load(copy))
    assert edited.name == "hw4_2023" and edited.tiers["simple"] == 0.5
