"""A term, as an instructor runs it: three notebooks due two weeks apart, a course file (time
zone, grace period, a late penalty with a cap, a grace day, an extension), hand-in times from a
CSV, Gradescope's metadata and file times, a student missing two notebooks, a regrade and an
adjustment; then the gradebook, standings.json, the Canvas and Moodle exports and the report.

The results are written with the grader's own writers (results.json, gradebook, run.json), so
the commands read exactly what `kws grade` writes; they run as commands, from the
instructor's folder, with relative paths.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from course_helpers import ROOT
from grading_helpers import stand_in_grader

from kws.grading.classrun.regrade import keep_earlier, record_regrade, replace_row
from kws.grading.judge.document import TestResult, results_document, write_results
from kws.grading.publish.report import analysis as report
from kws.grading.publish.report.analysis import score_distributions
from kws.grading.publish.report.page import _rows, write_report
from kws.grading.publish.similarity.matches import REFERENCE, Match
from kws.grading.records.gradebook import (
    Graded,
    write_gradebook,
    write_run_record,
    write_similar_to,
)
from kws.grading.records.grades import read_grades
from kws.grading.records.standings import read_standings
from kws.grading.season.compute import with_standings
from kws.grading.season.course import CourseError, read_course
from kws.grading.season.times import read_times_csv
from kws.spec import ASSIGNMENTS

KS, SI, PT = "keyword_spotting", "speaker_id", "patch_transformer"
TESTS = {KS: [("ks task", 10.0), ("ks accuracy", 20.0)], SI: [("si all", 44.0)],
         PT: [("pt all", 26.0)]}  # fmt: skip
COURSE = """
timezone = "Europe/Berlin"
grace_minutes = 30
grace_days = 1

[late]
per_day = 0.10
cap = 0.30

[due]
keyword_spotting = "2026-10-02 23:59"
speaker_id = "2026-10-16 23:59"
patch_transformer = "2026-10-30 23:59"   # after the clocks change: +01:00

[extensions.cy]
speaker_id = "2026-10-18 23:59"
"""
# The times CSV the instructor exported from the LMS: bob per notebook, cy's whole hand-in
# except speaker ID, which came in before cy's extended due date but after everyone else's.
TIMES = """student,assignment,submitted
bob,keyword_spotting,2026-10-03T00:20:00+02:00
bob,speaker_id,2026-10-17T10:00:00+02:00
bob,patch_transformer,2026-11-01T12:00:00+01:00
cy,,2026-10-01T09:00:00+02:00
cy,speaker_id,2026-10-18T20:00:00+02:00
"""
# Each student's points per notebook (None: not handed in).
SCORES = {
    "ann": {KS: (10, 20), SI: (44,), PT: (26,)},
    "bob": {KS: (10, 20), SI: (40,), PT: (26,)},
    "cy": {KS: (10, 18), SI: (44,), PT: (20,)},
    "dee": {KS: (10, 15), SI: None, PT: None},
    "eve": {KS: (0, 10), SI: (44,), PT: (26,)},  # graded again below: a grader bug cost Task 1
    "fay": {KS: (10, 10), SI: (44,), PT: (26,)},
}
ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,folder,Email address
Ann,1,S1,ann,A,ann,ann@uni.example
Bob,2,S2,bob,A,bob,bob@uni.example
Cy,3,S3,cy,A,cy,cy@uni.example
Dee,4,S4,dee,A,dee,dee@uni.example
Eve,5,S5,eve,A,eve,eve@uni.example
Fay,6,S6,fay,A,fay,fay@uni.example
Gus,7,S7,gus,A,gus,gus@uni.example
"""


def _document(scores: dict) -> dict:
    tests = []
    for name, points in scores.items():
        for (title, maximum), got in zip(TESTS[name], points or (), strict=False):
            status = "passed" if got == maximum else "failed"
            facts = {"assignment": name, "test": title.replace(" ", "_")}
            tests.append(TestResult(title, float(got), maximum, status, "", "visible", facts))
    return results_document(tests, output="", execution_time=3)


def _handin(folder: Path, scores: dict) -> None:
    """The notebooks the student handed in (empty ones: nothing here runs them)."""
    folder.mkdir(parents=True)
    for name, points in scores.items():
        if points is not None:
            nbformat.write(nbformat.v4.new_notebook(), folder / ASSIGNMENTS[name].notebook)


