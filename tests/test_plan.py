"""One grading run, decided once and passed down (`kws.grading.classrun.plan`): `kws grade`
chooses the tier sets in its own process and every pytest grader takes them from the plan; the
season is applied to the graded results in memory and writes what `kws season` writes from the
files."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from report_helpers import write_handin

from kws.grading.classrun.plan import plan_run
from kws.grading.judge import tiers as tiers_module
from kws.grading.judge.planned import GraderPlan, read_plan
from kws.grading.judge.tiers import TierSet
from kws.grading.season import apply as apply_module
from kws.spec import ASSIGNMENTS

KS = "keyword_spotting"
COURSE = """timezone = "Europe/Berlin"

[late]
per_day = 0.10
cap = 0.30

[due]
keyword_spotting = "2026-10-02 23:59"
"""


@pytest.fixture
def course(tmp_path, tiny_data) -> Path:
    """An instructor's folder: two hand-ins of the released notebook (one late), the course
    file and the hand-in times; the tiny synthetic data beside them."""
    folder = tmp_path / "course"
    for student in ("ann", "bob"):
        write_handin(folder / "submissions" / student)
    (folder / "course.toml").write_text(COURSE)
    (folder / "times.csv").write_text(
        "student,assignment,submitted\n"
        "ann,,2026-10-02T20:00:00+02:00\n"
        "bob,,2026-10-04T12:00:00+02:00\n"
    )
    (folder / "data").symlink_to(tiny_data)
    return folder


def test_a_plan_says_what_the_run_grades_and_names_its_paths_resolved(course, monkeypatch):
    monkeypatch.chdir(course)
    plan = plan_run("submissions", "data", "grades", course=Path("course.toml"),
                    times=Path("times.csv"))  # fmt: skip
    assert plan.submissions == (course / "submissions").resolve()
    assert plan.data == (course / "data").resolve() and plan.out == course.resolve() / "grades"
    assert [p.name for p in plan.chosen] == ["ann", "bob"]
    assert plan.held == {"ann": {KS}, "bob": {KS}}  # the notebook each hand-in holds
    assert set(plan.tier_sets) == set(plan.gradable) == set(ASSIGNMENTS)  # the data has all
    assert plan.tier_sets[KS].name == "synthetic-tiny"
    assert plan.public_only == [KS]  # graded, and the tiny data has no private test set
    assert plan.season.course is not None and plan.season.course.path == Path("course.toml")
    one = plan_run("submissions", "data", "grades", student="bob")
    assert [p.name for p in one.chosen] == ["bob"]


def test_a_grader_takes_the_plans_tier_sets_and_refuses_another_datas_plan(course, tmp_path):
    """The pytest grader with --plan states the plan's tier set, not the one it would detect;
    a plan made for other data is refused, naming the file."""
    plan = plan_run(course / "submissions", course / "data", course / "grades")
    planned = TierSet("planned", {"simple": 0.1, "medium": 0.2, "strong": 0.3, "boss": 0.4},
                      "decided once")  # fmt: skip
    plan.tier_sets[KS] = planned
    held = {str((course / "submissions" / "ann").resolve()): [KS]}
    part = GraderPlan(plan.data, plan.tier_sets, plan.public_only, {}, held, KS)
    written = tmp_path / "plan.json"
    written.write_text(part.text())
    # the graders' part only: no roster or course file of the instructor's
    assert set(json.loads(written.read_text())) == {"version", "data", "assignment",
                                                    "tier_sets", "public_test_set", "missing",
                                                    "held", "split", "written",
                                                    "season", "language"}  # fmt: skip
    assert read_plan(written, course / "data").tier_sets[KS] == planned
    spoken = tmp_path / "spoken.json"  # the course's language, decided once with the rest
    spoken.write_text(replace(part, language="zh-TW").text())
    assert read_plan(spoken, course / "data").language == "zh-TW"
    assert read_plan(written, course / "data").language is None  # English
    tests = ASSIGNMENTS[KS].graded_tests
    command = [sys.executable, "-m", "pytest", "-p", "kws.grading.plugin", str(tests), "-q",
               "-p", "no:cacheprovider", "--submission", str(course / "submissions" / "ann"),
               "--data", "data", "--results", str(tmp_path / "ann.json"),
               "--plan", str(written), "-k", "accuracy"]  # fmt: skip
    done = subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=1800)
    results = json.loads((tmp_path / "ann.json").read_text())
    assert results["extra_data"]["tier_sets"] == {KS: "planned"}, done.stdout[-2000:]
    assert "tier set 'planned' (simple 0.1" in done.stdout
    other = tmp_path / "other.json"
    other.write_text(json.dumps(json.loads(written.read_text()) | {"data": str(tmp_path)}))
    command[command.index(str(written))] = str(other)
    done = subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 4  # pytest's usage error, before any test
    assert f"--plan {other} was made for the data folder {tmp_path}" in done.stderr


@pytest.mark.slow
def test_kws_grade_decides_the_tier_sets_once_and_applies_the_season_in_memory(
    course, monkeypatch, capsys
):
    """`kws grade` typed by the instructor (in this process, so its decisions are seen): the
    tier sets are chosen once, in the command, and each student's grader states that choice;
    the standings it prints and writes, from the results in memory, are what `kws season`
    computes again from the folder's files, byte for byte."""
    from kws.cli import main

    chosen, tier_set = [], tiers_module.tier_set

    def once(data, assignment, **options):
        found = tier_set(data, assignment, **options)
        chosen.append(assignment)
        return TierSet("decided-once", found.tiers, found.source)

    monkeypatch.setattr(tiers_module, "tier_set", once)
    checks = []  # the season checked against the class: once per command
    check_class = apply_module.check_class
    monkeypatch.setattr(apply_module, "check_class",
                        lambda *args, **kw: checks.append(1) or check_class(*args, **kw))  # fmt: skip
    monkeypatch.chdir(course)
    grade = ["grade", "submissions", "--data", "data", "--out", "grades", "--assignment", KS,
             "--course", "course.toml", "--times", "times.csv"]  # fmt: skip
    assert main(grade) == 0
    printed = capsys.readouterr().out
    assert chosen == [KS]  # once for the run, not once per student
    assert len(checks) == 1
    kept = json.loads((course / "grades" / "plan.json").read_text())  # the record's first file
    assert kept["tier_sets"][KS]["name"] == "decided-once"
    assert kept["notebooks"] == {"ann": [KS], "bob": [KS]} and kept["assignment"] == KS
    assert kept["season"]["course_sha256"] and kept["public_test_set"] == [KS]
    for student in ("ann", "bob"):
        results = json.loads((course / "grades" / "results" / f"{student}.json").read_text())
        assert results["extra_data"]["tier_sets"] == {KS: "decided-once"}
    assert "1 late hand-in(s) or adjustment(s)" in printed and "bob keyword_spotting" in printed
    written = {name: (course / "grades" / name).read_bytes()
               for name in ("gradebook.csv", "standings.json")}  # fmt: skip
    assert main(["season", "grades"]) == 0
    assert len(checks) == 2
    for name, data in written.items():
        assert (course / "grades" / name).read_bytes() == data, name
    plan = course / "grades" / "plan.json"  # a decision lost from it: refused, never made again
    plan.write_text(json.dumps({k: v for k, v in kept.items() if k != "written"}))
    assert main(["season", "grades"]) == 2
    said = capsys.readouterr().err
    assert f"{Path('grades') / 'plan.json'} lacks the run's decision written" in said
    assert "put back the plan.json the grades were recorded with" in said


