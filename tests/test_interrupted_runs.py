"""A run stopped half-way never becomes a grade: Ctrl-C, SIGTERM and SIGKILL at several moments
of a class run and of a regrade, a full disk under a grader and under the gradebook, a grader
killed from outside or out of memory, a truncated result and two runs at once. After each, the
commands that publish grades refuse the folder naming what to run, no student is given a 0 or
loses a result, and the command the message advises gives the grades and the export of a run
that was never interrupted.

The class (tests/interrupted_class.py) is graded by the real grader in seconds; each moment is a
file the run writes, never a sleep. The folder was graded once with the students' first hand-ins
(`POINTS[1]`); they have handed in again (`POINTS[2]`), and the instructor grades the class again
when the fault strikes: a student the run did not finish must keep their first grade, exactly.
"""

import contextlib
import csv
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from interrupted_class import (
    EXPORT,
    GRADE,
    finish,
    grades_of,
    kill_group,
    kws,
    make_course,
    processes_naming,
    set_points,
    snapshot,
    start,
    wait_for,
)

from kws.grading.records.lock import (
    LOCK_FILE,
    SEASON,
    FolderBusy,
    RunRecord,
    holding,
)
from kws.grading.records.seal import RecordsError, check_seal

# The full run's (docs/development/tests.md, "The two tiers"): interrupted runs: classes graded, stopped and graded again.
pytestmark = [pytest.mark.slow, pytest.mark.full]
REGRADE_CY = [*GRADE, "--student", "cy"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory, tiny_data) -> dict[int, Path]:
    """The class graded without a fault, with the first hand-ins (1) and the second (2), each
    with its Canvas export: what every fault's recovery must give."""
    root = tmp_path_factory.mktemp("graded")
    folders = {}
    for version in (1, 2):
        course = make_course(root / f"v{version}", tiny_data, version)
        for command in (GRADE, EXPORT):
            done = kws(course, *command)
            assert done.returncode == 0, done.stderr
        folders[version] = course
    return folders


def _copy(source: Path, target: Path) -> Path:
    """A copy of the instructor's folder `source`, its run.json and run.lock (a killed run's
    record) naming the copy's folders."""
    shutil.copytree(source, target, symlinks=True)
    for record in (target / "grades" / "run.json", target / "grades" / LOCK_FILE):
        if record.is_file():
            record.write_text(record.read_text().replace(str(source), str(target)))
    (target / "canvas.csv").unlink(missing_ok=True)
    return target


@pytest.fixture
def course(graded, tmp_path) -> Path:
    """The instructor's folder graded with the first hand-ins; the students handed in again."""
    copy = _copy(graded[1], tmp_path / "course")
    set_points(copy, 2)
    return copy


def _results(course: Path, *students: str) -> dict[str, bytes]:
    return {s: (course / "grades" / "results" / f"{s}.json").read_bytes() for s in students}


PUBLISH = (EXPORT, ["feedback", "grades", "--out", "pages"], ["report", "grades"])


def _assert_refused(course: Path, *said: str, commands=(EXPORT,)) -> None:
    """`commands` (the export; or every command that publishes grades: `PUBLISH`) refuse the
    folder saying `said`; nothing is exported."""
    for command in commands:
        done = kws(course, *command)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        for words in said:
            assert words in done.stderr, (command, done.stderr)
    assert not (course / "canvas.csv").exists() and not (course / "pages").exists()


def _assert_as_graded(course: Path, reference: Path) -> None:
    """The grades and the Canvas export of `course` are those of `reference`."""
    assert grades_of(course / "grades") == grades_of(reference / "grades")
    done = kws(course, *EXPORT)
    assert done.returncode == 0, done.stderr
    assert (course / "canvas.csv").read_text() == (reference / "canvas.csv").read_text()
    left = [p for p in (course / "grades").rglob("*") if p.name.endswith(".partial")]
    assert left == []  # no temporary file or staging folder survives a run that finished


def _assert_no_process_left(text: str) -> None:
    """No process naming `text` is left (they die with the run: checked for a minute)."""
    for _ in range(600):
        if not processes_naming(text):
            return
        time.sleep(0.1)
    left = processes_naming(text)
    for pid, _ in left:
        os.kill(pid, signal.SIGKILL)
    pytest.fail(f"processes outlived the run: {left}")


def _recover(course: Path, graded: dict[int, Path], command=GRADE) -> None:
    """The command the refusal advised, run as typed: the grades of a clean run."""
    done = kws(course, *command)
    assert done.returncode == 0, done.stderr
    _assert_as_graded(course, graded[2])


