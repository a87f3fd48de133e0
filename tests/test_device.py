"""One device, however it is named, and the paths only a GPU takes, each run on the CPU.

A GPU shows what a CPU-only suite never meets: a device named without its index ("cuda") beside
tensors that report one ("cuda:0"), bf16 autocast, checkpoints whose tensors were saved on a GPU,
a compiled training step, a grading child that runs where the model is not. Each has its CPU
stand-in here: ``cpu:0`` (a tensor put there reports ``cpu``), bf16 autocast on the CPU,
checkpoints saved with their tensors marked as CUDA's, ``torch.compile`` on the CPU. The notebooks
run on ``cpu:0`` in every test that executes them (``tests/course_helpers.py``), the kit's layers
and batches on ``cpu`` and ``cpu:0`` (the ``device`` fixture), and on CUDA when there is one.
"""

import contextlib
import subprocess
import sys

import pytest
import torch

from kws.data.augment import WaveAugment
from kws.data.batches import ClipBatches, FeatureBatches
from kws.data.cache import ClipCache, FeatureCache
from kws.data.tensor_file import read_tensor_file
from kws.device import DeviceName, resolve_device
from kws.grading.child.checkpoint import load_checkpoint
from kws.grading.child.runner import CPU_HINT, device_hint
from kws.models import build_model, model_config
from kws.training import evaluate, fit, load_model, predict, seed_everything

CPU = torch.zeros(1).device  # what a tensor on the CPU reports: cpu, without an index


def clip_cache(n: int = 12, classes: int = 3) -> ClipCache:
    g = torch.Generator().manual_seed(0)
    return ClipCache(
        waves=(torch.randn(n, 16000, generator=g) * 3000).to(torch.int16),
        gains=torch.ones(n),
        labels=torch.arange(n) % classes,
        speakers=torch.zeros(n, dtype=torch.int64),
        classes=tuple(f"word{i}" for i in range(classes)),
        speaker_names=("speaker",),
    )


def feature_cache(n: int = 10, classes: int = 3) -> FeatureCache:
    lengths = torch.arange(n) % 5 + 20  # (N,) 20 to 24 frames, distinct neighbours
    return FeatureCache(
        frames=torch.randn(int(lengths.sum()), 40, generator=torch.Generator().manual_seed(1)),
        offsets=torch.cumsum(lengths, 0) - lengths,
        lengths=lengths,
        labels=torch.arange(n) % classes,
        feature_paths=tuple(f"utt{i}.pt" for i in range(n)),
        speaker_names=tuple(f"id{i}" for i in range(classes)),
    )


@pytest.mark.parametrize("name", ["cpu", "cpu:0", torch.device("cpu:0"), CPU, "auto"])
def test_every_name_of_a_device_is_the_device_its_tensors_report(name, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # "auto": no GPU here
    device = resolve_device(name)
    assert device == CPU == torch.empty(0, device=name if name != "auto" else "cpu").device
    assert resolve_device(device) == device  # resolved once, it stays


def test_a_device_that_is_not_there_is_refused_with_the_fix(monkeypatch):
    with pytest.raises(ValueError, match=r"device='gpu' is not a device: use 'auto', 'cpu'"):
        resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"asks for CUDA but no GPU is visible; use device='auto'"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ValueError, match=r"this machine has 2 GPU\(s\), cuda:0 to cuda:1"):
        resolve_device("cuda:7")


@pytest.mark.gpu
def test_every_name_of_a_gpu_is_the_gpu_its_tensors_report():
    reported = torch.zeros(1, device="cuda").device  # cuda:0
    for name in ("cuda", "cuda:0", torch.device("cuda"), reported, "auto"):
        assert resolve_device(name) == reported


