"""Conformer (Gulati et al., 2020), hand-written with torchaudio's argument names.

A Conformer block sandwiches attention (global context) and a depthwise convolution (local
context) between two half-step feed-forward networks::

    x = x + ½ FFN(x)
    x = x + MHSA(LayerNorm(x))
    x = x + Conv(x)          # LayerNorm -> pointwise -> GLU -> depthwise -> BatchNorm -> SiLU -> pointwise
    x = x + ½ FFN(x)
    y = LayerNorm(x)

``Conformer`` has the same parameter count as ``torchaudio.models.Conformer`` and, after
`load_torchaudio_state_dict`, the same outputs — with one deliberate difference at padding,
see `ConformerBlock`.

Letters used in shapes: B batch, T frames, D model width (input_dim), K depthwise kernel size.
"""

import re

import torch
import torch.nn.functional as F
from torch import nn

from kws.models.attention import MultiHeadSelfAttention
from kws.models.masks import lengths_to_mask


class _FeedForward(nn.Module):
    """LayerNorm -> Linear(D, ffn_dim) -> SiLU -> Dropout -> Linear(ffn_dim, D) -> Dropout."""

    def __init__(self, input_dim: int, hidden_dim: int, dropout: float) -> None:
        super().__init__()
        self.layer_norm = nn.LayerNorm(input_dim)
        self.linear1 = nn.Linear(input_dim, hidden_dim)
        self.linear2 = nn.Linear(hidden_dim, input_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(F.silu(self.linear1(self.layer_norm(x))))  # (B, T, ffn_dim)
        return self.dropout(self.linear2(hidden))  # (B, T, D)


class _ConvolutionModule(nn.Module):
    """LayerNorm -> pointwise -> GLU -> (mask) -> depthwise -> BatchNorm -> SiLU -> pointwise -> Dropout.

    A pointwise (kernel-size 1) convolution is a Linear layer applied at every frame, so the two
    pointwise convolutions are ``nn.Linear`` on (B, T, D): no transposes needed around them.
    Only the depthwise convolution and the norm after it work channels-first, on (B, D, T).
    """

    def __init__(
        self,
        input_dim: int,
        kernel_size: int,
        dropout: float,
        use_group_norm: bool,
    ) -> None:
        super().__init__()
        self.layer_norm = nn.LayerNorm(input_dim)
        self.pointwise_conv1 = nn.Linear(input_dim, 2 * input_dim)  # doubled for the GLU gate
        self.depthwise_conv = nn.Conv1d(
            input_dim,
            input_dim,
            kernel_size,
            padding=(kernel_size - 1) // 2,  # "same" length out
            groups=input_dim,  # one filter per channel
        )
        if use_group_norm:
            self.norm = nn.GroupNorm(num_groups=1, num_channels=input_dim)
        else:
            self.norm = nn.BatchNorm1d(input_dim)
        self.pointwise_conv2 = nn.Linear(input_dim, input_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.layer_norm(x)  # (B, T, D)
        x = F.glu(self.pointwise_conv1(x), dim=-1)  # (B, T, 2D) -> (B, T, D): a * sigmoid(gate)
        if key_padding_mask is not None:
            # Padded frames must not leak into valid ones through the kernel's reach.
            x = x.masked_fill(key_padding_mask.unsqueeze(-1), 0.0)  # (B, T, D)
        x = x.transpose(1, 2)  # (B, D, T): Conv1d and the norms want channels first
        x = F.silu(self.norm(self.depthwise_conv(x)))  # (B, D, T)
        x = x.transpose(1, 2)  # (B, T, D)
        return self.dropout(self.pointwise_conv2(x))  # (B, T, D)


class ConformerBlock(nn.Module):
    """One Conformer layer (torchaudio's ``ConformerLayer``), batch-first.

    Args:
        input_dim: D, the frame width.
        ffn_dim: hidden width of both feed-forward networks.
        num_attention_heads: attention heads; must divide ``input_dim``.
        depthwise_conv_kernel_size: K, odd, so the convolution keeps the length ("same" padding).
        dropout: dropout probability everywhere (attention weights, feed-forward, residuals).
        use_group_norm: GroupNorm(1 group) instead of BatchNorm1d after the depthwise convolution.
        convolution_first: run the convolution module before the attention module.

    Padding: the convolution module sets padded frames to 0 just before the depthwise convolution,
    so (in eval mode, with BatchNorm) the valid frames of an example do not depend on the padding
    at all — they equal the output for that example alone, unpadded. torchaudio does not mask
    there, so with padding its outputs differ from ours: in a single block with the convolution
    after the attention, at the last K // 2 valid frames of every padded example; once attention
    follows a convolution (``convolution_first``, or a second block), at every valid frame. Zeros
    in the padded input frames do not help: after the first feed-forward network and the
    attention they are no longer zero. Without padding both give the same outputs. What stays
    padding-dependent, in both: BatchNorm's batch statistics in training mode, and GroupNorm's
    statistics (always), which run over all T frames, padded ones included.
    """

    def __init__(
        self,
        input_dim: int,
        ffn_dim: int,
        num_attention_heads: int,
        depthwise_conv_kernel_size: int,
        dropout: float = 0.0,
        use_group_norm: bool = False,
        convolution_first: bool = False,
    ) -> None:
        super().__init__()
        if num_attention_heads <= 0 or input_dim % num_attention_heads != 0:
            raise ValueError(
                f"input_dim={input_dim} must be divisible by num_attention_heads="
                f"{num_attention_heads}; change one of them"
            )
        if depthwise_conv_kernel_size < 1 or depthwise_conv_kernel_size % 2 == 0:
            raise ValueError(
                f"depthwise_conv_kernel_size={depthwise_conv_kernel_size} must be a positive odd "
                f"number (so 'same' padding keeps the length), e.g. 31"
            )
        self.convolution_first = convolution_first
        self.ffn1 = _FeedForward(input_dim, ffn_dim, dropout)
        self.self_attn_layer_norm = nn.LayerNorm(input_dim)
        self.self_attn = MultiHeadSelfAttention(input_dim, num_attention_heads, dropout=dropout)
        self.self_attn_dropout = nn.Dropout(dropout)
        self.conv_module = _ConvolutionModule(
            input_dim, depthwise_conv_kernel_size, dropout, use_group_norm
        )
        self.ffn2 = _FeedForward(input_dim, ffn_dim, dropout)
        self.final_layer_norm = nn.LayerNorm(input_dim)

    def forward(
        self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, T, D) frames and an optional bool (B, T) mask, True at padding -> (B, T, D)."""
        x = x + 0.5 * self.ffn1(x)
        if self.convolution_first:
            x = x + self.conv_module(x, key_padding_mask)
        y, _ = self.self_attn(self.self_attn_layer_norm(x), key_padding_mask=key_padding_mask)
        x = x + self.self_attn_dropout(y)
        if not self.convolution_first:
            x = x + self.conv_module(x, key_padding_mask)
        x = x + 0.5 * self.ffn2(x)
        return self.final_layer_norm(x)  # (B, T, D)


class Conformer(nn.Module):
    """A stack of Conformer blocks with torchaudio's arguments; ``forward(x, lengths)``.

    Args:
        input_dim: D, the frame width.
        num_heads: attention heads per block; must divide ``input_dim``.
        ffn_dim: hidden width of the feed-forward networks.
        num_layers: number of blocks, ``self.layers[0]`` ... ``self.layers[n-1]``.
        depthwise_conv_kernel_size: K, odd.
        dropout: dropout probability.
        use_group_norm: GroupNorm instead of BatchNorm1d in the convolution modules.
        convolution_first: convolution before attention in every block.

    See `ConformerBlock` for how padding is handled (and where it differs from torchaudio).
    """

    def __init__(
        self,
        input_dim: int,
        num_heads: int,
        ffn_dim: int,
        num_layers: int,
        depthwise_conv_kernel_size: int,
        dropout: float = 0.0,
        use_group_norm: bool = False,
        convolution_first: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers={num_layers} must be at least 1")
        self.layers = nn.ModuleList(
            ConformerBlock(
                input_dim,
                ffn_dim,
                num_heads,
                depthwise_conv_kernel_size,
                dropout=dropout,
                use_group_norm=use_group_norm,
                convolution_first=convolution_first,
            )
            for _ in range(num_layers)
        )

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run every block.

        Args:
            x: (B, T, D) frames, padded after each example's length.
            lengths: int (B,) valid frames per example; ``None`` means every example is T long.

        Returns:
            y: (B, T, D); values at padded frames are meaningless (mask them when pooling).
            lengths: (B,), unchanged (the Conformer keeps the frame rate).
        """
        if x.dim() != 3:
            raise ValueError(f"x must be (B, T, D), got shape {tuple(x.shape)}")
        B, T, _ = x.shape
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=x.device)
            key_padding_mask = None
        else:
            if lengths.shape != (B,):
                raise ValueError(
                    f"lengths must have shape (B,) = ({B},), got {tuple(lengths.shape)}"
                )
            # lengths often live on the CPU (from a data loader) while x is on the GPU
            key_padding_mask = lengths_to_mask(lengths, T).to(x.device)  # (B, T)
        for layer in self.layers:
            x = layer(x, key_padding_mask)  # (B, T, D)
        return x, lengths


# torchaudio keeps its sub-layers in nn.Sequential, so its keys carry indices; ours carry names.
_TORCHAUDIO_KEY_RULES = [
    (r"^conformer_layers\.", "layers."),
    (r"(ffn[12])\.sequential\.0\.", r"\1.layer_norm."),
    (r"(ffn[12])\.sequential\.1\.", r"\1.linear1."),
    (r"(ffn[12])\.sequential\.4\.", r"\1.linear2."),
    (r"conv_module\.sequential\.0\.", "conv_module.pointwise_conv1."),
    (r"conv_module\.sequential\.2\.", "conv_module.depthwise_conv."),
    (r"conv_module\.sequential\.3\.", "conv_module.norm."),
    (r"conv_module\.sequential\.5\.", "conv_module.pointwise_conv2."),
]


def convert_torchaudio_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename (and reshape) a torchaudio Conformer / ConformerLayer state dict into ours.

    Keys are renamed by ``_TORCHAUDIO_KEY_RULES``; the pointwise Conv1d weights (out, in, 1) lose
    their kernel axis to become Linear weights (out, in). Works for a whole
    ``torchaudio.models.Conformer`` (keys ``conformer_layers.{i}.*`` -> ``layers.{i}.*``) and for a
    single ``ConformerLayer`` (-> `ConformerBlock`).
    """
    converted = {}
    for key, value in state_dict.items():
        new_key = key
        for pattern, replacement in _TORCHAUDIO_KEY_RULES:
            new_key = re.sub(pattern, replacement, new_key)
        if re.search(r"pointwise_conv[12]\.weight$", new_key):
            value = value.squeeze(-1)  # (out, in, 1) -> (out, in)
        converted[new_key] = value
    return converted


def load_torchaudio_state_dict(
    model: Conformer | ConformerBlock, state_dict: dict[str, torch.Tensor]
) -> None:
    """Load torchaudio Conformer (or ConformerLayer) weights into ``model``, strictly.

    Example::

        theirs = torchaudio.models.Conformer(80, 4, 128, 2, 31)
        ours = Conformer(80, 4, 128, 2, 31)
        load_torchaudio_state_dict(ours, theirs.state_dict())
    """
    model.load_state_dict(convert_torchaudio_state_dict(state_dict), strict=True)
