"""HW4 speaker features: the reader on a folder written by hand from the spec, malformed folders,
collation, the predictions CSV, and the builder from audio."""

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from kws.data.features import LogMel
from kws.data.speaker_features import (
    SpeakerFeatures,
    build_speaker_features,
    collate_features,
    write_predictions_csv,
)

# Two speakers with 7 and 3 utterances of different lengths, and 2 unlabelled test utterances.
LENGTHS = {"id10001": [150, 60, 200, 130, 129, 90, 300], "id10002": [128, 40, 170]}
TEST_LENGTHS = [77, 140]


def _features(mel_len: int, value: float) -> torch.Tensor:
    """A recognisable (mel_len, 40) tensor: row t holds value + t."""
    return (value + torch.arange(mel_len, dtype=torch.float32))[:, None].repeat(1, 40)


@pytest.fixture
def folder(tmp_path):
    """An HW4 folder written straight from the format description, not by our builder."""
    speakers = {}
    for s, (speaker, lengths) in enumerate(LENGTHS.items()):
        speakers[speaker] = []
        for u, mel_len in enumerate(lengths):
            name = f"uttr-{speaker}-{u}.pt"
            torch.save(_features(mel_len, 1000 * s + 100 * u), tmp_path / name)
            speakers[speaker].append({"feature_path": name, "mel_len": mel_len})
    utterances = []
    for u, mel_len in enumerate(TEST_LENGTHS):
        torch.save(_features(mel_len, -5.0), tmp_path / f"uttr-test-{u}.pt")
        utterances.append({"feature_path": f"uttr-test-{u}.pt", "mel_len": mel_len})
    json.dump({"n_mels": 40, "speakers": speakers}, open(tmp_path / "metadata.json", "w"))
    json.dump(
        {
            "speaker2id": {"id10001": 0, "id10002": 1},
            "id2speaker": {"0": "id10001", "1": "id10002"},
        },
        open(tmp_path / "mapping.json", "w"),
    )
    json.dump({"n_mels": 40, "utterances": utterances}, open(tmp_path / "testdata.json", "w"))
    return tmp_path


def test_train_valid_split_is_seeded_and_disjoint(folder):
    train = SpeakerFeatures(folder, "train", valid_fraction=0.2, seed=3)
    valid = SpeakerFeatures(folder, "valid", valid_fraction=0.2, seed=3)
    assert (len(train), len(valid)) == (8, 2)
    train_paths = {path for path, _, _ in train.items}
    valid_paths = {path for path, _, _ in valid.items}
    assert not train_paths & valid_paths and len(train_paths | valid_paths) == 10
    assert [
        item[0] for item in SpeakerFeatures(folder, "valid", valid_fraction=0.2, seed=3).items
    ] == [item[0] for item in valid.items]
    assert train.speakers == ["id10001", "id10002"] and train.num_speakers == 2


def test_training_items_are_random_crops_with_labels(folder):
    train = SpeakerFeatures(folder, "train", segment_len=128, valid_fraction=0.0)
    torch.manual_seed(0)
    for i, (path, mel_len, speaker) in enumerate(train.items):
        features, label = train[i]
        assert label == speaker == int(path.startswith("uttr-id10002"))
        assert features.shape == (min(mel_len, 128), 40) and features.dtype == torch.float32
        whole = torch.load(folder / path)
        start = int(features[0, 0] - whole[0, 0])  # rows count up by one, so row 0 gives the start
        torch.testing.assert_close(features, whole[start : start + features.shape[0]])
    starts = {int(train[6][0][0, 0]) for _ in range(20)}  # the 300-frame utterance of id10001
    assert len(starts) > 1, "crops of a long utterance should start at random frames"


def test_valid_and_test_items_are_whole_utterances(folder):
    valid = SpeakerFeatures(folder, "valid", valid_fraction=0.5)
    for i, (path, mel_len, _) in enumerate(valid.items):
        assert valid[i][0].shape == (mel_len, 40)
        torch.testing.assert_close(valid[i][0], torch.load(folder / path))
    test = SpeakerFeatures(folder, "test")
    assert [test[i][1] for i in range(len(test))] == ["uttr-test-0.pt", "uttr-test-1.pt"]
    assert [test[i][0].shape[0] for i in range(len(test))] == TEST_LENGTHS


