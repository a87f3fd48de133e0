"""Assignment specs: the model of ``spec.toml``, its loader, and the registry of assignment folders.

An assignment is one folder (``kws/assignments/<name>/``, or an instructor's own) holding its
spec ``spec.toml``: its notebook, data layout, tasks (the model class a task's skeleton fixes,
its limits and target tier), the points of every graded test, the accuracy tiers per dataset,
the settings of the reference runs per data preset, and what grading it costs. Everything that
grades, releases or demonstrates an assignment reads it from here::

    from kws.spec import assignment, assignments, spec_of, settings

    spec = assignment("speaker_id")
    spec.tasks["task1"].limits["max_encoder_params"]  # 500000
    spec.points["test_accuracy"]                      # 5
    spec.budget("small")                              # {"KWS_STEPS": "500", ...}
    settings("speaker_id")                            # {"KWS_STEPS": 70000, ...}, KWS_* applied

`load(path)` reads and checks one file, with errors naming the file, the key and the fix, so an
instructor's edit that breaks a spec stops the grader before it grades anyone.

An assignment folder holds ``spec.toml``, ``checks.py`` (its numeric checks), any judges its
graded tests share with the self-check, and ``grader/`` (its graded tests, ``test_*.py``). The
kit's own folders are found here; an instructor's own live anywhere and are named by the
environment variable ``KWS_ASSIGNMENTS`` (folders separated by ``:``, each an assignment folder
or a folder of them), which ``kws grade``, ``kws release`` and the grader all read. A folder
whose name starts with ``_`` is never an assignment (a template or a draft can sit beside
them).

The registry (`assignments`) is found when first asked for, not when this module is imported,
and reads each spec only when that assignment is asked for: ``import kws.check`` in a student's
notebook reads no instructor's folder, and a broken spec breaks nothing but its own assignment.
This module imports nothing of the kit, so that every layer may use it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (Ubuntu 22.04, Gradescope's default image): the same parser, from PyPI
    import tomli as tomllib

KIT_FOLDER = Path(__file__).resolve().parent / "assignments"  # the kit's own assignments
KIT_PACKAGE = "kws.assignments"  # their package
SPEC_FILE = "spec.toml"  # in each assignment's folder
GRADER_FOLDER = "grader"  # in each assignment's folder: its graded tests
ASSIGNMENTS_ENV = "KWS_ASSIGNMENTS"  # more assignment folders, outside the kit
TIER_ORDER = ("simple", "medium", "strong", "boss")


class SpecError(ValueError):
    """An assignment file that cannot be used; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Cells:
    """Cells of the notebook the grading child runs after the model cells, before the numeric
    checks (``cells = { tags = [...], defines = "..." }`` in a task's table): the code cells
    tagged each of `tags`, in that order, statement by statement (a statement that raises is
    skipped). The last tag marks one cell; in a notebook handed out before that tag existed,
    the first code cell defining `defines` stands in for it, and without either nothing runs.
    `defines`: the function that cell defines for a check; if the cell fails to define it, a
    stand-in raising the cell's first error takes its place. The grader reviews these cells
    like the model cells (`kws.grading.review`).
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
            (`kws.tracing.probes.probe_task`): ``layer_class`` (the class whose calls are counted
            and that must be written in the notebook), ``own_classes`` (more classes the
            notebook must write itself), ``norm_before_classifier`` (a normalization feeds the
            final Linear).
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
    module (in the folder's ``grader/``) that grades it."""

    name: str
    title: str
    component: str
    topics: tuple[str, ...] = ()
    task: str | None = None
    file: str = "test_numeric.py"


@dataclass(frozen=True)
class GradingCost:
    """What grading the assignment's reference hand-in cost (``[grading]`` in the spec), from
    which the time limits of a larger test set are computed (`kws.grading.gradescope`).

    Attributes:
        child_seconds: the grading child's wall seconds on one CPU, for a test set of
            `measured_size`; None when not measured (the grader's default limits apply).
        measured_size: that test set's size, in the units of its data layout's
            ``test_set_size`` (clips for Speech Commands, frames for HW4 features).
    """

    child_seconds: int | float | None = None
    measured_size: int | float | None = None

    def expected_seconds(self, size: int | float) -> float | None:
        """The grading child's expected wall seconds on one CPU for a test set of `size`
        (scaled from the measured run), or None when nothing was measured."""
        if self.child_seconds is None or not self.measured_size:
            return None
        return self.child_seconds * size / self.measured_size


