"""Kaggle's rule on Gradescope: a notebook's held-out part counts from that notebook's due date on.

Gradescope shows the total ``score`` on every attempt and knows one due date per assignment,
while one zip may grade notebooks due weeks apart: ``after_due_date`` visibility alone would let
the total less the visible tests' points give the held-out part away. So `settle` judges each
notebook against that student's own due date, at the time the autograder runs
(docs/how-to/attempts.md).
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from kws.grading.judge.document import HELD_OUT
from kws.spec import ASSIGNMENTS


def held_out_tests(document: dict) -> dict[str, list[dict]]:
    """{assignment: its tests that grade the held-out part}, from each test's ``extra_data``."""
    found: dict[str, list[dict]] = {}
    for test in document.get("tests") or []:
        facts = test.get("extra_data") or {}
        if facts.get("part") == HELD_OUT:
            found.setdefault(facts.get("assignment") or "hand-in", []).append(test)
    return found


def local_time(moment: datetime, zone: tzinfo) -> str:
    """`moment` as a student reads it, in the course's time zone: ``2026-10-02 23:59 EDT``."""
    shown = moment.astimezone(zone)
    return f"{shown:%Y-%m-%d %H:%M} {shown.tzname()}"


def _title(name: str) -> str:
    return ASSIGNMENTS[name].notebook if name in ASSIGNMENTS else name


def _when(opens: datetime | None, zone: tzinfo) -> str:
    if opens is None:
        return "once the course staff have set this notebook's due date and regraded"
    return f"from your due date, {local_time(opens, zone)}, on"


def withhold(test: dict, opens: datetime | None, zone: tzinfo) -> None:
    """Leave `test`'s points and findings out: 0 points and an output saying when it counts."""
    test["score"], test["status"], test["visibility"] = 0.0, "failed", "after_due_date"
    test["output"] = (
        f"Graded on the held-out part of the hidden test set: its {test['max_score']:g} points "
        f"count {_when(opens, zone)}, when the course staff regrade the submissions."
    )


def settle(
    document: dict,
    opens: dict[str, datetime | None],
    now: datetime,
    zone: tzinfo,
    *,
    stand_in: bool = False,
) -> list[str]:
    """Withhold or open each notebook's held-out tests in `document` (the results the grader
    wrote, changed in place) at `now` (time-zone aware), against `opens` ({assignment: the
    student's due date for it; None: unknown, stays withheld}); record it in
    ``extra_data["held_out"]`` and return a sentence per notebook, in the assignments' order,
    with times in the course's time zone `zone`. The caller recomputes the total score.

    `stand_in`: `document` holds the results of an earlier attempt that stand for a not-counted
    one: a held-out part counted there but not yet open now is withheld; one open now but
    withheld there cannot be counted here (this attempt's grading is not shown): the sentence
    says that regrading all submissions again brings it in, once the attempt that stands has
    been regraded.
    """
    record = (document.get("extra_data") or {}).get("held_out") or {} if stand_in else {}
    notes = []
    for name, tests in sorted(held_out_tests(document).items()):
        when = opens.get(name)
        points = sum(t["max_score"] for t in tests)
        is_open = when is not None and now >= when
        included = (record.get(name) or {}).get("included", True)
        if is_open and not stand_in:
            for test in tests:
                test["visibility"] = "visible"
            notes.append(
                f"{_title(name)}: the held-out part of the hidden test set counts since your due "
                f"date, {local_time(when, zone)}: its {points:g} points are in your score."
            )
        elif is_open and not included:
            notes.append(
                f"{_title(name)}: the held-out part of the hidden test set counts since your due "
                f"date, {local_time(when, zone)}, but the attempt that stands was graded before "
                "it: its points come in when the course staff regrade all submissions again."
            )
        elif not is_open and included:
            for test in tests:
                withhold(test, when, zone)
            if not stand_in:
                notes.append(
                    f"{_title(name)}: your grade's held-out part ({points:g} points) counts "
                    f"{_when(when, zone)}; your score leaves it out until then."
                )
        record[name] = {"opens": when and when.isoformat(), "included": included and is_open}
    if record:
        document.setdefault("extra_data", {})["held_out"] = record
    return notes
