"""`kws mark` on the class the real `kws grade` graded (the session's `real_class`): the
reference hand-in (every notebook executed on the tiny data, its written answers the model
answers), the released notebooks as they are (no answer) and classmates' notebook 02. The results.json the grader wrote records what it measured of each
model as fields, and the marking page shows them beside the answers."""

import shutil

import nbformat
import pytest
from course_helpers import ROOT

from kws.grading.marking.session import MarkingSession
from kws.grading.records.marks.blanks import BLANK_BY
from kws.written.questions import read_questions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory, real_class):
    """A copy of the class the session's real `kws grade` graded (tests/conftest.py): marking
    writes into its grades folder."""
    root = tmp_path_factory.mktemp("marked-class") / "class"
    shutil.copytree(real_class.parent, root, symlinks=True)
    return root


def test_the_grader_records_what_it_measured_and_the_page_shows_it(graded):
    session = MarkingSession(graded / "grades", solutions=ROOT / "solutions", grader="kim")
    ref, fresh = session.alias["ref"], session.alias["fresh"]
    question = session.question("speaker_id/norm-classifier")
    answers = {answer["alias"]: answer for answer in question["answers"]}
    measured = dict(answers[ref]["measures"])
    for task in ("task1", "task2", "task3"):
        assert 0.0 <= float(measured[f"{task} accuracy"]) <= 1.0
    assert measured["task1 encoder layers that ran"] == "3"  # the reference TASK1: num_layers=3
    assert measured["task1 encoder block"].endswith("k")  # e.g. "66.56k", counted in model.pt
    assert dict(answers[fresh]["measures"])["tests"].startswith("0 / ")
    solution = read_questions(nbformat.read(ROOT / "solutions/02_speaker_id.ipynb", as_version=4))
    model = session.answers["speaker_id/norm-classifier"][ref]
    assert answers[ref]["answered"] and model.text == solution[0].model_answer
    assert not answers[fresh]["answered"] and answers[fresh]["mark"]["by"] == BLANK_BY
    assert {q["key"]: q["left"] for q in session.questions()} == {
        "keyword_spotting/token-budget": 1,  # ref's: fresh's blank answers are marked 0
        "patch_transformer/patchout-test-time": 1,
        "speaker_id/norm-classifier": 1,
    }
