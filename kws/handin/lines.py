"""The lines ``kws handin`` prints: one per check, ✓ or ✗ with what to fix and the points at
stake (`Line`), gathered per notebook (`NotebookReport`); and the lines about the notebook
itself, which the grader does not score but which explain what it will find: cells the saved
file shows as never run, TODOs left (`notebook_lines`), outputs written where the grader does
not read them (`outputs_line`), the files grading reads missing (`files_line`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kws.grading.protocol.handin import relative
from kws.handin.notebook import cells_not_run, first_line, todos_left
from kws.i18n import gettext as _
from kws.i18n import ngettext, speaking
from kws.spec import Spec

INDENT = "    "


@dataclass(frozen=True)
class Line:
    """One check.

    Attributes:
        passed: ✓ (True) or ✗.
        what: the check, as the student reads it (a graded test's name).
        why: for a failed check, what is wrong and how to fix it.
        points: the grader's points of the check (0: a check of the notebook itself, which
            explains the graded tests' lines).
    """

    passed: bool
    what: str
    why: str = ""
    points: float = 0.0

    def text(self) -> str:
        """``✓ what (2 points)``, and for a failed check its fix on the lines below."""
        points = f" ({_points(self.points)})" if self.points else ""
        head = f"{'✓' if self.passed else '✗'} {self.what}{points}"
        if self.passed or not self.why:
            return head
        return head + "".join(f"\n{INDENT}{line}" for line in self.why.splitlines())


@dataclass
class NotebookReport:
    """The lines of one notebook.

    Attributes:
        notebook: the notebook as the student names it (relative to the hand-in folder).
        assignment: its assignment's name.
        lines: the checks, in order: the notebook itself, then the grader's tests.
        later: {test name: (points, why)} of the tests that need the hidden labels or a GPU,
            which the grader scores after the hand-in (why: the reason the grader gave for
            not running them here).
        notes: what the grader would flag for a person to look at.
        warnings: what is not checked here but is read after the hand-in: the written
            questions left without an answer (a warning, not a failed check).
        data: the data folder the model ran on (None when none was found).
        not_run: True when the grader's tests could not run (no data folder).
    """

    notebook: str
    assignment: str
    lines: list[Line] = field(default_factory=list)
    later: dict[str, tuple[float, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data: Path | None = None
    not_run: bool = False
    language: str | None = None  # what its lines speak (`kws.i18n`); None: the active one

    def text(self) -> str:
        """The notebook's heading, its lines, its notes and the sum of the points."""
        with speaking(self.language):
            return self._text()

    def _text(self) -> str:
        if self.data:
            head = _("{notebook} ({assignment}), checked as the grader reads it, the model run "
                     "on test inputs of {data}:")  # fmt: skip
        else:
            head = _("{notebook} ({assignment}), checked as the grader reads it:")
        out = [head.format(notebook=self.notebook, assignment=self.assignment, data=self.data)]
        out += [INDENT + line.text().replace("\n", "\n" + INDENT) for line in self.lines]
        out += [f"{INDENT}! {note}" for note in [*self.warnings, *self.notes]]
        graded = [line for line in self.lines if line.points]
        safe = sum(line.points for line in graded if line.passed)
        total = sum(line.points for line in graded)
        summary = ngettext("{safe} of the {total} point checked here is safe",
                           "{safe} of the {total} points checked here are safe", total)  # fmt: skip
        summary = summary.format(safe=f"{safe:g}", total=f"{total:g}")
        if self.not_run:
            summary += _("; the grader's tests did not run: none of their points is checked")
        reasons: dict[str, float] = {}
        for points, why in self.later.values():
            reasons[why] = reasons.get(why, 0) + points
        after = [
            INDENT
            + ngettext("{n} point more {why}.", "{n} points more {why}.", points).format(
                n=f"{points:g}", why=_(why)
            )
            for why, points in reasons.items()
        ]
        return "\n".join([*out, INDENT + _("{sentence}.").format(sentence=summary), *after])


def _points(points: float) -> str:
    return ngettext("{n} point", "{n} points", points).format(n=f"{points:g}")


def notebook_lines(notebook: Path) -> list[Line]:
    """The lines about the saved notebook itself: every code cell ran before it was saved, and
    no TODO is left."""
    from kws.notebooks import read_notebook

    nb = read_notebook(notebook)
    not_run = cells_not_run(nb)
    ran = _("the saved notebook shows every code cell run")
    if not_run:
        first, last = (first_line(nb.cells[i]) for i in (not_run[0], not_run[-1]))
        if len(not_run) == 1:
            why = _("1 code cell did not run before the notebook was saved (`{first}`): the "
                    "grader reads the notebook and the files its cells wrote. Run every cell "
                    "(Run All), save the notebook (File > Save), then check again.")  # fmt: skip
        else:  # several cells: the plural's forms (Polish has three) from the catalog
            why = ngettext("{n} code cell did not run before the notebook was saved (from "
                           "`{first}` to `{last}`): the grader reads the notebook and the files "
                           "its cells wrote. Run every cell (Run All), save the notebook (File > "
                           "Save), then check again.",
                           "{n} code cells did not run before the notebook was saved (from "
                           "`{first}` to `{last}`): the grader reads the notebook and the files "
                           "its cells wrote. Run every cell (Run All), save the notebook (File > "
                           "Save), then check again.", len(not_run))  # fmt: skip
        lines = [Line(False, ran, why.format(n=len(not_run), first=first, last=last))]
    else:
        lines = [Line(True, ran)]
    todos = todos_left(nb)
    if todos:
        number, hint = todos[0]
        why = ngettext("{n} TODO left: {hint} (in the cell starting `{cell}`): write it, run "
                       "the notebook again, save.",
                       "{n} TODOs left, the first: {hint} (in the cell starting `{cell}`): "
                       "write it, run the notebook again, save.", len(todos))  # fmt: skip
        cell = first_line(nb.cells[number])
        lines.append(Line(False, _("no TODO left"), why.format(n=len(todos), hint=hint, cell=cell)))
    else:
        lines.append(Line(True, _("no TODO left")))
    return lines


def written_lines(notebook: Path) -> tuple[list[Line], list[str]]:
    """The written questions of the saved notebook (`kws.written`): a ✓ line when each has an
    answer, else a warning naming those without one (a person marks them after the hand-in,
    so an unanswered one is no failed check). Nothing for a notebook that asks none."""
    from kws.notebooks import read_notebook
    from kws.written.answers import asked_questions, read_answers

    nb = read_notebook(notebook)
    answers = read_answers(nb)
    if not answers:
        return [], []
    asked = {question.id: question for question in asked_questions(nb)}
    missing = [qid for qid, answer in answers.items() if not answer.answered]
    if not missing:
        said = _("every written question has an answer ({n})").format(n=len(answers))
        return [Line(True, said)], []
    lines = asked[missing[0]].prompt.splitlines()
    prompt = next((line for line in lines if line.strip(" \t-=*_#")), "")  # not a rule (---)
    prompt = prompt.replace("**", "").strip(" #")
    shown = prompt if len(prompt) <= 60 else prompt[:57] + "..."
    if len(answers) == 1:
        which = _("the written question {question} has no answer yet (it asks `{prompt}`)")
    else:
        which = ngettext("{n} of the {total} written questions has no answer yet: {questions} "
                         "(the first asks `{prompt}`)",
                         "{n} of the {total} written questions have no answer yet: {questions} "
                         "(the first asks `{prompt}`)", len(missing))  # fmt: skip
    which = which.format(question=missing[0], prompt=shown, n=len(missing), total=len(answers),
                         questions=", ".join(missing))  # fmt: skip
    return [], [
        _(
            "{which}. Write each answer in the cell after its question, save, and check again. A "
            "person marks the written answers after the hand-in: their points are not checked "
            "here."
        ).format(which=which)
    ]


def written_points(notebook: Path) -> float:
    """The points of the saved notebook's written questions, which a person marks after the
    hand-in (the prompt cells' `kws.written.release.POINTS_KEY`); 0 when it asks none."""
    from kws.notebooks import read_notebook
    from kws.written.release import POINTS_KEY

    points = (cell.get("metadata", {}).get(POINTS_KEY) for cell in read_notebook(notebook).cells)
    return sum(p for p in points if isinstance(p, int | float) and not isinstance(p, bool))


def files_line(spec: Spec, outputs: Path) -> Line:
    """Whether `outputs` (the hand-in's ``outputs/``, as zipped) holds every file grading reads
    of `spec`'s model tasks: ``config.json`` and ``model.pt``, and ``predictions.csv`` when the
    accuracy comes from it (``[accuracy]`` of the spec)."""
    names = ["config.json", "model.pt"] + (["predictions.csv"] if spec.accuracy.from_csv else [])
    tasks = list(spec.model_tasks)
    what = _("outputs/{tasks} hold {files}").format(tasks=", ".join(tasks), files=", ".join(names))
    missing = [f"{task}/{n}" for task in tasks for n in names if not (outputs / task / n).is_file()]
    if not missing:
        return Line(True, what)
    return Line(
        False,
        what,
        _(
            "missing: {files}. Run the cells that train and save each task (their files go to "
            "OUT_DIR/<task>/), then check again."
        ).format(files=", ".join(missing)),
    )


def outputs_line(settings: dict, read: Path, folder: Path) -> Line | None:
    """Whether the notebook writes its outputs where the grader reads them: its ``OUT_DIR``
    (`settings`, from its parameters cell) is `read` (``outputs/`` beside it, in the hand-in
    folder `folder`); None when its OUT_DIR is not known."""
    what = _("the notebook writes its outputs where the grader reads them")
    written = settings.get("OUT_DIR")
    shown = relative(read, folder) or "outputs"
    if written is None:
        return None
    if Path(written).resolve() == read.resolve():
        return Line(True, f"{what} ({shown}/)")
    return Line(
        False,
        what,
        _(
            "its OUT_DIR is {written}, the grader reads {read}/ beside the notebook: set OUT_DIR = "
            'Path("outputs") in the parameters cell (and no KWS_OUT_DIR), run the notebook again '
            "and save it; or move what {written} holds into {read}/."
        ).format(written=written, read=shown),
    )
