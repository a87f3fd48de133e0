"""The hidden test data, on the grader's side: unlabelled inputs for the child, labels kept here.

`hidden_keyword_test` reads the 12-class Speech Commands test set and `hidden_speaker_test` the
HW4 test utterances with their hidden labels (``speaker_features_hidden/test_labels.csv``). Each
writes the inputs file a child may see (`kws.grading.shared.inputs`) in a fresh secret order, and
keeps the labels, in that same order, in the returned `HiddenTest` — they never leave this
process.

torch and the data readers are imported where the test sets are read: `kws grade` itself only
looks for the test sets (`kws.grading.layouts`), and its graders import torch.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kws.grading.sandbox.processes import private_folder

if TYPE_CHECKING:
    import torch

# The folders the readers look for unless told (an assignment's spec names its own, [data] in
# kws/assignments/<name>/spec.toml; `kws.grading.layouts` passes them).
SPEECH_COMMANDS_TEST_FOLDERS = ("speech_commands_test_set_v0.02", "speech_commands_test_set_v0.01")
HW4_FOLDER, HW4_HIDDEN = "speaker_features", "speaker_features_hidden"


@dataclass(frozen=True)
class HiddenTest:
    """Labels of the inputs written to `inputs_file`, in the same (shuffled) order.

    Attributes:
        inputs_file: the unlabelled inputs for the child.
        labels: (N,) int64 class index of every input.
        classes: class names (speaker names for HW4, in mapping.json's id order).
        ids: per input, the Id a predictions.csv row uses (HW4 feature_path; "" for clips).
    """

    inputs_file: Path
    labels: torch.Tensor
    classes: tuple[str, ...]
    ids: tuple[str, ...]

    def accuracy(self, predictions: list[int]) -> float:
        """Fraction of inputs whose predicted class index equals the hidden label."""
        if len(predictions) != len(self.labels):
            raise ValueError(f"{len(predictions)} predictions for {len(self.labels)} test inputs")
        import torch

        return float((torch.tensor(predictions) == self.labels).float().mean())


def _secret_permutation(n: int) -> torch.Tensor:
    import torch

    return torch.randperm(n, generator=torch.Generator().manual_seed(secrets.randbits(63)))


def synthetic_preset(folder: Path) -> str | None:
    """The preset of a folder written by kws.data.synthetic (from its README), else None."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    match = re.search(r"preset '(\w+)'", readme.read_text(errors="replace"))
    return match[1] if match and "Synthetic" in readme.read_text(errors="replace") else None


def hidden_keyword_test(
    data_dir: Path, out_file: Path, test_folders: tuple[str, ...] = SPEECH_COMMANDS_TEST_FOLDERS
) -> HiddenTest:
    """The 12-class test set under `data_dir` (the first of `test_folders` there) as unlabelled
    shuffled clips + hidden labels."""
    from kws.data.cache import cache_clips
    from kws.data.speech_commands import SpeechCommands
    from kws.grading.shared.inputs import save_wave_inputs

    test_folder = next((data_dir / f for f in test_folders if (data_dir / f).is_dir()), None)
    if test_folder is None:
        raise FileNotFoundError(
            f"{data_dir} has no 12-class test set ({' or '.join(test_folders)}); pass the "
            "folder holding the Speech Commands data with --data"
        )
    version = test_folder.name.rsplit("_", 1)[1]
    clips = cache_clips(
        SpeechCommands(
            data_dir / f"speech_commands_{version}",
            subset="test12",
            labels="12",
            test_set_root=test_folder,
        ),
        cache_dir=private_folder("hidden-cache"),  # never beside the data, where a child could look
    )
    order = _secret_permutation(len(clips))
    save_wave_inputs(out_file, clips.waves, clips.gains, order)  # read from the cache in chunks
    return HiddenTest(
        inputs_file=out_file,
        labels=clips.labels[order],
        classes=clips.classes,
        ids=("",) * len(order),
    )


def hidden_speaker_test(
    data_dir: Path, out_file: Path, folder: str = HW4_FOLDER, hidden: str = HW4_HIDDEN
) -> HiddenTest:
    """The HW4 test utterances (`data_dir`/`folder`) as unlabelled shuffled features + hidden
    speaker labels (`data_dir`/`hidden`/test_labels.csv)."""
    import torch

    from kws.data.speaker_features import SpeakerFeatures, load_features
    from kws.data.speaker_format import read_test_labels
    from kws.grading.shared.inputs import save_feature_inputs

    root, labels_file = data_dir / folder, data_dir / hidden / "test_labels.csv"
    if not labels_file.is_file():
        raise FileNotFoundError(
            f"{labels_file} is missing: the grader needs the hidden test labels next to "
            f"{root} (build them with data_scripts/speaker_features.py)"
        )
    listing = SpeakerFeatures(root, "test", valid_fraction=0.0)  # reads and checks testdata.json
    paths = [path for path, _, _ in listing.items]
    speaker2id = json.loads((root / "mapping.json").read_text())["speaker2id"]
    truth = read_test_labels(labels_file, root)  # checked against the folder, line by line
    labels = torch.tensor([truth[p] for p in paths])
    order = _secret_permutation(len(labels)).tolist()
    # Streamed from the utterance files into the inputs file: one utterance in memory at a time
    # (8,000 real-size ones are ~1 GB), and no cache written beside the instructor's data.
    save_feature_inputs(
        out_file,
        (load_features(root / paths[i], listing.n_mels, listing.items[i][1]) for i in order),
    )
    return HiddenTest(
        inputs_file=out_file,
        labels=labels[order],
        classes=tuple(sorted(speaker2id, key=speaker2id.get)),
        ids=tuple(paths[i] for i in order),
    )
