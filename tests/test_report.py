"""`kws report`: the class report and the similarity flags, on a class of 20 notebook-01
hand-ins (tests/report_helpers.py) holding a copy of the reference solution, a renamed copy, a
copy with its comments, layout and statement order changed, and independent work.

The 20 graded results are written with the grader's own writers (results.json, gradebook,
run.json), so the report reads exactly what `kws grade` writes; test_real_grade_then_report
runs the real `kws grade` and `kws report` commands from an instructor's folder."""

import csv
import json
import re
import shutil
import subprocess
import sys

import pytest
from records_helpers import finish, ungraded
from report_helpers import (
    RECIPES,
    ROOT,
    TASK1,
    class_of_twenty,
    renamed,
    solution_cells,
    write_handin,
)

from kws.grading.judge.document import REVIEW_PREFIX, TestResult, results_document, write_results
from kws.grading.judge.tiers import TierSet, accuracy_in, tier_credit, tiers_in
from kws.grading.publish.report.analysis import (
    accuracies,
    attention_flags,
    failure_groups,
    score_distributions,
)
from kws.grading.publish.report.figures import score_histograms
from kws.grading.publish.report.page import write_report
from kws.grading.publish.similarity.normalise import normalised_tokens
from kws.grading.records.gradebook import Graded, write_gradebook, write_run_record
from kws.grading.records.grades import read_grades
from kws.grading.season.compute import with_standings
from kws.pages import CSP, STYLE
from kws.spec import ASSIGNMENTS

SPEC = ASSIGNMENTS["keyword_spotting"]
TIERS = TierSet("synthetic-small", SPEC.tiers["synthetic-small"], "--dataset")
TODO = "twelve_class_labels(words of {n} clips, seed {seed}) raised NotImplementedError: TODO"
TAMPERED = "Your notebook changes torch or the grader's code (torch.matmul was replaced), so ..."


def _results(number: int, kind: str) -> dict:
    """A results document as the grader writes it, with scores that fit the hand-in's kind."""
    done = kind not in ("recipe numbers only", "released notebook")
    accuracy = 0.9 - 0.01 * number if done else 0.5 + 0.02 * number
    fraction, message = tier_credit(accuracy, TIERS.tiers, SPEC.tasks["kws"].target)
    failed = TODO.format(n=100 + number, seed=number * 37)

    def test(name, function, points, fraction, output, task=None):
        facts = {"test": function, "assignment": SPEC.name} | ({"task": task} if task else {})
        status = "passed" if fraction == 1.0 else "failed"
        return TestResult(name, points * fraction, float(points), status, output, "visible", facts)

    recipe = kind != "released notebook"
    tests = [
        test(
            "Task 1: twelve_class_labels",
            "test_data_keywords",
            1,
            float(done),
            "" if done else failed,
        ),
        test(
            "Task 4: the learning rate",
            "test_recipe_schedule",
            2,
            float(recipe),
            "" if recipe else "history.json is missing",
        ),
        test("Accuracy on the hidden test set", "test_accuracy", 8, fraction, message, "kws"),
    ]
    forward = (
        TAMPERED if number == 18 else "" if done else "Your KeywordTransformer still has a TODO"
    )
    tests.append(test("Task 3: forward", "test_task3_pipeline", 4, float(not forward), forward))
    notes = [f"Accuracy tiers for keyword_spotting: {TIERS.describe()}."]
    findings = []  # what the grader records for a person (GradescopeReport.add_finding)
    if number == 18:
        findings.append({"kind": "tampering", "test": "Task 3: forward",
                         "text": "task3: the notebook changes torch or the grader"})  # fmt: skip
    if number == 20:
        review = "01_keyword_spotting.ipynb, model cell 1: builtins (builtins)"
        notes.append(f"{REVIEW_PREFIX} {review}.")
        findings.append({"kind": "review", "test": None, "text": review})
    extra = {"tier_sets": {SPEC.name: TIERS.name}, "findings": findings}
    return results_document(tests, output="\n\n".join(notes), execution_time=30, extra_data=extra)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """(the grade folder, the hand-ins' kinds): 20 hand-ins and what `kws grade` writes."""
    root = tmp_path_factory.mktemp("class")
    kinds = class_of_twenty(root / "submissions")
    out = root / "grades"
    graded = []
    for number, student in enumerate(sorted(kinds), start=1):
        if number == 19:  # the grader gave up on this one
            stopped = "the grader ran longer than 3600 s and was stopped"
            graded.append(ungraded(out, student, stopped, 3600.0))
            continue
        document = _results(number, kinds[student])
        write_results(out / "results" / f"{student}.json", document)
        graded.append(Graded(student, document, "", 20.0 + number))
    write_gradebook(graded, out / "gradebook.csv")
    write_run_record(out, root / "submissions", root / "data", SPEC.name)
    return finish(out), kinds


