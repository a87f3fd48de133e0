"""The template's numeric check, registered once: what `normalize_frames` must give, on seeded
clips of small distinct sizes (B=2, T=7, F=3), in float64, with no solution in it (this file
ships to students). The grading child runs it for the graded test
[numeric.test_normalize_frames] of spec.toml; the notebook's self-check runs it too (all from
`kws.author`, the Authoring API)."""

import torch

from kws.author import Checker, Component, call


def normalize_frames(checker: Checker, function, ns: dict) -> None:
    """`function(x (B, T, F))` returns (B, T, F): each clip's mel bins with mean 0 and spread 1
    over its frames. Topics: "shape", "mean", "spread"."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 7, 3, generator=generator, dtype=torch.float64)  # (B, T, F)
    x[1] = 3.0 * x[1] + 50.0  # a louder clip, spread wider: both must go
    out = call(checker, "normalize_frames(x) runs", lambda: function(x))
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    checker.topic = "shape"
    if shape != (2, 7, 3):
        checker.stop(f"normalize_frames returns {shape}", "keep the shape (B, T, F)")
    zeros, ones = torch.zeros(2, 3, dtype=out.dtype), torch.ones(2, 3, dtype=out.dtype)
    atol = 1e-6 if out.dtype == torch.float64 else 1e-4  # a rerun in float32 rounds more
    checker.topic = "mean"
    checker.expect(
        torch.allclose(out.mean(dim=1), zeros, atol=atol),
        "each clip's mel bins have mean 0 over its frames",
        "take the mean over the frames (dim 1) of each clip away",
    )
    checker.topic = "spread"
    checker.expect(
        torch.allclose(out.std(dim=1, unbiased=False), ones, atol=1e-3),
        "each clip's mel bins have spread 1 over its frames",
        "divide by the standard deviation over the frames (dim 1), plus a small eps",
    )


# (checker, the notebook's object, its namespace) -> None, one per payload component.
NUMERIC = {"normalize_frames": Component("task1", "normalize_frames", normalize_frames)}
