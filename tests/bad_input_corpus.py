"""The mistakes instructors make with what they give the season's commands, as they make them:
a misspelled key in a table, an extension for a name that is no hand-in folder, a times row for
one, a time the CSV cannot read, a course file saved by Notepad or Excel, Excel's dates, a
roster with one folder twice, a due date before the release, ... (issue 52 and its neighbours).

Each `Mistake` is the files the instructor wrote (named as given on the command line), the
`kws` command typed in the course folder with relative paths, and what the refusal must say
besides the file's name. `CORE` marks the issue's own mistakes, run in every test run; the
others run with the slow tests. tests/test_bad_input.py runs them against one graded class.
"""

import codecs
from dataclasses import dataclass, field

KS, SI = "keyword_spotting", "speaker_id"
STUDENTS = ("ann", "bob", "cy", "ext", "lateday")  # the hand-in folders
COURSE = """timezone = "America/New_York"
grace_minutes = 10
grace_days = 1

[late]
per_day = 0.10
cap = 0.30
count = "started_days"

[release]
keyword_spotting = "2026-09-18 12:00"
speaker_id = "2026-09-25 12:00"

[due]
keyword_spotting = "2026-10-02 23:59"
speaker_id = "2026-10-16 23:59"

[extensions.ext]
speaker_id = "2026-10-20 23:59"

[extensions.zoe]   # on the roster, nothing handed in yet
keyword_spotting = "2026-10-09 23:59"
"""
TIMES = """student,assignment,submitted
ann,,2026-10-01T20:00:00-04:00
bob,,2026-10-02 23:30
cy,,2026-10-01 09:00
ext,keyword_spotting,2026-10-02T12:00:00Z
ext,speaker_id,2026-10-19 10:00
lateday,,2026-10-03 05:00
"""
ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,folder
Ann,1,S1,ann,A,ann
Bob,2,S2,bob,A,bob
Cy,3,S3,cy,A,cy
Ext,4,S4,ext,A,ext
Lately,5,S5,lateday,A,lateday
Zoe,6,S6,zoe,A,zoe
"""
GRADE = ["grade", "submissions", "--data", "data", "--out", "grades", "--timeout", "60"]


@dataclass(frozen=True)
class Mistake:
    """A mistake: `files` {name: text or bytes} written in the course folder, the `command`
    after ``kws`` (naming the file given), and the sentences the refusal must hold."""

    name: str
    files: dict[str, str | bytes]
    command: list[str]
    says: list[str] = field(default_factory=list)
    names: str = ""  # what the message names when it is not the first file or the last word

    @property
    def given(self) -> str:
        """The file or folder the instructor gave, as typed: `names`, else the first of
        `files`, else the command's last word."""
        return self.names or next(iter(self.files), self.command[-1])


def _course(old: str, new: str, name: str = "course-new.toml") -> dict[str, str]:
    assert old in COURSE, old
    return {name: COURSE.replace(old, new)}


def _times(old: str, new: str, name: str = "times-new.csv") -> dict[str, str]:
    assert old in TIMES, old
    return {name: TIMES.replace(old, new)}


def _season(files: dict, option: str) -> list[str]:
    return ["season", "grades", option, next(iter(files))]


TYPO = _course("per_day = 0.10", "per_dya = 0.10")
EXT = _course("[extensions.ext]", "[extensions.Ext]")
NON_FOLDER = _times("lateday,,", "late_day,,")
WINDOWS = COURSE.replace("per_day = 0.10", "per_dya = 0.10").replace("\n", "\r\n")

