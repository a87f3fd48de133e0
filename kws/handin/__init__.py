"""Ready to hand in? A student checks a hand-in the way the grader reads it, and gets the zip.

- `check`: ``kws handin``'s work: the hand-in gathered as grading reads it, the grader's own
  tests run on it (``--handin``: the student's data, no hidden labels), the zip written;
- `notebook`: what is read of the notebook itself (its settings, cells never run, TODOs);
- `lines`: the lines printed, ✓ or ✗ with the fix and the points at stake;
- `bundle`: the files grading uses, gathered and zipped;
- `cell`: the notebooks' last cell, ``ready_to_hand_in`` (on Colab it offers the zip);
- `cli`: the ``kws handin`` verb.

Above the grading engine (`kws.grading`), which it runs as the grader runs.
"""
