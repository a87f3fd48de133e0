"""The grader however its Python was named: through ``..`` or a linked virtual environment, as
an instructor starts it from a clone with the venv beside it (``../venv/bin/python -m pytest
grader/ ...``) or with ``.venv`` a link to it; and a machine whose sandbox cannot start a child
stops the run and says so to the instructor, never blaming the hand-in.

The hand-in is the cheapest one with full marks the suite builds: the toy layout's
(`tests/test_toy_layout.py`), graded from the instructor's folder named in KWS_ASSIGNMENTS.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from course_helpers import ROOT
from test_toy_layout import TOY, _dataset, _hand_in

from kws.grading.sandbox.faults import MACHINE_FAULT_EXIT
from kws.grading.sandbox.supervise import interpreter

# The full run's (docs/development/tests.md, "The two tiers"): hand-ins graded by real children through each name of the Python.
pytestmark = [pytest.mark.slow, pytest.mark.full]
FULL_MARKS = 3  # the toy assignment's two tests: the model loads (1), its accuracy's tiers (2)


def _course(root: Path) -> Path:
    """The instructor's folder: the toy assignment, its data and one right hand-in."""
    course = root / "course"
    shutil.copytree(TOY, course / "assignments" / "points")
    _dataset(course / "data")
    _hand_in(course / "subs" / "right", sign=1.0)
    return course


def _python_named(how: str, tmp_path: Path, cwd: Path) -> str:
    """This test's Python, as an instructor may name it: through ``..`` (relative to `cwd`),
    or in a link to its virtual environment's folder."""
    python = interpreter()  # its folder resolved: the name below is the only detour
    if how == "dotdot":
        return os.path.relpath(python, cwd)  # ../../..: up from the course, down to the venv
    if sys.prefix == sys.base_prefix:
        pytest.skip("the suite's Python is not in a virtual environment to link to")
    venv = os.path.realpath(sys.prefix)
    inside = os.path.relpath(python, venv)
    if inside.startswith(".."):
        pytest.skip(f"{python} does not lie inside its virtual environment {venv}")
    linked = tmp_path / "linked-venv"
    linked.symlink_to(venv, target_is_directory=True)
    return str(linked / inside)


def _run(python: str, cwd: Path, *args: str, env: dict | None = None):
    env = (env or os.environ) | {"KWS_ASSIGNMENTS": "assignments", "OMP_NUM_THREADS": "1"}
    return subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("how", ["dotdot", "linked"])
def test_grading_started_through_any_name_of_the_python_gives_full_marks(tmp_path, how, sandbox):
    """`pytest grader/` and `kws grade`, each started by the Python named through `..` or a
    linked venv: the children start from its resolved folder, and the hand-in gets full marks
    in both sandboxes (each child once said "bwrap: execvp ...: No such file or directory")."""
    course = _course(tmp_path)
    python = _python_named(how, tmp_path, course)
    assert ".." in python or "linked-venv" in python
    grader = _run(python, course, "-m", "pytest", str(ROOT / "grader"), "-p", "no:cacheprovider",
                  "--submission", "subs/right", "--data", "data", "--results", "right.json")  # fmt: skip
    assert grader.returncode == 0, grader.stdout[-3000:] + grader.stderr[-3000:]
    assert json.loads((course / "right.json").read_text())["score"] == FULL_MARKS
    graded = _run(python, course, "-m", "kws.cli", "grade", "subs", "--data", "data", "--out",
                  "grades")  # fmt: skip
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    results = json.loads((course / "grades" / "results" / "right.json").read_text())
    assert results["score"] == FULL_MARKS, results["tests"]


FAILING_BWRAP = """#!/bin/sh
# bubblewrap on a machine where it passes its probe (`bwrap ... true`) and starts nothing else
for last; do :; done
[ "$last" = true ] && exit 0
echo "bwrap: execvp $1: No such file or directory" >&2
exit 1
"""


def test_a_machine_that_cannot_start_the_sandbox_stops_grading_and_tells_the_instructor(
    tmp_path,
):
    """A bubblewrap that cannot start the child (as one that cannot reach the interpreter):
    `pytest grader/` and `kws grade` stop with exit code 75 and say it is the machine's, and no
    result, gradebook or score is written for the student: no hand-in gets 0 for the machine."""
    course = _course(tmp_path)
    shutil.copytree(course / "subs" / "right", course / "subs" / "second")
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "bwrap").write_text(FAILING_BWRAP)
    (tools / "bwrap").chmod(0o755)
    env = os.environ | {"PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    env.pop("KWS_SANDBOX", None)  # bubblewrap, this one, is the sandbox
    grader = _run(sys.executable, course, "-m", "pytest", str(ROOT / "grader"), "-p",
                  "no:cacheprovider", "--submission", "subs/right", "--data", "data",
                  "--results", "right.json", env=env)  # fmt: skip
    said = grader.stdout + grader.stderr
    assert grader.returncode == MACHINE_FAULT_EXIT, said[-3000:]
    assert "the sandbox cannot start a grading child on this machine" in said
    assert "no grade is given" in said and "crashed" not in said  # never the model's crash
    assert not (course / "right.json").exists()
    graded = _run(sys.executable, course, "-m", "kws.cli", "grade", "subs", "--data", "data",
                  "--out", "grades", env=env)  # fmt: skip
    assert graded.returncode == 1, graded.stdout[-3000:] + graded.stderr[-3000:]
    assert graded.stderr.startswith("kws grade: the grading machine failed while grading ")
    assert "bwrap: execvp" in graded.stderr and "fix the machine and grade again" in graded.stderr
    assert not (course / "grades" / "gradebook.csv").exists()
    assert not list((course / "grades" / "results").iterdir())
