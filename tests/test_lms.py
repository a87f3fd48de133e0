"""The class roster and the gradebook's way to the LMS (`kws grade --roster`, `kws export`).

- a roster written the messy way instructors have it (Excel's byte-order mark, CRLF, quoted
  commas and line breaks, extra columns, blank lines, Canvas's points-possible and posting rows,
  semicolons, UTF-16) reads back to the same students; a broken one is refused naming the line
  and the fix;
- hand-ins without a roster row and students without a hand-in are both reported, with the
  roster folder a mistyped hand-in most resembles;
- `kws export canvas` and `kws export moodle` write their documented layouts, byte for byte, with
  students who handed in nothing as 0 or no grade; typed from another working directory, every
  relative path is the caller's.
"""

import codecs
import os
import subprocess
import sys
from pathlib import Path

import pytest
from course_helpers import ROOT
from records_helpers import finish, ungraded

from kws.grading.judge.document import TestResult, results_document, write_results
from kws.grading.publish.exports import export_grades, number
from kws.grading.records.gradebook import Graded, write_gradebook, write_run_record
from kws.grading.records.roster import RosterError, match_roster, read_roster

# A Canvas gradebook export with a `folder` column added in Excel and saved as "CSV UTF-8":
# byte-order mark, CRLF, a quoted name with a comma, a note with a line break, Canvas's posting
# and points-possible rows, a blank line, an extra assignment column.
CANVAS_ROSTER = (
    codecs.BOM_UTF8
    + (
        "Student,ID,SIS User ID,SIS Login ID,Section,Notes,Lab 3 (4710),folder\r\n"
        ",,,,,,Manual Posting,\r\n"
        "    Points Possible,,,,,,20,\r\n"
        '"Ames, Ann",101,S001,aames,CS-1,"likes\r\nlong runs",18, ann \r\n'
        '"Bo, Bob",102,S002,bbo,CS-1,,20,bob\r\n'
        "\r\n"
        '"Chu, Cy",103,S003,cchu,CS-2,,,cy\r\n'
        '"Yi, Yan",104,S004,yyi,CS-2,,15,yan\r\n'
        '"Zu, Zoë",105,S005,zzu,CS-2,,,\r\n'
        ",,,,,,,\r\n"
    ).encode()
)
# A Moodle participants export saved where the decimal mark is a comma: semicolons, Excel's
# sep= line, the hand-in folder in a column of another name.
MOODLE_ROSTER = (
    "sep=;\n"
    "First name;Last name;ID number;Email address;Hand-in\n"
    "Ann;Ames;S001;ann@uni.example;ann\n"
    "Bob;Bo;S002;bob@uni.example;bob\n"
    "Cy;Chu;S003;cy@uni.example;cy\n"
    "Zoë;Zu;S005;zoe@uni.example;\n"
)


def _test(name: str, assignment: str, score: float, maximum: float) -> TestResult:
    status = "passed" if score == maximum else "failed"
    return TestResult(name, score, maximum, status, "", "visible", {"assignment": assignment})


