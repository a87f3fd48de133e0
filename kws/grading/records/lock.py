"""One command at a time writes a grades folder, and one stopped half-way says so: ``run.lock``.

    with holding(grades, "kws grade", scope=CLASS) as run:   # FolderBusy while another writes
        ...                                                   # write the folder
        run.said = "graded 3 of 8, kept 5 as they were"      # what it did, should it stop early
    check_finished(grades)                                    # before grades are published

The lock is an exclusive `flock` on ``GRADES/run.lock``, which holds the `RunRecord` of the run
that holds it or held it last (docs/how-to/grade-class.md, "A run stopped half-way"). A
``running`` record whose lock no process holds is a run that was killed. A run's `scope` says
what it rewrites (`CLASS`, `student_scope`, `SEASON`: standings, gradebook, seal); a run
finishes an unfinished one when its scope covers the other's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from kws.grading.records.files import record_time, remove_partials, remove_stale_temporaries
from kws.grading.records.seal import RecordsError, check_seal, digests, unchanged

LOCK_FILE = "run.lock"
RUNNING, STOPPED, FINISHED = "running", "stopped", "finished"
CLASS, SEASON = "class", "season"
_GLANCES = 50  # tries (20 ms apart) before a lock held by no named run counts as busy
_ONE_AT_A_TIME = (
    "one command at a time writes a grades folder: wait for it to end, or give --wait to wait "
    "for it"
)
_KIT = Path(__file__).resolve().parents[2]  # the `kws` package: `python -m kws.cli` runs from it


class FolderBusy(RecordsError):
    """Another command is writing the grades folder; the message names it."""


def student_scope(student: str) -> str:
    """The scope of a run that regrades `student` alone."""
    return f"student {student}"


def covers(scope: str, other: str) -> bool:
    """Whether a run of `scope` rewrites everything a run of scope `other` does."""
    return scope == CLASS or scope == other or other == SEASON


@dataclass
class RunRecord:
    """A run of a command on a grades folder, as ``run.lock`` records it."""

    command: str  # as typed (``kws grade submissions --data data --out grades``) or its verb
    scope: str
    pid: int
    host: str
    cwd: str
    started: str  # ISO 8601, UTC
    state: str = RUNNING
    said: str = ""  # what a stopped run did: "graded 3 of 8, kept 5 as they were"
    ended: str = ""

    def describe(self) -> str:
        """The run in words: ``kws grade ...`` (pid 4242 on lab-3, started ..., in /home/...)."""
        return (f"`{self.command}` (pid {self.pid} on {self.host}, started {self.started}, "
                f"in {self.cwd})")  # fmt: skip

    def unfinished(self, folder: Path) -> str:
        """The sentence saying this run did not finish and how to finish it."""
        how = "stopped" if self.state == STOPPED else "killed (or its machine went down)"
        said = f" ({self.said})" if self.said else ""
        return (f"{folder}: {self.describe()} was {how} before it finished{said}, so what it "
                "changed is not a grade yet; run it again to finish it: "
                f"{self.command}")  # fmt: skip

    @classmethod
    def parse(cls, text: str) -> RunRecord | None:
        """The record `text` holds (what follows it is ignored: a longer record it replaced),
        or None where it holds none."""
        try:
            document, _ = json.JSONDecoder().raw_decode(text.lstrip())
            return cls(**document)
        except (ValueError, TypeError):
            return None


_held: dict[str, RunRecord] = {}  # folder (resolved) -> the run this process holds it for
_guard = threading.Lock()


def typed_command(verb: str) -> str:
    """The command line this process was started with, as the user typed it (``kws grade
    ...``), when it is the `kws` command; `verb` otherwise (the API called from Python)."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and (script.name == "kws" or _inside(script, _KIT)):
        return shlex.join(["kws", *sys.argv[1:]])
    return verb


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder)
    except OSError:
        return False


def _read(descriptor: int) -> str:
    return os.pread(descriptor, 1 << 16, 0).decode("utf-8", errors="replace")


