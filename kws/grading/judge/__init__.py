"""The judge: how the graded tests turn the grading child's payload into points: the
``grading`` fixture (`fixture.Grading`), the verdicts, accuracy, tiers and budgets, the flags for
a person, the run's plan, and Gradescope's ``results.json``.

Runs in the grader's own process (the pytest plugin, `kws.grading.plugin`): it never imports
student code or the child's modules; it starts the child through `kws.grading.sandbox`.
"""
