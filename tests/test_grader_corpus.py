"""The grader end to end, as an instructor runs it, on the tiny synthetic data.

- the reference submission (the three solution notebooks, executed) gets every point, and the
  fresh student notebooks get none, each test saying which TODO is left;
- a corpus of broken and malicious notebook-02 submissions (tests/grader_corpus.py) is graded
  in each sandbox, as batches (the time-out cases at their short wall clock, the others at one
  no loaded machine reaches): each case loses exactly the points it should, with a readable
  reason, every case gets its results.json and gradebook row, and no file outside the children's
  own folders changes.

The default run grades `SAMPLE`, a case for each kind of verdict (tests/corpus_grading.py); the
full run (``--full``) grades every case.
"""

import csv
import json
import os
import shutil
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from corpus_grading import (
    CHILD_TIMEOUT,
    assert_sample_covers,
    grade_corpus,
    graded_cases,
    results_of,
    wrong_verdicts,
)
from corpus_handins import OUTPUT_PHRASES
from corpus_keyword import TODO_TESTS
from corpus_keyword_model import KEYWORD_MODEL_TESTS
from corpus_numeric import NUMERIC_TESTS, with_numeric
from corpus_patch import PATCH_NUMERIC_TESTS
from corpus_rewrites import rewrite_cases
from grader_corpus import (
    CHILD_TESTS,
    MARKER,
    POINTS,
    SANDBOX_CASES,
    TESTS,
    Case,
    Context,
    build_corpus,
    cases,
)
from recorded_children import content_digest

from kws.grading.sandbox import bwrap

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SPEAKER_GRADER = ROOT / "kws/assignments/speaker_id/graded_tests/test_02_speaker_id.py"
NUMERIC_GRADER = SPEAKER_GRADER.with_name("test_02_numeric.py")  # graded in the same pytest run
# The time-out cases' wall clock, graded apart: whenever it strikes, they lose every test of the
# child (none of them ever ends); it leaves the fork bomb at least ten seconds at its process
# limit on a loaded machine. Every other case gets CHILD_TIMEOUT, which none comes near.
TIMEOUT_CASES_CLOCK = 25
KEYWORD_NUMERIC = [KEYWORD_MODEL_TESTS[name] for name in ("pipeline", "padding", "eval")]
GPU_SKIPPED = "Not graded in this run (no CUDA GPU on the grading machine"
BWRAP = bwrap.available() is not None  # KWS_SANDBOX=builtin forces the hand-written sandbox
# The hand-ins whose notes must name them for a person to read (attacks on the grader's own
# machinery), and honest ones (rewrites, independent students, honest-looking mistakes) that
# must have no note.
FLAGGED = ["atexit_rewrites_result_with_gc_token", "patched_json_dump_and_open"]
FLAGGED += ["trace_aware_via_caller", "trace_aware_via_profiler"]
HONEST = ["four_layers_run", "encoder_weights_as_buffers"]
HONEST += [case.name for case in rewrite_cases(Case)]

# Graded by real sandboxed children in each sandbox (the others' reports come from their records,
# tests/plugins/recorded_children.py; the reference and fresh hand-ins, `course_batch`, are real
# too): an attack whose full marks hold only while the sandbox does.
REAL_CHILDREN = ("read_hidden_labels",)
# The attacks on the sandbox that keep full marks while it holds: a recorded report proves
# nothing of the sandbox, so the default run grades only the real one (REAL_CHILDREN) and the
# full run, whose children are all real, every one (tests/test_sandbox.py attacks each sandbox
# with real children in the default run).
HELD_ATTACKS = {"gigantic_output", "write_grader_files", "kill_the_parent", "network"}
HELD_ATTACKS |= {"read_kit_solutions_and_other_results", "see_other_processes"}

