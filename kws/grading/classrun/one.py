"""One hand-in graded by a grader process of its own, into staging folders first: its results
and log replace the earlier ones only once they are whole (`stage_one`, then
`Staged.commit`), or are discarded. `kws.grading.classrun.batch` grades a class with it,
`kws.grading.classrun.regrade` one student again.

A hand-in graded is the hand-in collected: a grader started on a folder that is gone meanwhile
says so in its failed tests, which would read as a 0 on every test, so the folder is checked
before and after each grader (`handin_state`, `check_collected`) and one that moved is a
`CollectionFault`, never a grade (its earlier result stays). A hand-in is named by its entry in
the submissions folder: a link there is graded under the link's name, and a link that points
elsewhere after its grading is a collection fault too.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from kws.grading.classrun.graders import (
    GraderFault,
    GraderProcesses,
    NotStarted,
    broken_tests_of,
    fault_of,
)
from kws.grading.command import grader_command, grader_environment
from kws.grading.records.files import PARTIAL, write_whole
from kws.grading.records.gradebook import Graded, safe_name, ungraded_document


def handin_state(folder: Path) -> tuple | None:
    """What a hand-in folder is now: the entry of the submissions folder (a collection
    script's link: the link itself and where it points), the folder it is, and each file's
    name, size and modification time (None when it is gone, or is no folder). The same before
    and after its grading, or the grade is not the hand-in's: `check_collected`."""
    try:
        entry = os.lstat(folder)
        link = os.readlink(folder) if stat.S_ISLNK(entry.st_mode) else None
        top = os.stat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(top.st_mode):  # a link swapped for one to a file (/etc/passwd)
        return None
    entries = []
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            try:
                found = os.lstat(path)
            except OSError:  # removed as we looked: the folder changed
                return None
            entries.append((os.path.relpath(path, folder), found.st_size, found.st_mtime_ns))
    named = (entry.st_dev, entry.st_ino, link)
    return (named, top.st_dev, top.st_ino, tuple(sorted(entries)))


class CollectionFault(GraderFault):
    """A hand-in folder vanished or changed while it was graded: what the grader said is not
    the hand-in's grade. No grade is recorded; the message names the folder and what to do."""

    fix = ("put the hand-in folder back as it was collected (or collect the class again), "
           "then run the same command to finish")  # fmt: skip


def check_collected(submission: Path, before: tuple | None, out_dir: Path) -> None:
    """CollectionFault when the hand-in folder `submission` is not what it was when its
    grading started (`before`, from `handin_state`): renamed, removed or changed under it."""
    now = handin_state(submission)
    if before is not None and now == before:
        return
    link = os.readlink(submission) if os.path.islink(submission) else None
    if now is None:
        what = "is no folder" if os.path.lexists(submission) else "is gone (renamed or removed)"
    else:
        what = "changed"
    if link is not None and (before is None or before[0][2] != link):
        what += f" (a link to {link} now)"
    when = "before its grading started" if before is None else "while it was graded"
    raise CollectionFault(
        f"the hand-in folder {submission} {what} {when}: a collection fault, not the "
        f"student's; {submission.name} was not graded (no 0 recorded, the earlier result in "
        f"{out_dir} kept)"
    )


@dataclass
class Staged:
    """A student graded into the staging folders, not yet in place: `commit` puts the results
    and the log where the earlier ones were, one rename each."""

    graded: Graded
    results: Path  # OUT/results/<student>.json
    log: Path  # OUT/logs/<student>.txt
    staged_results: Path
    staged_log: Path

    def commit(self) -> Graded:
        os.chmod(self.staged_results, 0o600)  # the instructor's alone, as every record is
        os.replace(self.staged_results, self.results)
        if self.staged_log.is_file():
            os.chmod(self.staged_log, 0o600)
            os.replace(self.staged_log, self.log)
        return self.graded

    def discard(self) -> None:
        for path in (self.staged_results, self.staged_log):
            path.unlink(missing_ok=True)


def _staged_paths(out_dir: Path, student: str) -> tuple[Path, Path]:
    """Where `student`'s grader writes its results and log until they are complete."""
    name = safe_name(student)
    paths = (
        out_dir / "results" / PARTIAL / f"{name}.json",
        out_dir / "logs" / PARTIAL / f"{name}.txt",
    )
    for path in paths:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the instructor's alone
        path.unlink(missing_ok=True)
    return paths


def _read_document(path: Path) -> dict | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _output(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


def stage_one(
    submission: Path,
    data: Path,
    out_dir: Path,
    *,
    grader: Path | None = None,
    hide: list[Path] = (),
    pytest_args: list[str] = (),
    timeout: float = 3600.0,
    threads: int | None = None,
    processes: GraderProcesses | None = None,
    env: dict[str, str] | None = None,
    plan: Path | None = None,
    target: str | None = None,
) -> Staged:
    """Run the grader (`kws.grading.command`; `grader`: another grader folder) on one
    submission in its own process, into the staging folders: `Staged.commit` puts its results
    and log in place of the earlier ones, whole (`kws.grading.classrun.regrade` keeps the
    earlier result first), `Staged.discard` drops them. `threads`: torch threads of its
    grading child (default: the grader's, `kws.grading.sandbox.cores.child_threads`);
    `processes`: the batch's graders, to start it among (default: a set of its own); `env`:
    the grader's environment (default `kws.grading.command.grader_environment`); `plan`: the
    run's plan file (`kws.grading.classrun.plan.GradingPlan.graders`), whose tier sets the
    grader takes; `target`: the folder the hand-in's entry was when the run was planned
    (`GradingPlan.targets`), a hand-in that is another one now being a `CollectionFault`.

    What the hand-in does never raises: a grader it brings down, or that runs past `timeout`,
    gives results with no test and the reason (`ungraded_document`). Raises NotStarted when the
    batch was stopped before or while it ran, RunStopped when Ctrl-C or SIGTERM stopped a
    grader of its own, GraderFault when the grading machine failed under it
    (`kws.grading.classrun.graders.fault_of`), or its kind GradedTestsFault when a graded test
    file of the course could not be loaded (`broken_tests_of`); the student's earlier results
    and log are then untouched.

    Every path is made absolute here, and the child runs in `out_dir`: its working directory
    is never the kit's folder, so nothing the grader writes lands there.
    """
    data, out_dir = (Path(p).resolve() for p in (data, out_dir))
    # Named by its entry in the submissions folder, never by where a link there points (a
    # collection script links each student's latest attempt: `ben -> ../store/ben-attempt3`).
    submission = Path(submission).parent.resolve() / Path(submission).name
    student = submission.name
    results = out_dir / "results" / f"{safe_name(student)}.json"
    log = out_dir / "logs" / f"{safe_name(student)}.txt"
    staged_results, staged_log = _staged_paths(out_dir, student)
    staged = Staged(Graded(student, None, "", 0.0), results, log, staged_results, staged_log)
    command = grader_command(submission, data, staged_results, grader=grader, hide=hide,
                             options=pytest_args, threads=threads, plan=plan)  # fmt: skip
    start = time.monotonic()
    try:
        collected = handin_state(submission)
        if collected is None or (target is not None and os.path.realpath(submission) != target):
            check_collected(submission, None, out_dir)
        with contextlib.ExitStack() as alone:
            if processes is None:  # a grader of its own (kws grade --student): Ctrl-C stops it too
                processes = alone.enter_context(GraderProcesses())
            code = processes.run(
                command, cwd=out_dir, log=staged_log, env=env or grader_environment(),
                timeout=timeout,
            )  # fmt: skip
        seconds = time.monotonic() - start
        if not processes.stopped:  # a hand-in moved under its grader graded nothing of its own
            check_collected(submission, collected, out_dir)
        document = _read_document(staged_results)
        if document is not None:  # graded whole: whatever stops the run now, it counts
            staged.graded = Graded(student, document, "", seconds)
            return staged
        if processes.stopped:  # killed by the stop: not graded, as before
            raise NotStarted("grading was stopped")
        if code is None:
            problem = f"the grader ran longer than {timeout:g} s and was stopped"
        else:
            output = _output(staged_log)
            broken = broken_tests_of(code, output, student)
            if broken is not None:  # the course's file: no grade, the earlier one kept
                raise broken
            fault = fault_of(code, output, out_dir)
            if fault is not None:
                kept = log.with_name(f"{log.stem}.failed.txt")
                if staged_log.is_file():
                    os.replace(staged_log, kept)
                raise GraderFault(f"the grading machine failed while grading {student}: "
                                  f"{fault}. {student} was not graded (no 0 recorded; the "
                                  f"grader's log: {kept})")  # fmt: skip
            last = output.strip().splitlines()[-1:] or ["no output"]
            problem = f"the grader exited with code {code}: {last[0]}"
        write_whole(staged_results, json.dumps(ungraded_document(problem, seconds), indent=2))
        staged.graded = Graded(student, _read_document(staged_results), problem, seconds)
        return staged
    except BaseException:
        staged.discard()
        raise


def remove_staging(out_dir: Path) -> None:
    """The staging folders of `out_dir`, once its graders have ended (empty, unless a grader
    of a run killed before left files there: the next run's lock removes those)."""
    for folder in ("results", "logs"):
        with contextlib.suppress(OSError):
            (out_dir / folder / PARTIAL).rmdir()
