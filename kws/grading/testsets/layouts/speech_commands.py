"""The ``speech_commands`` data layout: the 12-class Speech Commands test set, clips as inputs.

The first of the spec's ``[data] test_folders`` present is the hidden test set; its folder names
are the labels. A private test set beside it (``<test folder>_private/``) is what is graded when
it exists, shuffled in secret among a sample of public clips that only measure the gap
(`kws.grading.judge.public_gap`). Read without torch (soundfile, numpy).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kws.data.private_variant import MARKER, PRIVATE_SUFFIX
from kws.data.words import CLIP_SAMPLES, LABEL_SETS, SAMPLE_RATE
from kws.grading.testsets.hidden import HiddenTest, secret_sample, synthetic_preset
from kws.grading.testsets.layouts.base import Layout, files_to_zip, link_into
from kws.i18n import N_

if TYPE_CHECKING:
    from kws.spec import Spec

# The folders the reader looks for unless the spec names its own ([data] test_folders).
SPEECH_COMMANDS_TEST_FOLDERS = ("speech_commands_test_set_v0.02", "speech_commands_test_set_v0.01")
REAL_KWS_TEST_CLIPS = {"v0.02": 4_890, "v0.01": 3_081}  # the official 12-class test sets
PUBLIC_SAMPLE = 1_000  # public clips graded beside a private test set (for the flag only)


class SpeechCommandsLayout(Layout):
    """The 12-class Speech Commands test set (``[data] test_folders``); clips as inputs."""

    input_kind = "waves"
    synthetic = "speech-commands"
    items_name = N_("clips")

    def __init__(self, spec: Spec):
        super().__init__(spec)
        self.test_folders = tuple(spec.data.get("test_folders", SPEECH_COMMANDS_TEST_FOLDERS))
        self.classes = tuple(spec.data.get("classes", LABEL_SETS["12"]))
        self.public_sample = int(spec.data.get("public_sample", PUBLIC_SAMPLE))

    def test_set_size(self, data: Path) -> int:
        """The clips the grader reads in `data`: the test set's (the first of `test_folders`
        there, as `hidden_keyword_test` picks it; 0 without one), or with a private test set
        beside it, the private clips and the sample of public ones."""
        folder = next((data / f for f in self.test_folders if (data / f).is_dir()), None)
        if folder is None:
            return 0
        public = sum(1 for _ in folder.glob("*/*.wav"))
        private = private_folder(folder)
        if private is None:
            return public
        return sum(1 for _ in private.glob("*/*.wav")) + min(public, self.public_sample)

    def private_set(self, data: Path) -> Path | None:
        """``<test folder>_private/`` beside the test set in `data`, when there is one."""
        folder = next((data / f for f in self.test_folders if (data / f).is_dir()), None)
        return private_folder(folder) if folder is not None else None

    def private_set_size(self, data: Path) -> int:
        """The private test set's clips in `data` (0 without one)."""
        private = self.private_set(data)
        return sum(1 for _ in private.glob("*/*.wav")) if private else 0

    def graded_items(self, data: Path) -> int:
        """The clips the accuracy is graded on: the private test set's when there is one beside
        the test set (the public sample beside it only measures the gap), else the test set's."""
        folder = next((data / f for f in self.test_folders if (data / f).is_dir()), None)
        if folder is None:
            return 0
        from kws.data.audio import audio_files

        graded = private_folder(folder) or folder  # counted as `labelled_clips` reads them
        return sum(len(audio_files(graded / name)) for name in self.classes
                   if (graded / name).is_dir())  # fmt: skip

    def missing(self, data: Path) -> str | None:
        """Why `data` cannot grade the assignment (its hidden test set is absent), or None."""
        if any((data / folder).is_dir() for folder in self.test_folders):
            return None
        return f"{data} has no 12-class test set ({' or '.join(self.test_folders)})"

    def hidden_test(self, data: Path, out_file: Path, sample: int | None = None) -> HiddenTest:
        """The test set's clips, shuffled in secret, or a secret sample of `sample` of them
        (`hidden_keyword_test`)."""
        return hidden_keyword_test(
            data, out_file, self.test_folders, self.classes, sample, self.public_sample
        )

    def label_folders(self, data: Path) -> list[Path]:
        """The folders a re-training must not read: the test sets and their private test sets
        (their folder names are the labels)."""
        names = [name + suffix for name in self.test_folders for suffix in ("", PRIVATE_SUFFIX)]
        return [data / name for name in names]

    def retraining_data(self, data: Path, hidden: HiddenTest, root: Path) -> Path:
        """A data folder for re-training: the Speech Commands folders of `data` linked in (those
        a test folder's name names without ``_test_set``: ``speech_commands_v0.02``), and in
        place of each 12-class test set a stand-in with the same clips under secretly shuffled
        labels. Nothing else of `data`.

        The notebook evaluates on the test set as it ends, so it needs one; the real one would
        give it the hidden labels (its folder names). The child receives the same clips
        unlabelled anyway, so the stand-in tells it nothing, and its own "test accuracy" is
        chance; the grader scores the re-trained checkpoint on the hidden labels as usual.
        """
        import secrets
        import shutil

        training = [data / name.replace("_test_set", "") for name in self.test_folders]
        link_into(root, [folder for folder in training if folder.is_dir()])
        for folder in self.test_folders:
            clips = sorted((data / folder).glob("*/*.wav"))
            secrets.SystemRandom().shuffle(clips)
            for number, clip in enumerate(clips):
                label = hidden.classes[number % len(hidden.classes)]
                (root / folder / label).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(clip, root / folder / label / f"standin{number:05d}_nohash_0.wav")
        for path in root.rglob("*"):
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)  # the child may run as another user
        return root

    def detect(self, data: Path) -> str | None:
        """The [tiers] name of a dataset the kit knows under `data`, else None: the real test
        set is ``speech_commands_12``, or ``speech_commands_12_variant`` when the private set
        graded beside it is the variant `kws private` wrote (its `MARKER`), which costs an
        honest model a few points; an instructor's own recordings keep the real set's tiers.
        A synthetic twin is ``synthetic-<preset>``, ``synthetic-<preset>-variant`` with the
        variant: tiers measured on one are never taken for the other's."""
        folder = next((data / f for f in self.test_folders if (data / f).is_dir()), None)
        if folder is None:
            return None
        private = private_folder(folder)
        variant = private is not None and (private / MARKER).is_file()
        preset = synthetic_preset(folder)
        if preset:
            return f"synthetic-{preset}" + ("-variant" if variant else "")
        clips = sum(1 for _ in folder.glob("*/*.wav"))
        if clips != REAL_KWS_TEST_CLIPS.get(folder.name[-5:]):
            return None
        return "speech_commands_12_variant" if variant else "speech_commands_12"

    def synthetic_name(self, preset: str, private: bool) -> str:
        return f"synthetic-{preset}" + ("-variant" if private else "")

    def grading_files(self, data: Path) -> tuple[list[tuple[Path, str]], list[str]]:
        """(file, name in the zip) for the test data grading reads, and the (empty) folders the
        zip needs: the test set loader needs ``speech_commands_<version>/`` with the word
        folders that tell the version."""
        from kws.data.words import WORDS_V1, WORDS_V2

        files, folders = [], []
        for folder in self.test_folders:
            if not (data / folder).is_dir():
                continue
            private = private_folder(data / folder)  # the course secret itself is never there
            for test_set in (data / folder, *([private] if private else [])):
                files += [(p, f"data/{p.relative_to(data)}") for p in files_to_zip(test_set)]
            version = folder.rsplit("_", 1)[1]
            words = WORDS_V2 if version == "v0.02" else WORDS_V1
            folders += [f"data/speech_commands_{version}/{word}" for word in words]
        return files, folders