@pytest.mark.parametrize(("augment_on", "batches_on"), [("cpu", "cpu:0"), ("cpu:0", "cpu")])
def test_batches_caches_and_augmentation_take_any_name_of_one_device(augment_on, batches_on):
    """The cell of notebooks 01 and 03 that stopped on every GPU (`augment.to(device)` beside
    batches given the device as named), with the names swapped both ways."""
    cache = clip_cache()
    augment = WaveAugment(torch.randn(20000) * 0.1).to(augment_on)
    batches = ClipBatches(cache, 4, batches_on, seed=0, augment=augment)
    waves, _, labels = next(iter(batches))
    assert waves.shape == (4, 16000) and waves.device == labels.device == CPU
    assert cache.to(batches_on).waves is cache.waves  # already there: no copy
    features = feature_cache()
    crops = FeatureBatches(features.subset([1, 3, 5]), 2, batches_on, crop=16)
    x, lengths, _ = next(iter(crops))
    assert x.shape == (2, 16, 40) and lengths.device == CPU


def test_augmentation_on_another_device_than_its_waves_is_refused_with_the_fix():
    """A second device on a CPU-only machine: the meta device, which holds shapes only."""
    augment = WaveAugment(torch.randn(20000)).to("meta")
    waves = torch.zeros(2, 16000)
    with pytest.raises(ValueError, match=r"noise is on meta, the waves on cpu: move it there"):
        augment(waves, torch.Generator())
    with pytest.raises(ValueError, match=r"augment is on meta, the batches on cpu: move it"):
        ClipBatches(clip_cache(), 4, "cpu", augment=augment)
    # without noise it reads nothing of its own: it runs where the waves are
    quiet = WaveAugment(None, noise_prob=0.0, gain_db=6.0).to("meta")
    assert quiet(waves, torch.Generator()).device == CPU