@pytest.fixture
def term(tmp_path) -> Path:
    """The instructor's folder after `kws grade submissions --out grades` of the class."""
    course = tmp_path / "course"
    graded = []
    for student, scores in SCORES.items():
        _handin(course / "submissions" / student, scores)
        document = _document(scores)
        write_results(course / "grades" / "results" / f"{student}.json", document)
        graded.append(Graded(student, document, "", 4.0))
    write_gradebook(graded, course / "grades" / "gradebook.csv")
    write_run_record(course / "grades", course / "submissions", course / "data", None)
    (course / "course.toml").write_text(COURSE)
    (course / "times.csv").write_text(TIMES)
    (course / "roster.csv").write_text(ROSTER)
    on_time = {"created_at": "2026-10-01T14:22:32.365935+02:00", "id": 1}  # Gradescope's keys
    for student in ("ann", "eve", "fay"):
        (course / "submissions" / student / "submission_metadata.json").write_text(
            json.dumps(on_time)
        )
    late = datetime.fromisoformat("2026-10-08T12:00:00+02:00").timestamp()  # dee: file times
    os.utime(course / "submissions" / "dee" / ASSIGNMENTS[KS].notebook, (late, late))
    return course


def _kws(cwd: Path, *args: str) -> str:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "kws.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _regrade_eve(course: Path) -> None:
    """What `kws grade submissions --student eve` does around its grader run."""
    grades = course / "grades"
    earlier = keep_earlier(grades, "eve")
    scores = SCORES["eve"] | {KS: (10, 20)}
    now = Graded("eve", _document(scores), "", 5.0)
    write_results(grades / "results" / "eve.json", now.document)
    record_regrade(grades, "eve", earlier, now)
    replace_row(grades, now)


