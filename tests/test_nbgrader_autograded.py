"""nbgrader's autograded test cells graded in the kit's sandbox (kws.grading.judge.autograded,
kws.grading.child.autograded), on nbgrader's ps1 example written fresh in tests/nbgrader_ps1.py:
through `kws grade` as an instructor types it, each test cell as the instructor wrote it (hidden
tests included) runs after the student's code cells, and earns its points when it raises nothing."""

import json
import os
import subprocess
import sys

import pytest
from course_helpers import ROOT
from nbgrader_ps1 import nbgrader_release, problem1, submitted, write_course

SQUARES = (
    "def squares(n):\n    if n < 1:\n        raise ValueError('n < 1')\n"
    "    return [i * i for i in range(1, n + 1)]"
)
SUM = "def sum_of_squares(n):\n    return sum(squares(n))"
# Right wherever the students' copy of the test cell looks (1, 2 and 10), wrong at the hidden 11.
VISIBLE_ONLY = "def sum_of_squares(n):\n    return {1: 1, 2: 5, 10: 385}.get(n, 0)"
POINTS = {"correct_squares": 1.0, "squares_invalid_input": 1.0, "correct_sum_of_squares": 0.5}


def _handed_in(released, code: dict[str, str], edits: dict[str, str] = {}) -> dict:  # noqa: B006
    nb = submitted(released, code)
    for cell in nb["cells"]:  # what a student typed into a test cell
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in edits:
            cell["source"] = edits[grade_id]
    return nb


@pytest.mark.slow
def test_kws_grade_runs_the_instructors_test_cells_and_counts_their_points(tmp_path):
    write_course(tmp_path / "course")
    released = nbgrader_release(problem1())
    assert "sum_of_squares(11)" not in json.dumps(_handed_in(released, {}))  # hidden from them
    handins = {
        "ann": _handed_in(released, {"squares": SQUARES, "sum_of_squares": SUM}),
        "cal": _handed_in(released, {"squares": SQUARES, "sum_of_squares": VISIBLE_ONLY}),
        # dan's wrong sum_of_squares, and its test cell emptied: the instructor's still runs
        "dan": _handed_in(
            released,
            {"squares": SQUARES, "sum_of_squares": VISIBLE_ONLY},
            {"correct_sum_of_squares": "pass"},
        ),  # fmt: skip
        "eve": _handed_in(released, {}),  # nbgrader's stubs, as released
        "fay": _handed_in(released, {"squares": SQUARES, "sum_of_squares": SUM}),
    }
    handins["fay"]["cells"] = [  # correct_squares' test cell deleted
        c for c in handins["fay"]["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") != "correct_squares"
    ]  # fmt: skip
    for student, nb in handins.items():
        folder = tmp_path / "submitted" / student / "ps1"  # nbgrader's layout
        folder.mkdir(parents=True)
        (folder / "problem1.ipynb").write_text(json.dumps(nb))
    env = os.environ | {"KWS_COURSE": "course", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    graded = subprocess.run([sys.executable, "-m", "kws.cli", "grade", "submitted", "--out",
                             "grades"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert graded.returncode == 0, graded.stderr

    def scores(student):
        document = json.loads((tmp_path / "grades" / "results" / f"{student}.json").read_text())
        tests = {t["extra_data"]["test"]: t for t in document["tests"]}
        assert {name: t["max_score"] for name, t in tests.items()} == POINTS
        assert {t["extra_data"]["assignment"] for t in tests.values()} == {"ps1"}
        assert "problem1.ipynb: test cells run in " in document["output"]  # a sandboxed child
        assert "; sandbox: " in document["output"]  # which protections held, as the kit's own
        return {name: t["score"] for name, t in tests.items()}, tests, document["score"]

    ann, _, total = scores("ann")
    assert ann == POINTS and total == 2.5
    cal, tests, total = scores("cal")
    assert cal == POINTS | {"correct_sum_of_squares": 0.0} and total == 2.0
    assert tests["correct_sum_of_squares"]["name"] == (
        "ps1/correct_sum_of_squares: Check that sum_of_squares returns the correct answer for "
        "various inputs."
    )  # the docstring's first line, and a name no other assignment's cell can take
    said = tests["correct_sum_of_squares"]["output"]
    assert said == (
        "The test cell correct_sum_of_squares of problem1.ipynb failed: AssertionError (line 6 "
        "of the test cell)"
    )  # the hidden test's line, never its text
    assert scores("dan")[0] == cal  # editing the test cell changed nothing
    assert scores("eve")[0] == dict.fromkeys(POINTS, 0.0)
    assert "NotImplementedError" in scores("eve")[1]["correct_squares"]["output"]
    fay, tests, _ = scores("fay")
    assert fay == POINTS | {"correct_squares": 0.0}
    assert "no longer holds this test cell" in tests["correct_squares"]["output"]

    season = subprocess.run([sys.executable, "-m", "kws.cli", "season", "grades"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert season.returncode == 0, season.stderr
    standings = json.loads((tmp_path / "grades" / "standings.json").read_text())
    finals = {s: standings["students"][s]["ps1"]["final"] for s in handins}
    assert finals == {"ann": 2.5, "cal": 2.0, "dan": 2.0, "eve": 0.0, "fay": 1.5}  # unmarked
    # with the marks: tests/test_nbgrader_course.py (season, export and feedback, out of 5.5)
