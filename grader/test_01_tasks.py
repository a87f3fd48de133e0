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

ASSIGNMENT = "keyword_spotting"  # grader/conftest.py selects tests by it (--assignment)
MODEL_TASK = "kws"  # the task whose model the child builds and traces


def _graded(grading, child, component: str, topics: tuple[str, ...]) -> None:
    """Fail with the first failed check of `component` among its build and `topics` items (the
    model task's report shows the notebook's model cells ran)."""
    grading.numeric(child, component, topics, task=MODEL_TASK)


def test_data_keywords(grading, kws_child):
    """Task 1: twelve_class_labels keeps every keyword clip with its word, and labels nothing else a keyword"""
    _graded(grading, kws_child, "twelve_class_labels", ("keywords",))


def test_data_unknown(grading, kws_child):
    """Task 1: _unknown_ is down-sampled to round(unknown_fraction x keyword clips), drawn at random from many words, seeded"""
    _graded(grading, kws_child, "twelve_class_labels", ("unknown",))


def test_data_silence(grading, kws_child):
    """Task 1: silence_windows cuts (count, length) random slices of random noise recordings, seeded"""
    _graded(grading, kws_child, "silence_windows", ("silence",))


def test_tokens_lengths(grading, kws_child):
    """Task 2: ConvTokenizer's token lengths are the tokens each clip gives alone (padding masked right)"""
    _graded(grading, kws_child, "conv_tokenizer", ("lengths",))


def _budget(grading, child, topic: str) -> None:
    """Fail with the `topic` item ("tokens" or "memory") of the budget of what the model ran."""
    facts = grading.probe_facts(child, MODEL_TASK)
    sizes = facts.get("attention_sizes")
    failed = [item for item in budget_items(sizes or []) if item[0] in ("build", topic)]
    failed = [item for item in failed if not item[1]]
    if failed:
        _, _, what, fix = failed[0]
        pytest.fail(f"Your KeywordTransformer, run on 1-second test clips: ✗ {what} — {fix}")


def test_tokens_budget(grading, kws_child):
    """Task 2: one second of audio becomes at most max_tokens tokens (CLS included) in the attention that runs"""
    _budget(grading, kws_child, "tokens")


def test_tokens_attention_memory(grading, kws_child):
    """Task 2: the attention maps of a training batch (every layer and head, float32) fit the memory budget"""
    _budget(grading, kws_child, "memory")
