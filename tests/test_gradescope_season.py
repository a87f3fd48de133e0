"""On Gradescope, the course file's attempt limit and late rule (`kws.grading.publish.gradescope.season`),
as run_autograder runs them after the grader: on a results.json written by the grader's own
writers and a submission_metadata.json with Gradescope's documented fields (created_at, users,
assignment.due_date, previous_submissions with submission_time, score and results); every
document written meets Gradescope's results.json specification (tests/gradescope_schema.py)."""

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from course_helpers import ROOT
from gradescope_schema import problems

from kws.grading.judge.document import TestResult, results_document, write_results
from kws.grading.publish.gradescope.autograder import make_autograder

COURSE = """
timezone = "America/Los_Angeles"
grace_minutes = 10

[late]
per_day = 0.25
cap = 0.5

[due]
keyword_spotting = "2026-10-02 23:00"

[extensions."kim@uni.example"]
keyword_spotting = "2026-10-05 23:00"

[gradescope]
attempts_per_day = 2
"""


def _results(path: Path, score: float) -> Path:
    facts = {"assignment": "keyword_spotting", "test": "test_accuracy", "task": "kws"}
    tests = [TestResult("Accuracy on the hidden 12-class test set", score, 8.0, "passed", "",
                        "visible", facts),
             TestResult("Task 4: the learning rate", 2.0, 2.0, "passed", "", "visible",
                        {"assignment": "keyword_spotting"})]  # fmt: skip
    write_results(path, results_document(tests, output="graded", execution_time=4))
    return path


def _metadata(path: Path, created: str, previous: list[dict], email="lee@uni.example") -> Path:
    document = {
        "id": 123456,
        "created_at": created,
        "assignment": {"due_date": "2026-10-02T23:00:00.000000-07:00", "id": 25828,
                       "late_due_date": None, "title": "Notebook 01", "total_points": "10.0"},
        "submission_method": "upload",
        "users": [{"email": email, "id": 1234, "name": "Student User"}],
        "previous_submissions": previous,
    }  # fmt: skip
    path.write_text(json.dumps(document))
    return path


def _run(tmp_path: Path, results: Path, metadata: Path, course=COURSE, now=None) -> dict:
    (tmp_path / "course.toml").write_text(course)
    command = [sys.executable, "-m", "kws.grading.publish.gradescope.season", "--results", str(results),
               "--metadata", str(metadata), "--course", str(tmp_path / "course.toml")]  # fmt: skip
    command += ["--now", now] if now else []
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    document = json.loads(results.read_text())
    assert problems(document) == []
    return document


def test_a_late_submission_loses_the_course_rule_penalty_and_says_so(tmp_path):
    results = _results(tmp_path / "results.json", 8.0)
    # 2026-10-04 10:00 in Los Angeles: 35 h after the due date, 2 started days: 50 % of 10
    metadata = _metadata(tmp_path / "meta.json", "2026-10-04T10:00:00.000000-07:00", [])
    document = _run(tmp_path, results, metadata)
    assert document["score"] == 5.0 and sum(t["score"] for t in document["tests"]) == 10.0
    assert document["output"].startswith(  # the attempt first, as docs/how-to/attempts.md says
        "Graded attempt 1 of 2 in 24 hours.\n\n01_keyword_spotting.ipynb: handed in 35 h after "
        "the due date (2026-10-02T23:00:00-07:00)"
    )
    late = document["extra_data"]["late"]["keyword_spotting"]
    assert (late["penalty"], late["source"]) == (5.0, "gradescope metadata")
    # of the tests' points, the autograder's: kws season takes it of the whole notebook
    assert late["of"] == 10.0
    said = "-5 of 10 points (a share of the 10 points of its tests; written answers are marked"
    assert said + " apart)." in document["output"]


def test_an_extension_found_by_email_and_the_grace_period_keep_full_marks(tmp_path):
    results = _results(tmp_path / "results.json", 8.0)
    on_extension = "2026-10-04T10:00:00-07:00"
    metadata = _metadata(tmp_path / "meta.json", on_extension, [], email="kim@uni.example")
    assert _run(tmp_path, results, metadata)["score"] == 10.0
    results = _results(tmp_path / "results.json", 8.0)
    in_grace = _metadata(tmp_path / "meta.json", "2026-10-02T23:09:00-07:00", [])
    document = _run(tmp_path, results, in_grace)
    assert document["score"] == 10.0 and "late" not in document["extra_data"]


