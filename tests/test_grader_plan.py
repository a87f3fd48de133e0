"""One decider, one channel: every path that grades (`kws grade`'s `plan_run`, the Gradescope
autograder's ``python -m kws.grading.command``, `kws handin`, `pytest grader/` without --plan)
plans with `kws.grading.judge.planned`, and the grader reads only the plan: it decides nothing
the plan holds, follows a plan whose decisions differ from what deciding again would give, and
refuses a plan lacking a decision rather than deciding it again."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kws.grading.classrun.plan import plan_run
from kws.grading.judge.fixture import PLAN
from kws.grading.judge.planned import plan_handins, read_plan
from kws.grading.judge.tiers import TierSet
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
            seen["plan"] = session.config.stash[PLAN]

    args = [str(ROOT / "grader"), "--collect-only", "-q", "-p", "no:cacheprovider",
            "--submission", str(hand_in), "--data", str(tiny_data)]  # fmt: skip
    assert pytest.main(args, plugins=[Spy()]) == 0
    expected = tmp_path / "expected.json"
    expected.write_text(
        plan_run(tmp_path / "subs", tiny_data, tmp_path / "out", student="ann").graders
    )
    assert seen["plan"] == read_plan(expected, tiny_data)
    assert set(seen["plan"].tier_sets) == {"keyword_spotting", "patch_transformer", "speaker_id"}


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


# Every function that decides what a run grades: none may run in a grader given a plan.
DECIDERS = [
    ("kws.grading.judge.planned", "decide_grading"),
    ("kws.grading.judge.planned", "decide_handins"),
    ("kws.grading.judge.planned", "held_notebooks"),
    ("kws.grading.judge.planned", "plan_handins"),
    ("kws.grading.judge.planned", "checked_split"),
    ("kws.grading.plugin", "plan_handins"),
    ("kws.grading.judge.tiers", "tier_set"),
    ("kws.grading.testsets.public_only", "public_only"),
    ("kws.grading.judge.notebook", "missing_test_data"),
    ("kws.grading.judge.notebook", "holds_notebook"),
]


def _forbid_deciding(monkeypatch, calls: list) -> None:
    """Every decider of `DECIDERS` records its name in `calls` instead of deciding."""
    import importlib

    for module, name in DECIDERS:
        monkeypatch.setattr(importlib.import_module(module), name,
                            lambda *a, name=name, **k: calls.append(name))  # fmt: skip


def _in_process(ran: dict, monkeypatch, calls: list):
    """A stand-in for `subprocess.run` of the grader's command: its pytest, here, collecting
    only, with every decider forbidden (`ran` keeps its arguments and plan)."""

    def grade(argv, env=None, **kwargs):
        argv = [*argv[argv.index("pytest") + 1 :], "--collect-only"]
        ran["argv"] = argv
        _forbid_deciding(monkeypatch, calls)
        code = pytest.main(argv)
        return subprocess.CompletedProcess(argv, code, "", "")

    return grade


def test_the_gradescope_autograder_plans_once_and_its_grader_decides_nothing_again(
    tmp_path, tiny_data, monkeypatch
):
    # `python -m kws.grading.command` (run_autograder's line) plans with plan_handins, with the
    # Kaggle split the zip baked in, passes the plan and none of its inputs; the grader decides
    # nothing and takes every decision from the plan.
    import kws.grading.command as command
    import kws.grading.judge.planned as planned

    hand_in = tmp_path / "submission"
    hand_in.mkdir()
    shutil.copy(ROOT / "assignments" / SPEC.notebook, hand_in)
    calls, ran, plan = [], {}, planned.plan_handins

    def counted(*args, **kwargs):
        ran["plan"] = plan(*args, **kwargs)
        calls.append(("plan_handins", args))
        return ran["plan"]

    monkeypatch.setattr(planned, "plan_handins", counted)
    monkeypatch.setattr(command.subprocess, "run", _in_process(ran, monkeypatch, calls))
    argv = ["--submission", str(hand_in), "--data", str(tiny_data), "--results",
            str(tmp_path / "results.json"), "--dataset", "synthetic-tiny",
            "--public-share", "0.5", "--split-seed", "course secret"]  # fmt: skip
    assert command.main(argv) == 0
    assert calls == [("plan_handins", (tiny_data, [hand_in], None))]  # one plan, no decider
    for option in ("--dataset", "--assignment", "--public-share", "--split-seed"):
        assert option not in ran["argv"]
    assert (ran["plan"].split.share, ran["plan"].split.seed) == (0.5, "course secret")
    assert set(ran["plan"].tier_sets) == {"keyword_spotting", "patch_transformer", "speaker_id"}
    output = json.loads((tmp_path / "results.json").read_text())["output"]  # the plan's notes
    for name in ("patch_transformer", "speaker_id"):
        notebook = ASSIGNMENTS[name].notebook
        assert f"{notebook}, because the submission holds no {notebook}" in output


def test_pytest_grader_plans_once_and_its_grader_decides_nothing_again(
    tmp_path, tiny_data, monkeypatch
):
    import kws.grading.plugin as plugin

    hand_in = tmp_path / "subs" / "ann"
    hand_in.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / SPEC.notebook, hand_in)
    made, calls = plan_handins(tiny_data, [hand_in]), []  # what the grader's one plan is

    def planned(data, handins, assignment, **selection):
        calls.append(("plan_handins", handins, assignment))
        return made

    _forbid_deciding(monkeypatch, calls)
    monkeypatch.setattr(plugin, "plan_handins", planned)
    args = [str(ROOT / "grader"), "--collect-only", "-q", "-p", "no:cacheprovider",
            "--submission", str(hand_in), "--data", str(tiny_data),
            "--results", str(tmp_path / "results.json")]  # fmt: skip
    assert pytest.main(args) == 0
    assert calls == [("plan_handins", [hand_in], None)]  # once; nothing decided again
    output = json.loads((tmp_path / "results.json").read_text())["output"]
    assert "because the submission holds no 02_speaker_id.ipynb" in output


def test_kws_handin_plans_its_one_hand_in_and_its_grader_decides_nothing_again(
    tmp_path, tiny_data, monkeypatch
):
    import kws.handin.check as check
    from kws.handin.lines import NotebookReport

    stage = tmp_path / "stage"
    stage.mkdir()
    shutil.copy(ROOT / "assignments" / SPEC.notebook, stage)
    calls, ran = [], {}
    monkeypatch.setattr(check.subprocess, "run", _in_process(ran, monkeypatch, calls))
    report = NotebookReport(SPEC.notebook, SPEC.name)
    check._grade(report, SPEC, stage, tiny_data)
    assert calls == []  # the plan was made before the grader ran; the grader decided nothing
    assert "--assignment" not in ran["argv"] and "--handin" in ran["argv"]
    plan = read_plan(Path(ran["argv"][ran["argv"].index("--plan") + 1]), tiny_data)
    assert plan.assignment == SPEC.name and plan.tier_sets == {}  # no labels: no tier set
    assert plan.held == {str(stage.resolve()): [SPEC.name]}


def test_a_grader_follows_a_plan_that_deciding_again_would_not_give(
    tmp_path, tiny_data, monkeypatch
):
    # The hand-in holds the keyword-spotting notebook; the plan says it holds speaker_id's,
    # graded against a tier set no detection gives, on no public test set: the grader grades
    # what the plan says.
    hand_in = tmp_path / "ann"
    hand_in.mkdir()
    shutil.copy(ROOT / "assignments" / SPEC.notebook, hand_in)
    decided = plan_handins(tiny_data, [hand_in])
    assert decided.held[str(hand_in.resolve())] == [SPEC.name]
    planned = TierSet("planned", {"simple": 0.1, "medium": 0.2, "strong": 0.3, "boss": 0.4},
                      "decided once")  # fmt: skip
    plan = tmp_path / "plan.json"
    part = json.loads(decided.text())
    part["held"] = {str(hand_in.resolve()): ["speaker_id"]}
    part["tier_sets"]["speaker_id"] = {"name": planned.name, "tiers": planned.tiers,
                                       "source": planned.source}  # fmt: skip
    part["public_test_set"] = ["speaker_id"]
    plan.write_text(json.dumps(part))
    calls = []
    _forbid_deciding(monkeypatch, calls)
    results = tmp_path / "results.json"
    args = ["-p", "kws.grading.plugin", str(ASSIGNMENTS["speaker_id"].graded_tests),
            str(SPEC.graded_tests), "--collect-only", "-q", "-p", "no:cacheprovider",
            "--submission", str(hand_in), "--data", str(tiny_data), "--results", str(results),
            "--plan", str(plan)]  # fmt: skip
    assert pytest.main(args) == 0
    assert calls == []
    document = json.loads(results.read_text())
    assert document["extra_data"]["tier_sets"] == {"speaker_id": "planned"}
    assert document["extra_data"]["public_test_set"] == ["speaker_id"]
    assert f"{SPEC.notebook}, because the submission holds no {SPEC.notebook}" in document["output"]


@pytest.mark.parametrize("lacking", ["split", "held", "assignment", "tier_sets"])
def test_a_plan_lacking_a_decision_is_refused_not_decided_again(
    tmp_path, tiny_data, monkeypatch, capsys, lacking
):
    hand_in = tmp_path / "ann"
    hand_in.mkdir()
    shutil.copy(ROOT / "assignments" / SPEC.notebook, hand_in)
    part = json.loads(plan_handins(tiny_data, [hand_in]).text())
    del part[lacking]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(part))
    calls = []
    _forbid_deciding(monkeypatch, calls)
    args = ["-p", "kws.grading.plugin", str(SPEC.graded_tests), "--collect-only", "-q",
            "-p", "no:cacheprovider", "--submission", str(hand_in), "--data", str(tiny_data),
            "--plan", str(plan)]  # fmt: skip
    assert pytest.main(args) == pytest.ExitCode.USAGE_ERROR
    assert calls == []
    assert f"--plan {plan} lacks the run's decision {lacking}: make the plan again" in (
        capsys.readouterr().err
    )


def test_a_plan_decision_given_again_on_the_command_line_is_refused(tmp_path, tiny_data, capsys):
    hand_in = tmp_path / "ann"
    hand_in.mkdir()
    plan = tmp_path / "plan.json"
    plan.write_text(plan_handins(tiny_data, [hand_in], SPEC.name).text())
    args = ["-p", "kws.grading.plugin", str(SPEC.graded_tests), "--collect-only", "-q",
            "-p", "no:cacheprovider", "--submission", str(hand_in), "--data", str(tiny_data),
            "--plan", str(plan), "--assignment", SPEC.name]  # fmt: skip
    assert pytest.main(args) == pytest.ExitCode.USAGE_ERROR
    assert "--assignment with --plan" in capsys.readouterr().err


def test_one_function_checks_a_season_against_its_class():
    # `kws grade` (plan.season_to_grade), `kws merge` and apply_season (`kws season`, ...)
    # check a season with `checked_season`; no other module calls the check it wraps.
    import ast

    callers = set()
    for path in sorted((ROOT / "kws").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check_class":
                callers.add(path.relative_to(ROOT).as_posix())
    assert callers == {"kws/grading/season/apply.py"}
    for path in ("kws/grading/classrun/plan.py", "kws/grading/classrun/merge.py"):
        assert "checked_season(" in (ROOT / path).read_text(encoding="utf-8")
