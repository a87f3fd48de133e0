"""One decider, one channel: every path that grades (`kws grade`'s `plan_run`, the Gradescope
autograder's ``python -m kws.grading.command``, `kws handin`, `pytest grader/` without --plan)
plans with `kws.grading.judge.planned`, and the grader reads only the plan: it decides nothing
the plan holds, follows a plan whose decisions differ from what deciding again would give, and
refuses a plan lacking a decision rather than deciding it again. The written questions are
recorded from the plan too, by `kws grade` and `kws merge`, and shards graded under plans that
differ are refused, naming what differs."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from grading_helpers import stand_in_grader

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
    ("kws.grading.judge.written", "written_questions"),  # the written questions, as imported
    ("kws.grading.season.written", "written_questions"),
    ("kws.grading.season.written", "notebook_rubrics"),
    ("kws.grading.season.apply", "notebook_rubrics"),
]


def _forbid_deciding(monkeypatch, calls: list) -> None:
    """Every decider of `DECIDERS` records its name in `calls` instead of deciding."""
    import importlib

    # every module imported before any is patched: one imported after would keep the stand-in
    # it imported from another (`from ... import name`) once the patches are undone
    modules = [importlib.import_module(module) for module, _ in DECIDERS]
    for module, (_, name) in zip(modules, DECIDERS, strict=True):
        monkeypatch.setattr(module, name, lambda *a, name=name, **k: calls.append(name))


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


def test_the_zips_plan_is_read_and_only_the_hand_ins_notebooks_are_decided(
    tmp_path, tiny_data, monkeypatch
):
    # run_autograder's line: `python -m kws.grading.command --plan plan.json` with the plan
    # `kws gradescope` wrote into the zip. Of every decision, only the notebooks this hand-in
    # holds are made (as `kws grade` makes them for each hand-in); the rest is the plan's,
    # followed even where deciding again would differ; the grader decides nothing.
    import importlib

    import kws.grading.command as command
    import kws.grading.judge.planned as planned_module
    from kws.grading.publish.gradescope.autograder import zip_plan

    zipped = tmp_path / "source"
    zipped.mkdir()
    (zipped / "data").symlink_to(tiny_data, target_is_directory=True)
    part = json.loads(zip_plan(tiny_data, dataset="synthetic-tiny"))
    planned = {"simple": 0.1, "medium": 0.2, "strong": 0.3, "boss": 0.4}
    part["tier_sets"][SPEC.name] = {"name": "planned", "tiers": planned, "source": "the zip"}
    (zipped / "plan.json").write_text(json.dumps(part, indent=2))
    hand_in = tmp_path / "submission"
    hand_in.mkdir()
    shutil.copy(ROOT / "assignments" / SPEC.notebook, hand_in)
    calls, ran = [], {}
    per_handin = {"held_notebooks", "holds_notebook"}
    for module, name in DECIDERS:
        if name not in per_handin:
            monkeypatch.setattr(importlib.import_module(module), name,
                                lambda *a, name=name, **k: calls.append(name))  # fmt: skip
    made = planned_module.handin_plan
    monkeypatch.setattr(planned_module, "handin_plan",
                        lambda *a, **k: ran.setdefault("plan", made(*a, **k)))  # fmt: skip
    monkeypatch.setattr(command.subprocess, "run", _in_process(ran, monkeypatch, calls))
    argv = ["--plan", str(zipped / "plan.json"), "--submission", str(hand_in),
            "--data", str(zipped / "data"), "--results", str(tmp_path / "results.json")]  # fmt: skip
    assert command.main(argv) == 0
    assert calls == []  # nothing decided again, by the command or by its grader
    plan = ran["plan"]  # the plan file the grader was given
    assert plan.held == {str(hand_in.resolve()): [SPEC.name]}
    assert plan.tier_sets[SPEC.name] == TierSet("planned", planned, "the zip")
    assert plan.written == part["written"] and plan.public_only == part["public_test_set"]
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["extra_data"]["tier_sets"][SPEC.name] == "planned"


def test_the_zips_plan_refuses_a_selection_given_again_and_other_data(tmp_path, tiny_data, capsys):
    import kws.grading.command as command
    from kws.grading.publish.gradescope.autograder import zip_plan

    zipped = tmp_path / "source"
    (zipped / "data").mkdir(parents=True)
    (zipped / "plan.json").write_text(zip_plan(tiny_data, SPEC.name, dataset="synthetic-tiny"))
    paths = ["--submission", str(tmp_path), "--results", str(tmp_path / "results.json")]
    plan = ["--plan", str(zipped / "plan.json")]
    again = [*plan, "--data", str(zipped / "data"), "--assignment", SPEC.name, *paths]
    assert command.main(again) == command.USAGE_ERROR
    assert f"--assignment with --plan {zipped / 'plan.json'}: the plan decided" in (
        capsys.readouterr().err
    )
    assert command.main([*plan, "--data", str(tiny_data), *paths]) == command.USAGE_ERROR
    said = capsys.readouterr().err
    assert f"{zipped / 'plan.json'} was made for the data folder {zipped / 'data'}" in said
    assert not (tmp_path / "results.json").exists()


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


@pytest.mark.parametrize(
    "lacking", ["split", "held", "assignment", "tier_sets", "written", "season"]
)
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


def test_kws_grade_and_merge_record_the_plans_written_questions_and_decide_none_again(
    tmp_path, tiny_data, monkeypatch
):
    # A stand-in grader grades keyword spotting only. The plan holds every notebook's written
    # questions and the season's digest; its keyword-spotting question is changed after
    # planning: a class run, its shards and their merge record the plan's question, and only
    # the graded notebook's, without deciding a question again.
    import hashlib

    from kws.grading.classrun.batch import grade_class
    from kws.grading.classrun.merge import merge_shards
    from kws.grading.classrun.shards import RECORD, Shard, ShardError
    from kws.grading.judge.planned import plan_digest

    grader = stand_in_grader(tmp_path / "grader")
    for name in ("ann", "bob", "cy"):
        (tmp_path / "subs" / name).mkdir(parents=True)
    course = tmp_path / "course.toml"
    course.write_text('timezone = "UTC"\n')

    def planned(out: Path, **options):
        plan = plan_run(tmp_path / "subs", tiny_data, out, course=course, **options)
        part = json.loads(plan.graders)
        assert set(part["written"]) == set(ASSIGNMENTS)  # every notebook's, graded or not
        assert part["written"][SPEC.name][0]["points"] == 3.0
        assert part["season"] == {"course_sha256": hashlib.sha256(course.read_bytes()).hexdigest(),
                                  "times_sha256": None, "file_times": False}  # fmt: skip
        part["written"][SPEC.name][0]["prompt"] = "**As the plan asks it**"
        plan.graders = json.dumps(part)
        return plan

    plans = [planned(tmp_path / "whole"), *(planned(tmp_path / "split", shard=Shard(i, 2))
                                            for i in range(2))]  # fmt: skip
    calls = []
    _forbid_deciding(monkeypatch, calls)
    for plan in plans:
        grade_class(plan, grader=grader)
    merge_shards(tmp_path / "split")
    assert calls == []
    recorded = json.loads((tmp_path / "whole" / "marks" / "rubrics.json").read_text())
    assert list(recorded["questions"]) == [f"{SPEC.name}/token-budget"]  # the graded notebook's
    assert recorded["questions"][f"{SPEC.name}/token-budget"]["prompt"] == "**As the plan asks it**"
    assert (tmp_path / "split" / "marks" / "rubrics.json").read_bytes() == (
        tmp_path / "whole" / "marks" / "rubrics.json"
    ).read_bytes()

    # A shard whose notebook asked another question: refused, naming its folder and that.
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "split", other)
    path = Shard(1, 2).folder(other) / RECORD
    record = json.loads(path.read_text())
    record["plan"]["written"][SPEC.name][0]["points"] = 4.0
    record["plan_sha256"] = plan_digest(record["plan"])
    path.write_text(json.dumps(record))
    with pytest.raises(ShardError) as refused:
        merge_shards(other)
    assert f"{other / 'shards'} were graded with different plans: shard-0-of-2 (plan " in str(
        refused.value
    )
    assert f"shard-1-of-2 (plan {record['plan_sha256'][:12]}); they differ in the written " in (
        str(refused.value)
    )
    assert "the written questions and their points (keyword_spotting); grade the odd" in str(
        refused.value
    )


def test_a_plan_for_one_hand_in_applies_no_season_and_holds_the_written_questions(
    tmp_path, tiny_data
):
    from kws.grading.season.written import notebook_rubrics, plan_rubrics

    hand_in = tmp_path / "ann"
    hand_in.mkdir()
    part = json.loads(plan_handins(tiny_data, [hand_in]).text())
    assert part["season"] is None
    assert plan_rubrics(part["written"], ASSIGNMENTS) == notebook_rubrics(ASSIGNMENTS)