@pytest.fixture
def grades(tmp_path) -> Path:
    """What `kws grade --out grades` writes for four hand-ins of both notebooks: ann 8 + 20,
    bob 10 + 12.5, cy's grader crashed, dan x has no roster row; out of 10 + 32 and the
    notebooks' written questions, 3 + 3 (none marked)."""
    out = tmp_path / "grades"
    graded = []
    scores = {"ann": (8.0, 20.0), "bob": (10.0, 12.5), "dan x": (5.0, 0.0)}
    for student, (kws, speaker) in scores.items():
        tests = [
            _test("kws", "keyword_spotting", kws, 10.0),
            _test("speaker", "speaker_id", speaker, 32.0),
        ]
        document = results_document(tests, output="", execution_time=1)
        write_results(out / "results" / f"{student.replace(' ', '_')}.json", document)
        graded.append(Graded(student, document, "", 1.0))
    graded.insert(2, ungraded(out, "cy", "the grader exited with code 3: killed", 2.0))
    write_gradebook(graded, out / "gradebook.csv")
    write_run_record(out, tmp_path / "subs", tmp_path / "data", None)
    return finish(out)


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_a_messy_canvas_export_reads_back_to_its_students(tmp_path):
    roster = read_roster(_write(tmp_path / "roster.csv", CANVAS_ROSTER))
    assert roster.header[0] == "Student" and roster.key == "folder"
    assert [row["Student"] for row in roster.rows] == [
        "Ames, Ann", "Bo, Bob", "Chu, Cy", "Yi, Yan", "Zu, Zoë"
    ]  # fmt: skip
    assert [row["folder"] for row in roster.rows] == ["ann", "bob", "cy", "yan", ""]
    assert roster.rows[0]["Notes"] == "likes\r\nlong runs" and roster.rows[0]["ID"] == "101"
    assert roster.lines == [5, 6, 8, 9, 10]  # a quoted line break spans two lines
    # The same roster as Excel's other exports: LF only without the mark, and UTF-16 with tabs.
    text = CANVAS_ROSTER.decode("utf-8-sig")
    plain = read_roster(_write(tmp_path / "lf.csv", text.replace("\r\n", "\n")))
    assert [r["Student"] for r in plain.rows] == [r["Student"] for r in roster.rows]
    tabs = "\r\n".join(line.replace(",", "\t") for line in text.split("\r\n")[:2])
    utf16 = read_roster(_write(tmp_path / "u16.txt", tabs.encode("utf-16")))
    assert utf16.header[-1] == "folder" and utf16.rows == []  # only the posting row below
    moodle = read_roster(_write(tmp_path / "m.csv", MOODLE_ROSTER), key="HAND-IN ")
    assert moodle.key == "Hand-in" and moodle.rows[3]["Email address"] == "zoe@uni.example"


@pytest.mark.parametrize(
    "content, key, says",
    [
        ("Student,ID\r\nAnn,1\r\n", None, "no 'folder' column (its columns: 'Student', 'ID')"),
        ("Student,ID\r\nAnn,1\r\n", None, "--roster-key COLUMN"),
        ("Student,ID\r\nAnn,1\r\n", "Login", "no column 'Login' (--roster-key)"),
        ("Student,folder\r\nAnn,a\r\nBob,b\r\nAnna,a\r\n", None, "lines 2 and 4 both give"),
        ("Student,ID,folder\r\nAmes, Ann,1,a\r\n", None, "line 2: 4 fields under 3 columns"),
        ("Student,ID,folder\r\nAmes, Ann,1,a\r\n", None, '("Doe, Jane")'),
        ("Student,student\r\nx,y\r\n", None, "columns 1 and 2 are both called 'student'"),
        ("Student,folder\r\nM\xfcller,m\r\n".encode("cp1252"), None, "line 2: not UTF-8"),
        ("Student,folder\r\nM\xfcller,m\r\n".encode("cp1252"), None, "CSV UTF-8"),
        ("\r\n\r\n", None, "is empty"),
    ],
)
def test_a_broken_roster_is_refused_naming_the_line_and_the_fix(tmp_path, content, key, says):
    with pytest.raises(RosterError) as refused:
        read_roster(_write(tmp_path / "roster.csv", content), key=key)
    assert says in str(refused.value) and "roster.csv" in str(refused.value)


def test_hand_ins_and_roster_rows_without_a_partner_are_both_reported(tmp_path):
    roster = read_roster(_write(tmp_path / "roster.csv", CANVAS_ROSTER))
    matched = match_roster(roster, ["ann", "Bob", "cy", "dan x"])
    assert sorted(matched.matched) == ["ann", "cy"]
    assert matched.unknown == ["Bob", "dan x"] and matched.suggestions == {"Bob": "bob"}
    report = matched.report()
    assert (
        report[0]
        == "roster roster.csv (hand-in column 'folder'): 2 of 4 hand-ins matched to a student"
    )
    assert report[1] == ("  2 hand-in folder(s) with no roster row, left out of LMS exports: "
                         "Bob (roster has 'bob'), dan x")  # fmt: skip
    assert report[2] == (
        "  3 student(s) on the roster with no hand-in, exported as missing: "
        "Bo, Bob (bbo) [line 6], Yi, Yan (yyi) [line 9], Zu, Zoë (zzu) [line 10]"
    )
    with pytest.raises(FileNotFoundError, match="no such roster file"):
        read_roster(tmp_path / "absent.csv")


