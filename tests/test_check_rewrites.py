"""Correct layers written the way students write them keep every check (issue 36): forward's
parameters named their own way (the mask is passed by position, as the skeleton documents it),
sub-modules named their own way and registered in any order (weights are matched by what the
forward pass does with them, `kws.check.weights`). A signature that cannot take the mask names
the one to keep, and a match that is truly ambiguous says so; neither is a crash in the kit."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kws import check
from kws.assignments.speaker_id.layer_checks import TorchEncoderLayer
from kws.check.layers import copy_weights, inputs
from kws.tracing import trace

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]

# A Conformer block written from scratch: its own sub-module names, torchaudio's order of
# registration; SWAP moves two of its lines, as a student reordering __init__ would.
OWN_CONFORMER = """
class ConformerBlock(nn.Module):
    def __init__(self, d_model, nhead, ffn_dim, kernel_size=15, dropout=0.1):
        super().__init__()
        self.first_half = nn.Sequential(
            nn.LayerNorm(d_model), nn.Linear(d_model, ffn_dim), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(ffn_dim, d_model), nn.Dropout(dropout),
        )
        self.attn_norm = nn.LayerNorm(d_model)
        self.attn = MultiHeadSelfAttention(d_model, nhead, dropout)
        self.conv_norm = nn.LayerNorm(d_model)
        self.expand = nn.Conv1d(d_model, 2 * d_model, 1)
        self.depthwise = nn.Conv1d(
            d_model, d_model, kernel_size, padding=kernel_size // 2, groups=d_model
        )
        self.bn = nn.BatchNorm1d(d_model)
        self.project = nn.Conv1d(d_model, d_model, 1)
        self.second_half = nn.Sequential(
            nn.LayerNorm(d_model), nn.Linear(d_model, ffn_dim), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(ffn_dim, d_model), nn.Dropout(dropout),
        )
        self.out_norm = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, frames, pad=None):
        frames = frames + 0.5 * self.first_half(frames)
        frames = frames + self.drop(self.attn(self.attn_norm(frames), pad))
        c = F.glu(self.expand(self.conv_norm(frames).transpose(1, 2)), dim=1)
        if pad is not None:
            c = c.masked_fill(pad[:, None, :], 0.0)
        c = self.project(F.silu(self.bn(self.depthwise(c))))
        frames = frames + self.drop(c.transpose(1, 2))
        frames = frames + 0.5 * self.second_half(frames)
        return self.out_norm(frames)
"""
SWAP = (
    "        self.attn = MultiHeadSelfAttention(d_model, nhead, dropout)\n"
    "        self.conv_norm = nn.LayerNorm(d_model)\n",
    "        self.conv_norm = nn.LayerNorm(d_model)\n"
    "        self.attn = MultiHeadSelfAttention(d_model, nhead, dropout)\n",
)
# An encoder layer with its own names, registered in no particular order.
OWN_ENCODER_LAYER = """
class EncoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, norm_first=False):
        super().__init__()
        self.pre = norm_first
        self.ln_b = nn.LayerNorm(d_model)
        self.up = nn.Linear(d_model, dim_feedforward)
        self.ln_a = nn.LayerNorm(d_model)
        self.mix = MultiHeadSelfAttention(d_model, nhead, dropout)
        self.down = nn.Linear(dim_feedforward, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, frames, pad=None):
        def attend(t):
            return self.drop(self.mix(t, pad))

        def feed(t):
            return self.drop(self.down(self.drop(F.relu(self.up(t)))))

        if self.pre:
            frames = frames + attend(self.ln_a(frames))
            return frames + feed(self.ln_b(frames))
        frames = self.ln_a(frames + attend(frames))
        return self.ln_b(frames + feed(frames))
"""


@pytest.fixture(scope="module", autouse=True)
def genuine_torch():
    trace.capture_originals()


@pytest.fixture(scope="module")
def notebook() -> dict:
    """The namespace of the solution notebook 02's model cells."""
    from kws.grading.child.cells import run_model_cells

    return run_model_cells(ROOT / "solutions" / "02_speaker_id.ipynb")


def _defined(source: str, notebook: dict) -> type:
    """The class `source` defines, in a namespace holding the notebook's attention."""
    namespace = {"nn": nn, "F": F, "torch": torch}
    namespace["MultiHeadSelfAttention"] = notebook["MultiHeadSelfAttention"]
    exec(compile(source, "<student cell>", "exec"), namespace)
    return next(v for k, v in namespace.items() if k in ("ConformerBlock", "EncoderLayer"))


def failures(result) -> list[str]:
    return [f"{item.what} — {item.fix}" for item in result.failures]


def test_forward_parameters_named_otherwise_are_passed_by_position(notebook):
    # `def forward(self, feats, valid)`: no name says "mask" or "lengths"
    class Attention(notebook["MultiHeadSelfAttention"]):
        def forward(self, feats, valid=None):
            return super().forward(feats, valid)

    class Layer(notebook["EncoderLayer"]):
        def forward(self, feats, valid=None):
            return super().forward(feats, valid)

    class Stack(notebook["Encoder"]):
        def forward(self, feats, valid=None):
            return super().forward(feats, valid)

    class Block(notebook["ConformerBlock"]):
        def forward(self, feats, valid=None):
            return super().forward(feats, valid)

    class Pooling(notebook["SelfAttentionPooling"]):
        def forward(self, feats, valid):
            return super().forward(feats, valid)

    for result in (
        check.attention(Attention),
        check.encoder_layer(Layer),  # both norm orders
        check.encoder(Stack, notebook["EncoderLayer"]),
        check.conformer_block(Block),
        check.attention_pooling(Pooling),
    ):
        assert result, failures(result)


