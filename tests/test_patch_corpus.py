"""Notebook 03's grader corpus (tests/corpus_patch.py) on the tiny synthetic data: each planted
bug loses exactly its own test, with a reason naming the fix; a rewrite of the reference (other
names, another patch embedding, its cells in another order) and patch projections written other
ways (without a bias, raw parameters, sliced patches) keep full marks; no output shows a path of
the grading machine."""

import json
import sys
from pathlib import Path

import pytest
from corpus_patch import PATCH_TESTS, build_patch_corpus

from kws.grading.classrun.batch import grade_batch

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GRADED = ROOT / "kws/assignments/patch_transformer/graded_tests"  # its graded tests
CHILD_TIMEOUT = 120


def test_every_case_loses_exactly_its_test(tmp_path, tiny_data, reference_submission):
    cases = build_patch_corpus(reference_submission, tmp_path / "submissions")
    grade_batch(
        tmp_path / "submissions",
        tiny_data,
        tmp_path / "out",
        jobs=2,
        grader=GRADED / "test_03_patch_transformer.py",
        pytest_args=[str(GRADED / "test_03_numeric.py"), "--child-timeout", str(CHILD_TIMEOUT)],
        timeout=10 * CHILD_TIMEOUT,
    )
    paths = [str(tmp_path), str(tiny_data), str(ROOT), "/tmp/", sys.prefix]
    wrong = {}
    for name, case in cases.items():
        document = json.loads((tmp_path / "out" / "results" / f"{name}.json").read_text())
        tests = {test["name"]: test for test in document["tests"]}
        for short, full in PATCH_TESTS.items():
            test, phrase = tests[full], case.lost.get(short)
            if phrase is None and test["score"] != test["max_score"]:
                wrong[f"{name}: {short}"] = f"lost points: {test['output']}"
            elif phrase is not None and (test["score"] != 0 or phrase not in test["output"]):
                wrong[f"{name}: {short}"] = f"score {test['score']}, said: {test['output']}"
            if any(path in test.get("output", "") for path in paths):
                wrong[f"{name}: {short}"] = f"shows a path of the grading machine: {test['output']}"
    assert wrong == {}
