"""Notebook 01's numeric checks, registered once: Task 1's functions and Task 2's token lengths
(`kws.assignments.keyword_spotting.keyword_checks`), Task 3's forward (`kws.assignments.keyword_spotting.keyword_model_checks`) and Task 4's
schedule over the steps the run's history.json recorded (`kws.assignments.keyword_spotting.recipe_checks`). The grading child runs them for
graded_tests/test_01_*.py; `check.keyword_model` runs the model task's from the notebook. A new check
is one entry here and its test's points in spec.toml."""

import secrets

from kws.assignments.keyword_spotting import keyword_checks, keyword_model_checks, recipe_checks
from kws.author import N_, Component, history_key

# The checks draw their inputs from a seed; the notebook's self-checks use 0, the grader one the
# student cannot know, so a hard-coded answer to the self-check's inputs fails.
GRADER_SEED = 1 + secrets.randbelow(2**31 - 1)

# (checker, the notebook's object, its namespace) -> None, one per payload component.
NUMERIC = {
    "twelve_class_labels": Component(
        "data",
        "twelve_class_labels",
        lambda c, fn, ns: keyword_checks.twelve_class_labels(c, fn, GRADER_SEED),
    ),
    "silence_windows": Component(
        "data",
        "silence_windows",
        lambda c, fn, ns: keyword_checks.silence_windows(c, fn, GRADER_SEED),
    ),
    "conv_tokenizer": Component(
        "tokens",
        "ConvTokenizer",
        lambda c, cls, ns: keyword_checks.conv_tokenizer(c, cls, GRADER_SEED),
    ),
    "keyword_transformer": Component(
        "kws",
        "KeywordTransformer",
        lambda c, cls, ns: keyword_model_checks.keyword_transformer(c, cls),
    ),
    # Task 4: the recipe cell's schedule (the recipe cell runs in the grading child: spec.toml,
    # [tasks.kws] cells) over the learning rates the task's history.json recorded
    "learning_rate_factor": Component(
        "kws",
        "learning_rate_factor",
        lambda c, fn, ns: recipe_checks.recorded_schedule(
            c, fn, ns.get(history_key("kws", "lr"), N_("the grader did not read history.json"))
        ),
        history="lr",
    ),
}
