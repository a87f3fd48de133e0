"""On Gradescope, the course file's attempt limit and late rule (`kws.grading.publish.gradescope.season`),
as run_autograder runs them after the grader: on a results.json written by the grader's own
writers and a submission_metadata.json with Gradescope's documented fields (created_at, users,
assignment.due_date, previous_submissions with submission_time, score and results); every
document written meets Gradescope's results.json specification (tests/gradescope_schema.py)."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from course_helpers import ROOT
from gradescope_schema import problems

from kws.grading.judge.results import TestResult, results_document, write_results
from kws.grading.publish.gradescope.autograder import make_autograder

COURSE = """
timezone = "America/Los_Angeles"
grace_minutes = 10

[late]
per_day = 0.25
cap = 0.5

[due]
keyword_spotting = "2026-10-02 23:00"

[extensions."kim@uni.example"]
keyword_spotting = "2026-10-05 23:00"

[gradescope]
attempts_per_day = 2
"""


def _results(path: Path, score: float) -> Path:
    facts = {"assignment": "keyword_spotting", "test": "test_accuracy", "task": "kws"}
    tests = [TestResult("Accuracy on the hidden 12-class test set", score, 8.0, "passed", "",
                        "visible", facts),
             TestResult("Task 4: the learning rate", 2.0, 2.0, "passed", "", "visible",
                        {"assignment": "keyword_spotting"})]  # fmt: skip
    write_results(path, results_document(tests, output="graded", execution_time=4))
    return path


def _metadata(path: Path, created: str, previous: list[dict], email="lee@uni.example") -> Path:
    document = {
        "id": 123456,
        "created_at": created,
        "assignment": {"due_date": "2026-10-02T23:00:00.000000-07:00", "id": 25828,
                       "late_due_date": None, "title": "Notebook 01", "total_points": "10.0"},
        "submission_method": "upload",
        "users": [{"email": email, "id": 1234, "name": "Student User"}],
        "previous_submissions": previous,
    }  # fmt: skip
    path.write_text(json.dumps(document))
    return path


def _run(tmp_path: Path, results: Path, metadata: Path) -> dict:
    (tmp_path / "course.toml").write_text(COURSE)
    command = [sys.executable, "-m", "kws.grading.publish.gradescope.season", "--results", str(results),
               "--metadata", str(metadata), "--course", str(tmp_path / "course.toml")]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    document = json.loads(results.read_text())
    assert problems(document) == []
    return document


def test_a_late_submission_loses_the_course_rule_penalty_and_says_so(tmp_path):
    results = _results(tmp_path / "results.json", 8.0)
    # 2026-10-04 10:00 in Los Angeles: 35 h after the due date, 2 started days: 50 % of 10
    metadata = _metadata(tmp_path / "meta.json", "2026-10-04T10:00:00.000000-07:00", [])
    document = _run(tmp_path, results, metadata)
    assert document["score"] == 5.0 and sum(t["score"] for t in document["tests"]) == 10.0
    assert document["output"].startswith(
        "01_keyword_spotting.ipynb: handed in 35 h after the due date (2026-10-02T23:00:00-07:00)"
    )
    late = document["extra_data"]["late"]["keyword_spotting"]
    assert (late["penalty"], late["source"]) == (5.0, "gradescope metadata")


def test_an_extension_found_by_email_and_the_grace_period_keep_full_marks(tmp_path):
    results = _results(tmp_path / "results.json", 8.0)
    on_extension = "2026-10-04T10:00:00-07:00"
    metadata = _metadata(tmp_path / "meta.json", on_extension, [], email="kim@uni.example")
    assert _run(tmp_path, results, metadata)["score"] == 10.0
    results = _results(tmp_path / "results.json", 8.0)
    in_grace = _metadata(tmp_path / "meta.json", "2026-10-02T23:09:00-07:00", [])
    document = _run(tmp_path, results, in_grace)
    assert document["score"] == 10.0 and "late" not in document["extra_data"]


def test_an_extension_granted_in_gradescope_moves_that_students_due_date(tmp_path):
    """A user's own ``users[].assignment.due_date`` (Gradescope's extension) is their due date."""
    results = _results(tmp_path / "results.json", 8.0)
    metadata = _metadata(tmp_path / "meta.json", "2026-10-04T10:00:00-07:00", [])
    document = json.loads(metadata.read_text())
    own = {"due_date": "2026-10-05T23:00:00-07:00", "late_due_date": None, "release_date": None}
    document["users"][0]["assignment"] = own
    metadata.write_text(json.dumps(document))
    assert _run(tmp_path, results, metadata)["score"] == 10.0


def test_over_the_attempt_limit_the_last_counted_attempt_stands(tmp_path):
    earlier = _results(tmp_path / "earlier.json", 4.0)
    first = json.loads(earlier.read_text()) | {"extra_data": {"attempt": {"counted": True}}}
    refused = {"score": 1.0, "tests": [], "extra_data": {"attempt": {"counted": False}}}
    previous = [
        {"submission_time": "2026-09-30T09:00:00-07:00", "score": 6.0, "results": first},
        {"submission_time": "2026-09-30T12:00:00-07:00", "score": 6.0, "results": first},
        {"submission_time": "2026-09-30T13:00:00-07:00", "score": 1.0, "results": refused},
    ]
    results = _results(tmp_path / "results.json", 8.0)  # this attempt's: better, but not counted
    metadata = _metadata(tmp_path / "meta.json", "2026-09-30T20:00:00-07:00", previous)
    document = _run(tmp_path, results, metadata)
    assert document["score"] == 6.0 and document["tests"][0]["score"] == 4.0
    assert document["output"].startswith("Not counted: you have used the 2 graded attempts")
    assert "Your last counted attempt (2026-09-30T12:00:00-07:00) stands" in document["output"]
    assert "opens at 2026-10-01T09:00:00-07:00" in document["output"]
    assert document["extra_data"]["attempt"] == {"counted": False, "per_day": 2}
    # a day later the window has room again: this attempt is graded and counted
    results = _results(tmp_path / "results.json", 8.0)
    metadata = _metadata(tmp_path / "meta.json", "2026-10-01T09:30:00-07:00", previous)
    document = _run(tmp_path, results, metadata)
    assert document["score"] == 10.0 and document["extra_data"]["attempt"]["counted"] is True
    assert document["output"].startswith("Graded attempt 2 of 2 in 24 hours.")


def test_kws_gradescope_bakes_the_course_file_into_the_zip(tmp_path, tiny_data):
    (tmp_path / "course.toml").write_text(COURSE + 'public_share = 0.3\nsplit_seed = "s"\n')
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "kws.cli", "gradescope", "--data",
                           str(tiny_data), "--out", "a.zip", "--course", "course.toml"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "attempts: 2 graded in any 24 hours" in done.stdout
    assert "Kaggle rule: 30% of the hidden test items shown during the homework" in done.stdout
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path) as archive:
        script = archive.read("run_autograder").decode()
        assert archive.read("course.toml").decode().startswith(COURSE)
    assert 'COURSE="course.toml"' in script and "kws.grading.publish.gradescope.season" in script
    assert "--public-share 0.3 --split-seed s" in script
    (tmp_path / "bad.toml").write_text('[due]\nkeyword = "2026-10-02"')
    with pytest.raises(ValueError, match="names 'keyword', not an assignment"):
        make_autograder(tmp_path / "b.zip", tiny_data, course=tmp_path / "bad.toml")
    assert not (tmp_path / "b.zip").exists()


def test_run_autograder_applies_the_course_file_with_gradescopes_metadata(tmp_path, tiny_data):
    """The zip's own run_autograder, unpacked where Gradescope puts it, on a submission over
    the attempt limit: the grader runs, then the last counted attempt's results stand."""
    (tmp_path / "course.toml").write_text(COURSE)
    root = tmp_path / "autograder"
    path = make_autograder(tmp_path / "a.zip", tiny_data, course=tmp_path / "course.toml",
                           assignment="keyword_spotting")  # fmt: skip
    with zipfile.ZipFile(path) as archive:
        archive.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    # Gradescope's venv: this Python, started by a script. A link to it would not do from inside
    # a venv: Python finds its venv by the pyvenv.cfg beside the link, so it would start the base
    # interpreter without the venv's packages. (The kit it grades with: the zip's own.)
    python = root / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    (root / "submission").mkdir()  # a hand-in without the notebook: graded quickly
    counted = {"score": 7.0, "tests": [], "output": "kept",
               "extra_data": {"attempt": {"counted": True}}}  # fmt: skip
    previous = [{"submission_time": f"2026-09-30T{h:02d}:00:00-07:00", "score": 7.0,
                 "results": counted} for h in (9, 10)]  # fmt: skip
    _metadata(root / "submission_metadata.json", "2026-09-30T11:00:00-07:00", previous)
    env = os.environ | {"AUTOGRADER_ROOT": str(root), "KWS_VENV": str(root / "venv")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    document = json.loads((root / "results" / "results.json").read_text())
    assert problems(document) == [], done.stdout[-2000:] + done.stderr[-2000:]
    said = document["output"] + done.stdout[-2000:] + done.stderr[-2000:]
    assert document["score"] == 7.0 and document["output"].startswith("Not counted"), said
    assert document["output"].endswith("kept")