def test_collate_pads_with_minus_20(folder):
    test = SpeakerFeatures(folder, "test")
    x, lengths, ids = collate_features([test[0], test[1]])
    assert x.shape == (2, 140, 40) and lengths.tolist() == [77, 140]
    assert ids == ["uttr-test-0.pt", "uttr-test-1.pt"]
    assert (x[0, 77:] == -20).all() and (x[0, :77] == test[0][0]).all()
    valid = SpeakerFeatures(folder, "valid", valid_fraction=0.5)
    x, lengths, labels = collate_features([valid[0], valid[1]])
    assert labels.dtype == torch.int64 and labels.tolist() == [valid.items[0][2], valid.items[1][2]]


def test_write_predictions_csv(tmp_path):
    path = write_predictions_csv(tmp_path / "pred.csv", ["uttr-a.pt", "uttr-b.pt"], ["id1", "id2"])
    assert path.read_text().splitlines() == ["Id,Category", "uttr-a.pt,id1", "uttr-b.pt,id2"]
    with pytest.raises(ValueError, match="2 ids but 1 predictions"):
        write_predictions_csv(tmp_path / "bad.csv", ["a", "b"], ["x"])


def _edit_json(path, edit):
    data = json.load(open(path))
    edit(data)
    json.dump(data, open(path, "w"))


def test_missing_file_and_keys_are_named(folder):
    (folder / "mapping.json").unlink()
    with pytest.raises(FileNotFoundError, match="mapping.json"):
        SpeakerFeatures(folder)


def test_missing_key_is_named(folder):
    _edit_json(folder / "metadata.json", lambda d: d.pop("n_mels"))
    with pytest.raises(ValueError, match=r"metadata.json has no key 'n_mels'"):
        SpeakerFeatures(folder)


def test_record_without_mel_len_is_named(folder):
    _edit_json(folder / "testdata.json", lambda d: d["utterances"][1].pop("mel_len"))
    with pytest.raises(ValueError, match=r"testdata.json: utterances\[1\] must have"):
        SpeakerFeatures(folder, "test")


def test_speaker_missing_from_mapping_is_named(folder):
    _edit_json(folder / "metadata.json", lambda d: d["speakers"].update(id10003=[]))
    with pytest.raises(ValueError, match=r"mapping.json: speaker 'id10003'"):
        SpeakerFeatures(folder)


def test_missing_feature_file_is_named(folder):
    (folder / "uttr-id10002-1.pt").unlink()
    with pytest.raises(FileNotFoundError, match="uttr-id10002-1.pt"):
        SpeakerFeatures(folder, "train", valid_fraction=0.0)


