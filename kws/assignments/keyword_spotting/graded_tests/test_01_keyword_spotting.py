"""Notebook 01, keyword spotting: the KeywordTransformer the student trained, graded on the
hidden 12-class test set, and the training recipe it used (Task 4). Every test reads the one
grading child's payload (`kws.grading.plugin`). test_recipe_schedule reads the child's judgement of the
notebook's own learning_rate_factor (its recipe cell, run in the child) over the steps of the run,
and whether the learning rates fit() recorded in history.json beside model.pt follow it
(`kws.grading.child.numeric`, with the recorded rates `kws.grading.child.cells` reads): an edited history.json cannot earn the points.

This notebook builds on the kit's own encoder layers (kws.models), so there is no
"from scratch" check here; notebook 02 has them."""

from kws.author import N_, Text, retraining_test, shown, spec_of

SPEC = spec_of(__file__)  # this folder's spec.toml
TASK = "kws"


def test_model_loads(grading, child):
    """Model: KeywordTransformer builds from config.json and loads model.pt"""
    report = grading.loaded_model(child, TASK)
    expected = SPEC.tasks[TASK].model_class
    said = N_("config.json names class {found}; the keyword-spotting model must be your {name}.")
    assert report["class"] == expected, shown(Text(said, found=report["class"], name=expected))


def test_output_shape(grading, child):
    """Model: one score per class (B, 12) for a batch of 1-second waveforms"""
    grading.loaded_model(child, TASK, evaluated=True)


def test_accuracy(grading, child, hidden, score):
    """Accuracy on the hidden 12-class test set (partial credit by tier)"""
    board = N_("Keyword spotting accuracy")  # the model's, on every clip
    fraction, message = grading.accuracy_credit(SPEC, child, hidden, TASK, score, board)
    assert fraction == 1.0, message


def test_recipe_schedule(grading, child):
    """Task 4: the learning rate the training used warms up, then decays (OUT_DIR/kws/history.json)"""
    grading.loaded_model(child, TASK)  # the notebook's model was graded at all
    grading.numeric(child, "learning_rate_factor", task=TASK)


test_retrains_on_gpu = retraining_test(SPEC)  # the notebook re-trained, graded (gpu)
