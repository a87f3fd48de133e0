"""One numeric check of an assignment, registered once: the task it belongs to, the name the
notebook's skeleton fixes, the judge that compares it, and what it needs from the run. An
assignment's ``checks.py`` holds the table ``NUMERIC = {component: Component(...)}``; the grading
child runs every component of the tasks it grades (`kws.grading.child.numeric`) and the
self-check runs those of a task (`kws.check`), both through `run_component`, so both print and
grade the same items.

What a check needs besides the model cells is declared, never guessed from its name: a value
the run recorded in ``OUT_DIR/<task>/history.json`` is the component's `history` key, which
the grading child reads into the namespace under `history_key(task, key)` (a key no notebook
name can take); cells to run after the model cells are its task's ``cells`` in the spec
(`kws.spec.Cells`), which the grader's own process reads too, to review them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kws.check.selfcheck import Checker, CheckStopped

HISTORY_FILE = "history.json"  # what fit() writes into OUT_DIR/<task>/


def history_key(task: str, key: str) -> str:
    """The namespace key under which a check finds `key` of task `task`'s history.json: not an
    identifier, so no cell of the notebook can define it."""
    return f"{task}/{HISTORY_FILE} {key}"


@dataclass(frozen=True)
class Component:
    """One graded comparison: the task, the notebook's name it checks, and the check itself.

    `history`: a key of the task's ``OUT_DIR/<task>/history.json`` the check reads (the grading
    child puts its values, a list of numbers, or a sentence saying why there are none, under
    `history_key(task, history)` of the namespace); None when it reads none."""

    task: str
    name: str  # the class (or function) the skeleton fixes
    check: Callable[[Checker, object, dict], None]  # (checker, the notebook's object, namespace)
    history: str | None = None


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
