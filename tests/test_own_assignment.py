"""An instructor's own assignment, from the template (docs/assignment_template/, a course of one
assignment): a course outside the kit, named in KWS_COURSE, its graded tests and student
notebook written by `kws assign`, checked with `kws handin` and graded with `kws grade` from the
instructor's own working directory with relative paths. The correct hand-in gets full marks,
a hand-in with one broken function loses exactly that function's graded test, a test written by
hand against the run's tiers waits for the hand-in under `kws handin`, and no file of the kit is
written."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_helpers import ROOT

from kws.notebooks import cells_with_tag, read_notebook
from kws.spec import load_folder

pytestmark = pytest.mark.slow
TEMPLATE = ROOT / "docs" / "assignment_template"
NAME = "my_assignment"
SOLVED = """\
    valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]  # (B, T)
    total = (x * valid[..., None]).sum(dim=1)  # (B, D)
    return total / lengths[:, None].clamp(min=1)  # (B, D)
"""
BROKEN = "    return x.mean(dim=1)  # (B, D): the padded frames counted too\n"


# A graded test written by hand, as the template's was before `kws assign`: the accuracy against
# the run's tiers, which `kws handin` (no labels, no tiers) leaves to be graded after the hand-in.
BY_HAND = '''"""Task 1's accuracy, judged by hand against the run's tiers."""

from kws.author import spec_of, tier_credit

SPEC = spec_of(__file__)


def test_accuracy_by_hand(grading, child, hidden, score):
    """Task 1: accuracy, by hand (partial credit by tier)"""
    accuracy = hidden.accuracy(grading.loaded_model(child, "task1")["predictions"])
    fraction, message = tier_credit(accuracy, grading.tiers(SPEC.name), "simple")
    score.set(fraction, message)
    assert fraction == 1.0, message
'''


def _kws(
    cwd: Path, *args: str, course: str = "course", timeout: int = 900
) -> subprocess.CompletedProcess:
    """`kws ARGS...` in `cwd`, with the instructor's course named as the README says."""
    env = os.environ | {"KWS_COURSE": course, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = str(ROOT)  # the kit as installed
    return subprocess.run(
        [sys.executable, "-m", "kws.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _kit_snapshot() -> dict[str, tuple[int, int]]:
    """(size, modification time) of every file of the engine and the kit's assignments."""
    files = [*(ROOT / "kws").rglob("*"), *(ROOT / "grader").rglob("*"), *ROOT.glob("*")]
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in files
        if p.is_file() and "__pycache__" not in p.parts
    }


def _hand_in(folder: Path, notebook: Path, n_classes: int) -> None:
    """A student's folder: the notebook, and outputs/task1/ as its saving cell writes them, for
    the model its `model` cells define (untrained: the template's tiny tiers are all 0)."""
    import torch

    folder.mkdir(parents=True)
    shutil.copy(notebook, folder / notebook.name)
    namespace: dict = {}
    for cell in cells_with_tag(read_notebook(notebook), "model"):
        exec(compile(cell.source, str(notebook), "exec"), namespace)
    kwargs = {"n_mels": 40, "d_model": 32, "n_classes": n_classes}
    torch.manual_seed(0)
    model = namespace["MeanPoolClassifier"](**kwargs)
    outputs = folder / "outputs" / "task1"
    outputs.mkdir(parents=True)
    torch.save(model.state_dict(), outputs / "model.pt")
    config = {"task": "task1", "class": "MeanPoolClassifier", "kwargs": kwargs}
    (outputs / "config.json").write_text(json.dumps(config))


@pytest.mark.full  # an assignment released and graded end to end
def test_template_assignment_released_and_graded_outside_the_kit(tmp_path, tiny_data):
    before = _kit_snapshot()
    home = tmp_path / "instructor"
    course = shutil.copytree(TEMPLATE, home / "course")  # the instructor's own course
    (home / "data").symlink_to(tiny_data, target_is_directory=True)
    tests = course / NAME / "graded_tests"
    (tests / "test_spec.py").unlink()  # written by kws assign
    (tests / "test_by_hand.py").write_text(BY_HAND)
    spec_file = course / NAME / "spec.toml"
    spec_file.write_text(
        spec_file.read_text().replace("[points]\n", "[points]\ntest_accuracy_by_hand = 1\n")
    )
    spec = load_folder(course / NAME)
    assert len(spec.tasks) == 1 and spec.numeric and spec.tiers
    assert any(task.rules for task in spec.tasks.values())  # one structural rule

    assigned = _kws(home, "assign")
    assert assigned.returncode == 0, assigned.stdout + assigned.stderr
    assert (tests / "test_spec.py").is_file()
    student = (course / "students" / spec.notebook).read_text()
    assert "TODO: average only the valid frames" in student and "BEGIN SOLUTION" not in student
    solution = home / "course" / "solutions" / spec.notebook
    mapping = json.loads((tiny_data / "speaker_features" / "mapping.json").read_text())
    n_classes = len(mapping["speaker2id"])
    _hand_in(home / "subs" / "correct", solution, n_classes)
    broken = nbformat.read(solution, as_version=4)
    model_cell = cells_with_tag(broken, "model")[0]
    assert SOLVED in model_cell.source
    model_cell.source = model_cell.source.replace(SOLVED, BROKEN)
    nbformat.write(broken, home / spec.notebook)
    _hand_in(home / "subs" / "broken", home / spec.notebook, n_classes)

    graded = _kws(home, "grade", "subs", "--data", "data", "--out", "grades", "--jobs", "2")
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    results = {
        name: json.loads((home / "grades" / "results" / f"{name}.json").read_text())
        for name in ("correct", "broken")
    }
    full = sum(spec.points.values())
    correct, wrong = results["correct"], results["broken"]
    log = (home / "grades" / "logs" / "correct.txt").read_text()[-3000:]
    assert [t["name"] for t in correct["tests"]] == [t["name"] for t in wrong["tests"]], log
    assert len(correct["tests"]) == len(spec.points), log  # only this assignment's tests ran
    assert correct["score"] == full, [t for t in correct["tests"] if t["score"] < t["max_score"]]
    lost = [t for t in wrong["tests"] if t["score"] < t["max_score"]]
    assert [t["name"] for t in lost] == [spec.numeric["test_masked_mean"].title], lost
    assert wrong["score"] == full - spec.points["test_masked_mean"]
    assert "padded frames are left out of the mean" in lost[0]["output"]
    # `kws handin` on the correct hand-in: the accuracy tests, the declared one and the one by
    # hand, wait for the hand-in; no test fails for want of tiers
    handin = _kws(home, "handin", f"subs/correct/{spec.notebook}", "--data",
                  str(tiny_data / "speaker_features"))  # fmt: skip
    assert "4 points more graded after you hand in: the accuracy needs the hidden test labels." in (
        handin.stdout), handin.stdout  # fmt: skip
    assert "✓ Task 1: a normalization feeds the classifier's final Linear" in handin.stdout
    assert "tiers" not in handin.stdout
    assert _kit_snapshot() == before  # no engine file (nor the kit's own assignments) touched
