"""Notebook 03: the notebook's PatchKWT built for a check, and Task 2 judged on it.

`build_patch_model` builds the notebook's PatchKWT with small distinct sizes (log-mels of 11 bins,
4 x 3 patches every 3 x 2: a 3 x 7 grid for a clip of 2,400 samples, d_model 12, 3 heads, 2
layers, 5 classes), seeded, its parameters drawn from U(-0.5, 0.5) (so a skipped position or a
swapped head shows), in float64 and eval mode. While it is built, the notebook's classes of the
other tasks are replaced by reference ones (`STAND_INS`), so that a bug in one task costs that
task's points only.

- Task 2, `positions`: FreqTimePositions alone (freq[f] + time[t] on patch (f, t), the first
  columns for a shorter grid, a ValueError for a longer one), then in the model: the tokens the
  encoder receives are the CLS and distillation tokens as they are, then the patches with their
  positions, time-major; on a shorter clip, fewer columns with the first time positions.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from kws.assignments.patch_transformer.patch_checks import ReferencePatches
from kws.author import N_, Checker, Text, build, call, differs, shape_text

SAMPLES, SHORT = 2400, 1600  # 16 frames -> a 3 x 7 grid; 11 frames -> 3 x 5
ROWS, COLS, SHORT_COLS = 3, 7, 5
READ = 2  # the tokens the heads read: CLS, then the distillation token
N_CLASSES, D_MODEL = 5, 12
MODEL_ARGS = dict(
    n_classes=N_CLASSES,
    n_mels=11,
    n_frames=SAMPLES // 160 + 1,
    patch_size=(4, 3),
    stride=(3, 2),
    d_model=D_MODEL,
    nhead=3,
    dim_feedforward=20,
    num_layers=2,
    dropout=0.1,
    patchout=(0, 0),
    distillation=True,
)
PARTS = (
    "frontend",
    "specaugment",
    "patches",
    "positions",
    "patchout",
    "cls_token",
    "dist_token",
    "encoder",
    "norm",
    "classifier",
    "dist_classifier",
)


class ReferencePositions(nn.Module):
    """Task 2 as defined: freq[f] + time[t] added to patch (f, t); (B, F', T', D) -> same."""

    def __init__(self, d_model: int, rows: int, max_cols: int):
        super().__init__()
        self.freq = nn.Parameter(torch.zeros(1, rows, 1, d_model))
        self.time = nn.Parameter(torch.zeros(1, 1, max_cols, d_model))

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return grid + self.freq + self.time[:, :, : grid.size(2)]


class NoPatchout(nn.Module):
    """Task 3's module for a model built without patch-out: (B, F', T', D) unchanged."""

    def __init__(self, k_t: int = 0, k_f: int = 0):
        super().__init__()
        self.k_t, self.k_f, self.generator = k_t, k_f, None

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return grid


# The notebook's class of each task -> the reference that stands in for it in the other tasks'
# checks (the model is built with patchout=(0, 0) there).
STAND_INS = {
    "PatchEmbedding": ReferencePatches,
    "FreqTimePositions": ReferencePositions,
    "StructuredPatchout": NoPatchout,
}


class Stop(Exception):
    """Raised by a hook once it has what a check needs: the rest of forward is not run."""


@contextlib.contextmanager
def _stand_ins(cls, keep: str | None):
    """While `cls` is built, the names of `STAND_INS` (but `keep`) in its module are references
    (defined there for the build even where the notebook does not define them yet)."""
    names = getattr(getattr(cls, "__init__", None), "__globals__", {})
    replaced = [name for name in STAND_INS if name != keep]
    kept = {name: names[name] for name in replaced if name in names}
    names.update({name: STAND_INS[name] for name in replaced})
    try:
        yield sorted(kept)
    finally:
        for name in replaced:
            if name in kept:
                names[name] = kept[name]
            else:
                names.pop(name, None)


