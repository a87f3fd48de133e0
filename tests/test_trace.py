"""Tracing a forward pass: layers that run, forbidden library layers, norm before the classifier."""

import importlib
import sys

import pytest
import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

import kws.models
from kws.tracing import trace
from kws.tracing.probes import (
    count_layer_calls,
    encoder_params,
    encoder_params_text,
    forbidden_modules_used,
    layer_class_defined_in_notebook,
    layer_class_problem,
    norm_feeds_classifier,
    norm_feeds_classifier_in,
    probe_facts,
)

B, T, D, H = 2, 5, 12, 3
X = torch.randn(B, T, D)


@pytest.fixture(scope="module", autouse=True)
def genuine_torch():
    trace.capture_originals()


class EncoderLayer(nn.Module):
    """A small hand-written layer standing in for a student's."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(D, D)

    def forward(self, x):
        return x + torch.relu(self.linear(x))


class Stack(nn.Module):
    def __init__(self, layers, order):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.order = order

    def forward(self, x):
        for index in self.order:
            x = self.layers[index](x)
        return x


def test_layers_are_counted_per_call_not_per_definition():
    layer, unused = EncoderLayer(), EncoderLayer()
    assert count_layer_calls(Stack([layer, unused], [0, 0, 0]), X, "EncoderLayer") == 3
    assert count_layer_calls(Stack([layer, unused], []), X, "EncoderLayer") == 0
    assert (
        count_layer_calls(
            Stack([EncoderLayer() for _ in range(4)], [0, 1, 2, 3]), X, "EncoderLayer"
        )
        == 4
    )


def test_calling_forward_directly_still_counts():
    class Direct(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = EncoderLayer()

        def forward(self, x):
            return self.layer.forward(self.layer.forward(x))  # skips module hooks

    assert count_layer_calls(Direct(), X, "EncoderLayer") == 2


def test_encoder_params_and_the_course_text():
    model = nn.Module()
    model.encoder = nn.Linear(175, 880)  # 880 * 176 = 154,880 parameters
    model.head = nn.Linear(880, 600)
    assert encoder_params(model) == 154_880
    assert encoder_params_text(model) == "154.88k"
    with pytest.raises(ValueError, match="no module `.encoder`"):
        encoder_params(nn.Linear(2, 2))


class Wrapper(nn.Module):
    """Runs `body(self, x)` so each test can write just the forward it needs."""

    def __init__(self, body, **modules):
        super().__init__()
        self.body = body
        for name, module in modules.items():
            self.add_module(name, module)

    def forward(self, x):
        return self.body(self, x)


def _tel():
    return nn.TransformerEncoderLayer(D, H, 24, dropout=0.0, batch_first=True)


class AliasedLayer(nn.TransformerEncoderLayer):
    pass


AliasedLayer.__name__ = AliasedLayer.__qualname__ = "EncoderLayer"
AliasedLayer.__module__ = "__main__"

MHA = getattr(importlib.import_module("torch." + "nn"), "Multihead" + "Attention")


def _functional_mha(self, x):
    mha = self.mha
    y, _ = F.multi_head_attention_forward(
        *(x.transpose(0, 1),) * 3, D, H, mha.in_proj_weight, mha.in_proj_bias, None, None, False,
        0.0, mha.out_proj.weight, mha.out_proj.bias, training=False, need_weights=False,
    )  # fmt: skip
    return y.transpose(0, 1)  # (B, T, D)


def _native_mha(self, x):
    mha = self.mha
    args = (D, H, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias)
    return torch._native_multi_head_attention(x, x, x, *args, need_weights=False)[0]


CAPTURED_FORWARD = nn.TransformerEncoderLayer.forward  # taken before any tracing


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (Wrapper(lambda s, x: s.layer(x), layer=_tel()), "torch.nn.TransformerEncoderLayer"),
        (Wrapper(lambda s, x: s.layer(x), layer=AliasedLayer(D, H, 24, batch_first=True)),
         "torch.nn.TransformerEncoderLayer"),
        (Wrapper(lambda s, x: s.enc(x), enc=nn.TransformerEncoder(_tel(), 2, enable_nested_tensor=False)),
         "torch.nn.TransformerEncoder"),
        (Wrapper(lambda s, x: s.mha(x, x, x)[0], mha=MHA(D, H, batch_first=True)),
         "torch.nn.MultiheadAttention"),
        (Wrapper(lambda s, x: nn.TransformerEncoderLayer.forward(s.layer, x), layer=_tel()),
         "torch.nn.TransformerEncoderLayer"),
        (Wrapper(lambda s, x: CAPTURED_FORWARD(s.layer, x), layer=_tel()),
         "torch.nn.TransformerEncoderLayer"),
        (Wrapper(_functional_mha, mha=MHA(D, H)), "F.multi_head_attention_forward"),
        (Wrapper(_native_mha, mha=MHA(D, H)), "torch._native_multi_head_attention"),
        (Wrapper(lambda s, x: s.c(x, torch.full((B,), T))[0],
                 c=torchaudio.models.Conformer(D, H, 24, 1, 3)), "torchaudio.models.Conformer"),
        (Wrapper(lambda s, x: s.layer(x), layer=kws.models.TransformerEncoderLayer(D, H, 24)),
         "kws.models.TransformerEncoderLayer"),
        (Wrapper(lambda s, x: s.attn(x)[0], attn=kws.models.MultiHeadSelfAttention(D, H)),
         "kws.models.MultiHeadSelfAttention"),
    ],
)  # fmt: skip
def test_forbidden_layers_are_found_whatever_the_import_trick(model, expected):
    found = forbidden_modules_used(model, X)
    assert any(entry.startswith(expected + " (") for entry in found), found


def test_own_layers_and_unused_forbidden_layers_are_allowed():
    model = Wrapper(lambda s, x: s.layer(x), layer=EncoderLayer(), spare=_tel())  # spare never runs
    assert forbidden_modules_used(model, X) == []


def test_a_timm_block_is_forbidden_without_timm_installed(monkeypatch):
    """timm's modules are found by their module's name (timm need not be installed): the block
    itself, and a notebook's subclass of it."""
    import types

    library = types.ModuleType("timm.layers.attention")
    exec("from torch import nn\nclass Attention(nn.Linear):\n    pass\n", library.__dict__)
    monkeypatch.setitem(sys.modules, "timm.layers.attention", library)

    class Mine(library.Attention):  # a notebook's class built on it
        pass

    for block in (library.Attention(D, D), Mine(D, D)):
        found = forbidden_modules_used(Wrapper(lambda s, x: s.block(x), block=block), X)
        assert found == ["timm.layers.attention.Attention (module block)"], found
    ns = {"__name__": "__main__", "Mine": Mine}
    assert "built on timm.layers.attention.Attention" in layer_class_problem(ns, "Mine")


