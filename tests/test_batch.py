"""Batch grading end to end: the real grader on real (synthetic tiny) data, in parallel, into a
gradebook; a hostile submission changes nothing outside its sandbox; a submission that brings
pytest itself down still gets its row."""

import csv
import json
import os
import shutil
import textwrap

import nbformat
import pytest
from batch_helpers import grade_batch
from grading_helpers import TINY_KWS, make_notebook, make_submission

from kws.grading.records.gradebook import write_gradebook

pytestmark = pytest.mark.slow
KWS = {"kws": ("KeywordTransformer", {"n_classes": 12})}


@pytest.fixture(scope="module")
def data(tmp_path_factory, tiny_data):
    """The module's copy of the session's tiny data (its tests write beside it)."""
    return shutil.copytree(tiny_data, tmp_path_factory.mktemp("data") / "data", symlinks=True)


def test_class_is_graded_into_gradebook_and_results(tmp_path, data, monkeypatch):
    temporary = tmp_path / "tmp"  # the graders' TMPDIR: what they leave there after the run
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    submissions = tmp_path / "submissions"
    make_submission(
        submissions / "alice", "01_keyword_spotting.ipynb", [(TINY_KWS, ["model"])], KWS
    )
    results_path = tmp_path / "grades" / "results" / "bob.json"
    labels = data / "speech_commands_test_set_v0.02" / "yes"
    hostile = f"""
    import glob, os
    for path in [{str(results_path)!r}, {str(submissions / "alice" / "outputs/kws/model.pt")!r}]:
        try:
            open(path, "w").write('{{"score": 100}}')
        except OSError:
            pass
    STOLEN = glob.glob({str(labels)!r} + "/*.wav") + glob.glob({str(submissions)!r} + "/*")
    """
    bob = make_submission(
        submissions / "bob", "01_keyword_spotting.ipynb", [(TINY_KWS, ["model"])], KWS
    )
    # Only the handed-in notebook carries the attack (this test process must not run it).
    hostile_cells = [(TINY_KWS + textwrap.dedent(hostile), ["model"])]
    nbformat.write(make_notebook(hostile_cells), bob / "01_keyword_spotting.ipynb")
    alice_model = (submissions / "alice/outputs/kws/model.pt").read_bytes()

    # synthetic-tiny's tiers are all 0 (kws/assignments/keyword_spotting/spec.toml): an untrained tiny
    # model scores full accuracy points. These hand-made hand-ins were never trained with fit(),
    # so they have no history.json for the recipe test: the model's three tests are graded.
    args = ["-k", "test_01_keyword_spotting and not recipe_schedule"]
    gradebook = grade_batch(submissions, data, tmp_path / "grades", jobs=2, pytest_args=args)

    rows = {row["student"]: row for row in csv.DictReader(open(gradebook))}
    assert set(rows) == {"alice", "bob"}
    # out of the tests' 10 and the notebook's written question's 3, recorded unmarked
    assert float(rows["alice"]["total"]) == 10.0 and float(rows["alice"]["max_score"]) == 13.0
    assert float(rows["bob"]["total"]) == 10.0  # its attacks failed; its model is still graded
    assert rows["alice"]["tier_sets"] == "keyword_spotting=synthetic-tiny"
    assert (submissions / "alice/outputs/kws/model.pt").read_bytes() == alice_model
    document = json.loads(results_path.read_text())
    assert document["score"] == 10.0 and "no network" in document["output"]
    if os.geteuid() == 0:  # without root the child keeps the grader's id (in a user namespace)
        assert "unprivileged user id" in document["output"]
    assert (tmp_path / "grades" / "logs" / "alice.txt").read_text().count("passed") >= 1
    # Each grader's copy of the hidden test set goes with it: a class leaves behind only the
    # kit's own keyed stores, the decoded hidden test set (kws-hidden-cache-UID/, one file per
    # test set) and the sandbox's user-id reservations (kws-sandbox-locks-UID/, at most 1,000
    # empty files).
    stores = ("kws-hidden-cache-", "kws-sandbox-locks-")
    left = [p.relative_to(temporary) for p in temporary.rglob("*") if p.is_file()]
    assert [str(p) for p in left if not p.parts[0].startswith(stores)] == []


