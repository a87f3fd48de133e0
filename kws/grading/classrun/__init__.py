"""A class graded: a folder of hand-ins, each in its own grader process, into a gradebook.

- `plan`: the run decided once (`plan_run`), the hand-in folders and the season's inputs
  checked against them before grading; `batch`: `grade_class`, the hand-ins in parallel
  (`kws grade`); `one`: a hand-in graded (`stage_one`), its results put in place only once
  whole, and never when its folder moved while it was graded (`CollectionFault`, never a 0);
- `graders`: the graders' processes (dying with the run) and how a run stops: `RunStopped`
  (Ctrl-C, SIGTERM), `GraderFault` (the grading machine failed: never a grade);
- `regrade`: one student's hand-in graded again (`kws grade --student`);
- `shards`: a class split over a batch scheduler (`kws grade --shard`); `merge`: merged back
  (`kws merge`); `slurm/` the array script;
- `cli`: the verbs `kws grade` and `kws merge`.
"""