@pytest.fixture(scope="module")
def report(graded_class):
    out, _ = graded_class
    return write_report(out, jobs=1)


def test_copies_are_flagged_with_their_partner_and_independent_work_is_not(report, graded_class):
    out, kinds = graded_class
    pairs = {(m.first, m.second) for m in report.matches if m.second != "reference solution"}
    assert pairs == {("s02", "s03"), ("s04", "s05")}  # renamed; comments and order changed
    reference = {m.first for m in report.matches if m.second == "reference solution"}
    assert reference == {"s01"}
    assert all(m.score >= 0.9 for m in report.matches)
    rows = {row["student"]: row for row in csv.DictReader(open(out / "gradebook.csv"))}
    assert (
        rows["s03"]["similar_to"].startswith("s02 ")
        and "keyword_spotting" in rows["s03"]["similar_to"]
    )
    assert rows["s05"]["similar_to"].startswith("s04 ")
    assert rows["s01"]["similar_to"].startswith("reference solution ")
    flagged = {"s01", "s02", "s03", "s04", "s05"}
    assert all(rows[s]["similar_to"] == "" for s in kinds if s not in flagged)  # s06 and the rest
    assert float(rows["s01"]["total"]) > 0 and rows["s19"]["notes"]  # the other columns kept


def test_the_page_shows_the_matching_lines_side_by_side(report):
    page = report.page.read_text()
    renamed_pair = page[page.index("s02 ↔ s03") :]
    renamed_pair = renamed_pair[: renamed_pair.index("</details>")]
    # s02's line and s03's renamed line are in one row, left and right
    assert "candidates = [index for index, w in enumerate(words)" in renamed_pair
    assert "others_idx = [j for j, word in enumerate(words)" in renamed_pair
    assert "never a deduction" in page
    assert f"<style>{STYLE}</style>" in page  # the kit's one style sheet (kws.pages)
    assert '<td class="code"><pre>' in renamed_pair  # each side a column of code


def test_the_page_reports_scores_failures_accuracy_and_hand_ins_to_look_at(report, graded_class):
    out, _ = graded_class
    page = report.page.read_text()
    assert page.count('<img src="data:image/png;base64,') == 4
    assert {p.name for p in report.pictures} == {
        f"report-{k}.png" for k in ("scores", "tests", "accuracy", "time")
    }
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in report.pictures)
    grades = with_standings(read_grades(out))
    # the same message with other numbers counts once: 14 hand-ins had the TODO (s19 timed out)
    top = failure_groups(grades)[0]
    assert len(top.students) == 13 and top.students[:3] == ["s07", "s08", "s09"]
    assert re.search(r'<td class="n">13</td><td><pre>twelve_class_labels\(words of 107 clips', page)
    assert ">s07, s08, s09 …<" in page
    kinds = {(f.student, f.kind) for f in attention_flags(grades)}
    assert kinds == {("s18", "tampering"), ("s19", "timed out"), ("s20", "manual review")}
    for text in ("ran longer than 3600 s", "builtins (builtins)", "torch.matmul was replaced"):
        assert text in page
    (task,) = accuracies(grades)
    assert (task.task, task.target, task.tiers) == ("kws", "strong", TIERS.tiers)
    assert len(task.accuracies) == 19 and task.accuracies["s02"] == pytest.approx(0.88)


def test_normalising_undoes_renames_comments_and_independent_reordering():
    text = [t.text for t in normalised_tokens([TASK1["A"], RECIPES["A"]])]
    assert [t.text for t in normalised_tokens([renamed(TASK1["A"]), renamed(RECIPES["A"])])] == text
    swapped = "import math\n\ndef f(x):\n    return x  # mine\n\nB = 2\nA = 1\n"
    plain = "import math\n\nA = 1\nB = 2\n\n\ndef f(y):\n    return y\n"
    assert [t.text for t in normalised_tokens([swapped])] == [
        t.text for t in normalised_tokens([plain])
    ]
    dependent = "a = 1\nb = a + 1\n"  # b needs a: this order is part of the code
    reversed_ = "b = a + 1\na = 1\n"
    assert [t.text for t in normalised_tokens([dependent])] != [
        t.text for t in normalised_tokens([reversed_])
    ]


