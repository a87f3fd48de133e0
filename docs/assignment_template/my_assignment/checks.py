"""The template's numeric check, registered once: `masked_mean` against its formula on seeded
inputs of small distinct sizes (B=2, T=5, D=3), in float64. The grading child runs it for the
graded test [numeric.test_masked_mean] of spec.toml; a notebook's self-check can run it with
`run_task_checks` (all from `kws.author`, the Authoring API)."""

import torch

from kws.author import Checker, Component, call


def masked_mean(checker: Checker, function, ns: dict) -> None:
    """`function(x (B, T, D), lengths (B,))` returns (B, D): the mean of each sequence's first
    lengths[b] frames. Topics: "outputs" (a full-length sequence), "padding" (a padded one)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 3, generator=generator, dtype=torch.float64)  # (B, T, D)
    lengths = torch.tensor([5, 3])  # the second sequence is padded after 3 frames
    x[1, 3:] = 100.0  # padding that would show in any mean that counts it
    out = call(checker, "masked_mean(x, lengths) runs", lambda: function(x, lengths))
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if shape != (2, 3):
        checker.stop(f"masked_mean returns {shape}", "return one vector per sequence: (B, D)")
    checker.topic = "outputs"
    checker.expect(
        torch.allclose(out[0], x[0].mean(0)),
        "a full-length sequence gives the mean of its frames",
        "divide the sum of the frames by their number",
    )
    checker.topic = "padding"
    checker.expect(
        torch.allclose(out[1], x[1, :3].mean(0)),
        "padded frames are left out of the mean",
        "sum only the first lengths[b] frames (a mask from torch.arange(T) < lengths[:, None]) "
        "and divide by lengths[b]",
    )


# (checker, the notebook's object, its namespace) -> None, one per payload component.
NUMERIC = {"masked_mean": Component("task1", "masked_mean", masked_mean)}