def test_a_term_gradebook_standings_exports_and_report_say_the_right_numbers(term):
    printed = _kws(term, "season", "grades", "--course", "course.toml", "--times", "times.csv",
                   "--file-times")  # fmt: skip
    assert "bob patch_transformer: 36.02 h late (times CSV), 0 grace day(s), -5.8" in printed
    assert ("note: hand-in times from file times (asked for with --file-times): "
            "dee (keyword_spotting)\n") in printed  # fmt: skip
    write_similar_to(read_grades(term / "grades"), {"eve": "fay 91 %", "fay": "eve 91 %"})
    _regrade_eve(term)  # `kws grade --student eve` keeps what `kws report` added
    printed = _kws(term, "adjust", "grades", "fay", KS, "2", "--reason", "Task 2 checked by hand",
                   "--who", "TA Kim")  # fmt: skip
    assert "fay keyword_spotting: raw 20, final 22 of 33" in printed
    _kws(term, "season", "grades")  # the kept course file, times, choice and adjustment, again

    standings = read_standings(term / "grades")
    final = {s: {a: e.final for a, e in entries.items()} for s, entries in standings.students.items()}  # fmt: skip
    assert final == {
        "ann": {KS: 30, PT: 26, SI: 44},
        "bob": {KS: 30, PT: 20.2, SI: 40},  # KS 21 min late: within the grace period
        "cy": {KS: 28, PT: 20, SI: 44},  # SI after the due date, before cy's extension
        "dee": {KS: 15.1, PT: 0, SI: 0},  # 6 started days late, 1 a grace day: 50 %, capped 30 %
        "eve": {KS: 30, PT: 26, SI: 44},  # the regrade's result
        "fay": {KS: 22, PT: 26, SI: 44},  # 20 + 2 by TA Kim
    }
    bob_si = standings.of("bob", SI)
    assert bob_si.late.grace_days_used == 1 and bob_si.late.penalty == 0  # the grace day
    assert standings.of("bob", PT).late.grace_days_used == 0  # spent already: 2 days x 10 %
    assert standings.of("bob", KS).late is None and standings.of("cy", SI).late is None
    dee = standings.of("dee", KS).late
    assert (dee.source, dee.grace_days_used, dee.penalty) == ("file times", 1, 9.9)
    assert standings.of("dee", SI).status == "missing" and standings.of("eve", KS).raw == 30
    assert standings.assignments[PT]["due"] == "2026-10-30T23:59:00+01:00"
    assert standings.of("fay", KS).adjustments[0].who == "TA Kim"

    rows = {r["student"]: r for r in csv.DictReader(open(term / "grades" / "gradebook.csv"))}
    assert rows["bob"]["patch_transformer late penalty"] == "5.8"
    assert (rows["bob"]["total"], rows["bob"]["raw_total"]) == ("90.2", "96.0")
    assert rows["dee"]["speaker_id status"] == "missing" and rows["dee"]["si all"] == ""
    assert rows["dee"]["max_score"] == "109.0"  # the missing notebooks were due: they count
    assert rows["fay"]["keyword_spotting adjustments"] == "2.0"
    assert (rows["eve"]["similar_to"], rows["fay"]["similar_to"]) == ("fay 91 %", "eve 91 %")
    history = list(csv.DictReader(open(term / "grades" / "history" / "regrades.csv")))
    assert [(h["student"], h["earlier_raw_total"], h["raw_total"]) for h in history] == [
        ("eve", "80.0", "100.0")
    ]
    assert len(list((term / "grades" / "history").glob("eve-*.json"))) == 1

    # Each notebook asks a written question of 3 points no one marked here: counted as 0.
    _kws(term, "export", "canvas", "grades", "--roster", "roster.csv", "--out", "canvas.csv",
         "--unmarked", "zero")  # fmt: skip
    canvas = (term / "canvas.csv").read_text().splitlines()
    assert canvas[1].endswith(",109") and [line.split(",")[-1] for line in canvas[2:]] == [
        "100", "90.2", "92", "15.1", "100", "92", "0"]  # fmt: skip
    printed = _kws(term, "export", "moodle", "grades", "--roster", "roster.csv", "--out",
                   "moodle.csv", "--assignment", SI, "--missing", "blank", "--unmarked",
                   "zero")  # fmt: skip
    assert "7 students, column" in printed and "out of 47 points (2 missing, no grade)" in printed
    assert "missing (no grade): Dee (dee) [line 5], Gus (gus) [line 8]" in printed
    moodle = [line.split(",")[-1] for line in (term / "moodle.csv").read_text().splitlines()[1:]]
    assert moodle == ["44", "40", "44", "-", "44", "44", "-"]  # dee and gus: no grade

    grades = with_standings(read_grades(term / "grades"))
    scores, maximum = score_distributions(grades)[SI]
    assert sorted(scores) == [40, 44, 44, 44, 44] and maximum == 47  # dee: not a 0
    si_row = next(t for t in report.test_table(grades) if t.name == "si all")
    assert si_row.pass_rate == pytest.approx(0.8) and si_row.points_lost == 4
    page = write_report(term / "grades", jobs=1).page.read_text()
    assert "5 handed in · 1 missing" in page and "<h2>Late work and adjustments</h2>" in page
    assert "36.02 h late; 0 grace day(s); −5.8 (times CSV)" in page
    assert "+2: Task 2 checked by hand (TA Kim" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_every_feedback_page_of_the_term_says_the_right_numbers(term, tmp_path):
    """`kws feedback` after the season, the regrade and the adjustment: a page per student and
    notebook, missing ones included, each with its final score, late penalty and adjustment;
    no page names another student; Chromium renders one with its numbers."""
    _kws(term, "season", "grades", "--course", "course.toml", "--times", "times.csv",
         "--file-times")  # fmt: skip
    _regrade_eve(term)
    _kws(term, "adjust", "grades", "fay", KS, "2", "--reason", "Task 2 checked by hand",
         "--who", "TA Kim")  # fmt: skip
    _kws(term, "feedback", "grades", "--out", "feedback")
    pages = {p.relative_to(term / "feedback").as_posix(): p.read_text()
             for p in (term / "feedback").glob("*/*.html")}  # fmt: skip
    assert len(pages) == 6 * 3  # dee's two missing notebooks get a page too
    cards = {name: re.search(r'<div class="card" id="final"><b>([^<]*)</b>', page)[1]
             for name, page in pages.items()}  # fmt: skip
    assert cards == {
        f"{student}/{name}.html": f"{final:.4g} / {maximum:.4g}"
        for student, finals in {
            "ann": (30, 44, 26),
            "bob": (30, 40, 20.2),
            "cy": (28, 44, 20),
            "dee": (15.1, 0, 0),
            "eve": (30, 44, 26),
            "fay": (22, 44, 26),
        }.items()  # fmt: skip
        for (name, maximum), final in zip(((KS, 33), (SI, 47), (PT, 29)), finals, strict=True)
    }
    assert "−5.8" in pages[f"bob/{PT}.html"] and "36.0 h late" in pages[f"bob/{PT}.html"]
    assert "1 grace day used" in pages[f"bob/{SI}.html"]
    assert "Task 2 checked by hand (TA Kim" in pages[f"fay/{KS}.html"]
    assert "You did not hand in this notebook" in pages[f"dee/{SI}.html"]
    assert "not handed in" in pages[f"dee/{PT}.html"]
    for name, page in pages.items():
        others = set(SCORES) - {name.split("/")[0]}
        assert not [o for o in others if f">{o}<" in page or f" {o} " in page], name
    if CHROMIUM is None:
        return  # the pages' HTML is checked above; tests/test_feedback.py says the skip
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}"]
    page = (term / "feedback" / "bob" / f"{PT}.html").as_uri()
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page], capture_output=True,
                         text=True, timeout=120).stdout  # fmt: skip
    assert "20.2 / 29" in dom and "−5.8" in dom


