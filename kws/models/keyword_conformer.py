"""The reference keyword Transformer for real speech: a conv stem, Conformer blocks, mean pooling.

What makes a Transformer work on a few thousand real one-second clips (the course's lesson, and what
the real-speech benchmark measured): few tokens, each already carrying local detail, and attention
between them. Two stride-2 3x3 convolutions (the Speech-Transformer stem) turn 101 frames of 40
log-mels into 26 frame tokens; Conformer blocks add a depthwise convolution next to the attention,
so a token also knows its neighbourhood and its place without a position table; the mean over the
valid tokens feeds a LayerNorm and the classifier. A learned normalisation of the log-mels (a
BatchNorm per mel bin) puts the features around 0 before SpecAugment writes its zeros into them.
With ``utterance_norm``, each clip's log-mels first lose their own mean per mel bin over its valid
frames: a microphone's or a room's fixed colouring is a constant offset per bin in log-mel, so it
is removed. Trained on the synthetic twin, that lifts accuracy on real speech from 59.8 % to 64.1 %
(`SMALL["kws_transformer_twin"]`); trained on real clips it changes little (96.0 % without, 95.5 %
with, two clips of 396).

``forward(waveform (B, S), lengths (B,) | None) -> logits (B, C)``. Letters used in shapes: B
batch, S samples, T frames, F mel bins, N tokens, D model size, C classes.
"""

from dataclasses import dataclass

import torch
from torch import nn

from kws.models.conformer import Conformer
from kws.models.keyword_models import FrontEndConfig, WaveformClassifier
from kws.models.pooling import masked_mean
from kws.models.stems import ConvSubsampling


@dataclass(frozen=True)
class KeywordConformerConfig(FrontEndConfig):
    """40 log-mels (30 ms window, 10 ms hop) -> conv stem -> ``num_layers`` Conformer blocks.

    ``channels`` are the stem's two convolutions; ``kernel_size`` the depthwise convolution of
    each block (odd; 15 frames of 40 ms = 0.6 s of context); SpecAugment as in the KWT recipe.
    """

    n_fft: int = 480
    channels: tuple[int, int] = (32, 64)
    d_model: int = 96
    nhead: int = 4
    dim_feedforward: int = 192
    num_layers: int = 4
    kernel_size: int = 15
    dropout: float = 0.1
    utterance_norm: bool = False  # subtract each clip's mean log-mel per bin (its valid frames)


class KeywordConformer(WaveformClassifier):
    """Log-mel (B, T, 40) -> BatchNorm per mel bin -> SpecAugment (training) -> ConvSubsampling
    ("frames": 101 frames -> 26 tokens of D) -> Conformer blocks -> mean over valid tokens ->
    LayerNorm -> Linear(D, C).

    Padding does not change a clip's logits in eval mode: the stem and the Conformer mask padded
    frames, and the pooling averages valid tokens only.
    """

    config_class = KeywordConformerConfig

    def __init__(self, config: KeywordConformerConfig):
        super().__init__(config)
        self.input_norm = nn.BatchNorm1d(self.n_features)
        self.stem = ConvSubsampling(self.n_features, config.d_model, config.channels, "frames")
        self.encoder = Conformer(
            config.d_model,
            config.nhead,
            config.dim_feedforward,
            config.num_layers,
            config.kernel_size,
            dropout=config.dropout,
        )
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.n_classes)

    def features(
        self, waveform: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, S) waveforms -> normalised, (in training) masked (B, T, F) features, frame lengths.

        SpecAugment comes after the normalisation, so its masks hold the features' mean (0), not
        a loud log-mel value.
        """
        if waveform.dim() != 2:
            raise ValueError(
                f"{type(self).__name__} takes a batch of waveforms (B, S), got shape "
                f"{tuple(waveform.shape)}; use waveform.unsqueeze(0) for a single clip"
            )
        features = self.frontend(waveform)  # (B, T, F)
        frames = None if lengths is None else self.frontend.num_frames(lengths)
        if self.config.utterance_norm:
            features = features - masked_mean(features, frames)[:, None, :]  # (B, T, F)
        features = self.input_norm(features.transpose(1, 2)).transpose(1, 2)  # (B, T, F)
        features = self.specaugment(features)  # (B, T, F)
        return features, frames

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        features, lengths = self.features(waveform, lengths)  # (B, T, F)
        tokens, lengths = self.stem(features, lengths)  # (B, N, D)
        x, lengths = self.encoder(tokens, lengths)  # (B, N, D)
        return self.head(self.norm(masked_mean(x, lengths)))  # (B, D) -> (B, C)
