"""A graded class with written answers, as `kws grade` leaves it, for `kws mark`'s tests and
benchmark: each hand-in is the released notebooks (assignments/) with the written answers
filled in, and each results.json is written with the grader's own writers, with what a test
measures (``extra_data["measured"]``), then the folder sealed.

    root = write_class(tmp_path / "course", 12)   # root/submissions/<student>/, root/grades/
    regrade(root, 4, "norm-classifier", "A new answer.")   # collected again and graded again
    with serving(root / "grades") as server:          # `kws mark`'s server, in a thread
        status, headers, body = ask(server, "GET", "/api/questions")

    course, server = fixtures(24)   # a test module's fixtures: that class, and its server
"""

import contextlib
import http.client
import json
import threading
from pathlib import Path

import pytest
from course_helpers import ROOT

from kws.grading.judge.document import TestResult, results_document, write_results
from kws.grading.marking.server import MarkServer
from kws.grading.marking.session import MarkingSession
from kws.grading.records.gradebook import Graded, write_gradebook, write_run_record
from kws.grading.records.marks.blanks import BLANK_BY
from kws.grading.records.seal import seal
from kws.spec import ASSIGNMENTS

# What the students write, by question: a few answers many hand in (the same, or nearly: the
# groups), some of their own, none, and one that tries to run in the marker's browser.
SHARED = {
    "token-budget": "Fewer tokens cut the attention memory, which grows with the square of the "
    "tokens, but each token then stands for 40 ms of every mel bin.",
    "norm-classifier": "The pooled features have no fixed scale, so the logits saturate; "
    "BatchNorm1d rescales every feature to one range and the model trains.",
    "patchout-test-time": "At test time nothing is dropped: the model sees every patch, "
    "deterministically, and pays the full attention cost.",
}
HOSTILE = (
    "Look: <script>window.marked = 1; fetch('/api/mark', {method: 'POST'})</script> "
    '<img src="x" onerror="window.marked = 2"> [more](javascript:window.marked=3) $x_i^2$'
)


def answer_of(number: int, question: str) -> str | None:
    """Student `number`'s answer to `question` (None: left as released)."""
    if number % 7 == 3:
        return None
    if number == 5:
        return HOSTILE
    if number % 3 == 0:
        return SHARED[question]
    if number % 3 == 1:  # the shared answer with its spacing, case and a word changed
        return SHARED[question].upper().replace(" ", "  ").replace("FIXED", "SET")
    return f"Student {number}'s own answer to {question}: " + " ".join(
        f"word{(number * 7 + i) % 50}" for i in range(30)
    )


def blank(students: int) -> int:
    """How many of a class of `students` left every answer as released: the kit marks those 0
    ("no answer") as `kws mark` starts (`kws.grading.records.marks.blanks`)."""
    return sum(answer_of(number, "norm-classifier") is None for number in range(students))


def by_people(marks: dict) -> dict:
    """{student: mark} of `marks` a person gave: without the kit's 0 for a blank answer."""
    return {student: mark for student, mark in marks.items() if mark.by != BLANK_BY}


def student_name(number: int) -> str:
    return f"student{number:03d}"


def _handin(folder: Path, number: int) -> None:
    folder.mkdir(parents=True)
    for spec in ASSIGNMENTS.values():
        nb = json.loads((ROOT / "assignments" / spec.notebook).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            for tag in cell["metadata"].get("tags", []):
                if tag.startswith("answer:") and answer_of(number, tag[7:]) is not None:
                    cell["source"] = answer_of(number, tag[7:]).splitlines(keepends=True)
        (folder / spec.notebook).write_text(json.dumps(nb, indent=1), encoding="utf-8")


def _results(number: int) -> dict:
    """A results document with one accuracy test a notebook (and notebook 02's budget tests),
    each with what it measured."""
    tests = []
    for name in sorted(ASSIGNMENTS):
        accuracy = round(0.5 + (number % 40) / 100, 4)
        tests.append(TestResult(f"{name} accuracy", 5.0 * accuracy, 5.0, "failed", "", "visible",
                                {"assignment": name, "task": "task1", "test": "test_accuracy",
                                 "measured": {"accuracy": accuracy}}))  # fmt: skip
    tests.append(TestResult("encoder budget", 2.0, 2.0, "passed", "", "visible",
                            {"assignment": "speaker_id", "task": "task1",
                             "measured": {"encoder_weights": 154880 + number,
                                          "layers_run": 3}}))  # fmt: skip
    return results_document(tests, output="", execution_time=3)


def write_class(root: Path, students: int) -> Path:
    """`root`/submissions/ (`students` hand-ins) and `root`/grades/ (gradebook, results, run.json,
    sealed as `kws grade` leaves them); returns `root`."""
    grades, graded = root / "grades", []
    for number in range(students):
        name = student_name(number)
        _handin(root / "submissions" / name, number)
        document = _results(number)
        write_results(grades / "results" / f"{name}.json", document)
        graded.append(Graded(name, document, "", 3.0))
    write_gradebook(graded, grades / "gradebook.csv")
    write_run_record(grades, root / "submissions", root / "data", None)
    seal(grades, "kws grade")
    return root


def regrade(root: Path, number: int, question: str, answer: str) -> None:
    """Student `number`'s hand-in collected again with a new `answer` to `question`, and the
    class's gradebook written again and sealed, as `kws grade --student` leaves them."""
    name = student_name(number)
    for path in (root / "submissions" / name).glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if f"answer:{question}" in cell["metadata"].get("tags", []):
                cell["source"] = answer.splitlines(keepends=True)
        path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    grades = root / "grades"
    graded = []
    for result in sorted((grades / "results").glob("*.json")):
        graded.append(Graded(result.stem, json.loads(result.read_text()), "", 3.0))
    write_gradebook(graded, grades / "gradebook.csv")
    seal(grades, "kws grade")


@contextlib.contextmanager
def serving(grades: Path, grader: str = "kim"):
    """`kws mark`'s server on `grades` (the kit's solutions beside the answers), answering in a
    thread of this process while the block runs."""
    served = MarkServer(MarkingSession(grades, solutions=ROOT / "solutions", grader=grader))
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.shutdown()
        served.server_close()


def fixtures(students: int):
    """A test module's fixtures ``course`` (`write_class` of `students`: its folder) and
    ``server`` (`serving` its grades), each test its own: ``course, server = fixtures(24)``."""

    @pytest.fixture(name="course")
    def course(tmp_path):
        return write_class(tmp_path / "course", students)

    @pytest.fixture(name="server")
    def server(course):
        with serving(course / "grades") as served:
            yield served

    return course, server


def ask(server, method, path, body=None, *, cookie=True, token=True, **headers):
    """(status, headers, body) of one request, as the page's own script sends it unless told."""
    sent = {"Host": f"127.0.0.1:{server.port}"}
    if cookie:
        sent["Cookie"] = f"{server.cookie}={server.token}"
    data = None
    if body is not None:
        data = json.dumps(body)
        sent |= {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{server.port}"}
        if token:
            sent["X-KWS-Token"] = server.token
    sent |= {name.replace("_", "-"): value for name, value in headers.items()}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request(method, path, body=data, headers=sent)
    response = connection.getresponse()
    answer = (response.status, dict(response.getheaders()), response.read())
    connection.close()
    return answer
