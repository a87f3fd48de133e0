"""The assignment specs (kws/assignments/<name>/spec.toml): one [points] entry per graded test and one
test per entry, errors that name the file and the key, and the files shipped with the package."""

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from kws.spec import ASSIGNMENTS, KIT_FOLDER, SpecError, load, tomllib

ROOT = Path(__file__).resolve().parents[1]


def _collected_tests() -> dict[str, set[str]]:
    """{assignment: graded test function names}, as the grader collects them (no grading run)."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + ["-p", "kws.grading.plugin", *(str(s.graded_tests) for s in ASSIGNMENTS.values())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    tests = defaultdict(set)
    for line in run.stdout.splitlines():
        match = re.fullmatch(
            r"kws/assignments/(\w+)/graded_tests/test_\w+\.py::(test_\w+)(\[.*\])?", line.strip()
        )
        if match:
            tests[match[1]].add(match[2])
    return tests


def test_every_graded_test_has_points_and_every_points_entry_a_test():
    tests = _collected_tests()
    assert set(tests) == set(ASSIGNMENTS)
    for name, spec in ASSIGNMENTS.items():
        assert tests[name] - set(spec.points) == set(), f"{spec.path}: tests without [points]"
        assert set(spec.points) - tests[name] == set(), f"{spec.path}: [points] without a test"


def _copy(tmp_path, name: str, old: str, new: str) -> Path:
    path = tmp_path / f"{name}.toml"
    text = (KIT_FOLDER / name / "spec.toml").read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    "old, new, key",
    [
        ('name = "speaker_id"', 'name = "speaker_id', "not valid TOML"),
        ("simple = 0.66025, medium = 0.8175", "simple = 0.9, medium = 0.8175", "tiers.hw4_2023"),
        ("test_accuracy = 5", 'test_accuracy = "five"', "points.test_accuracy"),
        ('target = "boss"', 'target = "gold"', "tasks.task3.target"),
        ("max_layer_calls = 3,", 'max_layer_calls = "3",', "tasks.task1.limits"),
        ("cpu_seconds = ", "cpu_seconds = -1 # ", "[grading] needs cpu_seconds"),
        (
            "rules = { own_classes",
            "cells = { tags = [] }\nrules = { own_classes",
            "tasks.task3.cells",
        ),
        ("cpu_seconds = ", "seconds = ", "[grading] needs cpu_seconds"),
        ("fixed_seconds = ", "fixed_seconds = 1e9 # ", "grading.fixed_seconds"),
        ("sample = 400", "sample = 0", "accuracy.sample"),
        ("tolerance = 0.01", "tolerance = 1.5", "accuracy.tolerance"),
        ("excused = 0.01", 'excused = "2 in 400"', "accuracy.excused"),
        ('source = "predictions.csv"', 'source = "csv"', "[accuracy]"),
    ],
)
def test_a_broken_spec_names_the_file_and_the_key(tmp_path, old, new, key):
    path = _copy(tmp_path, "speaker_id", old, new)
    with pytest.raises(SpecError) as error:
        load(path)
    assert re.match(rf"{re.escape(str(path))}(, line \d+)?: ", str(error.value)), error.value
    assert key in str(error.value)


def test_a_test_without_points_names_the_line_to_add():
    with pytest.raises(SpecError) as error:
        ASSIGNMENTS["speaker_id"].test_points("test_new")
    assert str(error.value).startswith(f"{ASSIGNMENTS['speaker_id'].path}: [points] has no entry")
    assert "add `test_new = N`" in str(error.value)


def test_an_edited_copy_is_what_loads(tmp_path):
    """One edit in the file is the whole change: a budget, a test's points, a limit."""
    path = _copy(tmp_path, "speaker_id", "max_encoder_params = 500_000", "max_encoder_params = 1")
    edited = load(path)
    assert edited.tasks["task1"].limits["max_encoder_params"] == 1
    assert edited.points == ASSIGNMENTS["speaker_id"].points and edited.path == path


