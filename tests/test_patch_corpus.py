"""Notebook 03's grader corpus (tests/corpus_patch.py) on the tiny synthetic data: each planted
bug loses exactly its own test, with a reason naming the fix; a rewrite of the reference (other
names, another patch embedding, its cells in another order) and patch projections written other
ways (without a bias, raw parameters, sliced patches) keep full marks; no output shows a path of
the grading machine. The default run grades `SAMPLE`, a case for each kind of verdict
(tests/corpus_grading.py); the full run (``--full``) every case."""

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
from corpus_patch import PATCH_TESTS, build_patch_corpus, patch_cases

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GRADED = ROOT / "kws/assignments/patch_transformer/graded_tests"  # its graded tests
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
    assert_sample_covers(patch_cases(), SAMPLE, smaller=True)


def test_every_case_loses_exactly_its_test(tmp_path, tiny_data, reference_submission, full):
    only = graded_cases((case.name for case in patch_cases()), SAMPLE, full)
    cases = build_patch_corpus(reference_submission, tmp_path / "submissions", only)
    out = tmp_path / "out"
    grade_corpus(
        tmp_path / "submissions",
        tiny_data,
        out,
        graded_tests=[GRADED / "test_03_patch_transformer.py", GRADED / "test_03_numeric.py"],
    )
    paths = [str(tmp_path), str(tiny_data), str(ROOT), "/tmp/", sys.prefix]
    assert wrong_verdicts(cases, results_of(cases, out), PATCH_TESTS, paths) == {}
