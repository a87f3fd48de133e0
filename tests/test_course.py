"""A course is a folder of assignments (`KWS_COURSE`), the kit's three its example course: the
registry of a named course, what its spec declares becoming graded tests and self-checks
(`kws.spec.rules`, `kws.grading.judge.declared`, `kws.check.declared`), `kws assign` refusing
a bad assignment before it writes anything and writing what the spec declares, and the
commands that name only the course's notebooks. The tutorial's whole path is
tests/test_own_tutorial.py."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_helpers import ROOT
from in_process import kws_here, python_here

from kws.spec import (
    Registry,
    SpecError,
    absolute_environment,
    assignments,
    course,
    course_folder,
    load,
    load_folder,
    spec_of,
)
from kws.spec.rules import declared, judge_layers, judge_own_work, judge_size

TEMPLATE = ROOT / "docs" / "assignment_template"


def _course(tmp_path: Path) -> Path:
    """The template, as a course of one assignment: my_assignment/ and solutions/."""
    return shutil.copytree(TEMPLATE, tmp_path / "course")


def _kws(
    cwd: Path, *args: str, course_name: str = "course", here: bool = False
) -> subprocess.CompletedProcess:
    """`kws ARGS` typed in `cwd` with the course `course_name`; `here`: in this process
    (tests/in_process.py), for a command that reads the course and writes files only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KWS_")}
    env |= {"KWS_COURSE": course_name, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if here:
        return kws_here(cwd, *args, env=env)
    return subprocess.run([sys.executable, "-m", "kws.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


# ---- the course -------------------------------------------------------------------------------


def test_kws_course_names_the_course_in_place_of_the_kits_three(tmp_path, monkeypatch):
    folder = _course(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KWS_COURSE", "course")  # relative: the working directory's
    assert list(assignments()) == ["my_assignment"]  # the kit's three are not in it
    taught = course()
    assert taught.named and taught.folder == folder.resolve()
    assert taught.solutions == folder.resolve() / "solutions"
    assert taught.students == folder.resolve() / "students"
    assert spec_of(folder / "my_assignment" / "checks.py").name == "my_assignment"
    env = absolute_environment({"KWS_COURSE": "course", "KWS_ASSIGNMENTS": "a:b"})
    assert env["KWS_COURSE"] == str(folder.resolve())
    assert env["KWS_ASSIGNMENTS"] == f"{tmp_path / 'a'}:{tmp_path / 'b'}"
    monkeypatch.delenv("KWS_COURSE")
    assert not course().named and course().folder.name == "assignments"
    assert {"keyword_spotting", "speaker_id", "patch_transformer"} <= set(assignments())


def test_a_course_folder_that_is_none_says_what_to_name(tmp_path):
    with pytest.raises(SpecError, match=r"^KWS_COURSE=nowhere: no such folder; name the folder"):
        course_folder({"KWS_COURSE": "nowhere"})
    folder = _course(tmp_path)
    assignment = str(folder / "my_assignment")
    with pytest.raises(SpecError, match=rf"is an assignment folder; .* KWS_COURSE={folder}$"):
        course_folder({"KWS_COURSE": assignment})
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match="the course holds no assignment folder"):
        list(Registry("", (tmp_path / "empty").resolve()))


def test_kws_with_a_broken_course_says_so_in_one_line(tmp_path, capsys):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KWS_")} | {
        "KWS_COURSE": "nowhere", "PYTHONPATH": str(ROOT)}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "kws.cli", "grade", "subs", "--data", "d"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(f"kws: KWS_COURSE={tmp_path / 'nowhere'}: no such folder")


# ---- what a spec declares ----------------------------------------------------------------------

SPEC = """\
name = "x"
title = "t"
notebook = "x.ipynb"

[tasks.task1]
title = "Task 1: a model"
class = "Net"
target = "medium"
limits = { max_layer_calls = 2, max_parameters = 50_000, max_encoder_params = 20_000 }
rules = { {rules} }

[tasks.data]
title = "Task 2: a function"

[accuracy]
source = "predictions.csv"
sample = 4
"""


def _spec(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.replace("{rules}", rules))
    return path


def test_a_rule_the_kit_does_not_know_is_named_with_its_line_and_the_nearest_rule(tmp_path):
    path = _spec(tmp_path, "norm_befor_classifier = true")
    with pytest.raises(SpecError) as error:
        load(path)
    assert str(error.value).startswith(
        f"{path}, line 10: tasks.task1.rules names 'norm_befor_classifier', a rule the kit does "
        "not know; did you mean norm_before_classifier?"
    )
    with pytest.raises(SpecError, match=r", line 10: tasks.task1.rules holds a value of the wrong"):
        load(_spec(tmp_path, "norm_before_classifier = 1"))


def test_each_rule_and_limit_of_a_spec_is_a_graded_test(tmp_path):
    spec = load(_spec(tmp_path, 'norm_before_classifier = true, from_scratch = true, '
                               'layer_class = "Block"'))  # fmt: skip
    tests = {t.name: (t.kind, t.tasks) for t in declared(spec)}
    assert tests == {
        "test_model_loads": ("loads", ("task1",)),
        "test_task1_layers_that_run": ("layers", ("task1",)),
        "test_task1_parameters": ("parameters", ("task1",)),
        "test_task1_encoder_parameters": ("encoder_parameters", ("task1",)),
        "test_task1_written_from_scratch": ("from_scratch", ("task1",)),
        "test_task1_norm_before_classifier": ("norm", ("task1",)),
        "test_accuracy": ("accuracy", ("task1",)),
        "test_predictions_csv": ("predictions_csv", ("task1",)),
    }
    titles = {t.name: t.title for t in declared(spec)}
    assert titles["test_task1_layers_that_run"] == "Task 1: 1 to 2 layers run in forward"
    assert "at most 50k weights" in titles["test_task1_parameters"]
    assert "Block written in the notebook, no library" in titles["test_task1_written_from_scratch"]
    template = load_folder(TEMPLATE / "my_assignment")
    assert [t.name for t in declared(template)] == [
        "test_model_loads", "test_task1_norm_before_classifier", "test_accuracy"]  # fmt: skip


def test_the_judges_the_self_check_and_the_grader_share():
    assert judge_layers(0, 2)[0] is False and "call your layers" in judge_layers(0, 2)[2]
    assert judge_layers(2, 2)[0] is True
    assert judge_layers(3, 2) == (False, "3 layers run one after another in one forward "
                                  "(counted by their attention)", "the task allows 1 to 2: use "
                                  "fewer layers")  # fmt: skip
    assert (
        judge_size(50_000, 50_000, "50k")[0]
        and not judge_size(20_000, 20_000, "20k", below=True)[0]
    )
    facts = {"forbidden": ["torch.nn.MultiheadAttention (encoder.0)"], "layer_class_problem": None,
             "layer_class_calls": 0, "class_problems": {"Pool": "`Pool` comes from `x`"}}  # fmt: skip
    rules = {"from_scratch": True, "layer_class": "Block", "own_classes": ["Pool"]}
    assert judge_own_work(facts, rules) == [
        "your model's forward runs torch.nn.MultiheadAttention (encoder.0); the task asks you to "
        "write this layer yourself",
        "your Block never runs in forward; call it",
        "`Pool` comes from `x`",
    ]
    assert judge_own_work(facts, {}) == []


def test_a_test_written_by_hand_under_a_declared_name_replaces_it(tmp_path):
    from kws.grading.judge.declared import spec_tests

    spec = load_folder(TEMPLATE / "my_assignment")
    folder = tmp_path / "graded_tests"
    folder.mkdir()
    (folder / "test_spec.py").write_text("")
    assert list(spec_tests(spec, str(folder / "test_spec.py"))) == [
        "test_model_loads", "test_task1_norm_before_classifier", "test_accuracy"]  # fmt: skip
    (folder / "test_mine.py").write_text("def test_model_loads(grading, child):\n    pass\n")
    made = spec_tests(spec, str(folder / "test_spec.py"))
    assert list(made) == ["test_task1_norm_before_classifier", "test_accuracy"]
    assert made["test_accuracy"].__doc__.startswith("Accuracy on the hidden test labels")


# ---- kws assign ---------------------------------------------------------------------------------


def _files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_kws_assign_writes_what_the_spec_declares_and_the_student_notebook(tmp_path):
    folder = _course(tmp_path)
    (folder / "my_assignment" / "graded_tests" / "test_spec.py").unlink()  # written again
    done = _kws(tmp_path, "assign")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "wrote course/my_assignment/graded_tests/test_spec.py",
        "wrote course/students/my_assignment.ipynb",
        "my_assignment: 4 graded tests, 8 points: test_model_loads (1), "
        "test_task1_norm_before_classifier (2), test_accuracy (3), test_masked_mean (2)",
    ]
    tests = folder / "my_assignment" / "graded_tests"
    assert (tests / "test_spec.py").read_text() == (TEMPLATE / "my_assignment" / "graded_tests"
                                                   / "test_spec.py").read_text()  # fmt: skip
    student = nbformat.read(folder / "students" / "my_assignment.ipynb", as_version=4)
    tags = [
        (c.cell_type, c.metadata.get("tags", []), c.source.splitlines()[0]) for c in student.cells
    ]
    parameters = next(i for i, t in enumerate(tags) if "parameters" in t[1])
    assert "KIT_SOURCE" in "".join(c.source for c in student.cells[parameters - 1 : parameters])
    model = max(i for i, t in enumerate(tags) if "model" in t[1])
    assert student.cells[model + 2].source.endswith('check.assignment("my_assignment")')
    assert student.cells[-1].metadata["tags"] == ["handin"]
    assert 'raise NotImplementedError("TODO: average only the valid frames' in "".join(
        c.source for c in student.cells)  # fmt: skip
    before = _files(folder)
    again = _kws(tmp_path, "assign", "--check", here=True)
    assert again.returncode == 0 and "out of date" not in again.stdout
    assert _files(folder) == before
    solution = folder / "solutions" / "my_assignment.ipynb"
    nb = nbformat.read(solution, as_version=4)
    nb.cells[0].source += "\nOne more line."
    nbformat.write(nb, solution)
    stale = _kws(tmp_path, "assign", "--check", here=True)
    assert stale.returncode == 1
    assert "out of date: course/students/my_assignment.ipynb  (run: kws assign)" in stale.stdout
    assert _files(folder) == {**before, solution: solution.read_bytes()}


def test_kws_assign_writes_the_student_notebook_in_the_course_files_language(tmp_path):
    """``kws assign --course course.toml`` with ``language = "zh-TW"`` (the spec names none):
    the cells the kit adds in Chinese, and the Set-up cell tells the kernel, so the self-check
    and the hand-in cell speak it too."""
    _course(tmp_path)
    (tmp_path / "course.toml").write_text('timezone = "Asia/Taipei"\nlanguage = "zh-TW"\n')
    done = _kws(tmp_path, "assign", "--course", "course.toml", here=True)
    assert done.returncode == 0, done.stderr
    student = nbformat.read(tmp_path / "course" / "students" / "my_assignment.ipynb", 4)
    text = "\n".join(c.source for c in student.cells)
    assert "## 環境設定" in text and "## 準備好繳交了嗎？" in text
    assert 'os.environ.setdefault("KWS_LANGUAGE", "zh-TW")' in text


@pytest.mark.parametrize(
    "edit, said",
    [
        (("spec.toml", "test_accuracy = 3\n", ""),
         "course/my_assignment/spec.toml, line 29: [points] has no entry for test_accuracy "
         "(declared by tasks.<task>.target); add `test_accuracy = 2`"),
        (("spec.toml", 'class = "MeanPoolClassifier"', 'class = "MeanPool"'),
         "course/my_assignment/spec.toml, line 23: task task1 is graded on class MeanPool, but no "
         "cell tagged 'model' of course/solutions/my_assignment.ipynb defines it"),
        (("spec.toml", 'component = "masked_mean"', 'component = "masked_men"'),
         "course/my_assignment/spec.toml, line 38: [numeric.test_masked_mean] component = "
         "'masked_men', which NUMERIC of course/my_assignment/checks.py does not register"),
        (("checks.py", 'Component("task1", "masked_mean"', 'Component("task1", "masked_average"'),
         "course/my_assignment/checks.py: the component 'masked_mean' checks masked_average, but "
         "no cell tagged 'model' of course/solutions/my_assignment.ipynb defines it"),
        (("notebook", "    # END SOLUTION\n", ""),
         "course/solutions/my_assignment.ipynb, cell 2, line 7: BEGIN SOLUTION is never closed; "
         "add '# END SOLUTION' after the reference code"),
        (("notebook", 'OUT_DIR = Path(', 'OUT = Path('),
         "course/solutions/my_assignment.ipynb, cell 1: the parameters cell sets no OUT_DIR; add "
         'OUT_DIR = Path(os.environ.get("KWS_OUT_DIR", "outputs"))'),
    ],
)  # fmt: skip
def test_kws_assign_refuses_a_broken_assignment_before_it_writes_anything(tmp_path, edit, said):
    folder = _course(tmp_path)
    where, old, new = edit
    path = {"spec.toml": folder / "my_assignment" / "spec.toml",
            "checks.py": folder / "my_assignment" / "checks.py",
            "notebook": folder / "solutions" / "my_assignment.ipynb"}[where]  # fmt: skip
    if where == "notebook":
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if old in c.source)
        cell.source = cell.source.replace(old, new, 1)
        nbformat.write(nb, path)
    else:
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    before = _files(folder)
    done = _kws(tmp_path, "assign", here=True)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith("kws assign: 1 problem(s), nothing written:\n- ")
    assert said in done.stderr
    assert _files(folder) == before