def test_a_solution_copied_by_many_is_one_copy_group_and_flagged_as_the_reference():
    from kws.grading.publish.similarity.matches import (
        REFERENCE,
        code_hashes,
        compare_assignment,
        compared_cells,
        match_groups,
    )

    copy = list(solution_cells())
    handins = {f"c{n:02d}": (copy, code_hashes(copy)) for n in range(12)}  # over COMMON_MIN
    for impl in "ABC":
        handins[impl] = ([TASK1[impl], RECIPES[impl]], code_hashes([TASK1[impl], RECIPES[impl]]))
    skeleton = compared_cells(ROOT / "assignments" / SPEC.notebook, SPEC)
    matches = compare_assignment(handins, SPEC, skeleton=skeleton, reference=copy)
    assert {m.first for m in matches if m.second == REFERENCE} == {f"c{n:02d}" for n in range(12)}
    # the dozen copies count once in what the class shares: one copy group, not common code
    (group,) = match_groups(matches)
    assert group.members == [f"c{n:02d}" for n in range(12)] and group.scores == (1.0, 1.0)


def test_results_whose_tests_do_not_name_their_notebook_are_read_as_the_one_graded(tmp_path):
    # what the kit wrote before each test named its assignment: one notebook, its tier set
    document = _results(2, "independent A")
    for test in document["tests"]:
        del test["extra_data"]["assignment"]
    write_results(tmp_path / "results" / "s02.json", document)
    write_gradebook([Graded("s02", document, "", 20.0)], tmp_path / "gradebook.csv")
    grades = with_standings(read_grades(finish(tmp_path)))
    assert set(score_distributions(grades)) == {SPEC.name}
    (task,) = accuracies(grades)
    assert (task.assignment, task.tiers) == (SPEC.name, TIERS.tiers)


def test_accuracy_and_tiers_are_read_back_from_what_the_grader_writes():
    for accuracy in (0.05, 0.8123, 0.99):
        assert accuracy_in(tier_credit(accuracy, TIERS.tiers, "strong")[1]) == pytest.approx(
            accuracy, abs=1e-4
        )
    output = f"Something else.\n\nAccuracy tiers for keyword_spotting: {TIERS.describe()}."
    assert tiers_in(output, "keyword_spotting") == TIERS.tiers
    assert tiers_in(output, "speaker_id") is None


def test_the_run_record_is_the_instructors_alone(tmp_path):
    # it names the submissions and data folders: no grading child (another user) may read it
    path = write_run_record(tmp_path, tmp_path / "submissions", tmp_path / "data", SPEC.name)
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["submissions"] == str(tmp_path / "submissions")