def test_a_report_lists_each_notebook_a_hand_in_matches_the_reference_in():
    """One student matching the reference in two notebooks gets a row for each."""
    matches = [Match(KS, "ann", REFERENCE, 40, 0.9), Match(SI, "ann", REFERENCE, 50, 0.95)]
    rows = _rows([], matches)["With the reference solution"]
    assert [row[2] for row, _ in rows] == [KS, SI]


@pytest.mark.parametrize(
    "text, says",
    [
        ('timezone = "Mars/Olympus"', "line 1: timezone = 'Mars/Olympus' is not an IANA time"),
        (
            '[due]\nkeyword_spoting = "2026-10-02 23:59"',
            "line 2: [due] 'keyword_spoting' is not an assignment; did you mean keyword_spotting?",
        ),
        ('[due]\nspeaker_id = "2 Oct"', "line 2: [due] speaker_id = '2 Oct' is not a date the"),
        ("[late]\ncap = 5", "line 2: [late] cap = 5; give a number from 0 to 1"),
        ("deadline = 3", "line 1: 'deadline' is not a key of the course file"),
        (
            '[due]\nspeaker_id = "2026-10-16 23:59"\n[requests]\nspeaker_id = "2026-10-02 23:59"',
            "line 4: [requests] speaker_id = 2026-10-02T23:59:00+00:00 is not after its due date",
        ),
    ],
)
def test_a_course_file_mistake_names_the_file_and_the_fix(tmp_path, text, says):
    path = tmp_path / "course.toml"
    path.write_text(text)
    with pytest.raises(CourseError) as error:
        read_course(path, sorted(ASSIGNMENTS))
    assert str(path) in str(error.value) and says in str(error.value)


def test_without_a_course_file_everyone_is_on_time_and_missing_is_not_zero(term):
    """`kws grade` with no course file: standings.json still written, final = raw, and the
    maximum of a notebook-01-only hand-in is notebook 01's."""
    _kws(term, "season", "grades")
    standings = read_standings(term / "grades")
    assert all(e.late is None and e.final == e.raw
               for entries in standings.students.values() for e in entries.values())  # fmt: skip
    rows = {r["student"]: r for r in csv.DictReader(open(term / "grades" / "gradebook.csv"))}
    assert (rows["dee"]["total"], rows["dee"]["max_score"]) == ("25.0", "33.0")
    assert rows["ann"]["max_score"] == "109.0"


@pytest.mark.slow
@pytest.mark.full  # two real `kws grade` runs and a regrade: 18 CPU-s
def test_regrading_one_student_replaces_only_their_row_and_keeps_the_adjustments(tmp_path):
    """The real `kws grade`, `kws adjust`, then `kws grade --student bob` after bob's hand-in
    was fixed: ann's row is as it was, bob's changed, his earlier result is in history/, and
    ann's adjustment is still applied."""
    from report_helpers import RECIPES, TASK1, solution_cells, write_handin

    from kws.data.synthetic import make_speech_commands

    course = tmp_path / "course"
    make_speech_commands(course / "data", "tiny", seed=0)
    write_handin(course / "submissions" / "ann", *solution_cells())
    write_handin(course / "submissions" / "bob")  # the notebook as released
    grade = ["grade", "submissions", "--data", "data", "--out", "grades", "--assignment", KS]
    _kws(course, *grade)
    _kws(course, "adjust", "grades", "ann", KS, "-1", "--reason", "late README")
    before = {r["student"]: r for r in csv.DictReader(open(course / "grades" / "gradebook.csv"))}
    write_handin(course / "submissions" / "bob", TASK1["A"], RECIPES["A"])  # fixed: Task 1
    printed = _kws(course, *grade, "--student", "bob")
    assert "bob regraded; the earlier result is kept in grades/history/" in printed
    after = {r["student"]: r for r in csv.DictReader(open(course / "grades" / "gradebook.csv"))}
    assert list(after) == ["ann", "bob"] and after["ann"] == before["ann"]
    assert float(after["bob"]["raw_total"]) > float(before["bob"]["raw_total"])
    assert float(after["ann"]["total"]) == float(after["ann"]["raw_total"]) - 1
    history = list(csv.DictReader(open(course / "grades" / "history" / "regrades.csv")))
    assert [h["student"] for h in history] == ["bob"]
    assert float(history[0]["earlier_raw_total"]) == float(before["bob"]["raw_total"])


