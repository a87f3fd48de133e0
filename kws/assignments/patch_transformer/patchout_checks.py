"""Notebook 03, Task 3: structured patch-out, measured on the attention the model runs.

The notebook's PatchKWT is built with its own StructuredPatchout and patchout=(k_t, k_f) =
(2, 1) on a 3 x 7 patch grid (`model_checks.build_patch_model`; reference patches and positions
stand in for Tasks 1 and 2), and its forward is traced with the kit's tracer
(`kws.tracing.trace.trace_forward`), which finds every attention computation whatever the layers
are called: the number of keys each attends over is the number of tokens that reached the
encoder. A hook on the model's ``patchout`` module sees the grid it gets and the one it returns.

- "eval": in eval mode the attention runs over the CLS and distillation tokens and all 21 patches,
  and patch-out returns the grid unchanged;
- "train": in training mode (SpecAugment and dropout off, so that patch-out is the only random
  step) the attention runs over 2 + (3 - 1) x (7 - 2) = 12 tokens; every patch patch-out returns
  is one of the grid's, and together they are whole rows and whole columns of it, the same for
  every clip of the batch (in any order); the same seed of ``patchout.generator`` drops the
  same ones whatever the state of torch's global generator, other seeds under one global state
  others (so a draw from the global generator fails); and asking for more columns and rows than
  the grid has (`TOO_MANY`) keeps one of each.

The tracer puts what it traces in eval mode; `TrainingForward` puts the model back in training
mode inside the traced forward, so the training computation is the one traced.
"""

from __future__ import annotations

import torch
from torch import nn

from kws.assignments.patch_transformer.model_checks import (
    COLS,
    D_MODEL,
    READ,
    ROWS,
    build_patch_model,
    waves,
)
from kws.author import N_, Checker, Text, call, shape_text

K_T, K_F = 2, 1  # time columns and frequency rows dropped
TOO_MANY = (COLS + 2, ROWS + 2)  # (k_t, k_f) more than the grid has: one row and column kept
SEED, OTHER_SEEDS = 7, (8, 9, 10, 11, 12)
# States of torch's global generator: the draws of one seed of patchout.generator are made under
# each (the same rows and columns, or the draw came from the global generator), those of
# different seeds under the first (other rows and columns).
GLOBAL_SEEDS = (1000, 2024, 31337)
DROP = Text(
    N_(
        "draw k_t of the T' columns and k_f of the F' rows (torch.randperm(n, generator="
        "self.generator)), the same for the whole batch, and keep the others: "
        "grid[:, rows][:, :, cols]"
    )
)


class TrainingForward(nn.Module):
    """``model.heads(waves)`` in training mode (or eval with `training=False`), SpecAugment and
    dropout off: what `trace_forward`, which calls ``eval()`` on what it traces, should run."""

    def __init__(self, model: nn.Module, training: bool):
        super().__init__()
        self.model, self.mode = model, training

    def forward(self, clips: torch.Tensor):
        self.model.train(self.mode)
        for module in self.model.modules():
            if isinstance(module, nn.Dropout) or module is getattr(self.model, "specaugment", None):
                module.eval()
        return self.model.heads(clips)


def _run(
    checker: Checker,
    model: nn.Module,
    training: bool,
    seed: int,
    traced: bool = True,
    global_seed: int = GLOBAL_SEEDS[0],
) -> dict:
    """One forward with ``patchout.generator`` seeded `seed` and torch's global generator
    `global_seed`: {"in": the grid patch-out got, "out": what it returned, "keys": [keys of each
    attention computation] when `traced`}."""
    from kws.author import trace_forward

    seen = {}

    def hook(module, args, output):
        seen["in"], seen["out"] = (args[0] if args else None), output

    model.patchout.generator = torch.Generator().manual_seed(seed)
    handle = model.patchout.register_forward_hook(hook)
    mode = Text(N_("training")) if training else Text(N_("eval"))
    run = TrainingForward(model, training)
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(global_seed)  # a draw from it must not depend on it
            if traced:
                trace = call(
                    checker,
                    Text(N_("forward in {mode} mode runs (traced)"), mode=mode),
                    lambda: trace_forward(run, waves()),
                )
                seen["keys"] = [keys for _, keys in trace.attention_sizes]
            else:
                runs = Text(N_("forward in {mode} mode runs"), mode=mode)
                call(checker, runs, lambda: run(waves()))
    finally:
        handle.remove()
        model.eval()
    if "out" not in seen:
        checker.stop(
            Text(N_("forward in {mode} mode runs self.patchout"), mode=mode),
            N_("keep heads' self.patchout(grid)"),
        )
    return seen


