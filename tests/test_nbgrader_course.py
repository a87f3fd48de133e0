"""A course written for nbgrader carries over (kws.written.foreign, kws.notebooks,
kws.written.answers), on nbgrader's own ps1 example written fresh in tests/nbgrader_ps1.py:
its solution regions and hidden tests never reach students (stripped as nbgrader's release
strips them, or refused naming the cell and the fix), its manually graded answers are the
kit's written questions, titled by their first real line, and a code answer still raising
nbgrader's stub is no answer."""

import json
import os
import subprocess
import sys

import nbformat
import pytest
from course_helpers import ROOT
from nbgrader_ps1 import nbgrader_release, problem1, problem2, submitted, write_course

from kws.grading.records.marks.rubric import Item, Rubric
from kws.notebooks import NotebookError, student_version
from kws.written.answers import read_answers
from kws.written.questions import read_questions
from kws.written.render import answer_html

NAME = "source/ps1/problem1.ipynb"


def test_release_strips_the_solutions_and_hidden_tests_as_nbgrader_does():
    student = student_version(problem1(), name=NAME)
    text = nbformat.writes(student)
    for secret in ("n must be greater", "i ** 2 for i", "return sum(squares(n))",
                   "sum_of_squares(11) == 506", "return sum_of_squares(n)",
                   "BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):  # fmt: skip
        assert secret not in text, secret
    squares = student.cells[2].source
    assert squares.endswith('    """\n    # YOUR CODE HERE\n    raise NotImplementedError()')
    assert squares.startswith("def squares(n):")  # the rest of the cell as it was
    visible = student.cells[9].source
    assert visible.startswith('"""Check that sum_of_squares') and "== 385" in visible
    assert student.cells[9].metadata["nbgrader"]["points"] == 0.5  # nbgrader's metadata kept


def test_an_nbgrader_marker_in_a_cell_without_its_metadata_is_refused_with_the_fix():
    nb = problem1()
    nb.cells[2].metadata = {}
    with pytest.raises(NotebookError) as refused:
        student_version(nb, name=NAME)
    assert str(refused.value).startswith(
        f"{NAME}, cell 2, line 6: '### BEGIN SOLUTION' is nbgrader's solution marker, in a "
        "cell without nbgrader metadata: students would get the solution; give the cell "
    )


def test_the_manually_graded_cells_are_questions_titled_by_their_first_real_line():
    questions = read_questions(problem1(), name=NAME)
    assert [(q.id, q.kind, q.points, q.origin) for q in questions] == [
        ("sum_of_squares_equation", "markdown", 1.0, "nbgrader"),
        ("sum_of_squares_application", "code", 2.0, "nbgrader"),
    ]
    titles = [
        Rubric("ps1", q.id, q.kind, q.points, q.prompt, q.model_answer, (Item("a", 1, "x"),)).title
        for q in questions
    ]
    assert titles == ["Part C (1 point)", "Part D (2 points)"]  # not "---"


def test_an_answer_left_as_nbgrader_released_it_is_no_answer():
    released = nbgrader_release(problem1())
    kit = json.loads(nbformat.writes(student_version(problem1(), name=NAME)))
    blank = read_answers(submitted(released, {}), kit)
    assert not blank["sum_of_squares_equation"].answered  # "YOUR ANSWER HERE"
    assert not blank["sum_of_squares_application"].answered  # the stub still raises
    stub_left = submitted(released, {"sum_of_squares_application": (
        "def pyramidal_number(n):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n")})  # fmt: skip
    assert not read_answers(stub_left, kit)["sum_of_squares_application"].answered
    done = submitted(released, {
        "sum_of_squares_equation": "$\\sum_{i=1}^n i^2$",
        "sum_of_squares_application": "def pyramidal_number(n):\n    return sum_of_squares(n)",
    })  # fmt: skip
    answers = read_answers(done, kit)
    assert answers["sum_of_squares_equation"].answered
    assert answers["sum_of_squares_equation"].found_by == "tag"  # by grade_id
    assert answers["sum_of_squares_application"].text == (
        "def pyramidal_number(n):\n    return sum_of_squares(n)"
    )
    assert "No answer." not in answer_html(answers["sum_of_squares_application"])


def _kws(cwd, *args, course="course"):
    env = os.environ | {"KWS_COURSE": course, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "kws.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.mark.slow
def test_a_written_only_assignment_is_assigned_and_handed_in_without_data(tmp_path):
    """nbgrader's ps1 as a course of the kit: a spec of a name, a title and a notebook (no
    tasks, no data, no tiers, no parameters cell); `kws assign` writes its student notebook
    (solutions stripped, a hand-in cell that needs no DATA_DIR) and `kws handin` checks a
    hand-in by its written answers."""
    course = write_course(tmp_path / "course")
    done = _kws(tmp_path, "assign")
    assert done.returncode == 0, done.stderr
    assert "wrote course/students/problem1.ipynb" in done.stdout
    assert (  # nbgrader's autograded test cells are its graded tests
        "ps1: 3 graded tests, 2.5 points: correct_squares (1), squares_invalid_input (1), "
        "correct_sum_of_squares (0.5)\n"
    ) in done.stdout
    assert (
        "written questions: 2, 3 points, marked by hand (kws mark); 5.5 points in all"
        in done.stdout
    )
    student = nbformat.read(course / "students" / "problem1.ipynb", as_version=4)
    text = nbformat.writes(student)
    assert "BEGIN SOLUTION" not in text and "sum_of_squares(11) == 506" not in text
    handin_cell = next(c for c in student.cells if "handin" in c.metadata.get("tags", []))
    assert handin_cell.source.endswith('ready_to_hand_in("ps1", data=None, outputs=None)')
    assert "DATA_DIR" not in text
    # the Set-up cell first, before the questions' cells (no parameters cell to put it before)
    first_code = next(c for c in student.cells if c.cell_type == "code")
    assert "KIT_SOURCE = " in first_code.source and student.cells.index(first_code) == 1
    handin = tmp_path / "ann"
    handin.mkdir()
    answers = {"sum_of_squares_equation": "It is $\\sum_{i=1}^n i^2$."}
    nb = json.loads(nbformat.writes(student))
    for cell in nb["cells"]:
        for tag in cell["metadata"].get("tags", []):
            if tag.startswith("answer:") and tag[7:] in answers:
                cell["source"] = answers[tag[7:]]
    (handin / "problem1.ipynb").write_text(json.dumps(nb))
    checked = _kws(handin, "handin", "problem1.ipynb", course=str(course))
    assert checked.returncode in (0, 1), checked.stderr
    assert (
        "1 of the 2 written questions has no answer yet: sum_of_squares_application (the "
        "first asks `Part D (2 points)`)"
    ) in checked.stdout
    assert "data folder" not in checked.stdout and "outputs/" not in checked.stdout
    assert (handin / "handin.zip").is_file()

    (course / "solutions" / "problem1.ipynb").write_text(
        nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Hi")]))
    )
    refused = _kws(tmp_path, "assign")
    assert (
        refused.returncode == 2
        and (
            "course/ps1/spec.toml: no [tasks] and course/solutions/problem1.ipynb asks no written "
            "question; describe a task under [tasks], or ask a question"
        )
        in refused.stderr
    )


def test_kws_grade_without_data_names_the_assignment_that_needs_it(tmp_path):
    """Only a run whose assignments are all written-only may leave out --data: a hand-in of
    the kit's keyword spotting notebook is graded on a hidden test set, so `kws grade` refuses
    before grading, naming the assignment, a hand-in holding it and the fix."""
    for folder in ("ann", "bob/hw1"):  # bob's a folder deeper, as nbgrader's layout has it
        (tmp_path / "subs" / folder).mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(),
                       tmp_path / "subs" / folder / "01_keyword_spotting.ipynb")  # fmt: skip
    refused = _kws(tmp_path, "grade", "subs", "--out", "grades", course="")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "kws grade: --data is needed: keyword_spotting (01_keyword_spotting.ipynb, held by ann "
        "and 1 more) is graded on a hidden test set; pass --data DIR, the folder holding its "
        "test set (only a run whose assignments are all written-only needs none)"
    )
    assert not (tmp_path / "grades").exists()