def hidden_keyword_test(
    data_dir: Path,
    out_file: Path,
    test_folders: tuple[str, ...] = SPEECH_COMMANDS_TEST_FOLDERS,
    classes: tuple[str, ...] = tuple(LABEL_SETS["12"]),
    sample: int | None = None,
    public_sample: int = PUBLIC_SAMPLE,
) -> HiddenTest:
    """The 12-class test set under `data_dir` (the first of `test_folders` there, a folder per
    class of `classes`) as unlabelled shuffled clips + hidden labels; with `sample`, a secret
    random sample of that many clips. With a private test set beside it (`private_folder`),
    its clips and a secret sample of `public_sample` public ones, shuffled together and marked
    (``HiddenTest.private``). Each clip is read from its file as it is written (int16, padded
    or cut to one second, as the training cache stores it): no cache, no torch."""
    from kws.grading.protocol.inputs import save_clip_inputs

    test_folder = next((data_dir / f for f in test_folders if (data_dir / f).is_dir()), None)
    if test_folder is None:
        raise FileNotFoundError(
            f"{data_dir} has no 12-class test set ({' or '.join(test_folders)}); pass the "
            "folder holding the Speech Commands data with --data"
        )
    clips, labels = labelled_clips(test_folder, classes, "extract the test set again")
    private = private_folder(test_folder)
    marks = [False] * len(clips)
    if private is not None:
        fix = "add it, or write the private set again with `kws private`"
        own, own_labels = labelled_clips(private, classes, fix)
        if not own:
            raise FileNotFoundError(f"{private} holds no clips; {fix}, or remove the folder")
        public = secret_sample(len(clips), public_sample).tolist()
        clips = own + [clips[i] for i in public]
        labels = own_labels + [labels[i] for i in public]
        marks = [True] * len(own) + [False] * len(public)
    chosen = secret_sample(len(clips), sample)
    save_clip_inputs(out_file, (_clip_samples(clips[i]) for i in chosen.tolist()))
    return HiddenTest(
        inputs_file=out_file,
        labels=np.asarray(labels)[chosen],
        classes=tuple(classes),
        ids=tuple(f"{clips[i].parent.name}/{clips[i].name}" for i in chosen.tolist()),
        private=np.asarray(marks, dtype=bool)[chosen],
    )  # a clip's key: word/file (the Kaggle rule splits by it, `kws.grading.testsets.split`)


