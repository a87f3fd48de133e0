"""The patch-Transformer (notebook 03) assignment, one folder: `spec.toml` (tasks, limits, points,
tiers, budgets), `checks.py` (the numeric checks the self-check and the grading child both run),
their judges, `selfcheck.py` (what the notebook calls) and `graded_tests/` (the graded tests)."""
