"""Grade a whole class: one `pytest grader/` process per submission, in parallel, into a gradebook.

    kws grade SUBMISSIONS_DIR --data DATA --jobs 2 --out grades/ [--assignment speaker_id]
        [--tiers FILE | --dataset NAME]

`SUBMISSIONS_DIR` holds one folder per student (the folder name is the student's name in the
gradebook). Each is graded by its own pytest process, so a submission that brings the grader
down costs only its own row; the gradebook still gets that row, with zeros and the reason. Each
grader runs in a session of its own (`GraderProcesses`): a time-out ends it with everything it
started, and Ctrl-C (or SIGTERM) stops every running one. The `jobs` grading children running at
once share the cores: each gets its share as torch threads
(`kws.grading.sandbox.cores.child_threads`: on 2 cores with 2 jobs, 1 thread each instead of the
grader's 2).
Relative paths are the caller's; every child runs in OUT, so nothing is written into the kit.
The accuracy tier set is settled before any child starts: data the kit does not know stops the
run at once with the option to add, instead of failing every student.

Writes ``OUT/results/<student>.json`` (Gradescope schema), ``OUT/logs/<student>.txt`` (pytest's
output, for the staff), ``OUT/gradebook.csv``: one row a student, one column a test, the
total, the maximum, and the tier set each notebook was graded against, and ``OUT/run.json``:
the absolute submissions and data folders, where `kws report` finds the hand-ins' notebooks.
"""

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING

from kws.grading.classrun.checks import handin_folders, season_to_grade
from kws.grading.command import grader_command, grader_environment
from kws.grading.records.files import copy_whole
from kws.grading.records.gradebook import (
    ROSTER_FILE,
    Graded,
    safe_name,
    write_gradebook,
    write_run_record,
)
from kws.grading.sandbox.cores import child_threads
from kws.grading.sandbox.run import START_FAILED_EXIT, STOPPED, SandboxStartError
from kws.grading.season.apply import apply_season
from kws.grading.season.course import checked_grader_options
from kws.grading.season.inputs import keep_season_files

if TYPE_CHECKING:
    from kws.grading.classrun.shards import Shard
    from kws.grading.records.roster import Roster
    from kws.grading.season.inputs import SeasonInputs


class GraderProcesses:
    """The graders of one batch, each ``python -m pytest`` in a session of its own, so that the
    whole process group a grader started can be ended; `run` may be called from several threads
    at once. `stop` ends every running grader and refuses new ones.

    Used as a context manager in the main thread, Ctrl-C (SIGINT) and SIGTERM call `stop` while
    the block runs, and the block ends with KeyboardInterrupt. The handler stops the graders
    itself, first: Python runs it wherever the main thread is when it next looks, and a
    KeyboardInterrupt raised inside a callback (the import system's, during a garbage
    collection) is printed and dropped. While a pool of threads runs the graders (`pooled`), it
    raises nothing: an exception in the middle of the pool's bookkeeping could leave a lock
    held. The main thread then waits in slices (`wait_for`, at most `WAKE_SECONDS` each), so
    that a handler held back by a blocking wait runs within that, and the block ends with the
    interrupt once every grader is done.
    """

    WAKE_SECONDS = 0.25  # the longest a signal waits for the main thread's next look

    def __init__(self):
        self._lock = threading.RLock()  # the handler may run while this thread holds it (in run)
        self._running: set[subprocess.Popen] = set()
        self._stopped = False
        self.signals: list[int] = []  # the signals that stopped the block
        self.pooled = False  # a pool of threads runs the graders: the handler raises nothing
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "GraderProcesses":
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(self, kind, error, traceback) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        if kind is not None:  # an error, or an interrupt raised elsewhere: no grader runs on
            self.stop()
        elif self.signals:
            raise KeyboardInterrupt

    def _on_signal(self, number: int, frame) -> None:
        self.signals.append(number)
        self.stop()
        if not self.pooled:
            raise KeyboardInterrupt

    def run(
        self, command: list[str], *, cwd: Path, log: Path, env: dict[str, str], timeout: float
    ) -> int | None:
        """Run `command` in `cwd` with environment `env`, its output into `log`; its exit code,
        or None when it ran longer than `timeout` seconds (its process group is then killed).
        RuntimeError when grading was stopped before it started."""
        with open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as output:
            with self._lock:
                if self._stopped:
                    raise RuntimeError("grading was stopped")
                grader = subprocess.Popen(
                    command,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: a time-out ends all of it
                )
                self._running.add(grader)
                if self._stopped:  # by a signal handled while it started, in this thread
                    _kill_group(grader.pid)
        try:
            return grader.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(grader.pid)
            grader.wait()
            return None
        finally:
            with self._lock:
                self._running.discard(grader)

    def stop(self) -> None:
        """End every running grader with everything it started; start no more."""
        with self._lock:
            self._stopped = True
            for grader in list(self._running):
                _kill_group(grader.pid)

    def wait_for(self, futures: list[Future]) -> None:
        """Wait until every one of `futures` is done, looking for signals between slices."""
        while wait(futures, timeout=self.WAKE_SECONDS).not_done:
            pass


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(pid, signal.SIGKILL)


