"""Kaggle's rule on a hidden test set (`kws.grading.testsets.split`): a seeded partition of the
items by key, the same for every submission and any order; then a real grading run with
``--public-share``: the accuracy test grades the private part and is released after the due
date, the run's output and the leaderboard show the public part's accuracy, and results.json
meets Gradescope's specification."""

import json
import os
import random
import re
import subprocess
import sys

import pytest
from course_helpers import ROOT
from gradescope_schema import problems

from kws.grading.judge.accuracy import csv_accuracy
from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.split import Split, graded_correct, model_correct, part_accuracy
from kws.spec import AccuracySource

KEYS = [f"{word}/{n:04d}_nohash_0.wav" for word in ("yes", "no", "up") for n in range(1000)]


def test_the_split_is_by_item_seeded_and_near_its_share():
    split = Split(0.3, "course secret")
    public = split.public_keys(KEYS)
    shuffled = KEYS[:]
    random.Random(1).shuffle(shuffled)
    assert split.public_keys(shuffled) == public  # the order shown to the child is irrelevant
    assert split.public_keys(KEYS[:500]) == public & set(KEYS[:500])  # a sample keeps its part
    assert 0.27 < len(public) / len(KEYS) < 0.33
    other = Split(0.3, "another course").public_keys(KEYS)
    assert other != public and 0.27 < len(other) / len(KEYS) < 0.33  # the seed decides


def test_part_accuracy_counts_each_part_on_its_own():
    split = Split(0.5, "s")
    public = split.public_keys(KEYS)
    correct = {key: key in public for key in KEYS}  # right on every public item only
    parts = part_accuracy(correct, split)
    assert (parts.public, parts.private) == (1.0, 0.0)
    assert parts.n_public + parts.n_private == len(KEYS)
    assert model_correct(["a", "b"], [1, 2], [1, 0]) == {"a": True, "b": False}
    with pytest.raises(ValueError, match="gives its test items no keys"):
        model_correct(["", ""], [1, 2], [1, 0])


def test_with_a_private_test_set_only_its_items_are_split(tmp_path):
    """`kws private`'s clips are graded, the public clips beside them only measure the gap: the
    Kaggle rule splits the private clips alone, so a model right on every public clip and wrong
    on every private one scores 0 on both parts."""
    ids = ("yes/a.wav", "no/b.wav", "yes/p1.wav", "no/p2.wav")
    hidden = HiddenTest(tmp_path / "x", [0, 1, 0, 1], ("yes", "no"), ids,
                        private=[False, False, True, True])  # fmt: skip
    correct = graded_correct(hidden, [0, 1, 1, 0])
    assert correct == {"yes/p1.wav": False, "no/p2.wav": False}
    parts = part_accuracy(correct, Split(0.5, "s"))
    assert (parts.public, parts.private, parts.n_public + parts.n_private) == (0.0, 0.0, 2)
    plain = HiddenTest(tmp_path / "x", [0, 1], ("yes", "no"), ids[:2])
    assert graded_correct(plain, [0, 0]) == {"yes/a.wav": True, "no/b.wav": False}


def test_a_predictions_csv_is_split_over_every_item_not_the_childs_sample(tmp_path):
    """Speaker ID's accuracy comes from predictions.csv (the HW4 course's Kaggle file): each
    test utterance is judged, also those outside the sample the child re-ran."""
    truth = {f"u{i}.pt": i % 3 for i in range(6)}
    hidden = HiddenTest(tmp_path / "in.bin", [0, 1], ("a", "b", "c"), ("u0.pt", "u1.pt"), truth)
    path = tmp_path / "predictions.csv"
    path.write_text("Id,Category\n" + "".join(f"u{i}.pt,{'abc'[i % 3] if i < 4 else 'a'}\n"
                                              for i in range(6)))  # fmt: skip
    model = {"predictions": [0, 1], "near": None, "errors": {}}  # the child's re-run of u0, u1
    rule = AccuracySource(source="predictions.csv", sample=2)
    correct = csv_accuracy(path, tmp_path, hidden, model, rule).correct
    assert correct == {"u0.pt": True, "u1.pt": True, "u2.pt": True, "u3.pt": True,
                       "u4.pt": False, "u5.pt": False}  # fmt: skip
    parts = part_accuracy(correct, Split(0.5, "seed"))
    public = Split(0.5, "seed").public_keys(truth)
    assert parts.n_public == len(public) and parts.n_private == 6 - len(public)
    assert parts.public == pytest.approx(sum(correct[k] for k in public) / len(public))


@pytest.mark.parametrize("share, seed", [(0.0, "s"), (1.0, "s"), (0.3, "")])
def test_a_bad_setting_is_refused_with_the_fix(share, seed):
    with pytest.raises(ValueError, match="--public-share|--split-seed"):
        Split(share, seed)


def _grade(tmp_path, submission, data, *options) -> dict:
    results = tmp_path / f"results{len(options)}.json"
    command = [sys.executable, "-m", "kws.grading.command", "--submission", str(submission),
               "--data", str(data), "--results", str(results), "--assignment",
               "keyword_spotting", *options]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    document = json.loads(results.read_text())
    assert problems(document) == [], done.stdout[-2000:]
    return document


@pytest.mark.slow
def test_a_kaggle_run_grades_the_private_part_and_shows_the_public_part(
    tmp_path, tiny_data, reference_submission
):
    plain = _grade(tmp_path, reference_submission, tiny_data)
    kaggle = _grade(tmp_path, reference_submission, tiny_data, "--public-share", "0.5",
                    "--split-seed", "course secret")  # fmt: skip

    def accuracy_test(document):
        return next(t for t in document["tests"] if t["name"].startswith("Accuracy on the hidden"))

    assert accuracy_test(plain)["visibility"] == "visible"
    graded = accuracy_test(kaggle)
    assert graded["visibility"] == "after_due_date"
    assert graded["output"] != "This test is hidden; its details are not shown."
    said = re.search(r"01_keyword_spotting.ipynb \(kws\): accuracy (\d\.\d{4}) on the public "
                     r"part of the hidden test set \((\d+) items\)\. Your grade uses the private "
                     r"part \((\d+) items\), shown after the due date\.", kaggle["output"])  # fmt: skip
    assert said, kaggle["output"][-2000:]
    public, n_public, n_private = float(said[1]), int(said[2]), int(said[3])
    board = {e["name"]: e["value"] for e in kaggle["leaderboard"]}
    assert board["Keyword spotting accuracy"] == pytest.approx(public, abs=1e-4)
    overall = {e["name"]: e["value"] for e in plain["leaderboard"]}["Keyword spotting accuracy"]
    private = (overall * (n_public + n_private) - public * n_public) / n_private
    stated = float(re.search(r"Accuracy (\d\.\d+)", graded["output"])[1])
    assert stated == pytest.approx(private, abs=2e-3)  # the grade's accuracy: the private part
