"""The grading child: the grader's code that runs in the sandbox, next to student code.

- `runner`: the entry point (``python -m kws.grading.child.runner``): grade each task, send the
  payload; `retrain` (``python -m kws.grading.child.retrain``): run the whole notebook first;
- `channel`: the result channel, opened before any student code runs;
- `kernel`: the child made to look like a Jupyter kernel to the notebook's cells;
- `cells`: the notebook's model cells run, and the cells and recorded values a check needs;
- `checkpoint`: each task's model from its ``config.json`` and ``model.pt``;
- `predictions`: every unlabelled input through that model, checked, in bounded batches;
- `buffers`: tensors of the checkpoint that training cannot have written;
- `numeric`: the notebook's numeric checks, as facts;
- `autograded` (``python -m kws.grading.child.autograded``): the notebook run top to bottom with
  nbgrader's test cells as the instructor wrote them, each test cell's error sent back.

Started by `kws.grading.sandbox`; the parent reads only its checked JSON payload and never
imports these modules.
"""
