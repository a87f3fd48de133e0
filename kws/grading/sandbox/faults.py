"""Faults of the grading machine, told apart from a hand-in's: a machine's fault is never a grade.

A full disk (``ENOSPC``, a quota), an I/O error, a read-only file system, the grader's own
process out of memory: then no grade may be written; the run stops, says what failed, and the
instructor runs the same command again once the machine is fixed. `MACHINE_FAULT_EXIT` is
sysexits' ``EX_TEMPFAIL``: the grader exits with it (`kws.grading.judge.results.GradescopeReport`),
and `kws grade` (`kws.grading.classrun.batch`) stops the class instead of recording a 0.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

MACHINE_FAULT_EXIT = 75
# How the grader says why, on a line of its own in its output (the log `kws grade` keeps).
FAULT_LINE = "kws grader: a fault of the grading machine, not of the hand-in: "
# What the machine says when it, not a hand-in, fails: no space, no quota left, an I/O error, a
# file system turned read-only, no memory for the kernel's own work.
MACHINE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM)
# Less free space than this on a disk the grading writes to reads as a full disk.
LOW_SPACE_BYTES = 16 * 2**20


def machine_fault(error: BaseException | None) -> str | None:
    """Why `error`, raised in the grader's own process (never the child's), is a fault of the
    grading machine: a MemoryError, or an OSError with one of `MACHINE_ERRNOS` (itself, or the
    error it was raised from); None for any other error."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, MemoryError):
            return "the grader's own process ran out of memory (MemoryError)"
        if isinstance(error, OSError) and error.errno in MACHINE_ERRNOS:
            return f"{type(error).__name__}: {error}"
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


def low_space(path: Path) -> str | None:
    """A sentence saying the disk holding `path` is (nearly) full, for a person to free space;
    None when it has `LOW_SPACE_BYTES` free or more (or cannot be asked)."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return None
    if free >= LOW_SPACE_BYTES:
        return None
    return f"only {free / 2**20:.1f} MiB free on the disk of {path}"


def said_fault(output: str) -> str | None:
    """The reason a grader that exited with `MACHINE_FAULT_EXIT` gave in its `output` (its last
    `FAULT_LINE`), or None where it could not say (its log on the full disk)."""
    said = [line.partition(FAULT_LINE)[2] for line in output.splitlines() if FAULT_LINE in line]
    return said[-1].strip() if said else None