def test_an_extension_granted_in_gradescope_moves_that_students_due_date(tmp_path):
    """A user's own ``users[].assignment.due_date`` (Gradescope's extension) is their due date."""
    results = _results(tmp_path / "results.json", 8.0)
    metadata = _metadata(tmp_path / "meta.json", "2026-10-04T10:00:00-07:00", [])
    document = json.loads(metadata.read_text())
    own = {"due_date": "2026-10-05T23:00:00-07:00", "late_due_date": None, "release_date": None}
    document["users"][0]["assignment"] = own
    metadata.write_text(json.dumps(document))
    assert _run(tmp_path, results, metadata)["score"] == 10.0


def test_over_the_attempt_limit_the_last_counted_attempt_stands(tmp_path):
    earlier = _results(tmp_path / "earlier.json", 4.0)
    first = json.loads(earlier.read_text()) | {"extra_data": {"attempt": {"counted": True}}}
    refused = {"score": 1.0, "tests": [], "extra_data": {"attempt": {"counted": False}}}
    previous = [
        {"submission_time": "2026-09-30T09:00:00-07:00", "score": 6.0, "results": first},
        {"submission_time": "2026-09-30T12:00:00-07:00", "score": 6.0, "results": first},
        {"submission_time": "2026-09-30T13:00:00-07:00", "score": 1.0, "results": refused},
    ]
    results = _results(tmp_path / "results.json", 8.0)  # this attempt's: better, but not counted
    metadata = _metadata(tmp_path / "meta.json", "2026-09-30T20:00:00-07:00", previous)
    document = _run(tmp_path, results, metadata)
    assert document["score"] == 6.0 and document["tests"][0]["score"] == 4.0
    assert document["output"].startswith("Not counted: you have used the 2 graded attempts")
    said = "This submission was graded, but its results are replaced by those of your last "
    assert said in document["output"] and "not graded against" not in document["output"]
    assert "counted attempt (2026-09-30T12:00:00-07:00), which stands" in document["output"]
    assert "opens at 2026-10-01T09:00:00-07:00" in document["output"]
    assert document["extra_data"]["attempt"] == {"counted": False, "per_day": 2}
    # a day later the window has room again: this attempt is graded and counted
    results = _results(tmp_path / "results.json", 8.0)
    metadata = _metadata(tmp_path / "meta.json", "2026-10-01T09:30:00-07:00", previous)
    document = _run(tmp_path, results, metadata)
    assert document["score"] == 10.0 and document["extra_data"]["attempt"]["counted"] is True
    assert document["output"].startswith("Graded attempt 2 of 2 in 24 hours.")


def test_kws_gradescope_bakes_the_course_file_into_the_zip(tmp_path, tiny_data):
    (tmp_path / "course.toml").write_text(COURSE + 'public_share = 0.3\nsplit_seed = "s"\n')
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "kws.cli", "gradescope", "--data",
                           str(tiny_data), "--out", "a.zip", "--course", "course.toml"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "attempts: 2 graded in any 24 hours" in done.stdout
    assert "Kaggle rule: 30% of the hidden test items shown during the homework" in done.stdout
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path) as archive:
        script = archive.read("run_autograder").decode()
        assert archive.read("course.toml").decode().startswith(COURSE)
        plan = json.loads(archive.read("plan.json"))
    assert 'COURSE="course.toml"' in script and "kws.grading.publish.gradescope.season" in script
    assert plan["split"] == {"share": 0.3, "seed": "s"}  # each run's plan, not flags
    assert "--public-share" not in script and "--split-seed" not in script
    course_sha256 = hashlib.sha256((tmp_path / "course.toml").read_bytes()).hexdigest()
    assert plan["season"] == {"course_sha256": course_sha256, "times_sha256": None,
                              "file_times": False}  # fmt: skip
    (tmp_path / "bad.toml").write_text('[due]\nkeyword = "2026-10-02"')
    with pytest.raises(
        ValueError, match="'keyword' is not an assignment; did you mean keyword_spotting"
    ):
        make_autograder(tmp_path / "b.zip", tiny_data, course=tmp_path / "bad.toml")
    assert not (tmp_path / "b.zip").exists()