def _waves_batches(n: int = 8, classes: int = 3) -> list:
    g = torch.Generator().manual_seed(2)
    return [
        (torch.randn(4, 16000, generator=g) * 0.1, None, torch.arange(4) % classes)
        for _ in range(n // 4)
    ]


def _feature_batches(n: int = 8, classes: int = 3) -> list:
    g = torch.Generator().manual_seed(3)
    lengths = torch.tensor([30, 24, 30, 17])
    return [
        (torch.randn(4, 30, 40, generator=g), lengths, torch.arange(4) % classes)
        for _ in range(n // 4)
    ]


@pytest.mark.parametrize(
    ("preset", "overrides", "batches"),
    [
        ("kwt_tiny", {}, _waves_batches),
        ("crnn_attention", {}, _waves_batches),
        ("patch_transformer", {}, _waves_batches),
        ("speaker_conformer", {"d_model": 32, "num_layers": 1, "nhead": 2}, _feature_batches),
    ],
)
def test_bf16_autocast_trains_and_predicts_every_model_family(preset, overrides, batches, device):
    """``precision="auto"`` is bf16 autocast on a GPU: the same path on the CPU too."""
    seed_everything(0)
    model = build_model(preset, n_classes=3, **overrides)
    before = [p.detach().clone() for p in model.parameters()]
    data = batches()
    history = fit(model, data, data, steps=2, device=device, precision="bf16", progress=False)
    assert all(torch.isfinite(torch.tensor(loss)) for loss in history.loss)
    after = [p.detach().cpu() for p in model.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert 0.0 <= evaluate(model, data, device=device, precision="bf16")["accuracy"] <= 1.0
    predicted = predict(model, data, device=device, precision="bf16")
    assert predicted.shape == (8,)


@contextlib.contextmanager
def saved_as_on_a_gpu():
    """``torch.save`` marks every tensor as CUDA's ("cuda:0"), as on Colab's GPU: torch.load
    without a map_location then fails on a CPU-only machine, as it would in a grader."""
    registry = torch.serialization._package_registry
    kept = list(registry)
    torch.serialization.register_package(0, lambda storage: "cuda:0", lambda storage, loc: None)
    try:
        yield
    finally:
        registry[:] = kept


def test_a_checkpoint_saved_on_a_gpu_loads_on_a_cpu_only_machine(tmp_path):
    """A student trains on Colab's GPU and hands in; the grader's parent (its budget reader),
    its child and `load_model` read the checkpoint on a machine without one."""
    seed_everything(0)
    model = build_model("kwt_tiny", n_classes=3)
    fit(model, _waves_batches(), None, steps=1, out_dir=tmp_path, progress=False)
    with saved_as_on_a_gpu():
        torch.save(model.state_dict(), tmp_path / "model.pt")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "model.pt", weights_only=True)  # the proxy holds
    loaded = load_model(tmp_path, device="cpu:0")
    assert all(p.device == CPU for p in loaded.parameters())
    for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    child = build_model("kwt_tiny", n_classes=3)
    load_checkpoint(child, tmp_path / "model.pt", "task1")
    waves = _waves_batches()[0][0]
    torch.testing.assert_close(child.eval()(waves), model.eval()(waves))
    stored = read_tensor_file(tmp_path / "model.pt")  # the parent's reader, without torch
    assert {k: t.shape for k, t in stored.items()} == {
        k: tuple(v.shape) for k, v in model.state_dict().items()
    }
    assert model_config(loaded) == model_config(model)


def test_the_same_seed_trains_the_same_model_on_one_device(device):
    """`seed_everything` fixes the run: deterministic algorithms, cuDNN's among them; the
    batches and their augmentation drawn on the device, dropout, the optimizer."""
    cache = clip_cache()

    def trained():
        seed_everything(3)
        model = build_model("kwt_tiny", n_classes=3, dropout=0.1)
        augment = WaveAugment(torch.randn(20000) * 0.1, speed=0.1, gain_db=6).to(device)
        batches = ClipBatches(cache, 4, device, seed=3, augment=augment, drop_last=True)
        fit(model, batches.forever(), None, steps=4, device=device, seed=3, progress=False)
        return model.state_dict()

    first, second = trained(), trained()
    assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    assert not torch.backends.cudnn.benchmark
    for a, b in zip(first.values(), second.values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.full  # torch.compile's code generation: about 40 s on one core
def test_a_compiled_training_step_saves_the_plain_model(tmp_path):
    """``fit(compile=True)``, the GPU's fast path, on the CPU: the checkpoint is the model's own
    state dict (no ``_orig_mod.`` keys), loadable by the grader."""
    seed_everything(0)
    model = build_model("kwt_tiny", n_classes=3)
    fit(model, _waves_batches(), None, steps=2, out_dir=tmp_path, compile=True, progress=False)
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(state) == set(model.state_dict())
    load_model(tmp_path)


def test_a_model_on_the_wrong_device_is_told_where_grading_runs():
    for cpu in ("cpu", "cpu:0"):
        assert device_hint(DeviceName.parse(cpu)) == CPU_HINT and "runs on the CPU" in CPU_HINT
    on_gpu = device_hint(DeviceName.parse("cuda:0"))
    assert "grading runs on cuda:0" in on_gpu and "device=x.device" in on_gpu
    assert "on the CPU:" not in on_gpu


@pytest.mark.parametrize(("name", "cpu"), [("cpu", True), ("cpu:0", True), ("cuda", False),
                                           ("cuda:0", False), ("cuda:1", False)])  # fmt: skip
def test_a_device_s_name_says_what_it_is_without_torch(name, cpu):
    """The grader's own process, which never imports torch, reads a device by the rule
    `resolve_device` resolves it by: ``cpu:0`` is the CPU, ``cuda`` a GPU; the name is kept as
    written, to be handed on (``cpu:0`` stays the stand-in)."""
    device = DeviceName.parse(name)
    assert device.is_cpu is cpu and device.is_cuda is not cpu
    assert str(device) == name and DeviceName.parse(device) is device
    if cpu:
        assert resolve_device(device) == resolve_device(name) == CPU


def test_reading_a_device_s_name_imports_no_torch():
    code = "import sys, kws.device as d; d.DeviceName.parse('cpu:0'); print('torch' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
    for wrong in ("auto", "cuda:first", "CUDA", ""):  # "auto": a choice, not a device
        with pytest.raises(ValueError, match=rf"device={wrong!r} is not a device: use 'auto'"):
            DeviceName.parse(wrong)
