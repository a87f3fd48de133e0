"""The grading child end to end: notebook model cells -> checkpoint -> predictions -> probes.

Each child starts Python and imports torch (a few seconds), so broken tasks are grouped: one
child grades task1..task3 of one notebook, each task broken in its own way.
"""

import json
import pickle

import nbformat
import pytest
import torch
from grading_helpers import TINY_KWS, TINY_SPEAKER, make_submission

from kws.device import DeviceName
from kws.grading.child.predictions import predict, prediction_batches
from kws.grading.child.runner import CPU_HINT
from kws.grading.protocol.child_run import RUN_FILE, ChildRun, Retraining
from kws.grading.protocol.inputs import load_inputs, save_feature_inputs, save_wave_inputs
from kws.grading.protocol.payload import check_payload
from kws.grading.sandbox.run import ChildJob, run_child
from kws.grading.sandbox.supervise import Limits
from kws.spec import ASSIGNMENTS

LIMITS = Limits(wall_seconds=120, cpu_seconds=120)
N_CLIPS, N_UTTERANCES, N_SPEAKERS = 6, 5, 10


def _grade(tmp_path, submission, notebook, tasks, inputs_file, n_classes, device="cpu"):
    """Run the grading child as the grader does: a `ChildRun` in run.json, the result file.

    Each task is looked for under its assignment's class name, as the grader names them (a
    notebook under another name is found by the classes it defines)."""
    names = next(a.model_tasks for a in ASSIGNMENTS.values() if a.notebook == notebook)
    classes = {task: names[task] for task in tasks}
    run = ChildRun(notebook, classes, n_classes, device=DeviceName.parse(device))
    return run_child(
        ChildJob(
            ["-m", "kws.grading.child.runner", "{result}", f"{{work}}/{RUN_FILE}"],
            submission=submission,
            inputs={"inputs.bin": inputs_file, RUN_FILE: run.save(tmp_path)},
            limits=LIMITS,
        )
    )


def _grade_speaker(tmp_path, submission, inputs_file, tasks=("task1", "task2", "task3")):
    """`_grade` of a notebook 02 (speaker ID) hand-in's `tasks` on the feature inputs."""
    return _grade(tmp_path, submission, "02_speaker_id.ipynb", list(tasks), inputs_file, N_SPEAKERS)