def test_report_errors_name_the_folder_and_the_fix(tmp_path, graded_class, capsys):
    from kws.cli import main

    assert main(["report", str(tmp_path)]) == 2
    assert "no gradebook; pass the folder `kws grade --out` wrote" in capsys.readouterr().err
    out, _ = graded_class
    moved = tmp_path / "grades"
    shutil.copytree(out, moved)
    (moved / "run.json").write_text(json.dumps({"submissions": str(tmp_path / "gone")}))
    assert main(["report", str(moved)]) == 2
    assert "the hand-ins folder is gone; pass --submissions DIR" in capsys.readouterr().err
    assert main(["report", str(moved), "--submissions", str(out.parent / "submissions")]) == 0
    said = ("similarity flagged: 2 pairs of students (2 in keyword_spotting) and 1 student sharing "
            "code with the reference solution (in keyword_spotting)")  # fmt: skip
    assert said in capsys.readouterr().out


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOADED = """<script>window.addEventListener("load", () => { document.body.dataset.loaded =
[...document.images].filter(i => i.complete && i.naturalWidth > 0).length; });</script>"""


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium)"
)
def test_page_renders_in_headless_chromium_with_its_figures(report, tmp_path):
    from matplotlib.image import imread

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    shot = tmp_path / "report.png"
    run = subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1280,2000", report.page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file(), run.stderr[-2000:]
    pixels = imread(shot)  # (H, W, channels): the page drew text and figures, not a blank page
    assert pixels.shape[:2] == (2000, 1280) and pixels[..., :3].std() > 0.05
    page, policy = (
        report.page.read_text(),
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
    )
    assert page.count(policy) == 1

    def dom(html: str) -> str:
        probe = tmp_path / "probe.html"
        probe.write_text(html.replace("</body>", LOADED + "</body>"))
        return subprocess.run(
            [CHROMIUM, *flags, "--dump-dom", probe.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    # The page plus a script counting the images that loaded: its policy lets no script run,
    # so the probe runs where the policy also lets inline scripts run (its pictures: as it says).
    assert "<h2>Similarity</h2>" in (guarded := dom(page)) and "data-loaded" not in guarded
    probed = policy.replace(CSP, f"{CSP}; script-src 'unsafe-inline'")
    assert 'data-loaded="4"' in dom(page.replace(policy, probed))


@pytest.mark.slow
@pytest.mark.full  # a class graded end to end from an instructor's folder
def test_real_grade_then_report_from_an_instructors_folder(tmp_path):
    """`kws grade` then `kws report` as commands, run in the instructor's folder with relative
    paths: the reference copy and the renamed copy are flagged, independent work is not."""
    from kws.data.synthetic import make_speech_commands

    instructor = tmp_path / "course"
    make_speech_commands(instructor / "data", "tiny", seed=0)
    write_handin(instructor / "submissions" / "ann", *solution_cells())
    write_handin(instructor / "submissions" / "bob", TASK1["A"], RECIPES["A"])
    write_handin(instructor / "submissions" / "cy", renamed(TASK1["A"]), renamed(RECIPES["A"]))
    write_handin(instructor / "submissions" / "dee", TASK1["C"], RECIPES["C"])
    kws = [sys.executable, "-m", "kws.cli"]

    def run(*args):
        done = subprocess.run([*kws, *args], cwd=instructor, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("grade", "submissions", "--data", "data", "--out", "grades", "--assignment", SPEC.name)
    printed = run("report", "grades", "--out", "site/class.html")
    assert ("1 pair of students (1 in keyword_spotting) and 1 student sharing code with the "
            "reference solution (in keyword_spotting)") in printed  # fmt: skip
    rows = {r["student"]: r for r in csv.DictReader(open(instructor / "grades/gradebook.csv"))}
    assert rows["bob"]["similar_to"].startswith("cy ") and rows["cy"]["similar_to"].startswith(
        "bob "
    )
    assert rows["ann"]["similar_to"].startswith("reference solution")
    assert rows["dee"]["similar_to"] == "" and float(rows["dee"]["total"]) > 0
    page = (instructor / "site/class.html").read_text()
    assert (instructor / "site/class-scores.png").is_file() and "bob ↔ cy" in page
    # the failures come from the real grader: every hand-in left Task 2 and 3 as released
    assert re.search(r'<td class="n">4</td><td><pre>Your ConvTokenizer still has a TODO', page)


@pytest.fixture(scope="module")
def real_class(real_class, tmp_path_factory):
    """A copy of the grade folder the real `kws grade` command wrote for a class (the
    session's `real_class`, tests/conftest.py: the reference hand-in, the released notebooks,
    four students' independent notebook 02 and a renamed copy of the reference's), for the
    report to write into."""
    copy = tmp_path_factory.mktemp("real-class") / "grades"
    shutil.copytree(real_class, copy)
    return copy


@pytest.fixture(scope="module")
def real_report(real_class):
    return write_report(real_class, jobs=1)


@pytest.mark.slow
def test_the_report_of_a_real_grade_run_has_each_notebook_and_its_tier_lines(
    real_class, real_report
):
    """Every test the grader wrote names its assignment, so the page has a card and a histogram
    per notebook (and the total), and each task's accuracies stand against its tier lines."""
    grades = with_standings(read_grades(real_class))
    named = {
        (t.get("extra_data") or {}).get("assignment") for s in grades.students for t in s.tests
    }
    assert named == set(ASSIGNMENTS)
    distributions = score_distributions(grades)
    assert set(distributions) == {*ASSIGNMENTS, "total"}
    maxima = {name: maximum for name, (_, maximum) in distributions.items()}
    assert maxima == {  # the tests' points and each notebook's written question's 3
        "keyword_spotting": 33.0,
        "patch_transformer": 30.0,
        "speaker_id": 48.0,
        "total": 111.0,
    }
    students = [s.name for s in grades.students]
    speaker = dict(zip(students, distributions["speaker_id"][0], strict=True))
    assert (speaker["fresh"], speaker["ref"]) == (0.0, 45.0)
    titles = [axes.get_title() for axes in score_histograms(distributions).axes]
    assert [title.split(":")[0] for title in titles] == [*sorted(ASSIGNMENTS), "total"]
    tasks = {(task.assignment, task.task): task for task in accuracies(grades)}
    assert set(tasks) == {("keyword_spotting", "kws"), ("patch_transformer", "patch")} | {
        ("speaker_id", f"task{n}") for n in (1, 2, 3)
    }
    for (assignment, name), task in tasks.items():
        spec = ASSIGNMENTS[assignment]
        assert task.tiers == spec.tiers["synthetic-tiny"] and task.target == spec.tasks[name].target
        assert set(task.accuracies) == {"ref"}  # only it handed in models to evaluate
    page = real_report.page.read_text()
    for name in (*ASSIGNMENTS, "total"):
        assert f'<div class="card"><span>{name}</span>' in page
    assert "<span>other</span>" not in page and "tiers not stated" not in page
    assert "speaker_id / task3" in page and "keyword_spotting / kws" in page
    assert "patch_transformer / patch" in page


@pytest.mark.slow
def test_independent_notebook_02_work_graded_for_real_is_no_copy_of_the_reference(
    real_class, real_report
):
    """Four students' independent, correct notebook 02 (every numeric test the grader ran on
    them passed) share much code with the reference, but none is listed as its copy; the
    reference hand-in and a renamed copy of its notebook 02 are."""
    from corpus_numeric import NUMERIC_TESTS

    for student in "ABCD":
        document = json.loads((real_class / "results" / f"independent-{student}.json").read_text())
        tests = {test["name"]: test for test in document["tests"]}
        for name in NUMERIC_TESTS.values():
            assert tests[name]["score"] == tests[name]["max_score"], (student, tests[name])
    flagged = {
        (m.first, m.assignment) for m in real_report.matches if m.second == "reference solution"
    }
    assert flagged == {
        ("ref", "keyword_spotting"),
        ("ref", "patch_transformer"),
        ("ref", "speaker_id"),
        ("renamed-ref", "speaker_id"),
    }
    pairs = {
        frozenset((m.first, m.second))
        for m in real_report.matches
        if m.second != "reference solution"
    }
    assert pairs == {frozenset(("ref", "renamed-ref"))}


def test_each_card_says_final_or_raw_and_shows_both(tmp_path):
    """bob's notebook lost 3 points for lateness: the card's large figure is the final median
    (what the exports send), said so, with the raw median of the tests' points below it. A
    card showing "10 / 11 median · 100 % full marks" while bob has 7 would read as wrong."""
    from kws.grading.records.standings import Late, Standing, Standings
    from kws.grading.season.apply import write_records

    out = tmp_path / "grades"
    graded = []
    for student in ("ann", "bob"):
        tests = [TestResult("Accuracy", 8.0, 8.0, "passed", "", "visible",
                            {"assignment": SPEC.name, "test": "test_accuracy"}),
                 TestResult("Task 4", 3.0, 3.0, "passed", "", "visible",
                            {"assignment": SPEC.name, "test": "test_recipe_schedule"})]  # fmt: skip
        document = results_document(tests, output="", execution_time=1)
        write_results(out / "results" / f"{student}.json", document)
        graded.append(Graded(student, document, "", 1.0))
    write_gradebook(graded, out / "gradebook.csv")
    late = Late("2026-10-03T10:00:00+00:00", "2026-10-02T23:59:00+00:00", 10.0, 0, 3.0, "r", "csv")
    standings = Standings(
        {SPEC.name: {"title": "Notebook 01", "due": None, "maximum": 11.0}},
        {"ann": {SPEC.name: Standing("graded", 11.0, 11.0, 11.0)},
         "bob": {SPEC.name: Standing("graded", 11.0, 11.0, 8.0, late)}},
    )  # fmt: skip
    write_records(read_grades(out), standings, "kws season")  # standings, gradebook, seal
    grades = with_standings(read_grades(out))
    assert score_distributions(grades)[SPEC.name] == ([11.0, 11.0], 11.0)
    assert score_distributions(grades, "final")[SPEC.name] == ([11.0, 8.0], 11.0)
    page = write_report(out, jobs=1).page.read_text()
    card = re.search(r'<div class="card"><span>keyword_spotting</span>(.*?)</div>', page)[1]
    assert card.startswith("<b>9.5 / 11</b><span>final median · mean 9.5 · 50% full marks")
    assert "raw median 11 · mean 11.0 · 100% full marks" in card
    assert "Final: after late penalties and adjustments" in page