# ---- signals during a class run ------------------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_keeps_every_student_it_did_not_finish(course, graded, stop, full):
    """ann and bob are graded, cy and dan are being graded when the signal comes: the run
    ends within seconds with the shell's code, says what it did, and cy and dan keep their
    first grades byte for byte; the folder is refused until the same command finishes it (the
    recovery after SIGTERM, the same as after Ctrl-C, in the full run only)."""
    earlier = _results(course, "cy", "dan")
    gradebook = (course / "grades" / "gradebook.csv").read_bytes()
    run = start(course, *GRADE, faults={"cy": "hold", "dan": "hold"})
    try:
        wait_for(course / "hold" / "cy.started", run)
        wait_for(course / "hold" / "dan.started", run)
        run.send_signal(stop)
        code, _, err = finish(run)
    finally:
        kill_group(run)
    assert code == 128 + stop, err
    assert "graded 2 of 4 (ann, bob), kept 2 as they were; run the same command to finish" in err
    assert _results(course, "cy", "dan") == earlier
    assert (course / "grades" / "gradebook.csv").read_bytes() == gradebook  # written last
    for student in ("ann", "bob"):  # their second hand-ins, graded whole
        document = json.loads(_results(course, student)[student])
        points = json.loads((course / "submissions" / student / "points.json").read_text())
        assert [t["score"] for t in document["tests"]] == list(points.values())
    _assert_no_process_left(str(course / "submissions"))
    typed = "kws grade submissions --data data --out grades --jobs 2"
    _assert_refused(course, "was stopped before it finished (graded 2 of 4", typed)
    done = kws(course, "season", "grades")  # the repair for hand edits: not for half a class
    assert done.returncode == 2 and "run it again to finish it" in done.stderr
    if stop == signal.SIGINT or full:
        _recover(course, graded)


def test_a_run_killed_with_its_graders_leaves_none_running_and_loses_nothing(course, graded):
    """SIGKILL of `kws grade`'s process group while graders run: no grader is left writing
    into the folder, the students it did not finish keep their results, the folder is refused
    (the lock's record names the run that was killed), and the next run is not blocked."""
    earlier = _results(course, "cy", "dan")
    run = start(course, *GRADE, faults={"cy": "hold", "dan": "hold"})
    try:
        wait_for(course / "hold" / "cy.started", run)
        wait_for(course / "hold" / "dan.started", run)
    finally:
        kill_group(run)
    _assert_no_process_left(str(course / "submissions"))
    assert _results(course, "cy", "dan") == earlier
    _assert_refused(course, "was killed (or its machine went down) before it finished")
    _recover(course, graded)


@pytest.fixture(scope="module")
def killed_fresh(graded, tmp_path_factory) -> Path:
    """A fresh run of the second hand-ins killed as gradebook.csv is written, before the late
    rule's standings and the seal: the folder it left, for the tests below to copy."""
    course = make_course(tmp_path_factory.mktemp("killed") / "course", graded[2] / "data", 2)
    run = start(course, *GRADE, KWS_TEST_PAUSE="gradebook")
    try:
        wait_for(course / "hold" / "paused", run)
    finally:
        kill_group(run)
    return course


def test_a_fresh_run_killed_after_its_gradebook_is_refused_not_exported_raw(
    killed_fresh, graded, tmp_path
):
    """Killed as gradebook.csv is written, before the late rule's standings and the seal:
    nothing exports its raw scores (ann's 10 where the late penalty makes 9); `kws season`
    will not seal half a run either; the same `kws grade` finishes it."""
    course = _copy(killed_fresh, tmp_path / "course")
    grades = course / "grades"
    assert (grades / "gradebook.csv").is_file() and not (grades / "records.json").exists()
    _assert_refused(course, "was killed (or its machine went down) before it finished",
                    "kws grade submissions --data data --out grades", commands=PUBLISH)  # fmt: skip
    done = kws(course, "season", "grades")
    assert done.returncode == 2 and "run it again to finish it" in done.stderr
    assert not (grades / "records.json").exists()
    _recover(course, graded)
    # ann's 10 points a day late: 10 % of notebook 01's 13 (its 3 written points unmarked)
    assert grades_of(grades)["finals"]["ann"]["keyword_spotting"] == 8.7


def test_a_fresh_run_killed_and_its_lock_lost_is_never_exported_without_its_season(
    killed_fresh, graded, tmp_path
):
    """C3: killed as gradebook.csv appears, then run.lock removed (cleaned as stale, lost in
    a copy): the export refuses, `kws season` will not apply "no season" (raw scores) but
    names the course file and times the run was given, and that command gives the grades of a
    run never interrupted."""
    course = _copy(killed_fresh, tmp_path / "course")
    grades = course / "grades"
    (grades / LOCK_FILE).unlink()
    _assert_refused(course, "no records.json", "kws season grades")
    done = kws(course, "season", "grades")
    assert done.returncode == 2, done.stderr
    assert "grades/course.toml and grades/times.csv are not there" in done.stderr
    advised = done.stderr.split("`")[-2].split()
    assert advised == ["kws", "season", "grades", "--course", str(course / "course.toml"),
                       "--times", str(course / "times.csv")]  # fmt: skip
    assert not (grades / "records.json").exists() and not (grades / "standings.json").exists()
    done = kws(course, *advised[1:])
    assert done.returncode == 0, done.stderr
    _assert_as_graded(course, graded[2])


