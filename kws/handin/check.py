"""``kws handin``: check a hand-in the way the grader reads it, then zip what grading uses.

One implementation with the grader: the hand-in is gathered as grading reads it
(`kws.handin.bundle`), and the grader itself runs on it (`kws.grading.command`, with
``--handin`` and the plan every grading run makes, `kws.grading.judge.planned.plan_handins`,
for this one hand-in): the same graded tests, the same grading child in the same sandbox, on a few test
inputs of the student's own data folder instead of the hidden test set. The tests that need the
hidden labels stop short of a score (`kws.grading.judge.fixture.Grading.accuracy`): what they
check before it (the model ran; a predictions.csv naming one known class for every test item)
is checked, the score is given after the hand-in. So a hand-in every line passes here loses no
grader point for loading or format. Beside the graded tests, the notebook itself is read
(`kws.handin.notebook`): cells the saved file shows as never run, TODOs left, written questions
left without an answer (a warning: a person marks them later), outputs written
where the grader does not look.

    report = check_handin(Path("02_speaker_id.ipynb"))   # the student's notebook, or its folder
    print(report.text())                                  # one line per check, ✓ or ✗
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kws.grading.command import grader_command, grader_environment
from kws.grading.judge.document import findings_of
from kws.grading.judge.planned import PLAN_FILE, plan_handins
from kws.grading.protocol.handin import outputs_folder, relative, size_text
from kws.grading.testsets.layouts import layout_of
from kws.handin.bundle import ZIP_NAME, stage_notebook, write_zip
from kws.handin.lines import (
    Line,
    NotebookReport,
    files_line,
    notebook_lines,
    outputs_line,
    written_lines,
    written_points,
)
from kws.handin.notebook import course_notebooks, notebook_settings
from kws.i18n import ENV, N_, active, speaking
from kws.i18n import gettext as _
from kws.spec import Spec

WRITTEN_LATER = N_("marked by a person after you hand in: the written answers")


@dataclass
class HandinReport:
    """What ``kws handin`` found: one `NotebookReport` per notebook, and the zip it wrote.

    Attributes:
        notebooks: the notebooks checked, in the order of their assignments' names.
        zip: the zip written.
        members: the zip's files (relative paths).
        size: the zip's size in bytes.
    """

    notebooks: list[NotebookReport]
    zip: Path
    members: list[str] = field(default_factory=list)
    size: int = 0
    language: str | None = None  # the first notebook's assignment's (`kws.i18n`)

    @property
    def passed(self) -> bool:
        """Whether every line of every notebook passed."""
        return all(line.passed for report in self.notebooks for line in report.lines)

    def text(self) -> str:
        """The report as ``kws handin`` prints it: each notebook's lines, then the zip."""
        parts = [report.text() for report in self.notebooks]
        with speaking(self.language):
            files = zip_contents(self.members)
            if self.passed:
                wrote = _("Wrote {zip} ({size}): {files}. Upload this zip to Gradescope, Moodle "
                          "or Canvas (ready to upload).")  # fmt: skip
            else:
                wrote = _("Wrote {zip} ({size}): {files}. Upload this zip to Gradescope, Moodle "
                          "or Canvas (fix the ✗ above first, or upload as it is).")  # fmt: skip
            parts.append(wrote.format(zip=self.zip, size=size_text(self.size), files=files))
        return "\n\n".join(parts)


def zip_contents(members: list[str]) -> str:
    """The zip's files in a sentence: its notebooks, then each group of task folders holding the
    same files ("outputs/task1, task2, task3: config.json, model.pt")."""
    notebooks = [m for m in members if "/" not in m]
    tasks: dict[str, list[str]] = {}
    for member in members:
        parts = member.split("/")
        if len(parts) == 3:
            tasks.setdefault(parts[1], []).append(parts[2])
    groups: dict[tuple[str, ...], list[str]] = {}
    for task, names in tasks.items():
        groups.setdefault(tuple(names), []).append(task)
    outputs = [f"outputs/{', '.join(t)}: {', '.join(names)}" for names, t in groups.items()]
    return "; ".join(notebooks + outputs)


def check_handin(
    path: Path,
    *,
    data: Path | None = None,
    zip_path: Path | None = None,
    outputs: Path | None = None,
) -> HandinReport:
    """Check the hand-in `path` as the grader reads it and write its zip.

    Args:
        path: a course notebook, or a folder holding one or several.
        data: the notebooks' data folder (their ``DATA_DIR``, or the folder above it); by
            default each notebook's own ``DATA_DIR`` (`notebook_settings`).
        zip_path: the zip to write (default: ``handin.zip`` in the hand-in folder).
        outputs: the notebook's ``OUT_DIR``, when the caller knows it (the hand-in cell): its
            files are zipped as the ``outputs/`` beside the notebook. By default the folder the
            grader reads (``outputs/`` beside the notebook).

    Returns:
        The `HandinReport`.

    Raises:
        FileNotFoundError: `path` holds no course notebook.
    """
    folder, found = course_notebooks(path)
    zip_path = Path(zip_path) if zip_path is not None else folder / ZIP_NAME
    with tempfile.TemporaryDirectory(prefix="kws-handin-") as work:
        stage = Path(work) / "handin"
        reports = []
        for spec, notebook in found:
            with speaking(spec.language):  # the assignment's, else KWS_LANGUAGE's
                reports.append(_check_notebook(spec, notebook, folder, stage, data, outputs))
        members = write_zip(stage, zip_path)
    language = reports[0].language if reports else None
    return HandinReport(reports, zip_path, members, zip_path.stat().st_size, language)


