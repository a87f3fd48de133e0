"""Task 1 and 2 layers of notebook 02 against torch.nn and torchaudio, with copied weights,
seeded, in float64, in eval mode (see `kws.grading.child.numeric` for who calls these and why).

Each layer is judged on its own: inside an encoder layer or a Conformer block the student's
attention is replaced by torch's with the same weights (inside the encoder, each encoder layer
by torch's), so a bug in the attention costs the attention's points, not every layer's.
"""

from __future__ import annotations

import inspect
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

from kws.author import N_, Checker, Text, build, call, layers

B, T, D, H, FF = layers.CHECK_SIZES  # the layer checks' distinct input sizes

ATTENTION_ARGS = {"embed_dim": D, "d_model": D, "num_heads": H, "nhead": H, "dropout": 0.0}
LAYER_ARGS = {**ATTENTION_ARGS, "dim_feedforward": FF, "ffn_dim": FF}
CONFORMER_ARGS = {**LAYER_ARGS, "input_dim": D, "num_attention_heads": H}
CONFORMER_ARGS |= {"depthwise_conv_kernel_size": 3, "kernel_size": 3}
PADDING_FIX = N_(
    "mask padded keys: fill their scores with -inf (or a very large negative number) before the "
    "softmax"
)
PRE_NORM = Text(N_("pre-norm (norm_first=True) is x = x + attn(norm1(x)); x = x + ff(norm2(x))"))
POST_NORM = Text(N_("post-norm (norm_first=False) is x = norm1(x + attn(x)); x = norm2(x + ff(x))"))


# ---- torch.nn and torchaudio layers, called the way the notebook's layers are called ----------


class TorchAttention(nn.MultiheadAttention):
    """torch.nn.MultiheadAttention as self-attention: forward(x, key_padding_mask) batch-first."""

    title = "torch.nn.MultiheadAttention"

    def __init__(self, returns_tuple: bool = False):
        super().__init__(D, H, dropout=0.0, batch_first=True)
        self.returns_tuple = returns_tuple  # as the attention it stands in for

    def forward(self, x, key_padding_mask=None, *args, **kwargs):
        mask = layers.attention_mask(
            key_padding_mask, self.num_heads, x.dtype
        )  # as key_padding_mask
        y, weights = super().forward(x, x, x, attn_mask=mask, need_weights=self.returns_tuple)
        return (y, weights) if self.returns_tuple else y


class TorchEncoderLayer(nn.TransformerEncoderLayer):
    """torch.nn.TransformerEncoderLayer, batch-first: forward(x, key_padding_mask), or the
    attention mask its TransformerEncoder passes on (``src_mask``)."""

    def __init__(self, norm_first: bool, activation: str = "relu"):
        super().__init__(
            D, H, FF, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
        )
        self.title = f"torch.nn.TransformerEncoderLayer(norm_first={norm_first})"

    def forward(self, x, key_padding_mask=None, *args, src_mask=None, **kwargs):
        if src_mask is None:  # the padding as attention mask: the same numbers, see attention_mask
            src_mask = layers.attention_mask(key_padding_mask, self.self_attn.num_heads, x.dtype)
        return super().forward(x, src_mask=src_mask)


class TorchEncoder(nn.TransformerEncoder):
    """torch.nn.TransformerEncoder of 2 layers, batch-first: forward(x, key_padding_mask)."""

    title = "torch.nn.TransformerEncoder"

    def __init__(self, layer: nn.Module, final_norm: bool):
        norm = nn.LayerNorm(D) if final_norm else None
        super().__init__(layer, 2, norm=norm, enable_nested_tensor=False)

    def forward(self, x, key_padding_mask=None, *args, **kwargs):
        heads = self.layers[0].self_attn.num_heads
        return super().forward(x, mask=layers.attention_mask(key_padding_mask, heads, x.dtype))


class TorchaudioBlock(layers.torchaudio.models.conformer.ConformerLayer):
    """torchaudio's ConformerLayer (time-first inside), batch-first: forward(x, key_padding_mask)."""

    title = "torchaudio.models.conformer.ConformerLayer"

    def __init__(self, use_group_norm: bool = False):
        super().__init__(D, FF, H, 3, dropout=0.0, use_group_norm=use_group_norm)

    def forward(self, x, key_padding_mask=None, *args, **kwargs):
        return super().forward(x.transpose(0, 1), key_padding_mask).transpose(0, 1)  # (B, T, D)


