"""The hand-in as grading reads it, gathered into one folder (`stage_notebook`) and zipped
(`write_zip`): the notebook, and each of its tasks' output files in the ``outputs/`` folder the
grader reads beside it, nothing else.

The files are the grader's own choice (`kws.grading.protocol.handin`: `outputs_folder`, and the
`OUTPUT_FILES` its `copy_plan` copies), so ``kws handin`` checks exactly the folder it zips, and
the zip holds exactly what the grading child is given: no plots, no second checkpoint, no data.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from kws.grading.protocol.handin import OUTPUT_FILES, needed_for_grading, size_text
from kws.grading.sandbox.staging import SubmissionTooLarge
from kws.grading.sandbox.supervise import Limits
from kws.spec import Spec

ZIP_NAME = "handin.zip"


def stage_notebook(stage: Path, spec: Spec, notebook: Path, outputs: Path) -> list[Path]:
    """Copy into `stage` what grading reads of one notebook: `notebook` itself, under the name
    the course gave it (``spec.notebook``), and of `outputs` (the folder the grader reads,
    `kws.grading.protocol.handin.outputs_folder`) each task's `OUTPUT_FILES` there, as
    ``outputs/<task>/<file>``.

    Args:
        stage: the folder to fill (made when missing).
        spec: the notebook's assignment (its tasks).
        notebook: the notebook file.
        outputs: the notebook's outputs folder as the grader finds it; it may not exist.

    Returns:
        The staged files, relative to `stage`.

    Raises:
        SubmissionTooLarge: the files (with those staged before) are over the size the
            grader's sandbox takes of a hand-in; nothing is copied.
    """
    sources = {Path(spec.notebook): notebook}
    for task in spec.tasks:
        for name in sorted(OUTPUT_FILES):
            if (outputs / task / name).is_file():
                sources[Path("outputs", task, name)] = outputs / task / name
    sizes = {rel: source.stat().st_size for rel, source in sources.items()}
    total = sum(sizes.values()) + sum(p.stat().st_size for p in stage.rglob("*") if p.is_file())
    if total > Limits().submission_bytes:  # the sandbox would refuse it: copy nothing
        largest = sorted(sizes, key=sizes.get, reverse=True)[:3]
        raise SubmissionTooLarge(
            f"the hand-in is too large to grade: its notebook and outputs hold "
            f"{size_text(total)}, over the grader's {size_text(Limits().submission_bytes)} "
            f"limit; the largest: {', '.join(f'{r.as_posix()} ({size_text(sizes[r])})' for r in largest)}"
            ". Save model.state_dict() of the trained model, nothing else, in model.pt"
        )
    for rel, source in sources.items():
        assert needed_for_grading(rel, 0), rel  # what the sandbox copies of a hand-in, no more
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, stage / rel)
    return list(sources)


def write_zip(stage: Path, path: Path) -> list[str]:
    """Zip every file under `stage` into `path` (written whole: a temporary file renamed), with
    paths relative to `stage`, sorted.

    Returns:
        The zip's members.
    """
    members = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            archive.write(stage / member, member)
    os.replace(partial, path)
    return members