def _places(grid: torch.Tensor, patch: torch.Tensor) -> list[tuple[int, int]]:
    """The (row, column) of every patch of `grid` (B, F', T', D) equal to `patch` (B, D) or (D,)."""
    rows, cols = grid.size(-3), grid.size(-2)
    return [
        (f, t) for f in range(rows) for t in range(cols) if torch.equal(patch, grid[..., f, t, :])
    ]


def _whole(grid: torch.Tensor, out: torch.Tensor) -> tuple[str, tuple | None]:
    """("whole", (rows, columns) kept) when `out` is whole rows and columns of `grid`, the same for
    every clip; else (what is wrong, None)."""
    places = {}
    for i in range(out.size(1)):
        for j in range(out.size(2)):
            found = _places(grid, out[:, i, j])
            if not found:
                alone = all(_places(grid[b], out[b, i, j]) for b in range(grid.size(0)))
                if alone:
                    return N_(
                        "each clip keeps other patches: drop the same ones for the batch"
                    ), None
                return (
                    N_(
                        "it returns values that are not patches of the grid: select, do not compute"
                    ),
                    None,
                )
            places[i, j] = found[0]
    rows = [{places[i, j][0] for j in range(out.size(2))} for i in range(out.size(1))]
    cols = [{places[i, j][1] for i in range(out.size(1))} for j in range(out.size(2))]
    if any(len(r) != 1 for r in rows) or any(len(c) != 1 for c in cols):
        said = N_("single patches are dropped, not whole rows and columns: {fix}")
        return Text(said, fix=DROP), None
    kept = (tuple(r.pop() for r in rows), tuple(c.pop() for c in cols))
    if len(set(kept[0])) != len(kept[0]) or len(set(kept[1])) != len(kept[1]):
        return N_("a row or column is kept twice: keep each of the others once"), None
    return "whole", kept


def structured_patchout(checker: Checker, cls, ns: dict) -> None:
    """Task 3 (see the module's docstring); `cls` is the notebook's StructuredPatchout, which the
    model builds for itself."""
    model = build_patch_model(checker, ns, keep="StructuredPatchout", patchout=(K_T, K_F))
    full, dropped = READ + ROWS * COLS, READ + (ROWS - K_F) * (COLS - K_T)

    checker.topic = "eval"
    seen = _run(checker, model, training=False, seed=SEED)
    keys = sorted(set(seen["keys"]))
    checker.expect(
        keys == [full],
        Text(
            N_(
                "in eval mode the attention runs over {keys} tokens: all {n} patches and the 2 "
                "read tokens make {full}"
            ),
            keys=keys or Text(N_("no")),
            n=ROWS * COLS,
            full=full,
        ),
        N_(
            "patch-out must only drop in training: return the grid unchanged when not self.training"
        ),
    )
    checker.expect(
        isinstance(seen["out"], torch.Tensor) and torch.equal(seen["out"], seen["in"]),
        N_("in eval mode, patch-out returns the grid unchanged"),
        N_("return the grid as it is when not self.training (eval mode keeps every patch)"),
    )

    checker.topic = "train"
    seen = _run(checker, model, training=True, seed=SEED)
    grid, out = seen["in"], seen["out"]
    shape = (2, ROWS - K_F, COLS - K_T, grid.size(3))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape:
        checker.stop(
            Text(
                N_(
                    "in training, k_t={k_t}, k_f={k_f} on a {rows} x {cols} grid: patch-out "
                    "returns {got}; (B, F' - k_f, T' - k_t, D) = {shape}"
                ),
                k_t=K_T,
                k_f=K_F,
                rows=ROWS,
                cols=COLS,
                got=shape_text(out),
                shape=shape,
            ),
            DROP,
        )
    keys = sorted(set(seen["keys"]))
    checker.expect(
        keys == [dropped],
        Text(
            N_(
                "in training the attention runs over {keys} tokens: 2 + {rows} x {cols} = {n} (traced)"
            ),
            keys=keys or Text(N_("no")),
            rows=ROWS - K_F,
            cols=COLS - K_T,
            n=dropped,
        ),
        N_(
            "the tokens the encoder gets must be the patches patch-out keeps, and the 2 read tokens"
        ),
    )
    verdict, kept = _whole(grid, out)
    checker.expect(
        kept is not None,
        Text(
            N_("the patches kept are whole rows and columns of the grid{which}"),
            which=Text(N_(" (rows {rows}, columns {cols})"), rows=list(kept[0]), cols=list(kept[1]))
            if kept
            else "",
        ),
        verdict,
    )
    if kept is None:
        return
    _seeded(checker, model, grid, kept)
    _too_many(checker, ns)


