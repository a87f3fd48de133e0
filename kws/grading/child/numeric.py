"""The notebooks' numeric checks, as facts for the hidden grader (run in the grading child).

Every class or function a task asks for is compared with torch.nn, torchaudio or a formula
written out in the check, seeded, in float64. Which comparisons an assignment has is its
folder's ``checks.py`` table ``NUMERIC`` (`kws.check.registry.Component`); the same comparisons
print ✓/✗ in the student's notebook through `kws.check`. Here they run silently and
`check_classes` returns what each found, with the task and the name it checks:

    {"attention": {"task": "task1", "name": "MultiHeadSelfAttention",
                   "items": [[topic, passed, what, fix], ...], "todo": None}, ...}

The grader's tests grade these facts (per component, per topic) and never import student code.
A component whose class is missing, or whose code raises, fails with the reason.
"""

from __future__ import annotations

from kws.check.registry import Component, run_component

MAX_TEXT = 500  # characters of one item's text in the payload


def check_classes(ns: dict, tasks: list[str], components: dict[str, Component]) -> dict:
    """JSON-able facts of every one of `components` (an assignment's ``NUMERIC`` table) whose
    task is among `tasks`, on the notebook's namespace `ns`."""
    facts = {}
    for key, component in components.items():
        if component.task in tasks:
            checker = run_component(component, ns)
            facts[key] = {
                "task": component.task,
                "name": component.name,
                "items": [
                    [item.topic, item.passed, item.what[:MAX_TEXT], item.fix[:MAX_TEXT]]
                    for item in checker.items
                ],
                "todo": checker.todo[:MAX_TEXT] if checker.todo else None,
            }
    return facts
