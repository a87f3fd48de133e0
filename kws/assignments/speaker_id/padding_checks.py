"""Task 1 of notebook 02 on the notebook's whole SpeakerTransformer: padded frames change nothing.

The attention, layer and encoder checks hand their class the padding mask; none sees what the
model's forward does with `lengths`: whether it gives the encoder the mask, and whether its
mean over time leaves the padded frames out. This check builds the class from its constructor
(small distinct sizes: 10 mel bins, d_model 12, 3 heads, 7 speakers; seeded, float64, eval mode)
and runs it on 3 utterances of 9, 6 and 4 frames padded to 9:

- the padded frames hold -20 (what the notebook's batches hold), then loud noise: the logits
  must not change (the same shapes under the same seeds, so a model that draws random numbers
  draws the same ones on both passes);
- each utterance alone, unpadded, must get the logits it gets in the batch (a mean over all T
  frames, or a sum divided by T, changes them). Left out when forward draws random numbers in
  eval mode: a pass of other shapes draws other numbers (the layer checks name that bug).

Every `Encoder` inside (the skeleton's class) is replaced by torch.nn.TransformerEncoder, so that
a bug in the attention, the layer or the encoder costs their own tests, not this one. Nothing
else of the model is named: its own sub-modules may have any name. A failure names its cause,
found from the mask the stand-in encoder was given and the vector the first module after it
received (the pooled one).

    prenet -> encoder (padding mask) -> mean over the valid frames -> classifier
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from kws.assignments.speaker_id.layer_checks import TorchEncoder, TorchEncoderLayer
from kws.author import N_, Checker, Text, build, call, differs, layers

B, T, D, H, FF = layers.CHECK_SIZES  # d_model, heads and feed-forward of the layer checks
N_MELS, SPEAKERS, FRAMES, LENGTHS = 10, 7, 9, (9, 6, 4)
PADDING_VALUE = -20.0  # what the notebook's batches hold after each utterance's length
MODEL_ARGS = {
    "n_mels": N_MELS,
    "d_model": D,
    "nhead": H,
    "dim_feedforward": FF,
    "num_layers": 2,
    "n_classes": SPEAKERS,
    "dropout": 0.1,
}
SIGNATURE = (
    "SpeakerTransformer(n_mels, d_model, nhead, dim_feedforward, num_layers, n_classes, dropout)"
)
MEAN_FIX = Text(
    N_(
        "use `lengths`, zeroing the padded frames (h.masked_fill(padding[:, :, None], 0.0)) and "
        "dividing the sum over time by each utterance's length"
    )
)
POOLING_CAUSES = {  # how the pooled vector was made from the encoder's output -> the cause
    "all frames": Text(N_("your pooling averages over padded frames: {fix}"), fix=MEAN_FIX),
    "divided by T": Text(
        N_(
            "your pooling divides the sum of the valid frames by the padded length T, not by "
            "each utterance's length: {fix}"
        ),
        fix=MEAN_FIX,
    ),
    "padded summed": Text(
        N_("your pooling sums the padded frames too before dividing by the lengths: {fix}"),
        fix=MEAN_FIX,
    ),
}
GENERIC_FIX = Text(
    N_(
        "an utterance's logits change with the padded frames after it: leave them out "
        "everywhere (give the encoder the padding mask built from `lengths`, True at padded "
        "frames); {fix}"
    ),
    fix=MEAN_FIX,
)


class StandInEncoder(nn.Module):
    """torch.nn.TransformerEncoder (2 layers, post-norm) in place of the notebook's Encoder,
    called as it is called: its first argument x (B, T, D), then the first tensor of shape
    (B, T) as the padding mask (True = padded), whatever the arguments are named. Records the
    mask and the output of each call."""

    title = "torch.nn.TransformerEncoder"

    def __init__(self):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.torch_encoder = TorchEncoder(TorchEncoderLayer(False), False)
        self.torch_encoder.double().eval()
        self.calls: list[tuple[torch.Tensor | None, torch.Tensor]] = []  # (mask, output)

    def forward(self, *args, **kwargs):
        x, *rest = [*args, *kwargs.values()]
        shaped = [a for a in rest if torch.is_tensor(a) and tuple(a.shape) == tuple(x.shape[:2])]
        mask = shaped[0].bool() if shaped else None  # (B, T)
        y = self.torch_encoder(x, mask)  # (B, T, D)
        self.calls.append((mask, y))
        return y


def _stand_in(model: nn.Module) -> StandInEncoder | None:
    """Replace every sub-module of class Encoder by one `StandInEncoder`; it, or None."""
    stand_in = None
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child).__name__ == "Encoder":
                stand_in = stand_in or StandInEncoder().to(next(model.parameters()).dtype)
                setattr(parent, name, stand_in)
    return stand_in


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """torch's, numpy's and Python's generators seeded to `seed`, their states restored after."""
    python, numpy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            random.setstate(python)
            np.random.set_state(numpy)


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x padded with PADDING_VALUE, the same x with loud noise as padding, lengths, padding)."""
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(len(LENGTHS), FRAMES, N_MELS, generator=generator, dtype=torch.float64)
    lengths = torch.tensor(LENGTHS)
    padding = torch.arange(FRAMES) >= lengths[:, None]  # (B, T), True = padded
    silent = x.masked_fill(padding[:, :, None], PADDING_VALUE)  # (B, T, n_mels)
    return silent, silent + 10 * x * padding[:, :, None], lengths, padding


def _pooled_input(model: nn.Module, stand_in: StandInEncoder, run) -> torch.Tensor | None:
    """The first (B, D) tensor a module receives after the stand-in encoder ran in `run()`:
    the pooled vector, whatever the module is named; None if no module receives one."""
    seen: list[torch.Tensor] = []
    inside = {id(m) for m in stand_in.modules()}

    def hook(module, args):
        first = args[0] if args else None
        if stand_in.calls and not seen and torch.is_tensor(first) and first.dim() == 2:
            seen.append(first.detach())

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if id(m) not in inside]
    try:
        stand_in.calls.clear()
        run()
    finally:
        for handle in handles:
            handle.remove()
    return seen[0] if seen else None


def _cause(model, stand_in, run, padding, lengths) -> str:
    """Why the logits depend on the padding: the encoder's mask, then the pooling (never raises)."""
    if stand_in is None:
        return GENERIC_FIX
    try:
        with torch.no_grad():
            pooled = _pooled_input(model, stand_in, run)
        if not stand_in.calls:
            return GENERIC_FIX
        mask, h = stand_in.calls[-1]  # (B, T), (B, T, D)
    except Exception:  # student code: anything can come out
        return GENERIC_FIX
    if mask is None:
        return N_(
            "your forward gives the encoder no padding mask, so the valid frames attend to the "
            "padded ones: pass it the mask built from `lengths` (True at padded frames)"
        )
    if not torch.equal(mask.cpu(), padding):
        return N_(
            "the padding mask your forward gives the encoder is not True at exactly the padded "
            "frames (index >= length): build it from `lengths`, "
            "torch.arange(T)[None, :] >= lengths[:, None]"
        )
    if pooled is None or tuple(pooled.shape) != (h.shape[0], h.shape[2]):
        return GENERIC_FIX
    valid = h.masked_fill(padding[:, :, None].to(h.device), 0.0)  # (B, T, D)
    length = lengths[:, None].to(h)  # (B, 1)
    candidates = {
        "valid": valid.sum(dim=1) / length,
        "all frames": h.mean(dim=1),
        "divided by T": valid.sum(dim=1) / h.shape[1],
        "padded summed": h.sum(dim=1) / length,
    }  # each (B, D)
    for name, candidate in candidates.items():
        if candidate.dtype == pooled.dtype and differs(pooled, candidate) is None:
            return POOLING_CAUSES.get(name, GENERIC_FIX)
    return GENERIC_FIX