def grade_one(
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
) -> Graded:
    """Run the grader (`kws.grading.command`; `grader`: another grader folder) on one
    submission in its own process; never raises for its faults. `threads`: torch threads of
    its grading child (default: the grader's, `kws.grading.sandbox.cores.child_threads`);
    `processes`: the batch's graders, to start it among (default: a set of its own); `env`:
    the grader's environment (default `kws.grading.command.grader_environment`).

    Every path is made absolute here, and the child runs in `out_dir`: its working directory
    is never the kit's folder, so nothing the grader writes lands there.
    """
    submission, data, out_dir = (Path(p).resolve() for p in (submission, data, out_dir))
    student = submission.name
    results = out_dir / "results" / f"{safe_name(student)}.json"
    log = out_dir / "logs" / f"{safe_name(student)}.txt"
    results.unlink(missing_ok=True)
    command = grader_command(
        submission, data, results, grader=grader, hide=hide, options=pytest_args, threads=threads
    )
    start = time.monotonic()
    with contextlib.ExitStack() as alone:
        if processes is None:  # a grader of its own (kws grade --student): Ctrl-C stops it too
            processes = alone.enter_context(GraderProcesses())
        code = processes.run(
            command, cwd=out_dir, log=log, env=env or grader_environment(), timeout=timeout
        )
    if code is None:
        problem = f"the grader ran longer than {timeout:g} s and was stopped"
    else:
        lines = log.read_text(errors="replace").strip().splitlines()
        problem = f"the grader exited with code {code}: {(lines or ['no output'])[-1]}"
        if code == START_FAILED_EXIT and not results.is_file():  # the machine's, not the student's
            said = [line.partition(STOPPED)[2] for line in lines if STOPPED in line]
            why = said[-1].strip(" !") if said else problem  # pytest's "! Exit: ... !" line
            raise SandboxStartError(f"grading {student} ({log}): {why}")
    seconds = time.monotonic() - start
    try:
        document = json.loads(results.read_text())
        return Graded(student, document, "", seconds)
    except (OSError, json.JSONDecodeError):
        return Graded(student, None, problem, seconds)


