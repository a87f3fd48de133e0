"""`kws gradescope` carries the instructor's own assignment folders (``KWS_ASSIGNMENTS``) into the
autograder zip, beside the kit: an assignment outside the kit (the toy layout's, with a data
layout of its own) is zipped from the instructor's folder, and the zip's ``run_autograder`` finds
and grades it, with no copy of it inside the kit."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from course_helpers import ROOT
from test_toy_layout import TOY, _dataset, _hand_in

pytestmark = pytest.mark.slow


def _kws_gradescope(course: Path) -> subprocess.CompletedProcess:
    """`kws gradescope` in the instructor's folder, their assignments named as the docs say."""
    env = os.environ | {"KWS_ASSIGNMENTS": "assignments", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = str(ROOT)  # the kit as installed
    return subprocess.run(
        [sys.executable, "-m", "kws.cli", "gradescope", "--data", "data", "--out", "ag.zip"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _run_autograder(root: Path) -> subprocess.CompletedProcess:
    """The zip's run_autograder in `root` (Gradescope's /autograder), with a stand-in for the
    environment setup.sh builds: this Python, which imports the zip's kit from source/kit."""
    venv = root / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv / "python").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("KWS_ASSIGNMENTS", "PYTHONPATH")}
    env |= {"AUTOGRADER_ROOT": str(root), "KWS_VENV": str(root / "venv"), "OMP_NUM_THREADS": "1"}
    script = root / "source" / "run_autograder"
    return subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.full  # a Gradescope zip built and graded end to end: 7 CPU-s
def test_an_own_assignment_is_zipped_and_graded_on_gradescope(tmp_path):
    course = tmp_path / "course"  # the instructor's folder, outside the kit
    shutil.copytree(TOY, course / "assignments" / "points")
    _dataset(course / "data")
    built = _kws_gradescope(course)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]

    with zipfile.ZipFile(course / "ag.zip") as archive:
        names = set(archive.namelist())
        root = tmp_path / "autograder"
        archive.extractall(root / "source")
    for name in ("spec.toml", "layout.py", "checks.py", "graded_tests/test_points.py"):
        assert f"assignments/points/{name}" in names, name
    assert not [n for n in names if n.startswith("kit/kws/assignments/points")]  # not in the kit
    assert "data/points_hidden/labels.json" in names  # its layout's test data
    for script in ("run_autograder", "setup.sh"):
        (root / "source" / script).chmod(0o755)

    _hand_in(root / "submission", sign=1.0)
    graded = _run_autograder(root)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert [t["name"] for t in results["tests"]] == [
        "Task 1: the model builds from config.json and loads model.pt",
        "Task 1: accuracy on the hidden labels (partial credit by tier)",
    ], graded.stdout[-3000:]
    assert results["score"] == 3, results["tests"]