def test_a_sealed_course_file_lost_is_refused_not_applied_as_no_season(course, graded):
    """course.toml lost from a sealed folder: the export refuses, and `kws season` names the
    file to give again instead of sealing every hand-in as on time."""
    (course / "grades" / "course.toml").unlink()
    _assert_refused(course, "course.toml is gone")
    done = kws(course, "season", "grades")
    assert done.returncode == 2 and "grades/course.toml is not there" in done.stderr
    assert "records.json recorded it" in done.stderr and "--course " in done.stderr
    done = kws(course, "season", "grades", "--course", "course.toml")
    assert done.returncode == 0, done.stderr
    assert kws(course, *EXPORT).returncode == 0
    assert (course / "canvas.csv").read_text() == (graded[1] / "canvas.csv").read_text()


# ---- a hand-in moved while it is graded ----------------------------------------------------


def test_a_hand_in_folder_moved_while_it_is_graded_is_refused_never_a_zero(course, graded):
    """C1: cy's folder renamed while cy is graded (its tests then fail on a folder that is
    gone): the run refuses it as a collection fault, exit 1, naming the folder and what to
    do; cy keeps the earlier result (no 0), the export refuses naming the command, and once
    the folder is back the same command grades the class as a run never interrupted."""
    earlier = _results(course, "cy")
    run = start(course, *GRADE, faults={"cy": "hold"})
    try:
        wait_for(course / "hold" / "cy.started", run)
        (course / "submissions" / "cy").rename(course / "submissions" / "cy_v2")
        (course / "hold" / "cy.go").touch()
        code, _, err = finish(run)
    finally:
        kill_group(run)
    assert code == 1, err
    assert (f"the hand-in folder {course / 'submissions' / 'cy'} is gone (renamed or removed) "
            "while it was graded: a collection fault") in err  # fmt: skip
    assert "cy was not graded (no 0 recorded" in err and "run the same command to finish" in err
    assert _results(course, "cy") == earlier
    _assert_refused(course, "was stopped before it finished",
                    "kws grade submissions --data data --out grades")  # fmt: skip
    (course / "submissions" / "cy_v2").rename(course / "submissions" / "cy")
    _recover(course, graded)


# ---- faults of the grading machine ---------------------------------------------------------


@pytest.mark.parametrize(
    "fault, said",
    [
        ("enospc", "it stopped on a fault of the grading machine"),
        pytest.param("memory", "ran out of memory (MemoryError)", marks=pytest.mark.full),
        pytest.param("killed", "it was killed by SIGKILL from outside this run",
                     marks=pytest.mark.full),
    ],
)  # fmt: skip
def test_a_fault_of_the_grading_machine_is_never_a_grade(course, graded, fault, said):
    """A full disk under cy's grader, its own MemoryError, or the out-of-memory killer: the run
    stops at once with exit code 1, naming cy, the folder and the log; cy keeps their first
    grade (no 0, no "your model crashed"), and so does dan, whose grader the stop ended."""
    earlier = _results(course, "cy", "dan")
    gradebook = (course / "grades" / "gradebook.csv").read_bytes()
    done = kws(course, *GRADE, faults={"cy": fault, "dan": "hold"})
    assert done.returncode == 1, done.stderr
    assert "the grading machine failed while grading cy" in done.stderr and said in done.stderr
    assert "cy was not graded (no 0 recorded" in done.stderr
    assert str(course / "grades" / "logs" / "cy.failed.txt") in done.stderr
    assert "graded 2 of 4 (ann, bob), kept 2 as they were" in done.stderr
    assert "run the same command to finish" in done.stderr
    assert _results(course, "cy", "dan") == earlier
    assert (course / "grades" / "gradebook.csv").read_bytes() == gradebook
    _assert_no_process_left(str(course / "submissions"))
    _assert_refused(course, "was stopped before it finished")
    _recover(course, graded)


def test_a_hand_in_that_brings_its_grader_down_is_still_its_own_zero(course, graded):
    """The difference kept: a grader that exits on its own (the hand-in brought it down) with
    the disk fine is the hand-in's fault, as before: a row with no points and the reason."""
    done = kws(course, *GRADE, faults={"cy": "crash"})
    assert done.returncode == 0, done.stderr
    row = grades_of(course / "grades")["gradebook"]["cy"]
    assert row["total"] == "0.0" and "the grader exited with code 3" in row["notes"]
    standings = json.loads((course / "grades" / "standings.json").read_text())["students"]
    assert {e["status"] for e in standings["cy"].values()} == {"ungraded"}


