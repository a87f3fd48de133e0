"""A template assignment, one folder: `spec.toml` (task, rules, points, tiers, numeric tests),
`checks.py` (its numeric check, run by the notebook's self-check and the grading child) and
`graded_tests/` (its graded tests)."""
