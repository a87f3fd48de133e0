"""Measuring a model by running it: the tracer (`trace`), the structural facts read from a trace
(`probes`) and the check that nothing the measurement relies on was replaced (`guard`).

Shared by the student's self-check (`kws.check`) and the grading child (`kws.grading.child`),
so one rule is judged by one measure on both sides. Nothing here imports `kws.check` or
`kws.grading`; the grader's parent process never imports it (tests/test_layout.py).
"""
