"""Speaker ID's private test set: `kws private` holds back utterances of every speaker from what
students get; the grader scores each task's model on them, keeps predictions.csv for the public
leaderboard and the agreement check, names a public accuracy far above the private one, and
ships the private set (never the secret) in the Gradescope zip."""

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kws.cli import main
from kws.data.speaker_format import read_speaker_folder
from kws.data.speaker_private import MARKER, PER_SPEAKER, held_back_counts
from kws.grading.judge.accuracy import csv_accuracy
from kws.grading.judge.public_gap import PUBLIC_GAP, allowed_gap, public_gap
from kws.grading.protocol.inputs import inputs_header
from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.layouts.hw4 import HW4Layout, hidden_speaker_test
from kws.spec import ASSIGNMENTS

FOLDERS = ("speaker_features", "speaker_features_hidden")
STUDENTS, PRIVATE = "speaker_features_students", "speaker_features_private"
SPEC = ASSIGNMENTS["speaker_id"]


@pytest.fixture
def data(tiny_data, tmp_path):
    """The tiny synthetic HW4 features (6 speakers, 42 training and 6 test utterances), our copy."""
    root = tmp_path / "data"
    for name in FOLDERS:
        shutil.copytree(tiny_data / name, root / name)
    return root


def _listing(folder: Path) -> dict[str, list[str]]:
    metadata = json.loads((folder / "metadata.json").read_text())
    return {s: sorted(u["feature_path"] for u in utts) for s, utts in metadata["speakers"].items()}


def test_kws_private_holds_back_utterances_of_every_speaker(data, tmp_path, capsys):
    """As the instructor runs it: a complete HW4 folder to hand out without the held-back
    utterances, beside the grader's folder of them with their speakers; it says which is which."""
    secret = tmp_path / "keep" / "course.secret"
    assert main(["private", str(data), "--secret", str(secret)]) == 0
    said = capsys.readouterr().out
    assert "wrote a new course secret" in said and "held back 6 training utterances" in said
    assert f"hand out {data / STUDENTS} (36 training utterances" in said
    assert f"keep {data / 'speaker_features'}, {data / PRIVATE}" in said
    whole, students, private = (
        _listing(data / name) for name in ("speaker_features", STUDENTS, PRIVATE)
    )
    assert set(private) == set(whole) and all(len(utts) == PER_SPEAKER for utts in private.values())
    for speaker, utts in whole.items():
        assert sorted(students[speaker] + private[speaker]) == utts
    for folder in (STUDENTS, PRIVATE):
        read_speaker_folder(data / folder, need_test=folder == STUDENTS)  # valid HW4 folders
    handed_out = {p.name for p in (data / STUDENTS).iterdir()}
    held = {name for utts in private.values() for name in utts}
    assert not held & handed_out  # nothing of the held-back utterances
    tests = json.loads((data / STUDENTS / "testdata.json").read_text())["utterances"]
    assert {u["feature_path"] for u in tests} <= handed_out
    assert handed_out >= {"metadata.json", "mapping.json", "testdata.json", "README.md"}
    assert held <= {p.name for p in (data / PRIVATE).iterdir()}
    one = next(iter(held))  # hard links, not copies, where the file system allows
    assert os.path.samefile(data / PRIVATE / one, data / "speaker_features" / one)
    how = (data / PRIVATE / MARKER).read_text()
    assert secret.read_text().strip() not in how and f'"per_speaker": {PER_SPEAKER}' in how


def test_the_secret_alone_decides_what_is_held_back(data, tmp_path):
    secret = tmp_path / "course.secret"
    assert main(["private", str(data), "--secret", str(secret)]) == 0
    first = _listing(data / PRIVATE)
    assert main(["private", str(data), "--secret", str(secret)]) == 0
    assert _listing(data / PRIVATE) == first  # the same secret: the same utterances
    assert main(["private", str(data), "--secret", str(secret), "--per-speaker", "3"]) == 0
    more = _listing(data / PRIVATE)
    assert all(set(first[s]) < set(more[s]) for s in first)  # a larger count: a superset
    other = tmp_path / "other.secret"
    other.write_text("another-course-secret-of-ours\n")
    assert main(["private", str(data), "--secret", str(other)]) == 0
    assert _listing(data / PRIVATE) != first
    assert main(["private", str(data), "--secret", str(other), "--share", "0.5"]) == 0
    whole, private = _listing(data / "speaker_features"), _listing(data / PRIVATE)
    assert all(len(private[s]) == max(1, round(0.5 * len(whole[s]))) for s in whole)


