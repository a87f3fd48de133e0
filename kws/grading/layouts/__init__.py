"""Data layouts: how an assignment's grading data is laid out, read from its spec's ``[data]``
``layout`` (``kws/assignments/<name>/spec.toml``). The engine asks the layout, never the
assignment's name, where the hidden test set is, how to read it, which dataset it is (for the
accuracy tiers), what a re-training must not read and what the Gradescope zip carries.

- ``speech_commands``: the 12-class Speech Commands test set, the first of the spec's
  ``test_folders`` present under the data folder (``<folder>/<word>/<clip>.wav``);
- ``hw4``: HW4 speaker features in the spec's ``folder`` (``testdata.json``, ``mapping.json``,
  ``uttr-*.pt``), their hidden labels in its ``hidden`` folder (``test_labels.csv``).

A new assignment picks one of these (`LAYOUTS`); a new kind of data is a new class here.
"""

from __future__ import annotations

import json
from pathlib import Path

from kws.assignments import Spec, SpecError
from kws.grading.hidden import (
    HW4_FOLDER,
    HW4_HIDDEN,
    SPEECH_COMMANDS_TEST_FOLDERS,
    HiddenTest,
    hidden_keyword_test,
    hidden_speaker_test,
    synthetic_preset,
)

REAL_KWS_TEST_CLIPS = {"v0.02": 4_890, "v0.01": 3_081}  # the official 12-class test sets
REAL_HW4 = {"speakers": 600, "test_utterances": 8_000}


class SpeechCommands:
    """The 12-class Speech Commands test set (``[data] test_folders``); clips as inputs."""

    # What grading the reference hand-in's test set took (kws.grading.gradescope.MEASURED): the
    # official test set's clips, and its grading child's wall seconds on one CPU.
    real_size = REAL_KWS_TEST_CLIPS["v0.02"]
    child_seconds = 170

    def __init__(self, spec: Spec):
        self.test_folders = tuple(spec.data.get("test_folders", SPEECH_COMMANDS_TEST_FOLDERS))

    def test_set_size(self, data: Path) -> int:
        """The clips of the test set the grader reads in `data` (the first of `test_folders`
        there, as `hidden_keyword_test` picks it; 0 without one), in the units of `real_size`."""
        folder = next((data / f for f in self.test_folders if (data / f).is_dir()), None)
        return 0 if folder is None else sum(1 for _ in folder.glob("*/*.wav"))

    def missing(self, data: Path) -> str | None:
        """Why `data` cannot grade the assignment (its hidden test set is absent), or None."""
        if any((data / folder).is_dir() for folder in self.test_folders):
            return None
        return f"{data} has no 12-class test set ({' or '.join(self.test_folders)})"

    def hidden_test(self, data: Path, out_file: Path) -> HiddenTest:
        return hidden_keyword_test(data, out_file, self.test_folders)

    def label_folders(self, data: Path) -> list[Path]:
        """The folders a re-training must not read: the test sets (their folder names are the
        labels)."""
        return [data / name for name in self.test_folders]

    def retraining_data(self, data: Path, hidden: HiddenTest, root: Path) -> Path:
        """A data folder for re-training: `data`'s folders linked in, and in place of each
        12-class test set a stand-in with the same clips under secretly shuffled labels.

        The notebook evaluates on the test set as it ends, so it needs one; the real one would
        give it the hidden labels (its folder names). The child receives the same clips
        unlabelled anyway, so the stand-in tells it nothing, and its own "test accuracy" is
        chance; the grader scores the re-trained checkpoint on the hidden labels as usual.
        """
        import secrets
        import shutil

        root.mkdir(parents=True, exist_ok=True)
        for entry in data.iterdir():
            if entry.name not in self.test_folders:
                (root / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
        for folder in self.test_folders:
            clips = sorted((data / folder).glob("*/*.wav"))
            if not clips:
                continue
            rng = secrets.SystemRandom()
            rng.shuffle(clips)
            for number, clip in enumerate(clips):
                label = hidden.classes[number % len(hidden.classes)]
                (root / folder / label).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(clip, root / folder / label / f"standin{number:05d}_nohash_0.wav")
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)  # the child may run as another user
        return root

    def detect(self, data: Path) -> str | None:
        """The [tiers] name of a dataset the kit knows under `data`, else None."""
        folder = next((data / f for f in self.test_folders if (data / f).is_dir()), None)
        if folder is None:
            return None
        preset = synthetic_preset(folder)
        if preset:
            return f"synthetic-{preset}"
        clips = sum(1 for _ in folder.glob("*/*.wav"))
        return "speech_commands_12" if clips == REAL_KWS_TEST_CLIPS.get(folder.name[-5:]) else None

    def grading_files(self, data: Path) -> tuple[list[tuple[Path, str]], list[str]]:
        """(file, name in the zip) for the test data grading reads, and the (empty) folders the
        zip needs: the test set loader needs ``speech_commands_<version>/`` with the word
        folders that tell the version."""
        from kws.data.speech_commands import WORDS_V1, WORDS_V2

        files, folders = [], []
        for folder in self.test_folders:
            if not (data / folder).is_dir():
                continue
            files += [(p, f"data/{p.relative_to(data)}") for p in files_to_zip(data / folder)]
            version = folder.rsplit("_", 1)[1]
            words = WORDS_V2 if version == "v0.02" else WORDS_V1
            folders += [f"data/speech_commands_{version}/{word}" for word in words]
        return files, folders


class HW4:
    """HW4 speaker features (``[data] folder``) with hidden labels (``[data] hidden``)."""

    # The real test set's frames (8,000 utterances of ~775), and an estimate of its grading
    # child's seconds on one CPU (kws.grading.gradescope.MEASURED says how it was measured).
    real_size = REAL_HW4["test_utterances"] * 775
    child_seconds = 2400

    def __init__(self, spec: Spec):
        self.folder = spec.data.get("folder") or HW4_FOLDER
        self.hidden = spec.data.get("hidden", HW4_HIDDEN)

    def test_set_size(self, data: Path) -> int:
        """The test utterances' frames in `data` (0 without them), in the units of `real_size`."""
        listing = data / self.folder / "testdata.json"
        if not listing.is_file():
            return 0
        return sum(int(u["mel_len"]) for u in json.loads(listing.read_text())["utterances"])

    def missing(self, data: Path) -> str | None:
        if (data / self.folder / "testdata.json").is_file():
            return None
        return f"{data} has no {self.folder}/testdata.json"

    def hidden_test(self, data: Path, out_file: Path) -> HiddenTest:
        return hidden_speaker_test(data, out_file, self.folder, self.hidden)

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
        from kws.data.synthetic import PRESETS

        for folder in SPEECH_COMMANDS_TEST_FOLDERS:
            preset = synthetic_preset(data / folder)
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


LAYOUTS = {"speech_commands": SpeechCommands, "hw4": HW4}


def layout_of(spec: Spec) -> SpeechCommands | HW4:
    """The reader of `spec`'s data ([data] layout); SpecError naming the layouts there are."""
    if spec.layout not in LAYOUTS:
        raise SpecError(
            f"{spec.path}: [data] layout = {spec.layout!r} is not one the grader reads; use one "
            f"of {', '.join(sorted(LAYOUTS))}"
        )
    return LAYOUTS[spec.layout](spec)


SKIP = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".kws_cache"}  # caches, not data


def files_to_zip(folder: Path) -> list[Path]:
    """The files under `folder`, sorted, without caches (`SKIP`) and compiled Python: what the
    Gradescope zip takes of a data folder or of the kit."""
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not SKIP.intersection(p.parts) and p.suffix != ".pyc"
    ]
