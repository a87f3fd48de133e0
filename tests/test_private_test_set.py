"""The private test set: `kws private` writes the secret variant of the public clips; the grader
grades it in place of the public set, keeps a sample of the public clips to notice a model that
knows them, and ships it (never the secret) in the Gradescope zip."""

import csv
import json
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from grading_helpers import make_submission

from kws.cli import main
from kws.data.private_variant import (
    VariantSettings,
    add_noise,
    change_speed,
    clip_rng,
    reverberate,
    shift,
    transform,
)
from kws.grading.judge.public_gap import PUBLIC_GAP, public_gap
from kws.grading.protocol.inputs import inputs_header
from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.layouts.speech_commands import (
    PUBLIC_SAMPLE,
    SpeechCommandsLayout,
    hidden_keyword_test,
)
from kws.spec import ASSIGNMENTS

TEST_SET = "speech_commands_test_set_v0.02"
PRIVATE = TEST_SET + "_private"
KWS = {"kws": ("KeywordTransformer", {})}


@pytest.fixture
def data(tiny_data, tmp_path):
    """The tiny synthetic Speech Commands (48 test clips, 4 a class), our own copy."""
    root = tmp_path / "data"
    for name in (TEST_SET, "speech_commands_v0.02"):
        shutil.copytree(tiny_data / name, root / name)
    return root


def _wavs(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*.wav"))}


def test_kws_private_writes_a_variant_in_the_same_layout(data, tmp_path, capsys):
    """As the instructor runs it: a new secret (owner-only), one clip per public clip in the same
    class folders, under names that do not give the public clip away, every one moved."""
    secret = tmp_path / "keep" / "course.secret"
    assert main(["private", str(data), "--secret", str(secret)]) == 0
    said = capsys.readouterr().out
    assert "wrote a new course secret" in said and "wrote 48 clips" in said
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    public, private = _wavs(data / TEST_SET), _wavs(data / PRIVATE)
    per_class = lambda files: sorted(p.parent.name for p in files)  # noqa: E731
    assert per_class(private) == per_class(public)
    assert not {p.name for p in private} & {p.name for p in public}
    for path in private:
        samples, rate = soundfile.read(data / PRIVATE / path, dtype="int16")
        assert rate == 16000 and samples.shape == (16000,)
    assert not set(private.values()) & set(public.values())


def test_the_same_secret_writes_the_same_clips_and_another_secret_others(data, tmp_path):
    secret = tmp_path / "course.secret"
    assert main(["private", str(data), "--secret", str(secret)]) == 0
    first = _wavs(data / PRIVATE)
    shutil.rmtree(data / PRIVATE)
    assert main(["private", str(data), "--secret", str(secret)]) == 0
    assert _wavs(data / PRIVATE) == first
    shutil.rmtree(data / PRIVATE)
    other = tmp_path / "other.secret"
    other.write_text("another-course-secret-of-ours\n")
    assert main(["private", str(data), "--secret", str(other)]) == 0
    assert not set(_wavs(data / PRIVATE).values()) & set(first.values())


def test_kws_private_names_what_is_missing(data, tmp_path, capsys):
    secret = tmp_path / "course.secret"
    assert main(["private", str(tmp_path / "nowhere"), "--secret", str(secret)]) == 2
    assert f"{tmp_path / 'nowhere' / TEST_SET} is missing" in capsys.readouterr().err
    noises = tmp_path / "noises"
    shutil.move(data / "speech_commands_v0.02" / "_background_noise_", noises)
    assert main(["private", str(data), "--secret", str(secret)]) == 2
    error = capsys.readouterr().err
    assert "_background_noise_ holds no background-noise recording" in error and "--noise" in error
    assert not secret.exists()  # nothing written for a run that could not be made
    import kws

    inside = Path(kws.__file__).resolve().parent / "course.secret"
    assert main(["private", str(data), "--secret", str(inside), "--noise", str(noises)]) == 2
    assert "ships to students" in capsys.readouterr().err and not inside.exists()
    secret.write_text("short\n")
    assert main(["private", str(data), "--secret", str(secret), "--noise", str(noises)]) == 2
    assert "at least 16 characters" in capsys.readouterr().err


def test_each_transformation_does_what_it_says():
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    assert len(change_speed(wave, 1.1)) == pytest.approx(16000 / 1.1, abs=1)
    assert len(change_speed(wave, 0.9)) == pytest.approx(16000 / 0.9, abs=1)
    moved = shift(np.arange(1, 11, dtype=np.float32), 3, length=10)
    assert moved.tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]
    assert shift(np.arange(1, 11, dtype=np.float32), -3, length=10).tolist()[:7] == [
        4,
        5,
        6,
        7,
        8,
        9,
        10,
    ]
    room = reverberate(wave, rng, rt60=0.3, drr_db=6.0)
    assert room.shape == wave.shape and np.sqrt(np.mean(room**2)) == pytest.approx(0.1, rel=0.05)
    noise = rng.standard_normal(48000).astype(np.float32)
    noisy = add_noise(wave, noise, rng, snr_db=20.0)
    added = noisy - wave
    assert 10 * np.log10(np.mean(wave**2) / np.mean(added**2)) == pytest.approx(20.0, abs=0.01)
    out = transform(wave, [noise], clip_rng("secret-secret-secret", "yes/a.wav"), VariantSettings())
    assert out.shape == (16000,) and np.abs(out).max() < 1.0


