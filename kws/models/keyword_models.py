"""Keyword-spotting Transformers: waveform in, class logits out.

Every model here carries its own front-end (``self.frontend``: log-mel or MFCC, no parameters) and
SpecAugment (``self.specaugment``, active only in ``train()`` mode), so a saved model plus a batch
of 16 kHz waveforms is all that inference or grading needs.

- `ConvStemTransformer`: the course's conv-stem KWS Transformer (two stride-2 convolutions,
  every (time, frequency) position a token, a CLS token, four encoder layers).
- `KeywordTransformer`: KWT (Berg et al., 2021): every MFCC frame a token, a CLS token and
  a learned 1-D position embedding, pre-norm encoder layers.
- `PatchTransformer`: AST-style patches of the log-mel spectrogram, with patch-out.

``forward(waveform (B, S), lengths (B,) | None) -> logits (B, C)``; ``lengths`` counts valid
samples (clips padded with zeros after them). Padding does not change a valid clip's logits in
eval mode. Letters used in shapes: B batch, S samples, T frames, F features, N tokens, D model
size, C classes.
"""

from dataclasses import dataclass

import torch
from torch import nn

from kws.data.features import MFCC, LogMel, SpecAugment
from kws.models.masks import lengths_to_mask
from kws.models.stems import ConvSubsampling, PatchEmbedding
from kws.models.transformer import TransformerEncoder, TransformerEncoderLayer


@dataclass(frozen=True)
class FrontEndConfig:
    """Front-end and SpecAugment settings shared by the keyword-spotting models.

    ``n_mfcc=None`` gives ``n_mels`` log-mel features per frame; an integer gives that many MFCCs
    computed from ``n_mels`` mel bins. Frames are centred: 16000 samples -> 101 frames at a hop of
    160. ``freq_masks``/``time_masks`` masks of up to ``freq_width`` bins / ``time_width`` frames
    are applied in training (0 masks switch SpecAugment off).
    """

    n_classes: int = 12
    sample_rate: int = 16000
    n_fft: int = 400
    hop_length: int = 160
    n_mels: int = 40
    n_mfcc: int | None = None
    freq_masks: int = 2
    freq_width: int = 7
    time_masks: int = 2
    time_width: int = 25


class WaveformClassifier(nn.Module):
    """Base class: builds ``self.frontend`` and ``self.specaugment`` from a FrontEndConfig."""

    def __init__(self, config: FrontEndConfig):
        super().__init__()
        self.config = config
        if config.n_mfcc is None:
            self.frontend = LogMel(
                config.sample_rate, config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels
            )
        else:
            self.frontend = MFCC(
                config.n_mfcc,
                config.n_mels,
                config.sample_rate,
                config.n_fft,
                hop_length=config.hop_length,
            )
        self.n_features = config.n_mels if config.n_mfcc is None else config.n_mfcc
        self.specaugment = SpecAugment(
            config.freq_masks, config.freq_width, config.time_masks, config.time_width
        )

    def features(
        self, waveform: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, S) waveforms and sample lengths -> (B, T, F) features and frame lengths."""
        if waveform.dim() != 2:
            raise ValueError(
                f"{type(self).__name__} takes a batch of waveforms (B, S), got shape "
                f"{tuple(waveform.shape)}; use waveform.unsqueeze(0) for a single clip"
            )
        features = self.specaugment(self.frontend(waveform))  # (B, T, F)
        if lengths is None:
            return features, None
        return features, self.frontend.num_frames(lengths)


def _encoder(d_model, nhead, dim_feedforward, num_layers, dropout, pre_norm) -> TransformerEncoder:
    """Hand-written encoder; pre-norm stacks get the final LayerNorm they need."""
    layer = TransformerEncoderLayer(
        d_model,
        nhead,
        dim_feedforward,
        dropout=dropout,
        activation="gelu" if pre_norm else "relu",
        norm_first=pre_norm,
    )
    return TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model) if pre_norm else None)


def _with_cls(cls_token: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor | None):
    """Put the CLS token first: (B, N, D) -> (B, 1 + N, D) and the matching padding mask."""
    x = torch.cat([cls_token.expand(tokens.size(0), -1, -1), tokens], dim=1)  # (B, 1 + N, D)
    mask = None if lengths is None else lengths_to_mask(lengths + 1, x.size(1))  # (B, 1 + N)
    return x, mask


@dataclass(frozen=True)
class ConvStemTransformerConfig(FrontEndConfig):
    """The course's conv-stem KWS Transformer (2,147,404 parameters for 12 classes)."""

    n_mels: int = 64
    channels: tuple[int, int] = (32, 64)
    d_model: int = 256
    nhead: int = 4
    dim_feedforward: int = 512
    num_layers: int = 4
    dropout: float = 0.1


