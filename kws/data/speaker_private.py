"""A private test set for speaker ID: utterances of every speaker held back from what students get.

HW4's test features are handed out (students write predictions.csv on them), so a model can carry
their answers. The grader therefore scores each task's model on utterances the students never had:
``kws private`` draws some of every speaker's training utterances (metadata.json) with the course
secret and writes two folders beside the course's own HW4 folder ``ROOT``:

    ROOT_students/   what students get: a complete HW4 folder (metadata.json without the held-back
                     utterances, mapping.json, testdata.json, the uttr-*.pt files of the rest)
    ROOT_private/    what the grader keeps: the held-back utterances with their speakers
                     (metadata.json and mapping.json in HW4's format, their uttr-*.pt files) and
                     `MARKER` (how they were drawn, never the secret)

``ROOT`` itself is left as it was (the grader reads its test utterances from there). Files are
hard links where the file system allows (no copy of the data), else copies.

Which utterances are held back depends on the secret alone: each speaker's utterances are
ranked by SHA-256(secret, speaker, file name), and the first ones are held back, a count or a
share of them (`held_back_counts`). The same secret holds back the same utterances again, and
a larger count holds back a superset. No torch: the JSON files and links only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kws.data.private_variant import PRIVATE_SUFFIX, read_secret
from kws.data.speaker_format import SpeakerFolder, read_speaker_folder

STUDENTS_SUFFIX = "_students"  # speaker_features -> speaker_features_students
MARKER = "HELD_BACK.json"  # in a private folder `kws private` wrote: how, not the secret
# Held-back utterances per speaker unless the instructor says otherwise: 600 of the real folder,
# which the grading child re-runs beside its 400-utterance sample within Gradescope's default
# 10 minutes (more cost about 0.15 CPU-s each); a larger set is steadier (benchmarks/README.md).
PER_SPEAKER = 1


@dataclass(frozen=True)
class HeldBack:
    """What `write_speaker_private` wrote.

    Attributes:
        students: the folder to hand out.
        private: the folder the grader keeps.
        held_back: utterances in `private`.
        kept: training utterances left in `students`.
        capped: speakers with too few utterances for the count asked, of whom all but one
            training utterance were held back.
    """

    students: Path
    private: Path
    held_back: int
    kept: int
    capped: tuple[str, ...] = ()


def held_back_counts(
    counts: dict[str, int], per_speaker: int | None = None, share: float | None = None
) -> tuple[dict[str, int], tuple[str, ...]]:
    """How many of each speaker's training utterances (`counts`) to hold back: `per_speaker`
    each, or a `share` of each speaker's (rounded, at least one); never a speaker's last one.

    Returns:
        ({speaker: count}, the speakers with too few utterances for what was asked, of whom all
        but one were held back).

    Raises:
        ValueError: naming the speakers with a single utterance (none can be held back), or a
            count or share out of range.
    """
    if (per_speaker is None) == (share is None):
        raise ValueError("give a count per speaker or a share of each speaker's utterances")
    if per_speaker is not None and per_speaker < 1:
        raise ValueError(f"--per-speaker {per_speaker}: hold back at least 1 utterance a speaker")
    if share is not None and not 0.0 < share < 1.0:
        raise ValueError(f"--share {share}: give a share between 0 and 1, e.g. 0.05")
    single = sorted(speaker for speaker, n in counts.items() if n < 2)
    if single:
        raise ValueError(
            f"{len(single)} speakers have a single training utterance (e.g. "
            f"{', '.join(single[:3])}): none can be held back without leaving them nothing to "
            "train on, and the private set holds back utterances of every speaker. Add "
            "utterances of theirs, or remove them from metadata.json and mapping.json"
        )
    wanted = {
        speaker: per_speaker if per_speaker is not None else max(1, round(share * n))
        for speaker, n in counts.items()
    }
    capped = tuple(speaker for speaker, n in counts.items() if wanted[speaker] > n - 1)
    return {speaker: min(wanted[speaker], n - 1) for speaker, n in counts.items()}, capped


def rank(secret: str, speaker: str, feature_path: str) -> str:
    """The key a speaker's utterances are ordered by: the first ones are held back."""
    return hashlib.sha256(f"{secret}\0held-back\0{speaker}\0{feature_path}".encode()).hexdigest()


@dataclass(frozen=True)
class HeldBackPlan:
    """A checked HW4 folder, its training utterances by speaker, and the counts to hold back
    (`plan_held_back`): what `write_held_back` needs besides the secret."""

    root: Path
    folder: SpeakerFolder
    by_speaker: dict[str, list[tuple[str, int]]]
    counts: dict[str, int]
    capped: tuple[str, ...]
    per_speaker: int | None
    share: float | None