def build_patch_model(checker: Checker, ns: dict, keep: str | None, **overrides) -> nn.Module:
    """The notebook's PatchKWT with `MODEL_ARGS` (and `overrides`), the other tasks' classes
    replaced by references (all but `keep`); seeded, random parameters, float64, eval mode."""
    checker.topic = "build"
    cls = ns.get("PatchKWT")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        checker.stop(
            N_("the notebook defines PatchKWT"), N_("keep the skeleton's PatchKWT in its cell")
        )
    args = MODEL_ARGS | overrides
    shown = Text(
        N_("{call} builds"),
        call=f"PatchKWT(patch_size={args['patch_size']}, stride={args['stride']}, ...)",
    )

    def construct():
        with torch.random.fork_rng(devices=[]), _stand_ins(cls, keep) as replaced:
            torch.manual_seed(0)
            return cls(**args), replaced

    model, replaced = call(checker, shown, construct)
    checker.expect(True, shown, "")
    missing = [part for part in PARTS if not hasattr(model, part)]
    if missing:
        checker.stop(
            N_("the skeleton's parts are there"),
            Text(N_("keep PatchKWT's {names}"), names=missing),
        )
    if replaced:
        said = N_("your {names} replaced by reference ones, to check this alone")
        checker.expect(True, Text(said, names=", ".join(replaced)), "")
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.rand(parameter.shape, generator=generator) - 0.5)
    return model.double().eval()


def waves(samples: int = SAMPLES) -> torch.Tensor:
    """Two seeded clips of noise (float64): (2, samples)."""
    generator = torch.Generator().manual_seed(3)
    return torch.rand(2, samples, generator=generator, dtype=torch.float64) - 0.5


def captured(checker: Checker, model: nn.Module, clips: torch.Tensor, what: str | Text) -> dict:
    """Run ``model.heads(clips)`` up to its encoder: {"grid": the patch embedding's output,
    "tokens": the encoder's input}."""
    seen = {}

    def on_patches(module, args, output):
        seen["grid"] = output

    def on_encoder(module, args):
        seen["tokens"] = args[0] if args else None
        raise Stop

    handles = [
        model.patches.register_forward_hook(on_patches),
        model.encoder.register_forward_pre_hook(on_encoder),
    ]

    def run():
        try:
            with torch.no_grad():
                model.heads(clips)
        except Stop:
            pass

    try:
        call(checker, what, run)
    finally:
        for handle in handles:
            handle.remove()
    if "tokens" not in seen:
        checker.stop(
            Text(N_("{what}: the encoder runs"), what=what),
            N_("keep the skeleton's self.encoder(h) in heads"),
        )
    return seen


def time_major(grid: torch.Tensor) -> torch.Tensor:
    """(B, F', T', D) -> (B, T' x F', D): the patches of time column 0, then column 1, ..."""
    batch, rows, cols, dim = grid.shape
    return grid.transpose(1, 2).reshape(batch, cols * rows, dim)


# ---- Task 2 ------------------------------------------------------------------------------------

POSITIONS = N_("patch (f, t) gets freq[f] + time[t]: grid + self.freq + self.time[:, :, :T']")


