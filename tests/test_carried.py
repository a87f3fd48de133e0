"""Checkpoints that carry data instead of weights are named for a person to read
(kws.grading.judge.carried, in the grader's process; kws.grading.child.buffers, next to the model),
and honest checkpoints are not: sinusoidal positions, BatchNorm statistics, a causal mask, a
random projection drawn in the constructor."""

import json
import math

import pytest
import torch
from torch import nn

from kws.grading.child.buffers import compare_with_construction, snapshot
from kws.grading.judge.carried import checkpoint_flags

N_ITEMS, N_CLASSES = 4_890, 12  # the real Speech Commands 12-class test set


class Honest(nn.Module):
    """What honest course models hold: positions and a mask built in the constructor, a
    BatchNorm, a random projection drawn there, and trained weights."""

    def __init__(self, d: int = 16, frames: int = 32):
        super().__init__()
        position = torch.arange(frames).unsqueeze(1)  # (T, 1)
        scale = torch.exp(torch.arange(0, d, 2) * (-math.log(10_000.0) / d))  # (D/2,)
        table = torch.zeros(frames, d)
        table[:, 0::2], table[:, 1::2] = torch.sin(position * scale), torch.cos(position * scale)
        self.register_buffer("positions", table)  # (T, D)
        self.register_buffer("causal", torch.ones(frames, frames, dtype=torch.bool).tril())
        self.register_buffer("projection", torch.randn(d, d))  # drawn anew in every build
        self.norm = nn.BatchNorm1d(d)
        self.classifier = nn.Linear(d, N_CLASSES)


class AnswerTable(Honest):
    """The nearest-neighbour answer table: a fingerprint and a label per test clip, registered
    empty in the constructor and filled after training."""

    def __init__(self, items: int = N_ITEMS, **kwargs):
        super().__init__(**kwargs)
        self.register_buffer("fingerprints", torch.zeros(items, 40))
        self.register_buffer("answers", torch.zeros(items))


def _save(tmp_path, model, config: dict | None = None):
    folder = tmp_path / "outputs" / "kws"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / "config.json").write_text(json.dumps(config or {"d": 16}))
    return folder


def _trained(model):
    """What training changes: the weights, and BatchNorm's statistics."""
    with torch.no_grad():
        model.classifier.weight.add_(1.0)
        model.norm(torch.randn(8, 16))
    return model


def _graded(tmp_path, model, build, items: int = N_ITEMS, config=None) -> list[str]:
    """The flags of `model` saved, after the child's comparison with `build()`."""
    folder = _save(tmp_path, model, config)
    fresh = build()
    built = snapshot(fresh)
    fresh.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
    buffers = compare_with_construction(fresh, built, build)
    return checkpoint_flags(folder, "kws", items, N_CLASSES, buffers)


def test_an_honest_trained_model_is_not_flagged(tmp_path):
    assert _graded(tmp_path, _trained(Honest()), Honest) == []


def test_a_table_filled_after_construction_is_flagged(tmp_path):
    model = _trained(AnswerTable())
    model.fingerprints.normal_()
    model.answers.random_(0, N_CLASSES)
    flags = _graded(tmp_path, model, AnswerTable)
    assert len(flags) == 2
    assert flags[0].startswith("kws/model.pt holds tensors with one row per test item")
    assert "(fingerprints, answers: leading size 4890, the hidden test set's size)" in flags[0]
    assert flags[1].startswith("kws/model.pt holds buffers or frozen parameters that differ")
    assert "(answers, fingerprints); training never updates them" in flags[1]


def test_a_constructor_that_refuses_a_second_build_hides_nothing(tmp_path):
    """A second build tells random buffers from written ones; a constructor that raises the
    second time (to hide its table among "random" ones) gets every changed buffer named, the
    random projection too."""
    builds = []

    def build():
        if builds:
            raise RuntimeError("built once already")
        builds.append(1)
        return AnswerTable(items=48)

    model = _trained(AnswerTable(items=48))
    model.fingerprints.normal_()
    flags = _graded(tmp_path, model, build, items=48)
    assert len(flags) == 1 and "(fingerprints, projection); training never" in flags[0]


def test_a_small_table_is_flagged_where_the_test_set_size_cannot_tell(tmp_path):
    """On a test set of 48 clips a leading size of 48 proves nothing; the buffer the
    constructor built otherwise still does."""

    def build():
        return AnswerTable(items=48)

    model = _trained(build())
    model.fingerprints.normal_()
    flags = _graded(tmp_path, model, build, items=48)
    assert len(flags) == 1 and "(fingerprints); training never updates them" in flags[0]


class HashTable(Honest):
    """A hash of every test clip and its class in int64 buffers, registered empty; and an
    integer index the constructor builds, as honest models have (position ids)."""

    def __init__(self, items: int = 48):
        super().__init__()
        self.register_buffer("position_ids", torch.arange(32))
        self.register_buffer("hashes", torch.zeros(items, dtype=torch.int64))
        self.register_buffer("labels", torch.zeros(items, dtype=torch.int64))


def test_an_int64_hash_table_is_flagged(tmp_path):
    model = _trained(HashTable())
    model.hashes.random_(0, 2**62)
    model.labels.random_(0, N_CLASSES)
    flags = _graded(tmp_path, model, HashTable, items=48)
    assert flags[0] == (
        "kws/model.pt holds integer or bool tensors that are not a normalization's bookkeeping "
        "and that the model's constructor does not build (hashes, labels: 96 values); a "
        "model's weights are floats, an integer tensor can carry a table of answers or weights "
        "as bit patterns"
    )
    assert "(hashes, labels); training never updates them" in flags[1] and len(flags) == 2


