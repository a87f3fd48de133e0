"""Notebook 01, Tasks 1 and 2: the 12-class training set the student's functions build, and the
tokens the student's model runs its attention over.

Task 1's functions and Task 2's ConvTokenizer run in the grading child on inputs drawn from a
seed the student never sees (`kws.grading.child.numeric`, the very checks the notebook's
self-checks print); Task 2's budget is read from what the graded KeywordTransformer ran on the
hidden 1-second test clips (the attention computations the child traced). These tests read the
child's payload and never import student code; limits come from the assignment's spec.
"""

import pytest

from kws.assignments.keyword_spotting.token_budget import budget_items
from kws.author import N_, Text, numeric_tests, shown, spec_of

MODEL_TASK = "kws"  # the task whose model the child builds and traces

# Task 1's functions and Task 2's token lengths: spec.toml's [numeric.<test name>] graded here.
globals().update(numeric_tests(spec_of(__file__), __file__))


def _budget(grading, child, topic: str) -> None:
    """Fail with the `topic` item ("tokens" or "memory") of the budget of what the model ran."""
    facts = grading.probe_facts(child, MODEL_TASK)
    sizes = facts.get("attention_sizes")
    failed = [item for item in budget_items(sizes or []) if item[0] in ("build", topic)]
    failed = [item for item in failed if not item[1]]
    if failed:
        what, fix = failed[0][2:]
        said = N_("Your KeywordTransformer, run on 1-second test clips: ✗ {what} — {fix}")
        pytest.fail(shown(Text(said, what=shown(what), fix=shown(fix))))


@pytest.mark.task(MODEL_TASK)
def test_tokens_budget(grading, child):
    """Task 2: one second of audio becomes at most max_tokens tokens (CLS included) in the attention that runs"""
    _budget(grading, child, "tokens")


@pytest.mark.task(MODEL_TASK)
def test_tokens_attention_memory(grading, child):
    """Task 2: the attention maps of a training batch (every layer and head, float32) fit the memory budget"""
    _budget(grading, child, "memory")
