"""Self-checks on correct and deliberately buggy student-style classes."""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kws import check
from kws.data.features import LogMel
from kws.spec import ASSIGNMENTS, load_folder
from kws.tracing import trace

# What a student writes in the notebook's model cells; executed as the notebook's namespace.
STUDENT_CELLS = """
import copy
import math
import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, dropout=0.0):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def split(self, t):
        B, T, _ = t.shape
        return t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, hs)

    def scores(self, q, k):
        return q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, T)

    def forward(self, x, key_padding_mask=None):
        B, T, D = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3D)
        q, k, v = (self.split(t) for t in qkv.chunk(3, dim=-1))
        scores = self.scores(q, k)
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        y = scores.softmax(dim=-1) @ v  # (B, H, T, hs)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, D))


class EncoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward, dropout=0.0):
        super().__init__()
        self.self_attn = MultiHeadSelfAttention(d_model, nhead)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, x, key_padding_mask=None):
        x = self.norm1(x + self.self_attn(x, key_padding_mask))
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class Encoder(nn.Module):
    def __init__(self, encoder_layer, num_layers):
        super().__init__()
        self.layers = nn.ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])

    def forward(self, x, key_padding_mask=None):
        for layer in self.layers:
            x = layer(x, key_padding_mask)
        return x


def masked_mean(x, lengths):
    valid = torch.arange(x.shape[1]) < lengths[:, None]  # (B, T)
    return (x * valid[..., None]).sum(1) / lengths[:, None]  # (B, D)


class SpeakerTransformer(nn.Module):
    def __init__(self, n_mels=40, d_model=80, num_layers=2, n_spks=600, layer=None):
        super().__init__()
        self.prenet = nn.Linear(n_mels, d_model)
        self.encoder = Encoder(layer or EncoderLayer(d_model, 2, 256), num_layers)
        self.pred_layer = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, n_spks))

    def forward(self, mels, lengths):
        mask = torch.arange(mels.shape[1]) >= lengths[:, None]  # (B, T)
        return self.pred_layer(masked_mean(self.encoder(self.prenet(mels), mask), lengths))


class ConformerBlock(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.ff = nn.Linear(d_model, d_model)
        self.conv = nn.Conv1d(d_model, d_model, 3, padding=1, groups=d_model)

    def forward(self, x, key_padding_mask=None):
        x = x + self.ff(x)
        return x + self.conv(x.transpose(1, 2)).transpose(1, 2)  # (B, T, D)


class SpeakerConformer(nn.Module):
    def __init__(self, d_model=32, n_spks=600, norm_first=False):
        super().__init__()
        self.prenet = nn.Linear(40, d_model)
        self.encoder = nn.ModuleList([ConformerBlock(d_model) for _ in range(2)])
        self.norm = nn.BatchNorm1d(d_model)
        self.classifier = nn.Linear(d_model, n_spks)
        self.norm_first = norm_first

    def forward(self, mels, lengths):
        x = self.prenet(mels)
        for block in self.encoder:
            x = block(x)
        if self.norm_first:  # the norm before pooling: not what the task asks
            return self.classifier(masked_mean(self.norm(x.transpose(1, 2)).transpose(1, 2), lengths))
        return self.classifier(self.norm(masked_mean(x, lengths)))


class SelfAttentionPooling(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.score = nn.Linear(d_model, 1)

    def forward(self, x, mask):  # the skeleton's forward(h, padding), other names
        weights = self.score(x).squeeze(-1).masked_fill(mask, float("-inf")).softmax(-1)
        return (weights[..., None] * x).sum(1)  # (B, D)


class SpeakerAttentionAMS(nn.Module):
    def __init__(self, d_model=32, n_spks=600):
        super().__init__()
        self.prenet = nn.Linear(40, d_model)
        self.pooling = SelfAttentionPooling(d_model)
        self.weight = nn.Parameter(torch.randn(n_spks, d_model))

    def forward(self, mels, lengths):
        mask = torch.arange(mels.shape[1]) >= lengths[:, None]  # (B, T)
        x = F.normalize(self.pooling(self.prenet(mels), mask), dim=-1)
        return x @ F.normalize(self.weight, dim=-1).T  # (B, n_spks) cosine scores
"""

