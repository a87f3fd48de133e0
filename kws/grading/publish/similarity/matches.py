"""Similarity flags between hand-ins, for `kws report`: pairs that share unusually much graded
code, and hand-ins that share it with the reference solution.

A notebook's graded code (its ``model`` cells and the cells defining its spec's
``compared_names``) becomes a set of winnowed fingerprints of normalised tokens; the skeleton's
and the class's common code are left out, and a pair's score is the shared fingerprints over the
smaller set. How the thresholds were chosen, and what a flag means (evidence for a person, never
a deduction): docs/reference/similarity.md.
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

from kws.grading.jaccard import joined
from kws.grading.protocol.handin import find_notebook
from kws.grading.publish.similarity.fingerprints import (
    Fingerprint,
    fingerprint_hashes,
    fingerprints,
)
from kws.grading.publish.similarity.groups import common_code
from kws.grading.publish.similarity.normalise import normalised_tokens
from kws.spec import Spec

REFERENCE = "reference solution"  # the partner named in a match with solutions/
# Scores from which a pair of hand-ins, and a hand-in and the reference, are listed. Calibrated on
# tests/class_corpus.py: independent pairs scored at most 0.47 and independent work against the
# reference at most 0.54 (issue 36's class: 0.66); planted copies 0.92 and more (issue 36: 0.87).
THRESHOLD = 0.7
REFERENCE_THRESHOLD = 0.75
MIN_SHARED = 8  # fewer shared fingerprints (about 3 lines) are never a flag
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


def code_hashes(cells: list[str]) -> frozenset[int]:
    """The fingerprint hashes of a hand-in's graded cells."""
    return frozenset(fingerprint_hashes(normalised_tokens(cells, lines=False)))


def _read(job: tuple[Path, Spec]) -> tuple[list[str], frozenset[int]] | None:
    """The graded cells of the hand-in's notebook of the spec, and their fingerprint hashes;
    None without that notebook or cells."""
    submission, spec = job
    try:
        notebook = find_notebook(Path(submission), spec.notebook, list(spec.model_tasks.values()))
    except (FileNotFoundError, OSError):
        return None
    cells = compared_cells(notebook, spec)
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
    theirs = {fp.hash: fp.lines for fp in reversed(located(second))}  # each hash's first
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
    reference_threshold: float = REFERENCE_THRESHOLD,
) -> list[Match]:
    """Matches of one assignment: pairs of students (`handins`, as `read_class` returns them)
    scoring at least `threshold`, then students against the `reference` cells scoring at least
    `reference_threshold`; best first. The skeleton's fingerprints and the class's common code
    (`common_code`) are left out of both."""
    students = sorted(handins)
    skeleton_hashes = code_hashes(skeleton) if skeleton else frozenset()
    hashes = [handins[student][1] - skeleton_hashes for student in students]
    common = skeleton_hashes | common_code(hashes)
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
    if reference:
        theirs = code_hashes(reference) - common
        for student, found in zip(students, own, strict=True):
            shared = found & theirs
            score = len(shared) / max(1, min(len(found), len(theirs)))
            if len(shared) >= MIN_SHARED and score >= reference_threshold:
                candidates.append((student, REFERENCE, shared, score))
    matches, cache = [], {}

    def located(sources: list[str]) -> list[Fingerprint]:  # each hand-in normalised once
        if id(sources) not in cache:
            cache[id(sources)] = _located(sources)
        return cache[id(sources)]

    shown: set[frozenset[str]] = set()  # the groups whose best pair has its lines already
    group_of = _components([(c[0], c[1]) for c in candidates if c[1] != REFERENCE])
    for first, second, shared, score in sorted(candidates, key=lambda c: (-c[3], c[0], c[1])):
        other = reference if second == REFERENCE else handins[second][0]
        group = frozenset({first}) if second == REFERENCE else group_of[first]
        blocks = []  # each group's best pair shows its lines (a ring of 200 has 19,900 pairs)
        if second == REFERENCE or group not in shown:
            blocks = _side_by_side(handins[first][0], other, shared, located)
            shown.add(group)
        matches.append(Match(spec.name, first, second, len(shared), round(score, 3), blocks))
    return matches


