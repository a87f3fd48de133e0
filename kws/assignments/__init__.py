"""The kit's assignments, one folder each: ``kws/assignments/<name>/`` with its spec ``spec.toml``.

The spec model, its loader and the registry of assignment folders live in `kws.spec`, a low
layer that imports nothing of the kit; this package holds the kit's own assignment folders and
keeps the names earlier code and notebooks import from it (``from kws.assignments import
settings``, ``ASSIGNMENTS``, ``spec_of``, ``load`` ...). ``ASSIGNMENTS`` is `kws.spec.assignments`
(the registry for this process's ``KWS_ASSIGNMENTS``), looked up when it is imported from here,
not when this package is: importing it reads no folder.
"""

from kws.spec import (
    ASSIGNMENTS_ENV,
    GRADER_FOLDER,
    KIT_FOLDER,
    RULE_KINDS,
    SPEC_FILE,
    TIER_ORDER,
    NumericTest,
    Registry,
    Spec,
    SpecError,
    Task,
    all_assignments,
    assignment,
    assignments,
    discover,
    load,
    load_folder,
    settings,
    spec_of,
    tomllib,
)

HERE = KIT_FOLDER  # this folder: the kit's assignments

__all__ = [
    "ASSIGNMENTS",
    "ASSIGNMENTS_ENV",
    "GRADER_FOLDER",
    "HERE",
    "RULE_KINDS",
    "SPEC_FILE",
    "TIER_ORDER",
    "NumericTest",
    "Registry",
    "Spec",
    "SpecError",
    "Task",
    "all_assignments",
    "assignment",
    "assignments",
    "discover",
    "load",
    "load_folder",
    "settings",
    "spec_of",
    "tomllib",
]


def __getattr__(name: str):
    """``ASSIGNMENTS``: the registry of this process's assignments (`kws.spec.assignments`)."""
    if name == "ASSIGNMENTS":
        return assignments()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