NS = {"__name__": "__main__"}
exec(compile(STUDENT_CELLS, "/tmp/ipykernel_7/student.py", "exec"), NS)
Attention, EncoderLayer, Encoder = NS["MultiHeadSelfAttention"], NS["EncoderLayer"], NS["Encoder"]


@pytest.fixture(scope="module", autouse=True)
def genuine_torch():
    trace.capture_originals()


def failures(result):
    return [f"{item.what} — {item.fix}" for item in result.failures]


def test_correct_layers_pass_every_check(capsys):
    assert check.attention(Attention)
    assert check.encoder_layer(EncoderLayer)
    assert check.encoder(Encoder, EncoderLayer)
    out = capsys.readouterr().out
    assert "✓ outputs match torch.nn.MultiheadAttention with padding" in out
    assert "✓ outputs match torch.nn.TransformerEncoderLayer(norm_first=False) (no padding)" in out
    assert "✓ inside, your MultiHeadSelfAttention is replaced by torch.nn.MultiheadAttention" in out
    assert "✓ with num_layers=2, EncoderLayer runs 2 times in forward" in out
    assert "MultiHeadSelfAttention: all 7 checks passed." in out and "✗" not in out


def test_kit_conformer_block_passes():
    from kws.models import ConformerBlock

    assert check.conformer_block(ConformerBlock)


class SwappedAxes(Attention):
    def split(self, t):
        B, T, _ = t.shape
        return t.reshape(B, self.num_heads, T, self.head_dim)  # heads taken from the wrong axis


class NoScaling(Attention):
    def scores(self, q, k):
        return q @ k.transpose(-2, -1)


class MaskIgnored(Attention):
    def forward(self, x, key_padding_mask=None):
        return super().forward(x)


class MaskInverted(Attention):
    def forward(self, x, key_padding_mask=None):
        return super().forward(x, None if key_padding_mask is None else ~key_padding_mask)


class NotWritten(Attention):
    def scores(self, q, k):
        raise NotImplementedError("TODO: compute the scaled scores q·kᵀ / sqrt(head_dim)")


class ExtraBias(Attention):
    def __init__(self, embed_dim, num_heads, dropout=0.0):
        super().__init__(embed_dim, num_heads, dropout)
        self.extra = nn.Parameter(torch.zeros(embed_dim))


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (
            SwappedAxes,
            "outputs match torch.nn.MultiheadAttention (no padding) — the heads are split",
        ),
        (NoScaling, "— the scores are not divided by sqrt(head_dim)"),
        (MaskIgnored, "padded frames do not change the valid outputs — mask padded keys"),
        (ExtraBias, "636 parameters — the reference attention has 624"),
        # NaN at valid frames (a row of padding keys only, all masked): named as NaN
        (MaskInverted, "padded frames do not change the valid outputs — the outputs at valid "),
    ],
)
def test_buggy_attention_is_explained(cls, message, capsys):
    result = check.attention(cls)
    assert not result
    assert any(message in line for line in failures(result)), failures(result)
    assert "checks passed; fix the ✗ above." in capsys.readouterr().out


def test_a_todo_is_reported_then_stops_the_cell_with_its_message(capsys):
    todo = "TODO: compute the scaled scores q·kᵀ / sqrt(head_dim)"
    with pytest.raises(NotImplementedError, match=re.escape(todo)):
        check.attention(NotWritten)
    assert f"not written yet: {todo}" in capsys.readouterr().out


def test_strict_raises_with_the_report():
    with pytest.raises(AssertionError, match="the scores are not divided"):
        check.attention(NoScaling, strict=True)


