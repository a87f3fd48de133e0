"""The grading child's own footing: the standard library, hooks and exit handlers.

The grading child runs a notebook's model cells in its own process, so the notebook could rewrite
what the grader's code calls afterwards: ``builtins.open``, ``json.dump``, ``os.write``, the
profiler the tracer installs, or add an ``atexit`` handler that rewrites the result. `snapshot`
records the genuine objects before any student code runs; `changes` lists, one sentence each,
what differs afterwards:

- any function, class or module of ``builtins``, ``io``, ``json`` (and its encoder), ``os``,
  ``sys``, ``atexit``, ``gc`` and ``threading`` replaced by another object;
- a trace or profile function installed (``sys.settrace``/``setprofile``, or for new threads);
- ``atexit`` handlers registered since by the notebook's own cells, or behind the recording
  ``atexit.register``'s back (the result is written last and the process ends with
  ``os._exit``, so they would not run; they are still reported). Libraries a notebook imports
  register handlers of their own; those are not the notebook's doing.

Threads the notebook starts are not on the list: a progress bar starts one, and a thread can do
nothing the notebook's own forward code could not (both run in this process); what it would
change shows up as one of the changes above, or as a traced pass that differs from the graded one.

This cannot make the child trustworthy — code in the same process can undo any check — but every
trick found in practice is either detected here or fails, and what is left must be written in the
notebook for everyone to see (see the threat model, docs/reference/threat-model.md).
"""

from __future__ import annotations

import atexit
import builtins
import gc
import io
import json
import json.encoder
import os
import sys
import threading
import types
from dataclasses import dataclass

WATCHED_MODULES = (builtins, io, json, json.encoder, os, sys, atexit, gc, threading)
_KINDS = (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)
# Classes whose Python-level methods the result channel uses.
WATCHED_CLASSES = (json.JSONEncoder,)


_original_register = atexit.register
_registered: list[str] = []  # the file of the code behind every atexit.register call since


def _recording_register(func, *args, **kwargs):
    """`atexit.register`, remembering who called it: libraries imported by a notebook register
    handlers of their own (matplotlib, IPython); only the notebook's own are reported."""
    _registered.append(sys._getframe(1).f_code.co_filename)
    return _original_register(func, *args, **kwargs)


def _notebook_code(filename: str) -> bool:
    return filename.startswith("<model cell")


@dataclass(frozen=True)
class Snapshot:
    """The genuine objects and counts, taken before student code ran."""

    objects: tuple[tuple[str, object, str, object], ...]  # (module label, namespace, name, value)
    atexit_handlers: int
    count_atexit: object  # the genuine atexit._ncallbacks
    gettrace: object
    getprofile: object


def snapshot() -> Snapshot:
    """Record the standard library's functions and exit handlers; call first.

    Installs a recording `atexit.register` (once per process), itself watched like the rest.
    """
    atexit.register = _recording_register
    _registered.clear()
    objects = []
    for module in WATCHED_MODULES:
        # sys holds state as well as functions (sys.last_type after an error): functions only.
        kinds = _KINDS[:2] if module is sys else _KINDS
        for name, value in list(vars(module).items()):
            if isinstance(value, kinds) and not (name.startswith("__") and name != "__import__"):
                objects.append((module.__name__, vars(module), name, value))
    for cls in WATCHED_CLASSES:
        for name, value in list(vars(cls).items()):
            if isinstance(value, types.FunctionType):
                objects.append((f"{cls.__module__}.{cls.__name__}", vars(cls), name, value))
    return Snapshot(
        objects=tuple(objects),
        atexit_handlers=atexit._ncallbacks(),
        count_atexit=atexit._ncallbacks,
        gettrace=sys.gettrace,
        getprofile=sys.getprofile,
    )


def changes(before: Snapshot, *, profiler_allowed: object = None) -> list[str]:
    """One sentence for every change since `before`; [] when there is none.

    `profiler_allowed` is the grader's own profile function while it traces (not a change).
    """
    found = []
    for label, namespace, name, value in before.objects:
        if namespace.get(name, None) is not value:
            found.append(f"{label}.{name} was replaced or changed by the notebook")
    if before.gettrace() is not None:
        found.append("the notebook installed a trace function (sys.settrace)")
    profile = before.getprofile()
    if profile is not None and profile is not profiler_allowed:
        found.append("the notebook installed a profiler function (sys.setprofile)")
    for hook in ("_trace_hook", "_profile_hook"):
        if getattr(threading, hook, None) is not None:
            found.append(f"the notebook installed a hook for new threads (threading.{hook})")
    # Handlers the notebook's cells registered, and any registered without the recording
    # register (through the original function, reached by introspection).
    unexplained = before.count_atexit() - before.atexit_handlers - len(_registered)
    handlers = sum(map(_notebook_code, _registered)) + max(0, unexplained)
    if handlers:
        found.append(f"the notebook registered {handlers} atexit handler(s)")
    return found
