"""Notebook 01, Task 3: the KeywordTransformer's forward, checked numerically in the grading
child (`kws.check.keyword_model_checks`): seeded, float64, with small distinct sizes and the
notebook's ConvTokenizer replaced by a reference one, so that only forward is judged. These
tests read its facts from the payload and never import student code."""

ASSIGNMENT = "keyword_spotting"  # grader/conftest.py selects tests by it (--assignment)


def test_task3_pipeline(grading, kws_child):
    """Task 3: KeywordTransformer's logits match its pipeline recomputed with torch.nn's encoder (CLS first, positions, final norm)"""
    grading.numeric(kws_child, "keyword_transformer", ("outputs",))


def test_task3_padding(grading, kws_child):
    """Task 3: samples after a clip's length do not change its logits (lengths, padding mask)"""
    grading.numeric(kws_child, "keyword_transformer", ("padding",))


def test_task3_eval_mode(grading, kws_child):
    """Task 3: KeywordTransformer is deterministic in eval mode (no augmentation or dropout)"""
    grading.numeric(kws_child, "keyword_transformer", ("eval",))
