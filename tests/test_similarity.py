"""The similarity flags of `kws report` on classes of hand-ins written the way students write
them (tests/class_corpus.py): independent, correct, textbook work is never flagged, and copies
of the reference or of a classmate are, however renamed, reordered or commented; the defaults
are the ones chosen on these classes; a ring of copies is one group with its members."""

import re
import shutil
import subprocess

import pytest
from class_corpus import ROOT, keyword_class, speaker_class
from records_helpers import finish
from report_helpers import RECIPES, TASK1, renamed, reordered, solution_cells, write_handin

from kws.grading.judge.document import TestResult, results_document, write_results
from kws.grading.publish.report.analysis import attention_flags
from kws.grading.publish.report.page import write_report
from kws.grading.publish.similarity.matches import (
    REFERENCE,
    class_matches,
    compare_assignment,
    compared_cells,
    read_class,
)
from kws.grading.records.gradebook import Graded, write_gradebook, write_run_record
from kws.grading.records.grades import read_grades
from kws.grading.season.compute import with_standings
from kws.pages import CSP
from kws.spec import ASSIGNMENTS

CLASSES = {"speaker_id": speaker_class, "keyword_spotting": keyword_class}


def _flagged(matches) -> tuple[set[str], set[frozenset[str]]]:
    """(hand-ins matching the reference, pairs of hand-ins)."""
    reference = {m.first for m in matches if m.second == REFERENCE}
    return reference, {frozenset((m.first, m.second)) for m in matches if m.second != REFERENCE}


@pytest.mark.parametrize("assignment", CLASSES)
def test_independent_textbook_work_is_not_flagged_and_copies_are(tmp_path, assignment):
    """Notebook 02's TODOs are small and tightly dictated: independent students write much of
    what the reference writes, yet none is a copy of it, or of each other."""
    kinds = CLASSES[assignment](tmp_path)
    matches = class_matches(tmp_path, sorted(kinds), jobs=1)
    reference, pairs = _flagged(matches)
    assert reference == {name for name, kind in kinds.items() if kind == "copy of the reference"}
    copies = {name for name, kind in kinds.items() if kind.startswith("copy of independent")}
    independent = {name for name, kind in kinds.items() if kind.startswith("independent")}
    for pair in pairs:  # each pair is a copy and its source, or two copies of one source
        assert len({_source(name, kinds) for name in pair}) == 1, pair
    assert {name for pair in pairs for name in pair} >= copies
    assert not independent & reference


def _all_scores(assignment: str, folder, kinds: dict[str, str]) -> list[tuple[str, str, float]]:
    """(first, second, score) of every pair and of every hand-in with the reference, with what
    the class shares left out as the report does (thresholds at 0: every score)."""
    spec = ASSIGNMENTS[assignment]
    handins = read_class(folder, sorted(kinds), spec, jobs=1)
    known = {
        what: compared_cells(ROOT / where / spec.notebook, spec)
        for what, where in (("skeleton", "assignments"), ("reference", "solutions"))
    }
    matches = compare_assignment(handins, spec, threshold=1e-9, reference_threshold=1e-9, **known)
    return [(m.first, m.second, m.score) for m in matches]


def _source(name: str, kinds: dict[str, str]) -> str:
    """Whose work a hand-in is: "reference", or the independent student's letter."""
    kind = REFERENCE if name == REFERENCE else kinds[name]
    if kind in (REFERENCE, "copy of the reference"):
        return "reference"
    return kind.removeprefix("copy of independent-").removeprefix("independent ")


def calibration(tmp_path) -> dict[str, dict[str, list[float]]]:
    """{notebook: {"independent pairs" | "independent vs reference" | "copies": scores}}: what
    the defaults are chosen from. A pair is a copy when both hand-ins are the same work (a copy
    and its source, or two copies of one source); otherwise it is independent (a copy of A
    against B is A against B), against the reference when one of them is the reference's."""
    table = {}
    for assignment, write in CLASSES.items():
        kinds = write(tmp_path / assignment)
        scores = {"independent pairs": [], "independent vs reference": [], "copies": []}
        for first, second, score in _all_scores(assignment, tmp_path / assignment, kinds):
            sources = {_source(first, kinds), _source(second, kinds)}
            kind = "independent vs reference" if "reference" in sources else "independent pairs"
            scores["copies" if len(sources) == 1 else kind].append(score)
        table[assignment] = scores
    return table


