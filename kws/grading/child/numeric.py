"""The notebooks' numeric checks, as facts for the hidden grader (run in the grading child).

Every class or function a task asks for is compared with torch.nn, torchaudio or a formula
written out in the check, seeded, in float64 (`kws.check.layer_checks`,
`kws.check.formula_checks`; notebook 01's KeywordTransformer against its pipeline recomputed
with torch.nn, and its learning_rate_factor over the steps its run recorded in history.json,
`kws.check.keyword_model_checks` with `kws.grading.child.recipe`). The same comparisons print ✓/✗ in the
student's notebook through `kws.check`; here they run silently and `check_classes` returns what each found:

    {"attention": {"items": [[topic, passed, what, fix], ...], "todo": None}, ...}

grader/test_01_numeric.py and test_02_numeric.py grade these facts (per component, per topic)
and never import student code. A component whose class is missing, or whose code raises, fails with the reason.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from kws.check import formula_checks, keyword_checks, keyword_model_checks, layer_checks
from kws.check.selfcheck import Checker, CheckStopped
from kws.grading.child.recipe import RECORDED_LR
from kws.grading.shared.payload import NUMERIC_COMPONENTS

MAX_TEXT = 500  # characters of one item's text in the payload
# Notebook 01's checks draw their inputs from a seed; the notebook's self-checks use 0, the
# grader one the student cannot know, so a hard-coded answer to the self-check's inputs fails.
_SEED = 1 + secrets.randbelow(2**31 - 1)


@dataclass(frozen=True)
class Component:
    """One graded comparison: the task, the notebook's name it checks, and the check itself."""

    task: str
    name: str  # the class (or function) the skeleton fixes
    check: Callable[[Checker, object, dict], None]  # (checker, the notebook's object, namespace)


# (checker, the notebook's object, its namespace) -> None, one per payload component.
_CHECKS = {
    "attention": lambda c, cls, ns: layer_checks.attention(c, cls),
    "encoder_layer_post_norm": lambda c, cls, ns: layer_checks.encoder_layer(c, cls, False),
    "encoder_layer_pre_norm": lambda c, cls, ns: layer_checks.encoder_layer(c, cls, True),
    "encoder": lambda c, cls, ns: layer_checks.encoder(c, cls, ns.get("EncoderLayer")),
    "conformer_block": lambda c, cls, ns: layer_checks.conformer_block(c, cls),
    "attention_pooling": lambda c, cls, ns: formula_checks.attention_pooling(c, cls),
    "am_softmax_head": lambda c, cls, ns: formula_checks.am_softmax_head(c, cls),
    "am_softmax_loss": lambda c, fn, ns: formula_checks.am_softmax_loss(c, fn),
    "keyword_transformer": lambda c, cls, ns: keyword_model_checks.keyword_transformer(c, cls),
    "twelve_class_labels": lambda c, fn, ns: keyword_checks.twelve_class_labels(c, fn, _SEED),
    "silence_windows": lambda c, fn, ns: keyword_checks.silence_windows(c, fn, _SEED),
    "conv_tokenizer": lambda c, cls, ns: keyword_checks.conv_tokenizer(c, cls, _SEED),
    "learning_rate_factor": lambda c, fn, ns: keyword_model_checks.recorded_schedule(
        c, fn, ns.get(RECORDED_LR, "the grader did not read history.json")
    ),
}
# The payload's component table (shared with the parent) joined with the checks that fill it.
COMPONENTS = {
    key: Component(graded.task, graded.name, _CHECKS[key])
    for key, graded in NUMERIC_COMPONENTS.items()
}


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


def check_classes(ns: dict, tasks: list[str]) -> dict:
    """JSON-able facts of every component of `tasks` on the notebook's namespace `ns`."""
    facts = {}
    for key, component in COMPONENTS.items():
        if component.task in tasks:
            checker = run_component(component, ns)
            facts[key] = {
                "items": [
                    [item.topic, item.passed, item.what[:MAX_TEXT], item.fix[:MAX_TEXT]]
                    for item in checker.items
                ],
                "todo": checker.todo[:MAX_TEXT] if checker.todo else None,
            }
    return facts
