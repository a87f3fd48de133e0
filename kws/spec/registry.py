"""The registry of assignment folders: the course's (``KWS_COURSE``, by default the kit's own
example course), then those ``KWS_ASSIGNMENTS`` names, found when first asked for, each spec
read when its assignment is (see `kws.spec`); and the course itself (`Course`: its folder, its
solution notebooks, its student notebooks)."""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from kws.spec.load import load_folder
from kws.spec.model import (
    ASSIGNMENTS_ENV,
    COURSE_ENV,
    KIT_FOLDER,
    SOLUTIONS_FOLDER,
    SPEC_FILE,
    STUDENTS_FOLDER,
    Spec,
    SpecError,
)

KIT_ROOT = KIT_FOLDER.parents[1]  # a checkout of the kit: solutions/, assignments/, pyproject.toml


@dataclass(frozen=True)
class Course:
    """A course: a folder of assignment folders, and the notebooks beside them. The kit's three
    assignments are its example course (`course` without ``KWS_COURSE``); an instructor's own
    course is any folder ``KWS_COURSE`` names::

        course/                   KWS_COURSE=course
          conv_module/            an assignment folder: spec.toml, checks.py, graded_tests/
          solutions/              its solution notebooks (what the reference run executes)
          students/               its student notebooks (`kws assign` writes them)

    Attributes:
        folder: the folder of its assignment folders.
        solutions: the folder of its solution notebooks.
        students: the folder of its student notebooks (the kit's: ``assignments/``).
        named: True for a course ``KWS_COURSE`` names, False for the kit's own.
    """

    folder: Path
    solutions: Path
    students: Path
    named: bool = True

    @property
    def kit(self) -> bool:
        """Whether this is the kit's own example course."""
        return not self.named

    def describe(self) -> str:
        """The course in a few words, for messages: "the course in course/ (KWS_COURSE)"."""
        if self.kit:
            return "the kit's example course"
        return f"the course in {self.folder} ({COURSE_ENV})"


def course_folder(environ: dict[str, str] | None = None) -> Path | None:
    """The folder ``KWS_COURSE`` names in `environ` (default: this process's environment),
    resolved against the working directory; None when it is not set. SpecError naming the
    variable when it is no folder, or an assignment folder rather than the course's."""
    value = (os.environ if environ is None else environ).get(COURSE_ENV, "")
    if not value:
        return None
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise SpecError(
            f"{COURSE_ENV}={value}: no such folder; name the folder of your course's assignment "
            f"folders (each holding {SPEC_FILE}), or unset {COURSE_ENV} for the kit's course"
        )
    if (folder / SPEC_FILE).is_file():
        raise SpecError(
            f"{COURSE_ENV}={value} is an assignment folder; name the course, the folder above "
            f"it: {COURSE_ENV}={folder.parent}"
        )
    return folder


def course(environ: dict[str, str] | None = None) -> Course:
    """The course of this process: the folder ``KWS_COURSE`` names, else the kit's example
    course (its folders in a checkout: ``kws/assignments/``, ``solutions/``, ``assignments/``).

    Example:
        ```python
        course().solutions / assignment("conv_module").notebook  # the solution notebook
        ```
    """
    folder = course_folder(environ)
    if folder is None:
        return Course(KIT_FOLDER, KIT_ROOT / SOLUTIONS_FOLDER, KIT_ROOT / "assignments", False)
    return Course(folder, folder / SOLUTIONS_FOLDER, folder / STUDENTS_FOLDER)


def absolute_environment(environ: dict[str, str]) -> dict[str, str]:
    """`environ` with ``KWS_COURSE`` and the folders of ``KWS_ASSIGNMENTS`` made absolute
    (against this process's working directory): what a child started elsewhere reads."""
    env = dict(environ)
    if env.get(COURSE_ENV):
        env[COURSE_ENV] = str(Path(env[COURSE_ENV]).expanduser().resolve())
    if env.get(ASSIGNMENTS_ENV):
        folders = env[ASSIGNMENTS_ENV].split(os.pathsep)
        env[ASSIGNMENTS_ENV] = os.pathsep.join(str(Path(f).resolve()) for f in folders if f)
    return env


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
    """{name: `Spec`} of the assignments: the course's folders (`course`: the folder
    ``KWS_COURSE`` names, default the kit's own), then those ``KWS_ASSIGNMENTS`` names (`value`),
    in that order. Lazy at every step: the course's folders are listed when first needed, the
    instructor's extra ones only when a name is not among the course's (or the whole registry is
    walked), and a spec is read and checked when its assignment is first asked for. Setting an
    entry (a test's edited copy of a spec) replaces it until it is set back or deleted."""

    def __init__(self, value: str = "", course: Path | None = None):
        self.value = value
        self.course = course  # None: the kit's own assignments
        self._kit: dict[str, Path] | None = None
        self._named: dict[str, Path] | None = None
        self._specs: dict[str, Spec] = {}  # read, or set
        self._added: dict[str, Path] = {}  # set under a name no folder has
        self._removed: set[str] = set()

    def _kit_folders(self) -> dict[str, Path]:
        """The course's assignment folders (the kit's own without ``KWS_COURSE``)."""
        if self._kit is None:
            self._kit = folders_in(self.course or KIT_FOLDER)
            if self.course is not None and not self._kit:
                raise SpecError(
                    f"{COURSE_ENV}={self.course}: the course holds no assignment folder (a "
                    f"folder with {SPEC_FILE}); add one (see the tutorial Your own assignment)"
                )
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


# by the course folder and the value of KWS_ASSIGNMENTS they were found with
_REGISTRIES: dict[tuple[Path | None, str], Registry] = {}


def assignments(environ: dict[str, str] | None = None) -> Registry:
    """The registry of assignments (`Registry`) for the ``KWS_COURSE`` and ``KWS_ASSIGNMENTS`` of
    `environ` (default: this process's environment), made once per course and value."""
    environ = os.environ if environ is None else environ
    key = (course_folder(environ), environ.get(ASSIGNMENTS_ENV, ""))
    if key not in _REGISTRIES:
        _REGISTRIES[key] = Registry(key[1], key[0])
    return _REGISTRIES[key]


def assignment(name: str) -> Spec:
    """The spec of assignment `name`; SpecError naming the assignments there are."""
    registry = assignments()
    if name not in registry:
        where = "the kit" if registry.course is None else f"the course ({COURSE_ENV})"
        raise SpecError(
            f"there is no assignment {name!r}: {where} and {ASSIGNMENTS_ENV} have "
            f"{', '.join(registry)}; put its folder in the course, or name it in {ASSIGNMENTS_ENV}"
        )
    return registry[name]


def all_assignments(environ: dict[str, str] | None = None) -> dict[str, Spec]:
    """Every assignment, each spec read now: the kit's, then those of the folders
    `KWS_ASSIGNMENTS` names (each an assignment folder or a folder of them); SpecError naming
    the variable for a folder that holds none, or a name given twice, and for a broken spec."""
    environ = os.environ if environ is None else environ
    return dict(Registry(environ.get(ASSIGNMENTS_ENV, ""), course_folder(environ)).items())


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
        f"{path} is in no assignment folder; put it in one of the course's ({COURSE_ENV}), or "
        f"name the folder in {ASSIGNMENTS_ENV}"
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
