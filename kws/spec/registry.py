"""The registry of assignment folders: the kit's own, then those ``KWS_ASSIGNMENTS`` names,
found when first asked for, each spec read when its assignment is (see `kws.spec`)."""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from kws.spec.load import load_folder
from kws.spec.model import ASSIGNMENTS_ENV, KIT_FOLDER, SPEC_FILE, Spec, SpecError


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
    """The spec of the assignment whose folder holds `path`; only that assignment's spec is read.

    A graded test or a check finds its own assignment this way, wherever its folder lives (the
    kit's, or a folder ``KWS_ASSIGNMENTS`` names).

    Args:
        path: a file or folder inside an assignment folder, usually the caller's ``__file__``.

    Returns:
        The assignment's `Spec`.

    Raises:
        SpecError: `path` is in no assignment folder (the message says to name it in
            ``KWS_ASSIGNMENTS``), or the spec has an error.

    Example:
        ```python
        SPEC = spec_of(__file__)  # in graded_tests/test_my_assignment.py
        SPEC.tasks["task1"].model_class  # "MeanPoolClassifier"
        ```
    """
    path = Path(path).resolve()
    registry = assignments()
    for name in registry:  # the kit's folders first: the instructor's are listed only if needed
        if path.is_relative_to(registry.folder(name).resolve()):
            return registry[name]
    raise SpecError(
        f"{path} is in no assignment folder; put it in one, or name the folder in {ASSIGNMENTS_ENV}"
    )


def graded_test_folders() -> list[Path]:
    """The graded tests' folders of every assignment (``<assignment folder>/graded_tests``), the
    kit's and those ``KWS_ASSIGNMENTS`` names: what the grader runs, and what a child never
    reads."""
    registry = assignments()
    return [
        registry[name].graded_tests for name in registry if registry[name].graded_tests.is_dir()
    ]


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
