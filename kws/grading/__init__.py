"""The grading engine, as packages by job; each imports only the ones listed before it.

- `protocol`: what both sides of the sandbox read (a child run, its payload, the inputs file,
  where things are in a hand-in); `jaccard`: sets nearly the same, and the groups they form
  (the written answers' groups, the copy groups of similar code);
- `sandbox`: run a trusted entry point next to untrusted code; `child`: the grader's code that
  runs there, next to the student's; `testsets`: the hidden test sets, labels kept here;
- `judge`: the graded tests' verdicts, accuracy, tiers, budgets, flags and ``results.json``;
- `plugin` (``pytest -p kws.grading.plugin``) and `command` (``python -m kws.grading.command``):
  the grader's two entry points;
- `records`: the gradebook, standings, adjustments and roster of a grades folder;
- `season`: the course file, hand-in times and the late rule, applied to the records;
- `classrun`: a class graded in parallel, regraded, or in shards; `publish`: the class report,
  feedback pages, LMS exports and the Gradescope autograder; `marking`: ``kws mark``, the
  written answers marked by a person in a page of the browser.

One hand-in's path, from ``kws grade`` to a student's feedback page, and a picture of the packages:
docs/development/architecture.md. ``tests/test_layout.py`` enforces the order.
"""
