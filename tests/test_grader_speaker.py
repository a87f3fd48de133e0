"""grader/test_02_speaker_id.py end to end on the synthetic tiny speaker data: a correct tiny
submission gets every point; one with too many layers, an unused normalization and a missing
predictions file loses exactly those points, each with a sentence saying what to change."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from grading_helpers import TINY_SPEAKER_TASKS, make_submission

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
ZERO_TIERS = {"simple": 0.0, "medium": 0.0, "strong": 0.0, "boss": 0.0}
BROKEN_TASK2 = """

class SpeakerConformer(SpeakerConformer):
    def forward(self, x, lengths):
        return self.head(self.encoder(self.prenet(x)).mean(dim=1))  # self.norm is never used
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from kws.data.synthetic import make_speaker_features

    root = tmp_path_factory.mktemp("data")
    make_speaker_features(root, "tiny", seed=0)
    return root


@pytest.fixture(scope="module")
def thresholds(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiers") / "thresholds.json"
    targets = {"task1": "medium", "task2": "strong", "task3": "boss"}
    path.write_text(
        json.dumps({"targets": targets, "kws": {}, "speaker": {"synthetic-tiny": ZERO_TIERS}})
    )
    return path


def _predictions_csv(data: Path) -> str:
    utterances = json.loads((data / "speaker_features/testdata.json").read_text())["utterances"]
    speaker = next(
        iter(json.loads((data / "speaker_features/mapping.json").read_text())["speaker2id"])
    )
    return "Id,Category\n" + "".join(f"{u['feature_path']},{speaker}\n" for u in utterances)


def _grade(submission: Path, data: Path, thresholds: Path) -> dict:
    results = submission.parent / f"{submission.name}.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "grader/test_02_speaker_id.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    command += ["--submission", str(submission), "--data", str(data), "--results", str(results)]
    command += ["--thresholds", str(thresholds)]
    subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    document = json.loads(results.read_text())
    return {test["name"]: test for test in document["tests"]} | {"total": document["score"]}


def test_correct_submission_gets_every_point(tmp_path, data, thresholds):
    classes = {
        "task1": "SpeakerTransformer",
        "task2": "SpeakerConformer",
        "task3": "SpeakerAttentionAMS",
    }
    outputs = {task: (name, {"num_speakers": 6}) for task, name in classes.items()}
    csv_text = _predictions_csv(data)
    submission = make_submission(
        tmp_path / "alice",
        "02_speaker_id.ipynb",
        [(TINY_SPEAKER_TASKS, ["model"])],
        outputs,
        predictions=dict.fromkeys(classes, csv_text),
    )
    tests = _grade(submission, data, thresholds)
    failed = {
        name: t["output"]
        for name, t in tests.items()
        if name != "total" and t["score"] < t["max_score"]
    }
    assert failed == {}
    assert tests["total"] == 32.0
    assert tests["Task 1: the encoder block has fewer than 500k parameters"]["output"] == (
        "The parameter size of your encoder block is 544."
    )


def test_each_mistake_costs_its_points_with_a_reason(tmp_path, data, thresholds):
    outputs = {
        "task1": ("SpeakerTransformer", {"num_speakers": 6, "layers": 5}),
        "task2": ("SpeakerConformer", {"num_speakers": 6}),
        "task3": ("SpeakerAttentionAMS", {"num_speakers": 6}),
    }
    csv_text = _predictions_csv(data)
    submission = make_submission(
        tmp_path / "bob",
        "02_speaker_id.ipynb",
        [(TINY_SPEAKER_TASKS + BROKEN_TASK2, ["model"])],
        outputs,
        predictions={"task1": csv_text, "task2": csv_text},
    )
    tests = _grade(submission, data, thresholds)
    layers = tests["Task 1: fewer than 4 encoder layers run in forward"]
    assert layers["score"] == 0 and layers["output"].startswith("5 EncoderLayer forward calls ran")
    norm = tests["Task 2: a normalization feeds the classifier's final Linear"]
    assert norm["score"] == 0 and "not from a normalization" in norm["output"]
    csv_test = tests[
        "predictions.csv: Id,Category with one known speaker per test utterance [task3]"
    ]
    assert csv_test["score"] == 0 and "predictions.csv is missing" in csv_test["output"]
    assert tests["total"] == 32.0 - 2 - 2 - 1
