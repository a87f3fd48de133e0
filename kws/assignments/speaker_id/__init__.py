"""The speaker-identification (notebook 02) assignment, one folder: `spec.toml` (tasks, limits, structural rules,
points, tiers), `checks.py` (the numeric checks the self-check and the grading child both run)."""