NOTEBOOK_CELLS = """
import torch
from torch import nn
from torch.nn import TransformerEncoderLayer as Imported

class EncoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(12, 12)

    def forward(self, x):
        return self.linear(x)

class Subclass(nn.TransformerEncoderLayer):
    pass

class Borrowed(nn.Module):
    forward = nn.Linear.forward
"""


def test_layer_class_must_be_written_in_the_notebook():
    ns = {"__name__": "__main__"}
    exec(compile(NOTEBOOK_CELLS, "/tmp/ipykernel_1/cell.py", "exec"), ns)
    assert layer_class_defined_in_notebook(ns, "EncoderLayer")
    assert "built on torch.nn.TransformerEncoderLayer" in layer_class_problem(ns, "Imported")
    assert "built on torch.nn.TransformerEncoderLayer" in layer_class_problem(ns, "Subclass")
    assert "library code" in layer_class_problem(ns, "Borrowed")
    assert "does not define a class `Missing`" in layer_class_problem(ns, "Missing")
    ns["Kit"] = kws.models.ConformerBlock
    assert "kws.models.ConformerBlock" in layer_class_problem(ns, "Kit")
    ns["Elsewhere"] = EncoderLayer  # defined in this test module, not the notebook
    assert "define the class in the notebook" in layer_class_problem(ns, "Elsewhere")