def test_canvas_export_is_canvas_gradebook_layout_with_points_possible(tmp_path, grades):
    roster = _write(tmp_path / "roster.csv", CANVAS_ROSTER)
    written = export_grades("canvas", grades, tmp_path / "canvas.csv", roster=roster,
                            column="Transformers lab (4711)", unmarked="zero")  # fmt: skip
    exported = (tmp_path / "canvas.csv").read_bytes()
    assert exported.startswith(codecs.BOM_UTF8)  # for Excel; Canvas reads past it
    assert exported.decode("utf-8-sig") == (
        "Student,ID,SIS User ID,SIS Login ID,Section,Transformers lab (4711)\r\n"
        "    Points Possible,,,,,48\r\n"  # 10 + 32, and 3 + 3 written
        '"Ames, Ann",101,S001,aames,CS-1,28\r\n'
        '"Bo, Bob",102,S002,bbo,CS-1,22.5\r\n'
        '"Chu, Cy",103,S003,cchu,CS-2,0\r\n'  # handed in; the grader crashed: 0 as graded
        '"Yi, Yan",104,S004,yyi,CS-2,0\r\n'  # no hand-in: missing, 0 points
        '"Zu, Zoë",105,S005,zzu,CS-2,0\r\n'
    )
    assert written.match.unknown == ["dan x"] and len(written.match.absent) == 2
    export_grades("canvas", grades, tmp_path / "blank.csv", roster=roster, missing="blank",
                  assignment="keyword_spotting", scale_to=100, unmarked="zero")  # fmt: skip
    lines = (tmp_path / "blank.csv").read_text(encoding="utf-8-sig").splitlines()
    title = "Keyword spotting with a Transformer (Speech Commands, 12 classes)"  # the spec's
    assert lines[0] == f'Student,ID,SIS User ID,SIS Login ID,Section,"{title}"'
    assert lines[1:4] == ["    Points Possible,,,,,100", '"Ames, Ann",101,S001,aames,CS-1,61.54',
                          '"Bo, Bob",102,S002,bbo,CS-1,76.92']  # out of 10 + 3 written  # fmt: skip
    assert lines[5:] == ['"Yi, Yan",104,S004,yyi,CS-2,', '"Zu, Zoë",105,S005,zzu,CS-2,']


def test_moodle_export_has_names_an_identifier_and_the_grade_item(tmp_path, grades):
    roster = _write(tmp_path / "participants.csv", MOODLE_ROSTER)
    export_grades("moodle", grades, tmp_path / "moodle.csv", roster=roster, key="Hand-in",
                  assignment="speaker_id", missing="blank", unmarked="zero")  # fmt: skip
    exported = (tmp_path / "moodle.csv").read_bytes()
    assert exported.startswith(codecs.BOM_UTF8)  # for Excel; Moodle's import drops it
    assert exported.decode("utf-8-sig") == (
        "First name,Last name,Email address,Speaker identification from 40-mel features (HW4)\r\n"
        "Ann,Ames,ann@uni.example,20\r\n"
        "Bob,Bo,bob@uni.example,12.5\r\n"
        "Cy,Chu,cy@uni.example,0\r\n"
        "Zoë,Zu,zoe@uni.example,-\r\n"  # no hand-in, no grade: Moodle reads "-" as none
    )
    export_grades("moodle", grades, tmp_path / "ids.csv", roster=roster, key="Hand-in",
                  id_column="id number", column="Lab", unmarked="zero")  # fmt: skip
    assert (tmp_path / "ids.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "First name,Last name,ID number,Lab", "Ann,Ames,S001,28", "Bob,Bo,S002,22.5",
        "Cy,Chu,S003,0", "Zoë,Zu,S005,0",
    ]  # fmt: skip


def test_an_export_the_lms_would_reject_is_refused(tmp_path, grades):
    spreadsheet = _write(tmp_path / "sheet.csv", "Name,folder\r\nAnn Ames,ann\r\n")
    with pytest.raises(RosterError, match="none of the columns ID, SIS User ID, SIS Login ID"):
        export_grades("canvas", grades, tmp_path / "c.csv", roster=spreadsheet, unmarked="zero")
    holes = _write(tmp_path / "m.csv", MOODLE_ROSTER.replace("bob@uni.example", ""))
    with pytest.raises(
        RosterError,
        match=r"no Email address for Bob Bo \(S002\) \[line 4\]; Moodle abandons the whole",
    ):
        export_grades("moodle", grades, tmp_path / "m.csv", roster=holes, key="hand-in",
                      unmarked="zero")  # fmt: skip
    with pytest.raises(FileNotFoundError, match="graded without --roster; pass --roster FILE"):
        export_grades("canvas", grades, tmp_path / "c.csv", unmarked="zero")
    assert not (tmp_path / "c.csv").exists()
    assert [number(x) for x in (74.0, 12.5, 2 / 3, 0.0, -0.001)] == ["74", "12.5", "0.67", "0", "0"]


