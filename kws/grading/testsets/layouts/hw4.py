"""The ``hw4`` data layout: HW4 speaker features with hidden labels, frames as inputs.

The spec's ``[data] folder`` (``speaker_features`` by default) holds the course's feature
folder (``testdata.json``, ``mapping.json``, ``metadata.json``, ``uttr-*.pt``: CONTEXT.md's
format), its ``hidden`` folder (``speaker_features_hidden``) the test labels,
``test_labels.csv``, which only the grader reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from kws.grading.testsets.hidden import HiddenTest, secret_sample, synthetic_preset
from kws.grading.testsets.layouts.base import Layout
from kws.grading.testsets.layouts.speech_commands import SPEECH_COMMANDS_TEST_FOLDERS

if TYPE_CHECKING:
    from kws.spec import Spec

HW4_FOLDER, HW4_HIDDEN = "speaker_features", "speaker_features_hidden"  # unless the spec says
REAL_HW4 = {"speakers": 600, "test_utterances": 8_000}


class HW4Layout(Layout):
    """HW4 speaker features (``[data] folder``) with hidden labels (``[data] hidden``)."""

    input_kind = "features"

    def __init__(self, spec: Spec):
        super().__init__(spec)
        self.folder = spec.data.get("folder") or HW4_FOLDER
        self.hidden = spec.data.get("hidden", HW4_HIDDEN)

    def test_set_size(self, data: Path) -> int:
        """The test utterances' frames in `data` (0 without them)."""
        listing = data / self.folder / "testdata.json"
        if not listing.is_file():
            return 0
        return sum(int(u["mel_len"]) for u in json.loads(listing.read_text())["utterances"])

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
        of them (`hidden_speaker_test`)."""
        return hidden_speaker_test(data, out_file, self.folder, self.hidden, sample)

    def public_test(self, data: Path, out_file: Path, count: int) -> HiddenTest:
        """`count` test utterances of the student's folder, unlabelled, and every test
        utterance's Id (`public_speaker_test`): students never have the labels."""
        return public_speaker_test(data / self.folder, out_file, count)

    def label_folders(self, data: Path) -> list[Path]:
        return [data / self.hidden]

    def retraining_data(self, data: Path, hidden: HiddenTest, root: Path) -> Path:
        """The data folder itself: its test utterances carry no labels."""
        return data

    def detect(self, data: Path) -> str | None:
        features = data / self.folder
        preset = synthetic_preset(features)
        if preset:
            return f"synthetic-{preset}"
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
                return f"synthetic-{preset}"
        real = speakers == REAL_HW4["speakers"] and tests == REAL_HW4["test_utterances"]
        return "hw4_2023" if real else None

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
    (`HiddenTest.test_labels`). Read without torch (`kws.data.speaker_format.read_features`)."""
    from kws.data.speaker_format import read_features, read_test_labels
    from kws.grading.protocol.inputs import save_feature_inputs

    root, labels_file = data_dir / folder, data_dir / hidden / "test_labels.csv"
    if not labels_file.is_file():
        raise FileNotFoundError(
            f"{labels_file} is missing: the grader needs the hidden test labels next to "
            f"{root} (build them with data_scripts/speaker_features.py)"
        )
    listing = _test_listing(root)  # reads and checks testdata.json
    paths = [path for path, _ in listing.test]
    speaker2id = listing.speaker2id
    truth = read_test_labels(labels_file, root)  # checked against the folder, line by line
    chosen = secret_sample(len(paths), sample).tolist()
    # Streamed from the utterance files into the inputs file: one utterance in memory at a time
    # (8,000 real-size ones are ~1 GB), and no cache written beside the instructor's data.
    save_feature_inputs(
        out_file,
        (read_features(root / paths[i], listing.n_mels, listing.test[i][1]) for i in chosen),
    )
    return HiddenTest(
        inputs_file=out_file,
        labels=[truth[paths[i]] for i in chosen],
        classes=tuple(sorted(speaker2id, key=speaker2id.get)),
        ids=tuple(paths[i] for i in chosen),
        test_labels=truth,
    )


def public_speaker_test(root: Path, out_file: Path, count: int) -> HiddenTest:
    """The features of `count` test utterances of the feature folder `root` (a random sample)
    and every test utterance's Id (``testdata.json``'s ``feature_path``), with no labels: what
    ``kws handin`` checks a hand-in against on the student's own copy of the data."""
    from kws.data.speaker_format import read_features
    from kws.grading.protocol.inputs import save_feature_inputs

    listing = _test_listing(root)
    paths = [path for path, _ in listing.test]
    chosen = secret_sample(len(paths), count).tolist()
    save_feature_inputs(
        out_file,
        (read_features(root / paths[i], listing.n_mels, listing.test[i][1]) for i in chosen),
    )
    speaker2id = listing.speaker2id
    return HiddenTest(
        inputs_file=out_file,
        labels=[-1] * len(chosen),
        classes=tuple(sorted(speaker2id, key=speaker2id.get)),
        ids=tuple(paths[i] for i in chosen),
        test_labels=dict.fromkeys(paths, -1),
        labelled=False,
    )


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
