"""A grade is right or refused: each mistake of tests/bad_input_corpus.py, typed as an
instructor types it (the real `kws` command, in the course folder, relative paths), stops the
command before anything is graded or written, with a message naming the file given (never the
copy kept in grades/), its line and the fix; every file of the course folder is byte for byte
as it was. Then what a refusal must not cost: a retried `kws adjust` counts once, and the
publishing commands refuse records that disagree and name the command that fixes them.

One class is graded once for the module (`course`): its results written with the grader's own
writers, then `kws season --course --times` as the instructor runs it.
"""

import csv
from pathlib import Path

import pytest
from bad_input_corpus import CORE, COURSE, KS, NEIGHBOURS, SI, STUDENTS, TIMES
from graded_class import SCORES, copy_class, document, graded_class, snapshot
from in_process import kws_here as kws  # each command as typed in the course folder

from kws.grading.records.gradebook import Graded, write_gradebook
from kws.grading.records.standings import read_standings


@pytest.fixture(scope="module")
def course(tmp_path_factory, tiny_data) -> Path:
    """The instructor's folder, graded (tests/graded_class.py)."""
    return graded_class(tmp_path_factory.mktemp("bad-input") / "course", tiny_data)


def test_the_class_is_graded_with_its_extensions_grace_days_and_late_rule(course):
    """The fixture's season: ext's extension covers her speaker ID hand-in; lateday's 5 hours
    late spend her grace day; zoe's extension (on the roster, nothing handed in) is accepted."""
    standings = read_standings(course / "grades")
    assert standings.of("ext", SI).late is None  # 2026-10-19: before her extended due date
    late = standings.of("lateday", KS).late
    assert (late.grace_days_used, late.penalty, late.source) == (1, 0.0, "times CSV")
    assert standings.of("lateday", SI).late is None  # her one time dates both notebooks
    assert standings.of("bob", KS).late is None  # 23:30 New York time
    assert standings.of("ext", KS).late is None  # 12:00Z, read on every Python


MISTAKES = [*CORE, *[pytest.param(m, marks=pytest.mark.slow) for m in NEIGHBOURS]]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_a_mistake_stops_the_command_before_it_grades_or_writes(course, mistake):
    for name, content in mistake.files.items():
        path = course / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    try:
        before = snapshot(course, mistake.files)
        done = kws(course, *mistake.command)
        after = snapshot(course, mistake.files)
    finally:
        for name in mistake.files:
            (course / name).unlink()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "gradebook:" not in done.stdout
    assert mistake.given in done.stderr
    assert str(course) not in done.stderr  # every path as typed, relative to the course folder
    for sentence in mistake.says:
        assert sentence in done.stderr
    for option, copy in (("--course", "grades/course.toml"), ("--times", "grades/times.csv")):
        if option in mistake.command:  # the file given is named, never the copy kept
            assert copy not in done.stderr
    assert after == before  # nothing graded, nothing written, nothing half-written


def test_a_retried_adjustment_counts_once_and_a_failed_one_not_at_all(course, tmp_path):
    """The issue's sequence: the kept course file broken by hand, `kws adjust` refused (naming
    that file) and nothing recorded; fixed, the adjustment recorded; the same command again
    changes nothing."""
    course = copy_class(course, tmp_path)
    kept = course / "grades" / "course.toml"
    kept.write_text(COURSE.replace("per_day", "per_dya"))
    adjust = ["adjust", "grades", "bob", KS, "1", "--reason", "Task 2 checked by hand"]
    before = snapshot(course)
    refused = kws(course, *adjust)
    assert refused.returncode == 2 and "grades/course.toml, line 6: [late] 'per_dya'" in (
        refused.stderr
    )
    assert snapshot(course) == before and not (course / "grades" / "adjustments.csv").exists()
    kept.write_text(COURSE)
    raw = read_standings(course / "grades").of("bob", KS).raw
    assert "final 26 of 33" in kws(course, *adjust).stdout  # 30 and 3 written, unmarked
    recorded = snapshot(course)
    again = kws(course, *adjust)
    assert again.returncode == 0 and "was recorded already" in again.stdout
    assert snapshot(course) == recorded
    rows = list(csv.DictReader(open(course / "grades" / "adjustments.csv")))
    assert [(r["student"], r["points"]) for r in rows] == [("bob", "1.0")]
    assert read_standings(course / "grades").of("bob", KS).final == raw + 1


