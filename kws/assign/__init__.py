"""``kws assign``: an assignment of one's own, from its solution notebook and its spec, to what
the kit needs to release, check and grade it (like otter-grader's ``otter assign``).

- `checks`: what is wrong with an assignment, found before anything is written: a rule the kit
  does not know, a marker that does not close, a task no cell defines, a test without points;
  each named with its file, line and fix;
- `generate`: the files made from the spec: the graded tests it declares
  (``graded_tests/test_spec.py``, `kws.grading.judge.declared`), the packages' ``__init__.py``
  and the student notebook (`kws.release.notebooks`, with the kit's set-up, self-check and
  hand-in cells);
- `cli`: the ``kws assign`` verb.
"""
