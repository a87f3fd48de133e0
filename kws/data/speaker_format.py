"""Reading and checking the files of an HW4 speaker-features folder (format: `kws.data.speaker_features`).

Instructors write these folders by hand from the format description, so every way the files can be
off gets an error that names the file, the key or line, and the fix, instead of an AttributeError
deep inside the training loop or, worse, a silently wrong result:

- `read_speaker_folder`: metadata.json, mapping.json and testdata.json, checked against each other
  (every speaker has utterances, no utterance is both labelled and a test utterance, ...);
- `check_features`: one uttr-*.pt tensor (its type, shape, orientation and finite values);
  `read_features` reads and checks one the same way without torch (numpy), for the grader's
  process;
- `read_test_labels`: the hidden `Id,Category` test labels, as written by hand or by a spreadsheet
  (BOM, CRLF, blank lines, quotes), checked against testdata.json and mapping.json.

`mel_len` may be an integer, or a float or string holding a whole number (507, 507.0, "507.0"),
since JSON writers and spreadsheets turn integers into those; anything else (507.5, "abc", 0) is
an error.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kws.data.labels_csv import read_labels_rows

if TYPE_CHECKING:
    import torch

METADATA_FORM = (
    '{"n_mels": 40, "speakers": {SPEAKER: [{"feature_path": ..., "mel_len": INT}, ...]}}'
)
MAPPING_FORM = '{"speaker2id": {SPEAKER: INT, ...}, "id2speaker": {"0": SPEAKER, ...}}'
TESTDATA_FORM = '{"n_mels": 40, "utterances": [{"feature_path": ..., "mel_len": INT}, ...]}'


@dataclass(frozen=True)
class SpeakerFolder:
    """What the JSON files of an HW4 folder say, checked.

    Attributes:
        root: the folder.
        n_mels: feature bins F.
        speakers: speaker names by id (mapping.json); speaker2id: the reverse map.
        labelled: (feature_path, mel_len, speaker id) of metadata.json, in file order.
        test: (feature_path, mel_len) of testdata.json in file order; None when there is no
            testdata.json and it was not required.
    """

    root: Path
    n_mels: int
    speakers: list[str]
    speaker2id: dict[str, int]
    labelled: list[tuple[str, int, int]]
    test: list[tuple[str, int]] | None


def read_speaker_folder(root: str | os.PathLike, need_test: bool = False) -> SpeakerFolder:
    """Read and cross-check metadata.json, mapping.json and (when present or `need_test`)
    testdata.json of `root`. Raises FileNotFoundError or ValueError naming the file and the fix."""
    root = Path(root)
    meta_path, map_path, test_path = (
        root / n for n in ("metadata.json", "mapping.json", "testdata.json")
    )
    metadata = _read_object(meta_path, ["n_mels", "speakers"], METADATA_FORM)
    n_mels = whole_number(metadata["n_mels"], meta_path, "'n_mels'")
    speakers, speaker2id = _read_mapping(map_path)
    by_speaker = _object(
        metadata["speakers"], meta_path, "'speakers'", "{SPEAKER: [utterance, ...]}"
    )
    labelled = []
    for speaker, utterances in by_speaker.items():
        if speaker not in speaker2id:
            raise ValueError(
                f"{map_path}: speaker {speaker!r} of metadata.json is missing from 'speaker2id'; "
                "rebuild mapping.json from metadata.json."
            )
        if not isinstance(utterances, list):
            raise ValueError(
                f"{meta_path}: 'speakers'[{speaker!r}] must be a list of utterances "
                f'[{{"feature_path": ..., "mel_len": INT}}, ...], got {type(utterances).__name__}.'
            )
        for i, record in enumerate(utterances):
            path, mel_len = _utterance(meta_path, f"speakers[{speaker!r}][{i}]", record)
            labelled.append((path, mel_len, speaker2id[speaker]))
    if not labelled:
        raise ValueError(
            f"{meta_path} lists no utterances at all: there is nothing to train on. Fill 'speakers' "
            f"as {METADATA_FORM}."
        )
    counts = [0] * len(speakers)
    for _, _, speaker in labelled:
        counts[speaker] += 1
    empty = [speakers[i] for i, count in enumerate(counts) if count == 0]
    if empty:
        raise ValueError(
            f"{meta_path}: {len(empty)} of {len(speakers)} speakers of mapping.json have no "
            f"utterances, e.g. {', '.join(map(repr, empty[:3]))}: a class with no data can never be "
            "predicted, yet takes an output of the classifier. Add their utterances, or remove them "
            "from both files (mapping.json's ids renumbered 0 ... N-1)."
        )
    _no_repeats(meta_path, [path for path, _, _ in labelled])
    test = None
    if need_test or test_path.is_file():
        testdata = _read_object(test_path, ["n_mels", "utterances"], TESTDATA_FORM)
        if whole_number(testdata["n_mels"], test_path, "'n_mels'") != n_mels:
            raise ValueError(
                f"{test_path}: 'n_mels' is {testdata['n_mels']}, but metadata.json says {n_mels}."
            )
        records = testdata["utterances"]
        if not isinstance(records, list):
            raise ValueError(f"{test_path}: 'utterances' must be a list, as in {TESTDATA_FORM}.")
        test = [_utterance(test_path, f"utterances[{i}]", u) for i, u in enumerate(records)]
        _no_repeats(test_path, [path for path, _ in test])
        both = sorted({path for path, _ in test} & {path for path, _, _ in labelled})
        if both:
            raise ValueError(
                f"{root}: {len(both)} utterances are in both metadata.json (labelled, for training) "
                f"and testdata.json (the test set), e.g. {both[0]}: training on test utterances "
                "inflates the score. Remove each from one of the two files."
            )
    return SpeakerFolder(root, n_mels, speakers, speaker2id, labelled, test)


def whole_number(value: object, path: Path, key: str) -> int:
    """`value` as an int >= 1: an int, or a float or string holding a whole number."""
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, float) and math.isfinite(number) and number.is_integer():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(
            f"{path}: {key} is {value!r}, not a whole number >= 1; write the frame or bin count "
            "as an integer (a tensor's features.shape[0] for mel_len)."
        )
    return number


def check_features(features: object, path: Path, n_mels: int, mel_len: int | None) -> torch.Tensor:
    """`features` (what torch.load gave for `path`) as float32 (mel_len, n_mels), or a ValueError
    that names the file and what is wrong with it (type, shape, transposed, NaN or inf)."""
    import torch

    if not isinstance(features, torch.Tensor):
        raise ValueError(
            f"{path} holds a {type(features).__name__}, not a tensor; save each utterance with "
            f"torch.save(features, path), features a float32 tensor (mel_len, {n_mels})."
        )
    _check_shape(tuple(features.shape), path, n_mels, mel_len)
    if not features.is_floating_point():
        features = features.float()
    _check_finite(~torch.isfinite(features).all(dim=1).numpy(), path)
    return features.float()


def _check_shape(shape: tuple[int, ...], path: Path, n_mels: int, mel_len: int | None) -> None:
    """ValueError unless `shape` is (mel_len, n_mels): naming a transposed tensor as one."""
    if len(shape) != 2:
        raise ValueError(f"{path} holds a tensor of shape {shape}; expected (mel_len, {n_mels}).")
    if shape[1] != n_mels:
        hint = "; transposed? save features.T, frames first" if shape[0] == n_mels else ""
        raise ValueError(
            f"{path} has {shape[1]} mel bins but 'n_mels' is {n_mels} (shape "
            f"{shape}, expected (mel_len, {n_mels})){hint}."
        )
    if mel_len is not None and shape[0] != mel_len:
        raise ValueError(f"{path} has {shape[0]} frames but its 'mel_len' says {mel_len}.")


def _check_finite(bad: np.ndarray, path: Path) -> None:
    """ValueError naming the first of the frames `bad` ((T,) bool: holds a NaN or an inf)."""
    if bad.any():
        raise ValueError(
            f"{path}: {int(bad.sum())} of {len(bad)} frames hold NaN or ±inf (the first is frame "
            f"{int(bad.nonzero()[0][0])}); they would make the loss NaN. Recompute the features "
            "with a floor inside the log (log(x + 1e-6): silence gives log 0 = -inf), or drop the "
            "utterance."
        )


def numpy_features_error(path: Path) -> ValueError:
    """The error for an utterance saved as a numpy array: what to save instead."""
    return ValueError(
        f"{path} holds a numpy array, not a torch tensor; save it as one: "
        f"torch.save(torch.from_numpy(array).float(), path)."
    )


def read_features(path: Path, n_mels: int, mel_len: int | None) -> np.ndarray:
    """One uttr-*.pt file as float32 (mel_len, n_mels), read without torch
    (`kws.data.tensor_file`) and checked as `check_features` checks what torch.load gives:
    errors name the file and what is wrong."""
    from kws.data.tensor_file import StoredTensor, TensorFileError, read_tensor_file

    try:
        features = read_tensor_file(path, values=True)
    except TensorFileError as error:
        if "numpy" in str(error):
            raise numpy_features_error(path) from None
        raise ValueError(
            f"{path} is not a readable torch.save file of one tensor ({str(error)[:200]}); save "
            f"each utterance with torch.save(features, path), features a float32 tensor "
            f"(mel_len, {n_mels})."
        ) from None
    if not isinstance(features, StoredTensor):
        raise ValueError(
            f"{path} holds a {type(features).__name__}, not a tensor; save each utterance with "
            f"torch.save(features, path), features a float32 tensor (mel_len, {n_mels})."
        )
    _check_shape(features.shape, path, n_mels, mel_len)
    values = features.numpy().astype(np.float32, copy=False)
    _check_finite(~np.isfinite(values).all(axis=1), path)
    return values


def read_test_labels(path: str | os.PathLike, root: str | os.PathLike) -> dict[str, int]:
    """The hidden test labels `Id,Category` (feature_path, speaker name) as {feature_path: id}.

    Accepts what spreadsheets and editors write: a UTF-8 byte-order mark, CRLF line ends, blank
    lines, quoted fields, spaces around fields. Checked against the folder `root`: every Id is a
    test utterance of testdata.json (no extra rows, none twice, none missing) and every Category a
    speaker of mapping.json.

    Returns:
        {feature_path: speaker id} in the order of testdata.json.
    """
    path = Path(path)
    folder = read_speaker_folder(root, need_test=True)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the hidden test labels (Id,Category) are missing."
        )
    rows = read_labels_rows(path)  # BOM, CRLF, quotes, blank lines, pandas' index column
    tests = {feature_path for feature_path, _ in folder.test}
    labels = {}
    for number, feature_path, speaker in rows:
        where = f"{path}, line {number}"
        if feature_path in labels:
            raise ValueError(
                f"{where}: Id {feature_path!r} appears twice; keep one row per utterance."
            )
        if feature_path not in tests:
            raise ValueError(
                f"{where}: Id {feature_path!r} is not a test utterance of {folder.root / 'testdata.json'}; "
                "remove the row, or the labels belong to another build of the folder."
            )
        if speaker not in folder.speaker2id:
            raise ValueError(
                f"{where}: speaker {speaker!r} is not in {folder.root / 'mapping.json'}, so no "
                "output of the model can be it; add the speaker to mapping.json, or rebuild the "
                "labels and the folder together."
            )
        labels[feature_path] = folder.speaker2id[speaker]
    missing = [feature_path for feature_path, _ in folder.test if feature_path not in labels]
    if missing:
        raise ValueError(
            f"{path} has no label for {len(missing)} of the {len(tests)} test utterances of "
            f"testdata.json, e.g. {missing[0]}; add a row Id,Category for each."
        )
    return {feature_path: labels[feature_path] for feature_path, _ in folder.test}


def _read_object(path: Path, keys: list[str], form: str) -> dict:
    """A JSON file whose top level must be an object with `keys`."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; the speaker-feature folder is incomplete.")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); copy it again.") from error
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: the top level must be a JSON object {form}, got a {type(data).__name__}."
        )
    for key in keys:
        if key not in data:
            raise ValueError(f"{path} has no key {key!r} (it has {sorted(data)}); expected {form}.")
    return data


