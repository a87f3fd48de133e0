"""Notebook 03's self-checks of Tasks 1 and 3 (kws.assignments.patch_transformer.patch_checks,
patchout_checks: the judges the grader runs too) on the solution notebook's model cells, as
written and rewritten: a patch projection written any way that computes one Linear map of a
patch (with or without a bias) passes; patch-out drawn from torch's global generator, or one that
keeps nothing when asked for more than the grid has, fails Task 3 with a message naming it. The
same rewrites are cases of the grader corpus (tests/corpus_patch.py)."""

import pytest
from corpus_patch import (
    CONV,
    CONV_FORWARD,
    GLOBAL_GENERATOR_EDITS,
    NOT_AT_LEAST_ONE_EDITS,
    PROJECTIONS,
)
from course_helpers import ROOT

from kws import check
from kws.notebooks import cells_with_tag, read_notebook

NOTEBOOK = ROOT / "solutions" / "03_patch_transformer.ipynb"


def model_namespace(*edits: tuple[str, str]) -> dict:
    """The solution notebook's model cells run in order, each (old, new) replaced once in the
    cell that holds it."""
    sources = [cell.source for cell in cells_with_tag(read_notebook(NOTEBOOK), "model")]
    for old, new in edits:
        (i,) = [i for i, source in enumerate(sources) if source.count(old) == 1]
        sources[i] = sources[i].replace(old, new)
    ns = {"__name__": "notebook"}
    for source in sources:
        exec(compile(source, "model-cell", "exec"), ns)
    return ns


def failed(result) -> list[str]:
    return [str(item) for item in result.failures]


def test_the_reference_passes_tasks_1_and_3():
    ns = model_namespace()
    assert check.patches(ns["grid_size"], ns["PatchEmbedding"])
    assert check.patchout(ns["StructuredPatchout"], ns=ns)


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_a_projection_written_another_way_passes_task_1(name):
    init, forward = PROJECTIONS[name]
    ns = model_namespace((CONV, init), (CONV_FORWARD, forward))
    result = check.patches(None, ns["PatchEmbedding"])
    assert result, failed(result)


def test_a_projection_that_is_not_one_linear_map_fails_naming_it():
    ns = model_namespace(
        (
            "return self.proj(image).permute(0, 2, 3, 1)",
            "return self.proj(image).relu().permute(0, 2, 3, 1)",
        )
    )
    result = check.patches(None, ns["PatchEmbedding"])
    assert not result
    assert "the same Linear map" in failed(result)[0]


def test_patchout_from_the_global_generator_fails_task_3_naming_it():
    ns = model_namespace(*GLOBAL_GENERATOR_EDITS)
    result = check.patchout(ns["StructuredPatchout"], ns=ns)
    assert {item.topic for item in result.failures} == {"train"}
    assert "not the global random generator" in failed(result)[0]


def test_patchout_asked_for_more_than_the_grid_keeps_one_of_each():
    ns = model_namespace(*NOT_AT_LEAST_ONE_EDITS)
    result = check.patchout(ns["StructuredPatchout"], ns=ns)
    assert len(result.failures) == 1
    assert "keeping one row and one column, (2, 1, 1, 12)" in failed(result)[0]
    assert "(2, 1, 5, 12)" in failed(result)[0]  # randperm(7)[: 7 - 9] keeps 5 columns


def test_kept_columns_and_rows_in_drawn_order_pass():
    """The notebook says the order of the kept columns is free: positions are added before
    patch-out and attention does not depend on the order of its tokens."""
    ns = model_namespace(
        ("[: cols - k_t].sort().values", "[: cols - k_t]"),
        ("[: rows - k_f].sort().values", "[: rows - k_f]"),
    )
    result = check.patchout(ns["StructuredPatchout"], ns=ns)
    assert result, failed(result)
