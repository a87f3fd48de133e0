"""Notebook 01's Task 3 and 4 corpus (tests/corpus_keyword_model.py) on the tiny synthetic data:
each typical mistake loses exactly its own test, with a reason naming the fix. Each case is a
kind of verdict of its own, so the default run's sample (tests/corpus_grading.py) is the whole
corpus."""

from pathlib import Path

import pytest
from corpus_grading import (
    assert_sample_covers,
    grade_corpus,
    graded_cases,
    results_of,
    wrong_verdicts,
)
from corpus_keyword_model import (
    GRADERS,
    KEYWORD_MODEL_TESTS,
    build_keyword_model_corpus,
    keyword_model_cases,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GRADED = ROOT / "kws/assignments/keyword_spotting/graded_tests"  # its graded tests
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
    assert_sample_covers(keyword_model_cases(), SAMPLE)


def test_every_case_loses_exactly_its_test(tmp_path, tiny_data, reference_submission, full):
    only = graded_cases((case.name for case in keyword_model_cases()), SAMPLE, full)
    cases = build_keyword_model_corpus(reference_submission, tmp_path / "submissions", only)
    out = tmp_path / "out"
    grade_corpus(
        tmp_path / "submissions",
        tiny_data,
        out,
        graded_tests=[GRADED / name for name in GRADERS],
    )
    assert wrong_verdicts(cases, results_of(cases, out), KEYWORD_MODEL_TESTS) == {}