@pytest.fixture(scope="module")
def wave_inputs(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "waves.bin"
    waves = (torch.randn(N_CLIPS, 16000, generator=torch.Generator().manual_seed(0)) * 3000).short()
    save_wave_inputs(path, waves, torch.ones(N_CLIPS))
    return path


@pytest.fixture(scope="module")
def feature_inputs(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "features.bin"
    lengths = torch.tensor([90, 130, 70, 200, 110])
    frames = torch.randn(int(lengths.sum()), 40, generator=torch.Generator().manual_seed(1))
    save_feature_inputs(path, frames.split(lengths.tolist()))
    return path


def test_inputs_round_trip_and_batches_cover_every_item(feature_inputs):
    inputs = load_inputs(feature_inputs)
    seen = []
    for indices in inputs.index_batches(batch_size=2):
        x, lengths = inputs.batch(indices)
        assert x.shape == (len(indices), int(lengths.max()), 40)
        assert (x[0, lengths[0] :] == -20).all() if lengths[0] < x.shape[1] else True
        seen += indices.tolist()
    assert sorted(seen) == list(range(N_UTTERANCES))
    x, lengths = inputs.example()
    assert lengths[0] != lengths[1] and x.shape[1] == int(lengths.max())


def test_good_submission_gives_predictions_and_probe_facts(tmp_path, wave_inputs):
    submission = make_submission(
        tmp_path / "alice",
        "01_keyword_spotting.ipynb",
        [
            ("print('setting up')", []),
            (TINY_KWS, ["model"]),
            ("raise RuntimeError('training')", ["slow"]),
        ],
        {"kws": ("KeywordTransformer", {"n_classes": 12})},
    )
    result = _grade(tmp_path, submission, "01_keyword_spotting.ipynb", ["kws"], wave_inputs, 12)
    assert result.status == "ok", result.reason + result.stderr_tail
    check_payload(result.payload, ["kws"], N_CLIPS, 12)
    report = result.payload["tasks"]["kws"]
    assert report["errors"] == {} and len(report["predictions"]) == N_CLIPS
    assert report["facts"]["forbidden"] == [] and report["facts"]["traced_mismatch"] is None
    assert report["buffers"]["written"] == []  # as its constructor built them: nothing to flag
    # The probes traced the graded prediction batch itself (all 6 clips), not a made-up example.
    assert (
        report["facts"]["output_shape"] == [N_CLIPS, 12] and report["facts"]["traced_batches"] == 1
    )
    # The same model here predicts the same classes: the child really used the checkpoint.
    model = torch.nn.Module()
    namespace: dict = {}
    exec(TINY_KWS, namespace)
    model = namespace["KeywordTransformer"](n_classes=12).eval()
    model.load_state_dict(torch.load(submission / "outputs/kws/model.pt", weights_only=True))
    inputs = load_inputs(wave_inputs)
    with torch.no_grad():
        expected = model(*inputs.batch(torch.arange(N_CLIPS))).argmax(1).tolist()
    assert report["predictions"] == expected


# TINY_KWS whose outputs move by 1e-5 while a profiler watches (the tracer's): within float
# rounding, so only a bit-for-bit comparison of the traced and the graded outputs catches it.
NUDGED_KWS = "import sys\n" + TINY_KWS.replace(
    "        return self.head(self.norm(self.proj(frames).mean(dim=1)))",
    "        logits = self.head(self.norm(self.proj(frames).mean(dim=1)))\n"
    "        return logits + 1e-5 if sys.getprofile() is not None else logits",
)


@pytest.mark.parametrize("device", ["cpu", "cpu:0"])
def test_on_the_cpu_however_named_the_probes_compare_bit_for_bit(tmp_path, wave_inputs, device):
    """``cpu:0`` is the CPU: the traced outputs must equal the graded ones exactly there too, so
    a model that changes its outputs when traced, even within float rounding, is caught."""
    assert "sys.getprofile()" in NUDGED_KWS  # the model really is the nudged one
    submission = make_submission(tmp_path / "nudged", "01_keyword_spotting.ipynb",
                                 [(NUDGED_KWS, ["model"])],
                                 {"kws": ("KeywordTransformer", {"n_classes": 12})})  # fmt: skip
    result = _grade(tmp_path, submission, "01_keyword_spotting.ipynb", ["kws"], wave_inputs, 12,
                    device=device)  # fmt: skip
    assert result.status == "ok", result.reason + result.stderr_tail
    facts = result.payload["tasks"]["kws"]["facts"]
    assert (
        facts["traced_mismatch"]
        == f"on a batch of {N_CLIPS} test inputs, its outputs differ by up to 1e-05"
    )


def test_broken_checkpoints_and_configs_are_explained(tmp_path, feature_inputs):
    outputs = {
        t: ("SpeakerTransformer", {"num_speakers": N_SPEAKERS}) for t in ("task1", "task2", "task3")
    }
    submission = make_submission(
        tmp_path / "bob", "02_speaker_id.ipynb", [(TINY_SPEAKER, ["model"])], outputs
    )
    out = submission / "outputs"
    # task1: the whole pickled model instead of a state dict (weights_only refuses it)
    (out / "task1/model.pt").write_bytes(pickle.dumps({"model": object()}))
    # task2: a state dict whose classifier has the wrong shape
    state = torch.load(out / "task2/model.pt", weights_only=True)
    state["head.weight"] = torch.zeros(3, 16)
    torch.save(state, out / "task2/model.pt")
    # task3: config.json names a class the notebook does not define
    (out / "task3/config.json").write_text(
        json.dumps({"task": "task3", "class": "Mystery", "kwargs": {}})
    )
    result = _grade_speaker(tmp_path, submission, feature_inputs)
    assert result.status == "ok", result.reason + result.stderr_tail
    tasks = result.payload["tasks"]
    assert "cannot be loaded safely" in tasks["task1"]["errors"]["checkpoint"]
    assert tasks["task1"]["predictions"] is None
    # Structure still graded without weights (on an example batch, traced and untraced).
    assert tasks["task1"]["facts"]["layer_class_calls"] == 2
    assert tasks["task1"]["facts"]["traced_mismatch"] is None
    assert "head.weight has shape (3, 16)" in tasks["task2"]["errors"]["checkpoint"]
    assert "'Mystery'" in tasks["task3"]["errors"]["config"]


def test_nan_model_wrong_shape_and_missing_files(tmp_path, feature_inputs):
    wrong_shape = TINY_SPEAKER + "\n\nclass Narrow(SpeakerTransformer):\n    pass\n"
    outputs = {
        "task1": ("SpeakerTransformer", {"num_speakers": N_SPEAKERS}),
        "task2": ("Narrow", {"num_speakers": 3}),
        "task3": ("SpeakerTransformer", {"num_speakers": N_SPEAKERS}),
    }
    submission = make_submission(
        tmp_path / "carol", "02_speaker_id.ipynb", [(wrong_shape, ["model"])], outputs
    )
    state = torch.load(submission / "outputs/task1/model.pt", weights_only=True)
    state["prenet.weight"][0, 0] = float("nan")
    torch.save(state, submission / "outputs/task1/model.pt")
    (submission / "outputs/task3/model.pt").unlink()
    result = _grade_speaker(tmp_path, submission, feature_inputs)
    tasks = result.payload["tasks"]
    assert "prenet.weight holds NaN" in tasks["task1"]["errors"]["checkpoint"]
    assert (
        "expected logits (" in tasks["task2"]["errors"]["evaluate"]
        and "10)" in tasks["task2"]["errors"]["evaluate"]
    )
    assert "task3/model.pt is missing" in tasks["task3"]["errors"]["checkpoint"]


def test_syntax_error_and_exit_in_model_cells(tmp_path, wave_inputs):
    cells = [("import torch", ["model"]), ("def broken(:\n    pass", ["model"])]
    submission = make_submission(tmp_path / "dave", "01_keyword_spotting.ipynb", cells, {})
    result = _grade(tmp_path, submission, "01_keyword_spotting.ipynb", ["kws"], wave_inputs, 12)
    assert result.status == "ok"
    assert "SyntaxError" in result.payload["errors"]["model_cells"]
    assert "model cell 2, line 1" in result.payload["errors"]["model_cells"]

    cells = [("import os\nos._exit(0)", ["model"])]
    submission = make_submission(tmp_path / "erin", "01_keyword_spotting.ipynb", cells, {})
    result = _grade(tmp_path, submission, "01_keyword_spotting.ipynb", ["kws"], wave_inputs, 12)
    assert result.status == "invalid_output" and "no result file" in result.reason


def test_check_payload_rejects_out_of_range_predictions():
    payload = {"notebook": "a.ipynb", "errors": {}, "tampering": [], "tasks": {}, "numeric": {}}
    payload["tasks"]["kws"] = {
        "class": "K",
        "predictions": [0, 12],
        "near": None,
        "facts": None,
        "errors": {},
        "seconds": {},
        "buffers": {"written": ["table"], "constructed": []},
    }
    with pytest.raises(ValueError, match="predictions are not 2 class indices"):
        check_payload(payload, ["kws"], 2, 12)
    payload["tasks"]["kws"] |= {"predictions": [0, 11], "near": [[], [3]]}
    check_payload(payload, ["kws"], 2, 12)  # a runner-up per input where there is a near tie
    for near in ([[], [12]], [[]], [[], "3"]):
        payload["tasks"]["kws"]["near"] = near
        with pytest.raises(ValueError, match="near ties are not class indices per input"):
            check_payload(payload, ["kws"], 2, 12)
    for buffers in ({"written": [3], "constructed": []}, ["table"], {"written": []}):
        payload["tasks"]["kws"] |= {"near": None, "buffers": buffers}
        with pytest.raises(ValueError, match="buffers are not lists of names"):
            check_payload(payload, ["kws"], 2, 12)


COLAB_CELL = """import sys
if "google.colab" in sys.modules:
    !pip install -q soundfile
    %cd /content/drive/MyDrive/hw4
files = !ls
%matplotlib inline
"""
CUDA_FORWARD = """

class OnTheGpu(SpeakerTransformer):
    def forward(self, x, lengths):
        return super().forward(x.cuda(), lengths.cuda())
"""


def test_a_messy_hand_in_grades_like_the_clean_one(tmp_path, feature_inputs):
    """Nested two folders deep under a browser's name, Colab magics inside an `if`, a
    training-checkpoint dict, a torch.compile state dict, a checkpoint copy and a 3 GB data/
    folder: the same predictions as the clean files; `.cuda()` in forward says to use x.device."""
    outputs = {
        "task1": ("SpeakerTransformer", {"num_speakers": N_SPEAKERS}),
        "task2": ("SpeakerTransformer", {"num_speakers": N_SPEAKERS}),
        "task3": ("OnTheGpu", {"num_speakers": N_SPEAKERS}),
    }
    hand_in = tmp_path / "frank"
    name = "02_speaker_id (1).ipynb"
    folder = make_submission(
        hand_in / "hw4" / "final", name, [(TINY_SPEAKER + CUDA_FORWARD, ["model"])], outputs
    )
    clean = {t: torch.load(folder / f"outputs/{t}/model.pt", weights_only=True) for t in outputs}
    notebook = nbformat.read(folder / name, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(COLAB_CELL, metadata={"tags": ["model"]}))
    nbformat.write(notebook, folder / name)
    checkpoints = hand_in / "hw4" / "final" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "02_speaker_id (1)-checkpoint.ipynb").write_text("{ not a notebook")
    torch.save(
        {"epoch": 7, "model_state_dict": clean["task1"], "optimizer_state_dict": {"lr": 0.1}},
        folder / "outputs/task1/model.pt",
    )
    compiled = {f"_orig_mod.{key}": value for key, value in clean["task2"].items()}
    torch.save(compiled, folder / "outputs/task2/model.pt")
    with open(hand_in / "data.bin", "wb") as big:  # sparse: no disk space used
        big.truncate(3 * 2**30)

    result = _grade_speaker(tmp_path, hand_in, feature_inputs, list(outputs))
    assert result.status == "ok", result.reason + result.stderr_tail
    (note,) = result.notes
    assert note.startswith("grading used only the notebook and each task's config.json, ")
    assert note.endswith(
        "nothing to fix): left out data.bin (3.2 GB), hw4/final/.ipynb_checkpoints/ (16 bytes)"
    )
    payload = result.payload
    assert payload["errors"] == {} and payload["notebook"] == f"hw4/final/{name}"
    namespace: dict = {}
    exec(TINY_SPEAKER, namespace)
    inputs = load_inputs(feature_inputs)
    for task in ("task1", "task2"):
        model = namespace["SpeakerTransformer"](num_speakers=N_SPEAKERS)
        model.load_state_dict(clean[task])
        assert payload["tasks"][task]["errors"] == {}
        assert (
            payload["tasks"][task]["predictions"]
            == predict(model, inputs, prediction_batches(inputs, 2), N_SPEAKERS, "cpu")[0]
        )
    errors = payload["tasks"]["task3"]["errors"]
    assert set(errors) == {"evaluate", "probes"}
    assert errors["evaluate"].endswith(CPU_HINT) and "x.device" in CPU_HINT
    assert payload["tasks"]["task3"]["facts"]["encoder_params"] == 2 * (16 * 16 + 16)  # not run
    assert str(tmp_path) not in json.dumps(payload) + result.reason


def test_long_utterances_are_predicted_in_smaller_batches(tmp_path):
    """A batch's B·T² attention-score entries are capped (memory of the traced and untraced runs);
    an utterance longer than the cap alone is a batch of its own; short utterances keep the
    batch size asked for."""
    from kws.grading.child.predictions import MAX_SCORES_PER_BATCH, prediction_batches

    lengths = torch.tensor([90, 1300, 70, 200, 110, 700, 650])
    frames = torch.randn(int(lengths.sum()), 40)
    save_feature_inputs(tmp_path / "f.bin", frames.split(lengths.tolist()))
    inputs = load_inputs(tmp_path / "f.bin")
    batches = prediction_batches(inputs, 64)
    assert sorted(torch.cat(batches).tolist()) == list(range(7))
    assert all(
        len(b) == 1 or len(b) * int(lengths[b].max()) ** 2 <= MAX_SCORES_PER_BATCH for b in batches
    )
    assert [len(b) for b in batches if int(lengths[b].max()) >= 650] == [1, 1, 1]
    assert [len(b) for b in prediction_batches(load_inputs(tmp_path / "f.bin"), 2)][:2] == [2, 2]


def test_child_run_is_one_typed_description(tmp_path):
    """What the parent writes is exactly what the child reads; a malformed run is refused."""
    run = ChildRun(
        "02_speaker_id.ipynb",
        {"task1": "SpeakerTransformer", "task2": "SpeakerConformer"},
        600,
        outputs="retrained",
        device=DeviceName.parse("cuda"),
        retrain=Retraining("/data/speaker_features", 2000),
    )
    saved = run.save(tmp_path)
    back = ChildRun.load(saved)
    assert back == run and back.tasks == ["task1", "task2"]
    assert json.loads(saved.read_text())["device"] == "cuda"  # the name as written, for the child
    assert back.retrain.steps == 2000 and back.retrain.cell_timeout == 3600
    with pytest.raises(ValueError, match="exactly the fields"):
        ChildRun.from_json(
            '{"notebook": "a.ipynb", "classes": {"kws": "K"}, "n_classes": 12, "x": 1}'
        )
    with pytest.raises(ValueError, match="at least one task"):
        ChildRun("a.ipynb", {}, 12)
    with pytest.raises(ValueError, match="n_classes"):
        ChildRun("a.ipynb", {"kws": "KeywordTransformer"}, 0)
    with pytest.raises(ValueError, match="must be a DeviceName"):
        ChildRun("a.ipynb", {"kws": "KeywordTransformer"}, 12, device="cuda")
    with pytest.raises(ValueError, match="'cuda:first' is not a device"):
        ChildRun.from_json('{"notebook": "a.ipynb", "classes": {"kws": "K"}, "n_classes": 12, '
                           '"device": "cuda:first"}')  # fmt: skip