# The default run's sample (tests/corpus_grading.py): the case that covers each kind of verdict.
SAMPLE = {
    # the attacks on the sandbox (SANDBOX_CASES) but HELD_ATTACKS, graded in both sandboxes
    "crash": "a model cell that raises: every test of the child lost, the error and line named",
    "hang_in_forward": "a forward that never returns: the wall clock stops it",
    "memory_bomb": "the memory limit: can't allocate memory",
    "fork_bomb": "the process limit, then the wall clock",
    "read_hidden_labels": "the hidden labels are out of reach: full marks (a real child)",
    "fake_result_file": "a result file written by the student lacks this run's token",
    "handin_nested_two_deep": "a hand-in two folders deep is found: full marks",
    # what the parent checks and the grading child judge, the same in both sandboxes
    "syntax_error": "a SyntaxError, its cell and line named",
    "deleted_model_cell": "a class not defined: its task's tests lost",
    "reordered_cells_use_before_definition": "a NameError, its cell and line named",
    "missing_model_pt": "task1/model.pt is missing",
    "missing_config_json": "task3/config.json is missing",
    "missing_predictions_csv": "predictions.csv is missing: its CSV and accuracy tests",
    "unknown_class_in_config": "config.json names a class the notebook lacks",
    "nan_model": "a checkpoint of NaN",
    "wrong_shapes": "config.json and model.pt disagree",
    "tampered_checkpoint": "a pickle that would run code: cannot be loaded safely",
    "fake_stdout_results": "fake results printed, then a failure",
    "torch_layer_under_skeleton_name": "torch.nn's layer under the skeleton's name",
    "disguised_torch_module": "torch changed in the model cell: the probes' tests lost",
    "patched_grader_probe": "the grader's probe replaced",
    "patched_json_dump_and_open": "builtins.open replaced; flagged for review",
    "atexit_rewrites_result_with_gc_token": "an atexit handler; flagged for review",
    "trace_aware_via_profiler": "a model that computes otherwise when traced; flagged",
    "four_layers_run": "4 encoder layers run where fewer than 4 are asked; no flag",
    "encoder_weights_as_buffers": "weights as buffers: over the parameter budget; no flag",
    "extra_layers_outside_encoder_other_name": "layers run outside the encoder, counted",
    "norm_defined_but_unused": "a normalization defined, not used before the classifier",
    "handin_cuda_in_forward": "a .cuda() call: grading runs on the CPU",
    "handin_model_pt_too_large": "a checkpoint too large: refused before any child starts",
    "handin_data_folder_2_gb": "a data folder left out of the copy, said in the output",
    "handin_macos_zip": "__MACOSX/ left out, said in the output",
    "rewrite_renamed_and_reordered": "the reference renamed and reordered: full marks, no flag",
    "csv_edited_toward_true_labels": "a predictions.csv its task1 model disagrees with",
    "csv_from_another_checkpoint": "a predictions.csv its task2 model disagrees with",
    "attention_scaled_by_sqrt_d_model": "a numeric bug: attention scaled by sqrt(D)",
    "post_norm_where_pre_norm_is_asked": "a numeric bug: post-norm where pre-norm is asked",
    "am_softmax_margin_on_every_class": "a numeric bug: the margin on every class",
}


def _tests(document: dict) -> dict[str, dict]:
    return {test["name"]: test for test in document["tests"]}


def _snapshot(*folders: Path) -> dict[str, str]:
    """sha256 of every file under `folders` (Python's and git's caches left out), keyed by path;
    of the data alone in a sparse file of gigabytes (`content_digest`).

    The grader writes nothing into the data folder, not even caches of the test features (it
    streams the hidden test sets; a child caches in its own folder), so any new file fails."""
    digests, caches = {}, {"__pycache__", ".git"}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not caches.intersection(path.parts):
                digests[str(path)] = content_digest(path)
    return digests


def _markers(*folders: Path) -> list[str]:
    # os.walk skips what vanishes mid-walk (another run's sandbox folder in /tmp), where rglob raises
    return [
        os.path.join(root, name)
        for folder in folders
        for root, dirs, files in os.walk(folder)
        for name in dirs + files
        if MARKER in name
    ]


# ---- the reference and the fresh student notebooks ----------------------------------------------


@pytest.fixture(scope="module")
def course_batch(real_class):
    """The real `kws grade` of a class (tests/conftest.py, shared with tests/test_report.py):
    among its hand-ins the reference (``ref``) and the fresh assignments (``fresh``)."""
    return real_class, real_class / "gradebook.csv"