CORE = [
    Mistake("a misspelled key in a table", TYPO, _season(TYPO, "--course"),
            ["line 6: [late] 'per_dya' is not a key of [late]; did you mean per_day?"]),
    Mistake("an extension for a name that is not a hand-in folder", EXT,
            _season(EXT, "--course"),
            ["line 18: [extensions.Ext] no hand-in folder is called 'Ext'; did you mean 'ext'?"]),
    Mistake("a times row for a name that is not a hand-in folder", NON_FOLDER,
            _season(NON_FOLDER, "--times"),
            ["line 7: student 'late_day': no hand-in folder is called 'late_day'; did you mean "
             "'lateday'?"]),
    Mistake("a times row for an assignment that does not exist",
            _times("ext,speaker_id", "ext,speaker-id"), ["season", "grades", "--times",
                                                         "times-new.csv"],
            ["line 6: assignment = 'speaker-id' is not an assignment; did you mean speaker_id?"]),
    Mistake("a time the CSV cannot read", _times("2026-10-02 23:30", "yesterday 23:30"),
            ["season", "grades", "--times", "times-new.csv"],
            ["line 3: submitted = 'yesterday 23:30' is not a time the kit reads"]),
    Mistake("a bad time given to kws grade, found before grading",
            _times("2026-10-02 23:30", "2026-10-02 23:30 EST"), [*GRADE, "--times",
                                                                  "times-new.csv"],
            ["line 3: submitted = '2026-10-02 23:30 EST' is not a time the kit reads"]),
    Mistake("a bad course file given to kws grade, found before grading", TYPO,
            [*GRADE, "--course", next(iter(TYPO))], ["[late] 'per_dya' is not a key of [late]"]),
    Mistake("a handed-in notebook no record dates", _times("bob,,2026-10-02 23:30\n", ""),
            ["season", "grades", "--times", "times-new.csv"],
            ["times-new.csv has no row for them", "bob (keyword_spotting, speaker_id)",
             "--file-times"]),
]  # fmt: skip

