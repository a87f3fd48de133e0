"""Similarity flags between hand-ins, for `kws report`: pairs that share unusually much graded
code, and hand-ins that share it with the reference solution.

The graded code of a notebook is its cells tagged ``model`` plus the cells that define one of
its spec's ``compared_names`` (notebook 01's recipe cell). Each hand-in's graded code becomes a
set of winnowed fingerprints (`kws.grading.fingerprints`) of its normalised tokens (names,
comments, layout, strings and the order of independent statements normalised away:
`kws.grading.normalise`). What every student shares is left out before comparing: the
fingerprints of the released student notebook (the skeleton) and, between hand-ins, those found
in more than a tenth of the hand-ins (and in more than ten). Against the reference only the
skeleton is left out, so a solution that leaked to many is still found. A pair's score is the
shared fingerprints over the smaller of the two sets, so a short hand-in copied into a longer
one still scores high.

A flag is evidence for a person to read, never a deduction: the report shows the matching lines
side by side.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from kws.assignments import Spec
from kws.grading.fingerprints import Fingerprint, fingerprint_hashes, fingerprints
from kws.grading.normalise import normalised_tokens
from kws.grading.shared.handin import find_notebook

REFERENCE = "reference solution"  # the partner named in a match with solutions/
THRESHOLD = 0.5  # score from which a pair is listed
MIN_SHARED = 8  # fewer shared fingerprints (about 3 lines) are never a flag
# Fingerprints in more than this share of the hand-ins (and more than COMMON_MIN of them) count
# as skeleton: what a tenth of a class writes alike is how the task is done, not copying.
COMMON_SHARE = 0.1
COMMON_MIN = 10
_MAX_BLOCKS = 12


@dataclass(frozen=True)
class Match:
    """Two hand-ins (or a hand-in and the reference) whose graded code of `assignment` shares
    `shared` fingerprints: `score` of the smaller one. `blocks` are the matching lines side by
    side: each a pair of lists of (label like ``"2:14"`` = compared cell 2, line 14; text)."""

    assignment: str
    first: str
    second: str
    shared: int
    score: float
    blocks: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]] = field(default_factory=list)


def compared_cells(notebook: Path, spec: Spec) -> list[str]:
    """The graded code cells of `notebook`: tagged ``model``, or defining a compared name."""
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8", errors="replace"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    names = "|".join(re.escape(name) for name in spec.compared_names)
    defines = re.compile(rf"^(?:def\s+(?:{names})\b|(?:{names})\s*[:=])", re.M) if names else None
    chosen = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        tags = (cell.get("metadata") or {}).get("tags") or []
        if "model" in tags or (defines and defines.search(source)):
            chosen.append(source)
    return chosen


def handin_cells(submission: Path, spec: Spec) -> list[str] | None:
    """The graded code cells of the hand-in's notebook of `spec`, or None without one."""
    try:
        notebook = find_notebook(Path(submission), spec.notebook, list(spec.model_tasks.values()))
    except (FileNotFoundError, OSError):
        return None
    return compared_cells(notebook, spec)


def code_hashes(cells: list[str]) -> frozenset[int]:
    """The fingerprint hashes of a hand-in's graded cells."""
    return frozenset(fingerprint_hashes(normalised_tokens(cells, lines=False)))


def _read(job: tuple[Path, Spec]) -> tuple[list[str], frozenset[int]] | None:
    cells = handin_cells(*job)
    return (cells, code_hashes(cells)) if cells else None


