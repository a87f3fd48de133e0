"""A hand-in graded is the hand-in collected: one whose folder vanishes or changes while it is
graded is a collection fault, never the student's grade.

    before = handin_state(submission)          # before its grader starts
    ...                                        # the grader runs
    check_collected(submission, before, out)   # CollectionFault: renamed, removed or changed

A grader started on a folder that is gone meanwhile says so in its failed tests, which would
read as a 0 on every test: `kws.grading.classrun.batch` checks the folder before and after
each grader instead, and records no grade for a hand-in that moved (its earlier result stays).
"""

from __future__ import annotations

import os
from pathlib import Path

from kws.grading.classrun.graders import GraderFault


def handin_state(folder: Path) -> tuple | None:
    """What a hand-in folder is now: its identity and each file's name, size and modification
    time (None when it is gone). The same before and after its grading, or the grade is not
    the hand-in's: `check_collected`."""
    try:
        top = os.stat(folder)
    except OSError:
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
    return (top.st_dev, top.st_ino, tuple(sorted(entries)))


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
    what = "is gone (renamed or removed)" if now is None else "changed"
    when = "before its grading started" if before is None else "while it was graded"
    raise CollectionFault(
        f"the hand-in folder {submission} {what} {when}: a collection fault, not the "
        f"student's; {submission.name} was not graded (no 0 recorded, the earlier result in "
        f"{out_dir} kept)"
    )