def _components(pairs: list[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """{member: its connected component} of the graph with edges `pairs`."""
    members = dict.fromkeys(member for pair in pairs for member in pair)
    return {member: frozenset(group) for group in joined(members, pairs) for member in group}


@dataclass(frozen=True)
class Group:
    """Hand-ins of one assignment joined by pair matches: a pair, or a copy ring of more. `pairs`
    are its matches, best first (the first shows its matching lines)."""

    assignment: str
    members: list[str]
    pairs: list[Match]

    @property
    def scores(self) -> tuple[float, float]:
        """The lowest and the highest score of its pairs."""
        return min(m.score for m in self.pairs), max(m.score for m in self.pairs)


def match_groups(matches: list[Match]) -> list[Group]:
    """The pair matches (not those with the reference) as groups, the largest first."""
    groups = []
    for assignment in sorted({m.assignment for m in matches}):
        pairs = [m for m in matches if m.assignment == assignment and m.second != REFERENCE]
        found = set(_components([(m.first, m.second) for m in pairs]).values())
        for members in found:
            inside = [m for m in pairs if m.first in members]
            groups.append(Group(assignment, sorted(members), inside))
    return sorted(groups, key=lambda g: (-len(g.members), -g.scores[1], g.members))


def student_pairs(matches: list[Match]) -> dict[tuple[str, str], list[str]]:
    """{(student, student) in name order: the notebooks in which their graded code matches},
    each pair of students once however many notebooks flag it (not the matches with the
    reference solution)."""
    pairs: dict[tuple[str, str], list[str]] = {}
    for match in matches:
        if match.second != REFERENCE:
            notebooks = pairs.setdefault(tuple(sorted((match.first, match.second))), [])
            notebooks += [match.assignment] if match.assignment not in notebooks else []
    return {pair: sorted(notebooks) for pair, notebooks in sorted(pairs.items())}


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def flagged_summary(matches: list[Match]) -> str:
    """How many pairs of students and how many students the matches flag, as a reader counts
    them: each pair of students once, with the notebooks they share (``"3 pairs of students
    (2 in keyword_spotting and speaker_id, 1 in speaker_id) and 1 student sharing code with the
    reference solution (in keyword_spotting)"``)."""
    pairs = student_pairs(matches)
    shared = Counter(tuple(notebooks) for notebooks in pairs.values())
    text = f"{len(pairs)} pair{'s' * (len(pairs) != 1)} of students"
    if pairs:
        kinds = sorted(shared.items(), key=lambda item: (-len(item[0]), -item[1], item[0]))
        text += " (" + ", ".join(f"{n} in {_and(list(names))}" for names, n in kinds) + ")"
    copied: dict[str, list[str]] = {}
    for match in matches:
        if match.second == REFERENCE:
            copied.setdefault(match.first, []).append(match.assignment)
    notebooks = sorted({name for names in copied.values() for name in names})
    text += f" and {len(copied)} student{'s' * (len(copied) != 1)} sharing code with the reference"
    text += " solution" + (f" (in {_and(notebooks)})" if notebooks else "")
    return text


def similar_to(matches: list[Match]) -> dict[str, str]:
    """The gradebook's ``similar_to`` text of each flagged student: partners, scores, notebooks;
    a member of a copy group of more than three, the group's size and some of its members."""
    found: dict[str, list[str]] = {}
    for group in match_groups(matches):
        low, high = (f"{score:.0%}" for score in group.scores)
        scores = low if low == high else f"{low}–{high}"
        for member in group.members:
            if len(group.members) > 3:
                others = [m for m in group.members if m != member]
                shown = ", ".join(others[:3]) + (" …" if len(others) > 3 else "")
                note = f"copy group of {len(group.members)} ({group.assignment}, {scores}): "
                found.setdefault(member, []).append(note + shown)
                continue
            for match in group.pairs:
                if member in (match.first, match.second):
                    partner = match.second if member == match.first else match.first
                    note = f"{partner} {match.score:.0%} ({match.assignment})"
                    found.setdefault(member, []).append(note)
    for match in matches:
        if match.second == REFERENCE:
            note = f"{REFERENCE} {match.score:.0%} ({match.assignment})"
            found.setdefault(match.first, []).append(note)
    return {student: "; ".join(notes) for student, notes in found.items()}


KIT = Path(__file__).resolve().parents[4]  # solutions/ and assignments/ of a checkout


def class_matches(
    submissions: Path,
    students: list[str],
    *,
    solutions: Path | None = KIT / "solutions",
    skeletons: Path | None = KIT / "assignments",
    threshold: float = THRESHOLD,
    reference_threshold: float = REFERENCE_THRESHOLD,
    jobs: int = 2,
) -> list[Match]:
    """The matches of every assignment over the hand-ins `submissions/<student>`, against the
    reference notebooks in `solutions` and without what the released notebooks in `skeletons`
    hold (either folder may be None or lack a notebook: that comparison is then left out)."""
    from kws.spec import ASSIGNMENTS

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
        matches += compare_assignment(
            handins, spec, threshold=threshold, reference_threshold=reference_threshold, **known
        )
    return matches
