"""The honest mistakes (tests/corpus_honest.py) graded as `kws grade` grades a class, on the tiny
synthetic data: each costs exactly the tests it breaks, with a reason naming its cause, and none
is told it tampers or is filed under tampering; a hand-in with randomness in eval gets the same
grade on every grading."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from corpus_grading import (
    assert_sample_covers,
    grade_corpus,
    graded_cases,
    results_of,
    wrong_verdicts,
)
from corpus_honest import (
    KEYWORD,
    PATCH,
    SPEAKER,
    TEMPLATE_NOTEBOOK,
    build_honest_corpus,
    honest_cases,
    template_cases,
)

from kws.notebooks import execute_notebook

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GRADERS = {
    KEYWORD: [
        ROOT / "kws/assignments/keyword_spotting/graded_tests" / name
        for name in ("test_01_keyword_spotting.py", "test_01_numeric.py", "test_01_tasks.py")
    ],
    SPEAKER: [
        ROOT / "kws/assignments/speaker_id/graded_tests" / name
        for name in ("test_02_speaker_id.py", "test_02_numeric.py")
    ],
    PATCH: [
        ROOT / "kws/assignments/patch_transformer/graded_tests" / name
        for name in ("test_03_patch_transformer.py", "test_03_numeric.py")
    ],
}
SAMPLE = {  # the case that covers each kind of verdict
    "python_random_time_shift": "a random time shift left on in eval: Task 3, named",
    "gaussian_noise_in_eval": "noise from torch's generator: Task 3, named",
    "numpy_random_gain": "a numpy gain: Task 3, named",
    "functional_dropout_before_the_classifier": "F.dropout, training left True: Task 3",
    "progress_bar_in_forward": "a progress bar: full marks",
    "functional_dropout_in_attention": "F.dropout in speaker attention: its numeric test",
    "inverted_padding_mask": "every key of a full utterance masked: NaN named, accuracy lost",
    "padding_mask_cached_on_self": "a mask kept on self: the padding test",
    "batchnorm_on_batch_statistics": "a tokenizer's BatchNorm on the batch: Task 3, named",
    "patchout_left_on_in_eval": "patch-out drawn in eval: its traced test",
    "frame_lengths_off_by_one": "frame lengths one short: the pipeline",
    "mean_over_padded_frames": "speaker Task 1's mean over padding: its padded-frames test",
}
TEMPLATE = ROOT / "docs" / "keyword_template"
# Words a student with an honest mistake must never read.
ACCUSING = (
    "tamper",
    "replaces or patches",
    "changes torch or the grader",
    "computes something else",
)


def _graded(cases: dict, data: Path, corpus: Path, out: Path) -> dict[str, dict]:
    """Each notebook's cases graded by its assignment's tests; their results.json."""
    documents = {}
    for notebook, graders in GRADERS.items():
        names = [name for name, case in cases.items() if case.notebook == notebook]
        if not names:
            continue
        folder = corpus / notebook.partition(".")[0]
        folder.mkdir(parents=True)
        for name in names:
            (corpus / name).rename(folder / name)
        grade_corpus(folder, data, out / notebook, graded_tests=graders)
        documents |= results_of(names, out / notebook)
    return documents


def _accusations(document: dict) -> list[str]:
    found = [f["text"] for f in document["extra_data"]["findings"] if f["kind"] == "tampering"]
    texts = [document["output"], *(test.get("output", "") for test in document["tests"])]
    return found + [text for text in texts if any(word in text for word in ACCUSING)]


def test_the_default_sample_covers_every_kind_of_verdict():
    assert_sample_covers(honest_cases(), SAMPLE)


def test_every_honest_mistake_costs_what_it_breaks(tmp_path, tiny_data, reference_submission, full):
    only = graded_cases((case.name for case in honest_cases()), SAMPLE, full)
    cases = build_honest_corpus(reference_submission, tmp_path / "corpus", only)
    documents = _graded(cases, tiny_data, tmp_path / "corpus", tmp_path / "out")
    wrong = wrong_verdicts(cases, documents)
    assert wrong == {}, json.dumps(wrong, indent=1)
    assert {name: _accusations(document) for name, document in documents.items()} == {
        name: [] for name in documents
    }


@pytest.mark.full
def test_randomness_in_eval_gets_one_grade_in_five_gradings(
    tmp_path, tiny_data, reference_submission
):
    """Real grading children each time (no recorded report): the same files, the same grade."""
    name = "python_random_time_shift"
    build_honest_corpus(reference_submission, tmp_path / "corpus", {name})
    grades = []
    for attempt in range(5):
        out = tmp_path / f"out{attempt}"
        grade_corpus(
            tmp_path / "corpus", tiny_data, out, graded_tests=GRADERS[KEYWORD], real={name}
        )
        document = json.loads((out / "results" / f"{name}.json").read_text())
        grades.append([(test["name"], test["score"]) for test in document["tests"]])
    assert all(grade == grades[0] for grade in grades), grades


@pytest.mark.full  # the template's solution run in a kernel, then `kws grade`: 12 CPU-s
def test_honest_mistakes_in_an_own_assignment_cost_what_they_break(tmp_path, tiny_data):
    """The keyword template copied as an instructor's course, its solution trained a few steps,
    then each mistake planted in a copy and the class graded by `kws grade` from that course."""
    course = shutil.copytree(TEMPLATE, tmp_path / "course")
    (tmp_path / "data").symlink_to(tiny_data, target_is_directory=True)
    reference = tmp_path / "reference"
    reference.mkdir()
    notebook = reference / TEMPLATE_NOTEBOOK
    shutil.copy(course / "solutions" / TEMPLATE_NOTEBOOK, notebook)
    env = {"KWS_DATA_DIR": str(tmp_path / "data"), "KWS_OUT_DIR": str(reference / "outputs"),
           "KWS_STEPS": "10", "KWS_COURSE": str(course), "OMP_NUM_THREADS": "1"}  # fmt: skip
    execute_notebook(notebook, env=env, timeout=900, save_to=notebook)
    cases = {case.name: case for case in template_cases()}
    for name, case in cases.items():
        shutil.copytree(reference, tmp_path / "subs" / name)
        case.damage(tmp_path / "subs" / name)
    env = os.environ | {"KWS_COURSE": "course", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("KWS_ASSIGNMENTS", None)
    graded = subprocess.run(
        [sys.executable, "-m", "kws.cli", "grade", "subs", "--data", "data", "--out", "grades"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    documents = results_of(cases, tmp_path / "grades")
    wrong = wrong_verdicts(cases, documents)
    assert wrong == {}, json.dumps(wrong, indent=1)
    assert {name: _accusations(document) for name, document in documents.items()} == {
        name: [] for name in documents
    }
