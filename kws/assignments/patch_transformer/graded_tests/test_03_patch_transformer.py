"""Notebook 03, Task 5: the PatchKWT the student trained, graded on the hidden 12-class test set;
its size, counted here from the submitted model.pt (the grader's process reads the checkpoint,
never the notebook's code); and no ready-made Transformer, from what the grading child traced
on the graded forward passes (`kws.tracing.probes`). Every test reads the one grading child's payload
(`kws.grading.plugin`)."""

from kws.assignments.patch_transformer.rules import no_ready_made, ready_made, size_within
from kws.author import N_, Text, retraining_test, shown, spec_of

SPEC = spec_of(__file__)  # this folder's spec.toml
TASK = "patch"  # the task every test here grades (the results name it)
LIMIT = SPEC.tasks[TASK].limits["max_parameters"]


def test_model_loads(grading, child):
    """Model: PatchKWT builds from config.json and loads model.pt"""
    report = grading.loaded_model(child, TASK)
    expected = SPEC.tasks[TASK].model_class
    said = N_("config.json names class {found}; the patch model must be your {name}.")
    assert report["class"] == expected, shown(Text(said, found=report["class"], name=expected))


def test_output_shape(grading, child):
    """PatchKWT: one score per class (B, 12) for a batch of 1-second waveforms"""
    grading.loaded_model(child, TASK, evaluated=True)


def test_accuracy(grading, child, hidden, score):
    """PatchKWT: accuracy on the hidden 12-class test set (partial credit by tier)"""
    board = N_("Patch Transformer accuracy")  # the model's, on every clip
    fraction, message = grading.accuracy_credit(SPEC, child, hidden, TASK, score, board)
    assert fraction == 1.0, message


def test_parameters(grading, child, score):
    """Task 5: the model holds at most KWT-1's 607k weights (counted in model.pt)"""
    grading.loaded_model(child, TASK)  # the checkpoint is the model the notebook builds
    weights = grading.model_weights(SPEC, TASK)  # from model.pt, where the notebook cannot reach
    passed, what, fix = size_within(weights.count, LIMIT, weights.text)
    assert passed, f"{shown(what)}: ✗ — {shown(fix)}."
    score.set(1.0, f"{shown(what)}.")


def test_no_ready_made_transformer(grading, child):
    """Task 5: no ready-made Transformer in forward (torch.nn's layers, timm's, the kit's models but its encoder)"""
    facts = grading.probe_facts(child, TASK)
    passed, what, fix = no_ready_made(facts["forbidden"])
    said = N_("Your model's forward runs {name}; {fix}.")  # the first ready-made layer, named
    assert passed, shown(Text(said, name=ready_made(facts["forbidden"])[0], fix=shown(fix)))


test_retrains_on_gpu = retraining_test(SPEC)  # the notebook re-trained, graded (gpu)
