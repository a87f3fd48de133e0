"""The measured figures the kit quotes, read from the one file that ships with it.

``kws/figures.json`` is package data. ``kws demo``, notebook 01's introduction and the
documentation site all quote their measurements from it; nothing in the kit measures anything
when it runs. The benchmark scripts in the repository's ``benchmarks/`` folder write it (each its
own section, through ``benchmarks/benchlib.py``), so a figure changes in one place, by a run.

Each section is a dict that names how it was measured:

- ``command``: the benchmark command that wrote it;
- ``conditions``: the machine and settings, in a sentence;
- ``synthetic``: True when the figures are on the kit's synthetic data, not on real speech.

Sections: ``real_speech`` (the reference models cross-validated over speakers, ``rows`` keyed by
row name), ``demo`` (``kws demo`` on the small preset: its time, the time to its first graded
notebook, the machine's reference time, and ``shared`` when other work ran beside it), ``grading`` (one hand-in graded at the
real test-set sizes: memory and time), ``report`` (``kws report`` on a large class),
``private_variant`` (the private variant of the real-speech folds' test sets: lookups on it, and
the trained reference hand-ins graded on it), ``speaker_private`` (speaker ID's held-back
utterances on the synthetic twin: the reference's public and private accuracies over seeds, its
tier changes between private sets), ``handin`` (``kws handin`` on notebook 02's hand-in: its
wall and CPU time) and ``rehearsal`` (``kws rehearse`` on the example course, a first and a
second run).
"""

from __future__ import annotations

import json
from pathlib import Path

FIGURES = Path(__file__).with_name("figures.json")


def load(path: str | Path | None = None) -> dict:
    """The figures file as a dict of sections (``{}`` when there is no such file).

    Args:
        path: another figures file; by default the kit's own, ``kws/figures.json``.
    """
    path = Path(path) if path is not None else FIGURES
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def section(name: str, path: str | Path | None = None) -> dict:
    """One section of the figures file, e.g. ``section("real_speech")``.

    Raises:
        KeyError: the file has no such section; the message lists the sections it has.
    """
    figures = load(path)
    if name not in figures:
        shown = path or FIGURES
        raise KeyError(f"{shown} has no section {name!r}; it has: {', '.join(figures) or 'none'}")
    return figures[name]


def percent(fraction: float, digits: int = 1) -> str:
    """A fraction as the kit writes a percentage: ``percent(0.9428) == "94.3 %"``."""
    return f"{100 * fraction:.{digits}f} %"