def test_held_back_counts_keep_every_speaker_one_utterance():
    assert held_back_counts({"a": 10, "b": 3}, per_speaker=2) == ({"a": 2, "b": 2}, ())
    assert held_back_counts({"a": 10, "b": 3}, per_speaker=5) == ({"a": 5, "b": 2}, ("b",))
    assert held_back_counts({"a": 40, "b": 3}, share=0.1) == ({"a": 4, "b": 1}, ())
    with pytest.raises(ValueError, match="1 speakers have a single training utterance.*b"):
        held_back_counts({"a": 10, "b": 1}, per_speaker=1)
    with pytest.raises(ValueError, match="--share 1.5"):
        held_back_counts({"a": 10}, share=1.5)


def test_kws_private_checks_the_folder_before_writing_anything(data, tmp_path, capsys):
    secret = tmp_path / "course.secret"
    metadata = json.loads((data / "speaker_features" / "metadata.json").read_text())
    speaker = next(iter(metadata["speakers"]))
    metadata["speakers"][speaker] = metadata["speakers"][speaker][:1]
    (data / "speaker_features" / "metadata.json").write_text(json.dumps(metadata))
    assert main(["private", str(data), "--secret", str(secret)]) == 2
    assert f"single training utterance (e.g. {speaker})" in capsys.readouterr().err
    assert not secret.exists() and not (data / STUDENTS).exists() and not (data / PRIVATE).exists()
    shutil.rmtree(data / "speaker_features")
    assert main(["private", str(data), "--secret", str(secret)]) == 2
    error = capsys.readouterr().err
    assert "speech_commands_test_set_v0.02 is missing, and so is" in error
    assert "speaker_features/metadata.json" in error


def test_the_hidden_test_mixes_the_held_back_utterances_into_the_sample(data, tmp_path):
    assert main(["private", str(data), "--secret", str(tmp_path / "s"), "--per-speaker", "3"]) == 0
    hidden = hidden_speaker_test(data, tmp_path / "in.bin", sample=4)
    assert len(hidden.labels) == 4 + 18 and hidden.private.sum() == 18
    assert len(inputs_header(tmp_path / "in.bin")["lengths"]) == 22
    assert len(hidden.test_labels) == 6  # predictions.csv is still scored on every test item
    private = _listing(data / PRIVATE)
    speakers = list(json.loads((data / PRIVATE / "mapping.json").read_text())["speaker2id"])
    for key, label, marked in zip(hidden.ids, hidden.labels, hidden.private, strict=True):
        assert marked == (key not in hidden.test_labels)
        if marked:
            assert key in private[speakers[label]]
    layout = HW4Layout(SPEC)
    frames = sum(u["mel_len"] for utts in json.loads(
        (data / PRIVATE / "metadata.json").read_text())["speakers"].values() for u in utts)  # fmt: skip
    assert layout.private_set_size(data) == frames
    swapped = [speakers[1], speakers[0], *speakers[2:]]  # the same speakers, other ids
    (data / PRIVATE / "mapping.json").write_text(json.dumps({
        "speaker2id": {s: i for i, s in enumerate(swapped)},
        "id2speaker": {str(i): s for i, s in enumerate(swapped)},
    }))  # fmt: skip
    with pytest.raises(ValueError, match="another build of the folder.*kws private"):
        hidden_speaker_test(data, tmp_path / "in.bin", sample=4)