def private_folder(test_folder: Path) -> Path | None:
    """The private test set beside `test_folder` (``<name>_private/``), or None."""
    folder = test_folder.with_name(test_folder.name + PRIVATE_SUFFIX)
    return folder if folder.is_dir() else None


def labelled_clips(
    folder: Path, classes: tuple[str, ...], fix: str
) -> tuple[list[Path], list[int]]:
    """The clips of a 12-class `folder` (a subfolder per class of `classes`) and their class
    indices; FileNotFoundError naming a missing class folder and `fix`."""
    from kws.data.audio import audio_files

    clips, labels = [], []
    for label, name in enumerate(classes):
        if not (folder / name).is_dir():
            raise FileNotFoundError(f"{folder / name} is missing; {fix}")
        found = audio_files(folder / name)
        clips += found
        labels += [label] * len(found)
    return clips, labels


def _clip_samples(path: Path) -> np.ndarray:
    """One clip as the training cache stores it (`kws.data.cache.cache_clips`): its samples,
    zero-padded or cut to one second, scaled by 32768, rounded and clamped to int16 (S,)."""
    from kws.data.audio import read_audio

    wave = read_audio(path, SAMPLE_RATE, num_samples=CLIP_SAMPLES)
    wave = np.pad(wave[:CLIP_SAMPLES], (0, max(0, CLIP_SAMPLES - len(wave))))
    return np.clip(np.rint(wave * 32768), -32768, 32767).astype(np.int16)