def test_the_grading_cost_scales_with_the_test_set(tmp_path):
    """[grading]: the measured CPU seconds, their growing part scaled by the test set's size in
    its layout's units; an assignment that measured nothing has no estimate (the grader's
    defaults apply)."""
    cost = ASSIGNMENTS["keyword_spotting"].grading
    assert cost.expected_seconds(cost.measured_size) == cost.cpu_seconds
    growing = cost.cpu_seconds - cost.fixed_seconds
    assert cost.expected_seconds(2 * cost.measured_size) == cost.cpu_seconds + growing
    assert cost.expected_seconds(0) == cost.fixed_seconds > 0
    text = (ASSIGNMENTS["speaker_id"].path).read_text()
    table = text[text.index("[grading]") : text.index("\n\n", text.index("[grading]"))]
    unmeasured = load(_copy(tmp_path, "speaker_id", table, ""))
    assert unmeasured.grading.expected_seconds(10**6) is None


def test_the_specs_are_package_data():
    """`pip install` (as the Gradescope image's setup.sh runs it) must ship every spec."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["kws"]
    package = ROOT / "kws"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert {spec.path for spec in ASSIGNMENTS.values()} <= shipped
    assert set(KIT_FOLDER.glob("*/spec.toml")) == {spec.path for spec in ASSIGNMENTS.values()}


def test_the_class_count_has_one_name():
    """`n_classes` everywhere: no `num_classes` / `n_speakers` left in the kit or notebooks."""
    folders = ["kws", "grader", "solutions", "assignments", "benchmarks", "data_scripts"]
    other_names = re.compile(r"\b(num_classes|n_speakers)\b")
    found = [
        f"{path.relative_to(ROOT)}: {match[0]}"
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in {".py", ".ipynb"} and path.is_file()
        for match in other_names.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_a_broken_spec_elsewhere_breaks_nothing_until_it_is_asked_for(tmp_path, monkeypatch):
    """An instructor's draft with a broken spec, named in KWS_ASSIGNMENTS: a student's notebook
    (its settings, `kws.check`), the kit's assignments and their graded tests work; the draft's
    own error, naming its file, comes when the draft itself (or every assignment) is asked for."""
    from kws import check
    from kws.spec import all_assignments, assignment, assignments, settings, spec_of

    draft = tmp_path / "course" / "draft"
    draft.mkdir(parents=True)
    (draft / "spec.toml").write_text('name = "draft"\ntitle = "unfinished\n')
    monkeypatch.setenv("KWS_ASSIGNMENTS", str(tmp_path / "course"))
    assert settings("speaker_id")["KWS_STEPS"] == 70000
    assert callable(check.attention) and callable(check.keyword_model)
    assert spec_of(KIT_FOLDER / "speaker_id" / "grader" / "test_02_numeric.py").name == "speaker_id"
    assert "draft" in assignments() and list(assignments())[-1] == "draft"
    with pytest.raises(SpecError, match=f"^{draft / 'spec.toml'}, line 2: not valid TOML"):
        assignment("draft")
    with pytest.raises(SpecError, match="not valid TOML"):
        all_assignments()


def test_import_kws_check_lists_no_instructor_folder(tmp_path, monkeypatch):
    """KWS_ASSIGNMENTS naming a folder that is not there (a student's copy of a course set-up):
    the kit's checks and settings work, and the error names the variable once the instructor's
    assignments are needed."""
    from kws import check
    from kws.spec import assignment, assignments, settings

    monkeypatch.setenv("KWS_ASSIGNMENTS", str(tmp_path / "missing"))
    assert callable(check.task1) and settings("keyword_spotting")["KWS_BATCH_SIZE"] == 256
    assert assignment("keyword_spotting").notebook == "01_keyword_spotting.ipynb"
    with pytest.raises(SpecError, match="^KWS_ASSIGNMENTS=.*: .*missing is no assignment folder"):
        list(assignments())
    with pytest.raises(SpecError, match="there is no assignment 'nothing'"):
        with monkeypatch.context() as quiet:
            quiet.delenv("KWS_ASSIGNMENTS")
            assignment("nothing")
