"""nbgrader's autograded test cells, graded in the kit's sandbox with their points.

A code cell of the solution notebook with ``grade`` true, ``solution`` false and ``points`` is a
graded test (`test_cells`): the instructor's source (hidden tests included) runs in place of the
hand-in's copy, after the hand-in's code cells before it (`grade_test_cells`); a cell that raises
nothing earns its points, as in nbgrader.
"""

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from kws.grading.judge.child_notes import shown_lines
from kws.grading.protocol.autograded import AutogradedRun, check_autograded_payload
from kws.grading.sandbox.run import ChildJob, run_child
from kws.grading.sandbox.supervise import Limits
from kws.i18n import gettext as _
from kws.spec import Spec, course


@dataclass(frozen=True)
class TestCell:
    """One of nbgrader's autograded test cells, as the instructor's notebook holds it."""

    __test__ = False  # not a pytest test class, despite the name

    grade_id: str
    source: str  # hidden tests included
    points: float
    title: str  # "ps1/correct_squares: " and its docstring's first line


def solution_notebook(spec: Spec) -> Path:
    """Where the instructor's notebook of `spec` is: the course's solutions folder."""
    return course().solutions / spec.notebook


def test_cells(spec: Spec) -> list[TestCell]:
    """The autograded test cells of `spec`'s solution notebook, in order; none where it has no
    solution notebook here (a student's own check) or no nbgrader test cell (read as JSON: a
    grader run of the kit's notebooks pays no notebook parser for it)."""
    path = solution_notebook(spec)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if '"nbgrader"' not in text:
        return []
    cells = []
    for cell in json.loads(text).get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        graded = cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution")
        if not graded or not meta.get("grade_id") or not meta.get("points"):
            continue  # not a test cell, or one nbgrader counts no points for either
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cells.append(TestCell(meta["grade_id"], source, float(meta["points"]),
                              _title(spec.name, meta["grade_id"], source)))  # fmt: skip
    return cells


def _title(assignment: str, grade_id: str, source: str) -> str:
    """A test cell's name in the results and the gradebook: ``assignment/grade_id`` (unique
    across the course, as the marks' keys are), with its docstring's first line."""
    first = source.strip().splitlines()[0].strip() if source.strip() else ""
    quoted = first[:3] in ('"""', "'''")
    line = first.strip("\"' ") if quoted else ""
    return f"{assignment}/{grade_id}: {line}" if line else f"{assignment}/{grade_id}"


def grade_test_cells(
    submission: Path, spec: Spec, cells: list[TestCell], *, limits: Limits, hide: list[Path]
) -> tuple[dict[str, str | None], list[str]]:
    """Run the hand-in's notebook with `cells` as the instructor wrote them, in the sandbox.

    Args:
        submission: the hand-in folder.
        spec: its assignment.
        cells: `test_cells(spec)`.
        limits: the child's limits; hide: paths it must not read (the solution notebook's
            folder is added).

    Returns:
        ({grade_id: None when the cell ran without error, else why it failed, one line},
        notes for the run's output: how long it took and the sandbox's protections).

    Raises:
        SandboxStartError: the sandbox cannot start a child on this machine.
    """
    run = AutogradedRun(spec.notebook, {cell.grade_id: cell.source for cell in cells})
    with tempfile.TemporaryDirectory(prefix="kws-autograded-") as folder:
        job = ChildJob(
            ["-m", "kws.grading.child.autograded", "{result}", "{work}/autograded.json"],
            submission=submission,
            inputs={"autograded.json": run.save(Path(folder))},
            limits=limits,
            hide=[*hide, solution_notebook(spec).parent.resolve()],
            assignment=None if spec.package else spec.folder,
        )
        result = run_child(job)
    said = _("{notebook}: test cells run in {seconds} s; sandbox: {protections}.")
    seconds, protections = f"{result.seconds:.1f}", shown_lines(result.protections)
    notes = [said.format(notebook=spec.notebook, seconds=seconds, protections=protections)]
    grade_ids = list(run.tests)
    if result.status == "ok":
        try:
            return check_autograded_payload(result.payload, grade_ids), notes
        except ValueError as error:
            result.reason, result.status = str(error), "invalid_output"
    why = _("running the notebook did not finish ({status}: {reason}); make sure no cell exits, "
            "hangs or fills the memory").format(status=result.status, reason=result.reason)  # fmt: skip
    return dict.fromkeys(grade_ids, why), notes


class TestCellItem(pytest.Item):
    """One autograded test cell as a graded test of its assignment: its points and its
    assignment as markers (what results.json and the class report read), its verdict from the
    one child run of its notebook (`TestCells.verdicts`)."""

    __test__ = False

    def __init__(self, *, spec: Spec, cell: TestCell, cells: "TestCells", **kwargs):
        super().__init__(**kwargs)
        self.spec, self.cell, self.cells = spec, cell, cells
        self.originalname = cell.grade_id  # results.json's extra_data "test"
        self.add_marker(pytest.mark.points(cell.points))
        self.add_marker(pytest.mark.assignment(spec.name))

    def runtest(self) -> None:
        verdict = self.cells.verdicts(self.spec)[self.cell.grade_id]
        if verdict is not None:
            said = _("The test cell {cell} of {notebook} failed: {verdict}")
            cell, notebook = self.cell.grade_id, self.spec.notebook
            pytest.fail(said.format(cell=cell, notebook=notebook, verdict=verdict), pytrace=False)

    def reportinfo(self):
        return self.path, None, self.name


class TestCells:
    """The autograded test cells of a grading run: their items (`items`), and one child run a
    notebook for all of its cells (`verdicts`), with the run's limits and hidden paths
    (`kws.grading.judge.fixture.Grading`)."""

    __test__ = False

    def __init__(self, session: pytest.Session, grading):
        self.session, self.grading = session, grading
        self._verdicts: dict[str, dict[str, str | None]] = {}

    def items(self, specs: list[Spec]) -> list[TestCellItem]:
        """The test cells of `specs` (those whose notebook the run's plan says the hand-in
        holds), as pytest items."""
        submission = self.grading.submission
        if submission is None or not Path(submission).is_dir():
            return []
        return [
            TestCellItem.from_parent(
                self.session, name=cell.title, nodeid=cell.title, spec=spec, cell=cell, cells=self
            )  # fmt: skip
            for spec in specs
            for cell in test_cells(spec)
        ]

    def verdicts(self, spec: Spec) -> dict[str, str | None]:
        """{grade_id: None or why it failed} for `spec`'s test cells, from one child run; a
        sandbox that cannot start stops the run as the grader's fault (`Grading.in_sandbox`)."""
        if spec.name not in self._verdicts:
            cells = test_cells(spec)
            grading = self.grading
            verdicts, notes = grading.in_sandbox(
                grade_test_cells, grading.submission, spec, cells, limits=grading.limits,
                hide=grading.hide(),
            )  # fmt: skip
            for note in notes:
                grading.report.add_output(note)
            self._verdicts[spec.name] = verdicts
        return self._verdicts[spec.name]