def test_the_default_thresholds_lie_between_independent_work_and_copies(tmp_path):
    from kws.grading.publish.similarity.matches import REFERENCE_THRESHOLD, THRESHOLD

    table = calibration(tmp_path)
    for assignment, scores in table.items():
        assert max(scores["independent pairs"]) < THRESHOLD, assignment
        assert max(scores["independent vs reference"]) < REFERENCE_THRESHOLD, assignment
        assert min(scores["copies"]) >= max(THRESHOLD, REFERENCE_THRESHOLD), assignment
    # notebook 02's dictated TODOs: independent work shares half its code with the reference
    assert max(table["speaker_id"]["independent vs reference"]) > 0.5


def test_the_command_states_the_defaults():
    from kws.cli import build_parser
    from kws.grading.publish.similarity.matches import REFERENCE_THRESHOLD, THRESHOLD

    parser = build_parser()
    report = next(
        a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "report"
    )[1]
    helps = {a.dest: a.help for a in report._actions}
    assert f"default {THRESHOLD})" in helps["threshold"]
    assert f"default {REFERENCE_THRESHOLD})" in helps["reference_threshold"]


# ---- a ring of copies ---------------------------------------------------------------------------

DISGUISES = [
    lambda code, recipe: (code, recipe),
    lambda code, recipe: (renamed(code), renamed(recipe)),
    lambda code, recipe: (code.replace("    return result\n", "    # done\n    return result\n"),
                          recipe),
]  # fmt: skip


def ring_class(submissions) -> dict[str, str]:
    """20 notebook-01 hand-ins: a ring of 11 copies of one student's work (three disguises),
    the reference, two other independent students and six released notebooks."""
    kinds = {}
    for number in range(11):
        code, recipe = DISGUISES[number % 3](TASK1["A"], RECIPES["A"])
        write_handin(submissions / f"ring{number:02d}", code, recipe)
        kinds[f"ring{number:02d}"] = "ring"
    write_handin(submissions / "ref", *solution_cells())
    kinds["ref"] = "reference"
    for student in "BC":
        write_handin(submissions / f"own{student}", *reordered(TASK1[student], RECIPES[student]))
        kinds[f"own{student}"] = "independent"
    for number in range(6):
        write_handin(submissions / f"fresh{number}")
        kinds[f"fresh{number}"] = "released"
    return kinds


def test_a_ring_of_11_copies_in_a_class_of_20_is_one_group_with_its_members(tmp_path):
    """More than ten hand-ins share the ring's code, which used to make it common code (how the
    task is done) and hide the ring; a copy group counts once in what the class shares."""
    from kws.grading.publish.similarity.matches import match_groups, similar_to

    kinds = ring_class(tmp_path)
    matches = class_matches(tmp_path, sorted(kinds), jobs=1)
    (group,) = match_groups(matches)
    assert group.members == [f"ring{n:02d}" for n in range(11)] and group.scores[0] >= 0.9
    assert {m.first for m in matches if m.second == REFERENCE} == {"ref"}
    notes = similar_to(matches)
    assert notes["ring03"].startswith("copy group of 11 (keyword_spotting, 100%): ring00,")


def _graded(folder, submissions, kinds: dict[str, str], tests_of=None, findings_of=None) -> None:
    """A grade folder for `kinds` as `kws grade` writes it (results, gradebook, run.json);
    `tests_of` and `findings_of` give a student's tests and findings (GradescopeReport's)."""
    graded = []
    for student in kinds:
        tests = (tests_of or (lambda s: []))(student) or [
            TestResult("Model loads", 1.0, 1.0, "passed", "", "visible", {"test": "t"})
        ]
        findings = (findings_of or (lambda s: []))(student)
        document = results_document(
            tests, output="", execution_time=5, extra_data={"findings": findings}
        )
        write_results(folder / "results" / f"{student}.json", document)
        graded.append(Graded(student, document, "", 5.0))
    write_gradebook(graded, folder / "gradebook.csv")
    write_run_record(folder, submissions, folder / "data", "keyword_spotting")
    finish(folder)


def test_the_similarity_section_of_one_large_copy_group_is_compact(tmp_path):
    kinds = ring_class(tmp_path / "submissions")
    for number in range(11, 30):  # the ring grows to 30 in a class of 39: 435 pairs
        shutil.copytree(tmp_path / "submissions/ring00", tmp_path / f"submissions/ring{number}")
        kinds[f"ring{number}"] = "ring"
    _graded(tmp_path / "grades", tmp_path / "submissions", kinds)
    written = write_report(tmp_path / "grades", jobs=1)
    assert len([m for m in written.matches if m.second != REFERENCE]) == 435
    page = written.page.read_text()
    section = page[page.index("<h2>Similarity</h2>") : page.index("<h2>Grading time</h2>")]
    assert section.count("<details") == 2  # the group, and the reference copy
    # two tables of one row each, and the lines of one pair in each details (the old page: 436
    # rows, one per pair, and 435 details)
    assert section.count("<tr>") < 40 and "30 hand-ins in a copy group: ring00, ring01," in section
    assert "and 18 more" in section


