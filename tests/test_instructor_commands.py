"""The README's instructor commands, run as an instructor runs them: from their own working
directory, with relative paths, on the tiny synthetic data and the reference hand-in.

- `kws grade` grades a class into OUT under the caller's directory, writes nothing into the
  kit, and a hand-in holding one notebook is graded on that notebook only, said once;
- `pytest grader/` with HW4 data only grades speaker ID (with or without --assignment) and
  never shows keyword spotting as failed; a skipped GPU test does not read as a failure;
- data the kit does not know has no silent tier set: the run stops naming --tiers / --dataset,
  and with --tiers the gradebook and results say which tiers were used;
- `kws gradescope` from another directory writes the selection into the zip's plan.json, and
  the zip's own kit grades its own data under it;
- the `gpu` re-training tests run their code path on the CPU in a tiny budget.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from course_helpers import ROOT

# The full run's (docs/development/tests.md, "The two tiers"): classes graded by real children from the instructor's folders.
pytestmark = [pytest.mark.slow, pytest.mark.full]
ZERO = {"simple": 0.0, "medium": 0.0, "strong": 0.0, "boss": 0.0}
KWS_NOTEBOOK = "01_keyword_spotting.ipynb"

FULL_MARKS = 102.0  # keyword spotting 30 (Tasks 1-4, model), speaker ID 45, patches 27
WRITTEN_MARKS = 9.0  # a written question of 3 points in each notebook, in the maximum unmarked
SPEAKER_MARKS = 45.0  # the speaker-ID notebook alone


def _run(cwd: Path, *args: str, kit: Path = ROOT) -> subprocess.CompletedProcess:
    """`python ARGS...` in `cwd` with the kit at `kit` importable (as after `pip install`)."""
    env = os.environ | {"PYTHONPATH": str(kit), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200
    )


def _pytest_grader(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return _run(cwd, "-m", "pytest", str(ROOT / "grader"), "-q", "-p", "no:cacheprovider", *args)


def _kit_files() -> set[str]:
    """The kit's top-level entries and every file of its grader: what `kws grade` could write
    into. (Not all of it: other work may edit the checkout meanwhile.)"""
    skip = {"__pycache__", ".pytest_cache"}
    watched = [*ROOT.iterdir(), *(ROOT / "grader").rglob("*"), *(ROOT / "kws/grading").rglob("*")]
    return {str(p) for p in watched if not skip.intersection(p.relative_to(ROOT).parts)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_data, reference_submission) -> Path:
    """An instructor's folder: data/ (both datasets), hw4/ (speaker features only),
    unknown/ (speaker features the kit does not recognise) and submissions."""
    root = tmp_path_factory.mktemp("instructor")
    (root / "data").symlink_to(tiny_data)
    for name in ("hw4", "unknown"):
        for folder in ("speaker_features", "speaker_features_hidden"):
            shutil.copytree(tiny_data / folder, root / name / folder)
    (root / "unknown" / "speaker_features" / "README.md").unlink()  # no synthetic marker left
    shutil.copytree(reference_submission, root / "subs" / "alice")
    bob = root / "subs" / "bob"  # a course that uses notebook 02 only
    bob.mkdir()
    shutil.copy(reference_submission / "02_speaker_id.ipynb", bob)
    for task in ("task1", "task2", "task3"):
        shutil.copytree(reference_submission / "outputs" / task, bob / "outputs" / task)
    return root


def test_kws_grade_from_another_directory_with_relative_paths(workdir):
    before = _kit_files()
    run = _run(workdir, "-m", "kws.cli", "grade", "subs", "--data", "data", "--out", "grades")
    assert run.returncode == 0, run.stderr
    rows = {row["student"]: row for row in csv.DictReader(open(workdir / "grades/gradebook.csv"))}
    assert (
        float(rows["alice"]["total"]) == FULL_MARKS
        and float(rows["alice"]["max_score"]) == FULL_MARKS + WRITTEN_MARKS
    )
    assert float(rows["bob"]["total"]) == SPEAKER_MARKS, rows["bob"]["notes"]
    tier_sets = "keyword_spotting=synthetic-tiny; patch_transformer=synthetic-tiny; "
    assert rows["alice"]["tier_sets"] == tier_sets + "speaker_id=synthetic-tiny"
    assert rows["bob"]["tier_sets"] == "speaker_id=synthetic-tiny"
    bob = json.loads((workdir / "grades/results/bob.json").read_text())
    assert bob["output"].count(f"Not graded in this run: {KWS_NOTEBOOK}") == 1
    assert not any(KWS_NOTEBOOK in t["name"] or "12-class" in t["name"] for t in bob["tests"])
    assert [t["name"] for t in bob["tests"] if t["status"] == "failed"] == []
    gpu = [t for t in bob["tests"] if t["name"].startswith("Re-training")]
    assert gpu and all(t["status"] == "passed" and t["max_score"] == 0 for t in gpu)
    assert all("no CUDA GPU" in t["output"] for t in gpu)
    new = {path for path in _kit_files() - before if not Path(path).name.endswith(".py")}
    assert not new, f"kws grade wrote into the kit's folder: {sorted(new)[:3]}"
    assert not (ROOT / "grades").exists() and not (ROOT / "subs").exists()


def test_hw4_data_only_grades_speaker_id_with_or_without_selection(workdir):
    for selection in ([], ["--assignment", "speaker_id"]):
        name = f"hw4{len(selection)}.json"
        run = _pytest_grader(
            workdir, "--submission", "subs/alice", "--data", "hw4", "--results", name, *selection
        )
        document = json.loads((workdir / name).read_text())
        assert document["score"] == SPEAKER_MARKS, run.stdout[-2000:]
        assert [t["name"] for t in document["tests"] if t["status"] == "failed"] == []
        assert not any("12-class" in t["name"] for t in document["tests"])
        note = f"Not graded in this run: {KWS_NOTEBOOK}"
        assert document["output"].count(note) == (0 if selection else 1)
        assert document["extra_data"]["tier_sets"] == {"speaker_id": "synthetic-tiny"}
    wrong = _pytest_grader(
        workdir, "--submission", "subs/alice", "--data", "hw4", "--assignment", "keyword_spotting"
    )
    assert wrong.returncode == 4 and "has no 12-class test set" in wrong.stderr


def test_unknown_data_needs_a_named_tier_set(workdir):
    refused = _run(
        workdir, "-m", "kws.cli", "grade", "subs", "--data", "unknown", "--out", "refused"
    )
    assert refused.returncode == 2
    assert "--tiers FILE" in refused.stderr and "--dataset NAME" in refused.stderr
    assert "Traceback" not in refused.stderr and not (workdir / "refused").exists()
    alone = _pytest_grader(workdir, "--submission", "subs/bob", "--data", "unknown")
    assert alone.returncode == 4 and "--tiers FILE" in alone.stderr

    (workdir / "course_tiers.json").write_text(json.dumps(ZERO))
    args = ["--data", "unknown", "--out", "named", "--tiers", "course_tiers.json"]
    run = _run(workdir, "-m", "kws.cli", "grade", "subs", "--assignment", "speaker_id", *args)
    assert run.returncode == 0, run.stderr
    rows = {row["student"]: row for row in csv.DictReader(open(workdir / "named/gradebook.csv"))}
    assert rows["bob"]["tier_sets"] == "speaker_id=course_tiers.json"
    assert float(rows["bob"]["total"]) == float(rows["alice"]["total"]) == SPEAKER_MARKS
    alice = json.loads((workdir / "named/results/alice.json").read_text())
    assert "tier set 'course_tiers.json' (simple 0, medium 0" in alice["output"]


@pytest.mark.parametrize(
    "data, selection, student, score",
    [
        ("data", [], "alice", FULL_MARKS),
        ("hw4", ["--assignment", "speaker_id"], "bob", SPEAKER_MARKS),
    ],
)
def test_gradescope_zip_from_another_directory_grades_with_its_own_kit(
    workdir, data, selection, student, score
):
    zip_name = f"autograder-{data}.zip"
    run = _run(
        workdir, "-m", "kws.cli", "gradescope", "--data", data, "--out", zip_name, *selection
    )
    assert run.returncode == 0, run.stderr
    unpacked = workdir / f"unpacked-{data}"
    with zipfile.ZipFile(workdir / zip_name) as archive:
        archive.extractall(unpacked)
    script = (unpacked / "run_autograder").read_text()
    digest = re.search(r'^PLAN_SHA256="(.*)"', script, re.M)[1]
    plan = json.loads((unpacked / "plan.json").read_text())
    assert plan["assignment"] == (selection[1] if selection else None)
    # What run_autograder does, with the zip's kit and data in place of /autograder/source.
    grader = ["-m", "kws.grading.command", "--plan", "plan.json", "--plan-sha256", digest]
    paths = ["--submission", f"../subs/{student}", "--data", "data", "--results", "results.json"]
    graded = _run(unpacked, *grader, *paths, kit=unpacked / "kit")
    document = json.loads((unpacked / "results.json").read_text())
    assert document["score"] == score, graded.stdout[-2000:]
    expected = {"speaker_id": "synthetic-tiny"} | (
        {}
        if selection
        else dict.fromkeys(["keyword_spotting", "patch_transformer"], "synthetic-tiny")
    )
    assert document["extra_data"]["tier_sets"] == expected


@pytest.mark.full  # three notebooks re-run in the sandbox: the `gpu` tests' path, on the CPU
def test_gpu_retraining_path_runs_on_the_cpu_in_a_tiny_budget(workdir):
    """The `gpu` tests' code (Grading.retrain: the whole notebook re-run in the sandbox, then the
    re-trained checkpoint graded) on the CPU named as a GPU is (``cpu:0``, which its tensors report
    as ``cpu``, as ``cuda`` is ``cuda:0``: kws.device); on CUDA the real --retrain-steps budget
    applies."""
    args = ["--submission", "subs/alice", "--data", "data", "--results", "retrained.json"]
    budget = ["--retrain-device", "cpu:0", "--retrain-steps", "4", "-k", "retrains"]
    run = _pytest_grader(workdir, *args, *budget)
    tests = json.loads((workdir / "retrained.json").read_text())["tests"]
    retrained = [t for t in tests if t["name"].startswith("Re-training")]
    assert len(retrained) == 3, run.stdout[-2000:]
    assert all(t["score"] == t["max_score"] == 2 for t in retrained), retrained