class NoResidual(EncoderLayer):
    def forward(self, x, key_padding_mask=None):
        x = self.norm1(self.self_attn(x, key_padding_mask))
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class FirstLayerOnly(Encoder):
    def forward(self, x, key_padding_mask=None):
        return self.layers[0](x, key_padding_mask)


def test_buggy_encoder_layer_and_encoder_are_explained():
    result = check.encoder_layer(NoResidual)
    assert (
        failures(result) == [failures(result)[0]]
        and "check the residual connections" in failures(result)[0]
    )
    result = check.encoder(FirstLayerOnly, EncoderLayer)
    assert "with num_layers=2, EncoderLayer runs 1 time in forward" in failures(result)[0]


def test_conformer_block_without_masking_before_the_convolution_fails():
    from kws.models import ConformerBlock

    class NoConvMask(ConformerBlock):
        def forward(self, x, key_padding_mask=None):
            x = x + 0.5 * self.ffn1(x)
            y, _ = self.self_attn(self.self_attn_layer_norm(x), key_padding_mask=key_padding_mask)
            x = x + self.conv_module(x + y, None)  # padding leaks through the depthwise conv
            return self.final_layer_norm(x + 0.5 * self.ffn2(x))

    result = check.conformer_block(NoConvMask)
    assert any("zero padded frames before the depthwise" in line for line in failures(result))


def test_task1_passes_and_reports_the_encoder_size(capsys):
    model = NS["SpeakerTransformer"]()
    assert check.task1(model, n_classes=600, ns=NS)
    out = capsys.readouterr().out
    assert (
        "✓ 2 encoder layers run one after another in one forward (counted by their attention; "
        "limit: fewer than 4)"
    ) in out
    assert "✓ The parameter size of encoder block is 135.07k (budget: under 500k)" in out
    assert model.training  # the check leaves the mode as it found it


def test_task1_failures_name_the_rule():
    too_deep = NS["SpeakerTransformer"](num_layers=4)
    assert "4 encoder layers run one after another" in failures(check.task1(too_deep, ns=NS))[0]
    library = NS["SpeakerTransformer"](
        layer=nn.TransformerEncoderLayer(80, 2, 256, batch_first=True)
    )
    library.encoder.forward = lambda x, mask: library.encoder.layers[0](
        x, src_key_padding_mask=mask
    )
    found = failures(check.task1(library, ns=NS))
    assert any("found torch.nn.TransformerEncoderLayer" in line for line in found), found
    # Its one library layer is one encoder layer that ran, as the grader counts it: the layer
    # count passes, "from scratch" fails.
    assert not any("encoder layers run" in line for line in found), found
    big = NS["SpeakerTransformer"](d_model=256)
    assert any(
        "(budget: under 500k) — make the encoder smaller" in f
        for f in failures(check.task1(big, ns=NS))
    )


def test_task1_limits_are_the_specs(tmp_path, monkeypatch):
    """Editing the limits line of speaker_id/spec.toml is all it takes to change the self-check."""
    import shutil

    spec = ASSIGNMENTS["speaker_id"]
    folder = shutil.copytree(spec.folder, tmp_path / "speaker_id")  # the assignment, copied
    text = spec.path.read_text()
    line = next(line for line in text.splitlines() if "max_encoder_params" in line)
    limits = "limits = { max_layer_calls = 1, max_encoder_params = 100_000 }"
    (folder / "spec.toml").write_text(text.replace(line, limits))
    monkeypatch.setitem(ASSIGNMENTS, "speaker_id", load_folder(folder))
    found = failures(check.task1(NS["SpeakerTransformer"](), ns=NS))
    assert any("2 encoder layers run one after another" in f for f in found), found
    assert any("limit: fewer than 2)" in f for f in found), found
    assert any("135.07k (budget: under 100k)" in f for f in found), found


def test_task2_norm_before_the_classifier():
    assert check.task2(NS["SpeakerConformer"](), ns=NS)
    found = failures(check.task2(NS["SpeakerConformer"](norm_first=True), ns=NS))
    assert len(found) == 1 and "comes from `div`" in found[0], found


