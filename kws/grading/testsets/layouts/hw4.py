"""The ``hw4`` data layout: HW4 speaker features with hidden labels, frames as inputs.

The spec's ``[data] folder`` holds the feature folder (docs/reference/data.md), its ``hidden``
folder the test labels, which only the grader reads. A private test set beside the folder
(``<folder>_private/``, held-back utterances) is what is graded when it exists; the students'
folder beside it (``<folder>_students/``) is what a re-training reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from kws.data.private_variant import PRIVATE_SUFFIX
from kws.data.speaker_private import private_speaker_folder, students_folder
from kws.grading.testsets.hidden import (
    HiddenTest,
    secret_permutation,
    secret_sample,
    synthetic_preset,
)
from kws.grading.testsets.layouts.base import Layout, files_to_zip, link_into
from kws.grading.testsets.layouts.speech_commands import SPEECH_COMMANDS_TEST_FOLDERS
from kws.i18n import N_

if TYPE_CHECKING:
    from kws.spec import Spec

HW4_FOLDER, HW4_HIDDEN = "speaker_features", "speaker_features_hidden"  # unless the spec says
REAL_HW4 = {"speakers": 600, "test_utterances": 8_000}


class HW4Layout(Layout):
    """HW4 speaker features (``[data] folder``) with hidden labels (``[data] hidden``)."""

    input_kind = "features"
    synthetic = "speaker-features"
    items_name = N_("utterances")

    def __init__(self, spec: Spec):
        super().__init__(spec)
        self.folder = spec.data.get("folder") or HW4_FOLDER
        self.hidden = spec.data.get("hidden", HW4_HIDDEN)

    def test_set_size(self, data: Path) -> int:
        """The test utterances' frames in `data` (0 without them), and the private set's."""
        listing = data / self.folder / "testdata.json"
        if not listing.is_file():
            return 0
        listed = json.loads(listing.read_text())["utterances"]
        return sum(int(u["mel_len"]) for u in listed) + self.private_set_size(data)

    def private_set_size(self, data: Path) -> int:
        """The held-back utterances' frames in `data`'s private set (0 without one)."""
        return sum(self._held_back_frames(data))

    def graded_items(self, data: Path) -> int:
        """The utterances the accuracy is graded on: the private set's held-back ones when
        there is one, else the test utterances (items, where `private_set_size` counts
        frames: what the Kaggle rule splits)."""
        return len(self._held_back_frames(data)) or self.test_set_items(data)

    def _held_back_frames(self, data: Path) -> list[int]:
        """Each held-back utterance's frames, as `data`'s private set lists them ([] without)."""
        private = self.private_set(data)
        metadata = private / "metadata.json" if private else None
        if metadata is None or not metadata.is_file():
            return []
        speakers = json.loads(metadata.read_text())["speakers"].values()
        return [int(u["mel_len"]) for utterances in speakers for u in utterances]

    def private_set(self, data: Path) -> Path | None:
        """``<folder>_private/`` beside the feature folder in `data`, when there is one."""
        return private_speaker_folder(data / self.folder)

    def test_set_items(self, data: Path) -> int:
        """The test utterances in `data` (0 without them)."""
        listing = data / self.folder / "testdata.json"
        return len(json.loads(listing.read_text())["utterances"]) if listing.is_file() else 0

    def missing(self, data: Path) -> str | None:
        if (data / self.folder / "testdata.json").is_file():
            return None
        return f"{data} has no {self.folder}/testdata.json"

    def hidden_test(self, data: Path, out_file: Path, sample: int | None = None) -> HiddenTest:
        """The test utterances' features, shuffled in secret, or a secret sample of `sample`
        of them, with the private set's utterances among them (`hidden_speaker_test`)."""
        return hidden_speaker_test(data, out_file, self.folder, self.hidden, sample)

    def public_test(self, data: Path, out_file: Path, count: int) -> HiddenTest:
        """The features of `count` test utterances of the student's feature folder (a random
        sample), unlabelled, and every test utterance's Id (``testdata.json``'s
        ``feature_path``): students never have the labels."""
        root = data / self.folder
        listing = _test_listing(root)
        items = [(root, path, mel_len, -1, False) for path, mel_len in listing.test]
        items = [items[i] for i in secret_sample(len(items), count).tolist()]
        unknown = {path: -1 for path, _ in listing.test}
        return _feature_test(out_file, listing, items, test_labels=unknown, labelled=False)

    def label_folders(self, data: Path) -> list[Path]:
        """The test labels, the private set, and the course's whole folder when students get
        another one (it lists the held-back utterances with their speakers)."""
        root = data / self.folder
        whole = [root] if students_folder(root) != root else []
        return [data / self.hidden, root.with_name(root.name + PRIVATE_SUFFIX), *whole]

    def retraining_data(self, data: Path, hidden: HiddenTest, root: Path) -> Path:
        """`root` with the feature folder students get (where `kws private` wrote one, that
        one) under the feature folder's name, and nothing else of `data`: the notebook
        re-trains on what students get."""
        students = students_folder(data / self.folder)
        link_into(root, [])
        (root / self.folder).symlink_to(students.resolve(), target_is_directory=True)
        return root

    def detect(self, data: Path) -> str | None:
        features = data / self.folder
        preset = synthetic_preset(features)
        if preset:
            return self._graded_on(data, f"synthetic-{preset}")
        try:
            speakers = len(json.loads((features / "mapping.json").read_text())["speaker2id"])
            tests = len(json.loads((features / "testdata.json").read_text())["utterances"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        # Synthetic features written before they carried their own README: the synthetic Speech
        # Commands beside them (same generator run) names the preset, if the speaker count agrees.
        for folder in SPEECH_COMMANDS_TEST_FOLDERS:
            preset = synthetic_preset(data / folder)
            if preset is None:
                continue
            from kws.data.synthetic import PRESETS  # torch: only for these old synthetic folders

            if preset in PRESETS and PRESETS[preset].sf_speakers == speakers:
                return self._graded_on(data, f"synthetic-{preset}")
        real = speakers == REAL_HW4["speakers"] and tests == REAL_HW4["test_utterances"]
        return self._graded_on(data, "hw4_2023") if real else None

    def _graded_on(self, data: Path, dataset: str) -> str:
        """`dataset`'s [tiers] name, or its private set's (``<name>_private``, for a synthetic
        twin ``synthetic-<preset>-private``) when one is graded: held-back utterances are
        another set than the test utterances, with tiers of their own."""
        if self.private_set(data) is None:
            return dataset
        return f"{dataset}-private" if dataset.startswith("synthetic-") else f"{dataset}_private"

    def synthetic_name(self, preset: str, private: bool) -> str:
        return f"synthetic-{preset}" + ("-private" if private else "")

    def grading_files(self, data: Path) -> tuple[list[tuple[Path, str]], list[str]]:
        speakers = data / self.folder
        if not (speakers / "testdata.json").is_file():
            return [], []
        listed = json.loads((speakers / "testdata.json").read_text())["utterances"]
        # metadata.json too: the feature reader opens it (training speakers; no test labels).
        names = ["testdata.json", "mapping.json", "metadata.json"]
        names += [u["feature_path"] for u in listed]
        names += ["README.md"] if (speakers / "README.md").is_file() else []  # synthetic marker
        files = [(speakers / n, f"data/{self.folder}/{n}") for n in names]
        labels = data / self.hidden / "test_labels.csv"
        if not labels.is_file():
            raise FileNotFoundError(
                f"{labels} is missing; the speaker tasks cannot be graded without it"
            )
        private = self.private_set(data)  # its held-back utterances with their speakers
        if private is not None:
            files += [(p, f"data/{p.relative_to(data)}") for p in files_to_zip(private)]
        return [*files, (labels, f"data/{self.hidden}/test_labels.csv")], []


def hidden_speaker_test(
    data_dir: Path,
    out_file: Path,
    folder: str = HW4_FOLDER,
    hidden: str = HW4_HIDDEN,
    sample: int | None = None,
) -> HiddenTest:
    """The HW4 test utterances (`data_dir`/`folder`) as unlabelled shuffled features + hidden
    speaker labels (`data_dir`/`hidden`/test_labels.csv); with `sample`, the features of a
    secret random sample of that many utterances only, and every utterance's label by its Id
    (`HiddenTest.test_labels`). With a private set beside the folder (``<folder>_private/``),
    every one of its utterances too, shuffled in among them and marked (``HiddenTest.private``).
    Read without torch (`kws.data.speaker_format.read_features`)."""
    from kws.data.speaker_format import read_test_labels

    root, labels_file = data_dir / folder, data_dir / hidden / "test_labels.csv"
    if not labels_file.is_file():
        raise FileNotFoundError(
            f"{labels_file} is missing: the grader needs the hidden test labels next to "
            f"{root} (build them with data_scripts/speaker_features.py)"
        )
    listing = _test_listing(root)  # reads and checks testdata.json
    truth = read_test_labels(labels_file, root)  # checked against the folder, line by line
    # (folder, feature_path, mel_len, label, private) of every input, public ones first
    items = [(root, path, mel_len, truth[path], False) for path, mel_len in listing.test]
    items = [items[i] for i in secret_sample(len(items), sample).tolist()]
    private = private_speaker_folder(root)
    if private is not None:
        held = _held_back(private, listing)
        items += [(private, path, mel_len, label, True) for path, mel_len, label in held]
    items = [items[i] for i in secret_permutation(len(items)).tolist()]
    return _feature_test(out_file, listing, items, test_labels=truth, private=[i[4] for i in items])


def _feature_test(out_file: Path, listing, items: list[tuple], **fields) -> HiddenTest:
    """The `HiddenTest` of `items` ((folder, feature_path, mel_len, label, private), in the
    order the child sees them), their features written to `out_file` (`fields`: the rest)."""
    from kws.data.speaker_format import read_features
    from kws.grading.protocol.inputs import save_feature_inputs

    # Streamed from the utterance files into the inputs file: one utterance in memory at a time
    # (8,000 real-size ones are ~1 GB), and no cache written beside the instructor's data.
    features = (
        read_features(folder / path, listing.n_mels, frames) for folder, path, frames, *_ in items
    )
    save_feature_inputs(out_file, features)
    speaker2id = listing.speaker2id
    classes = tuple(sorted(speaker2id, key=speaker2id.get))
    labels, ids = [item[3] for item in items], tuple(item[1] for item in items)
    return HiddenTest(out_file, labels, classes, ids, **fields)


def _held_back(private: Path, listing) -> list[tuple[str, int, int]]:
    """(feature_path, mel_len, speaker id) of every utterance of the private folder, checked:
    its speakers are the test set's (mapping.json alike), none is a test utterance, every file
    is there; FileNotFoundError / ValueError naming the folder and the fix."""
    from kws.data.speaker_format import read_speaker_folder

    fix = "write it again with `kws private`, or remove the folder"
    held = read_speaker_folder(private)
    if held.speakers != listing.speakers:
        raise ValueError(
            f"{private / 'mapping.json'} is not the test set's mapping.json ({listing.root}): "
            f"the private set belongs to another build of the folder; {fix}"
        )
    tests = {path for path, _ in listing.test}
    both = sorted(tests & {path for path, _, _ in held.labelled})
    if both:
        raise ValueError(f"{private}: {both[0]} is a test utterance too; {fix}")
    missing = [path for path, _, _ in held.labelled if not (private / path).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} utterances listed in {private / 'metadata.json'} are missing, e.g. "
            f"{private / missing[0]}; {fix}"
        )
    return held.labelled


def _test_listing(root: Path):
    """`root`'s JSON files, read and checked, with every test utterance's file present
    (`kws.data.speaker_format.SpeakerFolder`); FileNotFoundError naming what is missing."""
    from kws.data.speaker_format import read_speaker_folder

    if not root.is_dir():
        raise FileNotFoundError(
            f"Speaker-feature folder {root} not found; build one with "
            f"`python data_scripts/speaker_features.py build` or kws.data.synthetic."
        )
    listing = read_speaker_folder(root, need_test=True)
    missing = [path for path, _ in listing.test if not (root / path).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} feature files listed in {root} are missing, e.g. "
            f"{root / missing[0]}; copy the whole folder again."
        )
    return listing
