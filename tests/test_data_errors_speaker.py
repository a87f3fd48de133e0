"""HW4 folders written by hand, with the mistakes instructors make, get errors naming file and fix.

Each folder is written the way an instructor would from the format description (json.dump and
torch.save), then spoiled the way the issue reports; the `info` command is run from another
working directory with a relative path, as a user runs it (in this process, and twice in a
process of its own: what the script itself prints on an error).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from in_process import script_here

from kws.data.cache import cache_features
from kws.data.speaker_features import SpeakerFeatures
from kws.data.speaker_format import read_test_labels

SCRIPT = Path(__file__).parents[1] / "data_scripts" / "speaker_features.py"
LENGTHS = {"spk_a": [150, 90, 130], "spk_b": [128, 60], "spk_c": [200, 70]}
TEST_LENGTHS = {"uttr-t0.pt": 80, "uttr-t1.pt": 140, "uttr-t2.pt": 100}
TRUTH = {"uttr-t0.pt": "spk_b", "uttr-t1.pt": "spk_a", "uttr-t2.pt": "spk_c"}


def _write(root: Path, name: str, data) -> None:
    with open(root / name, "w") as file:
        json.dump(data, file, indent=1)


def _load(root: Path, name: str):
    with open(root / name) as file:
        return json.load(file)


@pytest.fixture
def feats(tmp_path):
    """tmp_path/feats: an HW4 folder as an instructor writes it from the format description."""
    root = tmp_path / "feats"
    root.mkdir()
    speakers = {}
    for speaker, lengths in LENGTHS.items():
        speakers[speaker] = []
        for u, mel_len in enumerate(lengths):
            name = f"uttr-{speaker}-{u}.pt"
            torch.save(torch.randn(mel_len, 40), root / name)
            speakers[speaker].append({"feature_path": name, "mel_len": mel_len})
    for name, mel_len in TEST_LENGTHS.items():
        torch.save(torch.randn(mel_len, 40), root / name)
    names = list(LENGTHS)
    _write(root, "metadata.json", {"n_mels": 40, "speakers": speakers})
    _write(
        root,
        "mapping.json",
        {
            "speaker2id": {s: i for i, s in enumerate(names)},
            "id2speaker": {str(i): s for i, s in enumerate(names)},
        },
    )
    utterances = [{"feature_path": n, "mel_len": m} for n, m in TEST_LENGTHS.items()]
    _write(root, "testdata.json", {"n_mels": 40, "utterances": utterances})
    return root


def _info(folder: Path, *, process: bool = False) -> subprocess.CompletedProcess:
    """`python .../speaker_features.py info --root feats`, run from the folder's parent: in
    this process (tests/in_process.py), or in a `process` of its own."""
    if not process:
        return script_here(folder.parent, SCRIPT, "info", "--root", folder.name)
    return subprocess.run(
        [sys.executable, str(SCRIPT), "info", "--root", folder.name],
        cwd=folder.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _id2speaker_as_list(root):
    mapping = _load(root, "mapping.json")
    mapping["id2speaker"] = list(LENGTHS)
    _write(root, "mapping.json", mapping)


def _speakers_as_list(root):
    metadata = _load(root, "metadata.json")
    metadata["speakers"] = [
        {"speaker": s, "utterances": u} for s, u in metadata["speakers"].items()
    ]
    _write(root, "metadata.json", metadata)


def _top_level_list(root):
    metadata = _load(root, "metadata.json")
    _write(root, "metadata.json", [{"n_mels": 40}, metadata["speakers"]])


def _half_frame(root):
    metadata = _load(root, "metadata.json")
    metadata["speakers"]["spk_b"][1]["mel_len"] = "60.5"
    _write(root, "metadata.json", metadata)


SPOILED_JSON = {
    "id2speaker written as a list": (
        _id2speaker_as_list,
        r"mapping.json: 'id2speaker' must be an object \{\"0\": SPEAKER",
    ),
    "speakers written as a list": (
        _speakers_as_list,
        r"metadata.json: 'speakers' must be an object \{SPEAKER: \[utterance",
    ),
    "top-level JSON list": (_top_level_list, r"metadata.json: the top level must be a JSON object"),
    "mel_len not a whole number": (
        _half_frame,
        r"metadata.json: speakers\['spk_b'\]\[1\]\['mel_len'\] is '60.5', not a whole number",
    ),
}


@pytest.mark.parametrize("case", list(SPOILED_JSON))
def test_spoiled_json_is_named_by_the_api_and_by_info(feats, case):
    spoil, message = SPOILED_JSON[case]
    spoil(feats)
    with pytest.raises(ValueError, match=message):
        SpeakerFeatures(feats, "train")
    result = _info(feats)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: feats") and len(result.stderr.splitlines()) == 1
    assert re.search(message, result.stderr)


def test_info_of_a_good_hand_written_folder_counts_it(feats):
    result = _info(feats, process=True)
    assert result.returncode == 0, result.stderr
    assert "feats: 3 speakers, n_mels 40" in result.stdout
    assert "7 utterances" in result.stdout and "3 utterances" in result.stdout


@pytest.mark.parametrize("written", [507.0, "507.0", "507", " 507 "])
def test_integral_mel_len_written_as_float_or_string_is_accepted(feats, written):
    torch.save(torch.randn(507, 40), feats / "uttr-spk_a-0.pt")
    metadata = _load(feats, "metadata.json")
    metadata["speakers"]["spk_a"][0]["mel_len"] = written
    _write(feats, "metadata.json", metadata)
    train = SpeakerFeatures(feats, "train", valid_fraction=0.0)
    assert train.items[0] == ("uttr-spk_a-0.pt", 507, 0)
    assert train[0][0].shape == (128, 40)  # read and cropped like any utterance


def test_numpy_array_in_a_pt_file_gets_a_short_clear_error(feats):
    torch.save(np.zeros((140, 40), np.float32), feats / "uttr-t1.pt")  # what `np` users write
    test = SpeakerFeatures(feats, "test")
    with pytest.raises(ValueError) as caught:
        test[1]
    message = str(caught.value)
    assert "uttr-t1.pt holds a numpy array, not a torch tensor" in message
    assert "torch.from_numpy" in message and len(message) < 300
    with pytest.raises(ValueError, match="uttr-t1.pt holds a numpy array"):
        cache_features(feats, "test", cache_dir=feats.parent / "cache")  # the training path


def test_transposed_features_say_transposed(feats):
    torch.save(torch.randn(40, 80), feats / "uttr-t0.pt")  # [n_mels, T] instead of [T, n_mels]
    with pytest.raises(ValueError, match=r"uttr-t0.pt has 80 mel bins .* transposed\?"):
        SpeakerFeatures(feats, "test")[0]


@pytest.mark.parametrize("bad", [float("nan"), float("-inf")])
def test_nan_or_inf_frames_are_refused(feats, bad):
    features = torch.randn(90, 40)
    features[33, 5] = bad
    torch.save(features, feats / "uttr-spk_a-1.pt")
    train = SpeakerFeatures(feats, "train", valid_fraction=0.0)
    with pytest.raises(ValueError, match=r"uttr-spk_a-1.pt: 1 of 90 frames hold NaN .*frame 33"):
        train[1]
    with pytest.raises(ValueError, match=r"uttr-spk_a-1.pt: 1 of 90 frames"):
        cache_features(feats, "train", cache_dir=feats.parent / "cache")


def test_speaker_without_utterances_is_refused(feats):
    metadata = _load(feats, "metadata.json")
    metadata["speakers"]["spk_c"] = []
    _write(feats, "metadata.json", metadata)
    with pytest.raises(
        ValueError, match=r"metadata.json: 1 of 3 speakers .* no utterances.*'spk_c'"
    ):
        SpeakerFeatures(feats, "train")
    del metadata["speakers"]["spk_c"]  # gone from metadata.json, still in mapping.json
    _write(feats, "metadata.json", metadata)
    with pytest.raises(ValueError, match=r"'spk_c'.*a class with no data"):
        SpeakerFeatures(feats, "valid")
    assert _info(feats).returncode != 0


def test_no_training_utterances_at_all_is_refused(feats):
    _write(feats, "metadata.json", {"n_mels": 40, "speakers": {}})
    with pytest.raises(ValueError, match="metadata.json lists no utterances at all"):
        SpeakerFeatures(feats, "train")
    result = _info(feats, process=True)  # the script's own process: one line, no traceback
    assert result.returncode != 0 and "lists no utterances at all" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_train_split_emptied_by_valid_fraction_is_refused(feats):
    metadata = {
        "n_mels": 40,
        "speakers": {s: u[:1] for s, u in _load(feats, "metadata.json")["speakers"].items()},
    }
    _write(feats, "metadata.json", metadata)
    assert len(SpeakerFeatures(feats, "train", valid_fraction=0.5)) == 1
    with pytest.raises(ValueError, match=r"'train' split is empty: valid_fraction=0.9"):
        SpeakerFeatures(feats, "train", valid_fraction=0.9)


def test_utterance_in_training_and_test_data_is_a_leak(feats):
    testdata = _load(feats, "testdata.json")
    testdata["utterances"].append({"feature_path": "uttr-spk_b-0.pt", "mel_len": 128})
    _write(feats, "testdata.json", testdata)
    for split in ("train", "test"):
        with pytest.raises(ValueError, match=r"1 utterances are in both .* uttr-spk_b-0.pt"):
            SpeakerFeatures(feats, split)


def test_utterance_listed_twice_is_refused(feats):
    metadata = _load(feats, "metadata.json")
    metadata["speakers"]["spk_c"].append(metadata["speakers"]["spk_a"][0])
    _write(feats, "metadata.json", metadata)
    with pytest.raises(ValueError, match="metadata.json lists uttr-spk_a-0.pt twice"):
        SpeakerFeatures(feats, "train")


# The hidden labels, as a spreadsheet saves them: BOM, CRLF, quotes, spaces, blank lines at the end.
SPREADSHEET_CSV = '\ufeffId,Category\r\n"uttr-t0.pt","spk_b"\r\nuttr-t1.pt, spk_a\r\n"uttr-t2.pt",spk_c\r\n\r\n\r\n'


def test_hidden_labels_from_a_spreadsheet_are_read(feats):
    (feats.parent / "test_labels.csv").write_bytes(SPREADSHEET_CSV.encode())
    labels = read_test_labels(feats.parent / "test_labels.csv", feats)
    assert labels == {"uttr-t0.pt": 1, "uttr-t1.pt": 0, "uttr-t2.pt": 2}  # testdata.json order


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda text: text + "uttr-extra.pt,spk_a\r\n",
            r"test_labels.csv, line 7: Id 'uttr-extra.pt' is not a test utterance of .*testdata.json",
        ),
        (
            lambda text: text.replace("spk_c", "spk_zz"),
            r"test_labels.csv, line 4: speaker 'spk_zz' is not in .*mapping.json",
        ),
        (
            lambda text: text.replace("uttr-t1.pt, spk_a\r\n", ""),
            r"test_labels.csv has no label for 1 of the 3 test utterances .* uttr-t1.pt",
        ),
        (
            lambda text: text + "uttr-t0.pt,spk_b\r\n",
            r"line 7: Id 'uttr-t0.pt' appears twice",
        ),
    ],
    ids=["extra row", "unknown speaker", "missing row", "row twice"],
)
def test_bad_hidden_labels_name_file_line_and_fix(feats, edit, message):
    (feats.parent / "test_labels.csv").write_bytes(edit(SPREADSHEET_CSV).encode())
    with pytest.raises(ValueError, match=message):
        read_test_labels(feats.parent / "test_labels.csv", feats)