def _kws(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kws.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_kws_export_from_another_directory_takes_paths_relative_to_it(tmp_path, grades):
    _write(tmp_path / "lists" / "roster.csv", CANVAS_ROSTER)
    work = tmp_path / "work"
    work.mkdir()
    run = _kws(work, "export", "canvas", "../grades", "--roster", "../lists/roster.csv",
               "--out", "exports/canvas.csv", "--column", "Lab (4711)", "--unmarked", "zero")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "3 of 4 hand-ins matched" in run.stdout
    assert "1 hand-in folder(s) with no roster row, left out of LMS exports: dan x" in run.stdout
    assert "wrote " + str(work / "exports" / "canvas.csv") in run.stdout
    assert "5 students, column 'Lab (4711)' out of 48 points (2 missing, 0 points)" in run.stdout
    assert (work / "exports" / "canvas.csv").read_text().splitlines()[2] == (
        '"Ames, Ann",101,S001,aames,CS-1,28'
    )
    # The roster `kws grade --roster` keeps in the grades folder is the default.
    (grades / "roster.csv").write_bytes(CANVAS_ROSTER)
    write_run_record(grades, tmp_path / "subs", tmp_path / "data", None, roster_key="folder")
    again = _kws(work, "export", "canvas", "../grades", "--out", "again.csv", "--column",
                 "Lab (4711)", "--unmarked", "zero")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert (work / "again.csv").read_bytes() == (work / "exports" / "canvas.csv").read_bytes()
    refused = _kws(work, "export", "moodle", "../grades", "--unmarked", "zero")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "none of the columns Email address, ID number, Username" in refused.stderr
    unmerged = tmp_path / "sharded"
    (unmerged / "shards").mkdir(parents=True)
    waiting = _kws(work, "export", "canvas", "../sharded")
    assert waiting.returncode == 2 and "holds shards: run `kws merge" in waiting.stderr


def test_an_export_with_chinese_names_opens_in_excel_and_a_big5_roster_is_refused(tmp_path, grades):
    """The roster of a Taiwanese class saved by Excel as "CSV UTF-8": the export keeps its names
    and starts with the byte-order mark Excel needs to read them (without it Excel reads the
    file in the Windows code page: mojibake); the same roster saved as plain "CSV" (Big5) is
    refused from the command line, naming the line, and no export is written."""
    roster = (
        "Student,ID,SIS User ID,SIS Login ID,Section,folder\r\n"
        "王小明,101,S001,r13001,CS-1,ann\r\n陳怡君,102,S002,r13002,CS-1,bob\r\n"
    )
    _write(tmp_path / "utf8.csv", codecs.BOM_UTF8 + roster.encode())
    export_grades("canvas", grades, tmp_path / "canvas.csv", roster=tmp_path / "utf8.csv",
                  column="Lab", unmarked="zero")  # fmt: skip
    exported = (tmp_path / "canvas.csv").read_bytes()
    assert exported.startswith(codecs.BOM_UTF8)
    assert exported.decode("utf-8-sig").splitlines()[2:] == [
        "王小明,101,S001,r13001,CS-1,28", "陳怡君,102,S002,r13002,CS-1,22.5"
    ]  # fmt: skip
    _write(tmp_path / "big5.csv", roster.encode("cp950"))
    refused = _kws(tmp_path, "export", "canvas", "grades", "--roster", "big5.csv", "--out",
                   "big5-grades.csv", "--unmarked", "zero")  # fmt: skip
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "big5.csv, line 2: not UTF-8 text (byte 0xa4 at offset 52" in refused.stderr
    assert "save the roster as CSV UTF-8" in refused.stderr
    assert not (tmp_path / "big5-grades.csv").exists()