def test_kws_assign_refuses_the_kits_course_and_names_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KWS_")}
    done = subprocess.run([sys.executable, "-m", "kws.cli", "assign"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert (
        "KWS_COURSE is not set: the kit's example course keeps its graded tests by hand"
        in done.stderr
    )


# ---- the notebooks and the self-check ----------------------------------------------------------


def test_the_kits_student_notebooks_keep_their_own_cells():
    from kws.release.notebooks import stale_notebooks

    assert stale_notebooks(ROOT / "solutions", ROOT / "assignments") == []


def _namespace(source: str) -> dict:
    ns = {"__name__": "__main__"}
    exec(compile(source, "<model cell>", "exec"), ns)
    return ns


def test_the_self_check_judges_the_model_as_the_graded_tests_do(tmp_path, monkeypatch, capsys):
    from kws.check.declared import check_assignment

    folder = _course(tmp_path)
    monkeypatch.setenv("KWS_COURSE", str(folder))
    nb = nbformat.read(folder / "solutions" / "my_assignment.ipynb", as_version=4)
    model = next(c.source for c in nb.cells if "model" in c.metadata.get("tags", []))
    result = check_assignment("my_assignment", ns=_namespace(model))
    assert result, result.report()
    out = capsys.readouterr().out
    assert "✓ padded frames are left out of the mean" in out
    assert "✓ a normalization feeds the final Linear classifier" in out
    broken = model.replace("self.classifier(self.norm(masked_mean(h, lengths)))",
                           "self.classifier(masked_mean(h, lengths))")  # fmt: skip
    broken = broken.replace("return total / lengths[:, None].clamp(min=1)", "return x.mean(1)")
    result = check_assignment("my_assignment", ns=_namespace(broken))
    failed = [item.what for item in result.failures]
    assert failed == ["padded frames are left out of the mean",
                      "a normalization feeds the final Linear classifier"]  # fmt: skip
    todo = model.replace("valid = torch.arange", "raise NotImplementedError('TODO: write it')\n    valid = torch.arange")  # fmt: skip
    with pytest.raises(NotImplementedError, match="TODO: write it"):  # Run All stops at a TODO
        check_assignment("my_assignment", ns=_namespace(todo))


def test_the_bundle_of_a_course_is_its_notebook_its_readme_and_the_kit_with_it(tmp_path):
    _course(tmp_path)
    done = _kws(tmp_path, "release", "bundle", "handout")
    assert done.returncode == 0, done.stderr  # no set-up cell of its own: the kit's is added
    assert "note:" not in done.stderr
    readme = (tmp_path / "handout" / "README.md").read_text()
    assert "`my_assignment.ipynb`" in readme and "kws handin my_assignment.ipynb" in readme
    assert "01_keyword_spotting" not in readme and "Speech Commands" not in readme
    assert "students download Speech Commands" not in done.stdout  # the data line: this course's
    assert "students get the HW4 folder from you" in done.stdout
    old = _kws(tmp_path, "release", "again")  # the earlier spelling: the bundle, with a note
    assert old.returncode == 0, old.stderr
    assert "note: `kws release again` is now `kws release bundle again`" in old.stderr


def test_a_folder_of_specs_beside_the_solutions_is_not_taken_for_student_notebooks(
    tmp_path, capsys, monkeypatch
):
    """The layout the template once had (specs in assignments/, beside solutions/): the bundle
    says nothing of assignments/ being out of date, and so never sends a notebook into it."""
    from kws.release.bundle import build_bundle

    (tmp_path / "assignments").mkdir()
    shutil.copytree(TEMPLATE / "my_assignment", tmp_path / "assignments" / "my_assignment")
    shutil.copytree(TEMPLATE / "solutions", tmp_path / "solutions")
    monkeypatch.setenv("KWS_ASSIGNMENTS", str(tmp_path / "assignments"))
    build_bundle(tmp_path / "handout", solutions=tmp_path / "solutions")
    assert "out of date" not in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "assignments").iterdir()) == ["my_assignment"]


