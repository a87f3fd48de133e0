"""A third data layout, added from outside the kit: an assignment folder with a layout module of
its own (tests/data/toy_layout/points/: its spec says layout = "layout.py:PointsLayout"), a tiny
dataset in that layout and two hand-ins, graded with `kws grade` from an instructor's folder
named in KWS_ASSIGNMENTS. No file of the kit knows the layout, and none is written."""

import json
import random
import shutil
from pathlib import Path

import nbformat
import pytest
from course_helpers import ROOT
from test_own_assignment import _kws

from kws.grading.testsets.layouts import Layout, layout_of
from kws.spec import SpecError, load_folder

TOY = ROOT / "tests" / "data" / "toy_layout" / "points"
MODEL_CELL = '''import torch
from torch import nn


class PointClassifier(nn.Module):
    """A point (B, 1, 2) -> scores (B, 2) for "below" and "above" the diagonal."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x, lengths):
        return self.linear(x[:, 0])  # (B, 2): each point is one frame of 2 values
'''


def _dataset(data: Path, count: int = 40) -> None:
    """`count` seeded points away from the diagonal, in PointsLayout's files."""
    rng = random.Random(0)
    points = []
    while len(points) < count:
        x, y = rng.uniform(-1, 1), rng.uniform(-1, 1)
        if abs(x - y) > 0.1:
            points.append([round(x, 3), round(y, 3)])
    (data / "points").mkdir(parents=True)
    (data / "points_hidden").mkdir()
    (data / "points" / "test.json").write_text(json.dumps({"points": points}))
    labels = {"classes": ["below", "above"], "labels": [int(y > x) for x, y in points]}
    (data / "points_hidden" / "labels.json").write_text(json.dumps(labels))


def _hand_in(folder: Path, sign: float) -> None:
    """A notebook whose model cell defines PointClassifier, and outputs/task1/ with weights that
    score y - x for "above" (`sign` 1: every point right; -1: every point wrong)."""
    import torch

    folder.mkdir(parents=True)
    cell = nbformat.v4.new_code_cell(MODEL_CELL, metadata={"tags": ["model"]})
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), folder / "points.ipynb")
    namespace: dict = {}
    exec(MODEL_CELL, namespace)
    model = namespace["PointClassifier"]()
    with torch.no_grad():
        model.linear.weight.copy_(sign * torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
        model.linear.bias.zero_()
    outputs = folder / "outputs" / "task1"
    outputs.mkdir(parents=True)
    torch.save(model.state_dict(), outputs / "model.pt")
    config = {"task": "task1", "class": "PointClassifier", "kwargs": {}}
    (outputs / "config.json").write_text(json.dumps(config))


def _kit_files() -> dict[str, tuple[int, int]]:
    """(size, modification time) of every file of the kit's package and grader."""
    files = [*(ROOT / "kws").rglob("*"), *(ROOT / "grader").rglob("*")]
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in files
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_spec_names_a_layout_class_of_its_own_folder(tmp_path):
    spec = load_folder(shutil.copytree(TOY, tmp_path / "points"))
    layout = layout_of(spec)
    assert isinstance(layout, Layout) and type(layout).__name__ == "PointsLayout"
    assert not any(name.endswith(".layout") for name in spec.modules())  # not run in the child
    _dataset(tmp_path / "data")
    assert layout.missing(tmp_path / "data") is None and layout.test_set_size(tmp_path / "data")
    assert layout.detect(tmp_path / "data") == "toy-points"


@pytest.mark.parametrize(
    "edit, problem",
    [
        ('"layout.py:PointsLayout"', '"layout.py:Nothing"'),
        ('"layout.py:PointsLayout"', '"nowhere.py:PointsLayout"'),
        ('"layout.py:PointsLayout"', '"points"'),
    ],
)
def test_a_layout_the_grader_cannot_use_names_the_fix(tmp_path, edit, problem):
    folder = shutil.copytree(TOY, tmp_path / "points")
    spec_file = folder / "spec.toml"
    spec_file.write_text(spec_file.read_text().replace(edit, problem))
    with pytest.raises(SpecError) as error:
        layout_of(load_folder(folder))
    assert str(error.value).startswith(str(folder)), str(error.value)


def test_a_layout_missing_a_member_is_refused_by_name(tmp_path):
    folder = shutil.copytree(TOY, tmp_path / "points")
    module = folder / "layout.py"
    module.write_text(module.read_text().replace("def grading_files(", "def zip_files("))
    with pytest.raises(SpecError, match="PointsLayout: .*grading_files"):
        layout_of(load_folder(folder))


@pytest.mark.slow
@pytest.mark.full  # a class graded end to end by `kws grade`: 8 CPU-s
def test_a_toy_layout_from_outside_the_kit_is_graded_with_kws_grade(tmp_path):
    before = _kit_files()
    course = tmp_path / "course"  # the instructor's own folder: relative paths from here
    shutil.copytree(TOY, course / "assignments" / "points")
    _dataset(course / "data")
    _hand_in(course / "subs" / "right", sign=1.0)
    _hand_in(course / "subs" / "wrong", sign=-1.0)
    graded = _kws(
        course, "grade", "subs", "--data", "data", "--out", "grades", course="assignments"
    )
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    results = {
        name: json.loads((course / "grades" / "results" / f"{name}.json").read_text())
        for name in ("right", "wrong")
    }
    log = (course / "grades" / "logs" / "right.txt").read_text()[-3000:]
    right, wrong = results["right"], results["wrong"]
    assert [t["name"] for t in right["tests"]] == [
        "Task 1: the model builds from config.json and loads model.pt",
        "Task 1: accuracy on the hidden labels (partial credit by tier)",
    ], log  # only the toy assignment's tests ran: the hand-ins hold no kit notebook
    assert right["score"] == 3, right["tests"]
    assert wrong["score"] == 1 and "Accuracy 0.0000 reaches no tier" in wrong["tests"][1]["output"]
    assert right["extra_data"]["tier_sets"] == {"points": "toy-points"}  # detected by the layout
    assert _kit_files() == before
