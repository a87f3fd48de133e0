"""Which files of a Speech Commands folder are clips, and which split each belongs to.

A clip is `WORD/SPEAKER_nohash_N.wav` or `.flac` (the dataset is often shared FLAC-compressed). The
official `validation_list.txt` / `testing_list.txt` name `.wav` files; a `.flac` file of the same
stem matches its entry. Without the lists the TensorFlow hash rule (`which_set`) decides.

Nothing is dropped silently: files in word folders that are not clips are reported in one warning
(counts and a few names), a hash split that puts most clips outside "training" is reported with its
counts, and an empty split raises `EmptySplitError` saying why.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections import Counter
from pathlib import Path

from kws.data.audio import AUDIO_SUFFIXES, is_audio

LISTS = ("validation_list.txt", "testing_list.txt")


class EmptySplitError(ValueError):
    """A requested split holds no clips; the message says why and what to do."""


def which_set(
    filename: str, validation_percentage: float = 10, testing_percentage: float = 10
) -> str:
    """The TensorFlow hash split: "training", "validation" or "testing" for one clip.

    The speaker part of the name (everything before `_nohash_`) is hashed with SHA-1, so all clips of a
    speaker fall in the same split, and adding clips never moves existing ones.
    """
    speaker = re.sub(r"_nohash_.*$", "", os.path.basename(filename))
    max_clips = 2**27 - 1
    digest = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    percentage = (digest % (max_clips + 1)) * (100.0 / max_clips)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "testing"
    return "training"


def clip_key(relative: str) -> str:
    """ "word/name" without its audio suffix: how a file and a list entry are matched."""
    relative = relative.strip().replace("\\", "/").removeprefix("./")
    stem, suffix = os.path.splitext(relative)
    return stem if suffix.lower() in AUDIO_SUFFIXES else relative


def clips_on_disk(root: Path, words: list[str]) -> dict[str, tuple[str, str]]:
    """{clip_key: (word, file name)} of every clip in the word folders of `words`.

    Other files there (another format, no `_nohash_` in the name, a second copy of a clip in the
    other format) are skipped and reported in one warning; hidden files (`.DS_Store`) are ignored.
    """
    found, skipped = {}, []
    for word in words:
        folder = root / word
        if not folder.is_dir():
            continue
        for name in sorted(os.listdir(folder)):
            if name.startswith(".") or not (folder / name).is_file():
                continue
            key = clip_key(f"{word}/{name}")
            if not is_audio(name):
                skipped.append(
                    (f"{os.path.splitext(name)[1].lower() or 'no-suffix'} files", name, word)
                )
            elif "_nohash_" not in name:
                skipped.append(("audio files without '_nohash_' in the name", name, word))
            elif key in found:  # sorted: the .flac came first; the .wav is the official one
                other = found[key][1]
                keep, drop = (name, other) if name.lower().endswith(".wav") else (other, name)
                found[key] = (word, keep)
                skipped.append(("second copies of a clip in another format", drop, word))
            else:
                found[key] = (word, name)
    if skipped:
        kinds = Counter(kind for kind, _, _ in skipped)
        summary = ", ".join(f"{count:,} {kind}" for kind, count in kinds.most_common())
        examples = ", ".join(f"{word}/{name}" for _, name, word in skipped[:3])
        warnings.warn(
            f"{root}: skipped {len(skipped):,} file{'s' * (len(skipped) != 1)} of the word folders "
            "that are not clips "
            f"(WORD/SPEAKER_nohash_N.wav or .flac): {summary}; e.g. {examples}. Convert other "
            "audio to 16 kHz mono WAV or FLAC to use it.",
            stacklevel=3,
        )
    return found


def split_clips(root: Path, words: list[str], subset: str) -> list[tuple[str, str]]:
    """(word, file name) of every clip of `words` in `subset`, sorted by word/name.

    Raises:
        EmptySplitError: no clip lands in `subset`; the message says why.
        FileNotFoundError: one list without the other, or a list naming clips that are not there.
    """
    on_disk = clips_on_disk(root, words)
    if not on_disk:
        raise EmptySplitError(
            f"{root} has no clips: none of its word folders ({', '.join(words[:3])}, ...) holds "
            "SPEAKER_nohash_N.wav or .flac files; point root at the extracted dataset folder."
        )
    lists = [root / name for name in LISTS]
    present = [f.is_file() for f in lists]
    if any(present) and not all(present):
        raise FileNotFoundError(
            f"{lists[present.index(False)]} is missing but {lists[present.index(True)].name} is there; "
            "restore it (extract the archive again), or delete both lists to use the hash split"
        )
    if all(present):
        validation, testing = (_read_list(f, set(words), on_disk) for f in lists)
        assigned = {
            k: "validation" if k in validation else "testing" if k in testing else "training"
            for k in on_disk
        }
    else:
        assigned = {k: which_set(k) for k in on_disk}
    counts = Counter(assigned.values())
    counted = ", ".join(f"{s} {counts[s]:,}" for s in ("training", "validation", "testing"))
    if not all(present) and counts["training"] < 0.5 * len(on_disk):
        warnings.warn(
            f"{root} has no {LISTS[0]} / {LISTS[1]}, and the hash rule puts most of its "
            f"{len(on_disk):,} clips outside training ({counted}): it keeps each speaker in one "
            "split, so clips taken from one split of the dataset all land there again. Write the "
            "two lists (WORD/FILE.wav per line) to choose the split yourself.",
            stacklevel=3,
        )
    chosen = sorted(k for k, split in assigned.items() if split == subset)
    if not chosen:
        if all(present):
            why = (
                f"{LISTS[0]} and {LISTS[1]} name all {len(on_disk):,} clips"
                if subset == "training"
                else f"{root / LISTS[subset == 'testing']} names none of its {len(on_disk):,} clips"
            )
        else:
            why = f"the hash rule (no {LISTS[0]} / {LISTS[1]}) puts none of its {len(on_disk):,} clips there"
        raise EmptySplitError(
            f"{root}: the {subset!r} split is empty: {why} ({counted}). Use another subset, or "
            "write validation_list.txt and testing_list.txt to choose the split."
        )
    return [on_disk[k] for k in chosen]


def _read_list(path: Path, words: set[str], on_disk: dict) -> set[str]:
    """The clip keys a split list names; each entry of one of `words` must exist on disk."""
    keys = {clip_key(line) for line in path.read_text().splitlines() if line.strip()}
    missing = sorted(k for k in keys if k.split("/")[0] in words and k not in on_disk)
    if missing:
        raise FileNotFoundError(
            f"{path} names {len(missing)} clips missing from {path.parent}, e.g. {missing[0]}.wav; "
            "the folder is incomplete — extract the archive again"
        )
    return keys
