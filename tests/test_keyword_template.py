"""The keyword-spotting template (docs/keyword_template/, a course of one assignment on Speech
Commands clips), as an instructor starts from it: copied into a folder outside the kit, it loads
as an assignment folder, `kws assign` (KWS_COURSE naming the copy) accepts it and writes the
student notebook, and its solution's model is what the grader calls, `model(waves (B, S))` ->
(B, 12) scores, within the spec's weight limit. No training: the tutorial's tests run that."""

import os
import shutil
import subprocess
import sys

import nbformat
import torch
from course_helpers import ROOT
from test_author_api import kit_imports_besides_the_api

from kws.spec import load_folder

TEMPLATE = ROOT / "docs" / "keyword_template"
NAME = "my_keywords"


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

    env = os.environ | {"KWS_COURSE": "course", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("KWS_ASSIGNMENTS", None)
    done = subprocess.run([sys.executable, "-m", "kws.cli", "assign"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
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
