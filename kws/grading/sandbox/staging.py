"""What a sandboxed child gets of its own: the folder it runs in (`fill_folder`) and what is copied
there; where it appears to the child is its allow-list (`kws.grading.sandbox.allow`). On the way
back, `hide_machine_paths` takes the machine's paths out of what a student reads of the result.
"""

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from kws.grading.protocol.handin import CopyPlan, copy_plan, largest, size_text
from kws.grading.sandbox.allow import KIT_PACKAGE
from kws.grading.sandbox.supervise import ChildResult


class SubmissionTooLarge(ValueError):
    """What grading needs of a hand-in is over the size limit; the message names the largest files."""


def copy_submission(source: Path, target: Path, limit: int) -> CopyPlan:
    """Copy what grading needs of the hand-in `source` into the new folder `target`
    (`kws.grading.protocol.handin.copy_plan`): regular files only, links and special files left
    out and named, large unneeded folders (``data/``) left out and sized. Returns the plan
    followed; raises `SubmissionTooLarge` when it holds more than `limit` bytes."""
    plan = copy_plan(source)
    if plan.total > limit:
        raise SubmissionTooLarge(
            f"the hand-in is too large to grade: its notebooks and outputs hold "
            f"{size_text(plan.total)}, over the {size_text(limit)} limit; the largest: {largest(plan, source)}. Hand in the "
            "notebook and the outputs/ files its saving cells wrote (config.json, model.pt, "
            "predictions.csv per task), nothing else"
        )
    target.mkdir()
    for rel in plan.files:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target / rel)
    return plan


def copy_kit(lib: Path, assignment: Path | None = None) -> Path:
    """Copy the `kws` package (only it: no solutions, graded tests, data or .git) into `lib`,
    with `assignment` (an assignment folder outside the kit) as ``kws/assignments/<its name>``;
    returns `lib`.

    The child imports the very kit this grader runs — a source tree, or another clone installed
    in editable mode elsewhere, must not give it a different version — and sees nothing else of
    the checkout it came from.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "graded_tests")
    shutil.copytree(KIT_PACKAGE, lib / "kws", ignore=ignore)
    if assignment is not None:
        target = lib / "kws" / "assignments" / Path(assignment).name
        shutil.copytree(assignment, target, ignore=ignore, dirs_exist_ok=True)
    for folder, _, files in os.walk(lib):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return lib


def fill_folder(
    root: Path,
    submission: Path,
    limit: int,
    inputs: dict[str, Path],
    assignment: Path | None,
    uid: int | None,
) -> CopyPlan:
    """Fill the child's folder `root`: ``work/`` (the copy of `submission`, at most `limit`
    bytes; the `inputs`, name -> file; ``tmp/``; all the child's user's when `uid` is its own),
    ``lib/`` (the kit's copy, with `assignment`), ``status/`` (the grader's alone) and an empty
    ``view/``. Returns what was copied of the hand-in."""
    os.chmod(root, 0o711)  # the child may pass through, never list or write
    work = root / "work"
    work.mkdir()
    plan = copy_submission(Path(submission), work / "submission", limit)
    (work / "tmp").mkdir()
    copy_kit(root / "lib", assignment)
    for name, path in (inputs or {}).items():
        shutil.copyfile(path, work / name)
    if uid is not None:
        for folder, dirs, files in os.walk(work):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.chown(name, uid, uid)
    (root / "status").mkdir(mode=0o700)  # the launcher's spec and report: the grader's user only
    (root / "view").mkdir(mode=0o700)  # the hand-written sandbox's root for the child
    return plan


def hide_machine_paths(result: ChildResult, replacements: list[tuple[str, str]]) -> None:
    """Rewrite the grading machine's paths out of everything a student may read of `result`, in
    place: the child's folder (each (old, new) of `replacements`: paths become relative to the
    hand-in), the kit's and Python's folders."""
    kit = str(Path(KIT_PACKAGE).parent)
    libraries = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")}
    libraries |= {sys.prefix, sys.base_prefix}
    # and every folder packages come from (a venv made with --system-site-packages imports
    # torch from the base Python's site-packages, which none of the above names)
    libraries |= {p for p in sys.path if os.path.isabs(p) and os.path.isdir(p) and p != "/"}
    # as the child names them: the grader's Python may have been started through a link or ".."
    # (`kws.grading.sandbox.supervise.interpreter`), the child's by its resolved folder
    libraries |= {os.path.realpath(p) for p in libraries}
    # the longest first: a virtual environment inside the kit's checkout is a library folder
    pairs = replacements + [(f"{p}/", "") for p in sorted({kit, *libraries}, key=len, reverse=True)]

    def clean(value):
        if isinstance(value, str):
            for old, new in pairs:
                value = value.replace(old, new)
            return value
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        return value

    result.reason, result.payload = clean(result.reason), clean(result.payload)
    result.stdout_tail, result.stderr_tail = clean(result.stdout_tail), clean(result.stderr_tail)
    result.protections = clean(result.protections)