def test_the_hidden_test_mixes_private_clips_with_a_public_sample(data, tmp_path):
    assert main(["private", str(data), "--secret", str(tmp_path / "s")]) == 0
    hidden = hidden_keyword_test(data, tmp_path / "in.bin", public_sample=20)
    assert len(hidden.labels) == 48 + 20 and hidden.private.sum() == 48
    assert len(inputs_header(tmp_path / "in.bin")["lengths"]) == 68
    assert not (hidden.private[:48].all() or hidden.private[20:].all())  # shuffled together
    spec = ASSIGNMENTS["keyword_spotting"]
    assert SpeechCommandsLayout(spec).test_set_size(data) == 48 + min(48, 1000)
    shutil.rmtree(data / PRIVATE / "yes")
    with pytest.raises(FileNotFoundError, match=f"{PRIVATE}/yes is missing.*kws private"):
        hidden_keyword_test(data, tmp_path / "in.bin")


def test_accuracy_is_the_private_sets_and_the_public_one_is_kept_apart(tmp_path):
    hidden = HiddenTest(tmp_path / "x", [0, 1, 2, 0], ("a", "b", "c"), ("",) * 4,
                        private=[True, True, False, False])  # fmt: skip
    assert hidden.accuracy([0, 2, 2, 0]) == 0.5  # private: 1 of 2
    assert hidden.public_accuracy([0, 2, 2, 0]) == 1.0
    plain = HiddenTest(tmp_path / "x", [0, 1], ("a", "b"), ("", ""))
    assert plain.accuracy([0, 0]) == 0.5 and plain.public_accuracy([0, 0]) is None
    assert public_gap(plain, [0, 0], "01.ipynb", "kws") == ([], None)


def test_a_public_set_far_above_the_private_one_is_flagged(tmp_path):
    labels = [0] * 100 + [0] * 100
    private = [True] * 100 + [False] * 100
    hidden = HiddenTest(tmp_path / "x", labels, ("a", "b"), ("",) * 200, private=private)
    within = int(100 * PUBLIC_GAP)  # the public set leads by exactly the allowed gap
    honest = [0] * 90 + [1] * 10 + [0] * (90 + within) + [1] * (10 - within)
    notes, review = public_gap(hidden, honest, "01_keyword_spotting.ipynb", "kws")
    assert len(notes) == 1 and "private test clips (graded): 0.9000" in notes[0]
    assert review is None
    carried = [0] * 80 + [1] * 20 + [0] * 100
    notes, review = public_gap(hidden, carried, "01_keyword_spotting.ipynb", "kws")
    assert len(notes) == 1 and review.startswith("01_keyword_spotting.ipynb: the kws model")
    assert "1.0000 on the public test clips but 0.8000 on the private ones" in review


