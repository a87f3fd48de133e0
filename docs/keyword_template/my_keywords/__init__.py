"""A template keyword-spotting assignment (Speech Commands clips), one folder: `spec.toml` (task,
rules, points, budgets, numeric tests), `checks.py` (its numeric check, run by the notebook's
self-check and the grading child) and `graded_tests/` (its graded tests)."""