def test_publishing_refuses_records_that_disagree_and_names_the_fix(course, tmp_path):
    """A gradebook edited by hand, and one rewritten without its per-notebook columns (what an
    interrupted command of an older kit left): `kws export` and `kws feedback` refuse, name
    `kws season grades` and write nothing; after it, they export the final scores."""
    course = copy_class(course, tmp_path)
    gradebook = course / "grades" / "gradebook.csv"
    kept = gradebook.read_text()
    gradebook.write_text(kept.replace("\nann,", "\nann,9", 1))  # a score typed in by hand
    export = ["export", "canvas", "grades", "--out", "canvas.csv", "--unmarked", "zero"]
    for command in (export, ["feedback", "grades", "--out", "feedback"]):
        refused = kws(course, *command)
        assert refused.returncode == 2 and "gradebook.csv changed since `kws season`" in (
            refused.stderr
        )
        assert "run `kws season grades`" in refused.stderr
    assert not (course / "canvas.csv").exists() and not (course / "feedback").exists()
    (course / "grades" / "records.json").unlink()  # an older kit's folder: no record
    documents = [Graded(s, document(SCORES[s]), "", 4.0) for s in STUDENTS]
    write_gradebook(documents, gradebook)  # raw totals, no per-notebook columns
    refused = kws(course, *export)
    assert refused.returncode == 2 and "has a gradebook.csv but no records.json" in refused.stderr
    assert "Run `kws season grades`" in refused.stderr
    assert kws(course, "season", "grades").returncode == 0
    done = kws(course, *export)
    assert done.returncode == 0, done.stderr
    finals = read_standings(course / "grades")
    exported = [
        line.split(",")[-1] for line in (course / "canvas.csv").read_text().splitlines()[2:]
    ]
    expected = [f"{sum(s.final for s in finals.students[n].values()):g}" for n in STUDENTS]
    assert exported == [*expected, "0"]  # zoe: on the roster, nothing handed in
    assert "missing (0 points): Zoe (zoe) [line 7]" in done.stdout


def test_file_times_date_a_hand_in_only_when_asked_for(course, tmp_path):
    """Without bob's times row, `kws season --file-times` dates his notebooks by their files
    (and says so); the choice is kept, so `kws season` and `kws adjust` apply it again."""
    course = copy_class(course, tmp_path)
    (course / "partial.csv").write_text(TIMES.replace("bob,,2026-10-02 23:30\n", ""))
    done = kws(course, "season", "grades", "--times", "partial.csv", "--file-times")
    assert done.returncode == 0, done.stderr
    assert ("note: hand-in times from file times (asked for with --file-times): bob "
            "(keyword_spotting, speaker_id)") in done.stdout  # fmt: skip
    assert read_standings(course / "grades").of("bob", KS).late.source == "file times"
    assert kws(course, "season", "grades").returncode == 0
    refused = kws(course, "season", "grades", "--no-file-times")
    assert refused.returncode == 2 and "bob (keyword_spotting, speaker_id)" in refused.stderr


def test_two_hand_in_folders_of_one_results_file_are_refused(tmp_path):
    """``dan x`` and ``dan_x`` would both be graded into results/dan_x.json, one grade lost."""
    from kws.grading.classrun.plan import handin_folders

    for name in ("dan x", "dan_x", "eve"):
        (tmp_path / name).mkdir()
    with pytest.raises(ValueError, match="'dan x' and 'dan_x' would share one results file"):
        handin_folders(tmp_path)
