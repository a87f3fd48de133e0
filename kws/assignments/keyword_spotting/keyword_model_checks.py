"""Notebook 01's Task 3 checks: the KeywordTransformer's forward.

Task 3 builds the notebook's KeywordTransformer with small distinct sizes (B=3 clips of 4,000,
2,900 and 1,700 samples, 24 mel bins, d_model 12, 3 heads, 5 classes), seeded, in float64 and
eval mode, and compares its logits with the specified pipeline recomputed here from the model's
own submodules and a `torch.nn.TransformerEncoder` holding the encoder's weights:

    zero the samples after each length -> frontend -> tokenizer (frame lengths) -> [CLS] first
    -> + position[:, :1 + N] -> encoder (padded tokens masked) -> norm -> classifier on the CLS

The notebook's ConvTokenizer (Task 2) is replaced by `ReferenceTokenizer` while the model is
built, so that a bug there never costs Task 3's points. Topics: "outputs" (the pipeline),
"padding" (samples past a clip's length change nothing; and, when the pipeline is right, each
clip of a padded batch gets the logits it gets alone), "eval" (eval mode is deterministic), and
"batch", graded with "eval": the model built again with the notebook's own ConvTokenizer gives a
clip of a batch the logits it gets alone (`kws.assignments.keyword_spotting.batch_checks`: a
BatchNorm on the batch's statistics in eval mode fails here, and nowhere else).

Task 4's checks, the recipe and its schedule, are in `recipe_checks`.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from kws.assignments.keyword_spotting import batch_checks
from kws.author import N_, Checker, Text, call, differs, layers

N_MELS, D_MODEL, NHEAD, FF, N_CLASSES = 24, 12, 3, 20, 5  # distinct sizes
SAMPLES, LENGTHS = 4000, (4000, 2900, 1700)  # 26, 19 and 11 frames -> 7, 5 and 3 tokens
MODEL_ARGS = dict(
    n_classes=N_CLASSES,
    n_mels=N_MELS,
    n_frames=SAMPLES // 160 + 1,
    d_model=D_MODEL,
    nhead=NHEAD,
    dim_feedforward=FF,
    num_layers=2,
    dropout=0.1,
)
PIPELINE = (
    "h = cat([CLS, tokens]) + position[:, :1 + N]; h = encoder(h, src_key_padding_mask); "
    "logits = classifier(norm(h[:, 0]))"
)


def padded(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """The padding mask of `lengths` (B,) in a batch `length` long: bool (B, length), True past
    each length (the kit's `lengths_to_mask`, written out: a check imports only the API)."""
    return torch.arange(length, device=lengths.device) >= lengths[:, None]  # (B, length)


class ReferenceTokenizer(nn.Module):
    """Two 3x3 stride-2 convolutions with GELU, padded frames zeroed before each, then a Linear
    from channels x frequency to d_model: (B, T, F), lengths (B,) -> (B, N, D), lengths (B,)."""

    def __init__(self, n_mels: int = 40, d_model: int = 64, channels: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1)
        self.proj = nn.Linear(channels * ((n_mels - 1) // 2 // 2 + 1), d_model)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor):
        x = features.unsqueeze(1)  # (B, 1, T, F)
        for conv in (self.conv1, self.conv2):
            x = x.masked_fill(padded(lengths, x.size(2))[:, None, :, None], 0.0)
            x = nn.functional.gelu(conv(x))  # (B, C, T', F')
            lengths = torch.div(lengths - 1, 2, rounding_mode="floor") + 1
        batch, channels, tokens, freqs = x.shape
        x = x.permute(0, 2, 1, 3).reshape(batch, tokens, channels * freqs)  # (B, N, C * F')
        return self.proj(x), lengths  # (B, N, D)


@contextlib.contextmanager
def _reference_tokenizer(cls):
    """While building `cls`, the name ``ConvTokenizer`` in its module is the reference's."""
    names = getattr(getattr(cls, "__init__", None), "__globals__", {})
    if "ConvTokenizer" not in names:
        yield False
        return
    kept = names["ConvTokenizer"]
    names["ConvTokenizer"] = ReferenceTokenizer
    try:
        yield True
    finally:
        names["ConvTokenizer"] = kept


def _waves() -> tuple[torch.Tensor, torch.Tensor]:
    """Three clips (float64, seeded) and their lengths; past each length, loud noise."""
    generator = torch.Generator().manual_seed(3)
    waves = torch.rand(len(LENGTHS), SAMPLES, generator=generator, dtype=torch.float64) - 0.5
    return waves, torch.tensor(LENGTHS)


def build_keyword_transformer(checker: Checker, cls, *, own_tokenizer: bool = False) -> nn.Module:
    """The notebook's KeywordTransformer with the sizes above and the reference tokenizer (the
    notebook's own with `own_tokenizer`, built again after a first build passed); seeded, its
    parameters drawn from U(-0.5, 0.5) (so a skipped norm or position shows), float64, eval
    mode."""
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        checker.stop(
            Text(N_("build {given}"), given=repr(cls)),
            N_("pass the class KeywordTransformer itself"),
        )
    shown = ", ".join(f"{k}={v}" for k, v in MODEL_ARGS.items())

    def construct():
        tokenizer = contextlib.nullcontext(False) if own_tokenizer else _reference_tokenizer(cls)
        with torch.random.fork_rng(devices=[]), tokenizer as replaced:
            torch.manual_seed(0)
            return cls(**MODEL_ARGS), replaced

    builds = N_("{call} builds with your ConvTokenizer") if own_tokenizer else N_("{call} builds")
    built = Text(builds, call=f"{cls.__name__}({shown})")
    model, replaced = call(checker, built, construct)
    if not own_tokenizer:
        checker.expect(True, built, "")
    parts = ("frontend", "tokenizer", "cls_token", "position", "encoder", "norm", "classifier")
    missing = [name for name in parts if not hasattr(model, name)]
    if missing:
        checker.stop(
            N_("the skeleton's submodules are there"),
            Text(N_("keep the skeleton's {names}"), names=missing),
        )
    if replaced:
        said = N_("your ConvTokenizer is replaced by a reference one, to check forward alone")
        checker.expect(True, said, "")
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.rand(parameter.shape, generator=generator) - 0.5)
    return model.double().eval()


def _torch_encoders(model: nn.Module) -> list[nn.Module]:
    """torch.nn.TransformerEncoder(s) holding the model's encoder weights (both activations)."""
    stack = getattr(model.encoder, "layers", [])
    first = stack[0] if len(stack) else None
    norm_first = bool(getattr(first, "norm_first", True))
    found = []
    for activation in ("gelu", "relu"):
        layer = nn.TransformerEncoderLayer(
            D_MODEL, NHEAD, FF, 0.0, activation, batch_first=True, norm_first=norm_first
        )
        norm = nn.LayerNorm(D_MODEL) if getattr(model.encoder, "norm", None) is not None else None
        encoder = nn.TransformerEncoder(layer, len(stack), norm=norm, enable_nested_tensor=False)
        encoder = encoder.double().eval()
        if layers.copy_weights(model.encoder, encoder) is None:
            found.append(encoder)
    return found


def pipeline(
    model: nn.Module,
    encoder: nn.Module,
    waves: torch.Tensor,
    lengths: torch.Tensor | None,
    *,
    cls_first: bool = True,
    positions: bool = True,
    final_norm: bool = True,
    zero_padding: bool = True,
    mask: str = "tokens + 1",
    use_lengths: bool = True,
) -> torch.Tensor:
    """The specified forward (or one deliberate mistake, to name a student's bug): (B, C)."""
    batch, samples = waves.shape
    if lengths is None or not use_lengths:
        lengths = torch.full((batch,), samples)
    if zero_padding:
        waves = waves.masked_fill(padded(lengths, samples), 0.0)
    features = model.frontend(waves)  # (B, T, F); SpecAugment is off in eval mode
    tokens, token_lengths = model.tokenizer(features, model.frontend.num_frames(lengths))
    n = tokens.size(1)
    cls = model.cls_token.expand(batch, -1, -1)  # (B, 1, D)
    h = torch.cat([cls, tokens] if cls_first else [tokens, cls], dim=1)  # (B, 1 + N, D)
    if positions:
        h = h + model.position[:, : n + 1]
    valid = {"tokens + 1": token_lengths + 1, "tokens": token_lengths, "none": None}[mask]
    padding = None if valid is None else padded(valid, n + 1)  # (B, 1 + N)
    if not cls_first and padding is not None:
        padding = padding.roll(-1, dims=1)  # the CLS token last, after the valid tokens
    # the padding as an attention mask: the same numbers as src_key_padding_mask, see attention_mask
    h = encoder(h, mask=layers.attention_mask(padding, NHEAD, h.dtype))  # (B, 1 + N, D)
    cls_out = h[:, 0] if cls_first else h[torch.arange(batch), token_lengths]  # (B, D)
    return model.classifier(model.norm(cls_out) if final_norm else cls_out)  # (B, C)


# A mistake in forward, as (pipeline options, what to tell the student).
PIPELINE_BUGS = [
    (
        {"cls_first": False},
        N_("the CLS token goes last; put it first: torch.cat([cls, tokens], dim=1)"),
    ),
    ({"final_norm": False}, N_("the final LayerNorm is skipped: classify self.norm(h[:, 0])")),
    (
        {"positions": False},
        N_("no position embedding is added: h = h + self.position[:, : N + 1]"),
    ),
]
PADDING_BUGS = [
    (
        {"use_lengths": False},
        N_(
            "forward ignores `lengths`: zero the samples past each length, give the tokenizer "
            "the frame lengths (self.frontend.num_frames(lengths)) and mask the padded tokens"
        ),
    ),
    (
        {"mask": "none"},
        N_(
            "padded tokens are not masked: pass src_key_padding_mask (True at padded tokens, the "
            "CLS token valid) to the encoder, from the tokenizer's token lengths"
        ),
    ),
    (
        {"mask": "tokens"},
        N_(
            "the padding mask is one token short: with the CLS token in front, a clip has "
            "token_lengths + 1 valid positions"
        ),
    ),
    (
        {"zero_padding": False},
        N_(
            "the samples after a clip's length reach its last frames: zero them before the "
            "front-end (waves.masked_fill(mask, 0.0))"
        ),
    ),
]


def _diagnose(model, encoder, waves, lengths, got, bugs) -> str | None:
    with torch.no_grad():
        for options, message in bugs:
            try:
                if differs(got, pipeline(model, encoder, waves, lengths, **options)) is None:
                    return message
            except Exception:  # a variant that cannot run is not the student's bug
                continue
    return None


def _nonfinite(*outputs: torch.Tensor) -> str | None:
    """The fix when the logits of a padded batch hold NaN or inf (NaN differs from everything,
    so no comparison can name it); None when they are all finite."""
    if all(bool(torch.isfinite(y).all()) for y in outputs):
        return None
    return N_(
        "the logits of a padded batch hold NaN or inf: look for a NaN written into the padding, "
        "or a row whose every key is masked (the padding mask is True at the padded tokens only)"
    )


def _unused_fix(model: nn.Module, unused: list[str]) -> str:
    """What to tell about the parameters no gradient reached: the notebook's own by name; the
    stand-in tokenizer's as the reference's (its names are not the student's)."""
    stand_in = isinstance(model.tokenizer, ReferenceTokenizer)
    own = [n for n in unused if not (stand_in and n.startswith("tokenizer."))]
    fixes = [Text(N_("your {names} are never used"), names=own)] if own else []
    if len(own) < len(unused):
        fixes.append(
            N_(
                "the reference ConvTokenizer that stands in for yours in this check is never "
                "used: tokenize with self.tokenizer(features, frame lengths) in forward"
            )
        )
    return Text.joined("; ", fixes)


def keyword_transformer(checker: Checker, cls) -> None:
    """Task 3: the notebook's KeywordTransformer's forward (see the module's docstring)."""
    model = build_keyword_transformer(checker, cls)
    encoders = _torch_encoders(model)
    if not encoders:
        checker.stop(
            N_("the encoder's weights copy into torch.nn.TransformerEncoder"),
            N_(
                "keep the skeleton's encoder: the kit's TransformerEncoder of "
                "TransformerEncoderLayers"
            ),
        )
    waves, lengths = _waves()

    checker.topic = "outputs"
    got = call(checker, Text(N_("{call} runs"), call="forward(waves)"), lambda: model(waves))
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (len(LENGTHS), N_CLASSES):
        returned = tuple(getattr(got, "shape", ())) or type(got)
        checker.stop(
            Text(N_("{call} returns {got}"), call="forward(waves (3, 4000))", got=returned),
            Text(N_("return logits (B, n_classes) = {shape}"), shape=(3, N_CLASSES)),
        )
    with torch.no_grad():
        expected = [pipeline(model, e, waves, None) for e in encoders]
    encoder = next(
        (e for e, y in zip(encoders, expected, strict=True) if differs(got, y) is None), None
    )
    # A model that is not one computation in eval mode cannot match anything: found first, so
    # that the items it spoils name it as their fix.
    checker.topic = "eval"
    unsteady = checker.expect_steady(
        model, (waves,), N_("eval mode is deterministic (SpecAugment and dropout are off)")
    )
    checker.topic = "outputs"
    fix = ""
    if encoder is None and unsteady:
        fix = unsteady
    elif encoder is None:
        gap = differs(got, expected[0])
        bugs = PIPELINE_BUGS + [bug for bug in PADDING_BUGS if bug[0].get("mask") == "tokens"]
        steps = N_("max difference {gap:.3g}; the steps are: {steps}")
        fix = _diagnose(model, encoders[0], waves, None, got, bugs) or Text(
            steps, gap=gap, steps=PIPELINE
        )
    checker.expect(
        encoder is not None,
        N_(
            "logits match the pipeline recomputed with torch.nn.TransformerEncoder (CLS first, "
            "positions, final norm, classifier on the CLS output)"
        ),
        fix,
    )

    def backward():
        model.zero_grad()
        with torch.enable_grad():
            model(waves).sum().backward()

    call(checker, N_("backward runs"), backward)
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    checker.expect(not unused, N_("every parameter gets a gradient"), _unused_fix(model, unused))

    checker.topic = "padding"
    matched = encoder is not None
    encoder = encoder or encoders[0]
    silent = waves.masked_fill(padded(lengths, SAMPLES), 0.0)
    noisy = silent + 10 * waves * padded(lengths, SAMPLES)
    with torch.no_grad():
        runs = Text(N_("{call} runs"), call="forward(waves, lengths)")
        y_silent = call(checker, runs, lambda: model(silent, lengths))
        y_noisy = call(checker, runs, lambda: model(noisy, lengths))
        alone = torch.cat([model(silent[b : b + 1, :n]) for b, n in enumerate(LENGTHS)])
    ignores_padding = differs(y_noisy, y_silent) is None
    # judged on a pipeline that is right without padding, as compare_layer does
    matches_alone = differs(y_noisy, alone) is None if matched else None
    bug = unsteady or _nonfinite(y_silent, y_noisy)  # the cause found first, then the padding
    if not bug and (not ignores_padding or matches_alone is False):  # bug, one pass per guess
        bug = _diagnose(model, encoder, noisy, lengths, y_noisy, PADDING_BUGS)
    checker.expect(
        ignores_padding,
        N_("samples after a clip's length do not change its logits"),
        bug
        or N_(
            "a clip's logits change with the samples after its length: zero those samples, "
            "pass the frame lengths to the tokenizer and mask the padded tokens in the encoder"
        ),
    )
    if matched:
        checker.expect(
            matches_alone,
            N_("each clip of a padded batch gets the logits it gets alone"),
            bug
            or N_(
                "frame lengths are lengths // hop_length + 1 (self.frontend.num_frames); the "
                "mask comes from the tokenizer's token lengths, + 1 for the CLS token"
            ),
        )

    checker.topic = "batch"
    own = build_keyword_transformer(checker, cls, own_tokenizer=True)
    batch_checks.clips_alone(checker, own, waves)
