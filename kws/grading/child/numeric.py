"""The notebooks' numeric checks (an assignment's ``checks.py`` ``NUMERIC`` table), run silently in
the grading child: `check_classes` returns what each found, as the facts the graded tests read.
"""

from __future__ import annotations

import json

from kws.check.registry import Component, run_component
from kws.i18n import portable

MAX_TEXT = 500  # characters of one item's text in the payload
MAX_SHOWN = 4000  # characters of its texts as shown (`_shown`): longer, the grader shows English


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
                    [
                        item.topic,
                        item.passed,
                        item.what[:MAX_TEXT],
                        item.fix[:MAX_TEXT],
                        _shown(item.what, item.fix),
                    ]
                    for item in checker.items
                ],
                "todo": checker.todo[:MAX_TEXT] if checker.todo else None,
            }
    return facts


def _shown(what: str, fix: str) -> str:
    """An item's two texts as the grader shows them in the course's language: their messages
    and values (`kws.i18n.portable`) as one JSON string, flat as the payload must be; "" when
    too long (the grader then shows the English fields)."""
    said = json.dumps({"what": portable(what), "fix": portable(fix)}, ensure_ascii=False)
    return said if len(said) <= MAX_SHOWN else ""
