"""Task 1 of notebook 02, on the notebook's whole SpeakerTransformer: padded frames change
nothing, and the utterance vector is the mean of the encoder's valid frames.

The other Task 1 checks judge the attention, the layer and the encoder, each handed the padding
mask; none sees what forward does with it: whether it passes it to the encoder, and whether its
mean over time leaves the padded frames out. This check builds the class as its skeleton's
constructor names its arguments (small distinct sizes: 10 mel bins, d_model 12, 3 heads, 7
speakers), seeded, in float64 and eval mode, and runs it on 3 utterances of 9, 6 and 4 frames
padded to 9. Every pass it compares runs under the same seed, so that a layer drawing random
numbers in eval mode (a bug the attention check names) draws the same ones on each.

    prenet -> encoder (padding mask) -> mean over the valid frames -> classifier
"""

from __future__ import annotations

import torch

from kws.author import Checker, build, call, differs, layers

B, T, D, H, FF = layers.CHECK_SIZES  # d_model, heads and feed-forward of the layer checks
N_MELS, SPEAKERS, FRAMES, LENGTHS = 10, 7, 9, (9, 6, 4)
PADDING_VALUE = -20.0  # what the notebook's batches hold after each utterance's length
MODEL_ARGS = {
    "n_mels": N_MELS,
    "d_model": D,
    "nhead": H,
    "dim_feedforward": FF,
    "num_layers": 1,
    "n_classes": SPEAKERS,
    "dropout": 0.1,
}
MEAN_FIX = (
    "average only the valid frames: h.masked_fill(padding[:, :, None], 0.0).sum(dim=1) / "
    "lengths[:, None] (the sum of the unpadded frames over each utterance's length)"
)


def _seeded(function):
    """`function()` under torch's seed 0, the global random state left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return function()


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x padded with PADDING_VALUE, the same x with loud noise as padding, lengths, padding)."""
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(len(LENGTHS), FRAMES, N_MELS, generator=generator, dtype=torch.float64)
    lengths = torch.tensor(LENGTHS)
    padding = torch.arange(FRAMES) >= lengths[:, None]  # (B, T), True = padded
    silent = x.masked_fill(padding[:, :, None], PADDING_VALUE)
    return silent, silent + 10 * x * padding[:, :, None], lengths, padding


def _pooled(model, x, padding, lengths, *, mask_encoder=True, mean="valid"):
    """The logits of the specified forward, or of one mistake (for naming a student's bug)."""
    h = model.encoder(model.prenet(x), padding if mask_encoder else None)  # (B, T, D)
    valid = h.masked_fill(padding[:, :, None], 0.0)  # (B, T, D)
    pooled = {
        "valid": valid.sum(dim=1) / lengths[:, None].to(h.dtype),
        "all frames": h.mean(dim=1),
        "divided by T": valid.sum(dim=1) / h.size(1),
        "padded summed": h.sum(dim=1) / lengths[:, None].to(h.dtype),
    }[mean]  # (B, D)
    return model.classifier(pooled)  # (B, n_classes)


MISTAKES = [
    ({"mean": "all frames"}, f"the mean over time counts the padded frames; {MEAN_FIX}"),
    (
        {"mean": "divided by T"},
        f"the valid frames are summed, then divided by all T frames, padding included; {MEAN_FIX}",
    ),
    (
        {"mean": "padded summed"},
        f"the sum over time takes the padded frames too, before dividing by lengths; {MEAN_FIX}",
    ),
    (
        {"mask_encoder": False},
        "the encoder gets no padding mask, so the valid frames attend to the padded ones: pass "
        "it, self.encoder(self.prenet(x), padding)",
    ),
]


def _cause(model, x, padding, lengths, got) -> str:
    for options, message in MISTAKES:
        try:
            wrong = _seeded(lambda o=options: _pooled(model, x, padding, lengths, **o))
        except Exception:  # a variant that cannot run is not the student's bug
            continue
        if differs(got, wrong) is None:
            return message
    return (
        "pool with the mean over the valid frames of the encoder's output (sum of the unpadded "
        f"frames / lengths), then classify: prenet -> encoder(padding) -> mean -> classifier; {MEAN_FIX}"
    )


def mean_pooling(checker: Checker, cls) -> None:
    """Task 1: the notebook's SpeakerTransformer ignores padded frames and averages the valid
    ones (see the module's docstring). One topic, "pooling"."""
    signature = "SpeakerTransformer(n_mels, d_model, nhead, dim_feedforward, num_layers, n_classes, dropout)"
    model = build(checker, cls, MODEL_ARGS, signature)
    checker.topic = "pooling"
    missing = [name for name in ("prenet", "encoder", "classifier") if not hasattr(model, name)]
    if missing:
        checker.stop("the skeleton's submodules are there", f"keep the skeleton's {missing}")
    silent, noisy, lengths, padding = _inputs()
    shown = f"forward(x {tuple(silent.shape)}, lengths {list(LENGTHS)})"
    with torch.no_grad():
        got = call(checker, f"{shown} runs", lambda: _seeded(lambda: model(silent, lengths)))
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (len(LENGTHS), SPEAKERS):
            checker.stop(
                f"{shown} returns {tuple(getattr(got, 'shape', ())) or type(got).__name__}",
                f"return one row of speaker scores per utterance: (B, n_classes) = (3, {SPEAKERS})",
            )
        loud = call(checker, f"{shown} runs", lambda: _seeded(lambda: model(noisy, lengths)))
        expected = call(
            checker,
            "prenet, encoder and classifier run on their own",
            lambda: _seeded(lambda: _pooled(model, silent, padding, lengths)),
        )
        cause = None
        if differs(loud, got) is not None or differs(got, expected) is not None:
            cause = _cause(model, silent, padding, lengths, got)
    checker.expect(
        differs(loud, got) is None,
        "padded frames do not change the logits (the padding is -20, then loud noise)",
        cause or "",
    )
    checker.expect(
        differs(got, expected) is None,
        "logits are the classifier of the mean of the encoder's valid frames",
        cause or "",
    )
