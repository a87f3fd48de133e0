"""Notebook 02, speaker identification (HW4): Task 1 Transformer, Task 2 Conformer, Task 3
self-attention pooling + AM-softmax, graded on the hidden test labels. Every test reads the one
grading child's payload (`kws.grading.plugin`)."""

import pytest

from kws.assignments.speaker_id.rules import layers_that_run
from kws.author import N_, Text, retraining_test, shown, spec_of

SPEC = spec_of(__file__)  # this folder's spec.toml: classes, limits, points, tiers
TASKS = SPEC.model_tasks  # task -> class name
TASK1_LIMITS = SPEC.tasks["task1"].limits  # max_layer_calls, max_encoder_params


def titled(title: str, **values):
    """Give a test its title (the name students see) where it states a limit from the spec:
    the grader writes `title` in the course's language (the catalogs hold it: babel.cfg), with
    `values` in its placeholders."""

    def give(test):
        test.__doc__ = title.format(**values)
        test.kws_title = (title, values)
        return test

    return give


@pytest.mark.parametrize("task", TASKS)
def test_model_loads(grading, child, task):
    """Model builds from config.json and loads model.pt"""
    report = grading.loaded_model(child, task, evaluated=True)
    said = N_("{task}/config.json names class {found}; this task's model must be your {name}.")
    assert report["class"] == TASKS[task], shown(
        Text(said, task=task, found=report["class"], name=TASKS[task])
    )


@pytest.mark.task("task1")
@titled(
    "Task 1: fewer than {n} encoder layers run in forward",
    n=TASK1_LIMITS["max_layer_calls"] + 1,
)
def test_task1_layers_that_run(grading, child, score):
    facts = grading.probe_facts(child, "task1")
    calls = facts["layer_calls"]  # attention computations that ran one after another
    limit = TASK1_LIMITS["max_layer_calls"]
    passed, _ = layers_that_run(calls, limit)  # the judge check.task1 uses in the notebook
    ran = Text.counted(
        "{n} encoder layer ran in one forward of your model (counted by the self-attention "
        "computations that run one after another, whatever the class names); the task allows 1 "
        "to {limit} (layers defined but not called do not count).",
        "{n} encoder layers ran in one forward of your model (counted by the self-attention "
        "computations that run one after another, whatever the class names); the task allows 1 "
        "to {limit} (layers defined but not called do not count).",
        calls,
        limit=limit,
    )
    assert passed, shown(ran)
    run = Text.counted(
        "{n} encoder layer runs in one forward of your model.",
        "{n} encoder layers run in one forward of your model.",
        calls,
    )
    score.set(1.0, shown(run))


@pytest.mark.task("task1")
@titled(
    "Task 1: the encoder block has fewer than {n}k parameters",
    n=TASK1_LIMITS["max_encoder_params"] // 1000,
)
def test_task1_encoder_parameters(grading, child, score):
    facts = grading.probe_facts(child, "task1", forward=False)  # counted, not run
    assert facts["encoder_params"] is not None, shown(
        N_("Your SpeakerTransformer has no `.encoder` module; keep the skeleton's self.encoder.")
    )
    count, text = facts["encoder_params"], facts["encoder_params_text"]  # the model in the child
    # Measured here, from the checkpoint, where the notebook's code cannot reach; None without
    # a checkpoint to measure (that costs the task1 tests that load it).
    budget = grading.encoder_budget(SPEC, "task1", facts["attention_modules"], required=False)
    if budget is not None and budget.count >= count:  # the live model may hold unsaved weights
        count, text = budget.count, budget.text
    budget_limit = TASK1_LIMITS["max_encoder_params"]
    over = N_(
        "The parameter size of your encoder block is {text}, over the {budget}k budget; use a "
        "smaller d_model or feed-forward size. (Every tensor of the encoder counts, parameters "
        "and buffers of every dtype alike.)"
    )
    assert count < budget_limit, shown(Text(over, text=text, budget=budget_limit // 1000))
    size = N_("The parameter size of your encoder block is {text}.")
    score.set(1.0, shown(Text(size, text=text)))


@pytest.mark.parametrize("task", ["task1", "task2"])
def test_layers_written_from_scratch(grading, child, task):
    """Your own layers: defined in the notebook, no library Transformer/Conformer in forward"""
    facts = grading.probe_facts(child, task)
    runs = N_("Your {task} model's forward runs {layer}; the task asks you to write this layer "
              "yourself.")  # fmt: skip
    assert not facts["forbidden"], shown(Text(runs, task=task, layer=facts["forbidden"][0]))
    assert facts["layer_class_problem"] is None, f"{facts['layer_class_problem']}."


@pytest.mark.task("task3")
def test_task3_written_from_scratch(grading, child):
    """Task 3: your own attention pooling, no library Transformer or attention layer in forward"""
    facts = grading.probe_facts(child, "task3")
    runs = N_("Your {task} model's forward runs {layer}; write it yourself.")
    assert not facts["forbidden"], shown(Text(runs, task="task3", layer=facts["forbidden"][0]))
    problems = [problem for problem in facts.get("class_problems", {}).values() if problem]
    assert not problems, f"{problems[0]}."


@pytest.mark.task("task2")
def test_task2_norm_before_classifier(grading, child):
    """Task 2: a normalization feeds the classifier's final Linear"""
    facts = grading.probe_facts(child, "task2")
    passed, explanation = facts["norm_before_classifier"]
    assert passed, explanation


@pytest.mark.parametrize("task", TASKS)
def test_accuracy(grading, child, hidden, task, score):
    """Accuracy on the hidden test labels (partial credit by tier)"""
    # predictions.csv on every test utterance, checked against the model on a secret sample
    # (spec.toml [accuracy]; kws.grading.judge.accuracy)
    board = Text(N_("Speaker ID {task} accuracy"), task=task)
    fraction, message = grading.accuracy_credit(SPEC, child, hidden, task, score, board)
    assert fraction == 1.0, message


@pytest.mark.parametrize("task", TASKS)
def test_predictions_csv(grading, hidden, task):
    """predictions.csv: Id,Category with one known speaker per test utterance"""
    file, rows = grading.read_predictions(SPEC, task)  # file: outputs/task1/predictions.csv
    expected = set(hidden.test_labels)  # every test utterance, also those the child did not see
    missing, extra = expected - set(rows), set(rows) - expected
    wrong = N_("{file} has {missing} test Ids missing and {extra} unknown Ids; write one row per "
               "utterance of testdata.json.")  # fmt: skip
    assert not missing and not extra, shown(
        Text(wrong, file=file, missing=len(missing), extra=len(extra))
    )
    unknown = sorted(set(rows.values()) - set(hidden.classes))
    said = N_("{file} predicts unknown speakers, e.g. {speaker}.")
    assert not unknown, shown(Text(said, file=file, speaker=repr(unknown[0])))


test_retrains_on_gpu = retraining_test(SPEC)  # the notebook re-trained, graded (gpu)