# The structural rules a task may state, and the kind of value each takes.
RULE_KINDS = {"layer_class": str, "own_classes": list, "norm_before_classifier": bool}


@dataclass(frozen=True)
class Spec:
    """One assignment, as its file describes it (see the module docstring)."""

    name: str
    title: str
    notebook: str
    data: dict
    tasks: dict[str, Task]
    points: dict[str, float]
    tiers: dict[str, dict[str, float]]
    budgets: dict[str, dict[str, str]]
    path: Path
    # Graded tests of numeric checks, by test function name (`kws.grading.verdicts.numeric_tests`).
    numeric: dict[str, NumericTest] = field(default_factory=dict)
    # Older names of this assignment: the keys a --tiers file of earlier kits may use for it.
    aliases: tuple[str, ...] = ()
    # Besides the cells tagged `model`, the cells defining one of these names are graded code:
    # `kws report` compares them between hand-ins (kws.grading.similarity).
    compared_names: tuple[str, ...] = ()
    # What grading its reference hand-in cost ([grading]): the time limits scale from it.
    grading: GradingCost = field(default_factory=GradingCost)

    @property
    def cells(self) -> tuple[Cells, ...]:
        """The cells the grading child runs besides the model cells, of every task, in order."""
        return tuple(task.cells for task in self.tasks.values() if task.cells)

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
        """The folder of the assignment's graded tests (``test_*.py``), run by the grader."""
        return self.folder / GRADER_FOLDER

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
        if self.package is None:
            return [f"kws_assignment_{self.name}.{p.stem}" for p in files]
        return [self.package] + [f"{self.package}.{p.stem}" for p in files if p.stem != "__init__"]

    def checks(self):
        """The folder's ``checks.py`` module: its ``NUMERIC`` table ({component:
        `kws.check.registry.Component`}) is what the self-check and the grading child run."""
        return self.module("checks")

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


def _fail(path: Path, key: str, problem: str, fix: str) -> SpecError:
    return SpecError(f"{path}: {key} {problem}; {fix}")


def _table(raw: dict, key: str, path: Path) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise _fail(
            path, f"[{key}]", "is not a table", f"write it as [{key}] with key = value lines"
        )
    return value


def _tiers(raw: dict, path: Path) -> dict[str, dict[str, float]]:
    tiers = {}
    for dataset, table in _table(raw, "tiers", path).items():
        values = [table.get(t) if isinstance(table, dict) else None for t in TIER_ORDER]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if not numbers or values != sorted(values) or not all(0 <= v <= 1 for v in values):
            raise _fail(
                path,
                f"tiers.{dataset}",
                "needs simple, medium, strong and boss as fractions in rising order",
                "e.g. { simple = 0.6, medium = 0.7, strong = 0.8, boss = 0.9 }",
            )
        tiers[dataset] = {t: float(table[t]) for t in TIER_ORDER}
    return tiers


def _tasks(raw: dict, path: Path) -> dict[str, Task]:
    tasks = {}
    for name, table in _table(raw, "tasks", path).items():
        if not isinstance(table, dict) or not isinstance(table.get("title"), str):
            raise _fail(path, f"[tasks.{name}]", "has no title", 'add title = "what it asks"')
        target = table.get("target")
        if target is not None and target not in TIER_ORDER:
            raise _fail(
                path,
                f"tasks.{name}.target",
                f"is {target!r}",
                f"use one of {', '.join(TIER_ORDER)}",
            )
        limits = table.get("limits", {})
        if not isinstance(limits, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in limits.values()
        ):
            raise _fail(path, f"tasks.{name}.limits", "holds a non-number", "write numbers only")
        rules = table.get("rules", {})
        if not isinstance(rules, dict) or not all(
            key in RULE_KINDS and isinstance(value, RULE_KINDS[key]) for key, value in rules.items()
        ):
            raise _fail(
                path,
                f"tasks.{name}.rules",
                "holds an unknown rule or a value of the wrong kind",
                'use layer_class = "Name", own_classes = ["Name"], norm_before_classifier = true',
            )
        tasks[name] = Task(
            name,
            table["title"],
            table.get("class"),
            target,
            dict(limits),
            dict(rules),
            _cells(table.get("cells"), path, name),
        )
    if not tasks:
        raise _fail(path, "[tasks]", "is empty", "describe at least one task")
    return tasks