def test_task3_and_a_missing_class():
    assert check.task3(NS["SpeakerAttentionAMS"](), ns=NS)
    found = failures(check.task3(NS["SpeakerAttentionAMS"](), ns={"__name__": "__main__"}))
    assert found == [
        "SelfAttentionPooling is written in this notebook — the notebook does not define a class "
        "`SelfAttentionPooling` (an nn.Module) in its model cells"
    ]


class KeywordModel(nn.Module):
    def __init__(self, always_dropout=False):
        super().__init__()
        self.frontend = LogMel(n_mels=40)
        self.classifier = nn.Linear(40, 12)
        self.always_dropout = always_dropout

    def forward(self, waves):
        x = self.frontend(waves).mean(1)  # (B, 40)
        return self.classifier(F.dropout(x, 0.5, training=self.always_dropout or self.training))


def test_keyword_model():
    assert check.keyword_model(KeywordModel())
    found = failures(check.keyword_model(KeywordModel(always_dropout=True)))
    assert found == [
        "eval mode is deterministic (SpecAugment and dropout are off) — the outputs change from "
        "call to call (forward draws random numbers in eval mode: model (KeywordModel): torch): "
        "run augmentation, dropout and every other random step only when `self.training` is "
        "True (F.dropout(x, p, training=self.training))"
    ]


def test_a_crash_names_the_line():
    class Crashes(Attention):
        def scores(self, q, k):
            return q @ k  # (B, H, T, hs) @ (B, H, T, hs): wrong shapes

    (line,) = failures(check.attention(Crashes))
    assert "raised RuntimeError" in line and "return q @ k" in line and math.isfinite(1.0)


def test_encoder_finds_encoder_layer_in_the_notebook(monkeypatch):
    import sys

    monkeypatch.setattr(sys.modules["__main__"], "EncoderLayer", EncoderLayer, raising=False)
    assert check.encoder(Encoder)


def test_a_todo_in_the_model_is_reported_as_not_written(capsys):
    class Unfinished(NS["SpeakerTransformer"]):
        def forward(self, mels, lengths):
            raise NotImplementedError("TODO: pool the frames and classify")

    with pytest.raises(NotImplementedError, match="TODO: pool the frames and classify"):
        check.task1(Unfinished(), ns=NS)
    assert "✗ forward runs — not written yet: TODO: pool the frames and classify" in (
        capsys.readouterr().out
    )


# ---- the reference notebook's own classes (what a student's finished notebook holds) ----------


@pytest.fixture(scope="module")
def notebook():
    """The namespace of the solution notebook 02's model cells."""
    from pathlib import Path

    from kws.grading.child.cells import run_model_cells

    return run_model_cells(Path(__file__).resolve().parents[1] / "solutions/02_speaker_id.ipynb")


def test_the_checks_compare_with_torch_and_formulas_never_the_kits_models(
    notebook, monkeypatch, capsys
):
    import sys

    monkeypatch.setitem(sys.modules, "kws.models", None)  # importing it now raises ImportError
    assert check.attention(notebook["MultiHeadSelfAttention"])
    assert check.encoder_layer(notebook["EncoderLayer"])
    assert check.encoder(notebook["Encoder"], notebook["EncoderLayer"])
    assert check.conformer_block(notebook["ConformerBlock"])
    assert check.attention_pooling(notebook["SelfAttentionPooling"])
    assert check.am_softmax(notebook["AMSoftmaxHead"], notebook["am_softmax_loss"])
    out = capsys.readouterr().out
    for reference in [
        "torch.nn.TransformerEncoderLayer(norm_first=False)",
        "torch.nn.TransformerEncoderLayer(norm_first=True)",
        "torch.nn.TransformerEncoder",
        "torchaudio.models.conformer.ConformerLayer",
    ]:
        assert f"✓ outputs match {reference} with padding" in out
    assert "✓ with margin=0.35, scale=10.0, the loss is" in out and "✗" not in out


