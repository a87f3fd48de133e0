"""Notebook 02's numeric checks: each class or function a task asks for, against torch.nn,
torchaudio or the formula (this folder's `layer_checks` and `formula_checks`), registered
once. The grading child runs them for graded_tests/test_02_numeric.py; `check.task3` runs Task 3's
from the notebook. A new check is one entry here and its test's points in spec.toml."""

from kws.assignments.speaker_id import formula_checks, layer_checks, padding_checks
from kws.author import Component

# (checker, the notebook's object, its namespace) -> None, one per payload component.
NUMERIC = {
    "attention": Component(
        "task1", "MultiHeadSelfAttention", lambda c, cls, ns: layer_checks.attention(c, cls)
    ),
    "encoder_layer_post_norm": Component(
        "task1", "EncoderLayer", lambda c, cls, ns: layer_checks.encoder_layer(c, cls, False)
    ),
    "encoder_layer_pre_norm": Component(
        "task1", "EncoderLayer", lambda c, cls, ns: layer_checks.encoder_layer(c, cls, True)
    ),
    "encoder": Component(
        "task1",
        "Encoder",
        lambda c, cls, ns: layer_checks.encoder(c, cls, ns.get("EncoderLayer")),
    ),
    "padded_frames": Component(
        "task1",
        "SpeakerTransformer",
        lambda c, cls, ns: padding_checks.padded_frames(c, cls),
    ),
    "conformer_block": Component(
        "task2", "ConformerBlock", lambda c, cls, ns: layer_checks.conformer_block(c, cls)
    ),
    "attention_pooling": Component(
        "task3",
        "SelfAttentionPooling",
        lambda c, cls, ns: formula_checks.attention_pooling(c, cls),
    ),
    "am_softmax_head": Component(
        "task3", "AMSoftmaxHead", lambda c, cls, ns: formula_checks.am_softmax_head(c, cls)
    ),
    "am_softmax_loss": Component(
        "task3", "am_softmax_loss", lambda c, fn, ns: formula_checks.am_softmax_loss(c, fn)
    ),
}