def _cells(value, path: Path, task: str) -> Cells | None:
    if value is None:
        return None
    tags = value.get("tags") if isinstance(value, dict) else None
    defines = value.get("defines") if isinstance(value, dict) else None
    if (
        not isinstance(tags, list)
        or not tags
        or not all(isinstance(t, str) and t for t in tags)
        or set(value) - {"tags", "defines"}
        or not (defines is None or (isinstance(defines, str) and defines.isidentifier()))
    ):
        raise _fail(
            path,
            f"tasks.{task}.cells",
            "is not a table of tags (and the name the last one's cell defines)",
            'write cells = { tags = ["parameters", "recipe"], defines = "name" }',
        )
    return Cells(tuple(tags), defines)


def _numeric(raw: dict, path: Path, tasks: dict[str, Task]) -> dict[str, NumericTest]:
    numeric = {}
    for name, table in _table(raw, "numeric", path).items():
        key = f"[numeric.{name}]"
        if not name.startswith("test_") or not name.isidentifier():
            raise _fail(path, key, "is not a test function name", "name it test_<what>")
        if not isinstance(table, dict) or not all(
            isinstance(table.get(k), str) for k in ("title", "component")
        ):
            raise _fail(
                path,
                key,
                "needs a title and a component",
                'add title = "..." and component = "<an entry of checks.py NUMERIC>"',
            )
        topics = table.get("topics", [])
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise _fail(
                path, f"numeric.{name}.topics", "is not a list of names", 'topics = ["outputs"]'
            )
        task = table.get("task")
        if task is not None and task not in tasks:
            raise _fail(
                path, f"numeric.{name}.task", f"is {task!r}", f"use one of {', '.join(tasks)}"
            )
        file = table.get("file", NumericTest.file)
        if not isinstance(file, str) or not file.startswith("test_") or not file.endswith(".py"):
            raise _fail(path, f"numeric.{name}.file", f"is {file!r}", 'file = "test_numeric.py"')
        numeric[name] = NumericTest(
            name, table["title"], table["component"], tuple(topics), task, file
        )
    return numeric


def _grading(raw: dict, path: Path) -> GradingCost:
    table = _table(raw, "grading", path)
    keys = ("child_seconds", "measured_size")
    numbers = all(
        isinstance(table.get(k), int | float)
        and not isinstance(table.get(k), bool)
        and table[k] > 0
        for k in keys
    )
    if table and (set(table) != set(keys) or not numbers):
        raise _fail(
            path,
            "[grading]",
            "needs child_seconds and measured_size, both positive numbers (or neither)",
            "e.g. child_seconds = 170 and measured_size = 4890 (the test set's size in its "
            "layout's units)",
        )
    return GradingCost(table.get("child_seconds"), table.get("measured_size"))


def _names(raw: dict, key: str, path: Path) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.isidentifier() for v in value
    ):
        raise _fail(path, key, "is not a list of Python names", f'write {key} = ["NAME", ...]')
    return tuple(value)