def _graded_by_the_previous_kit(root: Path) -> Path:
    """A grades folder as the kit before the ``language`` decision left it mid-term: two
    graded hand-ins and the version-4 plan it kept (no ``language``), sealed."""
    from records_helpers import finish

    from kws.grading.judge.document import TestResult, results_document, write_results
    from kws.grading.records.gradebook import Graded, write_gradebook, write_run_record
    from kws.grading.records.plan import keep_plan

    out = root / "grades"
    graded = []
    for student, points in (("ann", 8.0), ("bob", 5.0)):
        test = TestResult("Accuracy on the hidden test set", points, 8.0, "failed", "",
                          "visible", {"assignment": KS, "test": "test_accuracy"})  # fmt: skip
        document = results_document([test], output="", execution_time=1)
        write_results(out / "results" / f"{student}.json", document)
        graded.append(Graded(student, document, "", 1.0))
    write_gradebook(graded, out / "gradebook.csv")
    write_run_record(out, root / "submissions", root / "data", KS)
    tiers = TierSet("synthetic-tiny", {"simple": 0.5}, "--dataset")
    made = GraderPlan((root / "data").resolve(), {KS: tiers}, [KS], {}, {}, KS, None, {KS: []})
    decisions = {key: value for key, value in json.loads(made.text()).items() if key != "language"}
    keep_plan(out, decisions | {"version": 4}, {"ann": {KS}, "bob": {KS}})
    return finish(out)


def test_a_plan_kept_by_the_previous_kit_is_read_as_english_not_refused(tmp_path, capsys):
    """A class graded mid-term by the kit before the course's language was a decision keeps a
    version-4 plan: `kws season` and `kws export` go on with it (the plan kept as written), and
    a grader given it as ``--plan`` writes English, as that kit's graders did."""
    from kws.cli import main

    grades = _graded_by_the_previous_kit(tmp_path)
    plan = grades / "plan.json"
    written = plan.read_bytes()
    course = tmp_path / "course.toml"
    course.write_text(COURSE.replace('"Europe/Berlin"', '"Asia/Taipei"\nlanguage = "zh-TW"'))
    times = tmp_path / "times.csv"
    times.write_text("student,assignment,submitted\nann,,2026-10-02T20:00:00+08:00\n"
                     "bob,,2026-10-04T12:00:00+08:00\n")  # fmt: skip
    assert main(["season", str(grades), "--course", str(course), "--times", str(times)]) == 0
    assert "bob keyword_spotting" in capsys.readouterr().out  # late: the season applied
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,folder\n"
                      "Ann,1,s1,ann,A,ann\nBob,2,s2,bob,A,bob\n")  # fmt: skip
    exported = tmp_path / "canvas.csv"
    export = ["export", "canvas", str(grades), "--roster", str(roster), "--out", str(exported)]
    assert main(export) == 0
    rows = exported.read_text().splitlines()
    assert rows[-2].startswith("Ann,1,") and rows[-1].startswith("Bob,2,")
    assert plan.read_bytes() == written  # read, never rewritten as another version
    assert read_plan(plan, tmp_path / "data").language == "en"
    capsys.readouterr()
    older = json.loads(written) | {"version": 3}  # a plan older still: refused, naming both
    plan.write_text(json.dumps(older))
    with pytest.raises(ValueError, match=r"not a grading plan this kit reads \(version 4 to 5\)"):
        read_plan(plan, tmp_path / "data")
    current = json.loads(written) | {"version": 5}  # a version-5 plan holds its language
    plan.write_text(json.dumps(current))
    with pytest.raises(ValueError, match="lacks the run's decision language"):
        read_plan(plan, tmp_path / "data")
