"""Files of the grades folder written whole, and text files read as instructors save them.

    write_whole(grades / "gradebook.csv", text)          # a reader sees the old file or the new
    write_whole(grades / "course.toml", data)            # mode 0600: the instructor's alone
    private_folder(Path("feedback"))                     # mode 0700, whatever the umask
    text = decode_text(Path("times.csv"), CourseError, "save it as CSV UTF-8 ...")

Every file a command writes into the grades folder goes through `write_whole` (a temporary file
beside the target, then one rename), so a command stopped half-way leaves each file as it was or
as it should be. What a killed command leaves of its temporary files, the next command that
writes the folder removes under the folder's lock (`remove_partials`). What the kit writes
outside it that holds grades (exports, feedback pages and zips, the class report, the
rehearsal's page) is written the same way, into folders made with `private_folder`: no other
local user reads it, whatever the umask (docs/reference/threat-model.md).
"""

from __future__ import annotations

import codecs
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

PARTIAL = ".partial"  # what every temporary file or folder of a grades folder ends with
# Where temporary files are: the folder itself and the subfolders commands write into.
PARTIAL_PLACES = (".", "results", "logs", "history", "marks")


def record_time() -> str:
    """Now, as the records say when: ISO 8601 in UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def write_whole(path: Path, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to `path` in one rename, mode 0600: every file of a grades
    folder is the instructor's alone (grades, students' identities, hand-in times), as
    ``results/`` is. Returns `path`."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}{PARTIAL}")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except OSError as error:  # named as the file it was writing, not its temporary twin
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_zip(path: Path, entries: list[tuple[Path, str]]) -> Path:
    """A zip of `entries` (each a file and its name in the zip) written to `path` as
    `write_whole` writes (mode 0600: feedback pages hold grades). Returns `path`."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for source, name in entries:
            bundle.write(source, name)
    return write_whole(path, buffer.getvalue())


def private_folder(path: Path, *, existing: bool = True) -> Path:
    """`path` made a folder only its owner reads (mode 0700, whatever the umask), with the
    parents it lacks (each 0700 too): a folder of pages or exports that hold grades
    (``kws feedback --out``). `existing`: whether a `path` that is there already is made
    0700 as well (False: the folder an export is written into, which may be the course's).
    Returns `path`."""
    path = Path(path)
    made = [folder for folder in (path, *path.parents) if not folder.exists()]
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in made + ([path] if existing else []):
        folder.chmod(0o700)
    return path


def remove_partials(folder: Path) -> list[Path]:
    """Remove what commands stopped half-way left of their temporary files and folders (a name
    ending in ``.partial``) in `folder` and its ``results/``, ``logs/`` and ``history/``; the
    paths removed. Only under the folder's lock (`kws.grading.records.lock`): a command that
    is writing them would lose them."""
    removed = []
    for place in PARTIAL_PLACES:
        where = Path(folder) / place
        if not where.is_dir():
            continue
        for path in sorted(where.glob(f"*{PARTIAL}")):
            if _writer_alive(path):  # `kws mark` saving a mark as this command starts
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


# The temporary folders a run makes outside the grades folder, each named with the pid of the
# process that made it (``kws-sandbox-4242-x1y2``): a grader's sandboxed child's copy of the
# kit and hand-in, the graders' plan, a grader's own folder. SIGKILL leaves them behind.
RUN_TEMPORARIES = ("kws-sandbox", "kws-plan", "kws-grading")


def temporary_prefix(kind: str) -> str:
    """The prefix of a temporary folder of `kind` (one of `RUN_TEMPORARIES`) made by this
    process, for `tempfile.mkdtemp`: what `remove_stale_temporaries` recognizes."""
    return f"{kind}-{os.getpid()}-"


def remove_stale_temporaries() -> list[Path]:
    """Remove this user's temporary folders of runs whose process is gone (a run killed with
    SIGKILL: tens of MiB a grader); the paths removed. What a living process made is left."""
    import tempfile  # noqa: PLC0415 - only here

    removed = []
    for path in Path(tempfile.gettempdir()).glob("kws-*-*-*"):
        head, pid = path.name.rsplit("-", 2)[:2]  # kws-sandbox, 4242 (mkdtemp's tail: no -)
        if head not in RUN_TEMPORARIES or not pid.isdigit():
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        mine = info.st_uid == os.geteuid() or os.geteuid() == 0  # root: a sandbox user's too
        if not mine or not path.is_dir() or path.is_symlink() or _alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, killed and not yet reaped, does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _writer_alive(path: Path) -> bool:
    """Whether the process that names itself in `path` (``.NAME.PID.partial``, `write_whole`'s)
    is still running: its write is in flight (a `kws mark` server takes no folder lock), so the
    file is not a killed command's leftover."""
    parts = path.name.removesuffix(PARTIAL).rsplit(".", 1)
    if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) == os.getpid():
        return False
    return _alive(int(parts[1]))


def copy_whole(source: Path, target: Path) -> Path:
    """`write_whole` of `source`'s bytes to `target` (nothing when they are the same file)."""
    if Path(source).resolve() == Path(target).resolve():
        return Path(target)
    return write_whole(target, Path(source).read_bytes())


def decode_text(path: Path, error: type[ValueError], advice: str) -> str:
    """The text of `path` as Notepad, Excel or an LMS saves it: UTF-8 with or without a
    byte-order mark, or UTF-16 with one (Excel's "Unicode text"). Anything else raises
    `error` naming the file, the line and offset of the first byte that is not UTF-8, and
    `advice`: a Windows code page (Excel's plain "CSV", Notepad's "ANSI": Big5 in Traditional
    Chinese, cp1250 in Polish) is refused, never guessed (`kws.grading.records.tables`)."""
    data = Path(path).read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        line = data[: failure.start].count(b"\n") + 1
        raise error(
            f"{path}, line {line}: not UTF-8 text (byte {data[failure.start]:#04x} at offset "
            f"{failure.start}; a Windows code page such as Big5 or cp1250, which Excel's plain "
            f"CSV saves, is not guessed); {advice}"
        ) from None