def load(path: str | Path) -> Spec:
    """The assignment described by the TOML file `path`, checked (SpecError naming the fix)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SpecError(f"{path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not valid TOML ({error})") from None
    for key in ("name", "title", "notebook"):
        if not isinstance(raw.get(key), str):
            raise _fail(path, key, "is missing", f'add {key} = "..." at the top')
    points = _table(raw, "points", path)
    for test, value in points.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _fail(path, f"points.{test}", f"is {value!r}", "give a number of points >= 0")
    budgets = {
        preset: {key: str(value) for key, value in table.items()}
        for preset, table in _table(raw, "budgets", path).items()
    }
    tasks = _tasks(raw, path)
    return Spec(
        name=raw["name"],
        title=raw["title"],
        notebook=raw["notebook"],
        data=_table(raw, "data", path),
        tasks=tasks,
        points={test: float(value) for test, value in points.items()},
        tiers=_tiers(raw, path),
        budgets=budgets,
        path=path,
        compared_names=_names(raw, "compared_names", path),
        aliases=_names(raw, "aliases", path),
        numeric=_numeric(raw, path, tasks),
        grading=_grading(raw, path),
    )


def load_folder(folder: str | Path) -> Spec:
    """The assignment of folder `folder` (its ``spec.toml``); SpecError when the spec's name is
    not the folder's name, since the grader, the release and ``--assignment`` find it by that."""
    folder = Path(folder)
    spec = load(folder / SPEC_FILE)
    if spec.name != folder.name:
        raise _fail(
            spec.path,
            "name",
            f"is {spec.name!r}",
            f'name the folder and the spec alike: name = "{folder.name}"',
        )
    return spec


def folders_in(root: str | Path) -> dict[str, Path]:
    """{name: folder} of every assignment folder (a folder holding ``spec.toml``) under `root`,
    by name; a folder whose name starts with ``_`` is left out. Nothing is read."""
    return {
        folder.name: folder
        for folder in sorted(Path(root).iterdir())
        if (folder / SPEC_FILE).is_file() and not folder.name.startswith("_")
    }


def discover(root: str | Path) -> dict[str, Spec]:
    """{name: spec} of every assignment folder (a folder holding ``spec.toml``) under `root`."""
    return {name: load_folder(folder) for name, folder in folders_in(root).items()}


def named_folders(value: str, taken: dict[str, Path]) -> dict[str, Path]:
    """{name: folder} of the assignment folders `value` (``KWS_ASSIGNMENTS``) names, each an
    assignment folder or a folder of them, relative ones resolved against the working
    directory; SpecError naming the variable for a folder that holds none, or a name given twice
    (among them or with `taken`, the kit's). Nothing is read but the folders' listings."""
    found: dict[str, Path] = {}
    for entry in filter(None, value.split(os.pathsep)):
        root = Path(entry).resolve()
        if (root / SPEC_FILE).is_file():
            extra = {root.name: root}
        elif root.is_dir():
            extra = folders_in(root)
        else:
            extra = {}
        if not extra:
            raise SpecError(
                f"{ASSIGNMENTS_ENV}={value}: {root} is no assignment folder (one holding "
                f"{SPEC_FILE}) and holds none; fix the path or unset {ASSIGNMENTS_ENV}"
            )
        for name, folder in extra.items():
            first = taken.get(name) or found.get(name)
            if first is not None:
                raise SpecError(
                    f"{folder / SPEC_FILE}: an assignment named {name!r} exists already "
                    f"({first / SPEC_FILE}); rename the folder and its spec's name"
                )
            found[name] = folder
    return found