def test_integer_tensors_the_constructor_builds_are_not_flagged(tmp_path):
    assert _graded(tmp_path, _trained(HashTable()), HashTable, items=48) == []


def test_weights_as_int32_bit_patterns_are_flagged(tmp_path):
    class BitPatterns(Honest):
        def __init__(self):
            super().__init__()
            self.register_buffer("bits", torch.zeros(64, 16, dtype=torch.int32))

    model = _trained(BitPatterns())
    model.bits.copy_(torch.randn(64, 16).view(torch.int32))
    flags = _graded(tmp_path, model, BitPatterns)
    assert len(flags) == 2
    assert "(bits: 1.02k values)" in flags[0] and "(bits); training never" in flags[1]


def test_a_config_holding_a_table_is_flagged(tmp_path):
    config = {"d": 16, "table": list(range(5_000))}
    (flag,) = _graded(tmp_path, _trained(Honest()), Honest, config=config)
    assert flag.startswith("kws/config.json takes 28 kB (a model's settings take under 1 kB)")


def test_a_table_under_a_norms_statistic_names_is_compared_like_any_buffer(tmp_path):
    """Only a BatchNorm's own running statistics are bookkeeping: a table flattened into
    "running_mean" buffers of another module is compared with its constructor's (and counted)."""

    class Disguised(Honest):
        def __init__(self):
            super().__init__()
            self.stats = nn.Module()
            self.stats.register_buffer("running_mean", torch.zeros(4_000))

    model = _trained(Disguised())
    model.stats.running_mean.normal_()
    (flag,) = _graded(tmp_path, model, Disguised, items=48)
    assert "(stats.running_mean); training never updates them" in flag


def test_without_the_childs_comparison_every_integer_tensor_is_named(tmp_path):
    """A child that could not compare (its model failed to build twice): the causal mask is
    named, as nothing says the constructor builds it."""
    folder = _save(tmp_path, _trained(Honest()))
    (flag,) = checkpoint_flags(folder, "kws", N_ITEMS, N_CLASSES, None)
    assert "constructor does not build (causal: 1.02k values)" in flag


def test_a_checkpoint_that_cannot_be_read_is_left_to_the_tests_that_load_it(tmp_path):
    folder = tmp_path / "outputs" / "kws"
    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"not a checkpoint")
    assert checkpoint_flags(folder, "kws", N_ITEMS, N_CLASSES) == []
    assert checkpoint_flags(tmp_path / "missing", "kws", N_ITEMS, N_CLASSES) == []


# ---- the class corpus: independent students' models, trained a little, are not flagged --------


def _inputs(assignment: str) -> tuple[torch.Tensor, torch.Tensor]:
    if assignment == "speaker_id":  # log-mels (B, T, 40), lengths (B,)
        return torch.randn(4, 60, 40), torch.tensor([60, 50, 40, 30])
    return torch.randn(4, 16_000) * 0.1, torch.tensor([16_000, 15_000, 14_000, 12_000])


def _train_a_little(model, assignment: str) -> None:
    """Two AdamW steps in training mode: what training changes (weights, norm statistics)."""
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    model.train()
    for _ in range(2):
        out = model(*_inputs(assignment))
        out = out[0] if isinstance(out, tuple) else out  # (logits, ...) of a two-headed model
        out.float().pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def _flags_after_training(cls, kwargs: dict, assignment: str, folder, task: str) -> list[str]:
    """Build `cls(**kwargs)`, train it two steps, save it in `folder`: what the grader flags."""
    model = cls(**kwargs)
    built = snapshot(model)
    _train_a_little(model, assignment)
    folder.mkdir(parents=True)
    torch.save(model.state_dict(), folder / "model.pt")
    buffers = compare_with_construction(model, built, lambda: cls(**kwargs))
    items = N_ITEMS if assignment == "keyword_spotting" else 8_000  # the real test sets
    return checkpoint_flags(folder, task, items, kwargs.get("n_classes", 12), buffers)


@pytest.mark.slow
def test_the_class_corpus_models_are_not_flagged(tmp_path, reference_submission):
    """Every model of the independent students and the copies (tests/class_corpus.py), built
    from the reference's config.json, trained two steps and saved: no flag, by the child's
    comparison with construction nor by the checkpoint's rules (at the real test-set sizes)."""
    from class_corpus import keyword_class, speaker_class

    from kws.grading.child.cells import run_model_cells
    from kws.spec import assignment

    flagged, graded = {}, 0
    for make, name in ((speaker_class, "speaker_id"), (keyword_class, "keyword_spotting")):
        spec = assignment(name)
        for handin in make(tmp_path / name):
            ns = run_model_cells(tmp_path / name / handin / spec.notebook)
            ns.setdefault("F", torch.nn.functional)  # a copy importing it in another cell
            for task in spec.model_tasks:
                path = reference_submission / "outputs" / task / "config.json"
                config = json.loads(path.read_text())
                folder = tmp_path / "out" / name / handin / task
                cls = ns[config["class"]]
                flags = _flags_after_training(cls, config["kwargs"], name, folder, task)
                graded += 1
                if flags:
                    flagged[f"{handin} {task}"] = flags
    assert flagged == {} and graded == 11 * 3 + 6