def test_a_hand_in_that_writes_past_its_quota_loses_its_own_points_not_the_class(course, graded):
    """cy's code writes file after file: its child is stopped at its write quota, before the
    machine's disk fills, and that is cy's failed test with the reason, never a fault that
    stops the class; everyone else is graded as in a clean run, and nothing is left behind."""
    done = kws(course, *GRADE, faults={"cy": "writes"})
    assert done.returncode == 0, done.stderr
    grades = grades_of(course / "grades")
    assert grades["tests"]["cy"]["Notebook 01's points"] == 0.0
    clean = grades_of(graded[2] / "grades")
    assert {s: t for s, t in grades["tests"].items() if s != "cy"} == {
        s: t for s, t in clean["tests"].items() if s != "cy"
    }
    document = json.loads(_results(course, "cy")["cy"])
    said = next(t["output"] for t in document["tests"] if t["name"] == "Notebook 01's points")
    assert "wrote more than 4 MiB of files, the limit of what one hand-in may write" in said


def test_a_full_disk_under_the_gradebook_stops_with_the_file_named(course, graded):
    """Every student graded, then the disk fills as the gradebook is written: exit code 1, the
    file named, the earlier gradebook in place, no temporary file left; refused until the same
    command finishes."""
    gradebook = (course / "grades" / "gradebook.csv").read_bytes()
    done = kws(course, *GRADE, KWS_TEST_ENOSPC="gradebook.csv")
    assert done.returncode == 1, done.stderr
    assert "No space left on device" in done.stderr
    assert f"{course / 'grades' / 'gradebook.csv'}" in done.stderr
    assert "refuse it until this command finishes" in done.stderr
    assert "run the same command again" in done.stderr
    assert (course / "grades" / "gradebook.csv").read_bytes() == gradebook
    assert list((course / "grades").glob(".*.partial")) == []
    _assert_refused(course, "was stopped before it finished (graded 4 of 4")
    _recover(course, graded)


def test_a_disk_full_before_any_grading_leaves_the_grades_as_they_were(course, graded):
    """The disk is full from the start (run.json, the first file `kws grade` writes, cannot
    be written): the run stops at once, naming the file, before any grader starts; nothing it
    did changed a grade, so the folder still exports the earlier grades."""
    done = kws(course, *GRADE, KWS_TEST_ENOSPC="run.json")
    assert done.returncode == 1, done.stderr
    assert f"No space left on device: '{course / 'grades' / 'run.json'}'" in done.stderr
    assert "the grades of grades are as they were" in done.stderr
    assert not (course / "grades" / "logs" / ".partial").exists()
    assert grades_of(course / "grades") == grades_of(graded[1] / "grades")
    done = kws(course, *EXPORT)
    assert done.returncode == 0, done.stderr
    assert (course / "canvas.csv").read_text() == (graded[1] / "canvas.csv").read_text()


# ---- a result lost or cut short ------------------------------------------------------------


def test_a_truncated_result_is_refused_and_its_regrade_repairs_it(graded, tmp_path):
    """results/cy.json cut short: every command that reads grades refuses it naming cy, the
    file and the regrade; `kws season` too, writing nothing (never a 0); the regrade it names
    repairs it, keeping the damaged file in history/."""
    course = _copy(graded[2], tmp_path / "course")
    result = course / "grades" / "results" / "cy.json"
    damaged = result.read_bytes()[:300]
    result.write_bytes(damaged)
    before = snapshot(course / "grades")
    advice = f"kws grade {course / 'submissions'} --data "
    _assert_refused(course, "cy's results/cy.json cannot be read", advice, "--student cy",
                    commands=PUBLISH)  # fmt: skip
    done = kws(course, "season", "grades")
    assert done.returncode == 2 and "A result that is not there is not a 0" in done.stderr
    assert snapshot(course / "grades") == before
    regrade = done.stderr.split("\n  ")[-1].strip().split()
    assert regrade[:2] == ["kws", "grade"] and regrade[-2:] == ["--student", "cy"]
    done = kws(course, *regrade[1:])
    assert done.returncode == 0, done.stderr
    _assert_as_graded(course, graded[2])
    assert [p.read_bytes() for p in (course / "grades" / "history").glob("cy-*.json")] == [damaged]


@pytest.mark.parametrize("damage", ["cut short", "removed"])
def test_a_damaged_seal_is_refused_and_the_advised_season_writes_it_again(graded, tmp_path, damage):
    """records.json cut short (or removed) by a disk or a hand: every command that publishes
    refuses it naming `kws season grades`, and that command, followed, seals the folder again:
    the grades and the export are those of the run (no dead end)."""
    course = _copy(graded[2], tmp_path / "course")
    seal = course / "grades" / "records.json"
    if damage == "cut short":
        seal.write_bytes(seal.read_bytes()[:100])
    else:
        seal.unlink()
    _assert_refused(course, "kws season grades", commands=PUBLISH)
    done = kws(course, "season", "grades")
    assert done.returncode == 0, done.stderr
    _assert_as_graded(course, graded[2])


