"""The authoring API: everything an assignment folder imports from the kit, in one module.

An assignment is one folder (see "Write your own assignment" in the docs): ``spec.toml``,
``checks.py`` (its numeric checks), the judges its checks and tests share, and ``graded_tests/`` (its
graded tests, ``test_*.py``). Its Python files import from the kit only this module (and
torch, numpy, the standard library and their own folder's modules); a test of the kit says so.
An instructor's own assignment folder lives outside the kit, named by the environment variable
``KWS_ASSIGNMENTS``; nothing of it is copied into the kit.

```python
from kws.author import Checker, Component, call, spec_of, tier_credit
```

The names, by where they are used:

- the spec: `Spec`, `SpecError`, `spec_of`;
- numeric checks (``checks.py``, run by the notebook's self-check and by the grading child next
  to the student's code): `Component`, `Checker`, `CheckResult`, `call`, `build`, `differs`,
  `shape_text`, `run_task_checks`, `history_key`, and for a layer against its reference
  `compare_layer`, `inputs`, `CHECK_SIZES`, `accepts`, `call_text`, `forward`, `copy_weights`,
  `attention_mask`, `lengths_to_mask`, `torchaudio`;
- probes of a traced forward pass: `trace_forward`, `layer_calls`, `count_layer_calls`,
  `layer_class_problem`, `forbidden_in`, `encoder_params`, `encoder_params_text`,
  `norm_feeds_classifier_in`, `format_count`, `is_weight`;
- graded tests (``graded_tests/test_*.py``, run by the grader's own process, which never imports
  student code): the fixtures' types `Grading` (fixture ``grading``), `HiddenTest` (fixture
  ``hidden``) and `Score` (fixture ``score``), then `tier_credit`, `numeric_tests`,
  `retraining_test`, `encoder_budget`, `load_state`, `BudgetError`, `predictions_csv`,
  `relative`, `read_labels_csv`;
- a data layout of the assignment's own (``[data] layout = "layout.py:MyLayout"``): `Layout`,
  `HiddenTest`, `secret_permutation`, `save_feature_inputs`.

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
    from kws.check.registry import Component, history_key, run_task_checks
    from kws.check.selfcheck import (
        CHECK_SIZES,
        Checker,
        CheckResult,
        accepts,
        attention_mask,
        build,
        call,
        call_text,
        compare_layer,
        copy_weights,
        differs,
        forward,
        inputs,
        shape_text,
    )
    from kws.compat import torchaudio
    from kws.counts import format_count, is_weight
    from kws.data.labels_csv import read_labels_csv
    from kws.grading.judge.budget import BudgetError, encoder_budget, load_state
    from kws.grading.judge.fixture import Grading
    from kws.grading.judge.results import Score
    from kws.grading.judge.tiers import tier_credit
    from kws.grading.judge.verdicts import numeric_tests, retraining_test
    from kws.grading.protocol.handin import predictions_csv, relative
    from kws.grading.protocol.inputs import save_feature_inputs
    from kws.grading.testsets.hidden import HiddenTest, secret_permutation
    from kws.grading.testsets.layouts.base import Layout
    from kws.models.masks import lengths_to_mask
    from kws.spec import Spec, SpecError, spec_of
    from kws.tracing.probes import (
        count_layer_calls,
        encoder_params,
        encoder_params_text,
        forbidden_in,
        layer_calls,
        layer_class_problem,
        norm_feeds_classifier_in,
        probe_facts,
    )
    from kws.tracing.trace import trace_forward

# Each published name -> the module it lives in (the imports above, for the run time).
HOMES = {
    "Spec": "kws.spec",
    "SpecError": "kws.spec",
    "spec_of": "kws.spec",
    "Component": "kws.check.registry",
    "history_key": "kws.check.registry",
    "run_task_checks": "kws.check.registry",
    "CHECK_SIZES": "kws.check.selfcheck",
    "Checker": "kws.check.selfcheck",
    "CheckResult": "kws.check.selfcheck",
    "accepts": "kws.check.selfcheck",
    "attention_mask": "kws.check.selfcheck",
    "build": "kws.check.selfcheck",
    "call": "kws.check.selfcheck",
    "call_text": "kws.check.selfcheck",
    "compare_layer": "kws.check.selfcheck",
    "copy_weights": "kws.check.selfcheck",
    "differs": "kws.check.selfcheck",
    "forward": "kws.check.selfcheck",
    "inputs": "kws.check.selfcheck",
    "shape_text": "kws.check.selfcheck",
    "lengths_to_mask": "kws.models.masks",
    "torchaudio": "kws.compat",
    "trace_forward": "kws.tracing.trace",
    "count_layer_calls": "kws.tracing.probes",
    "encoder_params": "kws.tracing.probes",
    "encoder_params_text": "kws.tracing.probes",
    "forbidden_in": "kws.tracing.probes",
    "layer_calls": "kws.tracing.probes",
    "layer_class_problem": "kws.tracing.probes",
    "norm_feeds_classifier_in": "kws.tracing.probes",
    "probe_facts": "kws.tracing.probes",
    "format_count": "kws.counts",
    "is_weight": "kws.counts",
    "Grading": "kws.grading.judge.fixture",
    "numeric_tests": "kws.grading.judge.verdicts",
    "retraining_test": "kws.grading.judge.verdicts",
    "Score": "kws.grading.judge.results",
    "tier_credit": "kws.grading.judge.tiers",
    "BudgetError": "kws.grading.judge.budget",
    "encoder_budget": "kws.grading.judge.budget",
    "load_state": "kws.grading.judge.budget",
    "predictions_csv": "kws.grading.protocol.handin",
    "relative": "kws.grading.protocol.handin",
    "read_labels_csv": "kws.data.labels_csv",
    "Layout": "kws.grading.testsets.layouts.base",
    "HiddenTest": "kws.grading.testsets.hidden",
    "secret_permutation": "kws.grading.testsets.hidden",
    "save_feature_inputs": "kws.grading.protocol.inputs",
}

__all__ = [
    "BudgetError",
    "CHECK_SIZES",
    "CheckResult",
    "Checker",
    "Component",
    "Grading",
    "HiddenTest",
    "Layout",
    "Score",
    "Spec",
    "SpecError",
    "accepts",
    "attention_mask",
    "build",
    "call",
    "call_text",
    "compare_layer",
    "copy_weights",
    "count_layer_calls",
    "differs",
    "encoder_budget",
    "encoder_params",
    "encoder_params_text",
    "forbidden_in",
    "format_count",
    "forward",
    "history_key",
    "inputs",
    "is_weight",
    "layer_calls",
    "layer_class_problem",
    "lengths_to_mask",
    "load_state",
    "norm_feeds_classifier_in",
    "numeric_tests",
    "predictions_csv",
    "probe_facts",
    "read_labels_csv",
    "relative",
    "retraining_test",
    "run_task_checks",
    "save_feature_inputs",
    "secret_permutation",
    "shape_text",
    "spec_of",
    "tier_credit",
    "torchaudio",
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
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