class ConvStemTransformer(WaveformClassifier):
    """Log-mel (64 x 101) -> ConvSubsampling ("positions": 16 x 26 = 416 tokens of 64 channels,
    Linear(64, 256)) -> CLS token -> 4 post-norm encoder layers (d 256, ff 512) -> Linear(256, C)
    on the CLS output. Like the course's model it has no position embedding: a token knows its
    place only through what the convolutions saw around it.
    """

    config_class = ConvStemTransformerConfig

    def __init__(self, config: ConvStemTransformerConfig):
        super().__init__(config)
        self.stem = ConvSubsampling(self.n_features, config.d_model, config.channels, "positions")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.d_model))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.encoder = _encoder(
            config.d_model, config.nhead, config.dim_feedforward, config.num_layers,
            config.dropout, pre_norm=False,
        )  # fmt: skip
        self.head = nn.Linear(config.d_model, config.n_classes)

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        features, lengths = self.features(waveform, lengths)  # (B, T, F)
        tokens, lengths = self.stem(features, lengths)  # (B, N, D)
        x, mask = _with_cls(self.cls_token, tokens, lengths)  # (B, 1 + N, D)
        x = self.encoder(x, src_key_padding_mask=mask)  # (B, 1 + N, D)
        return self.head(x[:, 0])  # (B, C)


@dataclass(frozen=True)
class KeywordTransformerConfig(FrontEndConfig):
    """KWT: 40 MFCC from 80 mels, 30 ms window, 10 ms hop; sizes of KWT-1 by default.

    Frames are centred, so a 1 s clip gives 101 frames (the paper's un-centred STFT gives 98);
    ``max_frames`` sizes the position embedding (101 + 1 positions with the CLS token).
    """

    n_fft: int = 480
    n_mels: int = 80
    n_mfcc: int | None = 40
    max_frames: int = 101
    dim: int = 64
    depth: int = 12
    heads: int = 1
    mlp_dim: int = 256
    dropout: float = 0.1


class KeywordTransformer(WaveformClassifier):
    """KWT: MFCC frames -> Linear(F, dim) -> CLS token + learned 1-D position embedding ->
    ``depth`` pre-norm GELU encoder layers -> LayerNorm -> Linear(dim, C) on the CLS output.

    Parameter counts for 12 classes and 101 frames (``build_model("kwt1")`` ...): kwt1 609,932,
    kwt2 2,399,500, kwt3 5,368,716; for the paper's 35 classes and 98 frames (``n_classes=35,
    max_frames=98``) 611,235, 2,402,083 and 5,372,579, against the paper's 607k, 2,394k and
    5,361k (0.2-0.7 % fewer). The gap is of the size of the query/key/value biases
    (12 x 3 x dim), which torch.nn's layout has and ViT-style code usually leaves out; we keep
    torch.nn's layout so that weights stay interchangeable with it.
    """

    config_class = KeywordTransformerConfig

    def __init__(self, config: KeywordTransformerConfig):
        super().__init__(config)
        self.embed = nn.Linear(self.n_features, config.dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.dim))
        self.pos_embedding = nn.Parameter(torch.zeros(1, config.max_frames + 1, config.dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embedding, std=0.02)
        self.encoder = _encoder(
            config.dim, config.heads, config.mlp_dim, config.depth, config.dropout, pre_norm=True
        )
        self.head = nn.Linear(config.dim, config.n_classes)

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        features, lengths = self.features(waveform, lengths)  # (B, T, F)
        if features.size(1) > self.config.max_frames:
            raise ValueError(
                f"{features.size(1)} frames is more than max_frames={self.config.max_frames} "
                f"that the position embedding was built for; trim the clips or build the model "
                f"with a larger max_frames"
            )
        x, mask = _with_cls(self.cls_token, self.embed(features), lengths)  # (B, 1 + T, D)
        x = x + self.pos_embedding[:, : x.size(1)]  # (B, 1 + T, D)
        x = self.encoder(x, src_key_padding_mask=mask)  # (B, 1 + T, D)
        return self.head(x[:, 0])  # (B, C)


@dataclass(frozen=True)
class PatchTransformerConfig(FrontEndConfig):
    """AST-style model: 64 log-mels x 101 frames in 16 x 16 patches every 10 bins/frames."""

    n_mels: int = 64
    n_frames: int = 101
    patch_size: tuple[int, int] = (16, 16)
    stride: tuple[int, int] = (10, 10)
    patchout_time: int = 0
    patchout_freq: int = 0
    patchout_random: float = 0.0
    d_model: int = 192
    nhead: int = 3
    dim_feedforward: int = 768
    num_layers: int = 4
    dropout: float = 0.1


class PatchTransformer(WaveformClassifier):
    """Log-mel -> PatchEmbedding (CLS, 2-D positions, patch-out in training) -> pre-norm encoder
    -> LayerNorm -> Linear(D, C) on the CLS output."""

    config_class = PatchTransformerConfig

    def __init__(self, config: PatchTransformerConfig):
        super().__init__(config)
        self.patches = PatchEmbedding(
            self.n_features,
            config.n_frames,
            config.d_model,
            config.patch_size,
            config.stride,
            config.patchout_time,
            config.patchout_freq,
            config.patchout_random,
        )
        self.encoder = _encoder(
            config.d_model, config.nhead, config.dim_feedforward, config.num_layers,
            config.dropout, pre_norm=True,
        )  # fmt: skip
        self.head = nn.Linear(config.d_model, config.n_classes)

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        features, lengths = self.features(waveform, lengths)  # (B, T, F)
        x, mask = self.patches(features, lengths)  # (B, 1 + N, D)
        x = self.encoder(x, src_key_padding_mask=mask)  # (B, 1 + N, D)
        return self.head(x[:, 0])  # (B, C)
