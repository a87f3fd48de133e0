"""Pooling over time: turn a sequence (B, T, D) with valid lengths into one vector (B, D).

Letters used in shapes: B batch, T frames (time steps), D features.
"""

import torch
from torch import nn

from kws.models.masks import lengths_to_mask


def masked_mean(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the valid frames of each example.

    Args:
        x: (B, T, D) padded sequences.
        lengths: (B,) valid frames per example, or ``None`` when nothing is padded.

    Returns:
        (B, D), the mean of ``x[b, :lengths[b]]``; padded frames never enter it.
    """
    if lengths is None:
        return x.mean(dim=1)
    valid = ~lengths_to_mask(lengths, x.size(1))  # (B, T)
    total = (x * valid.unsqueeze(-1)).sum(dim=1)  # (B, D)
    count = lengths.clamp(min=1).unsqueeze(-1).to(x.dtype)  # (B, 1)
    return total / count


class MeanPooling(nn.Module):
    """`masked_mean` as a module: forward(x (B, T, D), lengths (B,) | None) -> (B, D)."""

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return masked_mean(x, lengths)


class SelfAttentionPooling(nn.Module):
    """Weighted mean over time with learned weights (self-attention pooling).

    A linear layer scores each frame, a softmax over the valid frames turns the scores into
    weights, and the output is the weighted sum of the frames. Parameters: ``d_model + 1``.

    Args:
        d_model: D, the feature size of the frames.

    Shapes:
        forward(x (B, T, D), lengths (B,) | None) -> (B, D).
        After a forward pass, ``last_weights`` holds the weights (B, T) (for plots).
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.score = nn.Linear(d_model, 1)
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        scores = self.score(x).squeeze(-1)  # (B, T)
        if lengths is not None:
            scores = scores.masked_fill(lengths_to_mask(lengths, x.size(1)), float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, T)
        self.last_weights = weights.detach()
        return (weights.unsqueeze(1) @ x).squeeze(1)  # (B, 1, T) @ (B, T, D) -> (B, D)