def test_reference_submission_gets_full_marks(course_batch):
    out, gradebook = course_batch
    document = json.loads((out / "results" / "ref.json").read_text())
    tests = _tests(document)
    graded = {n: t for n, t in tests.items() if not n.startswith("Re-training")}
    below = {n: t["output"] for n, t in graded.items() if t["score"] < t["max_score"]}
    assert below == {}
    # notebook 01: 3 model tests (10 points), 6 of Tasks 1-2 (10), 4 of Tasks 3-4 (10);
    # notebook 02: 15 + 10 (45); notebook 03: 5 model tests (13), 7 of Tasks 1-4 (14)
    assert len(graded) == 3 + 6 + 4 + 15 + 10 + 5 + 7
    assert sum(t["max_score"] for t in graded.values()) == 10 + 10 + 10 + 45 + 13 + 14
    assert document["score"] == 102.0
    for name in [n for n in tests if n.startswith("Re-training")]:  # three gpu tests, skipped
        assert tests[name]["max_score"] == 0 and tests[name]["output"].startswith(GPU_SKIPPED)
    assert (
        "The parameter size of your encoder block is"
        in (tests["Task 1: the encoder block has fewer than 500k parameters"]["output"])
    )
    assert "no network" in document["output"]
    if os.geteuid() == 0:  # without root the child keeps the grader's id (in a user namespace)
        assert "unprivileged user id" in document["output"]
    log = (out / "logs" / "ref.txt").read_text()  # what `pytest grader/` printed
    assert "score" in log and "   total" in log
    assert any(line.split()[-3:] == ["102", "/", "102"] for line in log.splitlines())
    rows = {row["student"]: row for row in csv.DictReader(gradebook.open())}
    assert float(rows["ref"]["total"]) == 102.0
    assert rows["ref"]["max_score"] == "111.0"  # and the 3 notebooks' written 3 + 3 + 3


def test_fresh_student_notebooks_get_zero_with_their_todo(course_batch):
    out, gradebook = course_batch
    document = json.loads((out / "results" / "fresh.json").read_text())
    assert document["score"] == 0
    for name, test in _tests(document).items():
        assert test["score"] == 0, name
        if name.startswith("predictions.csv"):
            assert "predictions.csv is missing" in test["output"]
        elif name in [*NUMERIC_TESTS.values(), *TODO_TESTS, *PATCH_NUMERIC_TESTS.values()]:
            assert "still has a TODO: TODO: " in test["output"], name
        elif name in KEYWORD_NUMERIC:
            assert "still has a TODO: TODO: " in test["output"], name
        elif not name.startswith("Re-training"):
            assert "your notebook still has TODOs, the first: " in test["output"], name
    rows = {row["student"]: row for row in csv.DictReader(gradebook.open())}
    assert float(rows["fresh"]["total"]) == 0.0


# ---- the corpus of broken and malicious submissions ---------------------------------------------


@dataclass
class GradedCorpus:
    """The corpus as one sandbox graded it."""

    sandbox: str  # "bubblewrap" or "hand-written"
    cases: dict[str, Case]  # the cases it graded
    out: Path  # results/ and logs/
    gradebook: Path
    changes: dict  # what changed outside the children's folders, and the machine's paths