@pytest.mark.slow
@pytest.mark.full  # two real `kws grade` runs: 15 CPU-s
def test_kws_grade_reads_the_course_file_once_a_run(tmp_path, monkeypatch):
    """`kws grade --course` typed by the instructor (run in this process, so each read of the
    course file is seen): the class run and a regrade read and parse the course file once each,
    its season, warnings and Kaggle rule all from that one reading, and the season applies."""
    from report_helpers import write_handin

    from kws.cli import main
    from kws.data.synthetic import make_speech_commands
    from kws.grading.season import course as course_module

    course = tmp_path / "course"
    make_speech_commands(course / "data", "tiny", seed=0)
    write_handin(course / "submissions" / "bob")  # the notebook as released
    (course / "course.toml").write_text(COURSE)
    (course / "times.csv").write_text(
        "student,assignment,submitted\nbob,,2026-10-03T12:00:00+02:00\n"
    )
    (course / "roster.csv").write_text(ROSTER)  # the students with an extension
    read, text = [], course_module.course_text
    monkeypatch.setattr(course_module, "course_text", lambda path: read.append(path) or text(path))
    monkeypatch.chdir(course)
    grade = ["grade", "submissions", "--data", "data", "--out", "grades", "--assignment", KS,
             "--course", "course.toml", "--times", "times.csv"]  # fmt: skip
    assert main([*grade, "--roster", "roster.csv"]) == 0
    assert read == [Path("course.toml")]
    assert main([*grade, "--student", "bob"]) == 0
    assert read == [Path("course.toml")] * 2
    late = read_standings(course / "grades").students["bob"][KS].late
    assert late.submitted == "2026-10-03T12:00:00+02:00" and late.hours_late > 0  # times.csv's


def test_kws_adjust_refuses_what_it_cannot_record_and_says_why(term):
    _kws(term, "season", "grades")
    env = os.environ | {"PYTHONPATH": str(ROOT)}

    def refused(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "kws.cli", "adjust", "grades", *args],
                              cwd=term, env=env, capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 2 and "Traceback" not in done.stderr
        return done.stderr

    assert "'zed' is not in grades's gradebook; its students: ann, bob" in refused(
        "zed", KS, "1", "--reason", "r"
    )
    assert "'keyword' was not graded in grades" in refused("ann", "keyword", "1", "--reason", "r")
    assert "an adjustment needs a reason" in refused("ann", KS, "1", "--reason", " ")
    assert not (term / "grades" / "adjustments.csv").exists()


@pytest.mark.parametrize(
    "text, says",
    [
        ("name,when\nann,2026-10-01\n", "needs the columns student and submitted"),
        (
            "student,submitted\nann,2026-10-01T10:00\nbob,yesterday\n",
            "line 3: submitted = 'yesterday' is not a time the kit reads",
        ),
    ],
)
def test_a_times_csv_mistake_names_the_file_line_and_fix(tmp_path, text, says):
    path = tmp_path / "times.csv"
    path.write_text(text)
    with pytest.raises(CourseError) as error:
        read_times_csv(path, read_course(_course(tmp_path), sorted(ASSIGNMENTS)).timezone)
    assert str(path) in str(error.value) and says in str(error.value)


