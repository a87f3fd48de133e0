"""Gradescope: the autograder zip (`kws gradescope`) and what runs inside it (``scripts/``:
``setup.sh`` and ``run_autograder``).
"""