def _check_notebook(spec: Spec, notebook: Path, folder: Path, stage: Path, data: Path | None,
                    outputs: Path | None) -> NotebookReport:  # fmt: skip
    """The lines of one `notebook` of the hand-in `folder`, staged into `stage` as zipped (the
    arguments: `check_handin`'s), in the language spoken."""
    grader_outputs = outputs_folder(folder, notebook)
    # what the parameters cell sets, unless the caller knows it (the hand-in cell)
    settings = _settings(notebook) if data is None or outputs is None else {}
    stage_notebook(stage, spec, notebook, outputs or grader_outputs)
    report = NotebookReport(relative(notebook, folder), spec.name, language=active())
    report.lines += notebook_lines(notebook)
    written, report.warnings = written_lines(notebook)
    report.lines += written
    marked = written_points(notebook)
    if marked:
        report.later["written questions"] = (marked, WRITTEN_LATER)
    if not spec.tasks and not spec.numeric:  # written-only: no outputs, no data, no run
        return report
    where = outputs_line(settings, grader_outputs, folder) if outputs is None else None
    report.lines += [where] if where else []  # the folder as it is: is OUT_DIR read?
    report.lines.append(files_line(spec, stage / "outputs"))
    _grade(report, spec, stage, _data_root(spec, data, settings))
    return report


def _settings(notebook: Path) -> dict:
    """The notebook's DATA_DIR and OUT_DIR, or {"error": why} when its parameters cell fails."""
    try:
        return notebook_settings(notebook)
    except ValueError as error:
        return {"error": str(error)}


def _data_root(spec: Spec, data: Path | None, settings: dict) -> Path | str:
    """The grader's --data for `spec` (the folder holding its data folder): from `data`, else
    the notebook's DATA_DIR; a sentence saying why when neither holds its test set."""
    given = data if data is not None else settings.get("DATA_DIR")
    if given is None:
        why = settings.get("error", _("its parameters cell sets no DATA_DIR"))
        return _("the data folder is unknown ({why}): give it with --data").format(why=why)
    layout, folder = layout_of(spec), spec.data.get("folder") or ""
    given = Path(given)
    candidates = [given]
    if folder and given.parts[-len(Path(folder).parts) :] == Path(folder).parts:
        candidates.insert(0, given.parents[len(Path(folder).parts) - 1])
    for candidate in candidates:
        if layout.missing(candidate) is None:
            return candidate
    return _("{problem}: give the notebook's data folder (DATA_DIR) with --data").format(
        problem=layout.missing(candidates[0])
    )


def _grade(report: NotebookReport, spec: Spec, stage: Path, data: Path | str) -> None:
    """Add the graded tests' lines of `spec`'s notebook to `report`: the grader, run with
    ``--handin`` on `stage` (the hand-in as zipped) and the student's data `data` (a sentence:
    why there is none)."""
    if isinstance(data, str):
        report.lines.append(Line(False, _("the test inputs of your data folder"), data))
        report.not_run = True
        return
    report.data = data / (spec.data.get("folder") or "")  # the notebook's DATA_DIR
    results = stage.parent / f"{spec.name}-results.json"
    # planned as every grading run is (`kws grade`, Gradescope): the grader reads the plan
    plan = stage.parent / f"{spec.name}-{PLAN_FILE}"
    try:
        planned = plan_handins(data, [stage], spec.name, handin=True)
    except (FileNotFoundError, ValueError) as error:
        raise RuntimeError(_("the grader's check did not finish:") + f"\n{error}") from None
    plan.write_text(planned.text(), encoding="utf-8")
    command = grader_command(stage, data, results, options=["--handin"], plan=plan)
    environment = grader_environment() | {ENV: active()}  # the child's results, translated
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    if not results.is_file():
        log = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise RuntimeError(_("the grader's check did not finish:") + "\n" + "\n".join(log))
    document = json.loads(results.read_text())
    for test in document["tests"]:
        facts = test["extra_data"]
        if "skipped" in facts:  # needs the hidden labels, or a GPU to re-train
            report.later[test["name"]] = (spec.test_points(facts["test"]), facts["skipped"])
            continue
        passed = test["status"] == "passed"
        why = "" if passed else test["output"]
        report.lines.append(Line(passed, test["name"], why, test["max_score"]))
    report.notes += [finding["text"] for finding in findings_of(document, "review")]
