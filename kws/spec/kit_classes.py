"""The kit's classes a task may forbid (``rules.forbidden`` of ``spec.toml``): a dotted name
``kws.<module>.<Class>`` is checked against the kit's own source files, read as text (`ast`),
so reading a spec imports neither torch nor the module it names.

    kit_class_problem("kws.data.features.SpecAugment")  # None: the kit defines it
    kit_class_problem("kws.data.features.SpecAugmnt")   # "... defines LogMel, MFCC, SpecAugment"
"""

from __future__ import annotations

import ast
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]  # the folder of the package kws


def _module_file(module: str) -> Path | None:
    """The source file of the kit's module `module` ("kws.data.features"), or None."""
    parts = module.split(".")
    if parts[0] != "kws" or not all(part.isidentifier() for part in parts):
        return None
    base = KIT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_classes(module: str) -> list[str] | None:
    """The classes the kit's module `module` defines at its top level, or None when the kit
    has no such module."""
    path = _module_file(module)
    if path is None:
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


def kit_class_problem(name: str) -> str | None:
    """Why `name` is not a class of the kit, with the fix; None when it is one.

    Args:
        name: a dotted name, ``kws.<module>.<Class>`` ("kws.data.features.SpecAugment").

    Returns:
        None, or a sentence that names the classes the module has (or says to name a module
        of the kit).
    """
    if not isinstance(name, str):
        return f"{name!r} is no class of the kit; name one as kws.<module>.<Class>"
    module, _, cls = name.rpartition(".")
    if module != "kws" and not module.startswith("kws."):
        return f"{name!r} is no class of the kit; name one as kws.<module>.<Class>"
    classes = module_classes(module)
    if classes is None:
        return f"{name!r}: the kit has no module {module}; name one as kws.<module>.<Class>"
    if cls not in classes:
        public = [c for c in classes if not c.startswith("_")]
        return f"{name!r}: {module} has no class {cls}; it has {', '.join(public) or 'none'}"
    return None