def read_class(
    submissions: Path, students: list[str], spec: Spec, jobs: int = 2
) -> dict[str, tuple[list[str], frozenset[int]]]:
    """{student: (graded cells, fingerprint hashes)} of the hand-ins holding `spec`'s notebook,
    read and fingerprinted by `jobs` processes."""
    work = [(Path(submissions) / student, spec) for student in students]
    if jobs <= 1 or len(work) < 20:
        found = [_read(job) for job in work]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            found = list(pool.map(_read, work, chunksize=max(1, len(work) // (8 * jobs))))
    return {student: got for student, got in zip(students, found, strict=True) if got}


def _located(cells: list[str]) -> list[Fingerprint]:
    return fingerprints(normalised_tokens(cells))


def _side_by_side(
    first: list[str], second: list[str], shared: set[int], located: Callable = _located
) -> list:
    """The lines of `first` and `second` that shared fingerprints cover, in blocks: a block
    grows while the next fingerprint's lines in `first` touch the block's. `located(cells)`
    gives the fingerprints with their lines (a cache of `_located`)."""
    theirs = {}
    for fp in located(second):
        theirs.setdefault(fp.hash, fp.lines)
    blocks: list[tuple[set, set]] = []
    for fp in located(first):
        if fp.hash not in shared or fp.hash not in theirs:
            continue
        near = blocks and any(
            c == cell and abs(line - other) <= 1
            for cell, line in fp.lines
            for c, other in blocks[-1][0]
        )
        if not near:
            blocks.append((set(), set()))
        blocks[-1][0].update(fp.lines)
        blocks[-1][1].update(theirs[fp.hash])

    def shown(cells: list[str], lines: set) -> list[tuple[str, str]]:
        texts = [cell.splitlines() for cell in cells]
        return [
            (f"{cell + 1}:{line}", texts[cell][line - 1] if line <= len(texts[cell]) else "")
            for cell, line in sorted(lines)
        ]

    return [(shown(first, a), shown(second, b)) for a, b in blocks[:_MAX_BLOCKS]]


def compare_assignment(
    handins: dict[str, tuple[list[str], frozenset[int]]],
    spec: Spec,
    *,
    skeleton: list[str] | None = None,
    reference: list[str] | None = None,
    threshold: float = THRESHOLD,
) -> list[Match]:
    """Matches of one assignment: pairs of students (`handins`, as `read_class` returns them)
    scoring at least `threshold`, then students against the `reference` cells; best first."""
    students = sorted(handins)
    cells = {student: handins[student][0] for student in students}
    hashes = [handins[student][1] for student in students]
    counts = Counter(h for found in hashes for h in found)
    skeleton_hashes = code_hashes(skeleton) if skeleton else frozenset()
    limit = max(COMMON_MIN, COMMON_SHARE * len(students))
    common = skeleton_hashes | {h for h, n in counts.items() if n > limit}
    own = [found - common for found in hashes]
    index: dict[int, list[int]] = {}
    for number, found in enumerate(own):
        for h in found:
            index.setdefault(h, []).append(number)
    pairs = Counter(pair for members in index.values() for pair in combinations(members, 2))
    candidates = []
    for (a, b), shared in pairs.items():
        score = shared / max(1, min(len(own[a]), len(own[b])))
        if shared >= MIN_SHARED and score >= threshold:
            candidates.append((students[a], students[b], own[a] & own[b], score))
    if reference:  # only the skeleton left out: a leaked solution many copied is still found
        theirs = code_hashes(reference) - skeleton_hashes
        for student, found in zip(students, hashes, strict=True):
            shared = (found - skeleton_hashes) & theirs
            score = len(shared) / max(1, min(len(found - skeleton_hashes), len(theirs)))
            if len(shared) >= MIN_SHARED and score >= threshold:
                candidates.append((student, REFERENCE, shared, score))
    matches, cache = [], {}

    def located(sources: list[str]) -> list[Fingerprint]:  # each hand-in normalised once
        if id(sources) not in cache:
            cache[id(sources)] = _located(sources)
        return cache[id(sources)]

    for first, second, shared, score in sorted(candidates, key=lambda c: (-c[3], c[0], c[1])):
        other = reference if second == REFERENCE else cells[second]
        blocks = _side_by_side(cells[first], other, shared, located)
        matches.append(Match(spec.name, first, second, len(shared), round(score, 3), blocks))
    return matches


def similar_to(matches: list[Match]) -> dict[str, str]:
    """The gradebook's ``similar_to`` text of each flagged student: partners, scores, notebooks."""
    found: dict[str, list[str]] = {}
    for match in matches:
        note = f"{{}} {match.score:.0%} ({match.assignment})"
        found.setdefault(match.first, []).append(note.format(match.second))
        if match.second != REFERENCE:
            found.setdefault(match.second, []).append(note.format(match.first))
    return {student: "; ".join(notes) for student, notes in found.items()}


KIT = Path(__file__).resolve().parents[2]  # solutions/ and assignments/ of a checkout


def class_matches(
    submissions: Path,
    students: list[str],
    *,
    solutions: Path | None = KIT / "solutions",
    skeletons: Path | None = KIT / "assignments",
    threshold: float = THRESHOLD,
    jobs: int = 2,
) -> list[Match]:
    """The matches of every assignment over the hand-ins `submissions/<student>`, against the
    reference notebooks in `solutions` and without what the released notebooks in `skeletons`
    hold (either folder may be None or lack a notebook: that comparison is then left out)."""
    from kws.assignments import ASSIGNMENTS

    matches = []
    for spec in ASSIGNMENTS.values():
        handins = read_class(submissions, students, spec, jobs)
        if not handins:
            continue
        folders = {"reference": solutions, "skeleton": skeletons}
        known = {
            what: compared_cells(folder / spec.notebook, spec)
            for what, folder in folders.items()
            if folder is not None and (folder / spec.notebook).is_file()
        }
        matches += compare_assignment(handins, spec, threshold=threshold, **known)
    return matches
