"""Notebook 01's grader corpus (tests/corpus_keyword.py) on the tiny synthetic data: each typical
mistake loses exactly its own task's tests, with a reason naming the fix, and never shows a path
of the grading machine. Each case is a kind of verdict of its own, so the default run's sample
(tests/corpus_grading.py) is the whole corpus."""

import sys
from pathlib import Path

import pytest
from corpus_grading import (
    assert_sample_covers,
    grade_corpus,
    graded_cases,
    results_of,
    wrong_verdicts,
)
from corpus_keyword import KEYWORD_TESTS, build_keyword_corpus, keyword_cases

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GRADED = ROOT / "kws/assignments/keyword_spotting/graded_tests"  # its graded tests
SAMPLE = {  # the case that covers each kind of verdict
    "rewrite_renamed_and_reordered": "the reference renamed and reordered: full marks",
    "unknown_kept_whole": "every other word kept as _unknown_",
    "unknown_contiguous_block": "_unknown_ drawn as one block of neighbouring clips",
    "patches_the_keyword_checks": "the grader's keyword checks replaced: every task test lost",
    "tokens_per_frame_and_mel_bin": "over the token budget, and so over the memory budget",
}


def test_the_default_sample_covers_every_kind_of_verdict():
    assert_sample_covers(keyword_cases(), SAMPLE)


@pytest.fixture(scope="module")
def keyword_corpus(tmp_path_factory, tiny_data, reference_submission, full):
    folder = tmp_path_factory.mktemp("keyword-corpus")
    only = graded_cases((case.name for case in keyword_cases()), SAMPLE, full)
    cases = build_keyword_corpus(reference_submission, folder / "submissions", only)
    grade_corpus(
        folder / "submissions",
        tiny_data,
        folder / "out",
        graded_tests=[GRADED / "test_01_tasks.py", GRADED / "test_01_keyword_spotting.py"],
    )
    paths = [str(folder), str(tiny_data), str(ROOT), "/tmp/", sys.prefix]
    return cases, folder / "out", paths


def test_every_keyword_case_loses_exactly_its_task(keyword_corpus):
    cases, out, paths = keyword_corpus
    assert wrong_verdicts(cases, results_of(cases, out), KEYWORD_TESTS, paths) == {}
