"""What a careful colleague would say of a course file the kit reads (kws.grading.season.warn):
each warning names the file as given, its line and the fix, comes from every command that reads
the course file, and never changes a grade; the issue's own example, ``timezone = "EST"`` in a
New York term, moves a hand-in 31 minutes late to on time, and the warning says by how much.

The commands are typed as an instructor types them, in the course folder with relative paths
(tests/graded_class.py); the refusals under ``--strict`` are in tests/bad_input_corpus.py.
"""

from pathlib import Path

import pytest
from bad_input_corpus import COURSE, KS, SI, TIMES
from graded_class import copy_class, graded_class, kws, snapshot

from kws.grading.records.standings import read_standings
from kws.grading.season.course import read_course
from kws.spec import ASSIGNMENTS

EST = COURSE.replace('"America/New_York"', '"EST"')
# bob's hand-in of notebook 01 as Gradescope dates it: 00:30 New York time, 31 minutes late
LATE_BY_NEW_YORK = TIMES.replace("bob,,2026-10-02 23:30", "bob,,2026-10-03T00:30:00-04:00")


@pytest.fixture(scope="module")
def course(tmp_path_factory, tiny_data) -> Path:
    """The instructor's folder, graded (tests/graded_class.py)."""
    return graded_class(tmp_path_factory.mktemp("warnings") / "course", tiny_data)


def _read(tmp_path: Path, text: str):
    path = tmp_path / "course.toml"
    path.write_text(text)
    return read_course(path, sorted(ASSIGNMENTS))


def _kinds(course) -> list[str]:
    return [warning.kind for warning in course.warnings]


def test_the_file_the_kit_ships_as_an_example_draws_no_warning(tmp_path):
    assert _read(tmp_path, COURSE).warnings == ()
    assert _read(tmp_path, COURSE.replace("America/New_York", "UTC")).warnings == ()


def test_est_is_said_with_new_york_s_zone_and_the_hour_each_deadline_moves(tmp_path):
    course = _read(tmp_path, EST)
    (zone,) = course.warnings
    assert (zone.kind, zone.line, zone.meant) == ("zone", 1, "America/New_York")
    assert str(zone).startswith(f'{tmp_path / "course.toml"}, line 1: timezone = "EST" is a fixed '
                                "UTC−05:00 all year, with no daylight time")  # fmt: skip
    assert zone.fix == 'did you mean timezone = "America/New_York"?'
    # every date of the file is in New York's daylight time (before 1 November): an hour later
    moved = {shift.label: shift.hours for shift in zone.shifts}
    assert moved == {"[release] keyword_spotting": 1.0, "[release] speaker_id": 1.0,
                     "[due] keyword_spotting": 1.0, "[due] speaker_id": 1.0,
                     "[extensions.ext] speaker_id": 1.0, "[extensions.zoe] keyword_spotting": 1.0}  # fmt: skip
    assert "6 of the file's 6 dates fall 1 h later than on America/New_York's clock" in zone.said
    shift = next(s for s in zone.shifts if s.label == "[due] speaker_id")
    assert (shift.here.isoformat(), shift.meant.isoformat()) == (
        "2026-10-16T23:59:00-05:00", "2026-10-16T23:59:00-04:00")  # fmt: skip


def test_a_date_after_the_clocks_go_back_does_not_move(tmp_path):
    text = EST.replace('speaker_id = "2026-10-16 23:59"', 'speaker_id = "2026-11-13 23:59"')
    text = text.replace('speaker_id = "2026-10-20 23:59"', 'speaker_id = "2026-11-16 23:59"')
    (zone,) = _read(tmp_path, text).warnings
    assert {s.label: s.hours for s in zone.shifts}["[due] speaker_id"] == 0.0
    assert "4 of the file's 6 dates fall 1 h later" in zone.said  # and its extension


@pytest.mark.parametrize(
    "name, meant",
    [("CET", "Europe/Berlin"), ("MST", "America/Denver"), ("EET", "Europe/Athens"),
     ("HST", "Pacific/Honolulu"), ("GMT", "Europe/London"), ("EST5EDT", "America/New_York")],
)  # fmt: skip
def test_other_abbreviations_are_said_with_the_place_meant(tmp_path, name, meant):
    (zone,) = _read(tmp_path, COURSE.replace("America/New_York", name)).warnings
    assert (zone.kind, zone.line, zone.meant) == ("zone", 1, meant)
    assert zone.fix == f'did you mean timezone = "{meant}"?'


def test_a_fixed_offset_is_said_with_its_reversed_sign(tmp_path):
    (zone,) = _read(tmp_path, COURSE.replace("America/New_York", "Etc/GMT+5")).warnings
    assert 'timezone = "Etc/GMT+5" is a fixed UTC−05:00 all year' in zone.said
    assert zone.meant is None and zone.shifts == ()


def test_a_due_date_at_midnight_names_the_day_before(tmp_path):
    text = COURSE.replace('speaker_id = "2026-10-16 23:59"', 'speaker_id = "2026-10-17 00:00"')
    (midnight,) = _read(tmp_path, text).warnings
    assert (midnight.kind, midnight.line, midnight.key) == ("midnight", 16, ("due", "speaker_id"))
    assert "midnight at the start of Saturday 17 October 2026" in midnight.said
    assert midnight.fix.startswith('write "2026-10-16 23:59" (the end of Friday 16 October 2026)')


