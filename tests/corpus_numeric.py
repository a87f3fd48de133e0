"""The numeric tests of notebook 02 (graded_tests/test_02_numeric.py) in the grader corpus.

Three cases with one numeric bug each — a wrong attention scaling, a post-norm layer where
pre-norm is asked, a wrong AM-softmax margin — each must lose its own test only. The cases of
tests/grader_corpus.py that damage a class or tamper with torch lose the numeric tests they reach.

    TESTS = {...} | NUMERIC_TESTS; for case in with_numeric(cases()): ...   # grader_corpus.py
"""

import dataclasses

# Short name -> results.json name (the test's docstring) of graded_tests/test_02_numeric.py's tests.
NUMERIC_TESTS = {
    "num_attention": "Task 1: MultiHeadSelfAttention matches torch.nn.MultiheadAttention (head "
    "split, scaling, softmax)",
    "num_attention_mask": "Task 1: MultiHeadSelfAttention gives padded keys no attention "
    "(key_padding_mask)",
    "num_post_norm": "Task 1: EncoderLayer matches torch.nn.TransformerEncoderLayer (post-norm, "
    "norm_first=False)",
    "num_pre_norm": "Task 1: EncoderLayer matches torch.nn.TransformerEncoderLayer (pre-norm, "
    "norm_first=True)",
    "num_encoder": "Task 1: Encoder runs its layers in order with the mask, like "
    "torch.nn.TransformerEncoder",
    "num_padded_frames": "Task 1: SpeakerTransformer ignores padded frames: an utterance gets "
    "the logits it gets alone",
    "num_conformer": "Task 2: ConformerBlock matches torchaudio's ConformerLayer, padding masked",
    "num_pooling": "Task 3: SelfAttentionPooling is a softmax over the valid frames of a Linear "
    "score",
    "num_head": "Task 3: AMSoftmaxHead returns cosines of unit embeddings and unit class weights",
    "num_loss": "Task 3: am_softmax_loss subtracts the margin at the true class, then scales",
}
NUMERIC_POINTS = dict.fromkeys(NUMERIC_TESTS, 1) | dict.fromkeys(
    ["num_attention", "num_conformer", "num_loss"], 2
)
TAMPERING_CASES = [
    "disguised_torch_module",
    "patched_module_call",
    "patched_grader_probe",
    "atexit_rewrites_result_with_gc_token",
    "patched_json_dump_and_open",
]
# What the existing cases that damage a class cost in numeric tests, with a phrase of the reason.
MORE_LOST = {
    "deleted_model_cell": {"num_conformer": "keep the skeleton's ConformerBlock"},
    "four_layers_run": {"num_encoder": "with num_layers=2, EncoderLayer runs 3 times"},
    # Weights smuggled in as a buffer are not the skeleton's: they cannot be copied to torch's.
    "encoder_weights_as_buffers": {"num_encoder": "keep the skeleton's layers"},
    # The padded-frames check runs the whole model's forward, built small: a .cuda() call in it
    # fails there too, and so does a model whose traced path keeps the sizes it was trained with.
    "handin_cuda_in_forward": {"num_padded_frames": "Found no NVIDIA driver"},
    **{
        f"trace_aware_via_{how}": {"num_padded_frames": "raised RuntimeError"}
        for how in ("profiler", "caller", "function_mode")
    },
}


def with_numeric(cases: list) -> list:
    """`cases` with their numeric losses, then the three cases of one numeric bug each."""
    from grader_corpus import Case, edit_cell
    from grader_corpus import replace as replace_once

    updated = []
    for case in cases:
        lost = dict(case.lost) | MORE_LOST.get(case.name, {})
        if case.name in TAMPERING_CASES:
            phrase = next(iter(case.lost.values()))  # the tampering the probe tests report
            lost |= dict.fromkeys(NUMERIC_TESTS, phrase)
        updated.append(dataclasses.replace(case, lost=lost))
    return updated + [
        Case(
            "attention_scaled_by_sqrt_d_model",
            edit_cell(
                "SpeakerTransformer",
                replace_once("/ math.sqrt(self.head_dim)", "/ math.sqrt(D)"),
            ),
            {"num_attention": "the scores are divided by sqrt(D); divide by sqrt(head_dim)"},
        ),
        Case(
            "post_norm_where_pre_norm_is_asked",
            edit_cell("SpeakerTransformer", replace_once("if self.norm_first:", "if False:")),
            {"num_pre_norm": "with norm_first=True it normalizes after the residual"},
        ),
        Case(
            "am_softmax_margin_on_every_class",
            edit_cell(
                "SpeakerAttentionAMS",
                replace_once(
                    "F.one_hot(labels, cosines.shape[1]).to(cosines.dtype) * margin", "margin"
                ),
            ),
            {"num_loss": "the margin is missing, or subtracted from every class"},
        ),
    ]
