"""What collection scripts, late hand-ins and LMS exports give `kws grade`, typed as an
instructor types it in the course folder (the class of tests/interrupted_class.py, graded by
the real grader in seconds):

- a hand-in folder that is a link (a script linking each student's latest attempt) is graded
  and exported under its name in the submissions folder, never the name of its target; a link
  that points elsewhere during the run is a collection fault: refused, no grade recorded;
- a late hand-in regraded alone (``--student``) whose results file is a classmate's (``late/
  ann_smith`` and the class's ``ann smith`` share ``ann_smith.json``) is refused before it is
  graded, naming the folder that holds the name and what to do;
- a hand-in time later than the grading (an LMS export with a wrong year) is refused, naming
  the file, the row and the fix, before anything is graded; ``--accept-future-times`` takes it.
"""

import csv
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from interrupted_class import (
    EXPORT,
    GRADE,
    finish,
    kill_group,
    kws,
    make_course,
    snapshot,
    start,
    wait_for,
)

# The full run's (docs/development/tests.md, "The two tiers"): classes graded and graded again by real children, fault by fault.
pytestmark = [pytest.mark.slow, pytest.mark.full]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_data) -> Path:
    """The class collected as plain folders, graded and exported: what each recipe must give."""
    course = make_course(tmp_path_factory.mktemp("reference") / "course", tiny_data)
    for command in (GRADE, EXPORT):
        done = kws(course, *command)
        assert done.returncode == 0, done.stderr
    return course


def _linked(course: Path) -> Path:
    """dan's hand-in moved to store/dan-attempt3 and linked as a collection script links it
    (``ln -s ../store/dan-attempt3 submissions/dan``); store/dan-attempt2 beside it."""
    store = course / "store"
    store.mkdir()
    (course / "submissions" / "dan").rename(store / "dan-attempt3")
    (store / "dan-attempt2").mkdir()
    (store / "dan-attempt2" / "points.json").write_text('{"keyword_spotting": 0, "speaker_id": 0}')
    link = course / "submissions" / "dan"
    link.symlink_to("../store/dan-attempt3")
    return link


def _relink(link: Path, target: str) -> None:
    """`link` pointing at `target` from now on, swapped in one rename (``ln -sfn``)."""
    swap = link.with_name(".dan.swap")
    swap.symlink_to(target)
    os.replace(swap, link)


def _results(course: Path) -> list[str]:
    return sorted(p.name for p in (course / "grades" / "results").glob("*.json"))


def test_a_linked_hand_in_is_graded_and_exported_under_its_own_name(reference, tmp_path, tiny_data):
    course = make_course(tmp_path / "course", tiny_data)
    _linked(course)
    done = kws(course, *GRADE)
    assert done.returncode == 0, done.stderr
    with open(course / "grades" / "gradebook.csv", newline="") as file:
        assert [row["student"] for row in csv.DictReader(file)] == ["ann", "bob", "cy", "dan"]
    assert _results(course) == ["ann.json", "bob.json", "cy.json", "dan.json"]
    exported = kws(course, *EXPORT)
    assert exported.returncode == 0, exported.stderr
    assert "no roster row" not in exported.stdout + exported.stderr
    assert (course / "canvas.csv").read_text() == (reference / "canvas.csv").read_text()


@pytest.mark.parametrize(
    "target, moment, said",
    [
        ("/etc/passwd", "while", "is no folder (a link to /etc/passwd now) while it was graded"),
        ("../store/dan-attempt2", "while",
         "changed (a link to ../store/dan-attempt2 now) while it was graded"),
        ("../store/dan-attempt2", "before",
         "changed (a link to ../store/dan-attempt2 now) before its grading started"),
    ],
    ids=["to-a-file-while-graded", "to-another-attempt-while-graded", "before-it-is-graded"],
)  # fmt: skip
def test_a_link_that_points_elsewhere_during_the_run_is_refused(
    reference, tmp_path, tiny_data, target, moment, said
):
    """The link swapped while dan is graded, or after the run was planned and before dan's
    grading started (ann holds the only grader): a collection fault, exit 1, naming the
    folder; no grade for dan nor for the link's target, and the export refuses the folder.
    Once the link is back, the same command grades and exports the class as collected."""
    course = make_course(tmp_path / "course", tiny_data)
    link = _linked(course)
    held, jobs = ("dan-attempt3", []) if moment == "while" else ("ann", ["--jobs", "1"])
    run = start(course, *GRADE, *jobs, faults={held: "hold"})
    try:
        wait_for(course / "hold" / f"{held}.started", run)
        _relink(link, target)
        (course / "hold" / f"{held}.go").touch()
        code, _, err = finish(run)
    finally:
        kill_group(run)
    assert code == 1, err
    assert f"the hand-in folder {link} {said}: a collection fault" in err
    assert "dan was not graded (no 0 recorded" in err
    assert "dan.json" not in _results(course) and len(_results(course)) == 3  # nor passwd's
    refused = kws(course, *EXPORT)
    assert refused.returncode == 2 and not (course / "canvas.csv").exists(), refused.stderr
    _relink(link, "../store/dan-attempt3")
    for command in (GRADE, EXPORT):
        done = kws(course, *command)
        assert done.returncode == 0, done.stderr
    assert (course / "canvas.csv").read_text() == (reference / "canvas.csv").read_text()


