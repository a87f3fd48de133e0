"""Notebook 03, Task 1: the patch grid's size and the patch embedding, against their definitions.

`grid_size(size, patch, stride)` is checked against ``(size - patch) // stride + 1`` on sizes
drawn from a seed (the notebook's self-check uses 0, the grader one the student cannot know).
`PatchEmbedding(d_model, patch_size, stride)` is built seeded, in float64 and eval mode, with
small distinct sizes (B=2 clips of T=14 frames x F=11 mel bins, d_model 10), and its output is
compared with the reference written out here: the log-mels as one image (frequency as rows, time
as columns), cut into patches by ``F.unfold`` and projected by the Linear map the student's module
computes. That map is read off the module's outputs, not its tensors (`probe_projection`): a
Conv2d, a Linear on unfolded or sliced patches, raw parameters, with or without a bias, flattened
in any order, are all one Linear map of a patch and keep the points.

Letters: B batch, T frames, F mel bins, (pf, pt) a patch's mel bins and frames, (sf, st) the
steps between patches, F' x T' the patch grid (rows x columns), D the token size.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn

from kws.author import N_, Checker, Text, build, call, differs, shape_text

B, T, N_MELS, D = 2, 14, 11, 10  # distinct sizes: swapped axes cannot go unnoticed
# (patch_size, stride) pairs, each (frequency, time): overlapping 4 x 3 patches every 3 x 2
# (a 3 x 6 grid), then 5 x 2 patches every 2 x 3 (4 x 5), where time overlaps and frequency not.
SHAPES = [((4, 3), (3, 2)), ((5, 2), (2, 3))]
GRID_FIX = Text(
    N_(
        "count every start 0, stride, 2 x stride, ... whose patch fits: (size - patch) // stride + 1"
    )
)


def grid(size: int, patch: int, stride: int) -> int:
    """The definition: patches of `patch` starting every `stride` that fit in `size`."""
    return (size - patch) // stride + 1


def reference_grid(weight: torch.Tensor, bias: torch.Tensor, features: torch.Tensor, patch, stride):
    """unfold + Linear: features (B, T, F) -> grid (B, F', T', D), the projection `weight` (D,
    pf * pt) and `bias` (D,) applied to each patch flattened frequency-major."""
    image = features.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): frequency as rows
    patches = F.unfold(image, kernel_size=patch, stride=stride)  # (B, pf * pt, F' * T')
    rows = grid(features.size(2), patch[0], stride[0])
    cols = grid(features.size(1), patch[1], stride[1])
    tokens = patches.transpose(1, 2) @ weight.T + bias  # (B, F' * T', D), row-major over the grid
    return tokens.view(features.size(0), rows, cols, -1)  # (B, F', T', D)


class ReferencePatches(nn.Module):
    """A patch embedding as the task defines it, for the checks of the later tasks: (B, T, F) ->
    (B, F', T', D), `reference_grid` with a weight and a bias of its own. The model checks build
    the notebook's PatchKWT with it, so that a bug in Task 1 costs Task 1's points only."""

    def __init__(self, d_model: int, patch_size, stride):
        super().__init__()
        self.patch_size, self.stride = tuple(patch_size), tuple(stride)
        self.weight = nn.Parameter(torch.randn(d_model, self.patch_size[0] * self.patch_size[1]))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return reference_grid(self.weight, self.bias, features, self.patch_size, self.stride)


def grid_size(checker: Checker, function, seed: int = 0) -> None:
    """`function(size, patch, stride)` -> the number of patches along one axis, on sizes drawn
    from `seed` (the last ones where the division leaves a remainder and where it does not)."""
    checker.topic = "outputs"
    rng = random.Random(f"grid-size/{seed}")
    cases = [(40, 40, 40), (101, 3, 2), (101, 16, 10), (100, 10, 5)]  # strips, AST, squares
    for _ in range(6):
        patch = rng.randint(1, 16)
        cases.append((patch + rng.randint(0, 90), patch, rng.randint(1, 12)))
    wrong = []
    for size, patch, stride in cases:
        got = call(
            checker,
            Text(N_("{call} runs"), call=f"grid_size({size}, {patch}, {stride})"),
            lambda size=size, patch=patch, stride=stride: function(size, patch, stride),
        )
        if got != grid(size, patch, stride) or isinstance(got, bool):
            wrong.append((size, patch, stride, got))
    if not wrong:
        said = N_("grid_size is right on {n} (size, patch, stride)")
        checker.expect(True, Text(said, n=len(cases)), "")
        return
    size, patch, stride, got = wrong[0]
    expected = grid(size, patch, stride)
    why = GRID_FIX
    if isinstance(got, int) and got == expected - 1:
        why = Text(N_("off by one: the patch starting at 0 counts too; {fix}"), fix=GRID_FIX)
    elif isinstance(got, int) and got == expected + 1:
        said = N_("one patch too many: the last start must leave room for a whole patch; {fix}")
        why = Text(said, fix=GRID_FIX)
    shown = f"grid_size({size}, {patch}, {stride})"
    checker.expect(
        False,
        Text.counted(
            "{call} returns {got}; {n} patch fits",
            "{call} returns {got}; {n} patches fit",
            expected,
            call=shown,
            got=repr(got),
        ),
        why,
    )


def _wrong_shape(patch, stride, shape: tuple) -> str:
    """What a grid of `shape` says about the mistake that made it, for (B, F', T', D) expected."""
    rows, cols = grid(N_MELS, patch[0], stride[0]), grid(T, patch[1], stride[1])
    known = {
        (B, cols, rows, D): N_(
            "the grid is (B, T', F', D); return (B, F', T', D): frequency rows first"
        ),
        (B, grid(N_MELS, patch[0], patch[0]), grid(T, patch[1], patch[1]), D): N_(
            "the patches do not overlap: they start every `stride`, not every `patch_size`"
        ),
        (B, grid(T, patch[0], stride[0]), grid(N_MELS, patch[1], stride[1]), D): N_(
            "time and "
            "frequency are swapped: the features are (B, T, F); the image is features.transpose(1, "
            "2): (B, F, T), frequency as rows"
        ),
    }
    return known.get(
        shape,
        N_(
            "return the grid (B, F', T', D): F' = grid_size(F, pf, sf) rows of mel bins, "
            "T' = grid_size(T, pt, st) columns of frames, one D-vector each"
        ),
    )


def probe_projection(student: nn.Module, patch) -> tuple[torch.Tensor, torch.Tensor]:
    """The map `student` applies to its first patch, read off what it computes: on a clip of
    zeros patch (0, 0) is the bias; on a clip holding a single 1 at mel bin f, frame t it is the
    bias plus the weight's column f * pt + t. So a Conv2d, a Linear, raw parameters, with or
    without a bias, in any order, give the same (weight (D, pf * pt), bias (D,)).

    Args:
        student: the notebook's PatchEmbedding, float64, eval mode.
        patch: (pf, pt), the patch's mel bins and frames.

    Returns:
        (weight, bias): the projection of a patch flattened frequency-major, (D, pf * pt), (D,).
    """
    pf, pt = patch
    clips = torch.zeros(1 + pf * pt, T, N_MELS, dtype=torch.float64)  # (1 + pf * pt, T, F)
    for k in range(pf * pt):
        f, t = divmod(k, pt)
        clips[1 + k, t, f] = 1.0
    with torch.no_grad():
        first = student(clips)[:, 0, 0]  # (1 + pf * pt, D): each clip's patch (0, 0)
    return (first[1:] - first[0]).T, first[0]  # (D, pf * pt), (D,)


def patch_embedding(checker: Checker, cls, seed: int = 0) -> None:
    """PatchEmbedding(d_model, patch_size, stride): (B, T, F) -> (B, F', T', D), equal to unfold
    + Linear with the projection it computes (`probe_projection`), for each of `SHAPES`; every
    weight gets a gradient."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(B, T, N_MELS, generator=generator, dtype=torch.float64)
    for patch, stride in SHAPES:
        _one_shape(checker, cls, features, patch, stride)


