"""The assignments: one folder each, ``kws/assignments/<name>/``, with its spec ``spec.toml``.

Each file holds an assignment's notebook, data layout, tasks (the model class a task's skeleton
fixes, its limits and target tier), the points of every graded test, the accuracy tiers per
dataset and the settings of the reference runs per data preset. Everything that grades,
releases or demonstrates an assignment reads it from here::

    from kws.assignments import ASSIGNMENTS, load

    spec = ASSIGNMENTS["speaker_id"]
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
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (Ubuntu 22.04, Gradescope's default image): the same parser, from PyPI
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
SPEC_FILE = "spec.toml"  # in each assignment's folder
GRADER_FOLDER = "grader"  # in each assignment's folder: its graded tests
ASSIGNMENTS_ENV = "KWS_ASSIGNMENTS"  # more assignment folders, outside the kit
TIER_ORDER = ("simple", "medium", "strong", "boss")


class SpecError(ValueError):
    """An assignment file that cannot be used; the message names the file, the key and the fix."""


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
    """

    name: str
    title: str
    model_class: str | None = None
    target: str | None = None
    limits: dict[str, int | float] = field(default_factory=dict)
    rules: dict = field(default_factory=dict)


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
        return f"{__name__}.{self.name}" if self.folder.parent == HERE else None

    def modules(self) -> list[str]:
        """The module names of the folder's Python files (checks and helpers), for the grading
        child to watch against a notebook that patches them."""
        if self.package is None:
            return [
                f"kws_assignment_{self.name}.{p.stem}" for p in sorted(self.folder.glob("*.py"))
            ]
        return [self.package] + [
            f"{self.package}.{p.stem}"
            for p in sorted(self.folder.glob("*.py"))
            if p.stem != "__init__"
        ]

    def checks(self):
        """The folder's ``checks.py`` module: its ``NUMERIC`` table ({component:
        `kws.check.registry.Component`}) is what the self-check and the grading child run."""
        return self.module("checks")

    def module(self, stem: str):
        """The folder's module ``<stem>.py``, imported once (as ``kws.assignments.<name>.<stem>``
        for the kit's own folders); SpecError naming the file when there is none."""
        path = self.folder / f"{stem}.py"
        if not path.is_file():
            raise SpecError(f"{path} is missing; the assignment's code needs it")
        if self.package is not None:
            return importlib.import_module(f"{self.package}.{stem}")
        name = f"kws_assignment_{self.name}.{stem}"
        if name not in sys.modules:
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
            name, table["title"], table.get("class"), target, dict(limits), dict(rules)
        )
    if not tasks:
        raise _fail(path, "[tasks]", "is empty", "describe at least one task")
    return tasks


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


def discover(root: str | Path) -> dict[str, Spec]:
    """{name: spec} of every assignment folder (a folder holding ``spec.toml``) under `root`."""
    return {
        folder.name: load_folder(folder)
        for folder in sorted(Path(root).iterdir())
        if (folder / SPEC_FILE).is_file() and not folder.name.startswith("_")
    }


def all_assignments(environ: dict[str, str] | None = None) -> dict[str, Spec]:
    """The kit's assignments, then those of the folders `KWS_ASSIGNMENTS` names (each an
    assignment folder or a folder of them); SpecError naming the variable for a folder that
    holds none, or a name given twice."""
    found = discover(HERE)
    value = (os.environ if environ is None else environ).get(ASSIGNMENTS_ENV, "")
    for entry in filter(None, value.split(os.pathsep)):
        root = Path(entry).resolve()
        if (root / SPEC_FILE).is_file():
            extra = {root.name: load_folder(root)}
        elif root.is_dir():
            extra = discover(root)
        else:
            extra = {}
        if not extra:
            raise SpecError(
                f"{ASSIGNMENTS_ENV}={value}: {root} is no assignment folder (one holding "
                f"{SPEC_FILE}) and holds none; fix the path or unset {ASSIGNMENTS_ENV}"
            )
        for name, spec in extra.items():
            if name in found:
                raise SpecError(
                    f"{spec.path}: an assignment named {name!r} exists already ({found[name].path}); "
                    "rename the folder and its spec's name"
                )
            found[name] = spec
    return found


ASSIGNMENTS: dict[str, Spec] = all_assignments()


def spec_of(path: str | Path) -> Spec:
    """The assignment whose folder holds `path` (e.g. a graded test's ``__file__``)."""
    path = Path(path).resolve()
    for spec in ASSIGNMENTS.values():
        if path.is_relative_to(spec.folder.resolve()):
            return spec
    raise SpecError(
        f"{path} is in no assignment folder; put it in one, or name the folder in {ASSIGNMENTS_ENV}"
    )


def settings(name: str, environ: dict[str, str] | None = None) -> dict[str, int | float]:
    """A notebook's settings: assignment `name`'s full budget ([budgets.full] of its spec), each
    replaced by the environment variable of the same name when it is set.

    Returns {"KWS_STEPS": 12000, "KWS_LR": 0.001, ...}: whole numbers as int, others as float.
    A value that is not a number of the default's kind raises ValueError naming the variable.
    """
    spec = ASSIGNMENTS[name]
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