def test_a_tampering_hand_in_is_listed_once(tmp_path):
    said = "Your notebook changes torch or the grader's code (torch.matmul was replaced), so ..."

    def tests_of(student):
        if student != "s1":
            return []
        return [
            TestResult(f"Test {n}", 0.0, 1.0, "failed", said, "visible", {"test": f"t{n}"})
            for n in range(10)
        ]

    def findings_of(student):  # each test that reached s1's model found the tampering
        text = "task1: the notebook changes torch or the grader (torch.matmul was replaced)"
        tests = range(10) if student == "s1" else []
        return [{"kind": "tampering", "text": text, "test": f"Test {n}"} for n in tests]

    _graded(tmp_path, tmp_path / "submissions", {"s1": "", "s2": ""}, tests_of, findings_of)
    (flag,) = attention_flags(with_standings(read_grades(tmp_path)))
    assert (flag.student, flag.kind) == ("s1", "tampering")
    assert flag.reason == f"Test 0: {said} (and 9 more tests said so)"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HEIGHT = """<script>window.addEventListener("load", () => {
document.body.dataset.height = document.documentElement.scrollHeight; });</script>"""


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium)"
)
def test_the_page_of_a_class_with_one_large_copy_group_stays_short(tmp_path):
    kinds = ring_class(tmp_path / "submissions")
    for number in range(11, 30):
        shutil.copytree(tmp_path / "submissions/ring00", tmp_path / f"submissions/ring{number}")
        kinds[f"ring{number}"] = "ring"
    _graded(tmp_path / "grades", tmp_path / "submissions", kinds)
    page = write_report(tmp_path / "grades", jobs=1).page
    probe = tmp_path / "probe.html"
    text = page.read_text().replace(CSP, f"{CSP}; script-src 'unsafe-inline'")  # the probe runs
    probe.write_text(text.replace("</body>", HEIGHT + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    flags += ["--window-size=1280,1000", "--dump-dom", probe.as_uri()]
    dom = subprocess.run([CHROMIUM, *flags], capture_output=True, text=True, timeout=120).stdout
    height = int(re.search(r'data-height="(\d+)"', dom)[1])
    assert height < 5000, height  # the old page listed 435 pairs: over 16,000 pixels


def test_scores_of_every_pair_are_what_the_table_in_the_docs_reports(tmp_path):
    table = calibration(tmp_path)
    shown = {
        assignment: {kind: (min(s), max(s)) for kind, s in scores.items()}
        for assignment, scores in table.items()
    }
    text = (ROOT / "docs" / "reference" / "similarity.md").read_text()
    for assignment, kinds in shown.items():
        for kind, (low, high) in kinds.items():
            assert f"| {assignment} | {kind} | {low:.2f} | {high:.2f} |" in text, (
                assignment,
                kind,
                low,
                high,
            )


def test_pairs_are_counted_as_a_reader_counts_them_once_a_pair_of_students():
    """Eight students who share their code in every notebook are 28 pairs of students, not 84
    matches (one per pair and notebook): the count a reader checks against 8 × 7 / 2."""
    from itertools import combinations

    from kws.grading.publish.similarity.matches import Match, flagged_summary, student_pairs

    class_of_8 = [f"s{n}" for n in range(8)]
    notebooks = ("keyword_spotting", "speaker_id", "patch_transformer")
    matches = [Match(notebook, a, b, 40, 0.95) for notebook in notebooks
               for a, b in combinations(class_of_8, 2)]  # fmt: skip
    matches += [Match("speaker_id", "s8", "s9", 30, 0.9)]  # one more pair, one notebook
    matches += [Match(n, "s0", "reference solution", 50, 0.97) for n in notebooks[:2]]
    pairs = student_pairs(matches)
    assert len(matches) == 87 and len(pairs) == 29
    assert pairs[("s0", "s7")] == ["keyword_spotting", "patch_transformer", "speaker_id"]
    assert flagged_summary(matches) == (
        "29 pairs of students (28 in keyword_spotting, patch_transformer and speaker_id, 1 in "
        "speaker_id) and 1 student sharing code with the reference solution (in "
        "keyword_spotting and speaker_id)"
    )
    assert flagged_summary([]) == (
        "0 pairs of students and 0 students sharing code with the reference solution"
    )
