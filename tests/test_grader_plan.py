"""`pytest grader/` without --plan: the run is planned as `kws grade` plans it (`plan_run`), and
the grader reads that plan, so one hand-in graded alone is graded by the decisions a class run
of it makes (its tier sets, its notebooks on a public test set)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kws.grading.classrun.plan import plan_run
from kws.grading.judge.planned import read_plan
from kws.grading.plugin import PLAN
from kws.spec import ASSIGNMENTS

ROOT = Path(__file__).resolve().parents[1]
SPEC = ASSIGNMENTS["keyword_spotting"]


def test_pytest_grader_without_a_plan_reads_the_plan_kws_grade_makes(tmp_path, tiny_data):
    hand_in = tmp_path / "subs" / "ann"
    hand_in.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / SPEC.notebook, hand_in)
    seen = {}

    class Spy:
        def pytest_collection_finish(self, session):
            seen["plan"], seen["file"] = session.config.stash[PLAN], session.config.option.plan

    args = [str(ROOT / "grader"), "--collect-only", "-q", "-p", "no:cacheprovider",
            "--submission", str(hand_in), "--data", str(tiny_data)]  # fmt: skip
    assert pytest.main(args, plugins=[Spy()]) == 0
    expected = tmp_path / "expected.json"
    expected.write_text(
        plan_run(tmp_path / "subs", tiny_data, tmp_path / "out", student="ann").graders
    )
    assert seen["plan"] == read_plan(expected, tiny_data)
    assert set(seen["plan"].tier_sets) == {"keyword_spotting", "patch_transformer", "speaker_id"}
    assert not seen["file"].exists()  # the run's own folder, gone when it ends


def test_pytest_grader_plans_the_one_hand_in_not_the_folders_beside_it(tmp_path, tiny_data):
    # "dan x" and "dan_x" would share one results file in a class run (`kws grade` refuses
    # them); grading ann alone must not look at them.
    subs = tmp_path / "subs"
    for name in ("ann", "dan x", "dan_x"):
        (subs / name).mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / SPEC.notebook, subs / "ann")
    with pytest.raises(ValueError, match="would share"):
        plan_run(subs, tiny_data, tmp_path / "out")
    seen = {}

    class Spy:
        def pytest_collection_finish(self, session):
            seen["plan"] = session.config.stash[PLAN]

    args = [str(ROOT / "grader"), "--collect-only", "-q", "-p", "no:cacheprovider",
            "--submission", str(subs / "ann"), "--data", str(tiny_data)]  # fmt: skip
    assert pytest.main(args, plugins=[Spy()]) == 0
    assert set(seen["plan"].tier_sets) == {"keyword_spotting", "patch_transformer", "speaker_id"}


def test_the_gradescope_autograder_plans_once_and_its_grader_decides_nothing_again(
    tmp_path, tiny_data, monkeypatch
):
    # `python -m kws.grading.command` (run_autograder's line) plans with decide_handins, passes
    # the plan and not --dataset, and the grader takes tier sets and public test sets from it.
    import kws.grading.command as command
    import kws.grading.judge.planned as planned
    import kws.grading.plugin as plugin

    hand_in = tmp_path / "submission"
    hand_in.mkdir()
    shutil.copy(ROOT / "assignments" / SPEC.notebook, hand_in)
    calls, ran = [], {}
    decide = planned.decide_handins

    def counted(*args, **kwargs):
        calls.append(args)
        return decide(*args, **kwargs)

    def grade(argv, env):  # the grader's pytest, here, collecting only, deciding nothing
        argv = argv[argv.index("pytest") + 1 :]
        ran["argv"] = argv
        for name in ("tier_set", "public_only", "ungradable_assignments", "missing_test_data"):
            monkeypatch.setattr(plugin, name, lambda *a, name=name, **k: calls.append(name))
        argv = [*argv, "--collect-only"]
        ran["plan"] = read_plan(Path(argv[argv.index("--plan") + 1]), tiny_data)
        return subprocess.CompletedProcess(argv, pytest.main(argv))

    monkeypatch.setattr(planned, "decide_handins", counted)
    monkeypatch.setattr(command.subprocess, "run", grade)
    argv = ["--submission", str(hand_in), "--data", str(tiny_data), "--results",
            str(tmp_path / "results.json"), "--dataset", "synthetic-tiny"]  # fmt: skip
    assert command.main(argv) == 0
    assert calls == [(tiny_data, [hand_in], None)]  # one plan; the grader decided nothing
    assert "--dataset" not in ran["argv"]
    assert set(ran["plan"].tier_sets) == {"keyword_spotting", "patch_transformer", "speaker_id"}
    output = json.loads((tmp_path / "results.json").read_text())["output"]  # the plan's notes
    for name in ("patch_transformer", "speaker_id"):
        notebook = ASSIGNMENTS[name].notebook
        assert f"{notebook}, because the submission holds no {notebook}" in output


def test_pytest_grader_plans_once_and_its_grader_decides_nothing_again(
    tmp_path, tiny_data, monkeypatch
):
    import kws.grading.judge.planned as planned
    import kws.grading.plugin as plugin

    hand_in = tmp_path / "subs" / "ann"
    hand_in.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / SPEC.notebook, hand_in)
    calls, decide = [], planned.decide_handins

    def counted(*args, **kwargs):
        calls.append("decide_handins")
        return decide(*args, **kwargs)

    monkeypatch.setattr(planned, "decide_handins", counted)
    for name in ("tier_set", "public_only", "ungradable_assignments", "missing_test_data"):
        monkeypatch.setattr(plugin, name, lambda *a, name=name, **k: calls.append(name))
    args = [str(ROOT / "grader"), "--collect-only", "-q", "-p", "no:cacheprovider",
            "--submission", str(hand_in), "--data", str(tiny_data),
            "--results", str(tmp_path / "results.json")]  # fmt: skip
    assert pytest.main(args) == 0
    assert calls == ["decide_handins"]
    output = json.loads((tmp_path / "results.json").read_text())["output"]
    assert "because the submission holds no 02_speaker_id.ipynb" in output
