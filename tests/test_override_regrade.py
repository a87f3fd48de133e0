"""`kws override`, then the real `kws grade --student`: an instructor's own course (the toy
assignment of tests/data/toy_layout) graded by the real grader, one hand-in overridden, fixed
by the student and graded again; the override is kept, and the note says how to settle it."""

import csv
import shutil
from pathlib import Path

import pytest
from test_own_assignment import _kws
from test_toy_layout import TOY, _dataset, _hand_in

ACCURACY = "Task 1: accuracy on the hidden labels (partial credit by tier)"
REASON = "the labels of the hidden set were read swapped for your model"


def _grade(course: Path, *more: str) -> str:
    done = _kws(course, "grade", "subs", "--data", "data", "--out", "grades", *more,
                course="assignments", timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _total(course: Path) -> str:
    rows = csv.DictReader(open(course / "grades" / "gradebook.csv", encoding="utf-8"))
    return next(row for row in rows if row["student"] == "ann")["total"]


@pytest.mark.slow
@pytest.mark.full  # a real regrade of a class, end to end
def test_a_real_regrade_keeps_the_override_and_says_how_to_settle_it(tmp_path):
    course = tmp_path / "course"  # the instructor's own folder: relative paths from here
    shutil.copytree(TOY, course / "assignments" / "points")
    _dataset(course / "data")
    _hand_in(course / "subs" / "ann", sign=-1.0)  # every point wrong: loads (1), accuracy 0
    _grade(course)
    assert _total(course) == "1.0"
    done = _kws(course, "override", "grades", "ann", ACCURACY, "1", "--reason", REASON,
                course="assignments")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"ann '{ACCURACY}': graded 0, counts 1 of 2" in done.stdout
    assert _total(course) == "2.0"

    shutil.rmtree(course / "subs" / "ann")
    _hand_in(course / "subs" / "ann", sign=1.0)  # fixed: every point right, accuracy 2 of 2
    printed = _grade(course, "--student", "ann")
    assert "ann regraded; the earlier result is kept in grades/history/" in printed
    assert (f"note: ann's test '{ACCURACY}' was graded 0 when it was overridden to 1, and is "
            "graded 2 now: the override still counts; confirm it with `kws override GRADES "
            f"ann '{ACCURACY}' POINTS --reason ...` or withdraw it") in printed  # fmt: skip
    assert _total(course) == "2.0"  # the override's 1 for accuracy, not the regrade's 2

    done = _kws(course, "override", "grades", "ann", ACCURACY, "--withdraw", "--reason",
                "graded again after the fix", course="assignments")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _total(course) == "3.0" and "overridden to" not in done.stdout