def _ann_smith(course: Path) -> None:
    """ann's hand-in folder named ``ann smith`` (as an LMS download names it), in the roster
    and the times too."""
    (course / "submissions" / "ann").rename(course / "submissions" / "ann smith")
    roster = (course / "roster.csv").read_text()
    (course / "roster.csv").write_text(
        roster.replace("Ann,1,S1,ann,A,ann", "Ann,1,S1,ann,A,ann smith")
    )
    times = (course / "times.csv").read_text()
    (course / "times.csv").write_text(times.replace("\nann,", "\nann smith,"))


def test_a_late_hand_in_graded_alone_never_takes_a_classmates_results(tmp_path, tiny_data):
    """``late/ann_smith`` regraded with --student into the class's grades, where ``ann smith``
    holds ann_smith.json: refused before grading, naming ``ann smith`` and the fix; the grades
    folder as it was. Following the advice regrades Ann Smith with her late hand-in."""
    course = make_course(tmp_path / "course", tiny_data)
    _ann_smith(course)
    done = kws(course, *GRADE)
    assert done.returncode == 0, done.stderr
    late = course / "late" / "ann_smith"
    late.mkdir(parents=True)
    (late / "points.json").write_text('{"keyword_spotting": 3, "speaker_id": 5}')
    before = snapshot(course / "grades")
    regrade = ["grade", "late", "--data", "data", "--out", "grades"]
    refused = kws(course, *regrade, "--student", "ann_smith")
    assert refused.returncode == 2, refused.stderr
    assert ("late/ann_smith: its results file grades/results/ann_smith.json is the hand-in "
            "folder 'ann smith''s") in refused.stderr  # fmt: skip
    assert "mv late/ann_smith 'late/ann smith'" in refused.stderr
    assert "--student 'ann smith'" in refused.stderr
    assert snapshot(course / "grades") == before
    late.rename(course / "late" / "ann smith")  # the advice, as typed
    done = kws(course, *regrade, "--student", "ann smith")
    assert done.returncode == 0, done.stderr
    exported = kws(course, *EXPORT)
    assert exported.returncode == 0, exported.stderr
    with open(course / "canvas.csv", newline="", encoding="utf-8-sig") as file:
        totals = {row["Student"]: row["kws total"] for row in csv.DictReader(file)}
    # the late hand-in's 3 + 5 points, notebook 01 a day late (10 % of its 13 points off),
    # where the class graded her 26.7; her classmates as graded
    assert totals == {
        "    Points Possible": "46",
        "Ann": "6.7",
        "Bob": "35",
        "Cy": "36",
        "Dan": "21",
    }


def test_a_hand_in_time_after_the_grading_is_refused_before_anything_is_graded(tmp_path, tiny_data):
    """A times row a year ahead (an LMS export with a wrong year): `kws grade` and `kws
    season` refuse it naming the file, the row and the fix, before anything is written;
    with --accept-future-times the time is taken as given (the late rule's cap)."""
    course = make_course(tmp_path / "course", tiny_data)
    ahead = datetime.now(timezone.utc).year + 1
    times = (course / "times.csv").read_text()
    (course / "times.csv").write_text(times.replace("2026-10-03T12:00", f"{ahead}-10-03T12:00"))
    refused = kws(course, *GRADE)
    assert refused.returncode == 2, refused.stderr
    assert (f"times.csv, line 2: ann handed in keyword_spotting at {ahead}-10-03T12:00:00+00:00, "
            "later than now") in refused.stderr  # fmt: skip
    assert "check the year" in refused.stderr and "--accept-future-times" in refused.stderr
    assert not (course / "grades").exists()
    done = kws(course, *GRADE, "--accept-future-times")
    assert done.returncode == 0, done.stderr
    with open(course / "grades" / "gradebook.csv", newline="") as file:
        ann = next(row for row in csv.DictReader(file) if row["student"] == "ann")
    assert ann["keyword_spotting final"] == "4.1", ann  # 8 points, the cap: 30 % of 13 off
    before = snapshot(course / "grades")
    again = kws(course, "season", "grades", "--times", "times.csv")
    assert again.returncode == 2 and "line 2: ann handed in" in again.stderr, again.stderr
    assert snapshot(course / "grades") == before
