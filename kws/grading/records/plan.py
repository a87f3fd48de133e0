"""The grading plan a class was graded with, kept in its grades folder: the record's first file.

    kept = keep_plan(grades, decisions, {"ann": {"ps1", "ps1_problem2"}})  # `kws grade`
    kept = read_kept_plan(grades)     # a later command: None for a folder graded before
    kept.written                      # {assignment: [question]}: every notebook's, as decided
    kept.notebooks["ann"]             # the notebooks graded in ann's hand-in

``plan.json`` holds every decision of the run (`kws.grading.judge.planned.DECISIONS`: the data,
the selection, the tier sets, the public test sets, the split, the season's digest, and the
written questions of every notebook of the course, written-only ones included) and, by hand-in
folder name, the notebooks graded in it. `kws grade` writes it before the first hand-in is
graded; `kws grade --student` records that student's notebooks in it; `kws merge` writes the
class's from its shards'. The seal (`records.json`) covers it, so a plan edited or lost is
refused as any record is. `kws season`, `kws adjust`, `kws marks restore` and the exports read
the written questions and the notebooks graded from it, never from the solution notebooks.
A plan an older kit kept (version 4, before the ``language`` decision) is read as it was
written (`kws.grading.judge.planned.OLDEST_READ`): a class graded mid-term keeps working.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from kws.grading.judge.planned import checked_plan_file
from kws.grading.records.files import write_whole
from kws.grading.records.seal import RecordsError, readable_seal

KEPT_PLAN = "plan.json"


@dataclass(frozen=True)
class KeptPlan:
    """The plan kept in a grades folder (`read_kept_plan`).

    Attributes:
        decisions: the graders' plan as the run decided it (`GraderPlan.text`'s JSON).
        notebooks: {hand-in folder name: the notebooks graded in it}.
    """

    decisions: dict
    notebooks: dict[str, list[str]]

    @property
    def written(self) -> dict[str, list[dict]]:
        """{assignment: its written questions}, as the plan decided them
        (`kws.grading.judge.written.written_questions`)."""
        return self.decisions["written"]

    def graded(self, students: list[str] | None = None) -> dict[str, set[str]]:
        """{student: the notebooks graded in their hand-in}, for `students` (default: all)."""
        names = self.notebooks if students is None else students
        return {name: set(self.notebooks.get(name, [])) for name in names}


def plan_text(decisions: dict, notebooks: dict[str, set[str] | list[str]]) -> str:
    """The kept plan's JSON: `decisions` with the notebooks graded in each hand-in."""
    listed = {name: sorted(held) for name, held in sorted(notebooks.items())}
    return json.dumps({**decisions, "notebooks": listed}, indent=2) + "\n"


def keep_plan(grades_dir: Path, decisions: dict, notebooks: dict[str, set[str]]) -> KeptPlan:
    """Write ``plan.json`` into `grades_dir`: the graders' plan's `decisions` (its JSON, as
    `GraderPlan.text` writes it) and `notebooks` ({hand-in folder name: the notebooks graded
    in it}); the plan kept, for the command that wrote it to apply."""
    write_whole(Path(grades_dir) / KEPT_PLAN, plan_text(decisions, notebooks))
    return KeptPlan(decisions, {name: sorted(held) for name, held in notebooks.items()})


def record_student(grades_dir: Path, student: str, notebooks: set[str]) -> KeptPlan | None:
    """Record in the kept plan of `grades_dir` the `notebooks` graded in `student`'s hand-in
    (`kws grade --student`), its decisions as they were; None where the folder keeps no plan
    (graded before plans were kept: nothing to record in)."""
    kept = read_kept_plan(grades_dir)
    if kept is None:
        return None
    return keep_plan(grades_dir, kept.decisions, {**kept.notebooks, student: notebooks})


def read_kept_plan(grades_dir: Path) -> KeptPlan | None:
    """The plan kept in `grades_dir`, or None where it keeps none (a folder graded by a kit
    that kept no plan). RecordsError naming the file and the fix when it cannot be read, lacks
    a decision, is gone though the seal recorded it, or is not the file the seal recorded:
    never decided again from the solution notebooks."""
    path = Path(grades_dir) / KEPT_PLAN
    fix = (f"put back the {KEPT_PLAN} the grades were recorded with (a backup), or grade the "
           "class again with `kws grade`")  # fmt: skip
    if not path.is_file():
        record = readable_seal(grades_dir)
        if record is not None and KEPT_PLAN in record["files"]:  # lost, never "no plan"
            raise RecordsError(f"{path} is gone since `{record['command']}` recorded the "
                               f"grades with it ({record['when']}); {fix}")  # fmt: skip
        return None
    kept = read_plan_file(path, fix)
    record = readable_seal(grades_dir)
    sealed = (record or {}).get("files", {}).get(KEPT_PLAN)
    if sealed and hashlib.sha256(path.read_bytes()).hexdigest() != sealed:  # edited by hand
        raise RecordsError(f"{path} changed since `{record['command']}` recorded the grades "
                           f"with it ({record['when']}); {fix}")  # fmt: skip
    return kept


def read_plan_file(path: Path, fix: str, sha256: str | None = None) -> KeptPlan:
    """The plan written at `path` (a grades folder's ``plan.json``), checked as every plan file
    is (`kws.grading.judge.planned.checked_plan_file`: every decision of the run, the notebooks
    graded and, with `sha256`, that digest); RecordsError naming `path` and ending with `fix`
    (what to do) when it is not."""
    try:
        part = checked_plan_file(path, fix, sha256)
    except ValueError as error:
        raise RecordsError(str(error)) from None
    notebooks = {name: list(held) for name, held in part["notebooks"].items()}
    decisions = {key: value for key, value in part.items() if key != "notebooks"}
    return KeptPlan(decisions, notebooks)
