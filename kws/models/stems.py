"""Stems: turn a feature sequence (B, T, F) into the tokens a Transformer attends over.

- `ConvSubsampling`: two 3x3 stride-2 convolutions (as in the Speech-Transformer), which cut
  the number of frames by 4, then a linear projection to ``d_model``.
- `PatchEmbedding`: AST-style spectrogram patches, a CLS token, a learned 2-D position
  embedding and PaSST-style patch-out (dropping patches while training).

Letters used in shapes: B batch, T frames, F mel bins, C channels, D model size, N tokens.
"""

from typing import Literal

import torch
from torch import nn

from kws.models.masks import lengths_to_mask


def conv_output_length(lengths: torch.Tensor, kernel: int, stride: int, padding: int = 0):
    """Output length of a convolution along one axis: ``(L + 2p - k) // s + 1``, floored at 0."""
    return (torch.div(lengths + 2 * padding - kernel, stride, rounding_mode="floor") + 1).clamp(
        min=0
    )


class ConvSubsampling(nn.Module):
    """Two Conv2d(3x3, stride 2, padding 1) + BatchNorm + ReLU blocks, then a linear projection.

    The convolutions see the features as a one-channel image (B, 1, T, F) and return
    (B, C, T', F') with ``T' = ceil(ceil(T / 2) / 2)`` (101 frames -> 26) and likewise F'.
    Two token layouts:

    - ``"frames"`` (Speech-Transformer): each of the T' frames is one token; its C x F' values are
      flattened and projected: Linear(C * F', D). Output (B, T', D), lengths in frames.
    - ``"positions"`` (the course's conv-stem KWS Transformer): each (time, frequency) position is
      one token of C values: Linear(C, D). Tokens are ordered time-major (all F' positions of the
      first frame, then the next frame), so padding stays at the end. Output (B, T' * F', D),
      lengths = T' * F' (64 mels x 101 frames -> 16 x 26 = 416 tokens).

    Padded frames are set to zero before each convolution, so the zeros a valid frame sees past
    the end of its example are the same as the convolution's own zero padding: the outputs of a
    padded example equal those of the example alone (in eval mode).

    Args:
        n_features: F, the feature size of the input frames (e.g. 64 mel bins).
        d_model: D, the token size after the projection.
        channels: output channels of the first and second convolution.
        layout: ``"frames"`` or ``"positions"`` (see above).

    Shapes:
        forward(x (B, T, F), lengths (B,) | None) -> (tokens (B, N, D), lengths (B,) | None).
    """

    def __init__(
        self,
        n_features: int,
        d_model: int,
        channels: tuple[int, int] = (32, 64),
        layout: Literal["frames", "positions"] = "frames",
    ):
        super().__init__()
        if layout not in ("frames", "positions"):
            raise ValueError(
                f"ConvSubsampling layout must be 'frames' or 'positions', got {layout!r}"
            )
        if len(channels) != 2:
            raise ValueError(f"ConvSubsampling needs two channel counts, got channels={channels}")
        self.layout = layout
        self.n_features = n_features
        self.conv1 = self._block(1, channels[0])
        self.conv2 = self._block(channels[0], channels[1])
        self.out_features = (n_features - 1) // 2 // 2 + 1 if n_features > 0 else 0  # F'
        in_proj = channels[1] * self.out_features if layout == "frames" else channels[1]
        self.proj = nn.Linear(in_proj, d_model)

    @staticmethod
    def _block(in_channels: int, out_channels: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.dim() != 3 or x.size(-1) != self.n_features:
            raise ValueError(
                f"ConvSubsampling expects features (B, T, {self.n_features}), got "
                f"{tuple(x.shape)}; check n_features against the front-end's n_mels"
            )
        x = x.unsqueeze(1)  # (B, 1, T, F)
        for conv in (self.conv1, self.conv2):
            if lengths is not None:
                x = x.masked_fill(lengths_to_mask(lengths, x.size(2))[:, None, :, None], 0.0)
                lengths = conv_output_length(lengths, kernel=3, stride=2, padding=1)
            x = conv(x)  # (B, C, T', F')
        batch, channels, frames, freqs = x.shape
        if self.layout == "frames":
            x = x.permute(0, 2, 1, 3).reshape(batch, frames, channels * freqs)  # (B, T', C*F')
        else:
            x = x.permute(0, 2, 3, 1).reshape(batch, frames * freqs, channels)  # (B, T'*F', C)
            if lengths is not None:
                lengths = lengths * freqs
        return self.proj(x), lengths  # (B, N, D)


class PatchEmbedding(nn.Module):
    """AST-style patch embedding with a CLS token, 2-D positions and patch-out.

    The spectrogram (B, 1, F, T) is cut into ``patch_size`` patches every ``stride`` bins/frames
    (overlapping when the stride is smaller than the patch) by a Conv2d that also projects each
    patch to D values, giving a grid of F' x T' patches. Each grid position has its own learned
    position vector; tokens are ordered time-major and a learned CLS token is put first.

    Patch-out (PaSST), in training mode only: ``patchout_time`` whole time columns and
    ``patchout_freq`` whole frequency rows are dropped (the same ones for the whole batch), then a
    fraction ``patchout_random`` of the remaining patches is dropped independently per example.
    Fewer tokens make training faster and act as a regulariser; ``eval()`` keeps every patch.

    A time column is valid when its patch lies entirely inside the example's frames; padded
    examples therefore get the same valid tokens as the example alone, and a key-padding mask
    (True = padding) marks the rest.

    Args:
        n_mels: F, the number of mel bins the model is built for (inputs must match it).
        n_frames: the largest number of frames T (sizes the position embedding).
        d_model: D, the token size.
        patch_size: (frequency, time) size of a patch.
        stride: (frequency, time) step between patches.
        patchout_time: time columns dropped per training batch.
        patchout_freq: frequency rows dropped per training batch.
        patchout_random: fraction in [0, 1) of the remaining patches dropped per example.

    Shapes:
        forward(x (B, T, F), lengths (B,) | None) -> (tokens (B, 1 + N, D), mask (B, 1 + N) | None);
        N = F' * T' without patch-out. The mask is None when there is no padding.
    """

    def __init__(
        self,
        n_mels: int,
        n_frames: int,
        d_model: int,
        patch_size: tuple[int, int] = (16, 16),
        stride: tuple[int, int] = (10, 10),
        patchout_time: int = 0,
        patchout_freq: int = 0,
        patchout_random: float = 0.0,
    ):
        super().__init__()
        if patch_size[0] > n_mels or patch_size[1] > n_frames:
            raise ValueError(
                f"patch_size {tuple(patch_size)} (frequency, time) is larger than the input "
                f"({n_mels} mel bins, {n_frames} frames); use a smaller patch or more mel bins"
            )
        if not 0.0 <= patchout_random < 1.0:
            raise ValueError(f"patchout_random must be in [0, 1), got {patchout_random}")
        self.n_mels, self.n_frames = n_mels, n_frames
        self.patch_size, self.stride = tuple(patch_size), tuple(stride)
        self.grid = (
            (n_mels - patch_size[0]) // stride[0] + 1,
            (n_frames - patch_size[1]) // stride[1] + 1,
        )
        if patchout_freq >= self.grid[0] or patchout_time >= self.grid[1]:
            raise ValueError(
                f"patch-out would drop every patch: patchout_freq={patchout_freq}, "
                f"patchout_time={patchout_time} for a grid of {self.grid} (frequency, time) patches"
            )
        self.patchout_time, self.patchout_freq = patchout_time, patchout_freq
        self.patchout_random = patchout_random
        self.proj = nn.Conv2d(1, d_model, kernel_size=self.patch_size, stride=self.stride)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos_embedding = nn.Parameter(torch.zeros(1, self.grid[1], self.grid[0], d_model))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embedding, std=0.02)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, frames, mels = x.shape
        if mels != self.n_mels or not self.patch_size[1] <= frames <= self.n_frames:
            raise ValueError(
                f"PatchEmbedding expects (B, T, {self.n_mels}) with {self.patch_size[1]} <= T <= "
                f"{self.n_frames}, got {tuple(x.shape)}; pad short clips or build the model with "
                f"a larger n_frames"
            )
        x = self.proj(x.transpose(1, 2).unsqueeze(1))  # (B, D, F', T')
        x = x.permute(0, 3, 2, 1)  # (B, T', F', D)
        cols, rows = x.size(1), x.size(2)
        x = x + self.pos_embedding[:, :cols]  # (B, T', F', D)
        valid = torch.ones(batch, cols, rows, dtype=torch.bool, device=x.device)  # (B, T', F')
        if lengths is not None:
            valid_cols = conv_output_length(lengths, self.patch_size[1], self.stride[1])  # (B,)
            valid = valid & ~lengths_to_mask(valid_cols, cols)[:, :, None]
        if self.training:
            x, valid = self._drop_rows_and_columns(x, valid)
        x = x.reshape(batch, -1, x.size(-1))  # (B, N, D)
        valid = valid.reshape(batch, -1)  # (B, N)
        if self.training and self.patchout_random > 0:
            x, valid = self._drop_random(x, valid)
        x = torch.cat([self.cls_token.expand(batch, -1, -1), x], dim=1)  # (B, 1 + N, D)
        if lengths is None:
            return x, None
        mask = torch.cat([valid.new_zeros(batch, 1), ~valid], dim=1)  # (B, 1 + N)
        return x, mask

    def _drop_rows_and_columns(self, x, valid):
        cols, rows = x.size(1), x.size(2)
        drop_cols = min(self.patchout_time, cols - 1)  # short inputs keep at least one column
        if drop_cols > 0:
            keep = torch.randperm(cols, device=x.device)[: cols - drop_cols].sort().values
            x, valid = x[:, keep], valid[:, keep]
        if self.patchout_freq > 0:
            keep = torch.randperm(rows, device=x.device)[: rows - self.patchout_freq].sort().values
            x, valid = x[:, :, keep], valid[:, :, keep]
        return x, valid

    def _drop_random(self, x, valid):
        batch, tokens, dim = x.shape
        n_keep = max(1, tokens - round(self.patchout_random * tokens))
        keep = torch.rand(batch, tokens, device=x.device).argsort(dim=1)[:, :n_keep]  # (B, K)
        keep = keep.sort(dim=1).values
        x = x.gather(1, keep.unsqueeze(-1).expand(-1, -1, dim))  # (B, K, D)
        return x, valid.gather(1, keep)