def _restore(obj, name, value):
    setattr(obj, name, value)
    assert trace.verify_untampered() == []


def test_replacing_module_call_is_detected():
    original = nn.Module.__call__
    nn.Module.__call__ = lambda self, *a, **k: self.forward(*a, **k)  # hides modules from hooks
    try:
        assert "torch.nn.Module.__call__ was replaced or changed by the notebook" in (
            trace.verify_untampered()
        )
        model = Wrapper(lambda s, x: s.layer(s.mine(x)), layer=_tel(), mine=EncoderLayer())
        assert forbidden_modules_used(model, X)[0].startswith("torch.nn.TransformerEncoderLayer")
        assert count_layer_calls(model, X, "EncoderLayer") == 1  # still seen by execution
    finally:
        _restore(nn.Module, "__call__", original)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("kws.assignments.keyword_spotting.keyword_checks", "twelve_class_labels"),
        ("kws.assignments.keyword_spotting.keyword_model_checks", "keyword_transformer"),
        ("kws.assignments.keyword_spotting.schedule", "schedule_items"),
        ("kws.check.layer_inputs", "attention_mask"),
        ("kws.check.layers", "compare_layer"),
    ],
)
def test_patching_a_check_notebook_01_runs_in_the_child_is_detected(module, name):
    """A model cell replacing one of the checks the child runs after it (Task 1's labels, Task
    3's pipeline, Task 4's schedule, the layer toolkit and its attention mask) is reported."""
    target = importlib.import_module(module)
    original = getattr(target, name)
    setattr(target, name, lambda *args, **kwargs: None)
    try:
        assert f"{module}.{name} was replaced or changed by the notebook" in (
            trace.verify_untampered()
        )
    finally:
        _restore(target, name, original)


def test_renaming_a_forbidden_class_is_detected():
    original = nn.TransformerEncoderLayer.__name__
    nn.TransformerEncoderLayer.__name__ = "EncoderLayer"
    try:
        assert trace.verify_untampered() == [
            "torch.nn.TransformerEncoderLayer.__name__ was replaced or changed by the notebook"
        ]
    finally:
        _restore(nn.TransformerEncoderLayer, "__name__", original)


def test_renamed_forbidden_class_is_still_found_by_identity():
    original = nn.MultiheadAttention.__module__
    nn.MultiheadAttention.__module__ = "__main__"
    try:
        model = Wrapper(
            lambda s, x: s.m(x, x, x)[0], m=nn.MultiheadAttention(D, H, batch_first=True)
        )
        result = trace.trace_forward(model, X)
        assert "torch.nn.MultiheadAttention" in result.forbidden
        assert any("__module__" in line for line in result.tampering)
    finally:
        _restore(nn.MultiheadAttention, "__module__", original)


def test_global_hooks_and_switching_off_the_tracer_are_detected():
    handle = nn.modules.module.register_module_forward_hook(lambda m, a, o: o)
    try:
        assert any("global module hooks" in line for line in trace.verify_untampered())
    finally:
        handle.remove()

    def sneaky(self, x):
        nn.modules.module._global_forward_pre_hooks.clear()  # stop the grader seeing modules
        sys.setprofile(None)
        return self.layer(x)

    result = trace.trace_forward(Wrapper(sneaky, layer=EncoderLayer()), X)
    assert "the forward pass switched off the profiler" in result.tampering
    assert "the forward pass removed the grader's module hooks" in result.tampering
    assert trace.verify_untampered() == []


def _norm_model(body, **modules):
    return Wrapper(body, **modules)


BN, LN, FC = nn.BatchNorm1d(D), nn.LayerNorm(D), nn.Linear(D, 7)


