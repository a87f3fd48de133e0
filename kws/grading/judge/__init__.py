"""The judge: how the graded tests turn the grading child's payload into points.

- `fixture`: the ``grading`` fixture (`Grading`) every graded test reads: the run's settings,
  the child it starts, the accuracy; with its steps to the child's payload (`facts`) and to the
  hand-in's files (`handin_files`: predictions.csv, model.pt) and to the Kaggle rule's parts
  (`kaggle_part`: the accuracy that grades, the one the leaderboard shows);
- `verdicts`: the re-training test and the numeric tests an assignment's spec declares;
- `notebook`: run the grading child on one notebook (`run_notebook`), say what went wrong, and
  which notebooks a hand-in can be graded in;
- `accuracy` (the model's or the predictions.csv's accuracy), `tiers` (tier sets and partial
  credit), `budget` (parameter budgets measured from the checkpoint);
- the flags for a person to read: `review` (model cells that reach for the grader),
  `carried` (checkpoints that carry data), `public_gap` (public clips far above private ones);
- `results`: a pytest run's points and visibility, into Gradescope's ``results.json``, and the
  score table; `document`: that file's fields, written whole;
- `loading`: a graded test file that cannot be loaded is the course's fault: no results, a
  refusal naming the file, its line and the fix;
- `planned`: a run's decisions, made once, and the graders' part of its plan (`--plan`), with
  `written`: the written questions of the course's notebooks and their points it holds;
- `device`: where the child runs (a `kws.device.DeviceName`) and whether the grading machine
  has a GPU, without importing torch here.

Runs in the grader's own process (the pytest plugin, `kws.grading.plugin`): it never imports
student code or the child's modules; it starts the child through `kws.grading.sandbox`.
"""
