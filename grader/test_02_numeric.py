"""Notebook 02, numeric correctness: each class a task asks for against torch.nn, torchaudio or
the formula, with copied weights, seeded, in float64 (`kws.grading.child.numeric`, run in the
grading child; these tests read its facts from the payload and never import student code).

Each comparison costs only its own points: inside a layer the student's attention is replaced by
torch's, so a bug in Task 1's attention costs the attention tests, named, and not every layer.
"""

ASSIGNMENT = "speaker_id"  # grader/conftest.py selects tests by it (--assignment)


def test_task1_attention(grading, speaker_child):
    """Task 1: MultiHeadSelfAttention matches torch.nn.MultiheadAttention (head split, scaling, softmax)"""
    grading.numeric(speaker_child, "attention", ("outputs",))


def test_task1_attention_mask(grading, speaker_child):
    """Task 1: MultiHeadSelfAttention gives padded keys no attention (key_padding_mask)"""
    grading.numeric(speaker_child, "attention", ("padding",))


def test_task1_encoder_layer_post_norm(grading, speaker_child):
    """Task 1: EncoderLayer matches torch.nn.TransformerEncoderLayer (post-norm, norm_first=False)"""
    grading.numeric(speaker_child, "encoder_layer_post_norm")


def test_task1_encoder_layer_pre_norm(grading, speaker_child):
    """Task 1: EncoderLayer matches torch.nn.TransformerEncoderLayer (pre-norm, norm_first=True)"""
    grading.numeric(speaker_child, "encoder_layer_pre_norm")


def test_task1_encoder(grading, speaker_child):
    """Task 1: Encoder runs its layers in order with the mask, like torch.nn.TransformerEncoder"""
    grading.numeric(speaker_child, "encoder")


def test_task2_conformer_block(grading, speaker_child):
    """Task 2: ConformerBlock matches torchaudio's ConformerLayer, padding masked"""
    grading.numeric(speaker_child, "conformer_block")


def test_task3_attention_pooling(grading, speaker_child):
    """Task 3: SelfAttentionPooling is a softmax over the valid frames of a Linear score"""
    grading.numeric(speaker_child, "attention_pooling")


def test_task3_am_softmax_head(grading, speaker_child):
    """Task 3: AMSoftmaxHead returns cosines of unit embeddings and unit class weights"""
    grading.numeric(speaker_child, "am_softmax_head")


def test_task3_am_softmax_loss(grading, speaker_child):
    """Task 3: am_softmax_loss subtracts the margin at the true class, then scales"""
    grading.numeric(speaker_child, "am_softmax_loss")