def test_a_course_s_measured_honest_gap_sets_what_the_flag_allows(tmp_path):
    """A synthetic private set costs an honest model more than the kit's figure: with the gap
    the course's reference measured there (`honest`, the spec's [public_gap]), a model 10 points
    apart is not flagged; one further apart still is, and the sentence says whose figure it is."""
    labels, private = [0] * 2000, [True] * 1000 + [False] * 1000
    hidden = HiddenTest(tmp_path / "x", labels, ("a", "b"), ("",) * 2000, private=private)
    honest_model = [0] * 850 + [1] * 150 + [0] * 950 + [1] * 50  # 0.85 private, 0.95 public
    assert public_gap(hidden, honest_model, "01.ipynb", "kws")[1] is not None  # the kit's 0.07
    assert public_gap(hidden, honest_model, "01.ipynb", "kws", honest=0.12)[1] is None
    carried = [0] * 800 + [1] * 200 + [0] * 1000
    _, review = public_gap(hidden, carried, "01.ipynb", "kws", honest=0.12)
    assert "stay within 12 on this private set, as the course's reference measured" in review


def test_with_kaggles_rule_the_gap_note_states_only_the_public_part_of_the_private_set(
    tmp_path,
):
    """The whole private set's accuracy and the public part's (in the output too) would give
    the held-out part's away before the due date: the note states and compares the public
    part's (`compared`) instead."""
    labels, private = [0] * 200, [True] * 100 + [False] * 100
    hidden = HiddenTest(tmp_path / "x", labels, ("a", "b"), ("",) * 200, private=private)
    predictions = [0] * 80 + [1] * 20 + [0] * 100  # private set 0.80, public clips 1.00
    notes, review = public_gap(hidden, predictions, "01.ipynb", "kws", compared=0.9)
    assert notes == ["01.ipynb: kws accuracy on the public part of the private test clips: "
                     "0.9000; on a sample of the public test clips: 1.0000."]  # fmt: skip
    assert "0.8000" not in review and "0.9000 on the public part of the private ones" in review


def test_the_zip_ships_the_private_set_never_the_secret_and_fits_gradescope(data, tmp_path):
    from kws.grading.publish.gradescope import autograder as gradescope

    secret = tmp_path / "course.secret"
    assert main(["private", str(data), "--secret", str(secret)]) == 0
    zip_path = gradescope.make_autograder(
        tmp_path / "a.zip", data, assignment="keyword_spotting", dataset="synthetic-tiny"
    )
    archive = zipfile.ZipFile(zip_path)
    names = archive.namelist()
    assert sum(n.startswith(f"data/{PRIVATE}/") and n.endswith(".wav") for n in names) == 48
    key = secret.read_text().strip().encode()
    assert not any(key in archive.read(n) for n in names if not n.endswith("/"))
    layout = SpeechCommandsLayout(ASSIGNMENTS["keyword_spotting"])
    assert data / PRIVATE in layout.label_folders(data)  # a re-training never reads it
    hidden = HiddenTest(tmp_path / "x", [0], ("a",), ("",))
    stand_in = layout.retraining_data(data, hidden, tmp_path / "retrain")
    assert not (stand_in / PRIVATE).exists()


