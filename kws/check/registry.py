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
from kws.spec import Spec

HISTORY_FILE = "history.json"  # what fit() writes into OUT_DIR/<task>/


def history_key(task: str, key: str) -> str:
    """The namespace key under which a check finds `key` of a task's ``history.json``.

    The key is not an identifier, so no cell of the notebook can define it.

    Args:
        task: the task's name ("task1").
        key: a key of the task's ``OUT_DIR/<task>/history.json`` (a `Component`'s `history`).

    Returns:
        The key of the notebook's namespace: ``"<task>/history.json <key>"``.

    Example:
        ```python
        values = ns.get(history_key("task1", "lr"))  # a list of numbers, or why there is none
        ```
    """
    return f"{task}/{HISTORY_FILE} {key}"


@dataclass(frozen=True)
class Component:
    """One numeric check of an assignment: the task, the notebook's name it checks, the check.

    An assignment's ``checks.py`` lists them in ``NUMERIC = {component name: Component(...)}``; the
    notebook's self-check and the grading child run the same ones, and a ``[numeric.<test>]``
    entry of ``spec.toml`` grades one (`numeric_tests`).

    Attributes:
        task: the task it belongs to ("task1").
        name: the class or function of the notebook it checks (the skeleton fixes the name).
        check: ``check(checker, the notebook's object, the notebook's namespace) -> None``; it
            records items on the `Checker`.
        history: a key of the task's ``OUT_DIR/<task>/history.json`` the check reads (the
            grading child puts its values, or a sentence saying why there are none, under
            `history_key(task, history)` of the namespace); None when it reads none.

    Example:
        ```python
        NUMERIC = {"masked_mean": Component("task1", "masked_mean", masked_mean)}
        ```
    """

    task: str
    name: str  # the class (or function) the skeleton fixes
    check: Callable[[Checker, object, dict], None]  # (checker, the notebook's object, namespace)
    history: str | None = None


def run_component(component: Component, ns: dict, *, echo: bool = False) -> Checker:
    """Run one comparison on the notebook's namespace `ns`; the checker holds what it found
    (`Checker.check`: a dtype error of a cast back to float32 runs it again in float32)."""
    checker = Checker(component.name, echo=echo)
    found = ns.get(component.name)
    if found is None:
        with checker.run():
            checker.stop(
                f"the notebook defines {component.name}",
                f"keep the skeleton's {component.name} in its cell, and that cell's tags",
            )
        return checker
    checker.check(_guarded, component.check, found, ns)
    return checker


def _guarded(checker: Checker, check, found, ns: dict) -> None:
    """`check(checker, found, ns)`, an error outside a guarded call a failed item."""
    try:
        check(checker, found, ns)
    except CheckStopped:
        raise
    except (Exception, SystemExit) as error:  # student code, outside a guarded call
        checker.expect(False, "the check runs", f"it raised {type(error).__name__}: {error}")


def run_task_checks(checker: Checker, spec: Spec, task: str, ns: dict) -> None:
    """Run a task's numeric checks into `checker`, as the grader runs them.

    Only the components whose class or function the notebook's namespace defines are run.

    Args:
        checker: the `Checker` the items go into (a self-check's).
        spec: the assignment's `Spec` (its ``checks.py`` holds the components).
        task: the task's name.
        ns: the notebook's namespace (``globals()``).

    Returns:
        None; the items are on `checker`.

    Example:
        ```python
        checker = Checker("task1 model")
        run_task_checks(checker, spec_of(__file__), "task1", ns)
        ```
    """
    shipped = spec.checks().NUMERIC if spec.checks_file.is_file() else {}
    for component in shipped.values():
        if component.task == task and component.name in ns:
            checker.check(_guarded, component.check, ns[component.name], ns)
    for test in spec.numeric.values():  # in grader_checks.py: never shipped, never run here
        if test.component not in shipped and (test.task or _task_of(spec, test)) == task:
            checker.expect(True, f"{test.title}: checked by the grader only, after you hand in",
                           "")  # fmt: skip


def _task_of(spec: Spec, test) -> str | None:
    """The task of a numeric test whose component ``checks.py`` lacks: its component's in
    ``grader_checks.py`` (the grader's copy of the course), else the spec's only task, else
    None."""
    component = spec.numeric_components().get(test.component)
    if component is not None:
        return component.task
    return next(iter(spec.tasks)) if len(spec.tasks) == 1 else None
