"""Grade a whole class: one `pytest grader/` process per submission, in parallel, into a gradebook.

    kws grade SUBMISSIONS_DIR --data DATA --jobs 2 --out grades/ [--assignment speaker_id]
        [--tiers FILE | --dataset NAME]

Each hand-in folder (its name is the student's in the gradebook) is graded by its own grader
(`kws.grading.classrun.graders`), so a hand-in that brings it down costs only its own row. What
the run writes, and what a run stopped half-way leaves, is on docs/how-to/grade-class.md; the
steps of a run, on docs/development/architecture.md. Every child runs in OUT, so nothing is
written into the kit.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from kws.grading.classrun.graders import GraderFault, GraderProcesses, RunStopped
from kws.grading.classrun.one import CollectionFault, remove_staging, stage_one
from kws.grading.command import grader_environment
from kws.grading.judge.planned import PLAN_FILE
from kws.grading.records.files import copy_whole, temporary_prefix, write_whole
from kws.grading.records.gradebook import ROSTER_FILE, Graded, gradebook_csv, write_run_record
from kws.grading.records.grades import grades_of
from kws.grading.records.lock import CLASS, holding
from kws.grading.records.plan import keep_plan
from kws.grading.sandbox.cores import child_threads
from kws.grading.sandbox.faults import machine_fault
from kws.grading.season.apply import apply_season
from kws.grading.season.inputs import keep_season_files

if TYPE_CHECKING:
    from kws.grading.classrun.plan import GradingPlan
    from kws.grading.records.standings import Standings


def summary(done: list[str], students: list[str]) -> str:
    """What a stopped run did: ``graded 3 of 8 (alice, bob, carol), kept 5 as they were``."""
    kept = len(students) - len(done)
    names = f" ({', '.join(done)})" if done and len(done) <= 10 else ""
    return f"graded {len(done)} of {len(students)}{names}, kept {kept} as they were"


def grade_class(
    plan: GradingPlan,
    *,
    jobs: int = 2,
    grader: Path | None = None,
    pytest_args: list[str] = (),
    timeout: float = 3600.0,
    wait: bool = False,
) -> tuple[Path, Standings | None]:
    """Grade the hand-ins `plan` chose (`kws.grading.classrun.plan.plan_run`) with `jobs`
    parallel graders (`grader`: another grader folder, `pytest_args` for each, `timeout`
    seconds a hand-in); return the gradebook and the standings the season gave (None for a
    shard, into its own folder: `kws merge` applies the season). The submissions folder and
    the grades folder are hidden from every child, and the results and logs folders are the
    instructor's alone (mode 0700), so no student's code can read a classmate's work.

    Raises `RunStopped` (Ctrl-C, SIGTERM) or `GraderFault` (the grading machine failed), each
    saying how many were graded, every other student as they were; FolderBusy while another
    command writes the folder (`kws.grading.records.lock`), unless `wait`.
    """
    out_dir, season, shard = plan.out, plan.season, plan.shard
    target = shard.folder(out_dir) if shard is not None else out_dir
    with GraderProcesses() as graders:  # from here on, Ctrl-C leaves no grader running
        with holding(target, "kws grade", scope=CLASS, wait=wait) as run:
            for folder in ("results", "logs"):  # the instructor's eyes only: no child reads them
                (target / folder).mkdir(parents=True, exist_ok=True)
                (target / folder).chmod(0o700)
            if plan.roster is not None:  # the students' identities: the instructor's alone
                copy_whole(plan.roster.path, target / ROSTER_FILE)
            applied = {"course": season.course_file, "times": season.times_file}
            write_run_record(target, plan.submissions, plan.data, plan.assignment,
                             roster_key=plan.roster.key if plan.roster else None,
                             season={k: v for k, v in applied.items() if v})  # fmt: skip
            shared = plan.held if shard is None else {p.name: plan.held.get(p.name, set())
                                                      for p in plan.chosen}  # fmt: skip
            kept = keep_plan(target, json.loads(plan.graders), shared)  # the record's first
            record = None
            if shard is not None:  # `kws merge` applies them to the merged gradebook
                keep_season_files(out_dir, season)
                record = _start_shard(target, plan, grader, pytest_args)
            hide = [plan.submissions, out_dir]
            try:
                with plan_file(plan) as planned:
                    grading = {"grader": grader, "pytest_args": list(pytest_args),
                               "timeout": timeout, "plan": planned}  # fmt: skip
                    graded = _grade_all(graders, plan.chosen, plan.data, target, hide, jobs,
                                        targets=plan.targets, **grading)  # fmt: skip
            except (RunStopped, GraderFault) as stop:
                run.said = getattr(stop, "summary", "")
                raise
            finally:
                remove_staging(target)
            run.said = f"graded {len(graded)} of {len(graded)}, not yet in the gradebook"
            standings = None
            try:
                text = gradebook_csv(graded)
                gradebook = write_whole(target / "gradebook.csv", text)
                if record is not None:
                    from kws.grading.classrun.shards import finish_shard

                    finish_shard(target, record, graded)
                else:  # the season, applied to the results as graded: nothing read back
                    documents = {g.student: g.document for g in graded}
                    grades = grades_of(target, text, documents, plan.submissions)
                    standings = apply_season(target, season=season, command="kws grade",
                                             grades=grades, kept=kept)  # fmt: skip
            except RunStopped as stop:  # after the last grader: the records half-written
                finish = f"{target}: {run.said}; run the same command to finish"
                raise RunStopped(stop.number, finish) from None
        return gradebook, standings


def _start_shard(
    folder: Path, plan: GradingPlan, grader: Path | None, pytest_args: list[str]
) -> dict:
    """Record in `folder` (``shard.json``) that the shard of `plan` started grading its share;
    the record to finish (`kws.grading.classrun.shards.finish_shard`). It holds the options
    every shard of the class must have graded with (`kws merge` compares them), the files given
    that the grades do not depend on (the roster and its column, the course file, the times),
    for the command that grades it again (`regrade_command`), and the decisions of the plan
    every shard shares (`GradingPlan.shared`) with their digest."""
    from kws import __version__
    from kws.grading.classrun.shards import RUNNING, file_digest, write_record
    from kws.grading.judge.planned import plan_digest

    roster, season, shared, tiers = plan.roster, plan.season, plan.shared(), plan.tiers
    given = {
        "roster": roster.path if roster else None,
        "roster_key": roster.key if roster else None,
        "course": season.course_file,
        "times": season.times_file,
    }
    options = {
        "submissions": str(Path(plan.submissions).resolve()),
        "data": str(Path(plan.data).resolve()),
        "assignment": plan.assignment,
        "dataset": plan.dataset,
        "tiers": str(Path(tiers).resolve()) if tiers else None,
        "tiers_sha256": file_digest(tiers),
        "grader": str(Path(grader).resolve()) if grader else None,
        "pytest_args": list(pytest_args),
        "roster_sha256": file_digest(roster.path if roster else None),
        "kws_version": __version__,
    }
    record = {
        "given": {
            k: str(v if k == "roster_key" else Path(v).resolve()) for k, v in given.items() if v
        },
        "shard": plan.shard.index,
        "count": plan.shard.count,
        "status": RUNNING,
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "options": options,
        "plan_sha256": plan_digest(shared),
        "plan": shared,
        "handins": sorted(p.name for p in plan.handins),
        "share": [p.name for p in plan.chosen],
    }
    write_record(folder, record)
    return record


@contextlib.contextmanager
def plan_file(plan: GradingPlan) -> Iterator[Path]:
    """The graders' part of `plan`, written into a folder of the run's own for every grader's
    ``--plan``; the folder is removed when the graders are done."""
    with tempfile.TemporaryDirectory(prefix=temporary_prefix("kws-plan")) as folder:
        path = Path(folder) / PLAN_FILE
        path.write_text(plan.graders, encoding="utf-8")
        yield path


def _grade_all(
    graders: GraderProcesses,
    students: list[Path],
    data: Path,
    out_dir: Path,
    hide: list[Path],
    jobs: int,
    targets: dict[str, str],
    **grading,
) -> list[Graded]:
    """`stage_one`, then its commit, for each of `students`, `jobs` at a time among `graders`,
    in their order; `hide`: folders no child may see; `targets`: each hand-in's folder when
    the run was planned (`GradingPlan.targets`); `grading`: `stage_one`'s grader, pytest_args
    and timeout. Stops as `grade_class` says, the exception's ``summary`` saying
    how many were graded."""
    env = grader_environment()
    done: dict[str, Graded] = {}
    faults: list[GraderFault] = []

    def one(submission: Path) -> Graded:
        try:
            graded = stage_one(submission, data, out_dir, hide=hide,
                               threads=child_threads(jobs), processes=graders, env=env,
                               target=targets.get(submission.name),
                               **grading).commit()  # fmt: skip
        except CollectionFault as fault:  # that hand-in's folder: the others grade on
            faults.append(fault)
            raise
        except GraderFault as fault:  # the machine: the next graders would meet it too
            faults.append(fault)
            graders.stop()
            raise
        except OSError as error:  # writing its results here: the grades folder's disk
            reason = machine_fault(error)
            if reason is None:
                raise
            faults.append(GraderFault(f"the grading machine failed while recording "
                                      f"{submission.name}'s results: {reason}"))  # fmt: skip
            graders.stop()
            raise
        done[submission.name] = graded
        return graded

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        graders.pooled = True
        try:
            futures = [pool.submit(one, student) for student in students]
            graders.wait_for(futures)
        except BaseException:  # no grader may run on while the pool waits for it
            graders.stop()
            raise
        finally:
            graders.pooled = False
    names = [p.name for p in students]
    said = summary([n for n in names if n in done], names)
    if faults:
        machine = [f for f in faults if not isinstance(f, CollectionFault)]
        first = (machine or faults)[0]
        fix = getattr(first, "fix", "fix the machine (free space, memory), then run the same "
                      "command to finish")  # fmt: skip
        fault = type(first)(f"{first}; {out_dir}: {said}. {fix[0].upper()}{fix[1:]}")
        fault.summary = said
        raise fault
    if graders.signals:
        number = graders.signals[0]
        stop = RunStopped(number, f"{out_dir}: {said}; run the same command to finish")
        stop.summary = said
        raise stop
    for future in futures:  # an error of the kit's own (not the hand-in's, not the machine's)
        future.result()
    return [done[name] for name in names]
