"""Dates, times and course files as instructors' tools save them, read the same way on every
Python the kit supports (3.10 to 3.13): the kit's own reader (`kws.grading.season.dates`), not
`datetime.fromisoformat`, whose answers differ between versions. In .ci/fast-tests, so the
oldest Python runs it too."""

from datetime import datetime
from pathlib import Path

import pytest
from bad_input_corpus import COURSE, SI, WINDOWS

from kws.grading.season.course import read_course
from kws.grading.season.dates import DateError, parse_time
from kws.grading.season.times import read_times_csv
from kws.spec import ASSIGNMENTS


def test_a_course_file_saved_by_notepad_or_excel_reads_as_the_plain_one(tmp_path):
    plain, names = tmp_path / "plain.toml", sorted(ASSIGNMENTS)
    plain.write_text(COURSE)
    expected = read_course(plain, names)
    fixed = WINDOWS.replace("per_dya", "per_day")
    for name, data in (("bom-crlf.toml", b"\xef\xbb\xbf" + fixed.encode()),
                       ("utf16.toml", fixed.encode("utf-16"))):  # fmt: skip
        (tmp_path / name).write_bytes(data)
        course = read_course(tmp_path / name, names)
        assert (course.due, course.extensions, course.rule, course.release) == (
            expected.due, expected.extensions, expected.rule, expected.release)  # fmt: skip


@pytest.mark.parametrize(
    "text, moment",
    [
        ("2026-10-02T21:59:00Z", "2026-10-02T21:59:00+00:00"),  # Python 3.10's refusal
        ("2026-10-02T21:59:00.000Z", "2026-10-02T21:59:00+00:00"),  # JavaScript's toISOString
        ("2026-10-02 23:59:00+0200", "2026-10-02T23:59:00+02:00"),
        ("2026-10-02 23:59:00", "2026-10-02T23:59:00"),  # Excel's ISO-like cells
        ("2026-10-02 23:59", "2026-10-02T23:59:00"),
        ("2026-10-02T23:59:30,5-04:00", "2026-10-02T23:59:30.500000-04:00"),
    ],
)
def test_a_time_reads_the_same_on_every_python(text, moment):
    """Each form is read by the kit's own reader, not `datetime.fromisoformat`, whose answers
    differ between Python 3.10 and 3.11 (``Z``, ``+0200``, the comma)."""
    assert parse_time(text).isoformat() == moment


def test_excel_and_lms_times_files_read_as_written(tmp_path):
    """Excel's "CSV UTF-8" where the decimal mark is a comma: a byte-order mark, semicolons,
    CRLF, slash dates whose order one line settles (25/09: the day first), and a header in
    another case; "-" and a blank time record no hand-in."""
    text = ("Student;Assignment;Submitted\r\nann;;25/09/2026 20:00\r\nbob;speaker_id;"
            "02/10/2026 11:30 PM\r\ncy;;-\r\next;;\r\n")  # fmt: skip
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    zone = read_course(_plain(tmp_path), sorted(ASSIGNMENTS)).timezone
    times = read_times_csv(tmp_path / "excel.csv", zone)
    assert {key: t.submitted.isoformat() for key, t in times.items()} == {
        ("ann", ""): "2026-09-25T20:00:00-04:00",
        ("bob", SI): "2026-10-02T23:30:00-04:00",
    }
    assert times.notes == [f"{tmp_path / 'excel.csv'}: slash dates read day first, as line 2 shows"]
    assert datetime.fromisoformat(times[("ann", "")].submitted.isoformat())  # round trip


def test_a_german_excel_times_file_reads_day_first_with_the_same_note(tmp_path):
    """Excel in Germany: semicolons and dates with dots (``30.10.2026 22:59``), which can only
    be day first; ``01.10.2026`` too, though no number above 12 settles it."""
    text = "student;submitted\r\nann;30.10.2026 22:59\r\nbob;01.10.2026 09:00\r\n"
    (tmp_path / "de.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    zone = read_course(_plain(tmp_path), sorted(ASSIGNMENTS)).timezone
    times = read_times_csv(tmp_path / "de.csv", zone)
    assert {key[0]: t.submitted.isoformat() for key, t in times.items()} == {
        "ann": "2026-10-30T22:59:00-04:00", "bob": "2026-10-01T09:00:00-04:00"}  # fmt: skip
    assert times.notes == [
        f"{tmp_path / 'de.csv'}: dates with dots read day first (dd.mm.yyyy), as line 2 shows"
    ]


def _plain(folder: Path) -> Path:
    (folder / "course.toml").write_text(COURSE)
    return folder / "course.toml"


@pytest.mark.parametrize(
    "text, says",
    [
        ("2026-10-02", "a date without a time of day"),
        ("10/02/2026 23:59", "could be either day/month or month/day"),
        ("10/2/26 23:59", "a two-digit year"),
        ("2026-02-30 10:00", "no such date"),
        ("2026-10-02 25:00", "no such date"),
        ("13 PM", "not a date and time the kit reads"),
        ("2026-10-02 24:00", "24:00 is no time of day; write 23:59, the end of that day"),
        ("30.10.26 22:59", "a two-digit year"),
        ("30.10.2026", "a date without a time of day"),
    ],
)
def test_a_time_that_cannot_be_read_one_way_is_refused_with_the_fix(text, says):
    with pytest.raises(DateError, match=says):
        parse_time(text)
