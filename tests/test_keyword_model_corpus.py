"""Notebook 01's Task 3 and 4 corpus (tests/corpus_keyword_model.py) on the tiny synthetic data:
each typical mistake loses exactly its own test, with a reason naming the fix. Each case is a
kind of verdict of its own, so the default run's sample (tests/corpus_sample.py) is the whole
corpus."""

import json
from pathlib import Path

import pytest
from corpus_keyword_model import (
    GRADERS,
    KEYWORD_MODEL_TESTS,
    build_keyword_model_corpus,
    keyword_model_cases,
)
from corpus_sample import graded_cases, uncovered

from kws.grading.classrun.batch import grade_batch

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GRADED = ROOT / "kws/assignments/keyword_spotting/graded_tests"  # its graded tests
CHILD_TIMEOUT = 90
SAMPLE = {  # the case that covers each kind of verdict
    "rewrite_renamed_and_reordered": "the reference renamed and reordered: full marks",
    "forward_ignores_lengths": "a forward that ignores the lengths: padding",
    "cls_token_appended_last": "the CLS token last: the pipeline",
    "final_norm_skipped": "the final LayerNorm skipped: the pipeline",
    "constant_learning_rate": "no warm-up: the recipe",
    "history_edited_after_a_constant_run": "history.json edited after the run: the recipe",
    "warmup_rounded_to_nothing": "a warm-up of no step on a short run: the recipe",
}


def test_the_default_sample_covers_every_kind_of_verdict():
    assert uncovered(keyword_model_cases(), SAMPLE) == []


def test_every_case_loses_exactly_its_test(tmp_path, tiny_data, reference_submission, full):
    only = graded_cases((case.name for case in keyword_model_cases()), SAMPLE, full)
    cases = build_keyword_model_corpus(reference_submission, tmp_path / "submissions", only)
    grade_batch(
        tmp_path / "submissions",
        tiny_data,
        tmp_path / "out",
        jobs=2,
        grader=GRADED / GRADERS[0],
        pytest_args=[str(GRADED / GRADERS[1]), "--child-timeout", str(CHILD_TIMEOUT)],
        timeout=10 * CHILD_TIMEOUT,
    )
    wrong = {}
    for name, case in cases.items():
        document = json.loads((tmp_path / "out" / "results" / f"{name}.json").read_text())
        tests = {test["name"]: test for test in document["tests"]}
        for short, full in KEYWORD_MODEL_TESTS.items():
            test, phrase = tests[full], case.lost.get(short)
            if phrase is None and test["score"] != test["max_score"]:
                wrong[f"{name}: {short}"] = f"lost points: {test['output']}"
            elif phrase is not None and (test["score"] != 0 or phrase not in test["output"]):
                wrong[f"{name}: {short}"] = f"score {test['score']}, said: {test['output']}"
    assert wrong == {}
