"""The hidden grader, laid out along its process boundaries.

- `kws.grading.sandbox`: isolation and limits — starts a child process and brings back a checked
  JSON payload (`run`), locks the child down (`launch`, `bwrap`), owns its processes (`processes`).
- `kws.grading.child`: the code that runs next to student code, inside the sandbox — the runner,
  the re-training entry point, the result channel, the tracer, the probes, the numeric checks.
- `kws.grading.shared`: data formats both sides read — the typed description of a child run, the
  unlabelled inputs file, where things are in a hand-in. Pure data and file look-ups.
- the parent (this package's top-level modules: grade, hidden, results, tiers, budget, review,
  batch, gradescope, and the class report's report, report_figures, report_html, similarity,
  normalise, fingerprints): runs in the grader's own process and never imports student code, nor
  `kws.grading.child` (tests/test_layout.py enforces it).
"""