def substitute(checker: Checker, module: nn.Module, class_name: str, make) -> int:
    """Replace every sub-module of class `class_name` inside `module` by `make(sub)` loaded with
    its weights (sub-modules whose weights do not fit are kept); return how many were replaced."""
    replaced, title = 0, ""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child).__name__ == class_name:
                reference = make(child).double().eval()
                if layers.copy_weights(child, reference, layers.inputs()[:1]) is None:
                    setattr(parent, name, reference)
                    replaced, title = replaced + 1, reference.title
    if replaced:
        checker.expect(
            True,
            Text(
                N_("inside, your {name} is replaced by {title}, to check this class alone"),
                name=class_name,
                title=title,
            ),
            "",
        )
    return replaced


def _attention_like(child: nn.Module) -> TorchAttention:
    """torch's attention, returning a tuple if the student's returns one (y, weights)."""
    try:
        with torch.no_grad():
            out = child(torch.zeros(B, T, D, dtype=torch.float64))
    except Exception:  # a TODO or a bug: it is judged by its own check
        out = None
    return TorchAttention(returns_tuple=isinstance(out, (tuple, list)))


# ---- Task 1 -----------------------------------------------------------------------------------

# Common attention bugs, as (options of _attention_variant, what to tell the student).
_SPLIT = N_("the heads are split with view(B, H, T, hs); use view(B, T, H, hs).transpose(1, 2)")
ATTENTION_BUGS = [
    (
        {"scale": 1.0},
        N_("the scores are not divided by sqrt(head_dim); divide q·kᵀ by sqrt(D / H)"),
    ),
    ({"scale": math.sqrt(D)}, N_("the scores are divided by sqrt(D); divide by sqrt(head_dim)")),
    ({"softmax_dim": -2}, N_("the softmax runs over the queries; take it over the keys (dim=-1)")),
    ({"split_right": False}, _SPLIT),
    (
        {"split_right": False, "merge_right": False},
        Text.joined("", [_SPLIT, N_(" and merge with transpose(1, 2)")]),
    ),
]


def _attention_variant(ref, x, *, scale=None, softmax_dim=-1, split_right=True, merge_right=True):
    """Attention with `ref`'s weights and one deliberate mistake, to name a student's bug."""
    hs = D // H
    q, k, v = F.linear(x, ref.in_proj_weight, ref.in_proj_bias).split(D, dim=-1)  # 3 x (B, T, D)
    if split_right:
        q, k, v = (t.view(B, T, H, hs).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hs)
    else:
        q, k, v = (t.reshape(B, H, T, hs) for t in (q, k, v))  # (B, H, T, hs), heads mixed up
    scores = q @ k.transpose(-2, -1) / (scale or math.sqrt(hs))  # (B, H, T, T)
    y = scores.softmax(dim=softmax_dim) @ v  # (B, H, T, hs)
    y = y.transpose(1, 2).reshape(B, T, D) if merge_right else y.reshape(B, T, D)  # (B, T, D)
    return F.linear(y, ref.out_proj.weight, ref.out_proj.bias)


def _attention_bug(reference, x, y) -> str | None:
    with torch.no_grad():
        for options, message in ATTENTION_BUGS:
            if torch.allclose(y, _attention_variant(reference, x, **options)):
                return message
    return None


def attention(checker: Checker, cls) -> None:
    """Self-attention (B, T, D) -> (B, T, D) against torch.nn.MultiheadAttention."""
    student = build(checker, cls, ATTENTION_ARGS, "d_model, nhead, dropout")
    layers.compare_layer(
        checker,
        student,
        [TorchAttention()],
        kind=N_("attention"),
        hint=N_(
            "check the head split .view(B, T, H, hs).transpose(1, 2), the scaling and the "
            "softmax axis"
        ),
        padding_fix=PADDING_FIX,
        diagnose=_attention_bug,
    )