def _write(descriptor: int, text: str, folder: Path) -> None:
    """`text` over the lock file's content: written first, then cut to its length, so a
    process killed between the two leaves the new record (and a tail `RunRecord.parse`
    ignores). A failure (a full disk) names the file."""
    data = text.encode("utf-8")
    try:
        os.pwrite(descriptor, data, 0)
        os.ftruncate(descriptor, len(data))
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(folder / LOCK_FILE)) from error


def _record_text(record: RunRecord) -> str:
    return json.dumps(asdict(record), indent=1) + "\n"


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on the file `path` (made if missing; only its lock matters,
    never its content) while the block runs, waiting for the process that holds it; the kernel
    releases it when the file is closed, or its process ends however it ends. The marks take it
    on ``marks/.lock``."""
    with open(path, "a", opener=lambda name, flags: os.open(name, flags, 0o600)) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _open_locked(folder: Path, wait: bool) -> tuple[int, bool]:
    """The lock file of `folder` open and locked (exclusive), and whether it was created;
    FolderBusy naming the run that holds it, unless `wait`."""
    path = folder / LOCK_FILE
    said_waiting = False
    glances = 0
    while True:
        created = False
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            created = True
        except FileExistsError:
            try:
                descriptor = os.open(path, os.O_RDWR)
            except FileNotFoundError:  # removed meanwhile by the run that held it
                continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = RunRecord.parse(_read(descriptor))
            if holder is None or holder.state != RUNNING:  # a reader's glance, or a run that
                if glances < _GLANCES:  # has not said who it is yet: milliseconds
                    os.close(descriptor)
                    glances += 1
                    time.sleep(0.02)
                    continue
            who = holder.describe() if holder else "another process"
            if not wait:
                os.close(descriptor)
                raise FolderBusy(f"{folder}: {who} is writing it now; {_ONE_AT_A_TIME}") from None
            if not said_waiting:
                print(f"waiting for {who} to finish writing {folder} ...", file=sys.stderr,
                      flush=True)  # fmt: skip
                said_waiting = True
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            except BaseException:  # Ctrl-C while waiting
                os.close(descriptor)
                raise
        try:  # the file locked is still the one at `path` (a run that ended may remove it)
            same = os.path.samestat(os.fstat(descriptor), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return descriptor, created
        os.close(descriptor)


@contextlib.contextmanager
def holding(
    grades_dir: Path, command: str, *, scope: str, wait: bool = False
) -> Iterator[RunRecord]:
    """Hold `grades_dir`'s lock while the block writes it (nested holds by this process share
    the outermost one).

    Args:
        grades_dir: the grades folder (made if missing; removed again if the block leaves it
            empty).
        command: the command's verb, e.g. ``"kws grade"``; recorded as typed where this
            process is the `kws` command (`typed_command`).
        scope: what the command rewrites: `CLASS`, `student_scope`, `SEASON`.
        wait: wait for a run that holds the lock instead of refusing.

    Yields:
        The run's record; set its ``said`` to what it did before it stops early.

    Raises:
        FolderBusy: another run holds the lock (and not `wait`).
        RecordsError: an unfinished run changed records this command's scope does not rewrite;
            the message names the command that finishes it.
    """
    folder = Path(grades_dir)
    key = str(folder.resolve())
    with _guard:
        held = _held.get(key)
    if held is not None:  # this process writes the folder already (`kws grade` -> its season)
        yield held
        return
    made = not folder.exists()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(folder)
    descriptor, created = _open_locked(folder, wait)
    held, found, before = None, "", {}
    try:
        found = _read(descriptor)
        _check_finishes(folder, RunRecord.parse(found), scope)
        record = RunRecord(typed_command(command), scope, os.getpid(), socket.gethostname(),
                           os.getcwd(), record_time())  # fmt: skip
        before = digests(folder)
        _write(descriptor, _record_text(record), folder)
        held = record
        with _guard:
            _held[key] = held
        remove_partials(folder)  # what killed runs left: no one else writes them now
        remove_stale_temporaries()
        yield record
        record.state, record.said, record.ended = FINISHED, "", record_time()
        _write(descriptor, _record_text(record), folder)
    except BaseException:
        if held is not None and digests(folder) != before:  # a record changed: say so
            held.state, held.ended = STOPPED, record_time()
            _write(descriptor, _record_text(held), folder)
        elif created:  # nothing changed: the folder as it was
            with contextlib.suppress(OSError):
                (folder / LOCK_FILE).unlink()
        elif held is not None:
            _write(descriptor, found, folder)
        raise
    finally:
        with _guard:
            _held.pop(key, None)
        os.close(descriptor)
        if made:
            with contextlib.suppress(OSError):  # only if empty
                folder.rmdir()


def _check_finishes(folder: Path, earlier: RunRecord | None, scope: str | None) -> None:
    """RecordsError when `earlier` did not finish and changed records a run of `scope` does not
    rewrite (None: a command that only reads them), naming the command that finishes it."""
    if earlier and earlier.state != FINISHED and not (scope and covers(scope, earlier.scope)):
        if not unchanged(folder):
            then = ", then this command" if scope else ""
            raise RecordsError(earlier.unfinished(folder) + then)


def check_may_write(grades_dir: Path, scope: str, *, wait: bool = False) -> None:
    """What `holding` refuses, said before a command of `scope` reads its inputs, whatever
    else is wrong: FolderBusy while another run writes the folder (unless `wait`), and
    RecordsError when an unfinished run changed records that scope does not rewrite, naming
    the command that finishes it."""
    folder = Path(grades_dir)
    if holds(folder) or (wait and running(folder)):  # `holding` waits for it, then looks again
        return
    if not wait:
        refuse_running(folder, _ONE_AT_A_TIME)
    _check_finishes(folder, last_run(folder), scope)


def refuse_running(folder: Path, advice: str) -> None:
    """FolderBusy naming the run writing `folder` now (another process holds its lock), if one
    is, and `advice`: what to do about it."""
    now = running(folder)
    if now is not None:
        raise FolderBusy(f"{folder}: {now.describe()} is writing it now; {advice}")


def _owner_only(folder: Path) -> None:
    """The grades folder and the folders its commands write closed to other local users (mode
    0700, as ``results/`` is): a shared grading server's other accounts read no grade."""
    for where in (folder, *(folder / name for name in ("marks", "history"))):
        with contextlib.suppress(OSError):  # not ours to change (or not there): as it is
            if where.is_dir() and not where.is_symlink() and where.stat().st_mode & 0o077:
                where.chmod(0o700)