def test_pre_norm_asked_and_post_norm_written(notebook):
    class PostNormOnly(notebook["EncoderLayer"]):
        def forward(self, x, key_padding_mask=None):
            x = self.norm1(x + self._attention(x, key_padding_mask))
            return self.norm2(x + self._feed_forward(x))

    assert failures(check.encoder_layer(PostNormOnly)) == [
        "outputs match torch.nn.TransformerEncoderLayer(norm_first=True) (no padding) — with "
        "norm_first=True it normalizes after the residual; pre-norm (norm_first=True) is "
        "x = x + attn(norm1(x)); x = x + ff(norm2(x))"
    ]


def test_task3_also_checks_the_pooling_and_the_am_softmax_of_the_notebook(notebook, capsys):
    model = notebook["SpeakerAttentionAMS"](
        d_model=16, nhead=2, ffn_dim=32, num_layers=1, kernel_size=3, n_classes=600
    )
    assert check.task3(model, n_classes=600, ns=notebook)
    out = capsys.readouterr().out
    assert "✓ outputs are the cosines between the embeddings and each speaker's weight" in out
    assert "✓ padded frames do not change the pooled vector" in out

    def no_margin(cosines, labels, margin=0.2, scale=30.0):
        return F.cross_entropy(scale * cosines, labels)

    found = failures(check.task3(model, ns=notebook | {"am_softmax_loss": no_margin}))
    assert len(found) == 3 and all("the margin is missing" in line for line in found), found
    with pytest.raises(AssertionError, match="the margin is missing"):
        check.am_softmax(loss=no_margin, strict=True)


class _AttentionBeforeTheEncoder(nn.Module):
    """One EncoderLayer call, after three attention layers of its own: four encoder layers run
    one after another, though the class EncoderLayer runs only once."""

    def __init__(self, d_model=80):
        super().__init__()
        self.prenet = nn.Linear(40, d_model)
        self.extra = nn.ModuleList([Attention(d_model, 2) for _ in range(3)])
        self.encoder = Encoder(EncoderLayer(d_model, 2, 256), 1)
        self.pred_layer = nn.Linear(d_model, 600)

    def forward(self, mels, lengths):
        mask = torch.arange(mels.shape[1])[None, :] >= lengths[:, None]  # (B, T)
        x = self.prenet(mels)
        for attention in self.extra:
            x = x + attention(x, key_padding_mask=mask)
        return self.pred_layer(NS["masked_mean"](self.encoder(x, mask), lengths))


def test_the_layer_limit_has_one_measure_in_the_self_check_and_the_grader():
    """max_layer_calls used to be judged twice: the self-check counted EncoderLayer calls (1 here:
    ✓) while the grader counted chained attention computations (4: ✗), so a student saw ✓ and
    lost the test. Both now count the attention chain and use one judge, and agree."""
    from kws.assignments.speaker_id.rules import layers_that_run
    from kws.tracing import probes

    model = _AttentionBeforeTheEncoder()
    x, lengths = torch.randn(2, 60, 40), torch.tensor([60, 49])
    limit = ASSIGNMENTS["speaker_id"].tasks["task1"].limits["max_layer_calls"]
    assert probes.count_layer_calls(model, (x, lengths), "EncoderLayer") == 1  # the old measure
    facts = probes.probe_facts("task1", model, NS, (x, lengths))  # what the grading child sends
    grader_passes, _ = layers_that_run(facts["layer_calls"], limit)  # test_task1_layers_that_run
    assert facts["layer_calls"] == 4 and not grader_passes
    found = failures(check.task1(model, ns=NS))
    assert any("4 encoder layers run one after another" in f for f in found), found
    # and a model within the limit passes both
    fine = NS["SpeakerTransformer"]()
    facts = probes.probe_facts("task1", fine, NS, (x, lengths))
    assert layers_that_run(facts["layer_calls"], limit)[0]
    assert not any("encoder layers run" in f for f in failures(check.task1(fine, ns=NS)))