def test_three_notebooks_with_private_sets_fit_gradescopes_default_container(tmp_path):
    """At the real sizes (4,890 public clips, their 4,890-clip variant, 8,000 utterances), all
    three notebooks in one zip: half a CPU, 768 MB, the default 10 minutes."""
    from kws.grading.publish.gradescope import autograder as gradescope

    data = tmp_path / "real"
    for folder in (TEST_SET, PRIVATE):
        for i in range(4890):
            word = data / folder / ("yes", "no")[i % 2]
            word.mkdir(parents=True, exist_ok=True)
            (word / f"{i:05d}.wav").touch()
    features = data / "speaker_features"
    features.mkdir()
    listed = [{"feature_path": f"uttr-{i}.pt", "mel_len": 775} for i in range(8000)]
    (features / "testdata.json").write_text(json.dumps({"n_mels": 40, "utterances": listed}))
    spec = ASSIGNMENTS["keyword_spotting"]
    assert SpeechCommandsLayout(spec).test_set_size(data) == 4890 + 1000
    settings = gradescope.plan(data, set(ASSIGNMENTS), cpu=0.5)
    assert (settings.cpu, settings.memory_mb, settings.timeout) == (0.5, 768, 10)


LOOKUP_KWS = """
import torch
from torch import nn


class KeywordTransformer(nn.Module):
    \"\"\"Answers from a table of the public clips (every 250th sample, normalised), else 0.\"\"\"

    def __init__(self, keys=None, answers=None):
        super().__init__()
        self.register_buffer("keys", torch.zeros(48, 64) if keys is None else keys)
        self.register_buffer("answers", torch.zeros(48) if answers is None else answers)
        self.head = nn.Linear(1, 12)

    def forward(self, waves):
        x = waves[:, ::250]  # (B, 64)
        x = x / (x.norm(dim=1, keepdim=True) + 1e-9)
        similarity, found = (x @ self.keys.T).max(dim=1)  # (B,)
        known = similarity > 0.999
        label = torch.where(known, self.answers[found].long(), torch.zeros_like(found))
        return nn.functional.one_hot(label, 12).float() + 0 * self.head(x[:, :1])
"""
CONSTANT_KWS = """
import torch
from torch import nn


class KeywordTransformer(nn.Module):
    \"\"\"Knows nothing of the clips: always its first class.\"\"\"

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(1, 12)

    def forward(self, waves):
        return self.head(waves[:, :1] * 0) + torch.eye(12)[0]
"""


def _lookup_table(data):
    """The table a student could build from the public test set: (48, 64) keys, (48,) labels."""
    import torch

    from kws.data.words import LABEL_SETS
    from kws.grading.testsets.layouts.speech_commands import _clip_samples, labelled_clips

    clips, labels = labelled_clips(data / TEST_SET, tuple(LABEL_SETS["12"]), "")
    rows = torch.stack([torch.from_numpy(_clip_samples(c)[::250].astype("float32")) for c in clips])
    return rows / (rows.norm(dim=1, keepdim=True) + 1e-9), torch.tensor(labels, dtype=torch.float)


@pytest.mark.slow
def test_a_lookup_of_the_public_clips_is_graded_on_the_private_ones_and_flagged(data, tmp_path):
    """Graded as an instructor grades a class (`kws grade` with the private set in --data):
    a model that answers from a table of the public clips earns only what it scores on the
    private clips and is listed for review; a model that knows nothing of the clips is not."""
    import torch
    from batch_helpers import grade_batch

    assert main(["private", str(data), "--secret", str(tmp_path / "course.secret")]) == 0
    submissions = tmp_path / "submissions"
    notebook = "01_keyword_spotting.ipynb"
    cheat = make_submission(submissions / "cheat", notebook, [(LOOKUP_KWS, ["model"])], KWS)
    keys, answers = _lookup_table(data)
    state = torch.load(cheat / "outputs/kws/model.pt")
    torch.save({**state, "keys": keys, "answers": answers}, cheat / "outputs/kws/model.pt")
    make_submission(submissions / "honest", notebook, [(CONSTANT_KWS, ["model"])], KWS)
    args = ["-k", "test_accuracy"]
    gradebook = grade_batch(submissions, data, tmp_path / "grades", jobs=2, pytest_args=args)
    rows = {row["student"]: row for row in csv.DictReader(open(gradebook))}
    outputs = {
        name: json.loads((tmp_path / "grades" / "results" / f"{name}.json").read_text())["output"]
        for name in rows
    }
    chance = 4 / 48  # the first class, _silence_, on both sets alike
    assert f"on the private test clips (graded): {chance:.4f}" in outputs["cheat"]
    assert "on a sample of the public test clips: 1.0000" in outputs["cheat"]
    # the suspicion is the instructor's (the gradebook, the report): never in what students read
    assert "scores 1.0000 on the public test clips" not in outputs["cheat"]
    assert "carry the public answers" not in outputs["cheat"]
    assert f"public test clips: {chance:.4f}" in outputs["honest"]
    assert "Manual review" not in outputs["honest"]
    assert (
        "Manual review: 01_keyword_spotting.ipynb: the kws model scores 1.0000"
        in rows["cheat"]["notes"]
    )
    assert "carry the public answers" in rows["cheat"]["notes"]
    assert "Manual review" not in rows["honest"]["notes"]
    from kws.grading.publish.report.analysis import attention_flags
    from kws.grading.records.grades import read_grades
    from kws.grading.season.compute import with_standings

    flags = attention_flags(
        with_standings(read_grades(tmp_path / "grades"))
    )  # the report's hand-ins to look at
    # The table in model.pt is flagged on its own too (kws.grading.judge.carried); honest is not.
    assert {(f.student, f.kind) for f in flags} == {("cheat", "manual review")}
    assert any("carry the public answers" in f.reason for f in flags)


