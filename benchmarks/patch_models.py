"""A patch Transformer for keyword spotting, as notebook 03 teaches it (AST, PaSST, DeiT).

waves (B, S) -> log-mels (B, T, F) -> SpecAugment in training -> PatchEmbedding: a grid of
patches (B, F', T', D) -> FreqTimePositions -> structured_patchout (training only) ->
tokens, time-major, after a CLS (and a distillation) token -> the kit's TransformerEncoder ->
LayerNorm -> one Linear head per token read (their average at test time).

- :class:`PatchEmbedding`: overlapping ``patch_size`` patches every ``stride`` bins/frames, each
  projected to ``d_model`` by one Conv2d (the same as unfold + Linear, with the weight viewed
  as (D, pf * pt)); :func:`grid_size` gives the grid.
- :class:`FreqTimePositions`: a learned vector per frequency row and one per time column (PaSST),
  added to the grid; shorter clips use the first columns.
- :func:`structured_patchout`: drop ``k_t`` whole time columns and ``k_f`` whole frequency rows
  of the grid, the same for the whole batch, from a generator the caller seeds.
- :class:`PatchKWT`: the classifier, with an optional distillation token (DeiT);
  :class:`HardDistillation` trains it against a frozen teacher's hard labels.

Letters used in shapes: B batch, S samples, T frames, F mel bins, F' x T' the patch grid (rows
x columns), N tokens, D model width, C classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kws.data.features import LogMel, SpecAugment
from kws.models import TransformerEncoder, TransformerEncoderLayer
from kws.models.masks import lengths_to_mask

# Mean and standard deviation of the log-mels (natural log, floor 1e-6) of fold 0's training
# clips of the real development set (-6.62, 4.74): inputs become about zero-mean, unit-variance.
LOG_MEL_MEAN, LOG_MEL_STD = -6.6, 4.7


def grid_size(size: int, patch: int, stride: int) -> int:
    """Patches along one axis of ``size`` bins or frames: ``(size - patch) // stride + 1``."""
    return (size - patch) // stride + 1


class PatchEmbedding(nn.Module):
    """Cut log-mels into (possibly overlapping) patches and project each to ``d_model`` values.

    A patch covers ``patch_size = (pf, pt)`` mel bins x frames and starts every ``stride = (sf,
    st)``; 40 mels x 101 frames in 40 x 3 strips every 2 frames give a 1 x 50 grid, in 10 x 10
    squares every 5 a 7 x 19 grid. One Conv2d(1, D, patch_size, stride) computes every patch's
    projection: its weight viewed as (D, pf * pt) is the Linear of unfold + Linear.

    Shapes:
        forward(features (B, T, F)) -> grid (B, F', T', D), F' = grid_size(F, pf, sf), likewise T'.
    """

    def __init__(self, d_model: int, patch_size: tuple[int, int], stride: tuple[int, int]):
        super().__init__()
        self.patch_size, self.stride = tuple(patch_size), tuple(stride)
        self.proj = nn.Conv2d(1, d_model, kernel_size=self.patch_size, stride=self.stride)

    def grid(self, n_mels: int, n_frames: int) -> tuple[int, int]:
        """(rows F', columns T') of the patch grid of ``n_mels`` bins x ``n_frames`` frames."""
        return (
            grid_size(n_mels, self.patch_size[0], self.stride[0]),
            grid_size(n_frames, self.patch_size[1], self.stride[1]),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T)
        return self.proj(x).permute(0, 2, 3, 1)  # (B, F', T', D)


class FreqTimePositions(nn.Module):
    """PaSST's positions: a learned vector for each frequency row and one for each time column,
    added to every patch of that row and column (F' + T' vectors instead of F' x T').

    A grid with fewer columns than ``max_cols`` (a shorter clip) takes the first ones.

    Shapes:
        forward(grid (B, F', T', D)) -> (B, F', T', D), F' == rows, T' <= max_cols.
    """

    def __init__(self, d_model: int, rows: int, max_cols: int):
        super().__init__()
        self.freq = nn.Parameter(torch.randn(1, rows, 1, d_model) * 0.02)
        self.time = nn.Parameter(torch.randn(1, 1, max_cols, d_model) * 0.02)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        rows, cols = grid.size(1), grid.size(2)
        if rows != self.freq.size(1) or cols > self.time.size(2):
            raise ValueError(
                f"a grid of {rows} x {cols} patches does not fit positions built for "
                f"{self.freq.size(1)} rows and at most {self.time.size(2)} columns; build the "
                f"model with the clip length and mel bins it is given"
            )
        return grid + self.freq + self.time[:, :, :cols]  # (B, F', T', D)