@pytest.mark.parametrize(
    "model",
    [
        _norm_model(lambda s, x: s.fc(s.bn(x.mean(1))), bn=BN, fc=FC),
        _norm_model(lambda s, x: s.fc(s.ln(x.mean(1))), ln=LN, fc=FC),
        _norm_model(lambda s, x: s.fc(F.layer_norm(x.mean(1), (D,))), fc=FC),
        _norm_model(lambda s, x: s.head(x.mean(1)), head=nn.Sequential(BN, nn.Dropout(0.5), FC)),
        _norm_model(
            lambda s, x: s.fc(s.bn(x.mean(1)).view(B, D).contiguous()).unsqueeze(1).squeeze(1),
            bn=BN,
            fc=FC,
        ),
        _norm_model(
            lambda s, x: F.linear(s.gn(x.mean(1)), s.fc.weight), gn=nn.GroupNorm(3, D), fc=FC
        ),
    ],
    ids=["batchnorm", "layernorm", "functional", "sequential-dropout", "reshapes", "groupnorm"],
)
def test_norm_right_before_the_classifier_passes(model):
    passed, why = norm_feeds_classifier(model, X)
    assert passed, why


@pytest.mark.parametrize(
    ("model", "explanation"),
    [
        (_norm_model(lambda s, x: s.fc(s.bn(x.transpose(1, 2)).mean(2)), bn=BN, fc=FC),
         "classifier `linear` in `fc` comes from `mean`"),
        (_norm_model(lambda s, x: s.fc(x.mean(1)), bn=BN, fc=FC), "`fc` comes from `mean`"),
        (_norm_model(lambda s, x: s.fc(s.bn(x.mean(1))).relu(), bn=BN, fc=FC),
         "produced by `relu` in `model`, not by a final nn.Linear"),
        (_norm_model(lambda s, x: s.fc(s.bn(x.mean(1)).relu_()), bn=BN, fc=FC), "comes from `relu_`"),
        (_norm_model(lambda s, x: s.fc(s.mid(s.bn(x.mean(1)))), bn=BN, mid=nn.Linear(D, D), fc=FC),
         "comes from `linear` in `mid`"),
    ],
    ids=["norm-before-pooling", "norm-unused", "relu-after-linear", "inplace-relu", "linear-between"],
)  # fmt: skip
def test_norm_elsewhere_fails_with_a_reason(model, explanation):
    passed, why = norm_feeds_classifier(model, X)
    assert not passed
    assert explanation in why, why


def test_probe_task_summarises_task1():
    ns = {"__name__": "__main__"}
    exec(compile(NOTEBOOK_CELLS, "/tmp/ipykernel_1/cell.py", "exec"), ns)
    model = Stack([ns["EncoderLayer"]() for _ in range(5)], [0, 1])
    model.encoder = model.layers
    facts = probe_facts("task1", model, ns, X)
    assert facts["layer_class_calls"] == 2 and facts["layer_class_problem"] is None
    assert facts["layer_calls"] == 0  # these stand-in layers compute no attention
    assert facts["encoder_params"] == 5 * 156 and facts["forbidden"] == []
    assert facts["output_shape"] == [B, T, D] and facts["tampering"] == []
    assert facts["traced_mismatch"] is None and facts["traced_batches"] == 1
    assert probe_facts("task3", model, ns, X)["class_problems"] == {
        "SelfAttentionPooling": "the notebook does not define a class `SelfAttentionPooling` "
        "(an nn.Module) in its model cells"
    }


# ---- encoder layers counted by the attention that runs ----------------------------------------