def padded_frames(checker: Checker, cls) -> None:
    """Task 1: the notebook's SpeakerTransformer gives an utterance the same logits whatever its
    padded frames hold, and the logits it gets alone (see the module's docstring). Topic
    "padding"."""
    model = build(checker, cls, MODEL_ARGS, SIGNATURE)
    checker.topic = "padding"
    stand_in = _stand_in(model)
    if stand_in is not None:
        checker.expect(
            True,
            N_(
                "inside, your Encoder is replaced by torch.nn.TransformerEncoder, to check the "
                "model's forward alone"
            ),
            "",
        )
    silent, noisy, lengths, padding = _inputs()
    shown = f"forward(x {tuple(silent.shape)}, lengths {list(LENGTHS)})"

    def run(x, n=lengths, seed=0):
        with _seeded(seed), torch.no_grad():
            return model(x, n)

    got = call(checker, Text(N_("{call} runs"), call=shown), lambda: run(silent))
    if not torch.is_tensor(got) or got.dim() != 2 or len(got) != len(LENGTHS):
        returned = tuple(getattr(got, "shape", ())) or type(got).__name__
        one_row = N_("return one row of speaker scores per utterance: (B, n_classes) = {shape}")
        checker.stop(
            Text(N_("{call} returns {got}"), call=shown, got=returned),
            Text(one_row, shape=(3, SPEAKERS)),
        )
    noise = N_("{call} runs with noise in the padded frames")
    loud = call(checker, Text(noise, call=shown), lambda: run(noisy))
    cause = ""
    if differs(loud, got) is not None:
        cause = _cause(model, stand_in, lambda: run(silent), padding, lengths)
    checker.expect(
        not cause,
        N_("padded frames do not change the logits (they hold -20, then loud noise)"),
        cause,
    )
    again = call(checker, Text(N_("{call} runs again"), call=shown), lambda: run(silent, seed=1))
    steady = differs(again, got) is None
    if not steady:  # random numbers drawn in eval: the layer checks name them
        return
    alone = call(
        checker,
        Text(N_("{call} runs on each utterance alone, unpadded"), call=shown),
        lambda: torch.cat(
            [run(silent[b : b + 1, :n], lengths[b : b + 1]) for b, n in enumerate(LENGTHS)]
        ),
    )
    gap = differs(got, alone)
    fix = ""
    if gap is not None:
        cause = _cause(model, stand_in, lambda: run(silent), padding, lengths)
        fix = Text(N_("they differ by up to {gap:.3g}: {cause}"), gap=gap, cause=cause)
    checker.expect(gap is None, N_("each utterance gets the logits it gets alone, unpadded"), fix)