class GridPositions(nn.Module):
    """AST's positions: one learned vector per grid place (F' x T' of them), for comparison.

    Shapes:
        forward(grid (B, F', T', D)) -> (B, F', T', D).
    """

    def __init__(self, d_model: int, rows: int, max_cols: int):
        super().__init__()
        self.table = nn.Parameter(torch.randn(1, rows, max_cols, d_model) * 0.02)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return grid + self.table[:, :, : grid.size(2)]  # (B, F', T', D)


def structured_patchout(
    grid: torch.Tensor,
    valid: torch.Tensor,
    k_t: int,
    k_f: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop ``k_t`` whole time columns and ``k_f`` whole frequency rows of the patch grid, the
    same ones for the whole batch (PaSST's structured patchout), chosen at random with
    ``generator``. The kept rows and columns stay in order. Call it in training only.

    Args:
        grid: patch tokens (B, F', T', D), positions already added.
        valid: (B, T') True where a column lies inside the clip (False for padding).
        k_t, k_f: how many columns and rows to drop; at least one of each is always kept.

    Returns:
        (B, F' - k_f, T' - k_t, D) and its valid columns (B, T' - k_t).
    """
    rows, cols = grid.size(1), grid.size(2)
    k_t, k_f = min(k_t, cols - 1), min(k_f, rows - 1)
    if k_t > 0:
        keep = torch.randperm(cols, generator=generator)[: cols - k_t].sort().values
        grid, valid = grid[:, :, keep.to(grid.device)], valid[:, keep.to(grid.device)]
    if k_f > 0:
        keep = torch.randperm(rows, generator=generator)[: rows - k_f].sort().values
        grid = grid[:, keep.to(grid.device)]
    return grid, valid  # (B, F' - k_f, T' - k_t, D), (B, T' - k_t)


class PatchKWT(nn.Module):
    """A keyword Transformer on spectrogram patches (AST with PaSST's positions and patchout,
    optionally DeiT's distillation token).

    Args:
        n_classes: C.
        n_mels, n_frames: the log-mel size of a whole clip (40 x 101 for one second).
        patch_size, stride: (frequency, time) size of a patch and step between patches.
        d_model, nhead, dim_feedforward, num_layers, dropout: the pre-norm encoder.
        patchout: (k_t, k_f) time columns and frequency rows dropped in training.
        positions: "freq_time" (PaSST) or "grid" (AST's table).
        distillation: add a distillation token and its head (see :meth:`heads`).
        normalise: scale the log-mels to about zero mean and unit variance first (SpecAugment's
            masks then sit at the mean). Measured on real speech, it made strips train slower
            (``benchmarks/patch_transformer.md``), so it is off by default.

    Shapes:
        forward(waves (B, S), lengths (B,) | None) -> logits (B, C);
        heads(waves, lengths) -> (CLS logits (B, C), distillation logits (B, C) | None).
    """

    def __init__(
        self,
        n_classes: int = 12,
        n_mels: int = 40,
        n_frames: int = 101,
        patch_size: tuple[int, int] = (40, 3),
        stride: tuple[int, int] = (40, 2),
        d_model: int = 96,
        nhead: int = 4,
        dim_feedforward: int = 192,
        num_layers: int = 4,
        dropout: float = 0.1,
        patchout: tuple[int, int] = (0, 0),
        positions: str = "freq_time",
        distillation: bool = False,
        normalise: bool = False,
    ):
        super().__init__()
        if positions not in ("freq_time", "grid"):
            raise ValueError(f"positions={positions!r}: choose 'freq_time' or 'grid'")
        self.frontend = LogMel(n_mels=n_mels, n_fft=400, hop_length=160)  # 25 ms / 10 ms
        self.specaugment = SpecAugment(freq_masks=2, freq_width=7, time_masks=2, time_width=10)
        self.normalise = normalise
        self.patches = PatchEmbedding(d_model, patch_size, stride)
        rows, cols = self.patches.grid(n_mels, n_frames)
        if rows < 1 or cols < 1:
            raise ValueError(
                f"patch_size {tuple(patch_size)} does not fit {n_mels} mel bins x {n_frames} frames"
            )
        table = FreqTimePositions if positions == "freq_time" else GridPositions
        self.positions = table(d_model, rows, cols)
        self.patchout = tuple(patchout)
        self.generator: torch.Generator | None = None  # seed it for repeatable patchout
        n_read = 2 if distillation else 1  # tokens read by a head: CLS (and distillation)
        self.read_tokens = nn.Parameter(torch.randn(1, n_read, d_model) * 0.02)
        layer = TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout, activation="gelu", norm_first=True
        )
        self.encoder = TransformerEncoder(layer, num_layers)
        self.norm = nn.LayerNorm(d_model)
        self.classifier = nn.Linear(d_model, n_classes)
        self.dist_classifier = nn.Linear(d_model, n_classes) if distillation else None

    def heads(
        self, waves: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, S = waves.shape
        if lengths is None:
            lengths = torch.full((B,), S, dtype=torch.long, device=waves.device)
        waves = waves.masked_fill(lengths_to_mask(lengths, S), 0.0)  # as if each clip were alone
        features = self.frontend(waves)  # (B, T, F)
        if self.normalise:
            features = (features - LOG_MEL_MEAN) / LOG_MEL_STD
        features = self.specaugment(features)  # masks at 0, the mean
        grid = self.positions(self.patches(features))  # (B, F', T', D)
        pt, st = self.patches.patch_size[1], self.patches.stride[1]
        valid_cols = torch.div(self.frontend.num_frames(lengths) - pt, st, rounding_mode="floor")
        valid = ~lengths_to_mask((valid_cols + 1).clamp(min=1), grid.size(2))  # (B, T')
        if self.training and any(self.patchout):
            grid, valid = structured_patchout(grid, valid, *self.patchout, self.generator)
        rows, cols, D = grid.size(1), grid.size(2), grid.size(3)
        tokens = grid.transpose(1, 2).reshape(B, cols * rows, D)  # (B, N, D), time-major
        valid = valid[:, :, None].expand(B, cols, rows).reshape(B, cols * rows)  # (B, N)
        n_read = self.read_tokens.size(1)
        h = torch.cat([self.read_tokens.expand(B, -1, -1), tokens], dim=1)  # (B, n_read + N, D)
        padding = torch.cat([valid.new_zeros(B, n_read), ~valid], dim=1)  # True = padded
        h = self.norm(self.encoder(h, src_key_padding_mask=padding))  # (B, n_read + N, D)
        cls_logits = self.classifier(h[:, 0])  # (B, C)
        if self.dist_classifier is None:
            return cls_logits, None
        return cls_logits, self.dist_classifier(h[:, 1])  # (B, C), (B, C)

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        cls_logits, dist_logits = self.heads(waves, lengths)
        if dist_logits is None:
            return cls_logits
        return (cls_logits + dist_logits) / 2  # (B, C)


class HardDistillation(nn.Module):
    """Train a :class:`PatchKWT` with a distillation token against a frozen teacher (DeiT's hard
    distillation): the CLS head learns the true labels, the distillation head the teacher's
    predicted class on the same (augmented) clip. The teacher runs in eval mode without
    gradients; in eval mode the pair is the student alone (its heads averaged).

    ``loss(smoothing)`` is the ``loss_fn`` for ``fit``: ½ cross-entropy(CLS, labels) + ½
    cross-entropy(distillation, teacher's labels), both with label smoothing.
    """

    def __init__(self, student: PatchKWT, teacher: nn.Module):
        super().__init__()
        if student.dist_classifier is None:
            raise ValueError("the student has no distillation token: build it distillation=True")
        self.student, self.teacher = student, teacher.eval().requires_grad_(False)
        self.dist_logits: torch.Tensor | None = None
        self.teacher_labels: torch.Tensor | None = None

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()  # its BatchNorm statistics and dropout stay as trained
        return self

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if not self.training:
            return self.student(waves, lengths)
        with torch.no_grad():
            self.teacher_labels = self.teacher(waves, lengths).argmax(-1)  # (B,)
        cls_logits, self.dist_logits = self.student.heads(waves, lengths)
        return cls_logits  # (B, C): fit's training accuracy is the CLS head's

    def loss(self, smoothing: float):
        def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            if not self.training:  # a validation pass: the averaged heads against the labels
                return F.cross_entropy(logits, labels)
            true = F.cross_entropy(logits, labels, label_smoothing=smoothing)
            taught = F.cross_entropy(
                self.dist_logits.float(), self.teacher_labels, label_smoothing=smoothing
            )
            return (true + taught) / 2

        return loss_fn
