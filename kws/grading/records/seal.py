"""The grades folder's record of itself, ``records.json``: written last by every command that
changes a grade, checked by every command that publishes one.

    {"version": 1, "generation": 7, "command": "kws adjust", "when": "2026-10-20T09:12:03+00:00",
     "files": {"gradebook.csv": "<sha256>", "standings.json": "...", "results/ann.json": "..."}}

`check_seal` refuses a folder whose record files are not those it sealed, or one with a
gradebook and no seal, naming the command that brings it in line. Why files and digests
rather than one database: docs/how-to/deadlines.md ("One source of truth").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from kws.grading.records.files import record_time, write_whole
from kws.grading.records.marks.rubric import afresh

SEAL_FILE = "records.json"
VERSION = 1
# The records of a grades folder (with results/*.json): the plan they were graded with
# (`kws.grading.records.plan`), what the grades are computed from and
# what they are written to (the written answers' rubrics and marks: `kws.grading.records.marks`,
# which seals after each mark). Not grades: logs/, history/, the report, run.json (where the
# hand-ins are: a moved folder is pointed at by `kws report --submissions`) and the roster copy.
SEALED = ("plan.json", "gradebook.csv", "standings.json", "adjustments.csv", "overrides.csv",
          "requests.csv", "course.toml", "times.csv", "season.json", "marks/rubrics.json",
          "marks/marks.json", "marks/comments.json")  # fmt: skip


class RecordsError(ValueError):
    """The grades folder's files disagree; the message names the file and the command to run."""


def digests(grades_dir: Path) -> dict[str, str]:
    """{file relative to `grades_dir`: sha256} of every record file there."""
    grades_dir = Path(grades_dir)
    paths = [grades_dir / name for name in SEALED] + sorted((grades_dir / "results").glob("*.json"))
    return {
        path.relative_to(grades_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in paths
        if path.is_file()
    }


def read_seal(grades_dir: Path) -> dict | None:
    """The folder's ``records.json``, or None where no command of this kit sealed it."""
    path = Path(grades_dir) / SEAL_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("version") != VERSION or not isinstance(record.get("files"), dict):
            raise ValueError("not a record of this kit")
    except (ValueError, AttributeError):
        raise RecordsError(f"{path} cannot be read; run `kws season {Path(grades_dir)}` to "
                           "write the grades and their record again") from None  # fmt: skip
    return record


def readable_seal(grades_dir: Path) -> dict | None:
    """`read_seal`, or None where the seal is cut short too (`kws season` writes it again)."""
    with contextlib.suppress(RecordsError):
        return read_seal(grades_dir)
    return None


def seal(grades_dir: Path, command: str) -> Path:
    """Record the digests of `grades_dir`'s record files as `command` left them (the last
    write of every command that changes grades); the record's path."""
    earlier = readable_seal(grades_dir)  # a seal cut short: what this one replaces
    record = {
        "version": VERSION,
        "generation": (earlier or {}).get("generation", 0) + 1,
        "command": command,
        "when": record_time(),
        "files": digests(grades_dir),
    }
    return write_whole(Path(grades_dir) / SEAL_FILE, json.dumps(record, indent=2) + "\n")


def unchanged(grades_dir: Path) -> bool:
    """Whether `grades_dir` is sealed and its record files are those it sealed."""
    record = readable_seal(grades_dir)
    return record is not None and digests(grades_dir) == record["files"]


def _whole_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def check_seal(grades_dir: Path) -> None:
    """RecordsError when the folder's record files are not those its last command sealed, or
    it has a gradebook and no seal."""
    record = read_seal(grades_dir)
    if record is None:
        if (Path(grades_dir) / "gradebook.csv").is_file():
            raise RecordsError(
                f"{grades_dir} has a gradebook.csv but no {SEAL_FILE}: the command that wrote it "
                "stopped before it finished (or a kit older than seals wrote it). Run "
                f"`kws season {grades_dir}` to check every result and write the gradebook, "
                "standings and seal from them, then this command"
            )
        return
    now, then = digests(grades_dir), record["files"]
    changed = sorted(name for name in set(now) | set(then) if now.get(name) != then.get(name))
    if not changed:
        return
    what = {name: "is new" if name not in then else "is gone" if name not in now else "changed"
            for name in changed}  # fmt: skip
    more = f" (and {len(changed) - 5} more)" if len(changed) > 5 else ""
    lost = [name for name in changed if name.startswith("marks/") and (
        what[name] == "is gone" or not _whole_json(Path(grades_dir) / name))]  # fmt: skip
    for name in lost:
        what[name] = "is gone" if what[name] == "is gone" else "cannot be read"
    listed = ", ".join(f"{name} {what[name]}" for name in changed[:5])
    if lost:  # never counted as no marks: rebuilt from their history first
        history = Path(grades_dir) / "marks" / "history.jsonl"
        fix = (f"rebuild {', '.join(lost)} from the marks' history: `kws marks restore "
               f"{grades_dir}`" if history.is_file() else
               f"the marks' history ({history}) is gone too: restore {Path(grades_dir) / 'marks'} "
               f"from a backup, then run `kws season {grades_dir}`; {afresh(grades_dir)}")  # fmt: skip
        raise RecordsError(
            f"{grades_dir}: {listed}{more} since `{record['command']}` recorded the grades "
            f"({record['when']}); {fix}, then this command"
        )
    if "plan.json" in changed:  # what the grades were graded by: never written again here
        raise RecordsError(
            f"{grades_dir}: {listed}{more} since `{record['command']}` recorded the grades "
            f"({record['when']}); the grades were recorded with that plan: put back the "
            "plan.json they were recorded with (a backup), or grade the class again with "
            "`kws grade`, then this command"
        )
    raise RecordsError(
        f"{grades_dir}: {listed}{more} since `{record['command']}` recorded the grades "
        f"({record['when']}): edited by hand, or a command stopped half-way. A grade changes "
        f"with `kws adjust`; run `kws season {grades_dir}` to write the gradebook and "
        "standings again from the results, adjustments and course file, then this command"
    )