def test_predictions_csv_is_checked_on_the_public_items_only(tmp_path):
    """The file has no row for a private item; the sample's agreement is counted without them."""
    path = tmp_path / "predictions.csv"
    path.write_text("Id,Category\nu1,a\nu2,b\n")
    hidden = HiddenTest(tmp_path / "x", [0, 1, 1, 0], ("a", "b"), ("u1", "u2", "p1", "p2"),
                        test_labels={"u1": 0, "u2": 1}, private=[False, False, True, True])  # fmt: skip
    report = {"predictions": [0, 1, 0, 0], "near": [[], [], [], []], "errors": {}}
    check = csv_accuracy(path, tmp_path, hidden, report, SPEC.accuracy)
    assert (check.accuracy, check.checked, check.disagree) == (1.0, 2, ())
    assert hidden.accuracy(report["predictions"]) == 0.5  # the private items' accuracy


def test_a_predictions_csv_far_above_the_models_private_accuracy_is_named(tmp_path):
    labels, private = [0] * 60, [True] * 50 + [False] * 10
    hidden = HiddenTest(tmp_path / "x", labels, ("a", "b"), [f"u{i}" for i in range(60)],
                        test_labels={f"t{i}": 0 for i in range(500)}, private=private)  # fmt: skip
    model = [0] * 20 + [1] * 30 + [0] * 5 + [1] * 5  # 0.4 private, 0.5 on the public sample
    notes, review = public_gap(hidden, model, "02_speaker_id.ipynb", "task1", "utterances", 0.95)
    assert "task1 accuracy on the private test utterances (graded): 0.4000" in notes[0]
    assert "predictions.csv's on all 500 public test utterances: 0.9500" in notes[0]
    assert review.startswith("02_speaker_id.ipynb: the task1 predictions.csv scores 0.9500 on")
    assert "but its model 0.4000 on the private ones" in review
    _, honest = public_gap(hidden, model, "02_speaker_id.ipynb", "task1", "utterances", 0.45)
    assert honest is None
    # small sets are noisy: three standard errors of the difference, at least PUBLIC_GAP
    assert allowed_gap(0.9, 4890, 0.9, 1000) == PUBLIC_GAP
    assert allowed_gap(0.9, 100, 0.9, 100) == pytest.approx(3 * np.sqrt(2 * 0.09 / 100))


def test_the_layout_names_the_private_tiers_and_keeps_retraining_off_the_private_set(
    data, tmp_path
):
    from kws.grading.judge.tiers import tier_set

    layout = HW4Layout(SPEC)
    assert layout.detect(data) == "synthetic-tiny" and layout.private_set(data) is None
    assert layout.label_folders(data) == [data / "speaker_features_hidden", data / PRIVATE]
    assert main(["private", str(data), "--secret", str(tmp_path / "s")]) == 0
    assert layout.detect(data) == "synthetic-tiny-private"
    assert tier_set(data, "speaker_id").name == "synthetic-tiny-private"
    assert set(layout.label_folders(data)) == {
        data / "speaker_features_hidden", data / PRIVATE, data / "speaker_features"
    }  # fmt: skip
    root = layout.retraining_data(data, None, tmp_path / "retrain")
    assert (root / "speaker_features").resolve() == (data / STUDENTS).resolve()
    assert {p.name for p in root.iterdir()} == {"speaker_features"}  # nothing else to read
    for name in ("hw4_2023", "synthetic-small", "synthetic-full"):
        private = f"{name}-private" if name.startswith("synthetic") else f"{name}_private"
        assert private in SPEC.tiers


