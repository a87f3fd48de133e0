"""Run one notebook's grading child (`run_notebook`), say what went wrong, and which notebooks a
hand-in can be graded in. Nothing here runs student code: the child does.
"""

import tempfile
from pathlib import Path

from kws.device import DeviceName
from kws.grading.judge.child_notes import shown_line
from kws.grading.judge.device import CPU
from kws.grading.protocol.child_run import RUN_FILE, ChildRun, Retraining
from kws.grading.protocol.handin import notebooks
from kws.grading.protocol.payload import check_payload
from kws.grading.sandbox.run import ChildJob, run_child
from kws.grading.sandbox.supervise import ChildResult, Limits
from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.layouts import layout_of
from kws.i18n import N_
from kws.i18n import gettext as _
from kws.spec import ASSIGNMENTS, Spec


def run_notebook(
    submission: Path,
    assignment: Spec,
    hidden: HiddenTest,
    *,
    limits: Limits,
    hide: list[Path],
    device: DeviceName = CPU,
    outputs: str = "outputs",
    retrain: Retraining | None = None,
    readable: list[Path] = (),
) -> ChildResult:
    """Run the grading child on `submission` for every model task of `assignment` (the tasks
    its spec gives a class), on `device` (a CUDA GPU's files are in its sandbox only for a CUDA
    device: never for ``cpu:0``); with `retrain`, the re-training child re-runs the whole
    notebook first (`readable`: data folders the child reads in place, for re-training)."""
    run = ChildRun(
        notebook=assignment.notebook,
        classes=assignment.model_tasks,
        n_classes=len(hidden.classes),
        outputs=outputs,
        device=device,
        retrain=retrain,
        near=assignment.accuracy.margin if assignment.accuracy.from_csv else 0.0,
    )
    module = "kws.grading.child.retrain" if retrain else "kws.grading.child.runner"
    with tempfile.TemporaryDirectory(prefix="kws-run-") as folder:
        job = ChildJob(
            ["-m", module, "{result}", f"{{work}}/{RUN_FILE}"],
            submission=submission,
            inputs={run.inputs: hidden.inputs_file, RUN_FILE: run.save(Path(folder))},
            limits=limits,
            gpu=device.is_cuda,
            hide=hide,
            readable=readable,
            assignment=None if assignment.package else assignment.folder,
        )
        result = run_child(job)
    if result.status == "ok":
        try:
            check_payload(
                result.payload,
                list(assignment.model_tasks),
                len(hidden.labels),
                len(hidden.classes),
                list(assignment.tasks),
            )
        except ValueError as error:
            result.status, result.reason, result.payload = "invalid_output", str(error), None
    return result


def child_problem(result: ChildResult) -> str:
    """One or two sentences for the student about a child that did not finish normally, in
    the active language (the sandbox's reason too: `shown_line`)."""
    what = {
        "timeout": N_("Grading your notebook's model took too long"),
        "memory": N_("Grading your notebook's model ran out of memory"),
        "killed": N_("The grading process running your model was killed"),
        "crashed": N_("The grading process running your model crashed"),
        "invalid_output": N_("The grading process running your model ended without a valid result"),
    }.get(result.status, N_("Grading your notebook failed"))
    said = _("{what} ({reason}). Make sure the cells tagged 'model' only define your classes "
             "(no training, no downloads, no exit calls) and that the saved model runs on CPU.")  # fmt: skip
    return said.format(what=_(what), reason=shown_line(result.reason))


def missing_test_data(data: Path, assignment: str) -> str | None:
    """Why `data` cannot grade `assignment` (its hidden test set is absent), or None; its
    spec's [data] layout knows where the test set is (`kws.grading.testsets.layouts`). A
    written-only assignment needs none."""
    spec = ASSIGNMENTS[assignment]
    return None if spec.written_only else layout_of(spec).missing(data)


def holds_notebook(submission: Path, assignment: Spec) -> bool:
    """Whether the submission holds this assignment's notebook: by its name (deeper down too,
    as nbgrader's ``submitted/<student>/ps1/problem1.ipynb``), or any notebook defining one of
    its classes (read as text; nothing is run)."""
    name = assignment.notebook
    if (submission / name).is_file() or any(p.name == name for p in notebooks(submission)):
        return True
    needles = [f"class {name}" for name in assignment.model_tasks.values()]
    return any(
        any(needle in path.read_text(errors="replace") for needle in needles)
        for path in submission.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in path.parts and path.is_file()
    )


def left_out_notes(present: set[str], held: set[str], missing: dict[str, str]) -> dict[str, str]:
    """{assignment: a sentence for the run's output} for each of `present` not graded: not in
    `held` (the notebooks the submission holds), or in `missing` ({assignment: why the data
    cannot grade it})."""
    left_out = {}
    for name in sorted(present):
        notebook = ASSIGNMENTS[name].notebook
        if name not in held:
            why = _("the submission holds no {notebook}").format(notebook=notebook)
        elif name in missing:
            why = _("the grading data has no test set for it ({why})").format(why=missing[name])
        else:
            continue
        others = sorted(present - {name})
        hint = _("(Course staff: --assignment {name} grades that one only.)")
        said = _("Not graded in this run: {notebook}, because {why}; its tests are left out.")
        said = said.format(notebook=notebook, why=why)
        left_out[name] = f"{said} {hint.format(name=others[0])}" if others else said
    return left_out
