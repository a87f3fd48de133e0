"""The authoring API: everything an assignment folder imports from the kit, in one module.

An assignment is one folder (see "Write your own assignment" in the docs): ``spec.toml``,
``checks.py`` (its numeric checks), the judges its checks and tests share, ``selfcheck.py`` (the
checks its notebook calls) and ``graded_tests/`` (its graded tests, ``test_*.py``). Its Python
files import from the kit only this module (and torch, numpy, the standard library and their
own folder's modules); a test of the kit says so. An instructor's own assignment folder lives
outside the kit, named by the environment variable ``KWS_ASSIGNMENTS``; nothing of it is copied
into the kit.

```python
from kws.author import Checker, Component, call, spec_of, tier_credit
```

The names, by where they are used:

- the spec: `Spec`, `spec_of`;
- numeric checks (``checks.py``, run by the notebook's self-check and by the grading child next
  to the student's code): `Component`, `Checker`, `CheckResult`, `call`, `build`, `differs`,
  `shape_text`, `run_task_checks`, `history_key`, and `layers`, the toolkit for a layer against
  its reference (``layers.compare_layer``, ``layers.inputs``, ``layers.copy_weights``, ...);
- a whole model in a self-check (``selfcheck.py``): `run_model` (its scores, run as the grading
  child runs the graded model), `probe_facts`, the facts the grading child sends the grader (a
  self-check judges the same ones), `trace_forward` (one traced forward pass), and
  `format_count` (a count as the course prints it, "154.88k");
- graded tests (``graded_tests/test_*.py``, run by the grader's own process, which never imports
  student code): the fixtures' types `Grading` (fixture ``grading``: the child's facts, the
  hand-in's files, the accuracy), `HiddenTest` (fixture ``hidden``) and `Score` (fixture
  ``score``), then `tier_credit`, `numeric_tests`, `spec_tests` (the tests the spec declares,
  which ``kws assign`` takes in), `retraining_test`;
- a data layout of the assignment's own (``[data] layout = "layout.py:MyLayout"``): `Layout`,
  `HiddenTest`, `secret_permutation`, `save_feature_inputs`;
- what a student reads, in the course's language (docs/how-to/language.md): `N_` marks a
  check's sentence for the catalogs, `Text` is one with values (English in an item's fields,
  translated where it is shown), `shown` shows either in the active language.

The fixtures a graded test takes by name (pytest passes them; nothing is imported): ``grading``
(the run's `Grading`), ``spec`` (the test's assignment, a `Spec`), ``child`` (the grading
child's result on the notebook, read through ``grading.loaded_model(child, task)`` and
``grading.probe_facts(child, task)``), ``hidden`` (the hidden test set, a `HiddenTest`) and
``score`` (a `Score`, for partial credit).

Each name is loaded from its home module when it is first used, not when this module is
imported: a graded test that imports `tier_credit` does not load the self-check, and a
``checks.py`` run next to student code does not load the grader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what readers (the docs, an editor) see; at run time `__getattr__` loads them
    from kws.check import layers
    from kws.check.registry import Component, history_key, run_task_checks
    from kws.check.selfcheck import (
        Checker,
        CheckResult,
        build,
        call,
        differs,
        run_model,
        shape_text,
    )
    from kws.counts import format_count
    from kws.grading.judge.declared import spec_tests
    from kws.grading.judge.fixture import Grading
    from kws.grading.judge.results import Score
    from kws.grading.judge.tiers import tier_credit
    from kws.grading.judge.verdicts import numeric_tests, retraining_test
    from kws.grading.protocol.inputs import save_feature_inputs
    from kws.grading.testsets.hidden import HiddenTest, secret_permutation
    from kws.grading.testsets.layouts.base import Layout
    from kws.i18n import N_, Text, shown
    from kws.spec import Spec, spec_of
    from kws.tracing.probes import probe_facts
    from kws.tracing.trace import trace_forward

# Each published name -> the module it lives in (the imports above, for the run time); a name
# that is a module of its own (`layers`, a namespace of helpers) -> its package.
HOMES = {
    "Spec": "kws.spec",
    "spec_of": "kws.spec",
    "Component": "kws.check.registry",
    "history_key": "kws.check.registry",
    "run_task_checks": "kws.check.registry",
    "Checker": "kws.check.selfcheck",
    "CheckResult": "kws.check.selfcheck",
    "build": "kws.check.selfcheck",
    "call": "kws.check.selfcheck",
    "differs": "kws.check.selfcheck",
    "run_model": "kws.check.selfcheck",
    "shape_text": "kws.check.selfcheck",
    "layers": "kws.check",
    "probe_facts": "kws.tracing.probes",
    "trace_forward": "kws.tracing.trace",
    "format_count": "kws.counts",
    "Grading": "kws.grading.judge.fixture",
    "Score": "kws.grading.judge.results",
    "tier_credit": "kws.grading.judge.tiers",
    "numeric_tests": "kws.grading.judge.verdicts",
    "retraining_test": "kws.grading.judge.verdicts",
    "spec_tests": "kws.grading.judge.declared",
    "Layout": "kws.grading.testsets.layouts.base",
    "HiddenTest": "kws.grading.testsets.hidden",
    "secret_permutation": "kws.grading.testsets.hidden",
    "save_feature_inputs": "kws.grading.protocol.inputs",
    "N_": "kws.i18n",
    "Text": "kws.i18n",
    "shown": "kws.i18n",
}
MODULES = {"layers"}  # the published names that are modules of their own

__all__ = [
    "CheckResult",
    "Checker",
    "Component",
    "Grading",
    "HiddenTest",
    "Layout",
    "N_",
    "Score",
    "Spec",
    "Text",
    "build",
    "call",
    "differs",
    "format_count",
    "history_key",
    "layers",
    "numeric_tests",
    "probe_facts",
    "retraining_test",
    "run_model",
    "run_task_checks",
    "save_feature_inputs",
    "secret_permutation",
    "shape_text",
    "shown",
    "spec_of",
    "spec_tests",
    "tier_credit",
    "trace_forward",
]


def __getattr__(name: str):
    """Load the published `name` from its home module (once: it is kept here afterwards)."""
    home = HOMES.get(name)
    if home is None:
        raise AttributeError(
            f"kws.author publishes no {name!r}; it publishes {', '.join(__all__)} "
            "(see the Authoring API page of the docs)"
        )
    if name in MODULES:  # its package has the attribute only once the module is imported
        value = importlib.import_module(f"{home}.{name}")
    else:
        value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