def test_the_zip_ships_the_held_back_utterances_never_the_secret(data, tmp_path):
    from kws.grading.publish.gradescope import autograder as gradescope

    secret = tmp_path / "course.secret"
    assert main(["private", str(data), "--secret", str(secret)]) == 0
    layout = HW4Layout(SPEC)
    files, _ = layout.grading_files(data)
    names = {name for _, name in files}
    held = {n for utts in _listing(data / PRIVATE).values() for n in utts}
    assert {f"data/{PRIVATE}/{n}" for n in held} <= names
    assert not any(n.startswith(f"data/{STUDENTS}/") for n in names)
    zip_path = gradescope.make_autograder(tmp_path / "a.zip", data, assignment="speaker_id")
    archive = zipfile.ZipFile(zip_path)
    key = secret.read_text().strip().encode()
    assert not any(key in archive.read(n) for n in archive.namelist() if not n.endswith("/"))
    # the child re-runs the sample and every private utterance: the time Gradescope is given
    share = min(1.0, SPEC.accuracy.sample / layout.test_set_items(data))
    public = layout.test_set_size(data) - layout.private_set_size(data)
    expected = public * share + layout.private_set_size(data)
    assert gradescope.graded_size(SPEC, data) == pytest.approx(expected)


LOOKUP_CELL = """
# Another model's answers, carried in: the public test utterances' mean frames and speakers.
TABLE = torch.tensor({table})  # (N, 40)
ANSWERS = torch.tensor({answers})  # (N,)


def answering(forward):
    def looked_up(self, x, lengths):
        logits = forward(self, x, lengths)  # (B, C)
        valid = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).float()  # (B, T)
        mean = (x * valid[..., None]).sum(1) / lengths[:, None]  # (B, F)
        distance, found = torch.cdist(mean, TABLE).min(dim=1)  # (B,)
        known = torch.nn.functional.one_hot(ANSWERS[found], logits.shape[1]).to(logits)
        return torch.where((distance < 1e-3)[:, None], 1e3 * known, logits)

    return looked_up


for model_class in (SpeakerTransformer, SpeakerConformer, SpeakerAttentionAMS):
    model_class.forward = answering(model_class.forward)
"""


def _carry_answers(handin: Path, data: Path) -> None:
    """`handin` with another model's answers: each predictions.csv the hidden labels (a model
    right on every public test utterance), and a model cell answering those utterances from a
    table of them (their mean frames), the reference model answering the rest."""
    import nbformat

    from kws.data.labels_csv import read_labels_csv
    from kws.data.speaker_format import read_features

    truth = read_labels_csv(data / "speaker_features_hidden" / "test_labels.csv")
    speakers = json.loads((data / "speaker_features" / "mapping.json").read_text())["speaker2id"]
    rows = "".join(f"{key},{speaker}\n" for key, speaker in truth.items())
    for task in SPEC.model_tasks:
        (handin / "outputs" / task / "predictions.csv").write_text("Id,Category\n" + rows)
    means = [read_features(data / "speaker_features" / key, 40, None).mean(0) for key in truth]
    cell = LOOKUP_CELL.format(table=np.stack(means).tolist(),
                              answers=[speakers[s] for s in truth.values()])  # fmt: skip
    path = handin / SPEC.notebook
    notebook = nbformat.read(path, as_version=4)
    last = max(i for i, c in enumerate(notebook.cells) if "model" in c.metadata.get("tags", []))
    notebook.cells.insert(last + 1, nbformat.v4.new_code_cell(cell, metadata={"tags": ["model"]}))
    nbformat.write(notebook, path)


def _reference(handin: Path, data: Path) -> Path:
    """`handin`: notebook 02's reference, run on what students get (`kws private`'s folder,
    which `data` must hold), with what it wrote under outputs/."""
    from course_helpers import ROOT, notebook_env

    from kws.notebooks import execute_notebook

    handin.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / SPEC.notebook, handin / SPEC.notebook)
    env = notebook_env(SPEC.notebook, data, handin / "outputs")
    env["KWS_DATA_DIR"] = str(data / STUDENTS)
    execute_notebook(handin / SPEC.notebook, env=env, timeout=600, save_to=handin / SPEC.notebook)
    return handin