# ---- what the commands say ---------------------------------------------------------------------


def test_a_tier_above_the_target_is_named():
    from kws.grading.judge.tiers import accuracy_in, tier_credit

    tiers = {"simple": 0.1, "medium": 0.3, "strong": 0.4, "boss": 0.45}
    fraction, message = tier_credit(0.5, tiers, "medium")
    assert fraction == 1.0
    assert message == ("Accuracy 0.5000 reaches the boss tier (0.4500); full marks at medium "
                       "(0.3000).")  # fmt: skip
    assert accuracy_in(message) == 0.5
    assert (
        tier_credit(0.35, tiers, "medium")[1] == "Accuracy 0.3500 reaches the medium tier (0.3000)."
    )
    fraction, message = tier_credit(0.2, tiers, "medium")
    assert fraction == 0.5 and message.startswith(
        "Accuracy 0.2000 reaches the simple tier; the medium"
    )


def test_gradescope_names_a_spec_without_grading_costs(tmp_path, monkeypatch):
    from kws.grading.publish.gradescope import autograder

    folder = _course(tmp_path)
    monkeypatch.setattr(autograder, "ASSIGNMENTS", Registry("", folder.resolve()))
    unmeasured = autograder.ContainerSettings(0.5, 768, 10, {"my_assignment": 0.0}, None)
    said = autograder.settings_advice(unmeasured)
    assert "Not measured: my_assignment (its spec has no [grading])" in said
    assert "0.0 min" not in said and "The reference hand-in takes" not in said
    assert "container:" not in said and "(the default)" not in said  # no default as advice
    assert "`kws reference --data DATA --write-tiers` measures" in said
    monkeypatch.setattr(autograder, "ASSIGNMENTS", Registry(""))
    measured = autograder.ContainerSettings(0.5, 768, 10, {"speaker_id": 150.0}, 590)
    said = autograder.settings_advice(measured)
    assert "The reference hand-in takes speaker_id 2.5 min on 0.5 CPU" in said
    assert "Not measured" not in said


