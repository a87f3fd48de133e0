"""Grading on a public test set says so: first in `pytest grader/`, `kws grade` and
`kws gradescope`, and in every student's results, with the command that makes a private set."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kws.cli import main
from kws.grading.testsets.public_only import PUBLIC_ONLY, command_warning, public_only

ROOT = Path(__file__).resolve().parents[1]
SAID = f"Warning: 02_speaker_id.ipynb {PUBLIC_ONLY}"


@pytest.fixture
def data(tiny_data, tmp_path):
    """The tiny synthetic HW4 features alone (no keyword test set), our own copy."""
    root = tmp_path / "data"
    for name in ("speaker_features", "speaker_features_hidden"):
        shutil.copytree(tiny_data / name, root / name)
    return root


def _grade(data: Path, submission: Path, results: Path) -> str:
    """`pytest grader/` on notebook 02's predictions.csv test (no grading child), its stdout."""
    command = [sys.executable, "-m", "pytest", "grader/", "-q", "-p", "no:cacheprovider",
               "--submission", str(submission), "--data", str(data), "--results", str(results),
               "--assignment", "speaker_id", "-k", "test_predictions_csv"]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True).stdout


def test_a_run_without_a_private_set_warns_first_and_in_the_results(data, tmp_path):
    submission = tmp_path / "handin"
    submission.mkdir()
    said = _grade(data, submission, tmp_path / "results.json")
    assert said.splitlines()[0].startswith(SAID)
    assert f"kws private {data} --secret FILE" in said.splitlines()[0]  # the instructor's folder
    document = json.loads((tmp_path / "results.json").read_text())
    first = document["output"].split("\n\n")[0]  # what every student reads first
    assert first.startswith(SAID) and "kws private DATA --secret FILE" in first
    assert str(data) not in document["output"]
    assert document["extra_data"]["public_test_set"] == ["speaker_id"]
    assert main(["private", str(data), "--secret", str(tmp_path / "course.secret")]) == 0
    said = _grade(data, submission, tmp_path / "results.json")
    assert PUBLIC_ONLY not in said
    document = json.loads((tmp_path / "results.json").read_text())
    assert PUBLIC_ONLY not in document["output"]
    assert document["extra_data"]["public_test_set"] == []


def test_kws_grade_and_kws_gradescope_say_it_before_anything_else(data, tmp_path, capsys):
    code = main(["grade", str(tmp_path / "no-such-folder"), "--data", str(data)])
    assert code == 2  # the hand-ins are missing: said after the warning
    assert capsys.readouterr().out.splitlines()[0].startswith(SAID)
    assert main(["gradescope", "--data", str(data), "--out", str(tmp_path / "a.zip")]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(SAID)
    assert public_only(data) == ["speaker_id"]  # the keyword notebooks have no test set here
    assert main(["private", str(data), "--secret", str(tmp_path / "course.secret")]) == 0
    assert public_only(data) == [] and command_warning(data) is None
