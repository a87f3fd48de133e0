"""The course's CRNN baseline: convolutions, a bidirectional GRU and attention pooling.

It reached 98.02 % on the 12-class Speech Commands test in under 4 minutes of training, against
83-87.6 % for the conv-stem Transformer after hours: the baseline every Transformer is measured
against. Letters used in shapes: B batch, S samples, C channels, T frames, F mel bins, H GRU
hidden size.
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from kws.models.keyword_models import FrontEndConfig, WaveformClassifier
from kws.models.masks import lengths_to_mask
from kws.models.pooling import SelfAttentionPooling


def conv_blocks(channels: tuple[int, ...]) -> nn.ModuleList:
    """[Conv2d 3x3 p1 + BatchNorm + SiLU] per entry of ``channels``, from 1 input channel."""
    in_channels = (1, *channels[:-1])
    return nn.ModuleList(
        nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
            nn.BatchNorm2d(c_out),
            nn.SiLU(),
        )
        for c_in, c_out in zip(in_channels, channels, strict=True)
    )


def run_conv_blocks(
    blocks: nn.ModuleList, pool: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``blocks`` on (B, 1, T, F), ``pool`` (halving time) after every block but the last.

    Padded frames are zeroed before each block, as a clip alone is by the convolution's own
    padding, so that a clip's valid outputs do not depend on the batch; ``lengths`` (frames, or
    None: all valid) are halved (floor) with each pooling. -> (B, C, T', F'), lengths (B,).

    The blocks run channels-last (channels the fastest axis in memory): the same numbers, and on
    a CPU a training step of the course's CRNN about a fifth faster (the max pooling and the
    convolutions' backward pass; benchmarks/profile_demo.py)."""
    x = x.contiguous(memory_format=torch.channels_last)
    for i, block in enumerate(blocks):
        if lengths is not None:
            x = x.masked_fill(lengths_to_mask(lengths, x.size(2))[:, None, :, None], 0.0)
        x = block(x)  # (B, C, T, F)
        if i < len(blocks) - 1:
            x = pool(x)  # (B, C, T / 2, F / 2)
            lengths = None if lengths is None else torch.div(lengths, 2, rounding_mode="floor")
    return x, lengths


@dataclass(frozen=True)
class CRNNAttentionConfig(FrontEndConfig):
    """40 log-mels (30 ms window, 10 ms hop) x 101 frames; 1,507,149 parameters for 12 classes."""

    n_fft: int = 480
    channels: tuple[int, int, int] = (32, 64, 128)
    gru_hidden: int = 128
    gru_layers: int = 2
    head_hidden: int = 128
    dropout: float = 0.1


class CRNNAttention(WaveformClassifier):
    """3 x [Conv2d 3x3 p1 + BatchNorm + SiLU] with MaxPool2d(2) after the first two (channels
    32/64/128; 40 mels x 101 frames -> 10 x 25), each frame's 128 x 10 values into a bidirectional
    2-layer GRU(1280, 128), attention pooling Linear(256, 1) over time, then Linear(256, 128) +
    ReLU + Dropout + Linear(128, C).

    Padded frames are zeroed before each convolution and the GRU runs on packed sequences, so
    padding does not change a clip's logits (eval mode). Clips need at least 4 frames (480
    samples at a 160 hop) to leave one frame after the two poolings.
    """

    config_class = CRNNAttentionConfig

    def __init__(self, config: CRNNAttentionConfig):
        super().__init__(config)
        self.blocks = conv_blocks(config.channels)
        self.pool = nn.MaxPool2d(2)
        self.n_pools = len(config.channels) - 1
        gru_input = config.channels[-1] * (self.n_features // 2**self.n_pools)
        self.gru = nn.GRU(
            gru_input,
            config.gru_hidden,
            num_layers=config.gru_layers,
            batch_first=True,
            bidirectional=True,
        )
        self.attention = SelfAttentionPooling(2 * config.gru_hidden)
        self.head = nn.Sequential(
            nn.Linear(2 * config.gru_hidden, config.head_hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.head_hidden, config.n_classes),
        )

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        features, lengths = self.features(waveform, lengths)  # (B, T, F)
        x, lengths = run_conv_blocks(self.blocks, self.pool, features.unsqueeze(1), lengths)
        batch, channels, frames, freqs = x.shape
        x = x.permute(0, 2, 1, 3).reshape(batch, frames, channels * freqs)  # (B, T', C*F')
        if lengths is None:
            x, _ = self.gru(x)  # (B, T', 2H)
        else:
            lengths_cpu = lengths.cpu()
            if int(lengths_cpu.min()) < 1:
                raise ValueError(
                    f"CRNNAttention needs at least {2**self.n_pools} frames per clip, got a clip "
                    f"with lengths {lengths.tolist()} after pooling; pad very short clips"
                )
            packed = pack_padded_sequence(x, lengths_cpu, batch_first=True, enforce_sorted=False)
            x, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=frames)
        return self.head(self.attention(x, lengths))  # (B, 2H) -> (B, C)
