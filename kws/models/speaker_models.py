"""Speaker classifiers for the HW4 features: 40 log-mels per frame in, speaker logits out.

``forward(features (B, T, 40), lengths (B,) | None) -> logits (B, C)``; features are padded (with
-20 in the HW4 recipe) after each utterance's length, and padded frames never change the output
of a valid utterance. Letters used in shapes: B batch, T frames, F mel bins, D model size,
C speakers.
"""

from dataclasses import dataclass

import torch
from torch import nn

from kws.models.conformer import Conformer
from kws.models.losses import AMSoftmax, CosineClassifier
from kws.models.masks import lengths_to_mask
from kws.models.pooling import MeanPooling, SelfAttentionPooling
from kws.models.transformer import TransformerEncoder, TransformerEncoderLayer


def _check_features(model: nn.Module, x: torch.Tensor, n_mels: int) -> None:
    if x.dim() != 3 or x.size(-1) != n_mels:
        raise ValueError(
            f"{type(model).__name__} takes features (B, T, {n_mels}), got shape {tuple(x.shape)}; "
            f"add a batch dimension with x.unsqueeze(0) for a single utterance"
        )


@dataclass(frozen=True)
class HW4SampleConfig:
    """The HW4 sample model: 125,896 parameters (its encoder layer 67,536)."""

    n_classes: int = 600
    n_mels: int = 40
    d_model: int = 80
    nhead: int = 2
    dim_feedforward: int = 256
    dropout: float = 0.1


class HW4Sample(nn.Module):
    """Linear(40, 80) prenet -> one encoder layer (d 80, 2 heads, ff 256) -> mean over the valid
    frames -> Linear(80, 80) + ReLU -> Linear(80, C). (The homework averaged over padded frames
    too; here the mean is masked, so padding does not change the output.)"""

    config_class = HW4SampleConfig

    def __init__(self, config: HW4SampleConfig):
        super().__init__()
        self.config = config
        self.prenet = nn.Linear(config.n_mels, config.d_model)
        self.encoder_layer = TransformerEncoderLayer(
            config.d_model, config.nhead, config.dim_feedforward, dropout=config.dropout
        )
        self.pooling = MeanPooling()
        self.pred_layer = nn.Sequential(
            nn.Linear(config.d_model, config.d_model),
            nn.ReLU(),
            nn.Linear(config.d_model, config.n_classes),
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        _check_features(self, x, self.config.n_mels)
        mask = None if lengths is None else lengths_to_mask(lengths, x.size(1))  # (B, T)
        x = self.encoder_layer(self.prenet(x), src_key_padding_mask=mask)  # (B, T, D)
        return self.pred_layer(self.pooling(x, lengths))  # (B, C)


@dataclass(frozen=True)
class SpeakerClassifierConfig:
    """Settings shared by `SpeakerTransformer` and `SpeakerConformer`.

    pooling: ``"mean"`` (masked mean) or ``"attention"`` (self-attention pooling).
    batch_norm: a BatchNorm1d right before the classifier (course TASK 2).
    head: ``"linear"`` (logits for cross-entropy) or ``"cosine"`` (cosines for AM-softmax,
        course TASK 3); ``margin`` and ``scale`` are the AM-softmax settings `criterion`
        builds the loss with.
    """

    n_classes: int = 600
    n_mels: int = 40
    d_model: int = 128
    nhead: int = 4
    dim_feedforward: int = 256
    num_layers: int = 3
    dropout: float = 0.1
    pooling: str = "mean"
    batch_norm: bool = False
    head: str = "linear"
    margin: float = 0.3
    scale: float = 30.0

    def __post_init__(self):
        if self.pooling not in ("mean", "attention"):
            raise ValueError(f"pooling must be 'mean' or 'attention', got {self.pooling!r}")
        if self.head not in ("linear", "cosine"):
            raise ValueError(f"head must be 'linear' or 'cosine', got {self.head!r}")


@dataclass(frozen=True)
class SpeakerConformerConfig(SpeakerClassifierConfig):
    """Conformer defaults: 2 blocks, kernel 15, attention pooling and BatchNorm before the head."""

    num_layers: int = 2
    depthwise_conv_kernel_size: int = 15
    pooling: str = "attention"
    batch_norm: bool = True


class _SpeakerClassifier(nn.Module):
    """prenet Linear(F, D) -> encoder (subclass) -> pooling -> [BatchNorm1d] -> Linear or cosine."""

    def __init__(self, config: SpeakerClassifierConfig):
        super().__init__()
        self.config = config
        self.prenet = nn.Linear(config.n_mels, config.d_model)
        self.encoder = self._build_encoder(config)
        if config.pooling == "mean":
            self.pooling = MeanPooling()
        else:
            self.pooling = SelfAttentionPooling(config.d_model)
        self.norm = nn.BatchNorm1d(config.d_model) if config.batch_norm else nn.Identity()
        if config.head == "linear":
            self.classifier = nn.Linear(config.d_model, config.n_classes)
        else:
            self.classifier = CosineClassifier(config.d_model, config.n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        _check_features(self, x, self.config.n_mels)
        x = self._encode(self.prenet(x), lengths)  # (B, T, D)
        return self.classifier(self.norm(self.pooling(x, lengths)))  # (B, D) -> (B, C)


class SpeakerTransformer(_SpeakerClassifier):
    """Speaker classifier on the hand-written post-norm TransformerEncoder. With the defaults
    (d 128, 4 heads, ff 256, 3 layers) the encoder has 397,440 parameters: within course TASK 1's
    layer and parameter limits (kws/assignments/speaker_id/spec.toml)."""

    config_class = SpeakerClassifierConfig

    def _build_encoder(self, config: SpeakerClassifierConfig) -> nn.Module:
        layer = TransformerEncoderLayer(
            config.d_model, config.nhead, config.dim_feedforward, dropout=config.dropout
        )
        return TransformerEncoder(layer, config.num_layers)

    def _encode(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        mask = None if lengths is None else lengths_to_mask(lengths, x.size(1))  # (B, T)
        return self.encoder(x, src_key_padding_mask=mask)  # (B, T, D)


class SpeakerConformer(_SpeakerClassifier):
    """Speaker classifier on the hand-written Conformer (course TASK 2)."""

    config_class = SpeakerConformerConfig

    def _build_encoder(self, config: SpeakerConformerConfig) -> nn.Module:
        return Conformer(
            input_dim=config.d_model,
            num_heads=config.nhead,
            ffn_dim=config.dim_feedforward,
            num_layers=config.num_layers,
            depthwise_conv_kernel_size=config.depthwise_conv_kernel_size,
            dropout=config.dropout,
        )

    def _encode(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        return self.encoder(x, lengths)[0]  # (B, T, D)


def criterion(model: nn.Module, label_smoothing: float = 0.0) -> nn.Module:
    """The training loss that fits a model's head: AM-softmax for a cosine head, else
    cross-entropy (with optional label smoothing). Called as ``loss_fn(model(x), targets)``."""
    config = getattr(model, "config", None)
    if getattr(config, "head", "linear") == "cosine":
        if label_smoothing:
            raise ValueError(
                f"label_smoothing={label_smoothing} has no meaning for AM-softmax (cosine head); "
                f"pass 0.0"
            )
        return AMSoftmax(margin=config.margin, scale=config.scale)
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