def test_kws_grades_warning_names_only_the_notebooks_its_hand_ins_hold(tmp_path, tiny_data):
    from kws.grading.classrun.plan import plan_run
    from kws.grading.testsets.public_only import command_warning, handout

    subs = tmp_path / "subs"
    for student in ("ada", "bob"):
        (subs / student).mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), str(subs / "bob" / "02_speaker_id.ipynb"))
    said = []
    plan = plan_run(subs, tiny_data, tmp_path / "grades", say=said.append)
    assert plan.held == {"ada": set(), "bob": {"speaker_id"}}
    assert said[0].startswith("Warning: 02_speaker_id.ipynb graded on a public test set")
    assert len(said) == 1 and plan.public_only == ["speaker_id"]
    said.clear()
    assert plan_run(subs, tiny_data, tmp_path / "grades", student="ada", say=said.append).held == {
        "ada": set()
    }
    assert said == []  # ada's hand-in holds no notebook: nothing to warn of
    everything = command_warning(tiny_data)  # without hand-ins: every notebook the data holds
    assert "01_keyword_spotting.ipynb" in everything and "03_patch_transformer" in everything
    lines = "\n".join(handout(tiny_data, ["speaker_id"]))
    assert "02_speaker_id.ipynb" in lines and "01_keyword_spotting" not in lines


