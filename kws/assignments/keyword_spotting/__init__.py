"""The keyword-spotting (notebook 01) assignment, one folder: `spec.toml` (tasks, limits, structural rules,
points, tiers), `checks.py` (the numeric checks the self-check and the grading child both run)."""
