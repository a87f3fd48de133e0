"""Accuracy carried in instead of earned (tests/corpus_carried.py), graded as an instructor
grades a class (`kws grade`'s batch, one notebook at a time) on the tiny synthetic data: each
case loses exactly the tests it targets or is named for a person to read, with its reason, in
its results and its gradebook row; the honest hand-ins keep every point with no flag."""

import csv
import json

import pytest
from corpus_carried import NOTEBOOKS, build_carried_corpus

from kws.grading.classrun.batch import grade_batch
from kws.grading.judge.results import findings_of
from kws.grading.publish.report.analysis import attention_flags
from kws.grading.records.grades import read_grades
from kws.grading.season.compute import with_standings

pytestmark = pytest.mark.slow
CHILD_TIMEOUT = 180


@pytest.fixture(scope="module")
def graded(tmp_path_factory, tiny_data, reference_submission):
    """({case name: (case, results.json, gradebook row)} of every case and honest copy,
    {notebook number: its grade folder})."""
    folder = tmp_path_factory.mktemp("carried")
    cases = build_carried_corpus(reference_submission, folder / "submissions", tiny_data)
    found, folders = {}, {}
    for number, (_, assignment, _) in NOTEBOOKS.items():
        out = folder / "out" / number
        gradebook = grade_batch(
            folder / "submissions" / number,
            tiny_data,
            out,
            jobs=2,
            assignment=assignment,
            pytest_args=["--child-timeout", str(CHILD_TIMEOUT)],
            timeout=10 * CHILD_TIMEOUT,
        )
        rows = {row["student"]: row for row in csv.DictReader(gradebook.open())}
        folders[number] = out
        for name in rows:
            document = json.loads((out / "results" / f"{name}.json").read_text())
            found[name] = (cases[name], document, rows[name])
    assert set(found) == set(cases)
    return found, folders


def _reviews(document: dict) -> list[str]:
    return [finding["text"] for finding in findings_of(document, "review")]


def test_each_case_loses_exactly_what_it_targets(graded):
    wrong = {}
    for name, (case, document, _) in graded[0].items():
        for test in document["tests"]:
            if test["max_score"] == 0:  # re-training, skipped without a GPU
                continue
            phrase = next((p for t, p in case.lost.items() if test["name"].startswith(t)), None)
            if phrase is None and test["score"] != test["max_score"]:
                wrong[f"{name}: {test['name']}"] = f"lost points: {test['output']}"
            elif phrase is not None and (test["score"] != 0 or phrase not in test["output"]):
                wrong[f"{name}: {test['name']}"] = f"score {test['score']}: {test['output']}"
    assert wrong == {}


def test_each_case_that_keeps_its_points_is_named_with_its_reason(graded):
    missing = {}
    for name, (case, document, row) in graded[0].items():
        reviews = _reviews(document)
        for phrase in case.flagged:
            if not any(phrase in review for review in reviews):
                missing[f"{name}: {phrase}"] = reviews
            if phrase not in row["notes"]:
                missing[f"{name} (gradebook): {phrase}"] = row["notes"]
    assert missing == {}


def test_honest_hand_ins_keep_every_point_with_no_flag(graded):
    honest = {name: entry for name, entry in graded[0].items() if name.startswith("honest_")}
    assert len(honest) == 4
    flagged = {name: _reviews(document) for name, (_, document, _) in honest.items()}
    assert flagged == dict.fromkeys(honest, [])
    for name, (_, document, _) in honest.items():
        assert document["score"] == sum(t["max_score"] for t in document["tests"]), name


def test_a_side_file_never_reaches_the_child_and_the_student_is_told_why(graded):
    """The model cell raises if it finds its answers.json (it would lose every test); the note
    says what grading used, and that nothing is to fix."""
    _, document, _ = graded[0]["nb01_side_file_answers"]
    assert "grading used only the notebook and each task's config.json" in document["output"]
    assert "nothing to fix): left out outputs/ (" in document["output"]


def test_the_class_report_lists_each_flagged_case_under_hand_ins_to_look_at(graded):
    """`kws report`'s "hand-ins to look at" (kws.grading.publish.report.analysis.attention_flags): every case
    with a flag, and no honest hand-in."""
    cases, folders = graded
    listed = set()
    for out in folders.values():
        grades = with_standings(read_grades(out))
        listed |= {f.student for f in attention_flags(grades) if f.kind == "manual review"}
    assert listed == {name for name, (case, _, _) in cases.items() if case.flagged}