def _one_shape(checker: Checker, cls, features: torch.Tensor, patch, stride) -> None:
    checker.topic = "build"
    args = {"d_model": D, "patch_size": patch, "stride": stride}
    student = build(checker, cls, args, "d_model, patch_size, stride")
    checker.topic = "outputs"
    shown = f"patch_size={patch}, stride={stride}"
    runs = Text(N_("{call} runs ({options})"), call="forward(features (2, 14, 11))", options=shown)
    got = call(checker, runs, lambda: student(features))
    rows, cols = grid(N_MELS, patch[0], stride[0]), grid(T, patch[1], stride[1])
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (B, rows, cols, D):
        checker.stop(
            Text(
                N_("with {options}, forward returns {shape}; (B, F', T', D) = {expected}"),
                options=shown,
                shape=shape_text(got),
                expected=(B, rows, cols, D),
            ),
            _wrong_shape(patch, stride, tuple(getattr(got, "shape", ()))),
        )
    weight, bias = call(
        checker, N_("forward runs on probe clips"), lambda: probe_projection(student, patch)
    )
    with torch.no_grad():
        gap = differs(got, reference_grid(weight, bias, features, patch, stride))
    checker.expect(
        gap is None,
        Text(
            N_(
                "with {options}, the {rows} x {cols} grid matches unfold + Linear with your projection"
            ),
            options=shown,
            rows=rows,
            cols=cols,
        ),
        Text(
            N_(
                "max difference {gap:.3g}: every patch must go through the same Linear map, "
                "nothing after it; patch (f, t) covers mel bins f*sf ... f*sf+pf-1 and frames "
                "t*st ... t*st+pt-1"
            ),
            gap=gap or 0,
        ),
    )

    def backward():
        student.zero_grad()
        with torch.enable_grad():
            student(features).sum().backward()

    call(checker, N_("backward runs"), backward)
    unused = [n for n, p in student.named_parameters() if p.grad is None]
    checker.expect(
        not unused,
        N_("every weight gets a gradient"),
        Text(N_("{names} are never used"), names=unused),
    )
