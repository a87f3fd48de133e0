"""One numeric check of an assignment, registered once: the task it belongs to, the name the
notebook's skeleton fixes, and the judge that compares it. An assignment's ``checks.py`` holds
the table ``NUMERIC = {component: Component(...)}``; the grading child runs every component of
the tasks it grades (`kws.grading.child.numeric`) and the self-check runs those of a task
(`kws.check`), both through `run_component`, so both print and grade the same items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kws.check.selfcheck import Checker, CheckStopped


@dataclass(frozen=True)
class Component:
    """One graded comparison: the task, the notebook's name it checks, and the check itself."""

    task: str
    name: str  # the class (or function) the skeleton fixes
    check: Callable[[Checker, object, dict], None]  # (checker, the notebook's object, namespace)


def run_component(component: Component, ns: dict, *, echo: bool = False) -> Checker:
    """Run one comparison on the notebook's namespace `ns`; the checker holds what it found."""
    checker = Checker(component.name, echo=echo)
    with checker.run():
        found = ns.get(component.name)
        if found is None:
            checker.stop(
                f"the notebook defines {component.name}",
                f"keep the skeleton's {component.name} in its cell, and that cell's tags",
            )
        try:
            component.check(checker, found, ns)
        except CheckStopped:
            raise
        except (Exception, SystemExit) as error:  # student code, outside a guarded call
            checker.expect(False, "the check runs", f"it raised {type(error).__name__}: {error}")
    return checker


def run_task_checks(checker: Checker, spec, task: str, ns: dict) -> None:
    """Run into `checker` the numeric checks of `task` (the assignment `spec`'s ``checks.py``, as
    the grader runs them) whose class or function the notebook's namespace `ns` defines."""
    for component in spec.checks().NUMERIC.values():
        if component.task == task and component.name in ns:
            with checker.run():
                component.check(checker, ns[component.name], ns)
