"""Folds and test folders by speaker (kws.data.holdout): what cross-validation over speakers relies on."""

import subprocess
import sys
from pathlib import Path

import pytest

from kws.data import SpeechCommands
from kws.data.holdout import (
    noise_recordings,
    speaker_counts,
    speaker_folds,
    word_clips,
    write_test_folder,
    write_training_folder,
)
from kws.data.speech_commands import KNOWN_WORDS_12, SILENCE, UNKNOWN, speaker_of


def test_folds_cover_every_speaker_once_with_balanced_clip_counts():
    counts = {f"s{i:03d}": 1 + (i * 7) % 23 for i in range(60)}  # 1 to 23 clips each
    folds = speaker_folds(counts, 5, seed=0)
    assert set().union(*folds) == set(counts)
    assert sum(len(f) for f in folds) == len(counts)  # disjoint
    totals = [sum(counts[s] for s in fold) for fold in folds]
    assert max(totals) - min(totals) <= max(counts.values())
    assert speaker_folds(counts, 5, seed=0) == folds
    assert speaker_folds(counts, 5, seed=1) != folds


def test_folds_refuse_too_few_speakers_or_folds():
    with pytest.raises(ValueError, match="at least 2 folds"):
        speaker_folds({"a": 1, "b": 2}, 1)
    with pytest.raises(ValueError, match="3 speakers cannot make 5 folds"):
        speaker_folds({"a": 1, "b": 2, "c": 3}, 5)


@pytest.mark.filterwarnings("ignore:.*has no folder for")  # the tiny data lacks some words
def test_a_fold_trains_and_tests_on_other_speakers(tiny_data, tmp_path):
    layout = tiny_data / "speech_commands_v0.02"
    words, noises = word_clips(layout), noise_recordings(layout)
    folds = speaker_folds(speaker_counts(words), 3, seed=0)
    test_speakers = folds[0]
    train_speakers = set(speaker_counts(words)) - test_speakers
    root = write_training_folder(words, train_speakers, noises[:-1], tmp_path / "sc", seed=0)
    counts = write_test_folder(words, test_speakers, noises[-1], tmp_path / "test12", seed=0)

    training = SpeechCommands(root, "training", labels="35")
    validation = SpeechCommands(root, "validation", labels="35")
    trained = {clip.speaker for clip in training.items} | {c.speaker for c in validation.items}
    assert trained == train_speakers and validation.items
    assert {c.speaker for c in training.items}.isdisjoint(c.speaker for c in validation.items)
    assert len(noise_recordings(root)) == len(noises) - 1  # the test's noise stays out

    test = SpeechCommands(root, "test12", labels="12", test_set_root=tmp_path / "test12")
    tested = {speaker_of(c.path.name).split("_")[-1] for c in test.items if c.label > 0}
    assert tested == test_speakers
    assert sorted(p.name for p in (tmp_path / "test12").iterdir()) == sorted(
        [SILENCE, UNKNOWN, *KNOWN_WORDS_12]
    )
    keywords = sum(counts.get(w, 0) for w in KNOWN_WORDS_12)
    assert counts[SILENCE] == round(keywords / 10)
    assert len(test) == sum(counts.values())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--folds", "5", "--fold-list", "5"], "folds are numbered 0 to 4 with --folds 5"),
        (["--folds", "5", "--fold-list", "0,two"], "give fold numbers separated by commas"),
        (["--fold-list", "1"], "give --folds too"),
    ],
)
def test_the_benchmark_names_a_fold_list_it_cannot_run(tmp_path, options, message):
    """A typo in --fold-list stops the cross-validation before any data is read, saying why."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_real_speech.py"
    missing = tmp_path / "no-such-data"  # never read: the options are checked first
    done = subprocess.run(
        [sys.executable, str(script), "--data", str(missing), *options],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