def plan_held_back(root: Path, per_speaker: int | None, share: float | None) -> HeldBackPlan:
    """`root` read and checked (every listed file present), and what to hold back of it:
    errors a user can cause are raised here, before any secret or folder is written."""
    folder = read_speaker_folder(root, need_test=True)  # checked: names the file and the fix
    listed = [path for path, *_ in [*folder.labelled, *folder.test]]
    missing = [path for path in listed if not (root / path).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} feature files listed in {root} are missing, e.g. {root / missing[0]}; "
            "copy the whole folder again"
        )
    by_speaker: dict[str, list[tuple[str, int]]] = {name: [] for name in folder.speakers}
    for path, mel_len, speaker in folder.labelled:
        by_speaker[folder.speakers[speaker]].append((path, mel_len))
    counts, capped = held_back_counts(
        {s: len(u) for s, u in by_speaker.items()}, per_speaker, share
    )
    return HeldBackPlan(root, folder, by_speaker, counts, capped, per_speaker, share)


def write_speaker_private(
    root: Path, secret: str, per_speaker: int | None = None, share: float | None = None
) -> HeldBack:
    """Hold back utterances of every speaker of the HW4 folder `root` (`held_back_counts`,
    drawn with `secret`) and write ``ROOT_students/`` and ``ROOT_private/`` beside it (the
    module's docstring), each replacing an earlier one only once it is complete.
    FileNotFoundError / ValueError naming the file when `root` is not a complete HW4 folder."""
    return write_held_back(plan_held_back(Path(root), per_speaker, share), secret)


def write_held_back(plan: HeldBackPlan, secret: str) -> HeldBack:
    """Write the folders of `plan` (`plan_held_back`), drawn with `secret`."""
    root, folder = plan.root, plan.folder
    kept, held = {}, {}
    for speaker, utterances in plan.by_speaker.items():
        ordered = sorted(utterances, key=lambda u: rank(secret, speaker, u[0]))
        chosen = {path for path, _ in ordered[: plan.counts[speaker]]}
        held[speaker] = [_record(u) for u in utterances if u[0] in chosen]  # file order kept
        kept[speaker] = [_record(u) for u in utterances if u[0] not in chosen]
    students = root.with_name(root.name + STUDENTS_SUFFIX)
    private = root.with_name(root.name + PRIVATE_SUFFIX)
    readme = ["README.md"] if (root / "README.md").is_file() else []  # a synthetic twin's marker
    tests = [path for path, _ in folder.test]
    metadata = {"n_mels": folder.n_mels, "speakers": kept}
    _write_folder(root, students, metadata, ["mapping.json", "testdata.json", *readme], tests)
    how = {
        "made_by": "kws private",
        "from": root.name,
        "students": students.name,
        "per_speaker": plan.per_speaker,
        "share": plan.share,
        "utterances": sum(len(u) for u in held.values()),
    }
    marker = {MARKER: json.dumps(how, indent=1) + "\n"}
    metadata = {"n_mels": folder.n_mels, "speakers": held}
    _write_folder(root, private, metadata, ["mapping.json"], [], marker)
    total = len(folder.labelled)
    return HeldBack(students, private, how["utterances"], total - how["utterances"], plan.capped)


def _record(utterance: tuple[str, int]) -> dict:
    return {"feature_path": utterance[0], "mel_len": utterance[1]}


def _write_folder(
    root: Path,
    out: Path,
    metadata: dict,
    copied: list[str],
    more: list[str],
    written: dict[str, str] | None = None,
) -> None:
    """`out`: `metadata` as metadata.json, the files `copied` from `root`, the uttr files
    `metadata` lists and those of `more` linked from `root`, and `written` {name: text}; made in
    a hidden partial folder and moved into place when complete."""
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    for name in copied:
        shutil.copyfile(root / name, partial / name)
    for name, text in (written or {}).items():
        (partial / name).write_text(text)
    listed = [u["feature_path"] for utts in metadata["speakers"].values() for u in utts]
    for name in [*listed, *more]:
        _link(root / name, partial / name)
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)


def _link(source: Path, target: Path) -> None:
    """`target` a hard link of `source`, or a copy where the file system has no such links."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def private_speaker_folder(root: Path) -> Path | None:
    """The private folder beside the HW4 folder `root` (``ROOT_private/``), or None."""
    folder = root.with_name(root.name + PRIVATE_SUFFIX)
    return folder if folder.is_dir() else None


def students_folder(root: Path) -> Path:
    """The folder students train on: ``ROOT_students/`` when `kws private` wrote one, else
    `root` itself."""
    folder = root.with_name(root.name + STUDENTS_SUFFIX)
    return folder if folder.is_dir() else root


def make_speaker_private(
    data: Path,
    secret_file: Path,
    folder: str = "speaker_features",
    per_speaker: int | None = None,
    share: float | None = None,
) -> HeldBack:
    """``kws private`` for speaker ID: `write_speaker_private` of ``data/<folder>`` with the
    secret in `secret_file` (a new one when the file does not exist); `PER_SPEAKER` utterances
    a speaker unless a count or a share is given."""
    root = Path(data) / folder
    if not (root / "metadata.json").is_file():
        raise FileNotFoundError(
            f"{root / 'metadata.json'} is missing; give `kws private` the data folder that holds "
            f"the course's HW4 folder {folder}/ (the folder the grader's --data names)"
        )
    if per_speaker is None and share is None:
        per_speaker = PER_SPEAKER
    plan = plan_held_back(root, per_speaker, share)  # checked before a new secret is written
    return write_held_back(plan, read_secret(secret_file, create=True))