class Registry(MutableMapping):
    """{name: `Spec`} of the assignments: the kit's own folders, then those ``KWS_ASSIGNMENTS``
    names (`value`), in that order. Lazy at every step: the kit's folders are listed when first
    needed, the instructor's only when a name is not among the kit's (or the whole registry is
    walked), and a spec is read and checked when its assignment is first asked for. Setting an
    entry (a test's edited copy of a spec) replaces it until it is set back or deleted."""

    def __init__(self, value: str = ""):
        self.value = value
        self._kit: dict[str, Path] | None = None
        self._named: dict[str, Path] | None = None
        self._specs: dict[str, Spec] = {}  # read, or set
        self._added: dict[str, Path] = {}  # set under a name no folder has
        self._removed: set[str] = set()

    def _kit_folders(self) -> dict[str, Path]:
        if self._kit is None:
            self._kit = folders_in(KIT_FOLDER)
        return self._kit

    def _named_folders(self) -> dict[str, Path]:
        if self._named is None:
            self._named = named_folders(self.value, self._kit_folders())
        return self._named

    def _names(self) -> Iterator[str]:
        """Every name, the kit's first (the instructor's folders are listed only if the caller
        goes on past them)."""
        yield from self._kit_folders()
        yield from self._named_folders()
        yield from self._added

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._names() if name not in self._removed)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name) -> bool:
        return self.folder(name) is not None

    def folder(self, name: str) -> Path | None:
        """The folder of assignment `name` (None: there is none), its spec left unread."""
        if name in self._removed:
            return None
        if name in self._specs:
            return self._specs[name].folder
        for found in (self._kit_folders, self._named_folders, lambda: self._added):
            if name in found():
                return found()[name]
        return None

    def __getitem__(self, name: str) -> Spec:
        if name not in self._specs:
            folder = self.folder(name) if isinstance(name, str) else None
            if folder is None:
                raise KeyError(name)
            self._specs[name] = load_folder(folder)
        return self._specs[name]

    def __setitem__(self, name: str, spec: Spec) -> None:
        if name not in self:
            self._added[name] = spec.folder
        self._removed.discard(name)
        self._specs[name] = spec

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._specs.pop(name, None)
        self._added.pop(name, None)
        self._removed.add(name)

    def __repr__(self) -> str:
        return f"Registry({list(self)})"


_REGISTRIES: dict[str, Registry] = {}  # by the value of KWS_ASSIGNMENTS they were found with


def assignments(environ: dict[str, str] | None = None) -> Registry:
    """The registry of assignments (`Registry`) for the ``KWS_ASSIGNMENTS`` of `environ` (default:
    this process's environment), made once per value of the variable."""
    value = (os.environ if environ is None else environ).get(ASSIGNMENTS_ENV, "")
    if value not in _REGISTRIES:
        _REGISTRIES[value] = Registry(value)
    return _REGISTRIES[value]


def assignment(name: str) -> Spec:
    """The spec of assignment `name`; SpecError naming the assignments there are."""
    registry = assignments()
    if name not in registry:
        raise SpecError(
            f"there is no assignment {name!r}: the kit and {ASSIGNMENTS_ENV} have "
            f"{', '.join(registry)}; name its folder in {ASSIGNMENTS_ENV}"
        )
    return registry[name]


def all_assignments(environ: dict[str, str] | None = None) -> dict[str, Spec]:
    """Every assignment, each spec read now: the kit's, then those of the folders
    `KWS_ASSIGNMENTS` names (each an assignment folder or a folder of them); SpecError naming
    the variable for a folder that holds none, or a name given twice, and for a broken spec."""
    value = (os.environ if environ is None else environ).get(ASSIGNMENTS_ENV, "")
    return dict(Registry(value).items())


def spec_of(path: str | Path) -> Spec:
    """The assignment whose folder holds `path` (e.g. a graded test's ``__file__``); only that
    assignment's spec is read."""
    path = Path(path).resolve()
    registry = assignments()
    for name in registry:  # the kit's folders first: the instructor's are listed only if needed
        if path.is_relative_to(registry.folder(name).resolve()):
            return registry[name]
    raise SpecError(
        f"{path} is in no assignment folder; put it in one, or name the folder in {ASSIGNMENTS_ENV}"
    )


def settings(name: str, environ: dict[str, str] | None = None) -> dict[str, int | float]:
    """A notebook's settings: assignment `name`'s full budget ([budgets.full] of its spec), each
    replaced by the environment variable of the same name when it is set.

    Returns {"KWS_STEPS": 12000, "KWS_LR": 0.001, ...}: whole numbers as int, others as float.
    A value that is not a number of the default's kind raises ValueError naming the variable.
    """
    spec = assignments()[name]
    environ = os.environ if environ is None else environ
    values = {}
    for key, default in spec.budget("full").items():
        kind = int if default.lstrip("-").isdigit() else float
        text = environ.get(key, default)
        try:
            values[key] = kind(text)
        except ValueError:
            where = "the environment" if key in environ else f"{spec.path} [budgets.full]"
            raise ValueError(
                f"{key}={text!r} (from {where}) is not {'a whole number' if kind is int else 'a number'}"
            ) from None
    return values
