"""The child protocol: what both sides of the sandbox read, and nothing else.

- `child_run`: one child run described once (`ChildRun`: the notebook, the class of each model
  task, the device, a re-training's settings), written by the parent, read by the child;
- `payload`: the stages of the child's JSON payload and the check of its shape;
- `autograded`: nbgrader's test cells asked of the child (`AutogradedRun`) and its payload's check;
- `inputs`: the unlabelled test inputs file the parent writes and the child reads;
- `handin`: where things are in a hand-in (its notebook, outputs, predictions.csv) and what of
  it grading copies;
- `checkpoint`: where the state dict is inside a hand-in's ``model.pt`` (a training checkpoint,
  a wrapped model's prefix), read alike by the child that loads it and the budget that counts it.

Pure data and file look-ups: no student code, no hidden labels, no torch at import time. Every
other package of the grader may import it; it imports none of them.
"""