MARK = """
import json, sys
from pathlib import Path
from kws.grading.marking.session import MarkingSession
session = MarkingSession(Path("grades"), solutions=Path("course/solutions"), grader="kim")
shown = {q["key"]: q["title"] for q in session.questions()}
menu = [(q["key"], q["label"]) for q in session.questions()]
answered = {}
for key, points in (("ps1/sum_of_squares_equation", 1.0), ("ps1/sum_of_squares_application", 1.5)):
    question = session.question(key)
    answered[key] = {session.named[a["alias"]]: a["answered"] for a in question["answers"]}
    session.save({"key": key, "aliases": [session.alias["ann"]], "items": [], "adjust": points},
                 by="kim")
    session.save({"key": key, "aliases": [session.alias["bob"]], "items": [], "zero": True},
                 by="kim")
print(json.dumps({"titles": shown, "menu": menu, "answered": answered}))
"""
ROSTER = "Student,ID,SIS User ID,SIS Login ID,Section,folder\nAnn A,1,u1,ann,S1,ann\nBob B,2,u2,bob,S1,bob\n"


@pytest.mark.slow
def test_nbgrader_ps1_is_graded_marked_and_counted_end_to_end(tmp_path):
    """nbgrader's ps1 carried over as a written-only assignment: its students' notebooks (as
    nbgrader released them, in nbgrader's submitted/<student>/ps1/ layout) graded by `kws
    grade` without --data (written-only: there is no test set), their manually graded answers marked through `kws mark`'s session (the stub left
    by bob is no answer), and the marks counted by `kws season`, `kws export` and `kws
    feedback`: out of the questions' 3 points and the test cells' 2.5, not 0."""
    write_course(tmp_path / "course")
    released = nbgrader_release(problem1())
    answers = {
        "ann": {"squares": "def squares(n):\n    return [i * i for i in range(1, n + 1)]",
                "sum_of_squares_equation": "$\\sum_{i=1}^n i^2$",
                "sum_of_squares_application": "def pyramidal_number(n):\n"
                                              "    return sum_of_squares(n)"},
        "bob": {},
    }  # fmt: skip
    for student, written in answers.items():
        folder = tmp_path / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        (folder / "problem1.ipynb").write_text(json.dumps(submitted(released, written)))
    graded = _kws(tmp_path, "grade", "submitted", "--out", "grades")  # no --data: none needed
    assert graded.returncode == 0, graded.stderr
    env = os.environ | {"KWS_COURSE": "course", "PYTHONPATH": str(ROOT)}
    marked = subprocess.run([sys.executable, "-c", MARK], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert marked.returncode == 0, marked.stderr
    seen = json.loads(marked.stdout)
    assert seen["titles"] == {"ps1/sum_of_squares_application": "Part D (2 points)",
                              "ps1/sum_of_squares_equation": "Part C (1 point)"}  # fmt: skip
    assert seen["menu"] == [["ps1/sum_of_squares_equation", "Part C (1 point)"],  # notebook order
                            ["ps1/sum_of_squares_application", "Part D (2 points)"]]  # fmt: skip
    assert seen["answered"]["ps1/sum_of_squares_application"] == {"ann": True, "bob": False}
    assert seen["answered"]["ps1/sum_of_squares_equation"] == {"ann": True, "bob": False}
    assert _kws(tmp_path, "season", "grades").returncode == 0
    (tmp_path / "roster.csv").write_text(ROSTER)
    exported = _kws(tmp_path, "export", "canvas", "grades", "--roster", "roster.csv", "--out",
                    "canvas.csv")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    # the questions' 3 points and the test cells' 2.5 (tests/test_nbgrader_autograded.py)
    assert "column 'Problem set 1' out of 5.5 points" in exported.stdout
    rows = (tmp_path / "canvas.csv").read_text().splitlines()
    # ann: marks 1 + 1.5, and correct_squares' 1 (her squares raises no ValueError, her
    # sum_of_squares is nbgrader's stub): 3.5
    assert rows[2].endswith(",ann,S1,3.5") and rows[3].endswith(",bob,S1,0")
    feedback = _kws(tmp_path, "feedback", "grades", "--out", "feedback")
    assert feedback.returncode == 0 and "2 page(s)" in feedback.stdout
    page = (tmp_path / "feedback" / "ann" / "ps1.html").read_text()
    assert "Written answers" in page and "Part D (2 points)" in page and "3.5 / 5.5" in page
    assert "squares_invalid_input: Check that squares raises an error" in page  # a test cell


def _hand_in(tmp_path, notebooks: dict[str, nbformat.NotebookNode]) -> None:
    """ann (her answers written) and bob (nothing written) hand in `notebooks` as nbgrader
    released them, in nbgrader's submitted/<student>/ps1/ layout."""
    answers = {"sum_of_squares_equation": "$\\sum_{i=1}^n i^2$", "tests_explained": "Outputs."}
    for student in ("ann", "bob"):
        folder = tmp_path / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        for file, source in notebooks.items():
            written = answers if student == "ann" else {}
            (folder / file).write_text(json.dumps(submitted(nbgrader_release(source), written)))
    (tmp_path / "roster.csv").write_text(ROSTER)


@pytest.mark.slow
@pytest.mark.full  # two `kws grade` runs of a class: 7 CPU-s
def test_a_written_only_notebook_counts_from_the_first_grade(tmp_path):
    """nbgrader's ps1 whole: problem1 (test cells and two manually graded answers) and
    problem2 (manually graded answers only). `kws grade` keeps the plan it graded with in the
    grades folder, every written question of both notebooks in it; the export before any mark
    counts all 8 unmarked answers (not problem1's 4), and with --unmarked zero ships both
    notebooks' points. A later `kws season` counts the plan's questions, not the solution
    notebooks' as they are now; a plan edited by hand is refused, never decided again."""
    course = write_course(tmp_path / "course", both=True)
    _hand_in(tmp_path, {"problem1.ipynb": problem1(), "problem2.ipynb": problem2()})
    graded = _kws(tmp_path, "grade", "submitted", "--out", "grades")
    assert graded.returncode == 0, graded.stderr
    assert "8 written answer(s) not marked yet" in graded.stdout
    plan = json.loads((tmp_path / "grades" / "plan.json").read_text())
    assert plan["notebooks"] == {"ann": ["ps1", "ps1_problem2"], "bob": ["ps1", "ps1_problem2"]}
    asked = {name: [(q["question"], q["points"]) for q in questions]
             for name, questions in plan["written"].items()}  # fmt: skip
    assert asked == {
        "ps1": [("sum_of_squares_equation", 1.0), ("sum_of_squares_application", 2.0)],
        "ps1_problem2": [("tests_explained", 2.0), ("cube", 1.0)],
    }
    rubrics = json.loads((tmp_path / "grades" / "marks" / "rubrics.json").read_text())
    assert "ps1_problem2/tests_explained" in json.dumps(rubrics)  # recorded before any mark
    export = ("export", "canvas", "grades", "--roster", "roster.csv", "--out", "canvas.csv")
    refused = _kws(tmp_path, *export)
    assert refused.returncode == 2 and "8 written answers not marked yet" in refused.stderr
    assert not (tmp_path / "canvas.csv").exists()
    zero = _kws(tmp_path, *export, "--unmarked", "zero")
    assert zero.returncode == 0, zero.stderr
    # problem1: test cells 2.5 and questions 3; problem2: questions 3
    assert "column 'kws total' out of 8.5 points" in zero.stdout
    assert (tmp_path / "canvas.csv").read_text().splitlines()[1].endswith(",8.5")

    solution = course / "solutions" / "problem2.ipynb"  # the solutions changed after grading
    changed = problem2()
    changed.cells[2].metadata["nbgrader"]["points"] = 5
    nbformat.write(changed, solution)
    again = _kws(tmp_path, "season", "grades")
    assert again.returncode == 0, again.stderr
    standings = json.loads((tmp_path / "grades" / "standings.json").read_text())
    assert standings["assignments"]["ps1_problem2"]["maximum"] == 3.0  # the plan's, as graded

    kept = tmp_path / "grades" / "plan.json"
    kept.write_text(kept.read_text().replace('"points": 2.0', '"points": 20.0'))
    for command in (("season", "grades"), (*export, "--unmarked", "zero")):
        edited = _kws(tmp_path, *command)
        assert edited.returncode == 2, edited.stdout
        assert "plan.json changed since `kws season` recorded the grades" in edited.stderr
        assert "put back the plan.json" in edited.stderr


@pytest.mark.slow
def test_a_written_only_class_is_never_out_of_0_points(tmp_path):
    """A class that hands in only problem2 (manually graded answers, no test cell) is graded
    out of its questions' points from the first grade, unmarked answers counted; without its
    solution notebook on the machine, `kws grade` refuses before grading, naming it."""
    course = write_course(tmp_path / "course", both=True)
    _hand_in(tmp_path, {"problem2.ipynb": problem2()})
    graded = _kws(tmp_path, "grade", "submitted", "--out", "grades")
    assert graded.returncode == 0, graded.stderr
    assert "4 written answer(s) not marked yet" in graded.stdout
    zero = _kws(tmp_path, "export", "canvas", "grades", "--roster", "roster.csv", "--out",
                "canvas.csv", "--unmarked", "zero")  # fmt: skip
    assert zero.returncode == 0, zero.stderr
    assert "column 'Problem set 1, problem 2' out of 3 points" in zero.stdout

    (course / "solutions" / "problem2.ipynb").unlink()
    refused = _kws(tmp_path, "grade", "submitted", "--out", "grades2")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"kws grade: {(course / 'solutions' / 'problem2.ipynb').resolve()} is not there: "
        "ps1_problem2 is written-only, its points are its solution notebook's questions; put "
        "the solution notebook there (the course folder, KWS_COURSE), then run the same command"
    )
    assert not (tmp_path / "grades2").exists()