def grade_batch(
    submissions_dir: Path,
    data: Path,
    out_dir: Path,
    *,
    jobs: int = 2,
    grader: Path | None = None,
    pytest_args: list[str] = (),
    timeout: float = 3600.0,
    assignment: str | None = None,
    dataset: str | None = None,
    tiers: Path | None = None,
    shard: "Shard | None" = None,
    roster: "Roster | None" = None,
    course: Path | None = None,
    times: Path | None = None,
    file_times: bool | None = None,
    season: "SeasonInputs | None" = None,
) -> Path:
    """Grade every folder in `submissions_dir` with `jobs` parallel graders; return the gradebook.

    `assignment` grades one notebook only; `dataset` / `tiers` name the accuracy tier set
    (`kws.grading.judge.tiers`). ValueError / FileNotFoundError, before any child starts, when the
    data cannot grade the selection. The submissions folder and `out_dir` are hidden from every
    child, and the results and logs folders are the instructor's alone (mode 0700), so no
    student's code can read a classmate's notebook, checkpoint or results. Ctrl-C (or SIGTERM)
    stops every grader and their children, and raises KeyboardInterrupt.

    `shard` (`kws.grading.classrun.shards.Shard`): grade only its share of the class, into its own
    folder under ``out_dir/shards/`` with a record for `kws.grading.classrun.shards.merge_shards`.
    `roster` (`kws.grading.records.roster.Roster`): copied as ``roster.csv`` and named in run.json, for
    `kws export`; the grades do not depend on it. `course` / `times` / `file_times`: the course
    file, a hand-in times CSV and ``--file-times`` (`kws.grading.season.apply`), kept beside the
    gradebook and applied to it; or `season`, what `kws.grading.classrun.checks.season_to_grade`
    read of them already. Every one is checked against the hand-ins before anything is written
    or graded (CourseError naming the file given).
    """
    with GraderProcesses() as graders:  # from here on, Ctrl-C leaves no grader running
        submissions_dir, out_dir, data = (
            Path(p).resolve() for p in (submissions_dir, out_dir, data)
        )
        students = handin_folders(submissions_dir)
        options = checked_grader_options(
            data, assignment, dataset=dataset, tiers=tiers, course=course
        )
        if season is None:
            season = season_to_grade(submissions_dir, out_dir, data, assignment=assignment,
                                     course=course, times=times, file_times=file_times,
                                     roster=roster)  # fmt: skip
        target, chosen = out_dir, students
        if shard is not None:
            target = shard.folder(out_dir)
            chosen = [submissions_dir / name for name in shard.share([p.name for p in students])]
        for folder in ("results", "logs"):  # the instructor's eyes only: no child may read them
            (target / folder).mkdir(parents=True, exist_ok=True)
            (target / folder).chmod(0o700)
        if roster is not None:  # the students' identities: the instructor's alone
            copy_whole(roster.path, target / ROSTER_FILE, private=True)
        write_run_record(
            target, submissions_dir, data, assignment, roster_key=roster.key if roster else None
        )
        record = None
        if shard is not None:  # `kws merge` applies them to the merged gradebook
            keep_season_files(out_dir, season)
            from kws.grading.classrun.shards import grading_options, start_shard

            recorded = grading_options(
                submissions_dir, data, assignment=assignment, dataset=dataset, tiers=tiers,
                grader=grader, pytest_args=pytest_args, roster=roster.path if roster else None,
            )  # fmt: skip
            record = start_shard(target, shard, recorded, [p.name for p in students],
                                 [p.name for p in chosen])  # fmt: skip
        grading = {"grader": grader, "pytest_args": [*options, *pytest_args], "timeout": timeout}
        graded = _grade_all(graders, chosen, data, target, [submissions_dir, out_dir], jobs,
                            **grading)  # fmt: skip
        gradebook = write_gradebook(graded, target / "gradebook.csv")
        if record is not None:
            from kws.grading.classrun.shards import finish_shard

            finish_shard(target, record, graded)
        else:
            apply_season(target, season=season, command="kws grade")
        return gradebook


def _grade_all(
    graders: GraderProcesses,
    students: list[Path],
    data: Path,
    out_dir: Path,
    hide: list[Path],
    jobs: int,
    **grading,
) -> list[Graded]:
    """`grade_one` for each of `students`, `jobs` at a time among `graders`, in their order;
    `hide`: folders no child may see; `grading`: `grade_one`'s grader, pytest_args and timeout.
    Ctrl-C (or SIGTERM) stops every grader with what it started (the caller's block of
    `graders` then ends with KeyboardInterrupt)."""
    env = grader_environment()

    def one(submission: Path) -> Graded:
        try:
            return grade_one(
                submission,
                data,
                out_dir,
                hide=hide,
                threads=child_threads(jobs),
                processes=graders,
                env=env,
                **grading,
            )
        except SandboxStartError:  # no one can be graded on this machine: stop the others
            graders.stop()
            raise

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
    for future in futures:  # the machine's fault first: the others were stopped for it
        if isinstance(future.exception(), SandboxStartError):
            raise future.exception()
    if graders.signals:
        raise KeyboardInterrupt
    return [future.result() for future in futures]