def test_the_report_compares_with_the_courses_own_notebooks(tmp_path):
    from kws.grading.publish.cli import _skeletons

    folder = _course(tmp_path)
    (tmp_path / "skeletons").mkdir()
    written = _skeletons(folder / "solutions", tmp_path / "skeletons")
    text = (written / "my_assignment.ipynb").read_text()
    assert "TODO: average only the valid frames" in text and "BEGIN SOLUTION" not in text


# ---- kws reference's arithmetic ----------------------------------------------------------------


def test_the_target_tier_is_below_every_seed_by_the_kits_rule():
    from kws.demo.reference import threshold, tier_set

    assert threshold([0.6667, 0.8333, 0.6667]) == 0.49  # mean - 2.33 sd is the lower
    assert threshold([0.9, 0.9, 0.9]) == 0.88  # lowest - 0.02
    assert threshold([0.5]) == 0.48
    assert tier_set({"simple": 0.49}, 0.8333) == {
        "simple": 0.49, "medium": 0.6, "strong": 0.71, "boss": 0.83}  # fmt: skip
    assert tier_set({"medium": 0.6, "boss": 0.8}, 0.9) == {
        "simple": 0.3, "medium": 0.6, "strong": 0.7, "boss": 0.8}  # fmt: skip
    # a task whose target is higher but its accuracy lower: the tiers stay in rising order
    assert tier_set({"medium": 0.7, "strong": 0.5}, 0.9) == {
        "simple": 0.25, "medium": 0.5, "strong": 0.5, "boss": 0.9}  # fmt: skip


