"""Multi-head self-attention, written out so every step can be read, and checked against torch.nn.

Letters used in shapes: B batch, T frames (tokens), D model width (embed_dim), H heads,
hs = D // H the width of one head.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention over a batch-first sequence.

    The parameters have the names and shapes of ``torch.nn.MultiheadAttention`` (the query, key and
    value projections packed into one matrix), so that layer's state dict loads into this one with
    ``load_state_dict(strict=True)``, and the same seed gives the same initial weights:

    - ``in_proj_weight`` (3D, D): rows ``[0, D)`` project to queries, ``[D, 2D)`` to keys,
      ``[2D, 3D)`` to values; ``in_proj_bias`` (3D,) (absent when ``bias=False``);
    - ``out_proj``: ``nn.Linear(D, D)`` that mixes the heads back together.

    Two paths compute the same thing:

    - explicit (``fused=False``): scores = Q·Kᵀ/√hs, masked softmax over the keys, weights·V —
      the textbook formula, step by step;
    - fused (``fused=True``, the default): ``F.scaled_dot_product_attention``, which picks a fast
      kernel (FlashAttention and friends) and never stores the (B, H, T, T) weights.

    The explicit path runs whenever the weights are wanted (``need_weights=True`` or
    ``keep_attention=True``), since the fused kernel does not return them.

    Args:
        embed_dim: D, the width of the input and output.
        num_heads: H; must divide ``embed_dim``.
        dropout: probability of zeroing an attention weight during training (after the softmax,
            before the weights multiply V), like ``nn.MultiheadAttention``.
        bias: add biases to the input and output projections.
        fused: use ``F.scaled_dot_product_attention`` when the weights are not needed.

    Attributes:
        keep_attention: when ``True``, every forward stores its weights (B, H, T, T), detached,
            in ``last_attention`` — handy for plotting attention maps after a forward pass.
        last_attention: the stored weights, or ``None``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads != 0:
            divisors = [h for h in range(1, embed_dim + 1) if embed_dim % h == 0]
            raise ValueError(
                f"embed_dim={embed_dim} must be a positive multiple of num_heads={num_heads} (each "
                f"head gets embed_dim // num_heads channels); pick num_heads from {divisors}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout} must be in [0, 1)")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.fused = fused
        self.keep_attention = False
        self.last_attention: torch.Tensor | None = None

        # Created in torch.nn.MultiheadAttention's order so a seed gives the same initial weights.
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def forward(
        self,
        x: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        attn_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend every frame of ``x`` to every (non-padded) frame of ``x``.

        Args:
            x: (B, T, D) input.
            key_padding_mask: bool (B, T), ``True`` at padded frames; no query attends to them.
            need_weights: also return the attention weights.
            attn_mask: bool (T, T), ``True`` where query t may NOT attend to key s (torch.nn's
                bool convention), e.g. ``torch.ones(T, T, dtype=torch.bool).triu(1)`` for causal.

        Returns:
            y: (B, T, D).
            weights: (B, H, T, T) softmax weights (before dropout; each row sums to 1 over the
                allowed keys and is 0 at blocked keys) if ``need_weights``, else ``None``.
                A query with no allowed key at all (an example of length 0) gets all-zero weights
                and output ``out_proj.bias``, never NaN.
        """
        if x.dim() != 3:
            raise ValueError(f"x must be (B, T, D), got shape {tuple(x.shape)}")
        B, T, D = x.shape
        if D != self.embed_dim:
            raise ValueError(
                f"x has width {D} but this layer was built for embed_dim={self.embed_dim}"
            )
        blocked = self._blocked_pairs(key_padding_mask, attn_mask, B, T)  # (B, 1, T, T) or None
        H, hs = self.num_heads, self.head_dim

        # One matmul projects to queries, keys and values at once; split and separate the heads.
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3D)
        q, k, v = qkv.split(D, dim=2)  # 3 x (B, T, D)
        q = q.view(B, T, H, hs).transpose(1, 2)  # (B, H, T, hs)
        k = k.view(B, T, H, hs).transpose(1, 2)  # (B, H, T, hs)
        v = v.view(B, T, H, hs).transpose(1, 2)  # (B, H, T, hs)

        dropout_p = self.dropout if self.training else 0.0
        weights = None
        if self.fused and not (need_weights or self.keep_attention):
            allowed = None if blocked is None else ~blocked  # SDPA's bool mask: True = may attend
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout_p)
        else:
            y, weights = self._explicit_attention(q, k, v, blocked, dropout_p)  # y: (B, H, T, hs)

        y = y.transpose(1, 2).reshape(B, T, D)  # (B, H, T, hs) -> (B, T, H, hs) -> (B, T, D)
        y = self.out_proj(y)  # (B, T, D)
        if self.keep_attention:
            self.last_attention = weights.detach()
        return y, (weights if need_weights else None)

    @staticmethod
    def _explicit_attention(
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        blocked: torch.Tensor | None,
        dropout_p: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """softmax(Q·Kᵀ/√hs)·V for q, k, v of shape (B, H, T, hs); returns (output, weights)."""
        scores = q @ k.transpose(-2, -1)  # (B, H, T, hs) @ (B, H, hs, T) -> (B, H, T, T)
        scores = scores / math.sqrt(q.size(-1))  # keeps the softmax out of saturation as hs grows
        if blocked is not None:
            # The most negative finite number, not -inf: exp() of it is exactly 0 next to any real
            # score, and a row with every key blocked gives a finite (uniform) softmax, not NaN ...
            scores = scores.masked_fill(blocked, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1)  # (B, H, T, T), each row sums to 1
        if blocked is not None:
            # ... which this then zeroes, as scaled_dot_product_attention does for such rows.
            weights = weights.masked_fill(blocked, 0.0)
        y = F.dropout(weights, p=dropout_p) @ v  # (B, H, T, T) @ (B, H, T, hs) -> (B, H, T, hs)
        return y, weights

    @staticmethod
    def _blocked_pairs(
        key_padding_mask: torch.Tensor | None,
        attn_mask: torch.Tensor | None,
        B: int,
        T: int,
    ) -> torch.Tensor | None:
        """Merge both masks into one bool (B, 1, T, T) tensor, True where query t may not see key s."""
        blocked = None
        if key_padding_mask is not None:
            if key_padding_mask.dtype != torch.bool or key_padding_mask.shape != (B, T):
                raise ValueError(
                    f"key_padding_mask must be a bool tensor of shape (B, T) = ({B}, {T}) with "
                    f"True at padded frames, got dtype {key_padding_mask.dtype} and shape "
                    f"{tuple(key_padding_mask.shape)}; build it with "
                    f"kws.models.masks.lengths_to_mask(lengths, T)"
                )
            blocked = key_padding_mask[:, None, None, :]  # (B, 1, 1, T): the same for every query
        if attn_mask is not None:
            if attn_mask.dtype != torch.bool or attn_mask.shape != (T, T):
                raise ValueError(
                    f"attn_mask must be a bool tensor of shape (T, T) = ({T}, {T}) with True where "
                    f"attention is not allowed, got dtype {attn_mask.dtype} and shape "
                    f"{tuple(attn_mask.shape)}; turn a float mask into one with "
                    f"mask == float('-inf')"
                )
            pairs = attn_mask[None, None, :, :]  # (1, 1, T, T)
            blocked = pairs if blocked is None else blocked | pairs  # (B, 1, T, T)
        return blocked
