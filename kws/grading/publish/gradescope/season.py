"""On Gradescope: the course file's attempt limit, late rule and Kaggle rule, applied to
``results.json``.

    python -m kws.grading.publish.gradescope.season --results RESULTS --course course.toml \\
        --metadata /autograder/submission_metadata.json [--now 2026-10-03T08:00-04:00]

``run_autograder`` runs this after the grader when the zip was built with ``kws gradescope
--course FILE``, on Gradescope's submission metadata, in this order: the held-out parts
(`kws.grading.publish.gradescope.held_out`), the attempt limit (`limit_attempts`), the late rule
per notebook (`apply_late`); docs/how-to/attempts.md says what a student sees of each. Grace
days over the season are not spent here (one submission cannot see the others): ``kws season``
settles them on the downloaded submissions.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kws.grading.judge.document import write_results
from kws.grading.publish.gradescope import held_out
from kws.grading.season.course import Course, late_of, read_course
from kws.grading.season.times import gradescope_timestamp
from kws.spec import ASSIGNMENTS

DAY = timedelta(hours=24)


def _counted(previous: dict) -> bool:
    attempt = ((previous.get("results") or {}).get("extra_data") or {}).get("attempt") or {}
    return attempt.get("counted", True)


def limit_attempts(document: dict, metadata: dict, per_day: int) -> tuple[dict, bool, str]:
    """(the results to write, whether this attempt counts, the sentence that says so) under
    `per_day` counted attempts in any 24 hours, from the metadata's ``previous_submissions``."""
    now = gradescope_timestamp(metadata["created_at"])
    earlier = [p for p in metadata.get("previous_submissions") or [] if _counted(p)]
    earlier = [p for p in earlier if gradescope_timestamp(p["submission_time"]) <= now]
    recent = [p for p in earlier if now - gradescope_timestamp(p["submission_time"]) < DAY]
    if len(recent) < per_day:
        facts = {"counted": True, "in_24_hours": len(recent) + 1, "per_day": per_day}
        document.setdefault("extra_data", {})["attempt"] = facts
        return document, True, f"Graded attempt {len(recent) + 1} of {per_day} in 24 hours."
    last = max(earlier, key=lambda p: gradescope_timestamp(p["submission_time"]))
    kept = copy.deepcopy(last.get("results") or {"score": last.get("score", 0.0), "tests": []})
    opens = min(gradescope_timestamp(p["submission_time"]) for p in recent) + DAY
    note = (
        f"Not counted: you have used the {per_day} graded attempts of the last 24 hours. This "
        f"submission was graded, but its results are replaced by those of your last counted "
        f"attempt ({last['submission_time']}), which stands with its score; nothing of this "
        f"submission's grading is shown. The next counted attempt opens at {opens.isoformat()}."
    )
    kept.setdefault("extra_data", {})["attempt"] = {"counted": False, "per_day": per_day}
    return kept, False, note


def due_date(course: Course, metadata: dict, assignment: str) -> datetime | None:
    """The submitting student's due date for `assignment`, the first of: an extension in the
    course file matched by a user's e-mail or name; the course file's due date, moved by an
    extension granted in Gradescope (`_gradescope_extension`); that extension's date or
    Gradescope's ``assignment.due_date`` for a notebook the course file gives none; else None."""
    for user in metadata.get("users") or []:
        for key in (user.get("email"), user.get("name")):
            if key and assignment in course.extensions.get(key, {}):
                return course.extensions[key][assignment]
    moved, gradescope_due = _gradescope_extension(metadata)
    return course.due[assignment] + moved if assignment in course.due else gradescope_due


def _gradescope_extension(metadata: dict) -> tuple[timedelta, datetime | None]:
    """(how far, the date): a user's own ``users[].assignment.due_date`` when it differs from
    the assignment's, an extension granted in Gradescope (the latest, if several users differ);
    without one, (0, Gradescope's ``assignment.due_date`` or None). One zip may grade notebooks
    due weeks apart, so the extension moves each notebook's own due date by how far it moves
    Gradescope's."""
    base = (metadata.get("assignment") or {}).get("due_date")
    base = gradescope_timestamp(base) if base else None
    own = [((user.get("assignment") or {}).get("due_date")) for user in metadata.get("users") or []]
    own = [gradescope_timestamp(due) for due in own if due]
    own = [due for due in own if base is None or due != base]
    if not own:
        return timedelta(0), base
    latest = max(own)
    return (latest - base if base is not None else timedelta(0)), latest