# ---- a regrade interrupted -----------------------------------------------------------------


@pytest.mark.parametrize("stop", ["ctrl-c", "kill"])
def test_a_regrade_stopped_while_it_grades_leaves_the_grades_as_they_were(course, graded, stop):
    """Ctrl-C while cy's regrade grades: exit 130, and the grades folder is byte for byte as it
    was (its earlier result still in place, nothing in history/). `kill -9` of its process
    group: the grades are as they were too (the lock's record says a run was killed, its
    grader's half-written files wait for the next run to remove them), so the export still gives
    the first grades, and the same regrade then runs as if nothing happened."""
    before = snapshot(course / "grades")
    run = start(course, *REGRADE_CY, faults={"cy": "hold"})
    try:
        wait_for(course / "hold" / "cy.started", run)
        if stop == "ctrl-c":
            run.send_signal(signal.SIGINT)
            code, _, err = finish(run)
            assert code == 130 and "cy was not regraded" in err, err
    finally:
        kill_group(run)
    _assert_no_process_left(str(course / "submissions"))
    after = snapshot(course / "grades")
    if stop == "kill":  # what the kill left: the lock's record, the grader's staging files
        assert json.loads((course / "grades" / LOCK_FILE).read_text())["state"] == "running"
        after = {k: v for k, v in after.items() if k != LOCK_FILE and ".partial/" not in k}
        before.pop(LOCK_FILE)
    assert after == before
    assert grades_of(course / "grades") == grades_of(graded[1] / "grades")
    done = kws(course, *EXPORT)
    assert done.returncode == 0, done.stderr
    assert (course / "canvas.csv").read_text() == (graded[1] / "canvas.csv").read_text()
    done = kws(course, *REGRADE_CY)
    assert done.returncode == 0, done.stderr
    assert [p for p in (course / "grades").rglob("*") if p.name.endswith(".partial")] == []


def test_a_regrade_killed_after_its_new_result_is_finished_by_running_it_again(
    course, graded, tmp_path
):
    """Killed once cy's new result is in place, before the gradebook: the earlier result is
    in history/, the folder is refused naming the regrade, `kws season` will not seal it, and
    the same regrade gives what an uninterrupted one gives."""
    clean = _copy(course, tmp_path / "clean")
    assert kws(clean, *REGRADE_CY).returncode == 0
    earlier = _results(course, "cy")["cy"]
    run = start(course, *REGRADE_CY, KWS_TEST_PAUSE="regraded")
    try:
        wait_for(course / "hold" / "paused", run)
    finally:
        kill_group(run)
    assert _results(course, "cy")["cy"] != earlier
    assert [p.read_bytes() for p in (course / "grades" / "history").glob("cy-*.json")] == [earlier]
    _assert_refused(course, "--student cy", "before it finished")
    assert kws(course, "season", "grades").returncode == 2
    done = kws(course, *REGRADE_CY)
    assert done.returncode == 0, done.stderr
    assert grades_of(course / "grades") == grades_of(clean / "grades")
    # B8: regrades.csv says the earlier score, not the killed run's new one a second time
    with open(course / "grades" / "history" / "regrades.csv", newline="") as file:
        (line,) = list(csv.DictReader(file))
    assert (
        float(line["earlier_raw_total"]) == json.loads(earlier)["score"] != float(line["raw_total"])
    )
    assert [p.read_bytes() for p in (course / "grades" / "history").glob("cy-*.json")] == [earlier]


# ---- two runs at once ----------------------------------------------------------------------


def test_one_run_at_a_time_writes_a_grades_folder(course, graded):
    """While a `kws grade` writes the folder, a second one, `kws season`, `kws adjust` and the
    export refuse at once, naming it (pid, command, start); with --wait a second one waits for
    it and then grades."""
    first = start(course, *GRADE, faults={"ann": "hold"})
    second = None
    try:
        wait_for(course / "hold" / "ann.started", first)
        for command in (GRADE, ["season", "grades"],
                        ["adjust", "grades", "bob", "speaker_id", "+1", "--reason", "r"], EXPORT):  # fmt: skip
            done = kws(course, *command)
            assert done.returncode == 2, (command, done.stderr)
            assert f"(pid {first.pid} on " in done.stderr and "is writing it now" in done.stderr
            assert "`kws grade submissions --data data --out grades --jobs 2" in done.stderr
        second = start(course, *GRADE, "--wait")
        assert "waiting for `kws grade submissions" in second.stderr.readline()
        (course / "hold" / "ann.go").touch()
        assert finish(first)[0] == 0
        code, _, err = finish(second)
        assert code == 0, err
    finally:
        for run in (first, second):
            if run is not None:
                kill_group(run)
    _assert_as_graded(course, graded[2])


