"""What the grader corpora's test modules share (tests/test_*_corpus.py): their cases built from
the reference hand-in, graded as `kws grade` grades a class, each verdict checked against its
case, and the default run's sample.

The default test run grades a sample of each corpus, chosen so that every kind of verdict its
cases get is still graded; the full run (``pytest --full``, what CI runs) grades every case. A
case's kinds of verdict (`verdict_kinds`): "full marks" when it loses nothing and is flagged for
nothing; otherwise ``loses TEST`` for each test it loses, ``says "PHRASE"`` for each reason it
must give, and ``flagged "PHRASE"`` for each note it must leave for a person to read. A corpus
module keeps its sample as ``{case: the verdict it covers}`` beside its tests, and a test of its
own asserts that `uncovered` finds nothing (`assert_sample_covers`): a new case with a new kind
of verdict fails that test until the sample takes it in. The kinds of attack on the sandbox,
whose verdict is full marks when the sandbox holds, are sampled by name
(tests/test_grader_corpus.py).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path

from batch_helpers import grade_batch
from recorded_children import grader_options

# A grading child's wall clock that no case of a corpus comes near, even on a loaded machine
# twice as slow: a guard against a hang, never a verdict (the cases that must run out of time are
# graded apart, at the short wall clock they must hit: tests/test_grader_corpus.py).
CHILD_TIMEOUT = 600


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


def assert_sample_covers(cases: Iterable, sample: Iterable[str], *, smaller: bool = False) -> None:
    """The sample test of a corpus module: `sample` covers every kind of verdict of `cases`
    (`uncovered` finds nothing); `smaller`: and leaves some cases to the full run."""
    cases, sample = list(cases), set(sample)
    assert uncovered(cases, sample) == []
    if smaller:
        assert len(sample) < len(cases)  # the full run grades more


def graded_cases(names: Iterable[str], sample: Iterable[str], full: bool) -> set[str]:
    """The cases a run grades: every one of `names` in the full run, the `sample` otherwise."""
    names = set(names)
    return names if full else names & set(sample)


def build_cases(
    cases: Iterable,
    reference: Path,
    corpus_dir: Path,
    notebook: str,
    tasks: Iterable[str],
    only: Collection[str] | None = None,
    *,
    files: Iterable[str] | None = None,
    damage: Callable[[object, Path], None] | None = None,
) -> dict:
    """One folder per case under `corpus_dir` (those named in `only`; default all): the
    `reference` hand-in's `notebook` and the outputs of its `tasks` (each task's whole folder,
    or only its `files`), then the case's damage (``case.damage(folder)``, or `damage`).

    Returns:
        {case name: case} of the cases built.
    """
    built = {}
    for case in cases:
        if only is not None and case.name not in only:
            continue
        folder = corpus_dir / case.name
        (folder / "outputs").mkdir(parents=True)
        shutil.copy(reference / notebook, folder / notebook)
        for task in tasks:
            if files is None:
                shutil.copytree(reference / "outputs" / task, folder / "outputs" / task)
                continue
            (folder / "outputs" / task).mkdir()
            for name in files:
                shutil.copy(reference / "outputs" / task / name, folder / "outputs" / task / name)
        if damage is None:
            case.damage(folder)
        else:
            damage(case, folder)
        built[case.name] = case
    return built


def grade_corpus(
    submissions: Path,
    data: Path,
    out: Path,
    *,
    child_timeout: float = CHILD_TIMEOUT,
    graded_tests: Iterable[Path] = (),
    options: Iterable[str] = (),
    jobs: int = 2,
    real: Collection[str] = (),
    aliases: Mapping[str, str] | None = None,
    **selection,
) -> Path:
    """Grade every hand-in of `submissions` as `kws grade` does (`grade_batch`), into `out`;
    its gradebook. Each grading child's report comes from its record where there is one
    (tests/plugins/recorded_children.py): the grader judges it as it judges a real child's.

    Args:
        child_timeout: each grading child's wall clock, in seconds; a grader's is ten times it.
        graded_tests: the graded test files to run (default: the kit's grader), the first as
            the grader, the others passed to it.
        options: more of the grader's options.
        jobs: hand-ins graded at once.
        real: the hand-ins (folder names) graded by real sandboxed children, records or not.
        aliases: {text: name} of what a hand-in carries of this run (its folders, a port),
            named alike in every run for the records' keys.
        selection: `grade_batch`'s ``assignment``, ``dataset`` or ``tiers``.
    """
    grader, *more = [*graded_tests] or [None]
    return grade_batch(
        submissions,
        data,
        out,
        jobs=jobs,
        grader=grader,
        pytest_args=[
            *map(str, more),
            "--child-timeout",
            str(child_timeout),
            *options,
            *grader_options(real, aliases),
        ],
        timeout=10 * child_timeout,
        **selection,
    )


def wrong_verdicts(
    cases: Mapping[str, object],
    documents: Mapping[str, dict],
    judged: Mapping[str, str] | None = None,
    machine_paths: Iterable[str] = (),
) -> dict[str, str]:
    """Where a graded case did not get its verdict: each test it should lose must score 0 and
    give its reason's phrase, every other test full marks, and (`machine_paths`) no output may
    show a path of the grading machine. An empty dict: every case got exactly its verdict.

    Args:
        cases: {case name: case}; a case's ``lost`` maps a test to a phrase of its reason.
        documents: {case name: its results.json, read}.
        judged: {short name: results.json name} of the tests judged, the short names those of
            ``lost``; None: every test with points, ``lost`` naming each by its name's start.
        machine_paths: paths that must not appear in a test's output.
    """
    wrong = {}
    for name, case in cases.items():
        tests = {test["name"]: test for test in documents[name]["tests"]}
        names = judged or {title: title for title, test in tests.items() if test["max_score"]}
        for short, title in names.items():
            test = tests[title]
            if judged is None:
                phrase = next((p for t, p in case.lost.items() if title.startswith(t)), None)
            else:
                phrase = case.lost.get(short)
            if phrase is None and test["score"] != test["max_score"]:
                wrong[f"{name}: {short}"] = f"lost points: {test['output']}"
            elif phrase is not None and (test["score"] != 0 or phrase not in test["output"]):
                wrong[f"{name}: {short}"] = f"score {test['score']}, said: {test['output']}"
            if any(path in test.get("output", "") for path in machine_paths):
                wrong[f"{name}: {short}"] = f"shows a path of the grading machine: {test['output']}"
    return wrong


def results_of(cases: Iterable[str], out: Path) -> dict[str, dict]:
    """{case name: its results.json} from the grades folder `out`."""
    return {name: json.loads((out / "results" / f"{name}.json").read_text()) for name in cases}