def _by_assignment(document: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for test in document.get("tests", []):
        name = (test.get("extra_data") or {}).get("assignment")
        if name:
            found.setdefault(name, []).append(test)
    return found


def final_score(document: dict) -> float:
    """The total a student sees: the tests' points less the late penalties recorded."""
    raw = sum(t.get("score", 0.0) for t in document.get("tests") or [])
    late = ((document.get("extra_data") or {}).get("late") or {}).values()
    return round(max(0.0, raw - sum(record["penalty"] for record in late)), 4)


def apply_late(document: dict, metadata: dict, course: Course) -> list[str]:
    """The late rule applied per notebook graded in `document` (the grace period and capped
    penalty of `kws.grading.season.course`; the tests keep their raw points), recorded in its
    ``extra_data.late`` with the points it is a share of (``of``); returns a sentence per late
    notebook.

    The share is of the points graded here, the notebook's tests: its written questions are
    marked by a person, outside the autograder's score, so `kws season`, which takes the same
    share of the notebook's whole maximum (tests and written questions), takes more by their
    share (docs/how-to/deadlines.md, "One rule, two channels")."""
    submitted = gradescope_timestamp(metadata["created_at"])
    records, notes = {}, []
    for name, tests in sorted(_by_assignment(document).items()):
        due = due_date(course, metadata, name)
        if due is None:
            continue
        maximum = sum(t["max_score"] for t in tests)
        late = late_of(course, due, submitted, maximum, 0, "gradescope metadata")
        if late is not None:
            records[name] = asdict(late) | {"of": maximum}
            title = ASSIGNMENTS[name].notebook if name in ASSIGNMENTS else name
            raw = sum(t["score"] for t in tests)
            notes.append(
                f"{title}: handed in {late.hours_late:g} h after the due date ({late.due}); "
                f"{late.rule}: -{late.penalty:g} of {raw:g} points (a share of the "
                f"{maximum:g} points of its tests; written answers are marked apart)."
            )
    if records:
        document.setdefault("extra_data", {})["late"] = records
    return notes


def _output(notes: list[str], document: dict) -> str:
    return "\n\n".join([*notes, document.get("output") or ""]).strip()


def apply_gradescope_rules(
    results: Path, metadata: Path, course: Path, now: datetime | None = None
) -> dict:
    """Rewrite `results` (the results.json the grader wrote) with the `course` file's held-out
    parts, attempt limit and late rule (the module docstring), from Gradescope's `metadata`
    (``submission_metadata.json``), the held-out parts judged at `now` (default: now); returns
    the document written."""
    document = json.loads(Path(results).read_text())
    meta = json.loads(Path(metadata).read_text())
    rules = read_course(course, sorted(ASSIGNMENTS))
    now = now or datetime.now(timezone.utc)
    opens = {name: due_date(rules, meta, name) for name in held_out.held_out_tests(document)}
    # first, so that nothing below (a late penalty's "of N points") sees the held-out points
    withheld = held_out.settle(document, opens, now, rules.timezone)
    attempt, counted = [], True
    if rules.attempts_per_day is not None:
        document, counted, said = limit_attempts(document, meta, rules.attempts_per_day)
        attempt = [said]
    if counted:
        notes = attempt + apply_late(document, meta, rules) + withheld
        document["score"] = final_score(document)
    else:  # the results of the attempt that stands, as they were, but no held-out part early
        stand_in = held_out.held_out_tests(document)
        opens = {name: due_date(rules, meta, name) for name in stand_in}
        notes = attempt + held_out.settle(document, opens, now, rules.timezone, stand_in=True)
        if stand_in:
            document["score"] = final_score(document)
    document["output"] = _output(notes, document)
    write_results(results, document)
    return document


def withhold_all(results: Path, why: str) -> None:
    """When the rules cannot be applied: `results` as graded, but every held-out part withheld
    (its due date unknown here) and `why` first in its output."""
    document = json.loads(Path(results).read_text())
    notes = held_out.settle(document, {}, datetime.now(timezone.utc), timezone.utc)
    if notes:
        document["score"] = final_score(document)
    document["output"] = _output([why, *notes], document)
    write_results(results, document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--metadata", type=Path, required=True)
    parser.add_argument("--course", type=Path, required=True)
    parser.add_argument("--now", type=gradescope_timestamp,
                        help="judge the held-out parts at this time (ISO 8601 with its offset), "
                        "to see what a student sees then (default: now)")  # fmt: skip
    args = parser.parse_args(argv)
    if not args.results.is_file():
        print(f"no {args.results}: nothing to apply the course rules to", file=sys.stderr)
        return 0
    if not args.metadata.is_file():
        withhold_all(args.results, f"No {args.metadata}: the course's rules could not be "
                     "applied; this result is as graded. Tell the course staff.")  # fmt: skip
        return 0
    try:
        apply_gradescope_rules(args.results, args.metadata, args.course, args.now)
    except Exception as error:  # noqa: BLE001 - never leave a held-out part shown early
        withhold_all(args.results, f"The course's rules could not be applied "
                     f"({type(error).__name__}: {error}); this result is as graded. Tell the "
                     "course staff.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
