"""Rosters, times files and adjustments with Chinese names and Polish diacritics, as Excel saves
them where Windows is set to Traditional Chinese (Taiwan) or Polish (kws.grading.records.tables):
"CSV UTF-8" (a byte-order mark) and "Unicode text" (UTF-16, tabs) read right; plain "CSV", which
Excel writes in the Windows code page (Big5/cp950, cp1250; Polish Excel with semicolons), is
refused naming the file, the line and how to save it as CSV UTF-8, and never guessed. Each file
is made here with Python's codecs, byte for byte what Excel writes."""

from zoneinfo import ZoneInfo

import pytest

from kws.grading.records.adjustments import read_adjustments
from kws.grading.records.roster import RosterError, read_roster
from kws.grading.season.course import CourseError
from kws.grading.season.times import read_times_csv

TAIPEI, WARSAW = ZoneInfo("Asia/Taipei"), ZoneInfo("Europe/Warsaw")
# A Taiwanese class list: an English name first, so the first Chinese one is on line 3.
ZH_ROSTER = "Student,SIS Login ID,folder\r\nLee Amy,r13000,amy\r\n王小明,r13001,b13001\r\n陳怡君,r13002,b13002\r\n"
ZH_NAMES = ["Lee Amy", "王小明", "陳怡君"]
ZH_TIMES = (
    "student,assignment,submitted\r\nb13001,,2026-10-02 23:59\r\n王小明,,2026-10-03 00:20\r\n"
)
# Polish Excel's list separator is the semicolon (the decimal mark is a comma).
PL_ROSTER = (
    "Student;Email address;folder\r\nAnna Nowak;an@uw.edu.pl;an\r\n"
    "Łukasz Wójcik;lw@uw.edu.pl;lw\r\nZofia Żółkiewska;zz@uw.edu.pl;zz\r\n"
)
PL_NAMES = ["Anna Nowak", "Łukasz Wójcik", "Zofia Żółkiewska"]
PL_TIMES = "student;submitted\r\nan;02.10.2026 23:59\r\nżaneta;03.10.2026 00:20\r\n"
PL_ADJUSTMENTS = (
    "student,assignment,points,reason,who,when\r\n"
    "an,speaker_id,2,test 3 failed on a grader bug,Kim,2026-10-05T10:00:00+00:00\r\n"
    "lw,speaker_id,1,błąd w teście (zgłoszony na zajęciach),Łucja,2026-10-05T11:00:00+00:00\r\n"
)


def _excel_utf8(text: str) -> bytes:
    return "\ufeff".encode() + text.encode("utf-8")  # "CSV UTF-8": with a byte-order mark


def _excel_unicode_text(text: str, delimiter: str) -> bytes:
    return text.replace(delimiter, "\t").encode("utf-16")  # "Unicode text": UTF-16 LE, tabs


@pytest.mark.parametrize(
    "text, names, delimiter",
    [(ZH_ROSTER, ZH_NAMES, ","), (PL_ROSTER, PL_NAMES, ";")],
    ids=["zh-TW", "pl"],
)
def test_a_roster_saved_as_csv_utf8_or_unicode_text_reads_its_names(
    tmp_path, text, names, delimiter
):
    for name, data in (("utf8.csv", _excel_utf8(text)),
                       ("unicode.txt", _excel_unicode_text(text, delimiter))):  # fmt: skip
        (tmp_path / name).write_bytes(data)
        roster = read_roster(tmp_path / name)
        first = roster.header[0]
        assert [row[first] for row in roster.rows] == names, name
        assert roster.lines == [2, 3, 4]


@pytest.mark.parametrize(
    "text, codepage", [(ZH_ROSTER, "cp950"), (PL_ROSTER, "cp1250")], ids=["zh-TW", "pl"]
)
def test_a_roster_in_the_windows_code_page_is_refused_naming_the_line_and_the_fix(
    tmp_path, text, codepage
):
    path = tmp_path / "roster.csv"
    path.write_bytes(text.encode(codepage))
    with pytest.raises(RosterError) as refused:
        read_roster(path)
    said = str(refused.value)
    assert said.startswith(f"{path}, line 3: not UTF-8 text (byte ")
    assert "save the roster as CSV UTF-8 (Excel: File > Save As > 'CSV UTF-8" in said
    assert path.read_bytes() == text.encode(codepage)  # left as it was


def test_a_code_page_is_not_guessed_because_the_wrong_one_reads_without_an_error():
    """Why the kit refuses rather than guesses: Polish names in cp1250 are often valid Big5
    bytes, so a reader that tried Big5 would turn Łukasz into Chinese without a word."""
    for name in ("Łukasz Wójcik", "Zofia Żółkiewska"):
        misread = name.encode("cp1250").decode("cp950")  # no UnicodeDecodeError
        assert misread != name and not misread.isascii()


@pytest.mark.parametrize(
    "text, zone, codepage, expected",
    [
        (ZH_TIMES, TAIPEI, "cp950", {"b13001": "2026-10-02T23:59:00+08:00",
                                     "王小明": "2026-10-03T00:20:00+08:00"}),
        (PL_TIMES, WARSAW, "cp1250", {"an": "2026-10-02T23:59:00+02:00",
                                      "żaneta": "2026-10-03T00:20:00+02:00"}),
    ],
    ids=["zh-TW", "pl"],
)  # fmt: skip
def test_a_times_file_reads_as_csv_utf8_and_is_refused_in_the_code_page(
    tmp_path, text, zone, codepage, expected
):
    (tmp_path / "times.csv").write_bytes(_excel_utf8(text))
    times = read_times_csv(tmp_path / "times.csv", zone)
    assert {key[0]: t.submitted.isoformat() for key, t in times.items()} == expected
    (tmp_path / "legacy.csv").write_bytes(text.encode(codepage))
    with pytest.raises(CourseError) as refused:
        read_times_csv(tmp_path / "legacy.csv", zone)
    assert str(refused.value).startswith(f"{tmp_path / 'legacy.csv'}, line 3: not UTF-8 text")
    assert "save it as CSV UTF-8" in str(refused.value)


def test_adjustments_edited_in_a_spreadsheet_read_or_are_refused_by_line(tmp_path):
    """``adjustments.csv`` edited by hand: saved back by Polish Excel as CSV UTF-8 (a byte-order
    mark, semicolons) it reads the same; saved as its plain CSV (cp1250) it is refused."""
    (tmp_path / "adjustments.csv").write_bytes(_excel_utf8(PL_ADJUSTMENTS.replace(",", ";")))
    found = read_adjustments(tmp_path)
    assert found[("lw", "speaker_id")][0].reason == "błąd w teście (zgłoszony na zajęciach)"
    assert (
        found[("lw", "speaker_id")][0].who == "Łucja" and found[("an", "speaker_id")][0].points == 2
    )
    (tmp_path / "adjustments.csv").write_bytes(PL_ADJUSTMENTS.encode("cp1250"))
    with pytest.raises(ValueError, match=r"adjustments.csv, line 3: not UTF-8 text .* CSV UTF-8"):
        read_adjustments(tmp_path)
