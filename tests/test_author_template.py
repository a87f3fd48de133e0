"""An assignment written from the docs alone: the template (docs/assignment_template/) copied
into an instructor's folder, renamed as its spec says, given one more graded test written with
the Authoring API's names only (`kws.author`), and a hand-in graded end to end with `kws grade`
from that folder, KWS_ASSIGNMENTS naming it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from course_helpers import ROOT
from test_author_api import kit_imports_besides_the_api
from test_own_assignment import _hand_in

from kws.spec import load_folder

pytestmark = pytest.mark.slow
TEMPLATE = ROOT / "docs" / "assignment_template"
NAME = "pooling"  # the new assignment's name: its folder's and its spec's

# A graded test written from the Authoring API page: the encoder-free model's size, measured
# from the checkpoint the hand-in saved (never from student code).
SIZE_TEST = '''"""Task 1: the model's size, measured from the checkpoint."""

from kws.author import spec_of

SPEC = spec_of(__file__)
LIMIT = 100_000


def test_model_size(grading):
    """Task 1: the model holds fewer than 100k weights"""
    weights = grading.model_weights(SPEC, "task1")  # read from model.pt, never from student code
    assert weights.count < LIMIT, f"Your model holds {weights.text} weights; keep it under 100k."
'''


def _kws(cwd: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """`kws ARGS...` in `cwd`, the folder of assignments beside the kit's named in
    KWS_ASSIGNMENTS (the kit's own course stays the course)."""
    env = os.environ | {"KWS_ASSIGNMENTS": "assignments", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = str(ROOT)  # the kit as installed
    return subprocess.run([sys.executable, "-m", "kws.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _new_assignment(course: Path) -> Path:
    """The template, copied and renamed as its spec.toml says, plus SIZE_TEST and its points."""
    folder = shutil.copytree(TEMPLATE / "my_assignment", course / "assignments" / NAME)
    shutil.copytree(TEMPLATE / "solutions", course / "solutions")
    spec = folder / "spec.toml"
    text = spec.read_text().replace('name = "my_assignment"', f'name = "{NAME}"')
    spec.write_text(text.replace("[points]\n", "[points]\ntest_model_size = 1\n"))
    (folder / "graded_tests" / "test_size.py").write_text(SIZE_TEST)
    return folder


@pytest.mark.full  # an own assignment graded end to end: 6 CPU-s
def test_an_assignment_from_the_template_grades_end_to_end(tmp_path, tiny_data):
    course = tmp_path / "course"
    folder = _new_assignment(course)
    files = sorted(folder.rglob("*.py"))
    assert [line for path in files for line in kit_imports_besides_the_api(path)] == []
    spec = load_folder(folder)
    assert spec.name == NAME and "test_model_size" in spec.points

    (course / "data").symlink_to(tiny_data, target_is_directory=True)
    mapping = json.loads((tiny_data / "speaker_features" / "mapping.json").read_text())
    _hand_in(
        course / "subs" / "ada", course / "solutions" / spec.notebook, len(mapping["speaker2id"])
    )
    graded = _kws(course, "grade", "subs", "--data", "data", "--out", "grades", timeout=600)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    results = json.loads((course / "grades" / "results" / "ada.json").read_text())
    names = [test["name"] for test in results["tests"]]
    assert len(names) == len(spec.points), names  # the template's tests and the new one
    assert "Task 1: the model holds fewer than 100k weights" in names
    assert results["score"] == sum(spec.points.values()), results["tests"]