def _kept(checker: Checker, model: nn.Module, grid: torch.Tensor, seed: int, global_seed: int):
    """The (rows, columns) patch-out keeps of `grid` in training, its generator seeded `seed`,
    torch's global one `global_seed`."""
    out = _run(checker, model, True, seed, traced=False, global_seed=global_seed)["out"]
    return _whole(grid, out)[1]


def _seeded(checker: Checker, model: nn.Module, grid: torch.Tensor, kept: tuple) -> None:
    """The rows and columns kept are drawn with ``patchout.generator``: the same for one seed
    whatever torch's global generator holds, others for other seeds."""
    again = [_kept(checker, model, grid, SEED, state) for state in GLOBAL_SEEDS[1:]]
    checker.expect(
        all(each == kept for each in again),
        Text(
            N_(
                "the same seed of patchout.generator ({seed}) drops the same rows and columns, "
                "whatever the state of torch's global random generator"
            ),
            seed=SEED,
        ),
        N_(
            "draw with self.generator (torch.randperm(n, generator=self.generator)), not the "
            "global random generator"
        ),
    )
    others = [_kept(checker, model, grid, seed, GLOBAL_SEEDS[0]) for seed in OTHER_SEEDS]
    checker.expect(
        any(other != kept for other in others),
        Text(
            N_("other seeds ({seeds}) drop other rows and columns"),
            seeds=", ".join(map(str, OTHER_SEEDS)),
        ),
        N_("draw the rows and columns at random, with self.generator"),
    )


def _too_many(checker: Checker, ns: dict) -> None:
    """Asking for more columns and rows than the grid has keeps one of each."""
    k_t, k_f = TOO_MANY
    model = build_patch_model(checker, ns, keep="StructuredPatchout", patchout=TOO_MANY)
    checker.topic = "train"
    out = _run(checker, model, training=True, seed=SEED, traced=False)["out"]
    shape = (2, 1, 1, D_MODEL)
    checker.expect(
        isinstance(out, torch.Tensor) and tuple(out.shape) == shape,
        Text(
            N_(
                "asking for k_t={k_t} of {cols} columns and k_f={k_f} of {rows} rows, patch-out "
                "returns {got}; keeping one row and one column, {shape}"
            ),
            k_t=k_t,
            cols=COLS,
            k_f=k_f,
            rows=ROWS,
            got=shape_text(out),
            shape=shape,
        ),
        N_(
            "drop at most T' - 1 columns and F' - 1 rows: k_t = min(self.k_t, T' - 1), and the same "
            "for k_f"
        ),
    )