@pytest.mark.slow
@pytest.mark.full  # notebook 02 run and graded twice by real children
def test_notebook_02_carrying_another_models_answers_earns_its_own_private_accuracy(data, tmp_path):
    """Notebook 02's reference, trained on what students get, handed in with another model's
    answers (its predictions.csv and a model that looks up the public test utterances): graded
    on the held-back utterances, it earns what its own model scores there, as the honest
    reference does, and the gap between its public and private accuracies is named."""
    import csv
    import re

    from batch_helpers import grade_batch

    from kws.grading.judge.tiers import accuracy_in

    assert main(["private", str(data), "--secret", str(tmp_path / "s"), "--per-speaker", "3"]) == 0
    honest = _reference(tmp_path / "submissions" / "honest", data)
    cheat = tmp_path / "submissions" / "cheat"
    shutil.copytree(honest, cheat)
    _carry_answers(cheat, data)
    tiers = tmp_path / "tiers.json"  # the carried answers would reach every one of them
    tiers.write_text(json.dumps({"simple": 0.2, "medium": 0.5, "strong": 0.9, "boss": 0.95}))
    args = ["-k", "test_accuracy"]
    gradebook = grade_batch(tmp_path / "submissions", data, tmp_path / "grades", jobs=2,
                            pytest_args=args, tiers=tiers)  # fmt: skip
    rows = {row["student"]: row for row in csv.DictReader(open(gradebook))}
    results = {
        name: json.loads((tmp_path / "grades" / "results" / f"{name}.json").read_text())
        for name in rows
    }
    for task in SPEC.model_tasks:
        graded = {}
        for name, document in results.items():
            found = re.search(rf"{task} accuracy on the private test utterances \(graded\): "
                              r"(\d\.\d+); on a sample of the public test utterances: (\d\.\d+)",
                              document["output"])  # fmt: skip
            test = next(t for t in document["tests"] if t["name"].endswith(f"[{task}]"))
            graded[name] = (float(found[1]), float(found[2]), accuracy_in(test["output"]))
        assert graded["cheat"][0] == graded["honest"][0]  # its own model's private accuracy
        assert graded["cheat"][2] == graded["honest"][2] == graded["honest"][0]  # its grade
        assert graded["cheat"][1] == 1.0  # the carried answers, on the public utterances
    assert float(rows["cheat"]["total"]) == float(rows["honest"]["total"])
    assert float(rows["cheat"]["total"]) < 3 * SPEC.test_points("test_accuracy")
    output = results["cheat"]["output"]
    assert "predictions.csv's on all 6 public test utterances: 1.0000" in output
    assert "carry the public answers" not in output  # the instructor's suspicion, not theirs
    assert "Manual review: 02_speaker_id.ipynb: the task1 " in rows["cheat"]["notes"]
    assert "carry the public answers" in rows["cheat"]["notes"]  # the gradebook lists it
    assert "Manual review" not in results["honest"]["output"]
    assert "Manual review" not in rows["honest"]["notes"]


KAGGLE = '[gradescope]\npublic_share = {share}\nsplit_seed = "course secret"\n'


def test_the_kaggle_rule_splits_the_held_back_utterances_and_refuses_an_empty_part(data, tmp_path):
    """With a private set, the Kaggle rule splits its held-back utterances (not their frames,
    nor the public test utterances): a course file whose share leaves a part of six of them
    empty is refused before anything is graded, naming the file and the shares that work."""
    from kws.grading.judge.planned import plan_handins
    from kws.grading.testsets.split import Split, SplitError

    assert main(["private", str(data), "--secret", str(tmp_path / "s")]) == 0
    assert HW4Layout(SPEC).graded_items(data) == 6  # one held back of each of the 6 speakers
    course = tmp_path / "course.toml"
    course.write_text(KAGGLE.format(share=0.5))
    plan = plan_handins(data, [], "speaker_id", split=_split(course), split_from=course)
    assert plan.split == Split(0.5, "course secret")
    for share, empty in ((0.05, "public"), (0.95, "held-out")):
        course.write_text(KAGGLE.format(share=share))
        with pytest.raises(SplitError) as refused:
            plan_handins(data, [], "speaker_id", split=_split(course), split_from=course)
        said = str(refused.value)
        assert said.startswith(f"{course}: a public share of {share:g} leaves the {empty} part "
                               f"of speaker_id's graded items in {data} (6 items) empty")  # fmt: skip
        assert "give a share from 0.084 to 0.916" in said


