"""Notebook 03's numeric checks, registered once: Task 1's grid formula and patch embedding
(`patch_checks`), Task 2's positions (`model_checks`), Task 3's traced patch-out (`patchout_checks`),
Task 4's loss and prediction (`distill_checks`). The grading child runs them for
graded_tests/test_03_numeric.py; the notebook's self-checks run the same (`selfcheck`). A new check is
one entry here and its test in spec.toml."""

import secrets

from kws.assignments.patch_transformer import (
    distill_checks,
    model_checks,
    patch_checks,
    patchout_checks,
)
from kws.author import Component

# The checks of Task 1 draw their inputs from a seed: the notebook's self-checks use 0, the grader
# one the student cannot know, so a hard-coded answer to the self-check's inputs fails.
GRADER_SEED = 1 + secrets.randbelow(2**31 - 1)

# (checker, the notebook's object, its namespace) -> None, one per payload component.
NUMERIC = {
    "grid_size": Component(
        "patches", "grid_size", lambda c, fn, ns: patch_checks.grid_size(c, fn, GRADER_SEED)
    ),
    "patch_embedding": Component(
        "patches",
        "PatchEmbedding",
        lambda c, cls, ns: patch_checks.patch_embedding(c, cls, GRADER_SEED),
    ),
    "positions": Component(
        "positions", "FreqTimePositions", lambda c, cls, ns: model_checks.positions(c, cls, ns)
    ),
    "patchout": Component(
        "patchout",
        "StructuredPatchout",
        lambda c, cls, ns: patchout_checks.structured_patchout(c, cls, ns),
    ),
    "distillation_loss": Component(
        "distillation",
        "distillation_loss",
        lambda c, fn, ns: distill_checks.distillation_loss(c, fn),
    ),
    "prediction": Component(
        "distillation", "average_heads", lambda c, fn, ns: distill_checks.prediction(c, fn, ns)
    ),
}