def test_a_due_date_on_a_weekend_is_said_not_refused(tmp_path):
    text = COURSE.replace('speaker_id = "2026-10-16 23:59"', 'speaker_id = "2026-10-18 23:59"')
    course = _read(tmp_path, text)
    (weekend,) = course.warnings
    assert (weekend.kind, weekend.line) == ("weekend", 16)
    assert weekend.said == "[due] speaker_id = 2026-10-18 23:59 falls on a Sunday"
    assert course.due["speaker_id"].isoformat() == "2026-10-18T23:59:00-04:00"  # as written


def test_a_time_the_clock_change_skips_or_repeats(tmp_path):
    text = COURSE.replace('"2026-10-02 23:59"', '"2026-11-01 01:30"')
    text = text.replace('speaker_id = "2026-10-16 23:59"', 'speaker_id = "2027-03-14 02:30"')
    text = text.replace('speaker_id = "2026-10-20 23:59"', 'speaker_id = "2027-03-16 23:59"')
    text = text.replace('"2026-10-09 23:59"', '"2026-11-09 23:59"')
    changes = [w for w in _read(tmp_path, text).warnings if w.kind == "clock-change"]
    assert [w.line for w in changes] == [15, 16]
    assert "2026-11-01 01:30 comes twice: the clocks go back over it" in changes[0].said
    assert "2027-03-14 02:30 does not exist: the clocks go forward over it" in changes[1].said


def test_a_grace_period_as_long_as_the_step_and_a_cap_reached_on_the_first_day(tmp_path):
    text = COURSE.replace("grace_minutes = 10", "grace_minutes = 1440")
    text = text.replace("cap = 0.30", "cap = 0.10")
    course = _read(tmp_path, text)
    assert [(w.kind, w.line) for w in course.warnings] == [("grace", 2), ("cap", 7)]
    grace, cap = course.warnings
    assert "use grace_days" in grace.fix
    assert "a minute late costs what a week late costs" in cap.said
    pro_rata = _read(tmp_path, text.replace('"started_days"', '"hours"').replace("1440", "60"))
    assert "an hour" in pro_rata.warnings[0].said


def test_est_moves_a_hand_in_31_minutes_late_to_on_time_and_kws_season_says_so(course, tmp_path):
    """The issue's example, typed in the course folder: the grades follow the file as written
    (a warning changes no grade), and the warning names the file, its line and the fix."""
    course = copy_class(course, tmp_path)
    (course / "est.toml").write_text(EST)
    (course / "late.csv").write_text(LATE_BY_NEW_YORK)
    done = kws(course, "season", "grades", "--course", "est.toml", "--times", "late.csv")
    assert done.returncode == 0, done.stderr
    assert 'warning: est.toml, line 1: timezone = "EST" is a fixed UTC−05:00' in done.stdout
    assert 'did you mean timezone = "America/New_York"?' in done.stdout
    assert str(course) not in done.stdout  # the file as typed
    assert read_standings(course / "grades").of("bob", KS).late is None  # on time in EST
    fixed = kws(course, "season", "grades", "--course", "course.toml", "--times", "late.csv")
    assert fixed.returncode == 0 and "warning" not in fixed.stdout
    late = read_standings(course / "grades").of("bob", KS).late
    assert (late.hours_late, late.grace_days_used) == (0.52, 1)  # 31 min: his grace day


def test_kws_gradescope_prints_the_warnings_of_the_file_it_bakes_in(course, tmp_path):
    (tmp_path / "est.toml").write_text(EST)
    (tmp_path / "data").symlink_to(course / "data")
    done = kws(tmp_path, "gradescope", "--data", "data", "--course", "est.toml", "--out", "a.zip")
    assert done.returncode == 0, done.stderr
    assert 'warning: est.toml, line 1: timezone = "EST"' in done.stdout
    assert (tmp_path / "a.zip").is_file()


def test_an_extension_for_a_folder_the_roster_lacks(course, tmp_path):
    """cy hands in but is not on the class roster kept with the grades: her extension is
    said (the LMS exports will leave her out), the season applied all the same."""
    course = copy_class(course, tmp_path)
    kept = course / "grades" / "roster.csv"
    kept.write_text(
        "".join(line for line in kept.read_text().splitlines(True) if ",cy\n" not in line)
    )
    (course / "cy.toml").write_text(COURSE + '\n[extensions.cy]\nspeaker_id = "2026-10-19 23:59"\n')
    done = kws(course, "season", "grades", "--course", "cy.toml")
    assert done.returncode == 0, done.stderr
    assert ("warning: cy.toml, line 24: [extensions.cy] 'cy' is not a hand-in folder of the roster "
            "(grades/roster.csv): the LMS exports leave them out") in done.stdout  # fmt: skip
    assert read_standings(course / "grades").of("cy", SI).status == "graded"


def test_strict_refuses_before_anything_is_written(course, tmp_path):
    course = copy_class(course, tmp_path)
    (course / "est.toml").write_text(EST)
    before = snapshot(course)
    done = kws(course, "season", "grades", "--course", "est.toml", "--strict")
    assert done.returncode == 2 and "1 warning(s) about the course file" in done.stderr
    assert "est.toml, line 1" in done.stderr and snapshot(course) == before
