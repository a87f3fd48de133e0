"""The model of an assignment's ``spec.toml``: `Spec` and its parts (`Task`, `Cells`,
`NumericTest`, `GradingCost`, `AccuracySource`), read and checked by `kws.spec.load` (see
`kws.spec`)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

KIT_FOLDER = Path(__file__).resolve().parents[1] / "assignments"  # the kit's own assignments
KIT_PACKAGE = "kws.assignments"  # their package
SPEC_FILE = "spec.toml"  # in each assignment's folder
GRADER_CHECKS_FILE = "grader_checks.py"  # numeric checks the student bundle leaves out
GRADED_TESTS_FOLDER = "graded_tests"  # in each assignment's folder: its graded tests
ASSIGNMENTS_ENV = "KWS_ASSIGNMENTS"  # more assignment folders, outside the kit
COURSE_ENV = "KWS_COURSE"  # the course: a folder of assignment folders (default: the kit's)
SOLUTIONS_FOLDER = "solutions"  # in a course's folder: its solution notebooks
STUDENTS_FOLDER = "students"  # in a course's folder: its student notebooks (`kws assign`)
TIER_ORDER = ("simple", "medium", "strong", "boss")


class SpecError(ValueError):
    """An assignment file that cannot be used; the message names the file, the key and the fix.

    Example:
        ```python
        try:
            spec = spec_of(__file__)
        except SpecError as error:
            print(error)  # ".../spec.toml: [points] has no entry for test_x; add `test_x = N` ..."
        ```
    """


@dataclass(frozen=True)
class Cells:
    """Cells of the notebook the grading child runs after the model cells, before the numeric
    checks (``cells = { tags = [...], defines = "..." }`` in a task's table): the code cells
    tagged each of `tags`, in that order, statement by statement (a statement that raises is
    skipped). The last tag marks one cell; in a notebook handed out before that tag existed,
    the first code cell defining `defines` stands in for it, and without either nothing runs.
    `defines`: the function that cell defines for a check; if the cell fails to define it, a
    stand-in raising the cell's first error takes its place. The grader reviews these cells
    like the model cells (`kws.grading.judge.review`).
    """

    tags: tuple[str, ...]
    defines: str | None = None


@dataclass(frozen=True)
class Task:
    """One task of an assignment.

    Attributes:
        name: the task's key (``task1``; keyword spotting's model task is ``kws``), also the
            folder of its outputs (``outputs/<name>/``).
        title: what the task asks, as students read it.
        model_class: the class the skeleton fixes and ``config.json`` names, or None for a task
            graded without a checkpoint (keyword spotting's data and tokens tasks).
        target: the accuracy tier that gives the task's accuracy test full marks, or None.
        limits: the task's rules as numbers (layer count, parameter budget, token budget, ...).
        rules: the task's structural rules, judged on a traced forward pass
            (`kws.tracing.probes.probe_facts`): ``layer_class`` (the class whose calls are counted
            and that must be written in the notebook), ``own_classes`` (more classes the
            notebook must write itself), ``norm_before_classifier`` (a normalization feeds the
            final Linear), ``from_scratch`` (no ready-made Transformer or attention layer of
            torch.nn, torchaudio or the kit runs in forward).
        cells: the notebook's cells the grading child runs for the task's numeric checks
            besides the model cells (`Cells`), or None.
    """

    name: str
    title: str
    model_class: str | None = None
    target: str | None = None
    limits: dict[str, int | float] = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    cells: Cells | None = None


@dataclass(frozen=True)
class NumericTest:
    """One graded test of a numeric check (``[numeric.<test name>]`` in the spec): it fails with
    the first failed item of `component` (an entry of the folder's ``checks.py`` NUMERIC table)
    among its build items and those of `topics` (all of them if empty). `task`: the task whose
    report shows the notebook ran (default: the component's own). `file`: the graded test
    module (in the folder's ``graded_tests/``) that grades it."""

    name: str
    title: str
    component: str
    topics: tuple[str, ...] = ()
    task: str | None = None
    file: str = "test_numeric.py"


@dataclass(frozen=True)
class GradingCost:
    """What grading the assignment's reference hand-in cost (``[grading]`` in the spec), from
    which the Gradescope settings of a zip's test sets are computed (`kws.grading.publish.gradescope.autograder`).

    Attributes:
        cpu_seconds: the CPU seconds of grading its notebook (the grader and its child, one
            torch thread) for a test set of `measured_size`; None when not measured (the
            grader's default limits apply).
        measured_size: that test set's size, in the units of its data layout's
            ``test_set_size`` (clips for Speech Commands, frames for HW4 features), counting
            only what the child re-runs when the accuracy comes from predictions.csv.
        fixed_seconds: the part of `cpu_seconds` that does not grow with the test set
            (imports, the notebook's cells, probes, numeric checks).
        peak_mib: the peak of the summed memory of the grading process tree then, with the
            CPU build of torch that Gradescope's image installs; None when not measured.
    """

    cpu_seconds: int | float | None = None
    measured_size: int | float | None = None
    fixed_seconds: int | float = 0
    peak_mib: int | None = None

    def expected_seconds(self, size: int | float) -> float | None:
        """The expected CPU seconds of grading a test set of `size` (the fixed part, and the
        rest scaled from the measured run), or None when nothing was measured."""
        if self.cpu_seconds is None or not self.measured_size:
            return None
        growing = self.cpu_seconds - self.fixed_seconds
        return self.fixed_seconds + growing * size / self.measured_size


ACCURACY_SOURCES = ("model", "predictions.csv")


@dataclass(frozen=True)
class AccuracySource:
    """Where the accuracy of the assignment's model tasks comes from (``[accuracy]`` in the spec).

    Attributes:
        source: ``"model"`` (the default): the grading child predicts every test input with the
            submitted model; an assignment whose test labels are public (Speech Commands')
            must be scored so. ``"predictions.csv"``: the hand-in's predictions file is scored
            on every test item, as the course's Kaggle did, while the child re-runs the model on
            a secret random sample of `sample` items only; a file that disagrees with its
            model on more than `tolerance` of them loses the accuracy points
            (`kws.grading.judge.accuracy`, which gives the arithmetic).
        sample: how many test items the child re-runs ("predictions.csv" only).
        tolerance: the fraction of the re-run items whose class in the file may differ from
            the model's ("predictions.csv" only).
        margin: a row also agrees when the model scores its class within this fraction of the
            item's score range from the top score: the near ties that bf16, a GPU's kernels or
            another torch flip ("predictions.csv" only).
        excused: the fraction of the re-run items the margin may excuse; the excused rows
            beyond it count as disagreements, so that a model lifting its runner-up to a near tie
            on every item cannot name either class ("predictions.csv" only; honest models:
            about 2 in 400, docs/reference/csv-accuracy.md).
    """

    source: str = "model"
    sample: int | None = None
    tolerance: float = 0.0
    margin: float = 0.0
    excused: float = 0.0

    @property
    def from_csv(self) -> bool:
        return self.source == "predictions.csv"


# The structural rules a task may state, and the kind of value each takes (what each means:
# `Task.rules`; each becomes a graded test, `kws.grading.judge.declared`).
RULE_KINDS = {
    "layer_class": str,
    "own_classes": list,
    "norm_before_classifier": bool,
    "from_scratch": bool,
}
# The limits the kit itself enforces (each becomes a graded test, `kws.grading.judge.declared`);
# an assignment may state others, which its own graded tests read.
KIT_LIMITS = {
    "max_layer_calls": "the layers that run one after another in forward, at most (counted by "
    "their attention computations, whatever the classes are called)",
    "max_parameters": "the weights of the whole model in model.pt, at most",
    "max_encoder_params": "the weights of the model's `.encoder` block, fewer than",
}


@dataclass(frozen=True)
class Spec:
    """One assignment, as its ``spec.toml`` describes it (see "The assignment spec" in the docs for
    every key).

    Attributes:
        name: the assignment's name (its folder's).
        title: its title.
        notebook: the solution notebook's (and the hand-in's) file name.
        data: its ``[data]`` keys: ``layout``, ``folder``, ``hidden``, ...
        tasks: {task name: `Task`}: ``model_class``, ``target``, ``rules``, ``limits``.
        points: {graded test function name: points}.
        tiers: {dataset: {tier: threshold}}.
        budgets: {data preset: {KWS_* variable: value}}, the reference runs' settings.
        path: the ``spec.toml`` file.
        numeric: {test name: `NumericTest`}, the graded tests of the numeric checks.

    Example:
        ```python
        SPEC = spec_of(__file__)
        SPEC.tasks["task1"].target, SPEC.points["test_accuracy"]  # ("simple", 3)
        ```
    """

    name: str
    title: str
    notebook: str
    data: dict
    tasks: dict[str, Task]
    points: dict[str, float]
    tiers: dict[str, dict[str, float]]
    budgets: dict[str, dict[str, str]]
    path: Path
    # Graded tests of numeric checks, by test function name (`kws.grading.judge.verdicts.numeric_tests`).
    numeric: dict[str, NumericTest] = field(default_factory=dict)
    # Older names of this assignment: the keys a --tiers file of earlier kits may use for it.
    aliases: tuple[str, ...] = ()
    # Besides the cells tagged `model`, the cells defining one of these names are graded code:
    # `kws report` compares them between hand-ins (kws.grading.publish.similarity.matches).
    compared_names: tuple[str, ...] = ()
    # What grading its reference hand-in cost ([grading]): the time limits scale from it.
    grading: GradingCost = field(default_factory=GradingCost)
    # Where its tasks' accuracy comes from ([accuracy]): the model, or predictions.csv checked
    # against the model on a secret sample.
    accuracy: AccuracySource = field(default_factory=AccuracySource)
    # How far the honest reference's public accuracy led its private one, per dataset with a
    # private test set ([public_gap], written by `kws reference`): the carried-accuracy flag's
    # allowance there (`kws.grading.judge.public_gap`).
    public_gaps: dict[str, float] = field(default_factory=dict)
    # The language its students read the kit in (``language = "zh-TW"``, `kws.i18n`); None: the
    # course file's, else ``KWS_LANGUAGE``'s, else English.
    language: str | None = None

    @property
    def cells(self) -> tuple[Cells, ...]:
        """The cells the grading child runs besides the model cells, of every task, in order."""
        return tuple(task.cells for task in self.tasks.values() if task.cells)

    @property
    def written_only(self) -> bool:
        """Whether every graded part is a written question: no task, no numeric check (no data,
        no tiers, nothing run; `kws mark` marks it)."""
        return not self.tasks and not self.numeric

    @property
    def model_tasks(self) -> dict[str, str]:
        """{task: model class} of the tasks graded from a checkpoint, in the file's order."""
        return {name: t.model_class for name, t in self.tasks.items() if t.model_class}

    def task_limits(self, task: str) -> dict[str, int | float]:
        return self.tasks[task].limits

    @property
    def folder(self) -> Path:
        """The assignment's folder: its spec, its checks and its graded tests."""
        return self.path.parent

    @property
    def graded_tests(self) -> Path:
        """The folder of the assignment's graded tests (``test_*.py``), run by the grader;
        SpecError for a folder that still keeps them in ``grader/`` (their earlier name)."""
        folder = self.folder / GRADED_TESTS_FOLDER
        earlier = self.folder / "grader"
        if not folder.is_dir() and earlier.is_dir():
            raise SpecError(
                f"{earlier}: the graded tests' folder is now named {GRADED_TESTS_FOLDER}/; "
                f"rename it: mv {earlier} {folder}"
            )
        return folder

    @property
    def layout(self) -> str:
        """How its data is laid out ([data] layout): which reader finds the hidden test set."""
        layout = self.data.get("layout")
        if not isinstance(layout, str):
            raise SpecError(f'{self.path}: [data] has no layout; add layout = "hw4" (or another)')
        return layout

    @property
    def package(self) -> str | None:
        """The folder's module name when it is one of the kit's (``kws.assignments.<name>``)."""
        return f"{KIT_PACKAGE}.{self.name}" if self.folder.parent == KIT_FOLDER else None

    def modules(self) -> list[str]:
        """The module names of the folder's Python files (checks and helpers), for the grading
        child to watch against a notebook that patches them; a data layout's module (``[data]
        layout = "<file>.py:<Class>"``) is the grader's alone and never runs in the child."""
        layout = str(self.data.get("layout", "")).partition(":")[0]
        files = [p for p in sorted(self.folder.glob("*.py")) if p.name != layout]
        if self.package is None:  # its `__init__.py` is no module of its own here
            return [f"kws_assignment_{self.name}.{p.stem}" for p in files if p.stem != "__init__"]
        return [self.package] + [f"{self.package}.{p.stem}" for p in files if p.stem != "__init__"]

    @property
    def checks_file(self) -> Path:
        """The folder's ``checks.py`` (its numeric checks); it may not exist."""
        return self.folder / "checks.py"

    def checks(self):
        """The folder's ``checks.py`` module: its ``NUMERIC`` table ({component:
        `kws.check.registry.Component`}) is what the self-check and the grading child run."""
        return self.module("checks")

    @property
    def grader_checks_file(self) -> Path:
        """The folder's ``grader_checks.py``: numeric checks that stay with the grader (the
        student bundle leaves it out, so a reference solution in it never reaches students);
        it may not exist."""
        return self.folder / GRADER_CHECKS_FILE

    def numeric_components(self) -> dict:
        """{component: `kws.check.registry.Component`} of ``checks.py``'s ``NUMERIC`` and, where
        it is present (the grader's copy of the course), ``grader_checks.py``'s: what the
        grading child runs."""
        table = dict(self.checks().NUMERIC) if self.checks_file.is_file() else {}
        if self.grader_checks_file.is_file():
            table |= self.module(self.grader_checks_file.stem).NUMERIC
        return table

    def module(self, stem: str):
        """The folder's module ``<stem>.py``, imported once per folder (as
        ``kws.assignments.<name>.<stem>`` for the kit's own folders); SpecError naming the file
        when there is none."""
        path = self.folder / f"{stem}.py"
        if not path.is_file():
            raise SpecError(f"{path} is missing; the assignment's code needs it")
        if self.package is not None:
            return importlib.import_module(f"{self.package}.{stem}")
        name = f"kws_assignment_{self.name}.{stem}"
        loaded = sys.modules.get(name)
        if loaded is None or Path(loaded.__file__) != path:  # another folder of the same name
            sys.modules.setdefault(f"kws_assignment_{self.name}", types.ModuleType(name))
            loader = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(loader)
            sys.modules[name] = module
            loader.loader.exec_module(module)
        return sys.modules[name]

    def test_points(self, test_name: str) -> float:
        """The points of the graded test `test_name` (a function name); SpecError without."""
        if test_name not in self.points:
            raise SpecError(
                f"{self.path}: [points] has no entry for {test_name}; add `{test_name} = N` "
                "(every graded test needs its points here)"
            )
        return self.points[test_name]

    def budget(self, preset: str) -> dict[str, str]:
        """The reference run's settings for data preset `preset`, as KWS_* environment values."""
        if preset not in self.budgets:
            raise SpecError(
                f"{self.path}: no [budgets.{preset}]; it has {', '.join(sorted(self.budgets))}"
            )
        return dict(self.budgets[preset])