# ---- graders and their sandboxes die with the run ------------------------------------------


@pytest.mark.parametrize("sandbox", ["bubblewrap", "hand-written"])
def test_graders_and_their_sandboxes_die_with_a_killed_run(course, sandbox, tmp_path):
    """SIGKILL of `kws grade`'s process group while ann's grader waits on a sandboxed child:
    neither the grader, nor the sandbox, nor the child it started outlives the run."""
    from kws.grading.sandbox import bwrap

    if sandbox == "bubblewrap" and bwrap.available() is None:
        pytest.skip("bubblewrap is not installed or the kernel refuses it")
    marker = f"kws-test-sandbox-{tmp_path.name}"
    temporary = tmp_path / "tmp"  # the run's TMPDIR: what it leaves there, seen
    temporary.mkdir()
    more = {"KWS_TEST_MARKER": marker, "TMPDIR": str(temporary)}
    more |= {"KWS_SANDBOX": "builtin"} if sandbox != "bubblewrap" else {}
    run = start(course, *GRADE, faults={"ann": "sandbox"}, **more)
    try:
        wait_for(course / "hold" / "ann.started", run)
        for _ in range(1200):  # the child starts in the sandbox (a Python without torch)
            if any("time.sleep(600)" in line for _, line in processes_naming(marker)):
                break
            assert run.poll() is None, finish(run)[2]
            time.sleep(0.05)
        assert processes_naming(marker), "the sandboxed child never started"
    finally:
        kill_group(run)
    _assert_no_process_left(marker)
    _assert_no_process_left(str(course / "submissions"))

    def left() -> list[str]:  # a run's folders: kws-sandbox-<pid>-..., kws-plan-<pid>-...
        parts = [p.name.rsplit("-", 2) for p in temporary.iterdir() if p.name.count("-") >= 3]
        return sorted(kind for kind, pid, _ in parts if pid.isdigit())

    assert {"kws-sandbox", "kws-plan"} <= set(left())  # SIGKILL: no process could remove them
    done = kws(course, *GRADE, TMPDIR=str(temporary))  # the next command removes them
    assert done.returncode == 0, done.stderr
    assert left() == []


# ---- what killed runs leave behind ---------------------------------------------------------


def test_what_killed_runs_left_half_written_is_removed_by_the_next(graded, tmp_path):
    """Temporary files of writes a kill cut short (``.gradebook.csv.<pid>.partial``, a
    grader's ``results/<student>.json.partial``, a staging folder) are removed by the next
    command that writes the folder; no grade changes."""
    course = _copy(graded[2], tmp_path / "course")
    grades = course / "grades"
    left = [grades / ".gradebook.csv.4242.partial", grades / "results" / "cy.json.partial",
            grades / "results" / ".partial" / "dan.json", grades / "logs" / ".partial" / "dan.txt"]  # fmt: skip
    for path in left:
        path.parent.mkdir(exist_ok=True)
        path.write_text("{half")
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    # `kws mark` saving a mark (no folder lock): its write in flight, named with its live pid
    in_flight = [grades / f".records.json.{writer.pid}.partial",
                 grades / "marks" / f".marks.json.{writer.pid}.partial"]  # fmt: skip
    left.append(grades / "marks" / f".marks.json.{ended.stdout.strip()}.partial")  # killed
    try:
        for path in in_flight + left[-1:]:
            path.write_text("{half")
        done = kws(course, "season", "grades")
        assert done.returncode == 0, done.stderr
        assert [p for p in in_flight if not p.exists()] == []  # its rename still finds it
    finally:
        writer.kill()
        writer.wait()
    for path in in_flight:
        path.unlink()
    assert [p for p in left if p.exists()] == [] and not (grades / "results" / ".partial").exists()
    _assert_as_graded(course, graded[2])


def test_a_stopped_export_leaves_no_half_written_file(graded, tmp_path):
    """Ctrl-C as `kws export` writes its CSV (a disk that fills stops it the same way): no
    ``canvas.csv.partial`` is left beside it, and no canvas.csv half-written."""
    course = _copy(graded[2], tmp_path / "course")
    code = ("import csv, sys\n"  # the CSV writer stopped from inside, as a signal would
            "def stopped(*args, **kwargs): raise KeyboardInterrupt\n"
            "csv.writer = stopped\n"
            "sys.argv = ['kws', *sys.argv[1:]]\n"
            "from kws.cli import main\n"
            "sys.exit(main(sys.argv[1:]))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, *EXPORT], cwd=course, capture_output=True,
                          text=True, env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[1])},
                          timeout=300)  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert sorted(p.name for p in course.glob("canvas.csv*")) == []


