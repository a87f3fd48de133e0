"""Notebook 03's grader corpus (tests/corpus_patch.py) on the tiny synthetic data: each planted
bug loses exactly its own test, with a reason naming the fix; a rewrite of the reference (other
names, another patch embedding, its cells in another order) and patch projections written other
ways (without a bias, raw parameters, sliced patches) keep full marks; no output shows a path of
the grading machine. The default run grades `SAMPLE`, a case for each kind of verdict
(tests/corpus_sample.py); the full run (``--full``) every case."""

import json
import sys
from pathlib import Path

import pytest
from corpus_patch import PATCH_TESTS, build_patch_corpus, patch_cases
from corpus_sample import graded_cases, uncovered

from kws.grading.classrun.batch import grade_batch

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GRADED = ROOT / "kws/assignments/patch_transformer/graded_tests"  # its graded tests
CHILD_TIMEOUT = 120
SAMPLE = {  # the case that covers each kind of verdict; the full run adds the other projections
    "grid_off_by_one": "the patch grid off by one",
    "positions_added_after_the_cls_token": "positions added to the CLS and distillation tokens",
    "patchout_in_eval_mode": "patch-out that drops in eval mode",
    "patchout_of_single_patches": "patch-out of single patches, not rows and columns",
    "distillation_against_soft_targets": "distillation against soft targets",
    "library_encoder": "torch.nn.TransformerEncoder where the task says from scratch",
    "patchout_from_the_global_generator": "patch-out drawn from the global generator",
    "patchout_without_at_least_one": "patch-out that may drop every column",
    "rewritten_and_reordered": "the reference rewritten and reordered: full marks",
}


def test_the_default_sample_covers_every_kind_of_verdict():
    assert uncovered(patch_cases(), SAMPLE) == []
    assert len(SAMPLE) < len(patch_cases())  # the full run grades more


def test_every_case_loses_exactly_its_test(tmp_path, tiny_data, reference_submission, full):
    only = graded_cases((case.name for case in patch_cases()), SAMPLE, full)
    cases = build_patch_corpus(reference_submission, tmp_path / "submissions", only)
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