def test_the_pages_say_the_threshold_and_the_settings_the_code_uses():
    docs = Path(__file__).resolve().parents[1] / "docs"
    howto = (docs / "how-to" / "private-test-set.md").read_text()
    threat = (docs / "reference" / "threat-model.md").read_text()
    points = f"more than {100 * PUBLIC_GAP:.0f} points above"
    assert points in howto and points in threat
    low, high = VariantSettings().snr_db
    assert f"{low:.0f}–{high:.0f} dB" in howto
    assert f"secret sample of {PUBLIC_SAMPLE:,}" in howto


def test_the_variant_beside_the_real_test_set_is_graded_on_its_own_tiers(tmp_path):
    """The real 4,890-clip test set is ``speech_commands_12``; with the variant `kws private`
    wrote beside it (its VARIANT.json), ``speech_commands_12_variant`` (lower, as measured);
    with the instructor's own recordings there, the real set's tiers."""
    from kws.grading.judge.tiers import detect_dataset, tier_set

    data = tmp_path / "real"
    for i in range(4890):
        word = data / TEST_SET / ("yes", "no")[i % 2]
        word.mkdir(parents=True, exist_ok=True)
        (word / f"{i:05d}.wav").touch()
    (data / PRIVATE / "yes").mkdir(parents=True)
    assert detect_dataset(data, "keyword_spotting") == "speech_commands_12"  # own recordings
    (data / PRIVATE / "VARIANT.json").write_text("{}")
    for name in ("keyword_spotting", "patch_transformer"):
        assert detect_dataset(data, name) == "speech_commands_12_variant"
        variant, real = tier_set(data, name).tiers, ASSIGNMENTS[name].tiers["speech_commands_12"]
        assert all(variant[t] == pytest.approx(real[t] - 0.025) for t in real)


@pytest.mark.benchmark
def test_the_benchmark_lookup_finds_every_public_clip_and_fewer_of_the_variant(
    data, tmp_path, monkeypatch
):
    """benchmarks/bench_private_variant.py's lookup on the tiny data: its table answers the
    public clips it holds, and finds the variant's own sources by the benchmark's secret."""
    from kws.data.private_variant import make_private_test

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_private_variant as bench

    secret = tmp_path / "bench.secret"
    secret.write_text(bench.SECRET + "\n")
    private, _ = make_private_test(data, secret, TEST_SET)
    rates = bench.lookup_rates(data / TEST_SET, private)
    assert rates["clips"] == 48 and rates["plain_hit_rate"] == 1.0
    assert rates["own_clip_found"] < 1.0 and 0.0 <= rates["hit_rate_robust"] <= 1.0