def test_the_tiers_are_written_into_the_spec_its_other_lines_kept(tmp_path):
    from kws.demo.reference import write_tiers

    folder = _course(tmp_path)
    spec = load_folder(folder / "my_assignment")
    text = spec.path.read_text()
    tiers = {"simple": 0.5, "medium": 0.6, "strong": 0.7, "boss": 0.8}
    write_tiers(spec, "synthetic-small", tiers, "kws reference: 3 seeds")
    after = spec.path.read_text()
    assert after.replace(
        "synthetic-small = { simple = 0.5, medium = 0.6, strong = 0.7, boss = 0.8 }  # kws "
        "reference: 3 seeds\n", "synthetic-small = { simple = 0.3, medium = 0.5, strong = 0.7, "
        "boss = 0.9 }\n") == text  # fmt: skip
    write_tiers(spec, "synthetic-tiny-private", tiers, "new")
    assert load(spec.path).tiers["synthetic-tiny-private"] == tiers
    assert load(spec.path).tiers["synthetic-small"] == tiers


def test_kws_reference_refuses_data_without_the_test_set_before_running(tmp_path):
    _course(tmp_path)
    (tmp_path / "data").mkdir()
    done = _kws(tmp_path, "reference", "--data", "data", here=True)
    assert done.returncode == 2
    assert "kws reference: --data data: " in done.stderr
    assert not (tmp_path / "reference").exists()


def test_kws_assign_writes_nothing_of_the_kit(tmp_path):
    """`kws assign` writes only inside the course: the kit's files are as they were."""
    kit = {p: p.stat().st_mtime_ns for p in (ROOT / "kws").rglob("*.py")}
    _course(tmp_path)
    assert _kws(tmp_path, "assign", here=True).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in (ROOT / "kws").rglob("*.py")} == kit
    assert json.loads((tmp_path / "course" / "students" / "my_assignment.ipynb").read_text())


# ---- the self-check judges the model the notebook trains, marks what it did not run ------------

LAYERED = """\
import torch
from torch import nn
from kws.data.features import SpecAugment


def masked_mean(x, lengths):
    valid = torch.arange(x.shape[1])[None, :] < lengths[:, None]  # (B, T)
    return (x * valid[..., None]).sum(1) / lengths[:, None].clamp(min=1)  # (B, D)


class Block(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.qkv = nn.Linear(d_model, 3 * d_model)

    def forward(self, h):
        q, k, v = self.qkv(h).chunk(3, dim=-1)  # (B, T, D) each
        scores = q @ k.transpose(1, 2) / q.shape[-1] ** 0.5  # (B, T, T)
        return h + torch.softmax(scores, dim=-1) @ v  # (B, T, D)


class MeanPoolClassifier(nn.Module):
    def __init__(self, n_mels=40, d_model=16, num_layers=2, n_classes=10):
        super().__init__()
        self.augment = SpecAugment()
        self.frame = nn.Linear(n_mels, d_model)
        self.layers = nn.ModuleList(Block(d_model) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.classifier = nn.Linear(d_model, n_classes)

    def forward(self, x, lengths):
        h = torch.relu(self.frame(self.augment(x)))  # (B, T, D)
        for layer in self.layers:
            h = layer(h)
        return self.classifier(self.norm(masked_mean(h, lengths)))  # (B, n_classes)
"""
OWN_AUGMENT = """
class SpecAugment(nn.Module):  # the student's own: masks nothing in eval mode
    def forward(self, x):
        return x
"""