@contextlib.contextmanager
def _shared_copy(graded: dict[int, Path]) -> Iterator[tuple[Path, pwd.struct_passwd]]:
    """A copy of the graded class in a folder every local user may enter (a shared grading
    server's home: its folders 0755), and the second local user (``nobody``) to read it as;
    skipped where the test cannot act as that user (it needs root)."""
    if os.geteuid() != 0:
        pytest.skip("acting as a second local user needs root (this run is not)")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no local user `nobody` to read as")
    shared = Path(tempfile.mkdtemp(prefix="kws-shared-"))
    try:
        shared.chmod(0o755)
        course = _copy(graded[2], shared / "course")
        for path in [course, *course.rglob("*")]:
            if path.is_dir() and not path.is_symlink() and "grades" not in path.parts:
                path.chmod(0o755)
        yield course, nobody
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _as(user: pwd.struct_passwd, *command: str) -> subprocess.CompletedProcess:
    """`command` run as `user`, in no group of root's."""
    return subprocess.run(list(command), user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def _read_by(user: pwd.struct_passwd, files: list[Path]) -> list[str]:
    """The files of `files` that `user` can read."""
    script = 'for f; do cat "$f" >/dev/null 2>&1 && echo "$f"; done'
    return _as(user, "/bin/sh", "-c", script, "sh", *map(str, files)).stdout.split()


def _open_modes(folder: Path) -> dict[str, str]:
    """{path under `folder` (and itself): its mode} of each that another user could use."""
    modes = {p.relative_to(folder.parent).as_posix(): oct(p.stat().st_mode & 0o777)
             for p in [folder, *folder.rglob("*")]}  # fmt: skip
    return {path: mode for path, mode in modes.items() if int(mode, 8) & 0o077}


def test_no_other_local_user_reads_a_file_of_the_grades_folder(graded):
    """gradebook.csv, standings.json, records.json, marks/*.json and every other file of a
    graded folder: the instructor's alone (files 0600, folders 0700), as results/ is. Checked
    as a second local user (``nobody``) where the test runs as root, on a copy in a folder every
    user may enter."""
    with _shared_copy(graded) as (course, nobody):
        done = kws(course, "season", "grades")  # what any command that writes the folder leaves
        assert done.returncode == 0, done.stderr
        grades = course / "grades"
        files = [p for p in grades.rglob("*") if p.is_file()]
        assert {"gradebook.csv", "standings.json", "records.json", "rubrics.json"} <= {
            p.name for p in files
        }
        assert _open_modes(grades) == {}
        assert _read_by(nobody, files) == []
        assert _as(nobody, "ls", str(grades)).returncode != 0  # nor which students it holds
        # the check can fail: outside grades/ the user reads
        assert _as(nobody, "cat", str(course / "course.toml")).returncode == 0


WORKSHEET = "Identifier,Full name,Email address,Grade,folder\n" + "".join(
    f"Participant {100 + n},{name.title()},{name}@uni.example,,{name}\n"
    for n, name in enumerate(("ann", "bob", "cy", "dan"), start=1)
)


def test_no_other_local_user_reads_what_the_kit_publishes_of_the_grades(graded):
    """The Canvas and Moodle exports, the feedback pages and zips (Moodle's too) and the class
    report with its pictures, written with umask 022 into a course folder every user reads:
    each file 0600, each folder the kit made 0700 (the feedback folder too), whatever the
    umask; the second local user reads none of them, nor lists the feedback folder."""
    with _shared_copy(graded) as (course, nobody):
        (course / "worksheet.csv").write_text(WORKSHEET)
        commands = [
            EXPORT,
            ["export", "moodle", "grades", "--roster", "worksheet.csv", "--out",
             "lms/moodle.csv", "--unmarked", "zero"],
            ["feedback", "grades", "--out", "pages", "--moodle", "worksheet.csv"],
            ["report", "grades", "--out", "report/class.html"],
        ]  # fmt: skip
        umask = os.umask(0o022)  # the usual one: files 0644, folders 0755, unless the kit says
        try:
            for command in commands:
                done = kws(course, *command)
                assert done.returncode == 0, (command, done.stderr)
        finally:
            os.umask(umask)
        written = [course / "canvas.csv", course / "lms", course / "pages", course / "report"]
        files = [p for top in written for p in [top, *top.rglob("*")] if p.is_file()]
        names = {p.relative_to(course).as_posix() for p in files}
        assert {"canvas.csv", "lms/moodle.csv", "pages/ann/keyword_spotting.html",
                "pages/zips/ann.zip", "pages/moodle-keyword_spotting.zip",
                "report/class.html", "report/class-scores.png"} <= names, names  # fmt: skip
        for top in written:
            assert _open_modes(top) == {}, top
        assert _read_by(nobody, files) == []
        assert _as(nobody, "ls", str(course / "pages")).returncode != 0  # nor whose pages
        assert _read_by(nobody, [course / "worksheet.csv"]) != []  # the check can fail


# ---- the lock and the seal, one by one -----------------------------------------------------


def test_a_record_followed_by_the_tail_of_a_longer_one_reads_as_itself():
    record = RunRecord("kws season g", SEASON, 7, "lab", "/c", "2026-01-01T00:00:00+00:00")
    longer = RunRecord("kws grade submissions --data data --out grades --jobs 2", "class", 1,
                       "lab", "/c", "2026-01-01T00:00:00+00:00", said="graded 3 of 8")  # fmt: skip
    text = json.dumps(record.__dict__) + json.dumps(longer.__dict__)[40:]
    assert RunRecord.parse(text) == record
    assert RunRecord.parse("") is None and RunRecord.parse("{half") is None


def test_a_second_writer_is_refused_naming_the_first_and_a_dead_ones_lock_is_free(tmp_path):
    folder = tmp_path / "grades"
    code = ("import sys; from kws.grading.records.lock import holding\n"
            "with holding(sys.argv[1], 'kws season', scope='season'):\n"
            "    print('held', flush=True); sys.stdin.read()")  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(FolderBusy, match=rf"`kws season` \(pid {holder.pid} on .*--wait"):
            with holding(folder, "kws grade", scope="class"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with holding(folder, "kws grade", scope="class") as record:  # killed: its lock is free
        assert record.pid == os.getpid()


def test_a_writer_that_changes_no_record_leaves_the_folder_as_it_was(tmp_path):
    """A command refused or stopped before it changed a record puts the lock file back as it
    found it (or removes the one it made): the folder is byte for byte as it was."""
    folder = tmp_path / "grades"
    folder.mkdir()
    (folder / "gradebook.csv").write_text("student,total\n")
    with pytest.raises(ValueError, match="a mistake"), holding(folder, "kws season", scope=SEASON):
        raise ValueError("a mistake")
    assert not (folder / LOCK_FILE).exists()
    with holding(folder, "kws season", scope=SEASON):
        pass
    before = snapshot(folder)
    with pytest.raises(KeyboardInterrupt), holding(folder, "kws season", scope=SEASON):
        raise KeyboardInterrupt
    assert snapshot(folder) == before


def test_a_gradebook_without_its_seal_is_refused_naming_the_repair(tmp_path):
    (tmp_path / "gradebook.csv").write_text("student,total\nann,3\n")
    with pytest.raises(RecordsError, match=r"no records\.json.*kws season"):
        check_seal(tmp_path)


# ---- the real grader, its sandboxed children, the real `kws` -------------------------------


@pytest.mark.full
def test_the_real_grader_killed_mid_class_leaves_no_sandbox_and_its_rerun_grades_alike(
    tmp_path, tiny_data
):
    """`kws grade` as typed, grading real hand-ins of notebook 01 in the sandbox, killed with
    its process group while children run: no grader, sandbox or child outlives it, the folder
    is refused, and the same command then grades as a run never interrupted."""
    from grading_helpers import TINY_KWS, make_submission

    course = tmp_path / "course"
    for student in ("ann", "bob", "cy"):
        make_submission(course / "submissions" / student, "01_keyword_spotting.ipynb",
                        [(TINY_KWS, ["model"])], {"kws": ("KeywordTransformer", {"n_classes": 12})})  # fmt: skip
    (course / "data").symlink_to(tiny_data, target_is_directory=True)
    sandboxes = tmp_path / "tmp"  # the graders' TMPDIR: each child's folder, named by bubblewrap
    sandboxes.mkdir()
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1]), "TMPDIR": str(sandboxes)}
    grade = [sys.executable, "-m", "kws.cli", "grade", "submissions", "--data", "data",
             "--assignment", "keyword_spotting", "--jobs", "2"]  # fmt: skip
    clean = subprocess.run([*grade, "--out", "clean"], cwd=course, env=env, capture_output=True,
                           text=True, timeout=900)  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    run = subprocess.Popen([*grade, "--out", "grades"], cwd=course, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        while not any("kws.grading.sandbox.launch" in line for _, line in processes_naming(str(sandboxes))):  # fmt: skip
            assert run.poll() is None, run.communicate()
            time.sleep(0.05)
    finally:
        kill_group(run)
    _assert_no_process_left(str(sandboxes))
    _assert_no_process_left(str(course / "submissions"))
    export = subprocess.run([sys.executable, "-m", "kws.cli", "report", "grades"], cwd=course,
                            env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert export.returncode == 2 and "before it finished" in export.stderr, export.stderr
    again = subprocess.run([*grade, "--out", "grades"], cwd=course, env=env, capture_output=True,
                           text=True, timeout=900)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert grades_of(course / "grades") == grades_of(course / "clean")