@pytest.fixture(scope="module", params=["bubblewrap", "hand-written"])
def corpus(request, tmp_path_factory, tiny_data, reference_submission, full) -> GradedCorpus:
    """Build the cases, grade them in one batch (3 jobs) in one sandbox, record what changed.

    The cases: every one in the full run, `SAMPLE` otherwise. bubblewrap (where installed)
    grades them all. The hand-written sandbox grades them all where bubblewrap is missing (it
    is then what the instructor gets), and otherwise the cases whose outcome depends on the
    sandbox (`SANDBOX_CASES`) in the full run, and its real children (`REAL_CHILDREN`) in the
    default run, where the others' reports would come from their records: the others test
    the parent's checks and the grading child's code, which are the same in both, and grading
    them twice would add minutes to the suite's longest part without testing anything new.
    """
    if request.param == "bubblewrap" and not BWRAP:
        pytest.skip(
            "bubblewrap is not installed (apt-get install bubblewrap; .ci/run does): "
            "the corpus is graded in the hand-written sandbox only"
        )
    only = graded_cases((case.name for case in with_numeric(cases())), SAMPLE, full)
    if request.param == "hand-written" and BWRAP:
        only &= set(SANDBOX_CASES if full else REAL_CHILDREN)
    folder = tmp_path_factory.mktemp(f"corpus-{request.param}")
    # The corpus's own copy of the data, so that nothing but its graders touches what is
    # watched: tests running meanwhile (pytest-xdist) may add caches beside the session's copy.
    data = folder / "data"
    shutil.copytree(tiny_data, data)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    context = Context(
        data=data, repo=ROOT, results_dir=folder / "out", port=listener.getsockname()[1]
    )
    built = build_corpus(reference_submission, folder / "submissions", context, tuple(only))
    # The kit's grading code, not all of kws/: other work may edit the checkout meanwhile; any
    # file an attack writes elsewhere in the repository carries MARKER in its name.
    watched = [
        folder / "submissions",
        data,
        ROOT / "grader",
        ROOT / "kws" / "grading",
        ROOT / "kws" / "assignments",
    ]
    # The cases about time-outs are graded apart, at the short wall clock they must hit; every
    # other case gets a wall clock no loaded machine reaches, so none fails as a time-out there.
    timeouts = folder / "timeouts"
    timeouts.mkdir()
    for name, case in built.items():
        if set(case.lost.values()) == {"took too long"}:
            (folder / "submissions" / name).rename(timeouts / name)
    before = _snapshot(*watched, timeouts)
    batches = {  # (submissions, results, child wall clock, other batch's folders to hide)
        "submissions": (folder / "out", CHILD_TIMEOUT, [timeouts, folder / "out-timeouts"]),
        "timeouts": (
            folder / "out-timeouts",
            TIMEOUT_CASES_CLOCK,
            [folder / "submissions", folder / "out"],
        ),
    }
    with pytest.MonkeyPatch.context() as patch:  # the graders' environment picks the sandbox
        if request.param == "hand-written":
            patch.setenv("KWS_SANDBOX", "builtin")

        def grade(name: str) -> Path | None:
            out, wall_clock, hide = batches[name]
            if not any((folder / name).iterdir()):
                return None
            return grade_corpus(
                folder / name,
                data,
                out,
                child_timeout=wall_clock,
                graded_tests=[SPEAKER_GRADER, NUMERIC_GRADER],
                options=[part for path in hide for part in ("--hide", str(path))],
                jobs=3 if name == "submissions" else 2,  # the time-outs wait asleep
                real=REAL_CHILDREN,
                aliases={str(folder): "CORPUS", str(ROOT): "REPO", str(context.port): "PORT"},
            )

        with ThreadPoolExecutor(2) as pool:
            gradebook, timed_out = pool.map(grade, batches)
    gradebook = _merged(gradebook, timed_out, folder / "out")
    try:
        connected = listener.accept()[0] is not None
    except BlockingIOError:
        connected = False
    listener.close()
    after = _snapshot(*watched, timeouts)
    changes = {
        "changed": {path for path in before | after if before.get(path) != after.get(path)},
        "markers": _markers(ROOT, data, folder, *map(Path, ["/tmp", "/var/tmp", "/dev/shm"])),
        "connected": connected,
    }
    changes["machine_paths"] = [str(folder), str(data), str(ROOT), "/tmp/", sys.prefix]
    return GradedCorpus(request.param, built, folder / "out", gradebook, changes)