def _layered_course(tmp_path: Path, rules: str = "norm_before_classifier = true") -> Path:
    """The template as a course whose task allows 1 to 3 layers (`LAYERED`'s blocks)."""
    folder = _course(tmp_path)
    spec = folder / "my_assignment" / "spec.toml"
    text = spec.read_text().replace(
        "rules = { norm_before_classifier = true }",
        f"limits = {{ max_layer_calls = 3 }}\nrules = {{ {rules} }}",
    )
    spec.write_text(text.replace("test_model_loads = 1\n", "test_model_loads = 1\n"
                                 "test_task1_layers_that_run = 2\n"
                                 "test_task1_written_from_scratch = 2\n"))  # fmt: skip
    return folder


def test_the_self_check_cell_judges_the_model_the_notebook_s_config_builds(tmp_path):
    from kws.release.notebooks import CHECK_CODE

    folder = _layered_course(tmp_path)
    cell = CHECK_CODE.format(name="my_assignment")  # the self-check cell `kws assign` writes
    env = {k: v for k, v in os.environ.items() if not k.startswith("KWS_")}
    env |= {"KWS_COURSE": str(folder), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    def student(*cells: str) -> subprocess.CompletedProcess:  # run as a kernel runs its cells
        return python_here(tmp_path, "\n".join([LAYERED, *cells, cell]), env=env)

    config = 'CONFIG = {"n_mels": 40, "d_model": 16, "num_layers": 4, "n_classes": 10}'
    done = student(config)  # trains 4 layers where 3 are allowed: fails before the hand-in
    assert done.returncode == 0, done.stderr
    assert "✓ MeanPoolClassifier builds as CONFIG says" in done.stdout
    assert (
        "✗ 4 layers run one after another in one forward (counted by their attention) — the "
        "task allows 1 to 3: use fewer layers" in done.stdout
    )
    assert "my_assignment: 5 of 6 checks passed; fix the ✗ above." in done.stdout
    # no CONFIG yet: the defaults, and the first line says so
    done = student()
    assert "✓ MeanPoolClassifier builds with its constructor's defaults (no CONFIG yet)" in (
        done.stdout)  # fmt: skip
    assert "my_assignment: all 6 checks passed." in done.stdout
    # a CONFIG of other settings is not the model's; config.json, once saved, is what the grader
    # builds, and so is it here
    done = student('CONFIG = {"lr": 0.003, "steps": 200}')
    assert "builds with its constructor's defaults" in done.stdout and "✗" not in done.stdout
    saved = tmp_path / "outputs" / "task1"
    saved.mkdir(parents=True)
    (saved / "config.json").write_text(json.dumps({"task": "task1", "class": "MeanPoolClassifier",
                                                   "kwargs": {"num_layers": 5}}))  # fmt: skip
    done = student("from pathlib import Path\nOUT_DIR = Path('outputs')", config)
    assert f"builds as {Path('outputs') / 'task1' / 'config.json'} says" in done.stdout
    assert "✗ 5 layers run one after another" in done.stdout


def test_a_check_the_grader_keeps_is_marked_apart_not_passed(tmp_path, monkeypatch, capsys):
    from kws.check.declared import check_assignment
    from kws.handin.lines import Line, NotebookReport

    folder = _course(tmp_path)
    mine = folder / "my_assignment"
    (mine / "grader_checks.py").write_text(
        (mine / "checks.py").read_text().replace('NUMERIC = {"masked_mean"', 'NUMERIC = {"exact"')
    )
    title = "Task 1: masked_mean matches the course's own"
    (mine / "spec.toml").write_text((mine / "spec.toml").read_text().replace(
        "test_masked_mean = 2\n", "test_masked_mean = 2\ntest_exact = 1\n")
        + f'\n[numeric.test_exact]\ntitle = "{title}"\ncomponent = "exact"\n')  # fmt: skip
    monkeypatch.setenv("KWS_COURSE", str(folder))
    nb = nbformat.read(folder / "solutions" / "my_assignment.ipynb", as_version=4)
    model = next(c.source for c in nb.cells if "model" in c.metadata.get("tags", []))
    result = check_assignment("my_assignment", ns=_namespace(model))
    out = capsys.readouterr().out
    assert result, out  # nothing failed
    assert f"– {title}: checked by the grader only, after you hand in\n" in out
    assert f"✓ {title}" not in out
    assert [item.what for item in result.later] == [
        f"{title}: checked by the grader only, after you hand in"
    ]
    passed = len(result.items) - 1
    assert out.endswith(
        f"my_assignment: all {passed} checks passed; 1 is checked by the grader after you hand "
        "in.\n"
    )
    # `kws handin` marks the tests graded after the hand-in the same way
    report = NotebookReport("my_assignment.ipynb", "my_assignment", [Line(True, "no TODO left")])
    report.later[title] = (
        1.0,
        "graded after you hand in: the course keeps this check with its grader",
    )
    assert f"    – {title} (1 point)\n" in report.text()
    assert f"✓ {title}" not in report.text()


# ---- a kit class the task forbids ---------------------------------------------------------------


def test_a_forbidden_class_the_kit_does_not_have_is_refused_with_its_line(tmp_path):
    path = _spec(tmp_path, 'forbidden = ["kws.data.features.SpecAugmnt"]')
    with pytest.raises(SpecError) as error:
        load(path)
    assert str(error.value) == (
        f"{path}, line 10: tasks.task1.rules.forbidden names 'kws.data.features.SpecAugmnt': "
        "kws.data.features has no class SpecAugmnt; it has LogMel, MFCC, SpecAugment; forbidden "
        "lists classes of the kit the students write themselves"
    )
    with pytest.raises(SpecError, match="the kit has no module kws.data.featurs"):
        load(_spec(tmp_path, 'forbidden = ["kws.data.featurs.SpecAugment"]'))
    with pytest.raises(SpecError, match=r"'torch.nn.Linear' is no class of the kit"):
        load(_spec(tmp_path, 'forbidden = ["torch.nn.Linear"]'))


def test_a_forbidden_kit_class_fails_the_self_check_and_the_graded_test(tmp_path, monkeypatch,
                                                                         capsys):  # fmt: skip
    from kws.check.declared import check_assignment, example_inputs
    from kws.grading.judge.declared import spec_tests
    from kws.tracing import trace
    from kws.tracing.probes import probe_facts

    folder = _layered_course(tmp_path, 'forbidden = ["kws.data.features.SpecAugment"]')
    monkeypatch.setenv("KWS_COURSE", str(folder))
    monkeypatch.setattr(trace, "_originals", None)  # captured again, with this course's classes
    spec = load_folder(folder / "my_assignment")
    test = next(t for t in declared(spec) if t.name == "test_task1_written_from_scratch")
    assert test.title == (
        "Task 1: your own layers written in the notebook, no kws.data.features.SpecAugment in "
        "forward"
    )
    result = check_assignment("my_assignment", ns=_namespace(LAYERED))
    said = ("your model's forward uses kws.data.features.SpecAugment (module augment), which this "
            "task asks you to write; write your own class in the notebook")  # fmt: skip
    assert [item.fix for item in result.failures] == [said], capsys.readouterr().out
    # the graded test judges the facts the grading child measures, with the same words
    ns = _namespace(LAYERED)
    model = ns["MeanPoolClassifier"]().eval()
    facts = probe_facts("task1", model, ns, example_inputs(spec), rules=spec.tasks["task1"].rules)

    class Grading:  # what the graded test asks of the grading fixture: the child's facts
        def probe_facts(self, child, task):
            return facts

    graded = spec_tests(spec, str(folder / "my_assignment" / "graded_tests" / "test_spec.py"))
    with pytest.raises(AssertionError, match=r"^Your model's forward uses kws\.data\.features"):
        graded["test_task1_written_from_scratch"](Grading(), None)
    # the student's own SpecAugment, written in the notebook: nothing forbidden runs
    result = check_assignment("my_assignment", ns=_namespace(LAYERED + OWN_AUGMENT))
    assert result, result.report()
