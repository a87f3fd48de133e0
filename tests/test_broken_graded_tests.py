"""A graded test file that cannot be loaded is the course's fault, never a student's 0: `kws grade`
refuses the run naming the file, its line and the fix, and records nothing; the grader itself
(``pytest grader/``, the Gradescope autograder's command) writes no results.

An instructor's own course (the toy assignment of tests/data/toy_layout, in a folder of its own)
whose graded test file is broken, graded as the instructor types it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_own_assignment import _kws
from test_toy_layout import TOY, _dataset

from kws.grading.judge.loading import BROKEN_TESTS_EXIT, compile_errors

GRADEBOOK = "student,points: test_model_loads,points: test_accuracy,total,max\nright,1,2,3,3\n"


@pytest.fixture
def course(tmp_path) -> Path:
    """An own course holding the toy assignment, its data, one hand-in of its notebook, and the
    grades folder of an earlier run (its gradebook and results, written here)."""
    folder = tmp_path / "course"
    shutil.copytree(TOY, folder / "assignments" / "points")
    _dataset(folder / "data")
    handin = folder / "subs" / "right"
    handin.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), handin / "points.ipynb")
    (folder / "grades" / "results").mkdir(parents=True)
    (folder / "grades" / "gradebook.csv").write_text(GRADEBOOK)
    (folder / "grades" / "results" / "right.json").write_text('{"score": 3, "tests": []}\n')
    return folder


def _break(course: Path, line: str) -> Path:
    """Put `line` as line 3 of the toy's graded test file; return the file."""
    tests = course / "assignments" / "points" / "graded_tests" / "test_points.py"
    lines = tests.read_text().splitlines(keepends=True)
    tests.write_text("".join([*lines[:2], line + "\n", *lines[2:]]))
    return tests


def _records(course: Path) -> dict[str, bytes]:
    """The bytes of the gradebook and of every results file of the grades folder."""
    grades = course / "grades"
    files = [grades / "gradebook.csv", *sorted((grades / "results").glob("*.json"))]
    return {str(p.relative_to(grades)): p.read_bytes() for p in files}


def _grade(course: Path) -> subprocess.CompletedProcess:
    return _kws(course, "grade", "subs", "--data", "data", "--out", "grades",
                course="assignments", timeout=300)  # fmt: skip


def test_a_syntax_error_stops_kws_grade_before_any_hand_in_is_graded(course):
    broken = _break(course, "def oops(:")
    before = _records(course)
    graded = _grade(course)
    assert graded.returncode == 2, graded.stdout[-2000:] + graded.stderr[-2000:]
    assert f"correct {broken} line 3: SyntaxError" in graded.stderr, graded.stderr
    assert "then run the same command" in graded.stderr
    assert _records(course) == before  # the earlier gradebook and results, byte for byte
    assert not (course / "grades" / "logs").exists()  # no grader was started


def test_a_failing_import_stops_kws_grade_with_no_grade_recorded(course):
    broken = _break(course, "from kws.author import no_such_name")  # compiles; fails to load
    before = _records(course)
    graded = _grade(course)
    assert graded.returncode == 1, graded.stdout[-2000:] + graded.stderr[-2000:]
    assert f"{broken} line 3: ImportError" in graded.stderr, graded.stderr
    said = graded.stderr.lower()  # the fix may open the sentence
    assert f"correct {broken} line 3".lower() in said and "right was not graded" in said
    assert _records(course) == before  # no 0 for the student: the earlier result is kept


def test_the_grader_on_one_hand_in_writes_no_results_for_a_broken_test_file(course):
    broken = _break(course, "def oops(:")
    results = course / "results.json"
    env = {"KWS_COURSE": str(course / "assignments"), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "kws.grading.command", "--submission", "subs/right",
         "--data", "data", "--results", str(results)],
        cwd=course, env=os.environ | {"OMP_NUM_THREADS": "1"} | env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == BROKEN_TESTS_EXIT, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"{broken} line 3: SyntaxError" in run.stderr
    assert not results.exists()  # no 0 / 0 for Gradescope to record


def test_compile_errors_name_each_file_and_line(tmp_path):
    (tmp_path / "test_fine.py").write_text("def test_a():\n    pass\n")
    (tmp_path / "test_bad.py").write_text("x = 1\nif x\n")
    (tmp_path / "helper.py").write_text("not python at all (\n")  # no test file: not collected
    broken = compile_errors([tmp_path])
    assert len(broken) == 1 and broken[0].startswith(f"{tmp_path / 'test_bad.py'} line 2: Syntax")


def test_kws_gradescope_builds_no_autograder_on_a_broken_test_file(course):
    broken = _break(course, "def oops(:")
    built = _kws(course, "gradescope", "--data", "data", "--out", "autograder.zip",
                 course="assignments", timeout=300)  # fmt: skip
    assert built.returncode == 2, built.stdout[-2000:] + built.stderr[-2000:]
    assert f"correct {broken} line 3: SyntaxError" in built.stderr
    assert not (course / "autograder.zip").exists()


def test_a_graded_tests_conftest_that_cannot_be_loaded_stops_kws_grade(course):
    conftest = course / "assignments" / "points" / "graded_tests" / "conftest.py"
    conftest.write_text('"""Fixtures of the toy."""\nimport no_such_module\n')
    before = _records(course)
    graded = _grade(course)
    assert graded.returncode == 1, graded.stdout[-2000:] + graded.stderr[-2000:]
    said = graded.stderr.lower()
    assert f"correct {conftest} line 2: modulenotfounderror".lower() in said, graded.stderr
    assert _records(course) == before


def test_a_gradebook_graded_before_the_file_broke_is_kept_byte_for_byte(course):
    shutil.rmtree(course / "grades")
    first = _grade(course)  # the toy's tests as given: a real gradebook (the hand-in scores 0)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    before = _records(course)
    broken = _break(course, "from kws.author import no_such_name")
    for more in ([], ["--student", "right"]):  # the class, and one student's regrade
        graded = _kws(course, "grade", "subs", "--data", "data", "--out", "grades", *more,
                      course="assignments", timeout=300)  # fmt: skip
        assert graded.returncode == 1, graded.stdout[-2000:] + graded.stderr[-2000:]
        assert f"correct {broken} line 3".lower() in graded.stderr.lower(), graded.stderr
        assert _records(course) == before


def test_a_grader_that_fails_in_its_own_process_is_the_kits_fault_never_a_zero(tmp_path):
    """pytest's internal and usage errors come from the grader's process, where no student code
    runs: `kws grade` refuses them as faults (earlier results kept), never an ungraded row."""
    from kws.grading.classrun.graders import fault_of

    logs = {3: "INTERNALERROR> NameError: name 'TierSet' is not defined",
            4: "ERROR: usage: python -m pytest [options]\npytest: error: no --plan TierSet"}  # fmt: skip
    for code, log in logs.items():
        said = fault_of(code, log, tmp_path)
        assert said is not None and "never the hand-in's" in said and "TierSet" in said
    assert fault_of(1, "1 failed", tmp_path) is None  # a test the hand-in failed: its points
    assert fault_of(3, "crash", tmp_path) is None  # a process brought down, saying nothing
