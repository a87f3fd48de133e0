"""Accuracy carried in instead of earned (tests/corpus_carried.py), graded as an instructor
grades a class (`kws grade`'s batch, one notebook at a time) on the tiny synthetic data: each
case loses exactly the tests it targets or is named for a person to read, with its reason, in
its results and its gradebook row; the honest hand-ins keep every point with no flag. The default run grades
`SAMPLE`, a case for each kind of verdict (tests/corpus_grading.py); the full run (``--full``)
every case."""

import csv
import json

import pytest
from corpus_carried import HONEST, NOTEBOOKS, build_carried_corpus, carried_cases
from corpus_grading import assert_sample_covers, grade_corpus, graded_cases, wrong_verdicts

from kws.grading.judge.document import findings_of
from kws.grading.publish.report.analysis import attention_flags
from kws.grading.records.grades import read_grades
from kws.grading.season.compute import with_standings

pytestmark = pytest.mark.slow
SAMPLE = {  # the case that covers each kind of verdict, and a case of each notebook
    "nb01_int64_hash_table": "integer tensors and a table written by the notebook: flagged",
    "nb01_side_file_answers": "a model cell opening files: flagged, the side file left out",
    "nb01_answers_in_config": "answers in config.json: flagged",
    "nb01_table_in_code": "numbers written in the code: flagged",
    "nb02_knows_it_is_rerun": "an answer table, and a cell that asks the kernel: flagged",
    "nb02_near_ties_on_every_row": "near ties on every row: accuracy lost",
    "nb02_weights_as_int32_bit_patterns": "weights as int32 bits: budget and encoder lost",
    "nb03_answer_table": "notebook 03's answer table: flagged",
    "honest_rewrite_01": "the reference rewritten: full marks, no flag",
    "honest_reference_03": "notebook 03's reference: full marks, no flag",
}


def _every_case(data) -> list:
    return [*carried_cases(data), *HONEST]


def test_the_default_sample_covers_every_kind_of_verdict(tiny_data):
    assert_sample_covers(_every_case(tiny_data), SAMPLE)
    notebooks = {case.notebook for case in _every_case(tiny_data) if case.name in SAMPLE}
    assert notebooks == set(NOTEBOOKS)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, tiny_data, reference_submission, full):
    """({case name: (case, results.json, gradebook row)} of every case and honest copy graded
    (`SAMPLE` but in the full run), {notebook number: its grade folder})."""
    folder = tmp_path_factory.mktemp("carried")
    only = graded_cases((case.name for case in _every_case(tiny_data)), SAMPLE, full)
    cases = build_carried_corpus(reference_submission, folder / "submissions", tiny_data, only)
    found, folders = {}, {}
    for number, (_, assignment, _) in NOTEBOOKS.items():
        if not (folder / "submissions" / number).is_dir():
            continue  # no case of this notebook graded
        out = folder / "out" / number
        gradebook = grade_corpus(
            folder / "submissions" / number,
            tiny_data,
            out,
            assignment=assignment,
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
    """Every test with points (re-training, skipped without a GPU, has none) is judged; a
    case names each test it loses by the start of its name."""
    cases = {name: case for name, (case, _, _) in graded[0].items()}
    documents = {name: document for name, (_, document, _) in graded[0].items()}
    assert wrong_verdicts(cases, documents) == {}


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


def test_honest_hand_ins_keep_every_point_with_no_flag(graded, full):
    honest = {name: entry for name, entry in graded[0].items() if name.startswith("honest_")}
    assert len(honest) == (4 if full else 2)
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
