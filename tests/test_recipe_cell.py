"""Notebook 01's Task 4 in the grading child (kws.grading.child.cells): the recipe cell its spec
names ([tasks.kws] cells) found by its tag or, in a notebook handed out before the tag, by what
it defines; run after the model cells; and the learning rates the run recorded read from
history.json, as its check component declares (history="lr")."""

import json

import nbformat
import pytest
from course_helpers import ROOT

from kws.check.registry import history_key
from kws.grading.child.cells import recorded, run_cells, with_needs
from kws.grading.protocol.handin import child_cells, copy_plan, tagged_cell
from kws.notebooks import read_notebook
from kws.spec import assignment

NOTEBOOK = "01_keyword_spotting.ipynb"
SPEC = assignment("keyword_spotting")
CELLS = SPEC.cells  # the parameters cell, then the recipe cell
(RECIPE,) = CELLS
RECORDED_LR = history_key("kws", "lr")


def recipe_cell(nb):
    return tagged_cell(nb, RECIPE.tags[-1], RECIPE.defines)


def run_recipe_cell(path, ns):
    return run_cells(path, ns, CELLS)


def recorded_lr(folder):
    return recorded(folder, "lr")


def with_recipe(ns, path, folder):
    return with_needs(ns, path, folder.parent, CELLS, [(folder.name, "lr")])


def _copy(tmp_path, folder: str = "solutions", edit=None):
    nb = nbformat.read(ROOT / folder / NOTEBOOK, as_version=4)
    if edit is not None:
        edit(nb)
    path = tmp_path / NOTEBOOK
    nbformat.write(nb, path)
    return path


def test_the_tagged_recipe_cell_runs_after_the_parameters_cell(tmp_path):
    path = _copy(tmp_path)
    assert "def learning_rate_factor(" in recipe_cell(read_notebook(path)).source
    ns = run_recipe_cell(path, {"model_name": 1})
    assert ns["model_name"] == 1 and ns["RECIPE"]["lr"] == ns["LR"]  # LR: the parameters cell
    assert [ns["learning_rate_factor"](s, 10) for s in (0, 1)] == [0.0, 1.0]


def test_an_untagged_notebook_is_read_by_the_cell_defining_the_function(tmp_path):
    def untag(nb):
        for cell in nb.cells:
            if "recipe" in cell.metadata.get("tags", []):
                del cell.metadata["tags"]

    path = _copy(tmp_path, edit=untag)
    assert "RECIPE = " in recipe_cell(read_notebook(path)).source
    assert run_recipe_cell(path, {})["learning_rate_factor"](0, 10) == 0.0


def test_the_handed_out_notebook_reports_the_functions_own_todo(tmp_path):
    """The cell raises its RECIPE TODO first; the function below it is still defined."""
    ns = run_recipe_cell(_copy(tmp_path, "assignments"), {})
    with pytest.raises(NotImplementedError, match="TODO: warm up linearly from 0"):
        ns["learning_rate_factor"](0, 10)


def test_a_cell_failing_before_the_function_says_why(tmp_path):
    def broken(nb):
        (cell,) = [c for c in nb.cells if "recipe" in c.metadata.get("tags", [])]
        cell.source = "import math\nfactor = WARMUP_SHARE\nlearning_rate_factor = factor\n"

    ns = run_recipe_cell(_copy(tmp_path, edit=broken), {})
    with pytest.raises(RuntimeError, match="NameError: name 'WARMUP_SHARE' is not defined"):
        ns["learning_rate_factor"](0, 10)


def test_recorded_rates_come_from_history_json_only(tmp_path):
    folder = tmp_path / "outputs" / "kws"
    assert "outputs/kws/history.json is missing" in recorded_lr(folder)
    folder.mkdir(parents=True)
    (folder / "history.json").write_text(json.dumps({"lr": [0.0, 1e-3, 5e-4], "loss": []}))
    assert recorded_lr(folder) == [0.0, 1e-3, 5e-4]
    (folder / "history.json").write_text(json.dumps({"lr": [0.0, "fast"]}))
    assert "is not the history fit() wrote" in recorded_lr(folder)


def test_no_cell_can_put_its_own_recorded_rates_in_place(tmp_path):
    def claims(nb):
        (cell,) = [c for c in nb.cells if "recipe" in c.metadata.get("tags", [])]
        cell.source += f"\nglobals()[{RECORDED_LR!r}] = [1.0, 1.0]\n"

    graded = with_recipe({}, _copy(tmp_path, edit=claims), tmp_path / "outputs" / "kws")
    assert "history.json is missing" in graded[RECORDED_LR]


def test_a_long_runs_history_is_copied_for_grading(tmp_path):
    folder = tmp_path / "outputs" / "kws"
    folder.mkdir(parents=True)
    (folder / "history.json").write_text(json.dumps({"lr": [1e-3 / 3] * 200_000}))  # > 1 MiB
    assert (folder / "history.json").stat().st_size > 2**20
    assert [p.name for p in copy_plan(tmp_path).files] == ["history.json"]


def test_the_handed_out_recipe_todo_names_the_dicts_keys():
    """Task 4's TODO (and the error a student meets running the cell) says what RECIPE is."""
    from kws.notebooks import NoShell, python_source

    source = recipe_cell(read_notebook(ROOT / "assignments" / NOTEBOOK)).source
    ns = {"LR": 1e-3}
    ns["get_ipython"] = lambda: NoShell(ns, "recipe")
    with pytest.raises(NotImplementedError) as raised:
        exec(compile(python_source(source), "recipe", "exec"), ns)
    message = str(raised.value)
    assert message.startswith("TODO: RECIPE = {'lr': ..., 'weight_decay': ..., 'label_smoothing'")
    assert f"# {message}" in source  # the TODO comment says the same


def test_the_cells_the_child_runs_are_the_ones_reviewed(tmp_path):
    """Notebook 01's parameters and recipe cells run in the child after its model cells, so they
    are flagged for review like them; notebook 02 has no recipe cell."""
    from kws.grading.judge.review import review_flags

    def gc_in_recipe(nb):
        (cell,) = [c for c in nb.cells if "recipe" in c.metadata.get("tags", [])]
        cell.source = "import gc\n" + cell.source

    labels = [label for label, _ in child_cells(ROOT / "solutions" / NOTEBOOK, CELLS)]
    assert labels[-2:] == ["parameters cell", "recipe cell"] and labels[0] == "model cell 1"
    speaker = assignment("speaker_id")
    assert all(
        label.startswith("model cell")
        for label, _ in child_cells(ROOT / "solutions" / speaker.notebook, speaker.cells)
    )
    flags = review_flags(_copy(tmp_path, edit=gc_in_recipe), CELLS)
    assert flags == [f"{NOTEBOOK}, recipe cell: the garbage collector (gc) (gc)"]