def test_run_autograder_applies_the_course_file_with_gradescopes_metadata(tmp_path, tiny_data):
    """The zip's own run_autograder, unpacked where Gradescope puts it, on a submission over
    the attempt limit: the grader runs, then the last counted attempt's results stand."""
    (tmp_path / "course.toml").write_text(COURSE)
    root = tmp_path / "autograder"
    path = make_autograder(tmp_path / "a.zip", tiny_data, course=tmp_path / "course.toml",
                           assignment="keyword_spotting")  # fmt: skip
    with zipfile.ZipFile(path) as archive:
        archive.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    # Gradescope's venv: this Python, started by a script. A link to it would not do from inside
    # a venv: Python finds its venv by the pyvenv.cfg beside the link, so it would start the base
    # interpreter without the venv's packages. (The kit it grades with: the zip's own.)
    python = root / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    (root / "submission").mkdir()  # a hand-in without the notebook: graded quickly
    counted = {"score": 7.0, "tests": [], "output": "kept",
               "extra_data": {"attempt": {"counted": True}}}  # fmt: skip
    previous = [{"submission_time": f"2026-09-30T{h:02d}:00:00-07:00", "score": 7.0,
                 "results": counted} for h in (9, 10)]  # fmt: skip
    _metadata(root / "submission_metadata.json", "2026-09-30T11:00:00-07:00", previous)
    env = os.environ | {"AUTOGRADER_ROOT": str(root), "KWS_VENV": str(root / "venv")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    document = json.loads((root / "results" / "results.json").read_text())
    assert problems(document) == [], done.stdout[-2000:] + done.stderr[-2000:]
    said = document["output"] + done.stdout[-2000:] + done.stderr[-2000:]
    assert document["score"] == 7.0 and document["output"].startswith("Not counted"), said
    assert document["output"].endswith("kept")


# Kaggle's rule: notebook 01 due 2 October, notebook 02 due 16 October (Los Angeles time); kim
# has an extension for notebook 01 to 5 October.
KAGGLE = """
timezone = "America/Los_Angeles"

[due]
keyword_spotting = "2026-10-02 23:00"
speaker_id = "2026-10-16 23:00"

[extensions."kim@uni.example"]
keyword_spotting = "2026-10-05 23:00"

[gradescope]
attempts_per_day = 2
public_share = 0.3
split_seed = "course secret"
"""
HELD_OUT_MESSAGES = ("Accuracy 0.8123 reaches the medium tier", "Accuracy 0.7777 reaches simple")


def _kaggle_results(path: Path) -> Path:
    """What the grader writes under the Kaggle rule for one zip grading two notebooks: each
    has a visible test and a held-out accuracy test with partial credit (5.6 of 8, 6.3 of 9)."""

    def held_out(assignment, score, maximum, message):
        facts = {"assignment": assignment, "test": "test_accuracy", "part": "held_out"}
        return TestResult("Accuracy on the hidden test set", score, maximum, "failed", message,
                          "after_due_date", facts)  # fmt: skip

    tests = [
        TestResult(
            "Task 4: the learning rate",
            2.0,
            2.0,
            "passed",
            "",
            "visible",
            {"assignment": "keyword_spotting"},
        ),  # fmt: skip
        held_out("keyword_spotting", 5.6, 8.0, HELD_OUT_MESSAGES[0]),
        TestResult(
            "Task 2: a normalization",
            3.0,
            3.0,
            "passed",
            "",
            "visible",
            {"assignment": "speaker_id"},
        ),  # fmt: skip
        held_out("speaker_id", 6.3, 9.0, HELD_OUT_MESSAGES[1]),
    ]
    output = "01_keyword_spotting.ipynb (kws): accuracy 0.6500 on the public part ..."
    write_results(path, results_document(tests, output=output, execution_time=4))
    return path


def _kaggle_run(tmp_path: Path, now: str, email: str = "lee@uni.example", **meta) -> dict:
    results = _kaggle_results(tmp_path / "results.json")
    metadata = _metadata(tmp_path / "meta.json", "2026-09-30T10:00:00-07:00", [], email=email)
    if meta:  # more of Gradescope's metadata: a user's own due date
        document = json.loads(metadata.read_text())
        document["users"][0].update(meta)
        metadata.write_text(json.dumps(document))
    return _run(tmp_path, results, metadata, course=KAGGLE, now=now)


def _held_out(document: dict) -> dict[str, dict]:
    return {t["extra_data"]["assignment"]: t for t in document["tests"]
            if t["extra_data"].get("part") == "held_out"}  # fmt: skip


def test_before_its_due_date_no_field_gives_a_held_out_part_away(tmp_path):
    """The total less the visible points was the held-out part's points (its tier): before the
    due dates the total leaves them out, and nothing a student reads states them."""
    document = _kaggle_run(tmp_path, now="2026-10-01T12:00:00-07:00")
    assert document["score"] == 5.0  # the two visible tests only
    shown = json.dumps(document)
    for secret in (*HELD_OUT_MESSAGES, "5.6", "6.3", "0.8123", "0.7777"):
        assert secret not in shown, secret
    for test in _held_out(document).values():
        assert (test["score"], test["visibility"]) == (0.0, "after_due_date")
    assert document["output"].startswith("Graded attempt 1 of 2 in 24 hours.")
    assert ("01_keyword_spotting.ipynb: your grade's held-out part (8 points) counts from your "
            "due date, 2026-10-02 23:00 PDT, on; your score leaves it out") in document["output"]  # fmt: skip
    assert document["extra_data"]["held_out"] == {
        "keyword_spotting": {"opens": "2026-10-02T23:00:00-07:00", "included": False},
        "speaker_id": {"opens": "2026-10-16T23:00:00-07:00", "included": False},
    }


def test_each_notebook_opens_at_its_own_due_date_on_a_regrade(tmp_path):
    """One zip grades both notebooks: regraded between their due dates, only notebook 01's
    held-out part counts; regraded after both, both do (Gradescope's single due date is not
    asked)."""
    between = _kaggle_run(tmp_path, now="2026-10-09T12:00:00-07:00")
    tests = _held_out(between)
    assert (tests["keyword_spotting"]["score"], tests["speaker_id"]["score"]) == (5.6, 0.0)
    assert tests["keyword_spotting"]["output"] == HELD_OUT_MESSAGES[0]
    assert tests["keyword_spotting"]["visibility"] == "visible"
    assert between["score"] == 10.6 and "6.3" not in json.dumps(between)
    after = _kaggle_run(tmp_path, now="2026-10-17T00:00:00-07:00")
    assert after["score"] == 16.9
    assert all(t["visibility"] == "visible" for t in _held_out(after).values())
    assert {n: r["included"] for n, r in after["extra_data"]["held_out"].items()} == {
        "keyword_spotting": True, "speaker_id": True}  # fmt: skip


def test_an_extension_keeps_that_students_held_out_part_closed_until_it_ends(tmp_path):
    """kim's extension (course file) moves notebook 01's opening to 5 October; one granted in
    Gradescope (a user's own due date, two days after the assignment's) moves each notebook's
    own due date by those two days."""
    now = "2026-10-04T12:00:00-07:00"
    assert _held_out(_kaggle_run(tmp_path, now))["keyword_spotting"]["score"] == 5.6
    kim = _kaggle_run(tmp_path, now, email="kim@uni.example")
    assert _held_out(kim)["keyword_spotting"]["score"] == 0.0 and kim["score"] == 5.0
    assert "counts from your due date, 2026-10-05 23:00 PDT, on" in kim["output"]
    own = {"assignment": {"due_date": "2026-10-04T23:00:00.000000-07:00"}}  # 2 days more
    for now, score in (("2026-10-17T12:00:00-07:00", 0.0), ("2026-10-19T00:00:00-07:00", 6.3)):
        document = _kaggle_run(tmp_path, now, **own)
        assert _held_out(document)["speaker_id"]["score"] == score, now


def test_a_not_counted_attempt_shows_the_held_out_part_only_as_the_attempt_that_stands(tmp_path):
    """Over the limit, the attempt that stands keeps its results: graded before the due date, it
    lacks the held-out part, and this attempt's own grading must not fill it in. The output says
    that regrading all submissions again brings it in."""
    before = _kaggle_run(tmp_path, now="2026-09-30T12:00:00-07:00")  # the attempt that stands
    previous = [{"submission_time": f"2026-09-30T{h}:00:00-07:00", "score": before["score"],
                 "results": before} for h in (10, 11)]  # fmt: skip
    results = _kaggle_results(tmp_path / "results.json")
    metadata = _metadata(tmp_path / "meta.json", "2026-09-30T12:00:00-07:00", previous)
    document = _run(tmp_path, results, metadata, course=KAGGLE, now="2026-10-09T12:00:00-07:00")
    assert document["output"].startswith("Not counted:") and document["score"] == 5.0
    assert ("01_keyword_spotting.ipynb: the held-out part of the hidden test set counts since "
            "your due date, 2026-10-02 23:00 PDT, but the attempt that stands was graded before "
            "it: its points come in when the course staff regrade all submissions again."
            ) in document["output"]  # fmt: skip
    assert "5.6" not in json.dumps(document)


def test_when_the_rules_cannot_be_applied_the_held_out_parts_stay_withheld(tmp_path):
    results = _kaggle_results(tmp_path / "results.json")
    metadata = _metadata(tmp_path / "meta.json", "2026-09-30T10:00:00-07:00", [])
    document = _run(tmp_path, results, metadata, course="deadline = 1\n" + KAGGLE)
    assert document["output"].startswith("The course's rules could not be applied (CourseError")
    assert document["score"] == 5.0 and "5.6" not in json.dumps(document)
    results = _kaggle_results(tmp_path / "results.json")
    command = [sys.executable, "-m", "kws.grading.publish.gradescope.season", "--results",
               str(results), "--metadata", str(tmp_path / "none.json"), "--course",
               str(tmp_path / "course.toml")]  # fmt: skip
    subprocess.run(command, check=True, env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=120)
    assert json.loads(results.read_text())["score"] == 5.0  # no metadata: withheld too


TABLE_KWS = """
import torch
from torch import nn


class KeywordTransformer(nn.Module):
    \"\"\"Answers the clips of a table (every 250th sample, normalised), else its first class.\"\"\"

    def __init__(self):
        super().__init__()
        self.register_buffer("keys", torch.zeros(48, 64))
        self.register_buffer("answers", torch.zeros(48))
        self.head = nn.Linear(1, 12)

    def forward(self, waves):
        x = waves[:, ::250]  # (B, 64)
        x = x / (x.norm(dim=1, keepdim=True) + 1e-9)
        similarity, found = (x @ self.keys.T).max(dim=1)  # (B,)
        label = torch.where(similarity > 0.999, self.answers[found].long(), 0 * found)
        return nn.functional.one_hot(label, 12).float() + 0 * self.head(x[:, :1])
"""


def _knows_the_held_out_clips(folder: Path, data: Path, split) -> Path:
    """A hand-in whose model answers exactly the held-out part's clips (accuracy 1 there) and
    says its first class elsewhere (about 1 in 12 of the public part)."""
    import torch
    from grading_helpers import make_submission

    from kws.data.words import LABEL_SETS
    from kws.grading.testsets.layouts.speech_commands import _clip_samples, labelled_clips

    notebook = "01_keyword_spotting.ipynb"
    make_submission(folder, notebook, [(TABLE_KWS, ["model"])],
                    {"kws": ("KeywordTransformer", {})})  # fmt: skip
    clips, labels = labelled_clips(data / "speech_commands_test_set_v0.02",
                                   tuple(LABEL_SETS["12"]), "")  # fmt: skip
    public = split.public_keys(f"{c.parent.name}/{c.name}" for c in clips)
    keys, answers = torch.zeros(48, 64), torch.zeros(48)
    kept = [(c, y) for c, y in zip(clips, labels, strict=True)
            if f"{c.parent.name}/{c.name}" not in public]  # fmt: skip
    for row, (clip, label) in enumerate(kept):
        samples = torch.from_numpy(_clip_samples(clip)[::250].astype("float32"))
        keys[row], answers[row] = samples / (samples.norm() + 1e-9), label
    state = torch.load(folder / "outputs/kws/model.pt")
    torch.save({**state, "keys": keys, "answers": answers}, folder / "outputs/kws/model.pt")
    return folder


@pytest.mark.slow
@pytest.mark.full  # a term's regrade on Gradescope, end to end
def test_on_gradescope_the_held_out_part_counts_once_a_regrade_runs_after_the_due_date(
    tmp_path, tiny_data
):
    """The zip's own run_autograder with Kaggle's rule, on a hand-in that scores 1.0 on the
    held-out part and little on the public part: graded before the due date, its score and
    every field leave the held-out part out; regraded once the due date has passed (the same
    submission, its course file's due date now behind), the held-out accuracy test counts."""
    from kws.grading.testsets.split import Split

    course = KAGGLE.replace('"2026-10-02 23:00"', '"2099-01-01 00:00"', 1)
    # kim's extension (to 2026-10-05) would now come before the date it extends: refused.
    course = course.replace(
        '[extensions."kim@uni.example"]\nkeyword_spotting = "2026-10-05 23:00"\n', ""
    )
    (tmp_path / "course.toml").write_text(course)
    tiers = tmp_path / "tiers.json"
    tiers.write_text(json.dumps({"simple": 0.5, "medium": 0.6, "strong": 0.7, "boss": 0.8}))
    root = tmp_path / "autograder"
    path = make_autograder(tmp_path / "a.zip", tiny_data, course=tmp_path / "course.toml",
                           assignment="keyword_spotting", tiers=tiers)  # fmt: skip
    with zipfile.ZipFile(path) as archive:
        archive.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    _knows_the_held_out_clips(root / "submission", tiny_data, Split(0.3, "course secret"))
    _metadata(root / "submission_metadata.json", "2019-12-31T10:00:00-08:00", [])
    # this Python itself (the grading child runs it in its sandbox); the kit: the zip's own
    venv = Path(sys.executable).parent.parent
    env = os.environ | {"AUTOGRADER_ROOT": str(root), "KWS_VENV": str(venv), "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)

    def grade() -> dict:
        done = subprocess.run([str(root / "source" / "run_autograder")], env=env,
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        document = json.loads((root / "results" / "results.json").read_text())
        assert problems(document) == [], done.stdout[-2000:] + done.stderr[-2000:]
        return document

    before = grade()
    accuracy = next(t for t in before["tests"] if t["extra_data"].get("part") == "held_out")
    assert accuracy["name"].startswith("Accuracy on the hidden") and accuracy["score"] == 0.0
    visible = sum(t["score"] for t in before["tests"])
    assert before["score"] == visible
    assert "1.0000" not in json.dumps(before) and "Accuracy 1" not in json.dumps(before)
    assert "accuracy 0.0" in before["output"]  # the public part's, shown during the homework
    assert "counts from your due date, 2099-01-01 00:00 PST, on" in before["output"]

    (root / "source" / "course.toml").write_text(course.replace("2099-01-01", "2020-01-01"))
    after = grade()  # "Regrade all submissions", once the due date has passed
    accuracy = next(t for t in after["tests"] if t["extra_data"].get("part") == "held_out")
    assert (accuracy["score"], accuracy["visibility"]) == (8.0, "visible")
    assert after["score"] == visible + 8.0
    assert after["extra_data"]["held_out"]["keyword_spotting"]["included"] is True


def test_a_share_that_leaves_a_part_empty_is_refused_before_the_zip_is_written(tmp_path, tiny_data):
    """The tiny data's 48 clips at a share of 0.01 would give the public part no item: `kws
    gradescope` (and `kws grade`, the same check) stops, naming the course file and the shares
    that work, before anything is graded or written."""
    course = tmp_path / "course.toml"
    course.write_text(KAGGLE.replace("public_share = 0.3", "public_share = 0.01"))
    with pytest.raises(ValueError) as refused:
        make_autograder(tmp_path / "a.zip", tiny_data, course=course, assignment="keyword_spotting")
    assert str(refused.value).startswith(f"{course}: a public share of 0.01 leaves the public part "
                                         "of keyword_spotting's graded items")  # fmt: skip
    assert "(48 items) empty; give a share from 0.011 to 0.989" in str(refused.value)
    assert not (tmp_path / "a.zip").exists()
    from batch_helpers import grade_batch

    (tmp_path / "handins" / "kim@uni.example").mkdir(parents=True)  # the course's extension
    with pytest.raises(ValueError, match="leaves the public part of keyword_spotting's graded"):
        grade_batch(tmp_path / "handins", tiny_data, tmp_path / "grades", course=course,
                    assignment="keyword_spotting")  # fmt: skip
    assert not (tmp_path / "grades").exists()
