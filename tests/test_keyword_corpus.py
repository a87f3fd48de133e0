"""Notebook 01's grader corpus (tests/corpus_keyword.py) on the tiny synthetic data: each typical
mistake loses exactly its own task's tests, with a reason naming the fix, and never shows a path
of the grading machine. Each case is a kind of verdict of its own, so the default run's sample
(tests/corpus_sample.py) is the whole corpus."""

import json
import sys
from pathlib import Path

import pytest
from corpus_keyword import KEYWORD_TESTS, build_keyword_corpus, keyword_cases
from corpus_sample import graded_cases, uncovered

from kws.grading.classrun.batch import grade_batch

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GRADED = ROOT / "kws/assignments/keyword_spotting/graded_tests"  # its graded tests
CHILD_TIMEOUT = 90
SAMPLE = {  # the case that covers each kind of verdict
    "rewrite_renamed_and_reordered": "the reference renamed and reordered: full marks",
    "unknown_kept_whole": "every other word kept as _unknown_",
    "unknown_contiguous_block": "_unknown_ drawn as one block of neighbouring clips",
    "patches_the_keyword_checks": "the grader's keyword checks replaced: every task test lost",
    "tokens_per_frame_and_mel_bin": "over the token budget, and so over the memory budget",
}


def test_the_default_sample_covers_every_kind_of_verdict():
    assert uncovered(keyword_cases(), SAMPLE) == []


@pytest.fixture(scope="module")
def keyword_corpus(tmp_path_factory, tiny_data, reference_submission, full):
    folder = tmp_path_factory.mktemp("keyword-corpus")
    only = graded_cases((case.name for case in keyword_cases()), SAMPLE, full)
    cases = build_keyword_corpus(reference_submission, folder / "submissions", only)
    grade_batch(
        folder / "submissions",
        tiny_data,
        folder / "out",
        jobs=2,
        grader=GRADED / "test_01_tasks.py",
        pytest_args=[
            str(GRADED / "test_01_keyword_spotting.py"),
            "--child-timeout",
            str(CHILD_TIMEOUT),
        ],
        timeout=10 * CHILD_TIMEOUT,
    )
    paths = [str(folder), str(tiny_data), str(ROOT), "/tmp/", sys.prefix]
    return cases, folder / "out", paths


def test_every_keyword_case_loses_exactly_its_task(keyword_corpus):
    cases, out, paths = keyword_corpus
    wrong = {}
    for name, case in cases.items():
        tests = {
            t["name"]: t
            for t in json.loads((out / "results" / f"{name}.json").read_text())["tests"]
        }
        for short, full in KEYWORD_TESTS.items():
            test, phrase = tests[full], case.lost.get(short)
            if phrase is None and test["score"] != test["max_score"]:
                wrong[f"{name}: {short}"] = f"lost points: {test['output']}"
            elif phrase is not None and (test["score"] != 0 or phrase not in test["output"]):
                wrong[f"{name}: {short}"] = f"score {test['score']}, said: {test['output']}"
            if any(path in test.get("output", "") for path in paths):
                wrong[f"{name}: {short}"] = f"shows a path of the grading machine: {test['output']}"
    assert wrong == {}