class Attention(nn.Module):
    """Self-attention written out; `per_head` loops over the heads, one softmax each."""

    def __init__(self, per_head: bool = False):
        super().__init__()
        self.qkv, self.per_head = nn.Linear(D, 3 * D), per_head

    def forward(self, x):
        q, k, v = self.qkv(x).view(B, T, 3, H, D // H).permute(2, 0, 3, 1, 4)  # 3 x (B, H, T, hd)
        if not self.per_head:
            weights = (q @ k.transpose(-2, -1)).softmax(dim=-1)  # (B, H, T, T)
            return (weights @ v).transpose(1, 2).reshape(B, T, D)  # (B, T, D)
        heads = [
            torch.softmax(q[:, h] @ k[:, h].transpose(-2, -1), -1) @ v[:, h] for h in range(H)
        ]  # H x (B, T, hd)
        return torch.cat(heads, dim=-1)  # (B, T, D)


class Head(nn.Module):
    """One head as its own module, as many tutorials write it."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(D, D // H) for _ in range(3))

    def forward(self, x):
        weights = F.softmax(self.q(x) @ self.k(x).transpose(1, 2), dim=-1)  # (B, T, T)
        return weights @ self.v(x)  # (B, T, hd)


class HeadModules(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleList(Head() for _ in range(H))

    def forward(self, x):
        return torch.cat([head(x) for head in self.heads], dim=-1)  # (B, T, D)


class Refiner(nn.Module):
    """An encoder layer under another class name."""

    def __init__(self, attention):
        super().__init__()
        self.attn, self.norm = attention, nn.LayerNorm(D)

    def forward(self, x):
        return self.norm(x + self.attn(x))


def _fused(self, x):
    q = k = v = x.view(B, T, H, D // H).transpose(1, 2)  # (B, H, T, hd)
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, D)


def _pooling(self, x):
    weights = self.score(x).squeeze(-1).softmax(dim=1)  # (B, T): over frames, not a (T, T) map
    return (weights[:, :, None] * x).sum(dim=1)  # (B, D)


@pytest.mark.parametrize(
    ("model", "layers"),
    [
        (Stack([Refiner(Attention()) for _ in range(2)], [0, 1]), 2),
        (Stack([Refiner(Attention(per_head=True)) for _ in range(3)], [0, 1, 2]), 3),
        (Stack([Refiner(HeadModules()) for _ in range(2)], [0, 1, 0, 1]), 4),
        (Wrapper(lambda s, x: s.extra(s.encoder(x)), encoder=Refiner(Attention()),
                 extra=Stack([Refiner(Attention()) for _ in range(7)], range(7))), 8),
        (Wrapper(lambda s, x: _fused(s, _fused(s, x))), 2),
        (Wrapper(lambda s, x: s.mha(x, x, x)[0], mha=MHA(D, H, batch_first=True)), 1),
        (Wrapper(lambda s, x: s.layer(x), layer=kws.models.TransformerEncoderLayer(D, H, 24)), 1),
        (Wrapper(_pooling, score=nn.Linear(D, 1)), 0),
        (Stack([EncoderLayer(), EncoderLayer()], [0, 1]), 0),
    ],
    ids=["two-layers", "heads-in-a-loop", "heads-as-modules", "layers-outside-encoder",
         "fused-sdpa", "torch-mha", "kit-layer", "attention-pooling", "no-attention"],
)  # fmt: skip
def test_encoder_layers_are_the_attention_computations_run_one_after_another(model, layers):
    traced = trace.trace_forward(model, X)
    assert traced.attention_layers == layers
    if layers:
        assert traced.attention  # where each ran, for the parent's budget


def test_probe_task_reports_where_attention_ran():
    model = Wrapper(
        lambda s, x: s.extra(s.encoder(x)), encoder=Refiner(Attention()), extra=Refiner(Attention())
    )
    facts = probe_facts("task1", model, {"__name__": "__main__"}, X)
    assert facts["layer_calls"] == 2
    assert facts["attention_modules"] == ["encoder.attn", "extra.attn"]


# ---- the traced computation must be the graded one -------------------------------------------


class TraceAware(nn.Module):
    """Own layer while a profiler runs, torch's layer otherwise: the attack on tracing."""

    def __init__(self, detect):
        super().__init__()
        self.mine, self.theirs, self.detect = Refiner(Attention()), _tel(), detect

    def forward(self, x):
        return self.mine(x) if self.detect() else self.theirs(x)


@pytest.mark.parametrize(
    "detect",
    [
        lambda: sys.getprofile() is not None,
        lambda: torch._C._len_torch_function_stack() > 0,
        lambda: len(nn.modules.module._global_forward_pre_hooks) > 0,
    ],
    ids=["getprofile", "torch-function-mode", "global-hooks"],
)
def test_a_model_that_behaves_differently_when_traced_is_caught(detect):
    model = TraceAware(detect)
    facts = probe_facts("task1", model, {"__name__": "__main__"}, X)
    assert facts["forbidden"] == []  # the trace alone sees only the hand-written layer...
    assert facts["traced_mismatch"].startswith(f"on a batch of {B} test inputs, its outputs differ")
    graded = model.eval()(X).detach()  # ...so the graded outputs are compared with it too
    facts = probe_facts("task1", model, {"__name__": "__main__"}, [(X, graded), (X, graded)])
    assert facts["traced_mismatch"] is not None and facts["traced_batches"] == 2


def test_an_honest_model_traces_to_the_same_outputs_bit_for_bit():
    model = Stack([Refiner(Attention()) for _ in range(2)], [0, 1]).eval()
    with torch.no_grad():
        graded = model(X)
    facts = probe_facts("task1", model, {"__name__": "__main__"}, [(X, graded)])
    assert facts["traced_mismatch"] is None and facts["layer_calls"] == 2
    off = graded + 1e-4
    assert (
        "differ by up to 0.0001" in probe_facts("task1", model, {}, [(X, off)])["traced_mismatch"]
    )
    assert probe_facts("task1", model, {}, [(X, off)], exact=False)["traced_mismatch"] is None


def test_encoder_buffers_count_but_norm_statistics_do_not():
    model = nn.Module()
    model.encoder = nn.Sequential(nn.Linear(D, D), nn.BatchNorm1d(D))  # 156 + 24 parameters
    model.encoder.register_buffer("hidden", torch.zeros(1000))  # trained weights kept as a buffer
    model.encoder.register_buffer("unsaved", torch.zeros(500), persistent=False)
    assert encoder_params(model) == 156 + 24 + 1000 + 500


def test_replacing_what_carries_or_makes_the_graded_result_is_detected():
    """The child's result channel and the trace's recorder carry the verdict; its `predict` and
    strict `load_checkpoint` make what is graded: a model cell that swapped one (e.g. for a
    `predict` that reads an answer table) is named by `verify_untampered`."""
    from kws.grading.child import checkpoint, predictions
    from kws.grading.child.channel import ResultChannel

    watched = [
        (ResultChannel, "send"),
        (trace._Recorder, "__torch_function__"),
        (predictions, "predict"),
        (checkpoint, "load_checkpoint"),
    ]
    for owner, name in watched:
        home = f"{owner.__module__}.{owner.__name__}" if isinstance(owner, type) else owner.__name__
        where = f"{home}.{name}"  # e.g. kws.grading.child.predictions.predict
        original = vars(owner)[name]
        setattr(owner, name, lambda *args: None)
        try:
            said = trace.verify_untampered()
            assert any(line.startswith(f"{where} was replaced") for line in said), (where, said)
        finally:
            _restore(owner, name, original)


def test_the_trace_keeps_no_intermediate_tensor_alive():
    """A traced graded batch must fit in memory like an untraced one: provenance is kept by
    serial numbers, not by holding every intermediate tensor."""
    import weakref

    seen = []

    def body(self, x):
        hidden = self.ln(self.fc(x).mean(1))  # (B, D), freed once the classifier has used it
        seen.append(weakref.ref(hidden))
        return self.head(hidden)

    model = Wrapper(body, fc=nn.Linear(D, D), ln=nn.LayerNorm(D), head=nn.Linear(D, 7))
    traced = trace.trace_forward(model, X)
    assert seen[0]() is None  # gone, though the trace is still here...
    passed, why = norm_feeds_classifier_in(traced)  # ...which still follows it
    assert passed, why


def test_a_torch_layer_is_reported_as_such_not_as_a_traced_mismatch():
    """torch's layer takes its fused path when untraced (outputs differ by float rounding): the
    student reads "runs torch.nn.TransformerEncoderLayer", the fix they need."""
    model = Wrapper(lambda s, x: s.layer(x), layer=_tel()).eval()
    facts = probe_facts("task1", model, {"__name__": "__main__"}, X)
    assert facts["forbidden"][0].startswith("torch.nn.TransformerEncoderLayer")
    assert facts["traced_mismatch"] is None