def _merged(gradebook: Path | None, timed_out: Path | None, out: Path) -> Path:
    """One gradebook and results/ folder in `out` for both batches (the time-outs' added)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for book in (gradebook, timed_out):
        if book is not None:
            rows += list(csv.DictReader(book.open()))
    if timed_out is not None:
        (out / "results").mkdir(parents=True, exist_ok=True)
        for path in (timed_out.parent / "results").iterdir():
            shutil.copy(path, out / "results" / path.name)
    fields = list(dict.fromkeys(name for row in rows for name in row))
    with open(out / "gradebook.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)
    return out / "gradebook.csv"


def _graded(corpus: GradedCorpus, names: list[str]) -> list[str]:
    """Those of `names` that `corpus` graded; a skip, saying where they are graded, if none."""
    graded = [name for name in names if name in corpus.cases]
    if not graded:
        pytest.skip(f"{names[0]} and the like are graded by the corpus's other sandbox or run")
    return graded


def _document(corpus: GradedCorpus, name: str) -> dict:
    return json.loads((corpus.out / "results" / f"{name}.json").read_text())


def test_the_corpus_has_at_least_20_cases():
    assert len(with_numeric(cases())) >= 20


def test_the_default_sample_covers_every_kind_of_verdict():
    """`SAMPLE` grades, by default, a case of each kind of verdict (each test lost, each reason,
    full marks), every attack on the sandbox that costs points and the real one that keeps
    full marks, each output phrase and flagged and honest cases."""
    assert_sample_covers(with_numeric(cases()), SAMPLE, smaller=True)
    assert set(SANDBOX_CASES) - HELD_ATTACKS <= set(SAMPLE)
    assert set(REAL_CHILDREN) <= set(SAMPLE) and not HELD_ATTACKS & set(SAMPLE)
    assert HELD_ATTACKS <= set(SANDBOX_CASES)
    assert set(OUTPUT_PHRASES) <= set(SAMPLE)
    assert set(FLAGGED) & set(SAMPLE) and set(HONEST) & set(SAMPLE)


def test_every_case_is_graded_as_intended(corpus):
    assert wrong_verdicts(corpus.cases, results_of(corpus.cases, corpus.out), TESTS) == {}


def test_every_case_ran_in_the_sandbox_under_test(corpus):
    """Each results.json names its sandbox (KWS_SANDBOX=builtin reached every grader)."""
    wrong, no_child = {}, set()
    for name in corpus.cases:
        output = _document(corpus, name)["output"]
        if "; sandbox: " not in output:
            no_child.add(name)
            continue
        sandbox = output.split("; sandbox: ", 1)[1].split("\n")[0]
        if ("bubblewrap:" in sandbox) != (corpus.sandbox == "bubblewrap"):
            wrong[name] = sandbox
        elif "own PID namespace" not in sandbox or "no network" not in sandbox:
            wrong[name] = sandbox
    assert wrong == {}
    assert no_child <= {"handin_model_pt_too_large"}  # refused before any child starts


def test_every_case_has_a_gradebook_row(corpus):
    rows = {row["student"]: row for row in csv.DictReader(corpus.gradebook.open())}
    assert set(rows) == set(corpus.cases)
    for name, case in corpus.cases.items():
        expected = sum(POINTS.values()) - sum(POINTS[test] for test in case.lost)
        assert float(rows[name]["total"]) == expected, name


def test_nothing_outside_the_children_changed(corpus):
    changes = corpus.changes
    assert changes["changed"] == set()
    assert changes["markers"] == []
    assert not changes["connected"], "a child reached the grader's loopback"


def test_a_child_that_fails_says_so_in_a_sentence(corpus):
    if "hang_in_forward" not in corpus.cases:
        pytest.skip("the default run grades only its real child in this sandbox (--full: all)")
    output = _tests(_document(corpus, "hang_in_forward"))[TESTS["load1"]]["output"]
    assert output.startswith(
        f"Grading your notebook's model took too long (stopped after the wall-clock limit of {TIMEOUT_CASES_CLOCK} s)."
    )
    assert set(CHILD_TESTS) == set(corpus.cases["crash"].lost)


def test_messy_hand_ins_say_what_was_not_copied(corpus):
    for name in _graded(corpus, list(OUTPUT_PHRASES)):
        assert OUTPUT_PHRASES[name] in _document(corpus, name)["output"]


def test_no_student_visible_message_shows_the_grading_machines_paths(corpus):
    shown = {}
    for name in corpus.cases:
        document = _document(corpus, name)
        for text in [document["output"], *(test["output"] for test in document["tests"])]:
            for path in corpus.changes["machine_paths"]:
                if path in text:
                    shown[name] = text
    assert shown == {}


def test_attacks_on_the_graders_machinery_are_flagged_for_review(corpus):
    rows = {row["student"]: row for row in csv.DictReader(corpus.gradebook.open())}
    for name in _graded(corpus, FLAGGED):
        assert "Manual review: 02_speaker_id.ipynb, model cell 1: " in rows[name]["notes"], name
    # honest hand-ins (rewrites, independent students) and honest-looking mistakes: no flag
    honest = _graded(corpus, HONEST)
    assert {name: rows[name]["notes"] for name in honest} == dict.fromkeys(honest, "")