def test_truncated_feature_file_is_named(folder):
    data = (folder / "uttr-test-1.pt").read_bytes()
    (folder / "uttr-test-1.pt").write_bytes(data[: len(data) // 2])
    test = SpeakerFeatures(folder, "test")
    with pytest.raises(ValueError, match="uttr-test-1.pt is not a readable torch.save file"):
        test[1]


def test_wrong_n_mels_and_mel_len_are_named(folder):
    torch.save(torch.zeros(77, 80), folder / "uttr-test-0.pt")
    torch.save(torch.zeros(100, 40), folder / "uttr-test-1.pt")
    test = SpeakerFeatures(folder, "test")
    with pytest.raises(ValueError, match="uttr-test-0.pt has 80 mel bins but 'n_mels' is 40"):
        test[0]
    with pytest.raises(
        ValueError, match="uttr-test-1.pt has 100 frames but its 'mel_len' says 140"
    ):
        test[1]


def test_build_from_audio_writes_the_format(tmp_path):
    audio, out, hidden = tmp_path / "audio", tmp_path / "out", tmp_path / "hidden"
    rng = np.random.default_rng(0)
    seconds = {"alice": [0.5, 0.8, 1.2, 0.3], "bob": [0.7, 1.0, 0.45]}
    for speaker, durations in seconds.items():
        (audio / speaker).mkdir(parents=True)
        for k, duration in enumerate(durations):
            wave = 0.1 * rng.standard_normal(int(duration * 16000)).astype(np.float32)
            suffix = "flac" if k % 2 else "wav"
            soundfile.write(audio / speaker / f"{k}.{suffix}", wave, 16000)
    (audio / "alice" / "notes.txt").write_text("not audio")
    (audio / "alice" / ".DS_Store").write_bytes(b"\0")
    with pytest.warns(UserWarning, match=r"skipped 1 entries .*alice/notes\.txt"):
        build_speaker_features(
            audio, out, test_fraction=0.3, hidden_root=hidden, seed=1, progress=False
        )

    metadata = json.load(open(out / "metadata.json"))
    testdata = json.load(open(out / "testdata.json"))
    mapping = json.load(open(out / "mapping.json"))
    assert metadata["n_mels"] == testdata["n_mels"] == 40
    assert mapping == {
        "speaker2id": {"alice": 0, "bob": 1},
        "id2speaker": {"0": "alice", "1": "bob"},
    }
    assert sum(map(len, metadata["speakers"].values())) == 5 and len(testdata["utterances"]) == 2
    with open(hidden / "test_labels.csv") as file:
        labels = {row["Id"]: row["Category"] for row in csv.DictReader(file)}
    assert sorted(labels) == sorted(u["feature_path"] for u in testdata["utterances"])
    assert not list(out.glob("*.csv")), "the test labels must stay out of the student folder"

    # Every utterance's features: 40 log-mel bins, 25 ms / 10 ms, as LogMel computes alone.
    records = [(s, u) for s, us in metadata["speakers"].items() for u in us]
    records += [(labels[u["feature_path"]], u) for u in testdata["utterances"]]
    logmel = LogMel(n_fft=400, hop_length=160, n_mels=40)
    expected = {}
    for speaker, durations in seconds.items():
        for k in range(len(durations)):
            path = audio / speaker / f"{k}.{'flac' if k % 2 else 'wav'}"
            wave = torch.from_numpy(soundfile.read(path, dtype="float32")[0])
            expected.setdefault(speaker, []).append(logmel(wave[None])[0])
    for speaker, record in records:
        features = torch.load(out / record["feature_path"])
        assert features.dtype == torch.float32 and features.shape == (record["mel_len"], 40)
        matches = [e for e in expected[speaker] if e.shape == features.shape]
        assert any(torch.allclose(features, e, atol=1e-4) for e in matches)
    # And our reader reads it.
    assert len(SpeakerFeatures(out, "train", valid_fraction=0.2)) == 4
    assert len(SpeakerFeatures(out, "test")) == 2


def test_build_keeps_a_training_utterance_per_speaker(tmp_path):
    for speaker in ("a", "b", "c"):
        (tmp_path / "audio" / speaker).mkdir(parents=True)
        soundfile.write(tmp_path / "audio" / speaker / "0.wav", np.zeros(3200, np.float32), 16000)
    build_speaker_features(tmp_path / "audio", tmp_path / "out", test_fraction=0.9, progress=False)
    metadata = json.load(open(tmp_path / "out" / "metadata.json"))
    assert all(len(u) == 1 for u in metadata["speakers"].values())
    assert (tmp_path / "out_hidden" / "test_labels.csv").read_text() == "Id,Category\n"
    with pytest.raises(FileNotFoundError, match="No SPEAKER"):
        build_speaker_features(tmp_path / "nothing", tmp_path / "out2", progress=False)


def test_build_reads_upper_case_suffixes(tmp_path):
    """Recorders and Windows write CLIP.WAV; such files are utterances like any other."""
    for speaker in ("a", "b"):
        (tmp_path / "audio" / speaker).mkdir(parents=True)
        for k, suffix in enumerate(("WAV", "Flac", "wav")):
            wave = np.full(3200, 0.01 * (k + 1), np.float32)
            soundfile.write(tmp_path / "audio" / speaker / f"{k}.{suffix}", wave, 16000)
    build_speaker_features(tmp_path / "audio", tmp_path / "out", test_fraction=0.0, progress=False)
    metadata = json.load(open(tmp_path / "out" / "metadata.json"))
    assert {s: len(u) for s, u in metadata["speakers"].items()} == {"a": 3, "b": 3}


def test_command_line_build_and_info(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "speaker_features_script",
        Path(__file__).parents[1] / "data_scripts" / "speaker_features.py",
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for speaker in ("x", "y"):
        (tmp_path / "audio" / speaker).mkdir(parents=True)
        for k in range(3):
            wave = np.full(1600 * (k + 1), 0.01 * (k + 1), np.float32)
            soundfile.write(tmp_path / "audio" / speaker / f"{k}.wav", wave, 16000)
    out, hidden = tmp_path / "features", tmp_path / "hidden"
    args = ["build", "--audio", str(tmp_path / "audio"), "--out", str(out), "--hidden", str(hidden)]
    assert script.main([*args, "--test-fraction", "0.34"]) == 0
    assert (hidden / "test_labels.csv").read_text().count("\n") == 1 + 2
    assert script.main(["info", "--root", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 speakers, n_mels 40" in printed and "4 utterances" in printed
