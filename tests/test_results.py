"""results.json in Gradescope's schema: points, partial credit, hidden output, always written."""

import json
import re
import subprocess
import sys

import pytest

from kws.grading.judge.loading import BROKEN_TESTS_EXIT

CONFTEST = """
from pathlib import Path
from kws.grading.judge.results import GradescopeReport

def pytest_configure(config):
    config.pluginmanager.register(GradescopeReport(Path("results.json")), "gradescope")
"""

TESTS = '''
import pytest

@pytest.mark.points(2)
def test_passes():
    """Layers that run"""

@pytest.mark.points(3)
def test_fails():
    assert 1 + 1 == 3, "Found 5 encoder layers running in forward; use fewer than 4."

@pytest.mark.points(4)
@pytest.mark.visibility("hidden")
def test_hidden_fails():
    assert False, "the hidden labels are 0, 1, 2"

@pytest.mark.points(4)
def test_partial(score):
    """Accuracy tiers"""
    score.set(0.5, "Medium tier reached (0.83).")
    assert False, "Strong tier is 0.885."

@pytest.mark.points(1)
def test_partial_pass(score):
    score.set(0.25)

@pytest.mark.points(5)
def test_skipped():
    pytest.skip("needs a CUDA GPU")

@pytest.mark.points(1)
def test_grader_bug():
    {}["missing"]

@pytest.fixture
def report(request):
    return request.config.pluginmanager.get_plugin("gradescope")

@pytest.mark.points(1)
def test_measures(report):
    """Encoder budget"""
    report.add_measure("encoder_weights", 154880)
    report.add_measure("layers_run", 3)

@pytest.mark.points(1)
def test_finds(report):
    """Model cells"""
    report.add_finding("review", "01.ipynb, model cell 1: the garbage collector (gc)")
    report.add_finding("tampering", "task1: the notebook changes torch or the grader")
    assert False, "Your notebook changes torch or the grader's code."
'''


def _grade(folder, test_source: str):
    """Run pytest on `test_source` with the plugin registered; return (stdout, results.json)."""
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_graded.py").write_text(test_source)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    return run.stdout, json.loads((folder / "results.json").read_text())


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    stdout, document = _grade(tmp_path_factory.mktemp("graded"), TESTS)
    return stdout, document, {t["name"]: t for t in document["tests"]}


def test_points_status_and_total(results):
    _, document, tests = results
    assert tests["Layers that run"] == {
        "name": "Layers that run",
        "score": 2.0,
        "max_score": 2.0,
        "status": "passed",
        "output": "",
        "visibility": "visible",
        "extra_data": {
            "test": "test_passes"
        },  # the function; the grader's also name assignment, task
    }
    assert tests["test_fails"]["score"] == 0 and tests["test_fails"]["status"] == "failed"
    assert document["score"] == 2.0 + 2.0 + 0.25 + 1.0
    assert set(document) >= {"score", "execution_time", "output", "tests"}
    assert isinstance(document["execution_time"], int)


def test_failure_output_is_the_assertion_message(results):
    _, _, tests = results
    assert (
        tests["test_fails"]["output"]
        == "Found 5 encoder layers running in forward; use fewer than 4."
    )
    assert tests["test_grader_bug"]["output"].startswith("The grader hit an error: KeyError")


def test_what_a_test_measured_is_a_field_of_its_extra_data(results):
    """The marking page shows these beside a written answer: data, not the output's sentences."""
    _, _, tests = results
    assert tests["Encoder budget"]["extra_data"] == {
        "test": "test_measures",
        "measured": {"encoder_weights": 154880, "layers_run": 3},
    }
    assert "measured" not in tests["Layers that run"]["extra_data"]
    from kws.grading.judge.results import GradescopeReport

    with pytest.raises(ValueError, match=r"measure 'params' is not one of \('accuracy'"):
        GradescopeReport(None).add_measure("params", 1)


def test_findings_are_fields_with_their_test_and_reviews_are_told(results):
    """What a person should look at is data (kind, text, test) that the gradebook and the
    report read; a review is also a sentence of the output the student reads."""
    _, document, _ = results
    assert document["extra_data"]["findings"] == [
        {"kind": "grader_error", "test": "test_grader_bug",
         "text": "test_grader_bug: The grader hit an error: KeyError: 'missing'"},
        {"kind": "review", "test": "Model cells",
         "text": "01.ipynb, model cell 1: the garbage collector (gc)"},
        {"kind": "tampering", "test": "Model cells",
         "text": "task1: the notebook changes torch or the grader"},
    ]  # fmt: skip
    assert "Manual review: 01.ipynb, model cell 1: the garbage collector (gc)." in (
        document["output"].split("\n\n")
    )
    with pytest.raises(ValueError, match="not one of"):
        from kws.grading.judge.results import GradescopeReport

        GradescopeReport(None).add_finding("bad", "no such kind")


def test_partial_credit_is_kept_when_a_later_assert_fails(results):
    _, _, tests = results
    assert tests["Accuracy tiers"]["score"] == 2.0
    assert tests["Accuracy tiers"]["output"] == "Medium tier reached (0.83).\nStrong tier is 0.885."
    assert (
        tests["test_partial_pass"]["score"] == 0.25
        and tests["test_partial_pass"]["status"] == "failed"
    )


def test_hidden_tests_say_nothing_of_their_content(results):
    _, _, tests = results
    hidden = tests["test_hidden_fails"]
    assert hidden["visibility"] == "hidden" and "labels" not in hidden["output"]


def test_skipped_tests_are_not_counted_say_why_and_do_not_read_as_failures(results):
    stdout, _, tests = results
    skipped = tests["test_skipped"]
    assert skipped["max_score"] == 0 and skipped["score"] == 0
    assert skipped["status"] == "passed"  # Gradescope has no "skipped"; "failed" would alarm
    assert "Not graded in this run (needs a CUDA GPU)" in skipped["output"]
    assert skipped["extra_data"]["skipped"] == "needs a CUDA GPU"  # kws handin reads the field
    assert re.search(r"test_skipped +not run", stdout)


def test_score_table_is_printed(results):
    stdout, _, _ = results
    assert re.search(r"ok Layers that run +2 / 2", stdout)
    assert re.search(r"total +5.25 / 17", stdout)


@pytest.mark.parametrize(
    "source, error",
    [("import json\nimport no_such_module\n", "line 2: ModuleNotFoundError"),
     ("def test_a():\n    pass\ndef oops(:\n", "line 3: SyntaxError")],
)  # fmt: skip
def test_a_test_file_that_cannot_be_loaded_is_no_grade(tmp_path, source, error):
    # The course's file, not the hand-in: a 0 / 0 would be shipped as the student's grade.
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_graded.py").write_text(source)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == BROKEN_TESTS_EXIT, run.stdout[-2000:] + run.stderr[-2000:]
    assert not (tmp_path / "results.json").exists()
    assert f"correct {tmp_path / 'test_graded.py'} {error}" in run.stderr, run.stderr
