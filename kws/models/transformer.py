"""Transformer encoder layer and stack, hand-written with torch.nn's names.

Both classes take ``torch.nn.TransformerEncoderLayer`` / ``torch.nn.TransformerEncoder``'s
constructor arguments (batch-first only) and have the same state-dict keys, so a torch.nn model's
weights load into them with ``load_state_dict(strict=True)`` and give the same outputs, and the
same seed gives the same initial weights.

Letters used in shapes: B batch, T frames (tokens), D model width (d_model).
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from kws.models.attention import MultiHeadSelfAttention

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(nn.Module):
    """One encoder layer: self-attention then a feed-forward network, each with a residual.

    Post-norm (``norm_first=False``, the original Transformer and torch.nn's default)::

        x = norm1(x + dropout1(self_attn(x)))
        x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))

    Pre-norm (``norm_first=True``, easier to train deep)::

        x = x + dropout1(self_attn(norm1(x)))
        x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))

    Args:
        d_model: D, the token width.
        nhead: number of attention heads; must divide ``d_model``.
        dim_feedforward: hidden width of the feed-forward network.
        dropout: dropout probability on the attention weights, inside the feed-forward network and
            on both residual branches.
        activation: ``"relu"`` or ``"gelu"``.
        layer_norm_eps: epsilon of both LayerNorms.
        norm_first: pre-norm instead of post-norm.
        bias: biases in the linear layers, the attention projections and the LayerNorms.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        norm_first: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if nhead <= 0 or d_model % nhead != 0:
            divisors = [h for h in range(1, d_model + 1) if d_model % h == 0]
            raise ValueError(
                f"d_model={d_model} must be divisible by nhead={nhead} (each head gets "
                f"d_model // nhead channels); pick nhead from {divisors}"
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not one of {sorted(_ACTIVATIONS)}")
        if dim_feedforward <= 0:
            raise ValueError(f"dim_feedforward={dim_feedforward} must be positive")
        # Submodules in torch.nn's order, so a seed gives the same initial weights.
        self.self_attn = MultiHeadSelfAttention(d_model, nhead, dropout=dropout, bias=bias)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = _ACTIVATIONS[activation]

    def forward(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        src_key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the layer.

        Args:
            src: (B, T, D) tokens.
            src_mask: optional bool (T, T), ``True`` where query t may not attend to key s.
            src_key_padding_mask: optional bool (B, T), ``True`` at padded frames.

        Returns:
            (B, T, D). Padded frames are computed too (they attend to the valid ones) but no valid
            frame depends on them.
        """
        x = src
        if self.norm_first:
            x = x + self._attention_block(self.norm1(x), src_mask, src_key_padding_mask)
            x = x + self._feed_forward_block(self.norm2(x))
        else:
            x = self.norm1(x + self._attention_block(x, src_mask, src_key_padding_mask))
            x = self.norm2(x + self._feed_forward_block(x))
        return x

    def _attention_block(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None,
        key_padding_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        y, _ = self.self_attn(x, key_padding_mask=key_padding_mask, attn_mask=attn_mask)
        return self.dropout1(y)  # (B, T, D)

    def _feed_forward_block(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(self.activation(self.linear1(x)))  # (B, T, dim_feedforward)
        return self.dropout2(self.linear2(hidden))  # (B, T, D)


class TransformerEncoder(nn.Module):
    """A stack of ``num_layers`` independent copies of ``encoder_layer``, then an optional norm.

    Args:
        encoder_layer: the layer to copy (its weights are copied too; each copy is trained
            separately). Usually a `TransformerEncoderLayer`.
        num_layers: how many copies, >= 1; they are ``self.layers[0]`` ... ``self.layers[n-1]``.
        norm: optional module applied to the output of the last layer (e.g. ``nn.LayerNorm(D)``,
            needed after pre-norm layers).
    """

    def __init__(
        self,
        encoder_layer: nn.Module,
        num_layers: int,
        norm: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers={num_layers} must be at least 1")
        self.layers = nn.ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        src: torch.Tensor,
        mask: torch.Tensor | None = None,
        src_key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run every layer in turn.

        Args:
            src: (B, T, D) tokens.
            mask: optional bool (T, T), ``True`` where query t may not attend to key s.
            src_key_padding_mask: optional bool (B, T), ``True`` at padded frames.

        Returns:
            (B, T, D).
        """
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask)  # (B, T, D)
        if self.norm is not None:
            x = self.norm(x)
        return x
