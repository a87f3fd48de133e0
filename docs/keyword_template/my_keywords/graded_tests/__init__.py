"""The template's graded tests, run by the hidden grader (``kws grade``, Gradescope)."""