def test_the_self_check_and_the_grading_child_measure_with_one_function(tmp_path, monkeypatch):
    """check.task1 and the grading child (`grade_task`) take a model's structural facts from one
    function, `kws.tracing.probes.probe_facts` (published as `kws.author.probe_facts`): change
    what it measures (here, the encoder's size) and both say the new figure."""
    import json
    import sys

    from kws import author
    from kws.grading.child import runner
    from kws.grading.protocol.child_run import ChildRun
    from kws.grading.protocol.inputs import load_inputs, save_feature_inputs
    from kws.tracing import probes

    selfcheck = sys.modules[check.task1.__module__]  # kws/assignments/speaker_id/selfcheck.py
    assert selfcheck.probe_facts is author.probe_facts is probes.probe_facts
    monkeypatch.setattr(probes, "encoder_params", lambda model, attr="encoder": 777_777)

    model = NS["SpeakerTransformer"]()
    found = failures(check.task1(model, ns=NS))
    assert any("encoder block is 777.78k (budget: under 500k)" in f for f in found), found

    folder = tmp_path / "outputs" / "task1"
    folder.mkdir(parents=True)
    config = {"task": "task1", "class": "SpeakerTransformer", "kwargs": {}}
    (folder / "config.json").write_text(json.dumps(config))
    torch.save(model.state_dict(), folder / "model.pt")
    frames = torch.randn(3, 50, 40, generator=torch.Generator().manual_seed(0))
    save_feature_inputs(tmp_path / "inputs.bin", list(frames))
    inputs = load_inputs(tmp_path / "inputs.bin")
    run = ChildRun("02_speaker_id.ipynb", {"task1": "SpeakerTransformer"}, n_classes=600)
    batches = runner.prediction_batches(inputs, run.batch_size)
    report = runner.grade_task(
        "task1",
        NS,
        tmp_path / "outputs",
        inputs,
        run,
        batches,
        frozenset(range(len(batches))),
        exact=True,
    )
    assert report["errors"] == {} and len(report["predictions"]) == 3
    assert report["facts"]["encoder_params"] == 777_777
    assert report["facts"]["encoder_params_text"] == "777.78k"


class CastsBack(Attention):
    """Scores summed in float64 and cast back with a hard-coded .float(), as for float32 training."""

    def scores(self, q, k):
        return (q.double() @ k.double().transpose(-2, -1) / math.sqrt(self.head_dim)).float()


class CastsBackUnscaled(CastsBack):
    def scores(self, q, k):
        return (q.double() @ k.double().transpose(-2, -1)).float()


def test_a_cast_back_to_float32_is_checked_in_float32_not_failed(capsys):
    assert check.attention(CastsBack)
    out = capsys.readouterr().out
    assert "✗" not in out and "dtype" not in out
    (line,) = [line for line in failures(check.attention(CastsBackUnscaled)) if "scores" in line]
    assert "the scores are not divided by sqrt(head_dim)" in line  # its own bug, named


# ---- Task 1's mean over time, on the solution notebook's SpeakerTransformer ----------------------

POOLING = "pooled = h.sum(dim=1) / lengths[:, None].to(h.dtype)  # (B, D)"
MASKED = "h = h.masked_fill(padding[:, :, None], 0.0)"
PADDED_ITEMS = [
    "padded frames do not change the logits (they hold -20, then loud noise)",
    "each utterance gets the logits it gets alone, unpadded",
]


def speaker_transformer(*edits: tuple[str, str], rename: bool = False) -> type:
    """The solution notebook 02's SpeakerTransformer: its model cell run with each (old, new)
    replaced once, then, with `rename`, rewritten as the rewrite corpus renames it."""
    from corpus_rewrites import _renamed_source
    from course_helpers import ROOT

    from kws.notebooks import cells_with_tag, read_notebook

    cells = cells_with_tag(read_notebook(ROOT / "solutions" / "02_speaker_id.ipynb"), "model")
    source = next(c.source for c in cells if "class SpeakerTransformer(" in c.source)
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    ns = {"__name__": "notebook"}
    exec(compile(_renamed_source(source) if rename else source, "model-cell", "exec"), ns)
    return ns["SpeakerTransformer"]