NEIGHBOURS = [
    # The course file.
    Mistake("a misspelled top-level key", _course("grace_days", "grace_day"),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 3: 'grace_day' is not a key of the course file; did you mean grace_days?"]),
    Mistake("a misspelled key of [gradescope]",
            {"course-new.toml": COURSE + "\n[gradescope]\nattempts_per_dya = 3\n"},
            ["season", "grades", "--course", "course-new.toml"],
            ["line 25: [gradescope] 'attempts_per_dya' is not a key of [gradescope]; did you "
             "mean attempts_per_day?"]),
    Mistake("a course file saved by Notepad with a BOM and CRLF, and a typo",
            {"course-notepad.toml": codecs.BOM_UTF8 + WINDOWS.encode()},
            ["season", "grades", "--course", "course-notepad.toml"],
            ["line 6: [late] 'per_dya' is not a key of [late]"]),
    Mistake("a course file saved as Notepad's Unicode (UTF-16), and a typo",
            {"course-unicode.toml": WINDOWS.encode("utf-16")},
            ["season", "grades", "--course", "course-unicode.toml"],
            ["line 6: [late] 'per_dya' is not a key of [late]"]),
    Mistake("a course file saved in Windows' ANSI code page",
            {"course-ansi.toml": ("# Kurs für Hörer\n" + COURSE).encode("cp1252")},
            ["season", "grades", "--course", "course-ansi.toml"],
            ["line 1: not UTF-8 text", "save it as UTF-8"]),
    Mistake("an extension for an assignment that does not exist",
            _course('speaker_id = "2026-10-20 23:59"', 'speaker-id = "2026-10-20 23:59"'),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 19: [extensions.ext] 'speaker-id' is not an assignment; did you mean "
             "speaker_id?"]),
    Mistake("a due date for an assignment that does not exist",
            _course('keyword_spotting = "2026-10-02', 'keyword_spoting = "2026-10-02'),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 15: [due] 'keyword_spoting' is not an assignment; did you mean "
             "keyword_spotting?"]),
    Mistake("a due date before the release",
            _course('speaker_id = "2026-10-16 23:59"', 'speaker_id = "2026-09-16 23:59"'),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 16: [due] speaker_id = 2026-09-16T23:59:00-04:00 is not after its release"]),
    Mistake("an extension before the due date it extends",
            _course('speaker_id = "2026-10-20 23:59"', 'speaker_id = "2026-09-20 23:59"'),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 19: [extensions.ext] speaker_id = 2026-09-20T23:59:00-04:00 is not after "
             "the due date it extends"]),
    Mistake("a regrade requests' deadline before the due date",
            {"course-new.toml": COURSE + '\n[requests]\nspeaker_id = "2026-10-10 23:59"\n'},
            ["season", "grades", "--course", "course-new.toml"],
            ["line 25: [requests] speaker_id = 2026-10-10T23:59:00-04:00 is not after its due "
             "date"]),
    Mistake("a due date without a time of day",
            _course('keyword_spotting = "2026-10-02 23:59"', "keyword_spotting = 2026-10-02"),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 15: [due] keyword_spotting = 2026-10-02 is not a date the kit reads: a date "
             "without a time of day"]),
    Mistake("a due date as Excel writes it",
            _course('"2026-10-16 23:59"', '"10/16/2026 23:59"'),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 16: [due] speaker_id = '10/16/2026 23:59' is not a date the kit reads: a "
             "slash date"]),
    Mistake("a late penalty in percent", _course("per_day = 0.10", "per_day = 10"),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 6: [late] per_day = 10; give a number from 0 to 1"]),
    Mistake("half a grace day", _course("grace_days = 1", "grace_days = 1.5"),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 3: grace_days = 1.5; give a whole number from 0 to 365"]),
    Mistake("a time zone misspelled", _course("America/New_York", "America/New_Yrok"),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 1: timezone = 'America/New_Yrok' is not an IANA time zone name"]),
    Mistake("a table written as a value",
            _course("[late]\nper_day = 0.10\ncap = 0.30\ncount = \"started_days\"\n",
                    "late = 0.10\n"),
            ["season", "grades", "--course", "course-new.toml"], ["[late] is a table"]),
    Mistake("a way of counting days misspelled", _course('"started_days"', '"started_day"'),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 8: [late] count = 'started_day' is not a way to count days late; did you "
             "mean started_days?"]),
    Mistake("a course file that is not there", {},
            ["season", "grades", "--course", "cours.toml"], ["no such course file"]),
    Mistake("a course file saved from Excel as CSV",
            {"course-new.toml": "timezone,America/New_York\ngrace_days,1\n"},
            ["season", "grades", "--course", "course-new.toml"], ["not valid TOML"]),
    # The times CSV.
    Mistake("Excel's dates, day or month first unknown",
            {"times-new.csv": "student,submitted\nann,10/01/2026 20:00\nbob,10/02/2026 23:30\n"
             "cy,10/01/2026 09:00\next,10/02/2026 12:00\nlateday,10/03/2026 05:00\n"},
            ["season", "grades", "--times", "times-new.csv"],
            ["line 2: submitted = '10/01/2026 20:00' is not a time the kit reads: 10/01/2026 "
             "could be either day/month or month/day", "yyyy-mm-dd hh:mm"]),
    Mistake("Excel's dates in two orders",
            {"times-new.csv": "student,submitted\nann,25/09/2026 20:00\nbob,10/13/2026 23:30\n"},
            ["season", "grades", "--times", "times-new.csv"],
            ["line 2 ('25/09/2026 20:00') puts the day first and line 3 ('10/13/2026 23:30') "
             "the month first"]),
    Mistake("a hand-in time without a time of day", _times("2026-10-01 09:00", "2026-10-01"),
            ["season", "grades", "--times", "times-new.csv"],
            ["line 4: submitted = '2026-10-01' is not a time the kit reads: a date without a "
             "time of day"]),
    Mistake("a two-digit year", _times("2026-10-01 09:00", "10/1/26 09:00"),
            ["season", "grades", "--times", "times-new.csv"], ["line 4:", "a two-digit year"]),
    Mistake("no such day", _times("2026-10-01 09:00", "2026-09-31 09:00"),
            ["season", "grades", "--times", "times-new.csv"], ["line 4:", "no such date"]),
    Mistake("two times for one hand-in", {"times-new.csv": TIMES + "bob,,2026-10-04 10:00\n"},
            ["season", "grades", "--times", "times-new.csv"],
            ["lines 3 and 8: two times for bob (every notebook)"]),
    Mistake("a hand-in time before the release (last year)",
            _times("2026-10-01 09:00", "2025-10-01 09:00"),
            ["season", "grades", "--times", "times-new.csv"],
            ["line 4: cy handed in keyword_spotting at 2025-10-01T09:00:00-04:00, before its "
             "release"]),
    Mistake("a times CSV without its submitted column",
            {"times-new.csv": TIMES.replace("submitted", "time")},
            ["season", "grades", "--times", "times-new.csv"],
            ["needs the columns student and submitted"]),
    Mistake("Moodle's worksheet whose download folders are not the hand-in folders",
            {"worksheet.csv": "Identifier,Full name,Status,Last modified (submission)\n"
             "Participant 1,Ann Ames,Submitted,\"Thursday, 1 October 2026, 8:00 PM\"\n"},
            ["season", "grades", "--times", "worksheet.csv"],
            ["line 2: Moodle's download folder 'Ann Ames_1_assignsubmission_file_' is no "
             "hand-in folder; add a column folder"]),
    # The roster.
    Mistake("a roster with one folder twice",
            {"roster-new.csv": ROSTER + "Anna,7,S7,anna,A,ann\n"}, [*GRADE, "--roster",
                                                                  "roster-new.csv"],
            ["lines 2 and 8 both give the hand-in folder 'ann'"]),
    Mistake("a roster with one folder twice in two cases",
            {"roster-new.csv": ROSTER + "Anna,7,S7,anna,A,Ann\n"}, [*GRADE, "--roster",
                                                                  "roster-new.csv"],
            ["give the hand-in folders 'ann' and 'Ann'", "differ only in case"]),
    Mistake("a roster without a folder column",
            {"roster-new.csv": ROSTER.replace(",folder", ",Notes")},
            [*GRADE, "--roster", "roster-new.csv"], ["no 'folder' column"]),
    Mistake("a roster with a name's comma unquoted",
            {"roster-new.csv": ROSTER.replace("Ann,1", "Ames, Ann,1")},
            [*GRADE, "--roster", "roster-new.csv"], ["line 2: 7 fields under 6 columns"]),
    Mistake("a roster with two columns of one name",
            {"roster-new.csv": ROSTER.replace("Section,", "folder,")},
            [*GRADE, "--roster", "roster-new.csv"], ["are both called 'folder'"]),
    # kws grade: found before the first hand-in is graded.
    Mistake("kws grade with a times row for a name that is not a folder", NON_FOLDER,
            [*GRADE, "--times", next(iter(NON_FOLDER))], ["did you mean 'lateday'?"]),
    Mistake("kws grade with nothing to date a hand-in by",
            _times("cy,,2026-10-01 09:00\n", ""), [*GRADE, "--times", "times-new.csv"],
            ["cy (keyword_spotting, speaker_id)", "--file-times"]),
    Mistake("kws grade --student with an extension for a name that is not a folder", EXT,
            [*GRADE, "--student", "ann", "--course", next(iter(EXT))],
            ["[extensions.Ext] no hand-in folder is called 'Ext'"]),
    Mistake("kws grade --student for a folder that is not there", {},
            [*GRADE, "--student", "anne"], ["anne: no such hand-in folder"]),
    # kws season, kws adjust, kws export, kws feedback.
    Mistake("kws season on a folder that is not the grades folder", {}, ["season", "grade"],
            ["grade/gradebook.csv: no gradebook"]),
    Mistake("kws adjust for a student not in the gradebook", {},
            ["adjust", "grades", "anne", KS, "1", "--reason", "regraded by hand"],
            ["'anne' is not in grades's gradebook"], "grades"),
    Mistake("kws adjust for a notebook not graded", {},
            ["adjust", "grades", "ann", "keyword-spotting", "1", "--reason", "regraded"],
            ["'keyword-spotting' was not graded in grades"], "grades"),
    Mistake("kws adjust without a reason", {},
            ["adjust", "grades", "ann", KS, "1", "--reason", " "], ["needs a reason"], "--reason"),
    Mistake("kws export with a roster with one folder twice",
            {"roster-new.csv": ROSTER + "Anna,7,S7,anna,A,ann\n"},
            ["export", "canvas", "grades", "--roster", "roster-new.csv", "--out", "canvas.csv"],
            ["lines 2 and 8 both give the hand-in folder 'ann'"]),
    Mistake("kws export of a notebook not graded", {},
            ["export", "moodle", "grades", "--assignment", "patch_transformer", "--out",
             "moodle.csv"], ["--assignment patch_transformer: grades holds no grades of it"],
            "grades"),
    Mistake("kws feedback with a roster in place of Moodle's worksheet",
            {"worksheet.csv": ROSTER}, ["feedback", "grades", "--moodle", "worksheet.csv"],
            ["worksheet.csv: no Identifier column"]),
    # Issue 59: an instructor's rehearsal of a term in New York time.
    Mistake("a cap in percent", _course("cap = 0.30", "cap = 30"),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 7: [late] cap = 30; give a number from 0 to 1"]),
    Mistake("a time zone written as an offset", _course('"America/New_York"', '"UTC+1"'),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 1: timezone = 'UTC+1' is not an IANA time zone name", '"Europe/Berlin"',
             '"Etc/GMT-1"']),
    Mistake("a word processor's quotes", _course('"America/New_York"', "“America/New_York”"),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 1: not valid TOML", "a word processor's quotes: write straight ones"]),
    Mistake("a due time of 24:00", _course("2026-10-16 23:59", "2026-10-16 24:00"),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 16: [due] speaker_id = '2026-10-16 24:00' is not a date the kit reads: 24:00 "
             "is no time of day; write 23:59"]),
    Mistake("a notebook's file name for its assignment",
            _course('speaker_id = "2026-10-16', '"02_speaker_id.ipynb" = "2026-10-16'),
            ["season", "grades", "--course", "course-new.toml"],
            ["line 16: [due] '02_speaker_id.ipynb' is speaker_id's notebook; the course file "
             "names assignments: write speaker_id = ..."]),
    Mistake("points with a decimal comma", {},
            ["adjust", "grades", "ann", KS, "+2,5", "--reason", "Task 2 by hand"],
            ["points '+2,5': write +2.5 (a decimal point, not a comma)"], "+2,5"),
    Mistake("a time zone abbreviation, with --strict",
            _course('"America/New_York"', '"EST"'),
            ["season", "grades", "--course", "course-new.toml", "--strict"],
            ["refused with --strict", 'line 1: timezone = "EST" is a fixed UTC−05:00 all year',
             'did you mean timezone = "America/New_York"?']),
    Mistake("a due date at midnight given to kws grade --strict, found before grading",
            _course('keyword_spotting = "2026-10-02 23:59"',
                    'keyword_spotting = "2026-10-03 00:00"'),
            [*GRADE, "--course", "course-new.toml", "--strict"],
            ["line 15: [due] keyword_spotting = 2026-10-03 00:00 is midnight"]),
    Mistake("a cap reached on the first day, given to kws gradescope --strict",
            _course("cap = 0.30", "cap = 0.05"),
            ["gradescope", "--data", "data", "--course", "course-new.toml", "--strict", "--out",
             "autograder.zip"],
            ["line 7: [late] cap = 0.05 is reached on the first day late"]),
]  # fmt: skip
