"""Additive-margin softmax (AM-softmax) and the cosine classifier head it needs.

A `CosineClassifier` outputs the cosine between an embedding and each class's weight
vector; `AMSoftmax` subtracts a margin from the cosine of the true class and scales all
cosines before a cross-entropy, which pulls embeddings of one class together and pushes classes
apart (Wang et al., 2018, "Additive Margin Softmax for Face Verification"). At test time the
prediction is simply the class with the largest cosine.

Letters used in shapes: B batch, D embedding size, C classes.
"""

import torch
import torch.nn.functional as F
from torch import nn


class CosineClassifier(nn.Module):
    """Cosine similarity between normalised embeddings and normalised class weights.

    Args:
        in_features: D, the embedding size.
        n_classes: C, the number of classes.

    Shapes:
        forward(x (B, D)) -> cosines (B, C) in [-1, 1]; predictions are ``cosines.argmax(-1)``.
    """

    def __init__(self, in_features: int, n_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, in_features))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) @ F.normalize(self.weight, dim=-1).T  # (B, D) @ (D, C)

    def extra_repr(self) -> str:
        return f"in_features={self.weight.size(1)}, n_classes={self.weight.size(0)}"


class AMSoftmax(nn.Module):
    """Additive-margin softmax loss on cosine logits.

    ``loss = cross_entropy(scale * (cosines - margin * one_hot(targets)), targets)``.

    Args:
        margin: m, subtracted from the true class's cosine (0.2-0.4 is typical; 0 gives a
            plain scaled-cosine softmax).
        scale: s, the inverse temperature; cosines live in [-1, 1], so a large scale (e.g. 30)
            is needed for the softmax to become confident.

    Shapes:
        forward(cosines (B, C), targets (B,) int64) -> scalar loss (mean over the batch).
    """

    def __init__(self, margin: float = 0.3, scale: float = 30.0):
        super().__init__()
        if margin < 0:
            raise ValueError(f"AMSoftmax margin must be >= 0, got {margin}")
        if scale <= 0:
            raise ValueError(f"AMSoftmax scale must be > 0, got {scale}")
        self.margin = margin
        self.scale = scale

    def forward(self, cosines: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if cosines.dim() != 2 or targets.shape != cosines.shape[:1]:
            raise ValueError(
                f"AMSoftmax expects cosines (B, C) and targets (B,), got {tuple(cosines.shape)} "
                f"and {tuple(targets.shape)}"
            )
        margins = F.one_hot(targets, cosines.size(1)).to(cosines.dtype) * self.margin  # (B, C)
        return F.cross_entropy(self.scale * (cosines - margins), targets)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, scale={self.scale}"