def test_a_forward_that_cannot_take_the_mask_names_the_signature_to_keep(notebook):
    class NoMask(notebook["MultiHeadSelfAttention"]):
        def forward(self, x):
            return super().forward(x)

    class MaskRequired(notebook["MultiHeadSelfAttention"]):
        def forward(self, x, mask):
            return super().forward(x, mask)

    class PoolingWithoutPadding(notebook["SelfAttentionPooling"]):
        def forward(self, h):
            return super().forward(h, torch.zeros(h.shape[:2], dtype=torch.bool))

    assert failures(check.attention(NoMask)) == [
        "forward takes a padding mask — your forward(x) takes no second argument; keep the "
        "skeleton's signature forward(x, key_padding_mask=None) (the mask: bool (B, T), True = "
        "padded)"
    ]
    assert failures(check.attention(MaskRequired)) == [
        "forward(x, mask) can be called as forward(x) — keep the skeleton's signature "
        "forward(x, key_padding_mask=None): the mask has a default"
    ]
    assert failures(check.attention_pooling(PoolingWithoutPadding)) == [
        "forward(h) takes the padding mask second — keep the skeleton's signature "
        "forward(h, padding) (padding: bool (B, T), True = padded)"
    ]


def test_own_sub_module_names_in_any_order_keep_every_check(notebook):
    """The issue's case: a ConformerBlock with its own names passed only while registered in
    torchaudio's order; swapping two independent lines of its __init__ cost it two points."""
    conformer = OWN_CONFORMER
    assert conformer.count(SWAP[0]) == 1
    for source in (conformer, conformer.replace(*SWAP)):
        result = check.conformer_block(_defined(source, notebook))
        assert result, failures(result)
    result = check.encoder_layer(_defined(OWN_ENCODER_LAYER, notebook))  # both norm orders
    assert result, failures(result)


def test_weights_are_matched_by_their_use_in_forward_not_by_name_or_order(notebook):
    layer = _defined(OWN_ENCODER_LAYER, notebook)(12, 3, 24, 0.0).double().eval()
    reference = TorchEncoderLayer(norm_first=False).double().eval()
    x = inputs()[0]
    assert copy_weights(layer, reference, (x,)) is None
    with torch.no_grad():
        torch.testing.assert_close(layer(x), reference(x))
    # the same weights, registered in another order, land in the same places
    assert torch.equal(reference.norm1.weight, layer.ln_a.weight.to(torch.float64))
    assert torch.equal(reference.linear2.bias, layer.down.bias)


def test_an_ambiguous_match_or_other_sizes_are_said_in_a_sentence(notebook):
    layer = _defined(OWN_ENCODER_LAYER, notebook)(12, 3, 24, 0.0)
    reference = TorchEncoderLayer(norm_first=False)
    without_forward = copy_weights(layer, reference)
    assert without_forward.startswith("cannot tell which of your `ln_b.weight`, `ln_b.bias`")
    assert "(no forward pass was watched, and the names differ)" in without_forward

    class Unfinished(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.LayerNorm(12), nn.LayerNorm(12)

        def forward(self, x):
            raise NotImplementedError("TODO: normalize twice")

    two_norms = nn.Sequential(nn.LayerNorm(12), nn.LayerNorm(12))
    problem = copy_weights(Unfinished(), two_norms, (inputs()[0].float(),))
    assert "(your forward did not run, and the names differ)" in problem
    problem = copy_weights(nn.Linear(12, 12), nn.Linear(12, 13))
    assert problem == (
        "yours has 1 tensor(s) of shape (12, 12) (`weight`) where the reference has 0; the "
        "reference has 1 tensor(s) of shape (13, 12) (`weight`) where yours has 0"
    )
    # a kernel (D, 1, pf, pt) is a weight (D, pf * pt): what differs is the missing bias
    problem = copy_weights(nn.Conv2d(1, 10, (4, 3), bias=False), nn.Linear(12, 10))
    assert problem == "the reference has 1 tensor(s) of 10 numbers (`bias`) where yours has 0"


def test_functions_are_called_by_position_as_the_skeleton_documents_them(notebook):
    from kws.grading.child.cells import run_model_cells

    def loss(cos, target, m=0.2, s=30.0):  # the skeleton's (cosines, labels, margin, scale)
        return notebook["am_softmax_loss"](cos, target, m, s)

    def loss_without_margin(cos, target):
        return notebook["am_softmax_loss"](cos, target)

    assert check.am_softmax(loss=loss)
    assert failures(check.am_softmax(loss=loss_without_margin)) == [
        "am_softmax_loss takes cosines, labels, margin and scale — keep the skeleton's signature "
        "am_softmax_loss(cosines, labels, margin=0.2, scale=30.0)"
    ]
    keyword = run_model_cells(ROOT / "solutions" / "01_keyword_spotting.ipynb")

    def windows(recordings, n, seed, size=16000):  # the skeleton's (noises, count, seed, length)
        return keyword["silence_windows"](recordings, n, seed, size)

    assert check.twelve_class_data(windows_function=windows)


def test_a_todo_in_a_layer_with_its_own_names_is_reported_as_the_todo(notebook):
    """Without a forward pass to watch, sub-modules with names of their own cannot be matched;
    the TODO is what the student must hear about, as for any layer."""
    source = OWN_CONFORMER.replace(
        "        frames = frames + 0.5 * self.first_half(frames)\n",
        '        raise NotImplementedError("TODO: the four residual sub-blocks")\n',
    )
    with pytest.raises(NotImplementedError, match="TODO: the four residual sub-blocks"):
        check.conformer_block(_defined(source, notebook))