def _object(value: object, path: Path, key: str, form: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {key} must be an object {form}, got a {type(value).__name__}.")
    return value


def _read_mapping(path: Path) -> tuple[list[str], dict[str, int]]:
    """Speaker names by id, and speaker2id; the two maps of mapping.json must agree."""
    mapping = _read_object(path, ["speaker2id", "id2speaker"], MAPPING_FORM)
    speaker2id = _object(mapping["speaker2id"], path, "'speaker2id'", "{SPEAKER: INT, ...}")
    id2speaker = _object(
        mapping["id2speaker"],
        path,
        "'id2speaker'",
        '{"0": SPEAKER, ...} with string keys (write {str(i): name for i, name in enumerate(names)})',
    )
    ids = list(speaker2id.values())
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids) or sorted(ids) != list(
        range(len(ids))
    ):
        raise ValueError(
            f"{path}: 'speaker2id' ids must be the integers 0 ... {len(ids) - 1}, each once."
        )
    for speaker, index in speaker2id.items():
        if id2speaker.get(str(index)) != speaker:
            raise ValueError(
                f"{path}: 'id2speaker'[{str(index)!r}] is {id2speaker.get(str(index))!r} but "
                f"'speaker2id'[{speaker!r}] is {index}; the two maps must agree."
            )
    return [id2speaker[str(i)] for i in range(len(ids))], dict(speaker2id)


def _utterance(path: Path, key: str, record: object) -> tuple[str, int]:
    if not isinstance(record, dict) or "feature_path" not in record or "mel_len" not in record:
        raise ValueError(f"{path}: {key} must have 'feature_path' and 'mel_len', got {record!r}.")
    feature_path = record["feature_path"]
    if not isinstance(feature_path, str) or not feature_path:
        raise ValueError(
            f"{path}: {key}['feature_path'] must be a file name, got {feature_path!r}."
        )
    return feature_path, whole_number(record["mel_len"], path, f"{key}['mel_len']")


def _no_repeats(path: Path, feature_paths: list[str]) -> None:
    seen = set()
    for feature_path in feature_paths:
        if feature_path in seen:
            raise ValueError(f"{path} lists {feature_path} twice; each utterance must appear once.")
        seen.add(feature_path)
