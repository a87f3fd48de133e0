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
graded tests share with the self-check, and ``graded_tests/`` (its graded tests, ``test_*.py``).
A course is a folder of assignment folders (`Course`, `course`): the kit's three are its example
course, found here; an instructor's own course lives anywhere and is named by the environment
variable ``KWS_COURSE``, which every ``kws`` command, the grader and the notebooks read: then its
assignments are the only ones. ``KWS_ASSIGNMENTS`` names more assignment folders beside the
course's (folders separated by ``:``, each an assignment folder or a folder of them). A folder
whose name starts with ``_`` is never an assignment (a template or a draft can sit beside
them).

The registry (`assignments`) is found when first asked for, not when this module is imported,
and reads each spec only when that assignment is asked for: ``import kws.check`` in a student's
notebook reads no instructor's folder, and a broken spec breaks nothing but its own assignment.
This package imports nothing else of the kit, so that every layer may use it: `kws.spec.model`
(the dataclasses), `kws.spec.load` (reading one file) and `kws.spec.registry` (the folders).
"""

from kws.spec.load import load, load_folder
from kws.spec.model import (
    ASSIGNMENTS_ENV,
    COURSE_ENV,
    GRADED_TESTS_FOLDER,
    KIT_FOLDER,
    KIT_PACKAGE,
    RULE_KINDS,
    SOLUTIONS_FOLDER,
    SPEC_FILE,
    STUDENTS_FOLDER,
    TIER_ORDER,
    AccuracySource,
    Cells,
    GradingCost,
    NumericTest,
    Spec,
    SpecError,
    Task,
)
from kws.spec.registry import (
    Course,
    Registry,
    absolute_environment,
    all_assignments,
    assignment,
    assignments,
    course,
    course_folder,
    discover,
    folders_in,
    graded_test_folders,
    named_folders,
    settings,
    spec_of,
)
from kws.spec.toml import tomllib

__all__ = [
    "ASSIGNMENTS",
    "ASSIGNMENTS_ENV",
    "COURSE_ENV",
    "GRADED_TESTS_FOLDER",
    "KIT_FOLDER",
    "KIT_PACKAGE",
    "RULE_KINDS",
    "SOLUTIONS_FOLDER",
    "SPEC_FILE",
    "STUDENTS_FOLDER",
    "TIER_ORDER",
    "AccuracySource",
    "Cells",
    "Course",
    "GradingCost",
    "NumericTest",
    "Registry",
    "Spec",
    "SpecError",
    "Task",
    "absolute_environment",
    "all_assignments",
    "assignment",
    "assignments",
    "course",
    "course_folder",
    "discover",
    "folders_in",
    "graded_test_folders",
    "load",
    "load_folder",
    "named_folders",
    "settings",
    "spec_of",
    "tomllib",
]


def __getattr__(name: str):
    """``ASSIGNMENTS``: the registry of this process's assignments (`assignments`), looked up when
    it is imported (``from kws.spec import ASSIGNMENTS``), not when this package is: importing
    it reads no folder."""
    if name == "ASSIGNMENTS":
        return assignments()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