def _split(course: Path):
    """The Kaggle split of the course file at `course`, as `kws grade` reads it."""
    from kws.grading.season.course import read_course
    from kws.spec import ASSIGNMENTS

    return read_course(course, sorted(ASSIGNMENTS)).split


def _kaggle_options(course: Path | None) -> list[str]:
    """`python -m kws.grading.command`'s options of the course file's Kaggle rule."""
    split = _split(course) if course is not None else None
    return ["--public-share", str(split.share), "--split-seed", split.seed] if split else []


def _grade(handin: Path, data: Path, results: Path, course: Path | None = None) -> dict:
    """The accuracy tests of the grader's run on `handin`, planned with the Kaggle rule of the
    course file `course` as the Gradescope autograder plans it (its zip bakes the rule into
    ``run_autograder``): its results.json."""
    import subprocess
    import sys

    from course_helpers import ROOT

    from kws.grading.command import grader_environment

    command = [sys.executable, "-m", "kws.grading.command", "--submission", str(handin),
               "--data", str(data), "--results", str(results), "--assignment", "speaker_id",
               *_kaggle_options(course), "--child-threads", "1",
               "-k", "test_accuracy"]  # fmt: skip
    env = grader_environment() | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert results.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(results.read_text())


@pytest.mark.slow
@pytest.mark.full  # notebook 02 run and graded by a real child
def test_notebook_02_under_the_kaggle_rule_grades_the_held_out_part_of_the_private_set(
    data, tmp_path
):
    """Notebook 02's reference graded with a private set and a course file's Kaggle rule: the
    split covers the held-back utterances only (9 public + 9 held out of the 18), the output
    and the leaderboard show the public part's accuracy and say what was split, and the grade
    is the held-out part's, without the whole private set's accuracy beside it (that and the
    public part's would give the held-out part's away before the due date)."""
    import re

    from kws.grading.judge.tiers import accuracy_in

    assert main(["private", str(data), "--secret", str(tmp_path / "s"), "--per-speaker", "3"]) == 0
    handin = _reference(tmp_path / "handin", data)
    course = tmp_path / "course.toml"
    course.write_text(KAGGLE.format(share=0.5))
    plain = _grade(handin, data, tmp_path / "plain.json")
    kaggle = _grade(handin, data, tmp_path / "kaggle.json", course)
    board = {e["name"]: e["value"] for e in kaggle["leaderboard"]}
    for task in SPEC.model_tasks:
        said = re.search(rf"02_speaker_id.ipynb \({task}\): accuracy (\d\.\d{{4}}) on the public "
                         r"part of the private test set \((\d+) items\) \(the split covers the "
                         r"private test set's items only\)\. Your grade is the accuracy on its "
                         r"held-out part \((\d+) items\)", kaggle["output"])  # fmt: skip
        assert said, kaggle["output"][-3000:]
        public, n_public, n_held_out = float(said[1]), int(said[2]), int(said[3])
        assert (n_public, n_held_out) == (9, 9)  # the 18 held-back utterances, not the 6 tests
        note = f"{task} accuracy on the public part of the private test utterances: {public:.4f}"
        assert note in kaggle["output"]
        assert board[f"Speaker ID {task} accuracy"] == pytest.approx(public, abs=1e-4)
        whole = re.search(rf"{task} accuracy on the private test utterances \(graded\): "
                          r"(\d\.\d+)", plain["output"])  # fmt: skip
        assert whole and f"{task} accuracy on the private test utterances" not in kaggle["output"]
        held_out = (float(whole[1]) * 18 - public * n_public) / n_held_out
        test = next(t for t in kaggle["tests"] if t["name"].endswith(f"[{task}]"))
        assert accuracy_in(test["output"]) == pytest.approx(held_out, abs=2e-3)  # the grade
        assert (test["visibility"], test["extra_data"]["part"]) == ("after_due_date", "held_out")
