"""The keyword-spotting template (docs/keyword_template/, a course of one assignment on Speech
Commands clips), as an instructor starts from it: copied into a folder outside the kit, it loads
as an assignment folder, `kws assign` (KWS_COURSE naming the copy) accepts it and writes the
student notebook, and its solution's model is what the grader calls, `model(waves (B, S))` ->
(B, 12) scores, within the spec's weight limit (no training). Then, marked slow, a class of two
graded from the copy: the solution trained a few steps gets full marks, and a hand-in that divides
by the variance loses exactly the numeric test."""

import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest
import torch
from course_helpers import ROOT
from test_author_api import kit_imports_besides_the_api

from kws.notebooks import execute_notebook
from kws.spec import load_folder

TEMPLATE = ROOT / "docs" / "keyword_template"
NAME = "my_keywords"


def _kws(cwd, *args: str) -> subprocess.CompletedProcess:
    """`kws ARGS...` in `cwd`, KWS_COURSE naming its folder `course` (the template's copy)."""
    env = os.environ | {"KWS_COURSE": "course", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("KWS_ASSIGNMENTS", None)
    return subprocess.run([sys.executable, "-m", "kws.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip


def _model_cells(notebook) -> str:
    """The source of the notebook's cells tagged `model`: what the grading child runs."""
    nb = nbformat.read(notebook, as_version=4)
    return "\n".join(c.source for c in nb.cells if "model" in c.metadata.get("tags", []))


def test_the_keyword_template_is_an_assignment_kws_assign_accepts(tmp_path):
    course = shutil.copytree(TEMPLATE, tmp_path / "course")
    folder = course / NAME
    assert [line for p in sorted(folder.rglob("*.py")) for line in kit_imports_besides_the_api(p)] == []  # fmt: skip
    spec = load_folder(folder)
    assert spec.name == NAME and spec.data["layout"] == "speech_commands"
    assert (course / "solutions" / spec.notebook).is_file()

    done = _kws(tmp_path, "assign")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    points = f"{sum(spec.points.values()):g}"
    assert f"{NAME}: {len(spec.points)} graded tests, {points} points" in done.stdout, done.stdout
    student = course / "students" / spec.notebook
    assert student.is_file(), done.stdout
    assert "h.mean(dim=2)" not in _model_cells(student)  # the solution's lines are left out

    namespace: dict = {}
    exec(_model_cells(course / "solutions" / spec.notebook), namespace)
    model = namespace[spec.tasks["task1"].model_class]()
    waves = torch.randn(3, 16000, generator=torch.Generator().manual_seed(0))  # (B, S) at 16 kHz
    assert model(waves).shape == (3, 12)
    weights = sum(p.numel() for p in model.parameters())
    assert weights <= spec.tasks["task1"].limits["max_parameters"], weights


@pytest.mark.slow
@pytest.mark.full  # the template's solution notebook run, then graded
def test_the_keyword_template_grades_a_class_from_another_folder(tmp_path, tiny_data):
    course = shutil.copytree(TEMPLATE, tmp_path / "course")
    spec = load_folder(course / NAME)
    (tmp_path / "data").symlink_to(tiny_data, target_is_directory=True)
    ada = tmp_path / "subs" / "ada"
    ada.mkdir(parents=True)
    notebook = ada / spec.notebook
    env = {"KWS_DATA_DIR": str(tmp_path / "data"), "KWS_OUT_DIR": str(ada / "outputs"),
           "KWS_STEPS": "10", "KWS_COURSE": str(course), "OMP_NUM_THREADS": "1"}  # fmt: skip
    shutil.copy(course / "solutions" / spec.notebook, notebook)
    execute_notebook(notebook, env=env, timeout=900, save_to=notebook)
    # bob: ada's hand-in, normalize_frames dividing by the variance (the checkpoint unchanged)
    bob = shutil.copytree(ada, tmp_path / "subs" / "bob")
    nb = nbformat.read(bob / spec.notebook, as_version=4)
    cell = next(c for c in nb.cells if "model" in c.metadata.get("tags", []))
    old = "return (x - mean) / (std + eps)"
    assert old in cell.source
    cell.source = cell.source.replace(old, "return (x - mean) / (std**2 + eps)")
    nbformat.write(nb, bob / spec.notebook)

    graded = _kws(tmp_path, "grade", "subs", "--data", "data", "--out", "grades")
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    full = sum(spec.points.values())
    results = {n: json.loads((tmp_path / "grades" / "results" / f"{n}.json").read_text()) for n in ("ada", "bob")}  # fmt: skip
    assert len(results["ada"]["tests"]) == len(spec.points), results["ada"]["tests"]
    assert results["ada"]["score"] == full, results["ada"]["tests"]
    lost = [t["name"] for t in results["bob"]["tests"] if t["score"] < t["max_score"]]
    assert lost == [spec.numeric["test_normalize_frames"].title], results["bob"]["tests"]
    assert results["bob"]["score"] == full - spec.points["test_normalize_frames"]
