"""Reading one ``spec.toml``: `load` checks every key and stops with the file, the key and the
fix (`SpecError`), so an instructor's edit that breaks a spec stops the grader before it grades
anyone; `load_folder` also checks the folder's name."""

from __future__ import annotations

from pathlib import Path

from kws.i18n import canonical, check_language
from kws.spec.model import (
    ACCURACY_SOURCES,
    RULE_KINDS,
    SPEC_FILE,
    TIER_ORDER,
    AccuracySource,
    Cells,
    GradingCost,
    NumericTest,
    Spec,
    SpecError,
    Task,
)
from kws.spec.toml import closest, line_of, read_toml


def _fail(path: Path, key: str, problem: str, fix: str, line: int | None = None) -> SpecError:
    where = f"{path}, line {line}" if line else f"{path}"
    return SpecError(f"{where}: {key} {problem}; {fix}")


def _unknown_rule(path: Path, text: str, task: str, key: str) -> SpecError:
    """A rule the kit does not know, with its line and the nearest known name."""
    near = closest(key, list(RULE_KINDS))
    guess = f"did you mean {near}? " if near else ""
    kinds = ", ".join(
        f"{name} = {'true' if kind is bool else '[...]' if kind is list else '...'}"
        for name, kind in RULE_KINDS.items()
    )
    return _fail(
        path,
        f"tasks.{task}.rules",
        f"names {key!r}, a rule the kit does not know",
        f"{guess}the rules are {kinds} (see The assignment spec in the docs)",
        line_of(text, "tasks", task, "rules", key),
    )


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


def _public_gaps(raw: dict, path: Path) -> dict[str, float]:
    gaps = _table(raw, "public_gap", path)
    for dataset, value in gaps.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise _fail(path, f"public_gap.{dataset}", f"is {value!r}",
                        "give a fraction, e.g. 0.12 (kws reference --write-tiers measures it)")  # fmt: skip
    return {dataset: float(value) for dataset, value in gaps.items()}


def _tasks(raw: dict, path: Path, text: str = "") -> dict[str, Task]:
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
        unknown = [key for key in rules if key not in RULE_KINDS] if isinstance(rules, dict) else []
        if unknown:
            raise _unknown_rule(path, text, name, unknown[0])
        if not isinstance(rules, dict) or not all(
            isinstance(value, RULE_KINDS[key]) for key, value in rules.items()
        ):
            raise _fail(
                path,
                f"tasks.{name}.rules",
                "holds a value of the wrong kind",
                'use layer_class = "Name", own_classes = ["Name"], norm_before_classifier = true, '
                "from_scratch = true",
                line_of(text, "tasks", name, "rules"),
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
    return tasks  # none: a written-only assignment (`kws assign` checks it asks a question)


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
    if not table:
        return GradingCost()
    keys, optional = ("cpu_seconds", "measured_size"), ("fixed_seconds", "peak_mib")
    numbers = all(
        isinstance(table.get(k), int | float)
        and not isinstance(table.get(k), bool)
        and table[k] > 0
        for k in [*keys, *(k for k in optional if k in table)]
    )
    if not set(keys) <= set(table) <= {*keys, *optional} or not numbers:
        raise _fail(
            path,
            "[grading]",
            "needs cpu_seconds and measured_size, positive numbers (and may give fixed_seconds "
            "and peak_mib)",
            "e.g. cpu_seconds = 60 and measured_size = 4890 (the test set's size in its "
            "layout's units)",
        )
    if table.get("fixed_seconds", 0) > table["cpu_seconds"]:
        raise _fail(
            path, "grading.fixed_seconds", "is more than cpu_seconds", "give the fixed part of it"
        )
    return GradingCost(
        table["cpu_seconds"],
        table["measured_size"],
        table.get("fixed_seconds", 0),
        table.get("peak_mib"),
    )


def _accuracy(raw: dict, path: Path) -> AccuracySource:
    table = _table(raw, "accuracy", path)
    source = table.get("source", "model")
    if source not in ACCURACY_SOURCES or set(table) - {
        "source",
        "sample",
        "tolerance",
        "margin",
        "excused",
    }:
        raise _fail(
            path,
            "[accuracy]",
            f"holds {', '.join(f'{k} = {v!r}' for k, v in table.items())}",
            'use source = "model" (the default), or source = "predictions.csv" with sample = N, '
            "tolerance, margin and excused (fractions)",
        )
    if source == "model":
        if set(table) - {"source"}:
            raise _fail(
                path,
                "[accuracy]",
                "gives a model source a sample",
                "remove sample, tolerance, margin, excused",
            )
        return AccuracySource()
    sample = table.get("sample")
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise _fail(
            path, "accuracy.sample", f"is {sample!r}", "give the items re-run, e.g. sample = 400"
        )
    fractions = {}
    for key, example in (("tolerance", 0.01), ("margin", 0.01), ("excused", 0.01)):
        value = table.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise _fail(
                path, f"accuracy.{key}", f"is {value!r}", f"give a fraction, e.g. {key} = {example}"
            )
        fractions[key] = float(value)
    return AccuracySource(source, sample, **fractions)


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
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"{path}: cannot read it ({error.strerror})") from None
    raw = read_toml(path, text, SpecError).table
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
    tasks = _tasks(raw, path, text)
    language = raw.get("language")
    if language is not None:
        problem = check_language(language)
        if problem:
            raise SpecError(f"{path}, line {line_of(text, 'language')}: {problem}")
        language = canonical(language)
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
        accuracy=_accuracy(raw, path),
        public_gaps=_public_gaps(raw, path),
        language=language,
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
