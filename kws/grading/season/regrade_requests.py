"""The verb `kws requests`: students' regrade requests, imported from the CSV a form or an LMS
exports, and the TA's answers, recorded in ``requests.csv`` (`kws.grading.records.requests`).

    kws requests import grades form.csv          # Timestamp, Student, Question, Reason
    kws requests list grades
    kws requests answer grades alice "ks task" --points 8 --reply "The test timed out: 8 of 10"

A question is a written question (its key ``assignment/id``, or its id where one notebook asks
it) or a test (as the gradebook's column names it). An answer with ``--points`` changes the
mark (written) or overrides the test (`kws override`); with ``--keep`` it leaves it.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime, timezone
from pathlib import Path

from kws.grading.season.cli import grades_folder_faults, points_given, print_season
from kws.verbs import GRADES, WAIT, Arg, Verb

# The form's columns, by the words their headers hold (LMS quizzes, Google and Microsoft Forms).
HEADERS = {
    "student": ("student", "folder", "username", "user name", "login"),
    "question": ("question",),
    "reason": ("reason", "why", "explain", "comment"),
    "when": ("timestamp", "completion time", "submitted", "time"),
}


def _columns(header: list[str], path: Path, line: int) -> dict[str, int]:
    """{student, question, reason, when: the index of its column}; ValueError naming the
    file and the fix without a student, question or reason column."""
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        words = cell.lower()
        for name, says in HEADERS.items():
            if name not in found and any(word in words for word in says):
                found[name] = index
                break
    missing = [name for name in ("student", "question", "reason") if name not in found]
    if missing:
        raise ValueError(f"{path}, line {line}: no column for {', '.join(missing)} among "
                         f"{', '.join(header)}; name the columns student, question and reason "
                         "(a Timestamp column dates each request)")  # fmt: skip
    return found


def _questions(grades, store, language: str | None = None) -> dict[str, tuple[str, str]]:
    """{what a student may write: (the question's key or test name, its assignment)}: a test
    by its name (in English, or as the feedback page names it in the course's `language`), a
    written question by its key, its id or its title (the feedback page's, when no other
    question has it)."""
    from kws.grading.records.grades import test_assignment
    from kws.i18n import gettext, speaking

    known: dict[str, tuple[str, str]] = {}
    for student in grades.students:
        for test in student.tests:
            known[test["name"]] = (test["name"], test_assignment(test) or "")
    if language is not None:
        with speaking(language):
            known |= {gettext(name): found for name, found in list(known.items())}
    rubrics = store.rubrics()
    keys = list(rubrics)
    titles = [rubric.title for rubric in rubrics.values()]
    for key, rubric in rubrics.items():
        known[key] = (key, key.split("/", 1)[0])
        ids = [k for k in keys if k.split("/", 1)[1] == key.split("/", 1)[1]]
        if len(ids) == 1:
            known[key.split("/", 1)[1]] = (key, key.split("/", 1)[0])
        if rubric.title and titles.count(rubric.title) == 1:
            known.setdefault(rubric.title, (key, key.split("/", 1)[0]))
    return known


def _import(args: argparse.Namespace) -> int:
    from kws.grading.records.files import record_time
    from kws.grading.records.grades import read_grades
    from kws.grading.records.lock import SEASON, holding
    from kws.grading.records.marks.store import MarkStore
    from kws.grading.records.requests import ASKED, Event, read_requests, write_events
    from kws.grading.records.seal import seal
    from kws.grading.records.tables import csv_rows
    from kws.grading.season.dates import DateError, in_zone, parse_time, slash_order
    from kws.grading.season.inputs import read_season

    if not args.file.is_file():
        raise FileNotFoundError(f"{args.file}: no such file; give the CSV the form exported "
                                "(student, question, reason)")  # fmt: skip
    _, rows = csv_rows(args.file, ValueError, "save it as CSV UTF-8")
    if len(rows) < 2:
        raise ValueError(f"{args.file}: no request below the header line")
    columns = _columns(rows[0][1], args.file, rows[0][0])
    grades = read_grades(args.grades)
    course = read_season(args.grades).course
    zone = course.timezone if course else timezone.utc
    store = MarkStore(args.grades, [s.name for s in grades.students])
    known = _questions(grades, store, course.language if course else None)
    names = {s.name for s in grades.students}
    cell = {name: (lambda cells, i=i: cells[i] if i < len(cells) else "")
            for name, i in columns.items()}  # fmt: skip
    try:
        order, _ = slash_order({line: cell["when"](c) for line, c in rows[1:]
                                if "when" in cell and "/" in cell["when"](c)})  # fmt: skip
    except DateError as error:
        raise ValueError(f"{args.file}: {error}") from None
    held = {(e.student, e.question, e.text) for e in read_requests(args.grades)}
    new, late, again = [], [], 0
    for line, cells in rows[1:]:
        student, question = cell["student"](cells), cell["question"](cells)
        reason = cell["reason"](cells)
        if student not in names:
            raise ValueError(f"{args.file}, line {line}: no student {student!r} in "
                             f"{args.grades}'s gradebook; write the hand-in folder's name; "
                             "nothing was imported")  # fmt: skip
        if question not in known:
            raise ValueError(f"{args.file}, line {line}: no question {question!r}; write one "
                             f"of {', '.join(sorted(known))}; nothing was imported")  # fmt: skip
        if not reason:
            raise ValueError(f"{args.file}, line {line}: {student}'s request has no reason; "
                             "a request says why; nothing was imported")  # fmt: skip
        when = record_time()
        if "when" in cell and cell["when"](cells):
            try:
                moment = in_zone(parse_time(cell["when"](cells), order), zone)
            except DateError as error:
                raise ValueError(f"{args.file}, line {line}: {error}; nothing was "
                                 "imported") from None  # fmt: skip
            when = moment.astimezone(timezone.utc).isoformat()
        key, assignment = known[question]
        due = course.requests.get(assignment) if course else None
        if due is not None and datetime.fromisoformat(when) > due:
            late.append(f"line {line} ({student}, {key}: asked {when}, the deadline was "
                        f"{due.isoformat()})")  # fmt: skip
            continue
        if (student, key, reason) in held:  # the same file imported again
            again += 1
            continue
        held.add((student, key, reason))
        new.append(Event(student, key, ASKED, reason, None, student, when))
    if new:
        with holding(args.grades, "kws requests import", scope=SEASON, wait=args.wait):
            write_events(args.grades, new)
            seal(args.grades, "kws requests import")
    print(f"imported {len(new)} request(s) from {args.file} into "
          f"{Path(args.grades) / 'requests.csv'}" + (f"; {again} already there" if again else ""))  # fmt: skip
    if late:
        print(f"refused {len(late)} after the deadline of the course file's [requests]: "
              + "; ".join(late))  # fmt: skip
    return 0


def _list(args: argparse.Namespace) -> int:
    from kws.grading.records.requests import open_requests

    left = open_requests(args.grades)
    print(f"{len(left)} open request(s)")
    for thread in left:
        print(f"  {thread.student} {thread.question}: {thread.events[-1].text}")
    return 0


def _answer(args: argparse.Namespace) -> int:
    if (args.points is None) == (not args.keep):
        raise ValueError("answer with --keep (the mark stands) or --points P (the question "
                         "counts P from now on), not both")  # fmt: skip
    points = points_given(args.points) if args.points is not None else None
    key, standings = answer_request(args.grades, args.student, args.question, points=points,
                                    reply=args.reply, who=args.who or getpass.getuser(),
                                    wait=args.wait)  # fmt: skip
    said = "kept" if points is None else f"now {points:g}"
    print(f"{args.student} {key}: answered ({said}), recorded in "
          f"{Path(args.grades) / 'requests.csv'}")  # fmt: skip
    print_season(args.grades, standings)
    return 0


def answer_request(
    grades_dir: Path,
    student: str,
    question: str,
    *,
    points: float | None,
    reply: str,
    who: str,
    wait: bool = False,
):
    """Answer `student`'s open request about `question` (a written question's key or id, or a
    test's name): `points` None keeps the mark, else the question counts `points` from now on
    (a test overridden, a written mark saved again); the answer is a line of ``requests.csv``
    and the grades are counted again (`apply_season`), all under the grades folder's lock.
    What `kws requests answer` and the marking page's queue both run.

    Returns:
        (the question's key, the standings `apply_season` returned).

    Raises:
        FolderBusy: another command holds the folder (and `wait` is False); nothing written.
        ValueError: an empty reply, no open request, points outside the question's, or a
            written answer not marked yet, each with the fix.
    """
    from kws.grading.records.files import record_time
    from kws.grading.records.grades import read_grades
    from kws.grading.records.lock import SEASON, check_may_write, holding
    from kws.grading.records.marks.store import MarkStore
    from kws.grading.records.overrides import new_override
    from kws.grading.records.requests import ANSWERED, Event, read_requests, threads
    from kws.grading.season.apply import apply_season

    if not reply.strip():
        raise ValueError('an answer needs a reply (--reply "..."): the student reads it')
    check_may_write(grades_dir, SEASON, wait=wait)
    # Held from the first read: the request, the mark and the answer are read, checked and
    # written by this call alone, and recorded with the grades they change.
    with holding(grades_dir, "kws requests answer", scope=SEASON, wait=wait):
        grades = read_grades(grades_dir)
        store = MarkStore(grades_dir, [s.name for s in grades.students])
        key, _ = _questions(grades, store).get(question, (question, ""))
        thread = next((t for t in threads(read_requests(grades_dir))
                       if (t.student, t.question) == (student, key)), None)  # fmt: skip
        if thread is None or not thread.open:
            what = "no request" if thread is None else "no open request (it was answered)"
            raise ValueError(f"{student} has {what} about {question!r}; the open "
                             f"ones: `kws requests list {grades_dir}`")  # fmt: skip
        handed_in = next(s for s in grades.students if s.name == student)
        tests = {t["name"]: t for t in handed_in.tests}
        override = None
        if points is not None and key in tests:
            override = new_override(student, tests[key], points, reply, who)
        elif points is not None:
            _mark_points(store, key, student, points, who, grades_dir)
        answer = Event(student, key, ANSWERED, reply.strip(), points, who, record_time())
        standings = apply_season(grades_dir, override=override, answer=answer,
                                 command="kws requests answer")  # fmt: skip
    return key, standings


def _mark_points(store, key: str, student: str, points: float, who: str, grades: Path) -> None:
    """Save `student`'s mark of written question `key` again so that it counts `points`: the
    same items and comment, the points beyond them adjusted. ValueError, with the fix, for an
    answer not marked yet or points outside the question's."""
    rubric, mark = store.rubrics()[key], store.marks().get(key, {}).get(student)
    if mark is None:
        raise ValueError(f"{student}'s answer to {key} has no mark yet; mark it with "
                         f"`kws mark {grades}`, then answer")  # fmt: skip
    if not 0 <= points <= rubric.points:
        raise ValueError(f"{points:g} points is outside 0 to {rubric.points:g}, the points "
                         f"of {key}")  # fmt: skip
    adjust = mark.adjust + points - rubric.score(mark)
    store.save(key, [student], items=list(mark.items), digests={student: mark.digest},
               by=who, adjust=adjust, comment=mark.comment, zero=points == 0)  # fmt: skip


REQUESTS = Verb(
    "requests",
    "students' regrade requests: import them from a form's CSV, list the open ones, answer them",
    verbs=(
        Verb(
            "import",
            "record the requests of a CSV file (student, question, reason; a form's Timestamp "
            "column dates them against the course file's [requests] deadlines)",
            _import,
            faults=grades_folder_faults("grades"),
            arguments=(GRADES, Arg("file", type=Path, help="the CSV the form exported"), WAIT),
        ),
        Verb("list", "the requests not answered yet", _list, arguments=(GRADES,)),
        Verb(
            "answer",
            "answer one student's request about one question: keep the mark, or give points",
            _answer,
            faults=grades_folder_faults("grades"),
            arguments=(
                GRADES,
                Arg("student", help="the student's name in the gradebook"),
                Arg("question", help="the question asked about, as the request names it"),
                Arg("--keep", action="store_true", help="the mark stands"),
                Arg("--points", help="the points the question counts from now on"),
                Arg("--reply", required=True, help="the answer, in sentences the student reads"),
                Arg("--who", help="who answers (default: your login name)"),
                WAIT,
            ),
        ),
    ),
)  # fmt: skip
