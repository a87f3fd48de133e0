"""The grader corpora in the default test run: a sample of each corpus, chosen so that every kind
of verdict its cases get is still graded; the full run (``pytest --full``, what CI runs) grades
every case.

A case's kinds of verdict (`verdict_kinds`): "full marks" when it loses nothing and is flagged for
nothing; otherwise ``loses TEST`` for each test it loses, ``says "PHRASE"`` for each reason it
must give, and ``flagged "PHRASE"`` for each note it must leave for a person to read. A corpus
module keeps its sample as ``{case: the verdict it covers}`` beside its tests, and a test of its
own asserts that `uncovered` finds nothing: a new case with a new kind of verdict fails that test
until the sample takes it in. The kinds of attack on the sandbox, whose verdict is full marks
when the sandbox holds, are sampled by name (tests/test_grader_corpus.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def verdict_kinds(lost: Mapping[str, str], flagged: Iterable[str] = ()) -> set[str]:
    """The kinds of verdict of one case: `lost` maps each test it loses to a phrase of the
    reason; `flagged`, the phrases of its notes for a person to read."""
    kinds = {f"loses {test}" for test in lost} | {f'says "{phrase}"' for phrase in lost.values()}
    kinds |= {f'flagged "{phrase}"' for phrase in flagged}
    return kinds or {"full marks"}


def uncovered(cases: Iterable, sample: Iterable[str]) -> list[str]:
    """The kinds of verdict some case of `cases` gets and no case named in `sample` does, each
    with the cases that get it (an empty list: the sample covers every kind)."""
    cases, sample = list(cases), set(sample)
    kinds: dict[str, list[str]] = {}
    for case in cases:
        for kind in verdict_kinds(case.lost, getattr(case, "flagged", ())):
            kinds.setdefault(kind, []).append(case.name)
    unknown = sample - {case.name for case in cases}
    missing = [f"{kind}: {names}" for kind, names in kinds.items() if not sample & set(names)]
    return sorted(missing) + [f"no such case: {name}" for name in sorted(unknown)]


def graded_cases(names: Iterable[str], sample: Iterable[str], full: bool) -> set[str]:
    """The cases a run grades: every one of `names` in the full run, the `sample` otherwise."""
    names = set(names)
    return names if full else names & set(sample)
