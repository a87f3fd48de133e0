"""On Gradescope: the course file's attempt limit and late rule, applied to ``results.json``.

    python -m kws.grading.publish.gradescope.season --results RESULTS --course course.toml \\
        --metadata /autograder/submission_metadata.json

``run_autograder`` runs this after the grader when the zip was built with ``kws gradescope
--course FILE``. It reads Gradescope's submission metadata (``created_at``, ``users``, the
``assignment``'s ``due_date`` and ``previous_submissions`` with their ``submission_time`` and
``results``) and, in this order:

1. **Attempts** (``[gradescope] attempts_per_day``): counted attempts in the 24 hours before
   ``created_at`` (Gradescope's own advice: count from the submission's time, so a re-run of
   the autograder decides the same). Over the limit, this attempt is not counted: its results
   are replaced by those of the last counted attempt, with a sentence saying so; nothing of
   this attempt's grading is shown. Each results.json records whether it counted
   (``extra_data.attempt``).
2. **Late work**: each notebook graded, against the course file's due date (an extension
   matched by the student's e-mail or name in ``users``), else an extension granted in
   Gradescope (a user's own ``users[].assignment.due_date`` differing from the assignment's),
   else the course file's due date, else Gradescope's ``due_date``:
   the grace period and the capped penalty of `kws.grading.season.course`. Grace days over the season
   are not spent here (one submission cannot see the others): settle them with ``kws season``
   on the downloaded submissions. The total ``score`` becomes the final score; the tests keep
   their raw points; ``extra_data.late`` holds the record.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

from kws.grading.judge.results import write_results
from kws.grading.season.course import Course, late_of, read_course
from kws.grading.season.times import gradescope_timestamp
from kws.spec import ASSIGNMENTS

DAY = timedelta(hours=24)


def _counted(previous: dict) -> bool:
    attempt = ((previous.get("results") or {}).get("extra_data") or {}).get("attempt") or {}
    return attempt.get("counted", True)


def limit_attempts(document: dict, metadata: dict, per_day: int) -> tuple[dict, bool]:
    """(the results to write, whether this attempt counts) under `per_day` counted attempts in
    any 24 hours, from the metadata's ``previous_submissions``."""
    now = gradescope_timestamp(metadata["created_at"])
    earlier = [p for p in metadata.get("previous_submissions") or [] if _counted(p)]
    earlier = [p for p in earlier if gradescope_timestamp(p["submission_time"]) <= now]
    recent = [p for p in earlier if now - gradescope_timestamp(p["submission_time"]) < DAY]
    if len(recent) < per_day:
        facts = {"counted": True, "in_24_hours": len(recent) + 1, "per_day": per_day}
        document.setdefault("extra_data", {})["attempt"] = facts
        note = f"Graded attempt {len(recent) + 1} of {per_day} in 24 hours."
        document["output"] = f"{note}\n\n{document.get('output', '')}".strip()
        return document, True
    last = max(earlier, key=lambda p: gradescope_timestamp(p["submission_time"]))
    kept = copy.deepcopy(last.get("results") or {"score": last.get("score", 0.0), "tests": []})
    opens = min(gradescope_timestamp(p["submission_time"]) for p in recent) + DAY
    note = (
        f"Not counted: you have used the {per_day} graded attempts of the last 24 hours, so "
        f"this submission was not graded against the hidden test set. Your last counted "
        f"attempt ({last['submission_time']}) stands, with its score. The next counted "
        f"attempt opens at {opens.isoformat()}."
    )
    kept["output"] = f"{note}\n\n{kept.get('output', '')}".strip()
    kept.setdefault("extra_data", {})["attempt"] = {"counted": False, "per_day": per_day}
    return kept, False


def _due(course: Course, metadata: dict, assignment: str) -> datetime | None:
    for user in metadata.get("users") or []:
        for key in (user.get("email"), user.get("name")):
            if key and assignment in course.extensions.get(key, {}):
                return course.extensions[key][assignment]
    own = _own_due(metadata)
    if own is not None:
        return own
    if assignment in course.due:
        return course.due[assignment]
    due = (metadata.get("assignment") or {}).get("due_date")
    return gradescope_timestamp(due) if due else None


def _own_due(metadata: dict) -> datetime | None:
    """A user's own ``users[].assignment.due_date`` when it differs from the assignment's: an
    extension granted in Gradescope (the latest, if several users differ)."""
    base = (metadata.get("assignment") or {}).get("due_date")
    own = [((user.get("assignment") or {}).get("due_date")) for user in metadata.get("users") or []]
    own = [
        gradescope_timestamp(due)
        for due in own
        if due and (not base or gradescope_timestamp(due) != gradescope_timestamp(base))
    ]
    return max(own) if own else None


def apply_late(document: dict, metadata: dict, course: Course) -> dict:
    """`document` with the late rule applied per notebook graded in it (module docstring)."""
    submitted = gradescope_timestamp(metadata["created_at"])
    records, penalty = {}, 0.0
    by_assignment: dict[str, list[dict]] = {}
    for test in document.get("tests", []):
        name = (test.get("extra_data") or {}).get("assignment")
        if name:
            by_assignment.setdefault(name, []).append(test)
    for name, tests in sorted(by_assignment.items()):
        due = _due(course, metadata, name)
        if due is None:
            continue
        maximum = sum(t["max_score"] for t in tests)
        late = late_of(course, due, submitted, maximum, 0, "gradescope metadata")
        if late is not None:
            records[name], penalty = asdict(late), penalty + late.penalty
            title = ASSIGNMENTS[name].notebook if name in ASSIGNMENTS else name
            raw = sum(t["score"] for t in tests)
            document["output"] = (
                f"{title}: handed in {late.hours_late:g} h after the due date ({late.due}); "
                f"{late.rule}: -{late.penalty:g} of {raw:g} points.\n\n"
                + document.get("output", "")
            ).strip()
    if records:
        raw_total = sum(t["score"] for t in document.get("tests", []))
        document["score"] = round(max(0.0, raw_total - penalty), 4)
        document.setdefault("extra_data", {})["late"] = records
    return document


def apply_gradescope_rules(results: Path, metadata: Path, course: Path) -> dict:
    """Rewrite `results` with the course file's attempt limit and late rule; return it.

    Args:
        results: the results.json the grader wrote.
        metadata: Gradescope's ``submission_metadata.json``.
        course: the course file baked into the zip.

    Returns:
        The document written.
    """
    document = json.loads(Path(results).read_text())
    meta = json.loads(Path(metadata).read_text())
    rules = read_course(course, sorted(ASSIGNMENTS))
    counted = True
    if rules.attempts_per_day is not None:
        document, counted = limit_attempts(document, meta, rules.attempts_per_day)
    if counted:
        document = apply_late(document, meta, rules)
    write_results(results, document)
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--metadata", type=Path, required=True)
    parser.add_argument("--course", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.metadata.is_file() or not args.results.is_file():
        print(f"no {args.metadata} or {args.results}: results left as graded", file=sys.stderr)
        return 0
    try:
        apply_gradescope_rules(args.results, args.metadata, args.course)
    except (ValueError, KeyError, TypeError) as error:  # the results stay as graded
        document = json.loads(args.results.read_text())
        document["output"] = (
            f"The course's attempt and late rules could not be applied ({type(error).__name__}: "
            f"{error}); this result is as graded. Tell the course staff.\n\n"
            + document.get("output", "")
        )
        write_results(args.results, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