def encoder_layer(checker: Checker, cls, norm_first: bool = False) -> None:
    """An encoder layer built with `norm_first` against torch.nn.TransformerEncoderLayer.

    A class without a `norm_first` argument is compared with both norm orders when asked for the
    default (post-norm), and fails when asked for pre-norm.
    """
    takes = "norm_first" in inspect.signature(cls).parameters
    if norm_first and not takes:
        checker.stop(
            Text(N_("{name} takes norm_first"), name=cls.__name__),
            Text(N_("keep the skeleton's `norm_first=False` argument; {rule}"), rule=PRE_NORM),
        )
    args = LAYER_ARGS | ({"norm_first": norm_first} if takes else {})
    student = build(checker, cls, args, "d_model, nhead, dim_feedforward, dropout, norm_first")
    substitute(checker, student, "MultiHeadSelfAttention", _attention_like)
    orders = [norm_first] if takes else [False, True]
    references = [TorchEncoderLayer(first, act) for first in orders for act in ("relu", "gelu")]

    def diagnose(reference, x, y):
        if not takes:
            return None
        other = TorchEncoderLayer(not norm_first).double().eval()
        if layers.copy_weights(student, other, (x,)) is not None:
            return None
        with torch.no_grad():
            if torch.allclose(y, other(x)):
                if norm_first:
                    said = N_("with norm_first=True it normalizes after the residual; {rule}")
                    return Text(said, rule=PRE_NORM)
                said = N_("with norm_first=False it normalizes before the residual; {rule}")
                return Text(said, rule=POST_NORM)
        return None

    layers.compare_layer(
        checker,
        student,
        references,
        kind=N_("encoder layer"),
        hint=Text(
            N_("check the residual connections and where norm1/norm2 go: {rule}"),
            rule=PRE_NORM if norm_first else POST_NORM,
        ),
        padding_fix=N_("pass key_padding_mask on to the attention"),
        diagnose=diagnose,
    )


def encoder(checker: Checker, cls, layer_class: type | None = None) -> None:
    """A stack of 2 encoder layers against torch.nn.TransformerEncoder; each of the student's
    layers is replaced by torch's, so what is judged is the stacking (order, mask passed on)."""
    layer_class = layer_class or getattr(sys.modules.get(cls.__module__), "EncoderLayer", None)
    args = {**LAYER_ARGS, "num_layers": 2}
    if layer_class is not None:
        args["encoder_layer"] = build(checker, layer_class, LAYER_ARGS, "d_model, nhead, ...")
    student = build(checker, cls, args, N_("encoder_layer or d_model/nhead/..., num_layers"))
    layer_name = layer_class.__name__ if layer_class is not None else "EncoderLayer"
    norm_first = any(getattr(m, "norm_first", False) for m in student.modules())
    make = lambda child: TorchEncoderLayer(norm_first)  # noqa: E731
    counted = "TorchEncoderLayer" if substitute(checker, student, layer_name, make) else layer_name
    checker.topic = "outputs"
    x = torch.randn(B, T, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    runs = Text(N_("{call} runs"), call="forward(x)")
    calls = call(checker, runs, lambda: layers.count_layer_calls(student, x, counted))
    checker.expect(
        calls == 2,
        Text.counted(
            "with num_layers=2, {name} runs {n} time in forward",
            "with num_layers=2, {name} runs {n} times in forward",
            calls,
            name=layer_name,
        ),
        N_("call every layer of the stack once, in order (e.g. `for layer in self.layers:`)"),
    )
    references = [
        TorchEncoder(TorchEncoderLayer(norm_first, act), final_norm)
        for act in ("relu", "gelu")
        for final_norm in (False, True)
    ]
    layers.compare_layer(
        checker,
        student,
        references,
        kind=N_("encoder"),
        hint=N_("run the layers in order, each on the previous output, and pass the mask to each"),
        padding_fix=N_("pass key_padding_mask on to every layer"),
    )


# ---- Task 2 -----------------------------------------------------------------------------------


def conformer_block(checker: Checker, cls) -> None:
    """A Conformer block (kernel 3) against torchaudio's ConformerLayer (BatchNorm or GroupNorm)."""
    student = build(
        checker,
        cls,
        CONFORMER_ARGS,
        "d_model, nhead, ffn_dim, kernel_size, dropout",
    )
    substitute(checker, student, "MultiHeadSelfAttention", _attention_like)
    layers.compare_layer(
        checker,
        student,
        [TorchaudioBlock(), TorchaudioBlock(use_group_norm=True)],
        kind=N_("conformer block"),
        hint=N_(
            "check the order: ½ FFN, attention, convolution module, ½ FFN, final LayerNorm, "
            "each with its residual; and the convolution module: LayerNorm, pointwise conv, GLU, "
            "depthwise conv, BatchNorm, SiLU, pointwise conv"
        ),
        padding_fix=N_(
            "pass key_padding_mask to the attention, and zero padded frames before the "
            "depthwise convolution"
        ),
    )
