"""`kws handin` and the grader agree on the grader corpus (tests/grader_corpus.py): on each hand-in
whose points are lost to loading, format or a structural rule that needs no hidden data, or kept
although it is messy, `kws handin` fails exactly the graded tests the grader takes points for
(`Case.lost`, which tests/test_grader_corpus.py holds the grader to), each with the grader's
reason. The cases it leaves out need the hidden labels (a predictions.csv that is not the
model's: graded after the hand-in), or test the sandbox against attacks.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
from corpus_attacks import Context
from grader_corpus import TESTS, build_corpus

from kws.handin.check import check_handin

# The full run's (docs/development/tests.md, "The two tiers"): `kws handin` on every case of the grader corpus.
pytestmark = [pytest.mark.slow, pytest.mark.full]

CASES = (
    # loading: the model cells, config.json, model.pt
    "syntax_error",
    "deleted_model_cell",
    "reordered_cells_still_define_all",
    "reordered_cells_use_before_definition",
    "missing_model_pt",
    "missing_config_json",
    "unknown_class_in_config",
    "nan_model",
    "wrong_shapes",
    "tampered_checkpoint",
    "handin_cuda_in_forward",
    # format: predictions.csv, the hand-in's layout
    "missing_predictions_csv",
    "handin_nested_two_deep",
    "handin_renamed_by_browser",
    "handin_predictions_from_excel",
    "handin_torch_compile_prefix",
    # structural rules, from the traced forward and the checkpoint
    "four_layers_run",
    "encoder_weights_as_buffers",
)


@pytest.fixture(scope="module")
def corpus(reference_submission, tiny_data, tmp_path_factory):
    """{case name: (`Case`, `kws handin`'s report)} for `CASES`."""
    root = tmp_path_factory.mktemp("handin-corpus")
    context = Context(data=tiny_data, repo=root, results_dir=root / "results", port=0)
    built = build_corpus(reference_submission, root / "cases", context, only=CASES)
    data = tiny_data / "speaker_features"  # a student's own copy: its labels are not read

    def check(name: str):
        return check_handin(root / "cases" / name, data=data, zip_path=root / f"{name}.zip")

    with ThreadPoolExecutor(2) as pool:  # a grader and its child each
        reports = dict(zip(built, pool.map(check, built), strict=True))
    return {name: (case, reports[name]) for name, case in built.items()}


@pytest.mark.parametrize("name", CASES)
def test_handin_fails_the_tests_the_grader_takes_points_for_with_its_reason(corpus, name):
    case, report = corpus[name]
    (notebook,) = report.notebooks
    failed = {line.what: line.why for line in notebook.lines if line.points and not line.passed}
    assert set(failed) == {TESTS[short] for short in case.lost}
    for short, phrase in case.lost.items():
        assert phrase in failed[TESTS[short]], (short, failed[TESTS[short]])
    assert report.passed == (not case.lost)