def _padded_frames(cls) -> check.CheckResult:
    from kws.assignments.speaker_id import padding_checks
    from kws.author import Checker

    checker = Checker("SpeakerTransformer", echo=False)
    checker.check(padding_checks.padded_frames, cls)
    return check.CheckResult("SpeakerTransformer", checker.items)


@pytest.mark.parametrize("rename", [False, True])
def test_a_mean_over_the_valid_frames_passes_under_any_names(rename):
    result = _padded_frames(speaker_transformer(rename=rename))
    assert result, result.report()
    assert [item.what for item in result.items if item.topic == "padding"][-2:] == PADDED_ITEMS


@pytest.mark.parametrize(
    "edits",
    [  # the attention's own bugs: its checks' findings, never this one's (torch's encoder stands in)
        [("self.dropout(scores.softmax(dim=-1))", "F.dropout(scores.softmax(dim=-1), 0.1)")],
        [
            (
                "key_padding_mask[:, None, None, :], float",
                "~key_padding_mask[:, None, None, :], float",
            )
        ],
        [("x = layer(x, key_padding_mask)", "x = layer(x)")],
    ],
)
def test_the_encoders_bugs_cost_their_own_checks_not_the_padding_one(edits):
    assert _padded_frames(speaker_transformer(*edits))


@pytest.mark.parametrize(
    ("edits", "cause", "lost"),
    [
        (
            [(MASKED, "h = h"), (POOLING, "pooled = h.mean(dim=1)")],
            "your pooling averages over padded frames: use `lengths`",
            PADDED_ITEMS,
        ),
        (
            [(POOLING, "pooled = h.sum(dim=1) / T")],
            "divides the sum of the valid frames by the padded length T",
            PADDED_ITEMS[1:],  # the padding's values change nothing: its length does
        ),
        ([(MASKED, "h = h")], "sums the padded frames too before dividing", PADDED_ITEMS),
        (
            [("self.encoder(self.prenet(x), padding)", "self.encoder(self.prenet(x))")],
            "your forward gives the encoder no padding mask",
            PADDED_ITEMS,
        ),
    ],
)
def test_padded_frames_in_the_mean_are_named_with_their_cause(edits, cause, lost):
    for rename in (False, True):
        result = _padded_frames(speaker_transformer(*edits, rename=rename))
        assert [item.what for item in result.failures] == lost, result.report()
        assert all(cause in item.fix for item in result.failures), result.report()


def test_the_task1_self_check_runs_the_padding_check(capsys):
    model = speaker_transformer((MASKED, "h = h"), (POOLING, "pooled = h.mean(dim=1)"))()
    found = failures(check.task1(model, n_classes=600, ns=NS))
    assert [line.split(" — ")[0] for line in found] == PADDED_ITEMS


def test_an_unused_stand_in_is_named_as_the_reference_not_as_the_students():
    """An encoder layer that never calls its attention: torch's attention stands in for the
    notebook's inside the check, and the message says so instead of naming torch's tensors as
    the student's."""

    class NoAttention(EncoderLayer):
        def forward(self, x, key_padding_mask=None):
            return self.norm2(x + self.linear2(F.relu(self.linear1(self.norm1(x)))))

    result = check.encoder_layer(NoAttention)
    (unused,) = [item for item in result.failures if item.what == "every parameter gets a gradient"]
    assert "torch.nn.MultiheadAttention, standing in for your self_attn in this check" in unused.fix
    assert "in_proj_weight" not in unused.fix


def test_allclose_between_float32_and_float64_is_a_dtype_error_the_check_reruns():
    from kws.check.precision import is_dtype_error

    try:
        torch.allclose(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    except RuntimeError as error:
        message = f"it raised RuntimeError: {error}"
    assert is_dtype_error(message), message
