"""Gradescope: the autograder zip (`kws gradescope`) and what runs inside it.

`autograder` builds the zip and the container settings that grade it in time; `season` applies
the course file's attempt limit, late rule and Kaggle rule to ``results.json`` on Gradescope
(`held_out`: each notebook's held-out part withheld until that notebook's due date);
``scripts/`` holds ``setup.sh`` and ``run_autograder``; `cli` the verb `kws gradescope`.
"""