def holds(grades_dir: Path) -> bool:
    """Whether this process holds `grades_dir`'s lock (a command inside its own write)."""
    with _guard:
        return str(Path(grades_dir).resolve()) in _held


def last_run(grades_dir: Path) -> RunRecord | None:
    """The record of the run that holds `grades_dir`'s lock or held it last; None where no
    command of this kit wrote the folder."""
    try:
        return RunRecord.parse((Path(grades_dir) / LOCK_FILE).read_text(errors="replace"))
    except OSError:
        return None


def running(grades_dir: Path) -> RunRecord | None:
    """The run writing `grades_dir` now (another process holds its lock), or None."""
    if holds(grades_dir):
        return None
    path = Path(grades_dir) / LOCK_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        found = RunRecord.parse(_read(descriptor))
        unknown = RunRecord("a command", "", 0, "this machine", "?", "?")
        return found if found and found.state == RUNNING else unknown
    finally:
        os.close(descriptor)  # and with it the shared lock


def check_no_run(grades_dir: Path) -> None:
    """No run is writing `grades_dir` (FolderBusy naming it), and no unfinished run changed
    its records (RecordsError naming the command that finishes it); nothing to check inside
    this process's own hold (`holding`)."""
    folder = Path(grades_dir)
    if holds(folder):
        return
    refuse_running(folder, "run this command once it has finished")
    _check_finishes(folder, last_run(folder), None)


def check_finished(grades_dir: Path) -> None:
    """`check_no_run`, then the seal (`kws.grading.records.seal.check_seal`): the folder's
    records are those the last command left when it finished."""
    check_no_run(grades_dir)
    check_seal(grades_dir)
