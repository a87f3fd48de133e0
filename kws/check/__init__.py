"""Self-checks students run from their notebooks: each says what passed and what to fix.

This package holds the generic machinery (`kws.check.selfcheck`: the checker, running and
building student code, comparisons; `kws.check.layers`: a layer against its reference, on seeded
inputs of small distinct sizes B=2, T=5, D=12, H=3, with copied weights (`kws.check.weights`);
`kws.check.registry`: one numeric check registered once, run by the self-check and the grading
child alike). The checks themselves live in each assignment's folder: its ``selfcheck.py`` (its
names in ``__all__``), reached here as ``check.<name>`` (`__getattr__`), and the judges it runs.
Layer checks build the student's class in eval mode and float64, copy its weights into the
torch.nn / torchaudio layer it imitates (or into a formula written out in the check) and compare
outputs, padding and gradients; the hidden grader runs the very same comparisons (each
assignment's ``checks.py``). Model checks get the facts of one traced forward pass from the
function the grading child uses (`kws.tracing.probes.probe_facts`) and judge them by the task's
rules in its spec, as the grader does. Nothing here uses hidden data. Every check prints
"✓ what" or "✗ what — how to fix", then a summary, and returns a `CheckResult` that is falsy
when something failed (``strict=True`` raises AssertionError instead). A check that runs into a TODO
(NotImplementedError) prints it, then raises it again, so that "Run All" on a fresh student
notebook stops at the first TODO with its message.

    from kws import check

    check.attention(MultiHeadSelfAttention)     # a name of some assignment's selfcheck.py
    check.task1(model)
    check.assignment("conv_module")             # what a spec declares (kws.check.declared)

The checks each notebook calls are listed in its assignment's ``selfcheck.py``
(``kws/assignments/<name>/selfcheck.py``, its docstring and ``__all__``).
"""

from __future__ import annotations

import types
from collections.abc import Iterator

from kws.check.selfcheck import CheckResult
from kws.spec import assignments

__all__ = ["CheckResult", "assignment"]  # and each assignment's selfcheck.py's (`__getattr__`)


def assignment(name: str, **options) -> CheckResult:
    """Check the notebook's work on assignment `name` as its graded tests judge it: its numeric
    checks, and each model task's rules and limits from the spec (`kws.check.declared`: the
    self-check cell ``kws assign`` writes), in the assignment's language (`kws.i18n`)."""
    from kws.check.declared import check_assignment
    from kws.i18n import speaking

    registry = assignments()
    language = registry[name].language if name in registry else None  # else KWS_LANGUAGE's
    with speaking(language):
        return check_assignment(name, **options)


# ---- each assignment's own checks (kws/assignments/<name>/selfcheck.py) ------------------------


def _selfcheck_modules() -> Iterator[types.ModuleType]:
    """Each assignment folder's ``selfcheck.py``, the kit's folders first, each imported (and its
    spec read) only when the walk reaches it."""
    registry = assignments()
    for name in registry:
        if (registry.folder(name) / "selfcheck.py").is_file():
            yield registry[name].module("selfcheck")


def _assignment_checks() -> dict:
    """{name: function} of every assignment folder's ``selfcheck.py`` (its ``__all__``)."""
    found = {}
    for module in _selfcheck_modules():
        for name in module.__all__:
            found.setdefault(name, getattr(module, name))
    return found


def __getattr__(name: str):
    """``check.attention``, ``check.task1`` and the like: a check of one assignment, from its
    folder (the first whose ``selfcheck.py`` names it: the folders after it are not read)."""
    if name.startswith("__"):
        raise AttributeError(name)
    for module in _selfcheck_modules():
        if name in module.__all__:
            return getattr(module, name)
    raise AttributeError(
        f"module 'kws.check' has no check {name!r}; it has {__all__ + sorted(_assignment_checks())}"
    )


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_assignment_checks()))
