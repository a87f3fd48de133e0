"""Kaggle's rule on a hidden test set (`kws.grading.testsets.split`): a seeded partition of the
items by key into a public part and a held-out part, each its share as an exact count, the same
for every submission and any order, a share that would leave a part empty refused; then a real
grading run planned with ``--public-share``: the accuracy test grades the held-out part and is marked
so, the run's output and the leaderboard show the public part's accuracy, and results.json
meets Gradescope's specification."""

import json
import math
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
from kws.grading.testsets.split import (
    Split,
    SplitError,
    graded_correct,
    model_correct,
    part_accuracy,
)
from kws.spec import AccuracySource

KEYS = [f"{word}/{n:04d}_nohash_0.wav" for word in ("yes", "no", "up") for n in range(1000)]


def test_the_split_is_by_item_seeded_and_the_same_in_any_order():
    split = Split(0.3, "course secret")
    public = split.public_keys(KEYS)
    shuffled = KEYS[:]
    random.Random(1).shuffle(shuffled)
    assert split.public_keys(shuffled) == public  # the order shown to the child is irrelevant
    assert Split(0.3, "course secret").public_keys(KEYS) == public  # every run, every hand-in
    assert Split(0.3, "another course").public_keys(KEYS) != public  # the seed decides


@pytest.mark.parametrize("n", [2, 3, 7, 48, 100, 4890])
@pytest.mark.parametrize("share", [0.1, 0.3, 0.5, 0.9])
def test_every_part_gets_its_share_as_an_exact_count_whatever_the_seed(n, share):
    """A share of the items, not a chance per item: on 48 items a per-item chance of 0.3 gave
    one seed 10 public items, another 21, another none; here every seed gives round(0.3 × 48)."""
    keys = [f"{('yes', 'no', 'up')[i % 3]}/{i:05d}_nohash_0.wav" for i in range(n)]
    expected = math.floor(share * n + 0.5)
    if not 0 < expected < n:
        with pytest.raises(SplitError, match="empty; give a share from"):
            Split(share, "s").public_keys(keys)
        return
    for seed in ("s", "course secret", "2026", "another course", "x" * 40):
        public = Split(share, seed).public_keys(keys)
        assert len(public) == expected and public <= set(keys), seed
        parts = part_accuracy(dict.fromkeys(keys, True), Split(share, seed))
        assert (parts.n_public, parts.n_held_out) == (expected, n - expected)


@pytest.mark.parametrize("n", [2, 3, 7, 48, 4890])
def test_a_share_that_would_leave_a_part_empty_is_refused_naming_the_shares_that_do_not(n):
    with pytest.raises(SplitError) as refused:
        Split(0.4 / n, "s").counts(n, "the private test set")
    said = str(refused.value)
    assert f"leaves the public part of the private test set ({n} items) empty" in said
    low, high = (float(x) for x in re.search(r"from ([\d.]+) to ([\d.]+)", said).groups())
    for named in (low, high):  # the shares it names leave each part an item
        public, held_out = Split(named, "s").counts(n)
        assert public >= 1 and held_out >= 1
    with pytest.raises(SplitError, match="leaves the held-out part"):
        Split(1 - 0.4 / n, "s").counts(n)
    assert "public_share" in said  # where to set it


def test_part_accuracy_counts_each_part_on_its_own():
    split = Split(0.5, "s")
    public = split.public_keys(KEYS)
    correct = {key: key in public for key in KEYS}  # right on every public item only
    parts = part_accuracy(correct, split)
    assert (parts.public, parts.held_out) == (1.0, 0.0)
    assert (parts.n_public, parts.n_held_out) == (1500, 1500)
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
    assert (parts.public, parts.held_out, parts.n_public, parts.n_held_out) == (0.0, 0.0, 1, 1)
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
    assert (parts.n_public, parts.n_held_out) == (len(public), 6 - len(public)) == (3, 3)
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
@pytest.mark.full  # a Kaggle-style run graded end to end
def test_a_kaggle_run_grades_the_held_out_part_and_shows_the_public_part(
    tmp_path, tiny_data, reference_submission
):
    plain = _grade(tmp_path, reference_submission, tiny_data)
    kaggle = _grade(tmp_path, reference_submission, tiny_data, "--public-share", "0.5",
                    "--split-seed", "course secret")  # fmt: skip

    def accuracy_test(document):
        return next(t for t in document["tests"] if t["name"].startswith("Accuracy on the hidden"))

    assert accuracy_test(plain)["visibility"] == "visible"
    assert "part" not in accuracy_test(plain)["extra_data"]
    graded = accuracy_test(kaggle)
    assert (graded["visibility"], graded["extra_data"]["part"]) == ("after_due_date", "held_out")
    assert graded["output"] != "This test is hidden; its details are not shown."
    said = re.search(r"01_keyword_spotting.ipynb \(kws\): accuracy (\d\.\d{4}) on the public "
                     r"part of the hidden test set \((\d+) items\)\. Your grade is the accuracy "
                     r"on its held-out part \((\d+) items\), which counts from the due date on\.",
                     kaggle["output"])  # fmt: skip
    assert said, kaggle["output"][-2000:]
    public, n_public, n_held_out = float(said[1]), int(said[2]), int(said[3])
    assert (n_public, n_held_out) == (24, 24)  # half of the 48 clips each, exactly
    board = {e["name"]: e["value"] for e in kaggle["leaderboard"]}
    assert board["Keyword spotting accuracy"] == pytest.approx(public, abs=1e-4)
    overall = {e["name"]: e["value"] for e in plain["leaderboard"]}["Keyword spotting accuracy"]
    held_out = (overall * (n_public + n_held_out) - public * n_public) / n_held_out
    stated = float(re.search(r"Accuracy (\d\.\d+)", graded["output"])[1])
    assert stated == pytest.approx(held_out, abs=2e-3)  # the grade's accuracy: the held-out part