def test_submission_that_kills_pytest_still_gets_a_row(tmp_path, data):
    grader = tmp_path / "grader"
    grader.mkdir()
    (grader / "conftest.py").write_text(
        textwrap.dedent(
            """
            import json, os
            from pathlib import Path

            def pytest_addoption(parser):
                for name in ("--submission", "--data", "--results", "--hide"):
                    parser.addoption(name, action="append")

            def pytest_configure(config):
                if Path(config.getoption("--submission")[0]).name == "mallory":
                    os._exit(3)  # as if the submission brought the grader process down
                tests = [{"name": "works", "score": 1.0, "max_score": 1.0, "status": "passed",
                          "output": "", "visibility": "visible"}]
                Path(config.getoption("--results")[0]).write_text(
                    json.dumps({"score": 1.0, "tests": tests}))
            """
        )
    )
    (grader / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    for student in ("carol", "mallory"):
        (tmp_path / "subs" / student).mkdir(parents=True)
    gradebook = grade_batch(tmp_path / "subs", data, tmp_path / "out", jobs=2, grader=grader)
    rows = {row["student"]: row for row in csv.DictReader(open(gradebook))}
    assert rows["carol"]["works"] == "1.0" and rows["carol"]["notes"] == ""
    assert rows["mallory"]["works"] == "0.0" and rows["mallory"]["total"] == "0.0"
    assert "exited with code 3" in rows["mallory"]["notes"]


def test_gradebook_columns_follow_tests_and_missing_scores_are_zero(tmp_path):
    """A test a student's results lack scores 0, as does a hand-in the grader could not grade
    (its results say why); a student with no results at all (lost: a regrade beside them) has
    no score, never a 0."""
    from kws.grading.records.gradebook import Graded, ungraded_document

    def doc(*scores):
        tests = [{"name": n, "score": s, "max_score": 2.0} for n, s in scores]
        tier_sets = {"speaker_id": "hw4_2023"}
        return {
            "score": sum(s for _, s in scores),
            "tests": tests,
            "extra_data": {"tier_sets": tier_sets},
        }

    stopped = "the grader ran longer than 10 s and was stopped"
    graded = [
        Graded("a", doc(("layers", 2.0), ("accuracy", 1.0)), "", 1.0),
        Graded("b", ungraded_document(stopped, 10.0), stopped, 10.0),
        Graded("c", None, "results/c.json is missing: grade them again", 0.0),
    ]
    rows = list(csv.reader(open(write_gradebook(graded, tmp_path / "g.csv"))))
    header = [
        "student",
        "layers",
        "accuracy",
        "total",
        "max_score",
        "tier_sets",
        "seconds",
        "notes",
    ]
    assert rows[0] == header
    assert rows[1][:6] == ["a", "2.0", "1.0", "3.0", "4.0", "speaker_id=hw4_2023"]
    assert rows[2][:6] == ["b", "0.0", "0.0", "0.0", "4.0", ""] and "stopped" in rows[2][7]
    assert rows[3][:6] == ["c", "", "", "", "4.0", ""] and "missing" in rows[3][7]


def test_parallel_grading_children_share_the_cores(tmp_path, monkeypatch):
    """`kws grade --jobs N` gives each grading child its share of the cores (or of the
    container's CPU quota) as torch threads (more threads than cores spin idle and slow the
    other children), never more than the
    sandbox's default or the grader's own OMP_NUM_THREADS; the caller's own --child-threads wins;
    a grader folder with a conftest.py of its own (another grader) is not given the option."""
    import os

    from kws.grading.command import grader_command
    from kws.grading.sandbox import cores
    from kws.grading.sandbox.cores import child_threads
    from kws.grading.sandbox.supervise import Limits

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cores, "cpu_quota", lambda: None)  # no container's CPU quota
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert [child_threads(jobs) for jobs in (1, 2, 3)] == [Limits.threads, 1, 1]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert child_threads(2) == Limits.threads
    monkeypatch.setattr(cores, "cpu_quota", lambda: 0.5)  # Gradescope's half a CPU
    assert child_threads() == 1
    monkeypatch.setattr(cores, "cpu_quota", lambda: None)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert child_threads() == 1

    paths = (tmp_path / "sub", tmp_path / "data", tmp_path / "r.json")
    command = grader_command(*paths, threads=1, options=["--child-threads", "2"])
    at = command.index("--child-threads")
    assert command[at + 1] == "1" and command[-2:] == ["--child-threads", "2"]
    own = tmp_path / "grader"
    own.mkdir()
    (own / "conftest.py").write_text("")
    assert "--child-threads" not in grader_command(*paths, grader=own, threads=1)
