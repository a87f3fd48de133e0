"""Notebook 02, numeric correctness: each class a task asks for against torch.nn, torchaudio or
the formula, with copied weights, seeded, in float64 (`kws.grading.child.numeric`, run in the
grading child; these tests read its facts from the payload and never import student code).

Each comparison costs only its own points: inside a layer the student's attention is replaced by
torch's, so a bug in Task 1's attention costs the attention tests, named, and not every layer.
"""

import pytest

from kws.grading.shared.payload import NUMERIC_COMPONENTS

ASSIGNMENT = "speaker_id"  # grader/conftest.py selects tests by it (--assignment)


def _graded(grading, child, component: str, topics: tuple[str, ...] = ()) -> None:
    """Fail with the first failed check of `component` (of its `topics` and its build, if given)."""
    grading.task_report(
        child, NUMERIC_COMPONENTS[component].task
    )  # fails if the notebook did not run
    if child.payload["tampering"]:
        pytest.fail(
            f"Your notebook changes torch or the grader's code ({child.payload['tampering'][0]}), "
            "so its classes cannot be checked. Remove the code that replaces or patches torch."
        )
    facts = child.payload["numeric"].get(component)
    if facts is None:
        pytest.fail(f"The numeric check of {component} did not run; tell the course staff.")
    name = NUMERIC_COMPONENTS[component].name
    items = facts["items"]
    relevant = [i for i in items if not topics or i[0] in ("build", *topics)]
    failed = [i for i in relevant if not i[1]]
    if not failed and not any(i[0] in topics for i in items) and topics:
        failed = [i for i in items if not i[1]][:1]  # stopped before reaching these checks
    if failed and facts["todo"] and failed[0][3].startswith("not written yet"):
        pytest.fail(f"Your {name} still has a TODO: {facts['todo']}")
    if failed:
        _, _, what, fix = failed[0]
        pytest.fail(f"{name}: ✗ {what} — {fix}")


def test_task1_attention(grading, speaker_child):
    """Task 1: MultiHeadSelfAttention matches torch.nn.MultiheadAttention (head split, scaling, softmax)"""
    _graded(grading, speaker_child, "attention", ("outputs",))


def test_task1_attention_mask(grading, speaker_child):
    """Task 1: MultiHeadSelfAttention gives padded keys no attention (key_padding_mask)"""
    _graded(grading, speaker_child, "attention", ("padding",))


def test_task1_encoder_layer_post_norm(grading, speaker_child):
    """Task 1: EncoderLayer matches torch.nn.TransformerEncoderLayer (post-norm, norm_first=False)"""
    _graded(grading, speaker_child, "encoder_layer_post_norm")


def test_task1_encoder_layer_pre_norm(grading, speaker_child):
    """Task 1: EncoderLayer matches torch.nn.TransformerEncoderLayer (pre-norm, norm_first=True)"""
    _graded(grading, speaker_child, "encoder_layer_pre_norm")


def test_task1_encoder(grading, speaker_child):
    """Task 1: Encoder runs its layers in order with the mask, like torch.nn.TransformerEncoder"""
    _graded(grading, speaker_child, "encoder")


def test_task2_conformer_block(grading, speaker_child):
    """Task 2: ConformerBlock matches torchaudio's ConformerLayer, padding masked"""
    _graded(grading, speaker_child, "conformer_block")


def test_task3_attention_pooling(grading, speaker_child):
    """Task 3: SelfAttentionPooling is a softmax over the valid frames of a Linear score"""
    _graded(grading, speaker_child, "attention_pooling")


def test_task3_am_softmax_head(grading, speaker_child):
    """Task 3: AMSoftmaxHead returns cosines of unit embeddings and unit class weights"""
    _graded(grading, speaker_child, "am_softmax_head")


def test_task3_am_softmax_loss(grading, speaker_child):
    """Task 3: am_softmax_loss subtracts the margin at the true class, then scales"""
    _graded(grading, speaker_child, "am_softmax_loss")
