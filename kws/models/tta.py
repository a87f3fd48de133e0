"""Test-time averaging over speeds: a keyword classifier asked about each clip several times.

A model trained on a few hundred speakers has met few speaking rates and voices; played a little
faster and a little slower, a clip is asked again as if another speaker had said it, and the mean of
the answers is steadier than any one of them. Measured on real speech of unseen speakers (the
ablation of notebook 01, benchmarks/real_speech.md): for notebook 01's model trained with speed
changes, averaging over 0.9, 1.0 and 1.1 added 0.5 points on average (14 runs, -0.1 to +1.2); for
`kws_conformer` trained without them it did not help (-0.4 and +0.4 on two folds). Train with the
speeds you test.

``forward(waveform (B, S), lengths (B,) | None) -> log of the mean class probabilities (B, C)``:
the argmax is the averaged prediction, and ``nn.NLLLoss`` or ``cross_entropy`` read them as logits.
"""

import torch
from torch import nn

from kws.data.augment import play_at_speed


class SpeedAveraging(nn.Module):
    """Wrap a waveform classifier so that, in eval mode, it averages its class probabilities over
    copies of each clip played at ``speeds`` ([`kws.data.augment.play_at_speed`][]).

    In training mode it is the wrapped model, unchanged: the averaging is for evaluation only.
    Its state dict is the wrapped model's under ``model.``; save ``wrapper.model`` to keep the
    model's own keys.

    Args:
        model: maps ``(waves (B, S), lengths (B,) or None)`` to logits (B, C).
        speeds: playback rates, each > 0 (1.0 is the clip as recorded), e.g. (0.9, 1.0, 1.1).
    """

    def __init__(self, model: nn.Module, speeds: tuple[float, ...] = (0.9, 1.0, 1.1)):
        super().__init__()
        if not speeds or any(speed <= 0 for speed in speeds):
            raise ValueError(f"speeds={speeds}: give one or more rates > 0, e.g. (0.9, 1.0, 1.1)")
        self.model = model
        self.speeds = tuple(float(speed) for speed in speeds)

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.training:
            return self.model(waves, lengths)
        probabilities = 0.0
        for speed in self.speeds:
            played, played_lengths = play_at_speed(waves, speed, lengths)  # (B, S), (B,)
            probabilities = probabilities + self.model(played, played_lengths).softmax(-1)
        return (probabilities / len(self.speeds)).log()  # (B, C)

    def extra_repr(self) -> str:
        return f"speeds={self.speeds}"