def _positions_alone(checker: Checker, cls) -> None:
    checker.topic = "outputs"
    module = build(
        checker,
        cls,
        {"d_model": D_MODEL, "rows": ROWS, "max_cols": COLS},
        "d_model, rows, max_cols",
    )
    freq, time = getattr(module, "freq", None), getattr(module, "time", None)
    if not (
        isinstance(freq, torch.Tensor)
        and isinstance(time, torch.Tensor)
        and tuple(freq.shape) == (1, ROWS, 1, D_MODEL)
        and tuple(time.shape) == (1, 1, COLS, D_MODEL)
    ):
        checker.stop(
            N_("self.freq is (1, F', 1, D) and self.time (1, 1, T', D)"),
            N_("keep the skeleton's two parameters, self.freq and self.time"),
        )
    generator = torch.Generator().manual_seed(4)
    grid = torch.randn(2, ROWS, COLS, D_MODEL, generator=generator, dtype=torch.float64)
    got = call(
        checker, Text(N_("{call} runs"), call="forward(grid (2, 3, 7, 12))"), lambda: module(grid)
    )
    expected = grid + freq + time
    bugs = [
        (grid + freq, N_("only the frequency positions are added; add self.time too")),
        (grid + time, N_("only the time positions are added; add self.freq too")),
    ]
    why = next((m for wrong, m in bugs if differs(got, wrong.detach()) is None), None)
    checker.expect(
        differs(got, expected.detach()) is None,
        Text(
            N_("{call} returns {shape}, patch (f, t) + freq[f] + time[t]"),
            call="forward(grid (2, 3, 7, 12))",
            shape=shape_text(got),
        ),
        why or POSITIONS,
    )
    checker.topic = "length"
    short = grid[:, :, :SHORT_COLS]
    got = call(
        checker, N_("forward(grid (2, 3, 5, 12)) runs (a shorter clip)"), lambda: module(short)
    )
    checker.expect(
        differs(got, (short + freq + time[:, :, :SHORT_COLS]).detach()) is None,
        Text(
            N_("a shorter grid (2, 3, 5, 12) gets the first 5 time positions: {shape}"),
            shape=shape_text(got),
        ),
        N_("cut the time positions to the grid's columns: self.time[:, :, :grid.size(2)]"),
    )
    wide = torch.zeros(2, ROWS, COLS + 2, D_MODEL, dtype=torch.float64)
    try:
        module(wide)
        raised = None
    except ValueError:
        raised = True
    except NotImplementedError:
        raised = None
    except Exception as error:
        raised = type(error).__name__
    checker.expect(
        raised is True,
        N_("a grid wider than max_cols raises ValueError"),
        Text(
            N_(
                "there are no positions for columns past max_cols: raise ValueError saying so "
                "(the model is built for a clip length){raised}"
            ),
            raised=Text(N_("; it raised {error}"), error=raised) if isinstance(raised, str) else "",
        ),
    )


def _positions_in_model(checker: Checker, ns: dict) -> None:
    model = build_patch_model(checker, ns, keep="FreqTimePositions")
    read = torch.cat([model.cls_token, model.dist_token], dim=1).detach()  # (1, 2, D)
    for topic, samples, cols in (("outputs", SAMPLES, COLS), ("length", SHORT, SHORT_COLS)):
        checker.topic = topic
        clips = waves(samples)
        seen = captured(
            checker, model, clips, Text(N_("{call} runs"), call=f"heads(waves (2, {samples}))")
        )
        tokens, grid = seen["tokens"], seen["grid"]
        count = READ + ROWS * cols
        if not isinstance(tokens, torch.Tensor) or tuple(tokens.shape) != (2, count, D_MODEL):
            checker.stop(
                Text(
                    N_("a clip of {samples} samples: the encoder gets {shape}"),
                    samples=samples,
                    shape=shape_text(tokens),
                ),
                Text(
                    N_(
                        "(B, 2 + F' x T', D) = {shape}: CLS, distillation token, then the "
                        "{rows} x {cols} patches"
                    ),
                    shape=(2, count, D_MODEL),
                    rows=ROWS,
                    cols=cols,
                ),
            )
        positions = model.positions
        with torch.no_grad():
            expected = time_major(grid + positions.freq + positions.time[:, :, :cols])
        checker.expect(
            differs(tokens[:, :READ], read.expand(2, -1, -1)) is None,
            N_("the CLS and distillation tokens reach the encoder as they are"),
            N_(
                "positions (or anything else) are added to the CLS and distillation tokens: add the "
                "positions to the patch grid, before the two tokens are put in front"
            ),
        )
        checker.expect(
            differs(tokens[:, READ:], expected) is None,
            Text(
                N_(
                    "a clip of {samples} samples: the {rows} x {cols} patches reach the encoder "
                    "with freq[f] + time[t], time-major"
                ),
                samples=samples,
                rows=ROWS,
                cols=cols,
            ),
            N_(
                "each patch must carry its own row's and column's positions: self.positions(grid) on "
                "the (B, F', T', D) grid, before patch-out and before the CLS token"
            ),
        )


def positions(checker: Checker, cls, ns: dict) -> None:
    """Task 2: FreqTimePositions alone, then in the notebook's PatchKWT."""
    _positions_alone(checker, cls)
    _positions_in_model(checker, ns)