# Moodle's "Download grading worksheet" (its columns as Moodle writes them), bob's row with the
# folder column an instructor adds, cy's matched by the folder Moodle's download gives her.
WORKSHEET = """Identifier,Full name,Email address,Status,Grade,Maximum Grade,\
Grade can be changed,Last modified (submission),Last modified (grade),Feedback comments,folder
Participant 2,Bob,bob@uni.example,Submitted for grading,,100,Yes,\
"Saturday, 31 October 2026, 11:59 PM",-,,bob
Participant 3,Cy Doe,cy@uni.example,Submitted for grading,,100,Yes,2026-10-01T09:00:00+02:00,-,,
Participant 4,Dee,dee@uni.example,No submission,,100,Yes,-,-,,dee
"""


def test_moodles_grading_worksheet_gives_the_hand_in_times(term):
    """`kws season --times` with Moodle's worksheet: its "Last modified (submission)" in Moodle's
    English format, read in the course's time zone, counts for every notebook of bob's hand-in
    (the source says so); a row without a folder column is keyed by Moodle's download folder,
    and refused where no hand-in folder has that name; "-" (no submission) gives no time, so
    dee keeps her file times."""
    (term / "worksheet.csv").write_text(WORKSHEET)
    zone = read_course(term / "course.toml", sorted(ASSIGNMENTS)).timezone
    times = read_times_csv(term / "worksheet.csv", zone)
    assert times[("Cy Doe_3_assignsubmission_file_", "")].submitted.isoformat() == (
        "2026-10-01T09:00:00+02:00"
    )
    assert ("dee", "") not in times
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    season = ["season", "grades", "--course", "course.toml", "--file-times", "--times"]
    refused = subprocess.run([sys.executable, "-m", "kws.cli", *season, "worksheet.csv"],
                             cwd=term, env=env, capture_output=True, text=True)  # fmt: skip
    assert (
        refused.returncode == 2
        and (
            "worksheet.csv, line 3: Moodle's download folder 'Cy Doe_3_assignsubmission_file_' is "
            "no hand-in folder; add a column folder"
        )
        in refused.stderr
    )
    (term / "worksheet.csv").write_text(WORKSHEET.replace(",-,,\n", ",-,,cy\n", 1))
    printed = _kws(term, *season, "worksheet.csv")
    standings = read_standings(term / "grades")
    late = standings.of("bob", PT).late
    assert (late.source, late.hours_late) == ("Moodle worksheet", 24.0)
    assert standings.of("bob", KS).late.source == "Moodle worksheet"
    assert all(standings.of("cy", name).late is None for name in (KS, SI, PT))  # her row
    assert standings.of("dee", KS).late.source == "file times" and "dee" in printed
    (term / "bad.csv").write_text(WORKSHEET.replace("Saturday, 31 October", "Samstag, 31. Oktober"))
    with pytest.raises(CourseError, match=r"bad.csv, line 2: .* neither Moodle's English date"):
        read_times_csv(term / "bad.csv", zone)


def _course(folder: Path) -> Path:
    (folder / "course.toml").write_text(COURSE)
    return folder / "course.toml"


def test_a_class_graded_in_shards_gets_the_course_file_when_merged(tmp_path, tiny_data):
    """`kws grade --shard I/N --course FILE` twice, then `kws merge`: the merged gradebook's
    late penalties are those of one `kws grade --course` of the whole class."""
    from batch_helpers import grade_batch

    from kws.grading.classrun.merge import merge_shards
    from kws.grading.classrun.shards import Shard

    grader = stand_in_grader(tmp_path / "grader")
    for name in ("ann", "bob", "cy"):
        (tmp_path / "subs" / name).mkdir(parents=True)
    course, times = tmp_path / "course.toml", tmp_path / "times.csv"
    course.write_text(COURSE)
    times.write_text("student,submitted\nann,2026-10-01T12:00+02:00\n"
                     "bob,2026-10-04T12:00+02:00\ncy,2026-10-02T23:00+02:00\n")  # fmt: skip
    season = {"grader": grader, "course": course, "times": times}
    grade_batch(tmp_path / "subs", tiny_data, tmp_path / "whole", **season)
    for i in range(2):
        grade_batch(tmp_path / "subs", tiny_data, tmp_path / "split", shard=Shard(i, 2), **season)
    merge_shards(tmp_path / "split")
    whole, split = (read_standings(tmp_path / f) for f in ("whole", "split"))
    assert split.students == whole.students
    assert split.of("bob", KS).late.penalty == 3.3  # 1 day after the grace day: 10 % of 30 + 3
    assert split.of("ann", KS).late is None
