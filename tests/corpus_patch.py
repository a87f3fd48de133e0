"""Notebook 03's cases of the grader corpus: one planted bug per case, built from the reference
hand-in, each losing exactly its own test with a reason naming the fix (patch-out drawn from
torch's global generator, or keeping nothing when asked for more than the grid has, among them);
a rewrite of the reference (other names, another patch embedding, cells in another order) and
four other patch projections (a Conv2d or a Linear without a bias, F.unfold with raw parameters,
a Linear on sliced patches), each with its checkpoint, that keep full marks.

    build_patch_corpus(reference, corpus_dir)  # one folder per case: notebook 03 + outputs/patch
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch
from corpus_grading import build_cases

NOTEBOOK = "03_patch_transformer.ipynb"

# Short name -> results.json name (the test's docstring or spec title) of notebook 03's tests,
# except the gpu one.
PATCH_NUMERIC_TESTS = {
    "grid": "Task 1: grid_size counts the patches that fit along an axis, (size - patch) // "
    "stride + 1",
    "embedding": "Task 1: PatchEmbedding's grid (B, F', T', D) matches unfold + Linear with its "
    "weights",
    "positions": "Task 2: each patch gets its frequency and time positions, the CLS tokens none; a "
    "shorter clip the first time positions",
    "patchout_training": "Task 3: in training the attention runs over whole rows and columns of "
    "patches, seeded (traced)",
    "patchout_eval": "Task 3: in eval mode patch-out keeps every patch (traced)",
    "loss": "Task 4: distillation_loss is ½ CE(CLS head, labels) + ½ CE(distillation head, the "
    "teacher's hard labels)",
    "average": "Task 4: at test time the model returns the average of its two heads",
}
PATCH_TESTS = {
    "load": "Model: PatchKWT builds from config.json and loads model.pt",
    "shape": "PatchKWT: one score per class (B, 12) for a batch of 1-second waveforms",
    "accuracy": "PatchKWT: accuracy on the hidden 12-class test set (partial credit by tier)",
    "size": "Task 5: the model holds at most KWT-1's 607k weights (counted in model.pt)",
    "scratch": "Task 5: no ready-made Transformer in forward (torch.nn's layers, timm's, the kit's "
    "models but its encoder)",
} | PATCH_NUMERIC_TESTS


@dataclass(frozen=True)
class PatchCase:
    name: str
    damage: Callable[[Path], None]  # edits the copied submission folder
    lost: dict[str, str] = field(default_factory=dict)  # test -> phrase of its reason


def _cell(nb, name: str):
    """The model cell defining class or function `name`."""
    (cell,) = [
        c
        for c in nb.cells
        if "model" in c.metadata.get("tags", [])
        and (f"class {name}(" in c.source or f"def {name}(" in c.source)
    ]
    return cell


def _edit(name: str, *edits: tuple[str, str]) -> Callable[[Path], None]:
    """Damage: replace each (old, new) once in the model cell that defines `name`."""

    def damage(folder: Path) -> None:
        nb = nbformat.read(folder / NOTEBOOK, as_version=4)
        cell = _cell(nb, name)
        for old, new in edits:
            assert cell.source.count(old) == 1, f"{old!r} is not in {name}'s cell exactly once"
            cell.source = cell.source.replace(old, new)
        nbformat.write(nb, folder / NOTEBOOK)

    return damage


# ---- the planted bugs ---------------------------------------------------------------------------

GRID_OFF_BY_ONE = _edit(
    "grid_size", ("return (size - patch) // stride + 1", "return (size - patch) // stride")
)
# The AST way with a flat table, one off: the positions, flattened, added to the sequence once the
# CLS and distillation tokens are in front of it, so the CLS token takes the first patch's.
POSITIONS_AFTER_THE_CLS_TOKEN = _edit(
    "PatchKWT",
    (
        "grid = self.positions(self.patches(features))  # (B, F', T', D)\n",
        "grid = self.patches(features)  # (B, F', T', D)\n"
        "        places = self.positions(torch.zeros_like(grid[:1]))  # (1, F', T', D)\n",
    ),
    (
        "+ [tokens], dim=1)  # (B, R + N, D)\n",
        "+ [tokens], dim=1)  # (B, R + N, D)\n"
        "        places = places.transpose(1, 2).flatten(1, 2)[:, : h.size(1)]  # time-major\n"
        "        h = h + nn.functional.pad(places, (0, 0, 0, h.size(1) - places.size(1)))\n",
    ),
)
PATCHOUT_IN_EVAL_MODE = _edit(
    "StructuredPatchout", ("        if not self.training:\n            return grid\n", "")
)
PATCHOUT_OF_SINGLE_PATCHES = _edit(  # as many patches as rows x columns would keep, one by one
    "StructuredPatchout",
    (
        "        keep_cols = torch.randperm(cols, generator=self.generator)[: cols - k_t].sort().values\n"
        "        keep_rows = torch.randperm(rows, generator=self.generator)[: rows - k_f].sort().values\n"
        "        grid = grid[:, keep_rows.to(grid.device)]  # (B, F' - k_f, T', D)\n"
        "        return grid[:, :, keep_cols.to(grid.device)]  # (B, F' - k_f, T' - k_t, D)\n",
        "        kept = (rows - k_f) * (cols - k_t)\n"
        "        keep = torch.randperm(rows * cols, generator=self.generator)[:kept].sort().values\n"
        "        flat = grid.reshape(grid.size(0), rows * cols, -1)[:, keep.to(grid.device)]\n"
        "        return flat.reshape(grid.size(0), rows - k_f, cols - k_t, -1)\n",
    ),
)
SOFT_TARGETS = _edit(
    "distillation_loss",
    (
        "teacher_labels = teacher_logits.argmax(dim=-1)",
        "teacher_labels = teacher_logits.softmax(-1)",
    ),
)
LIBRARY_ENCODER = _edit(  # torch's layers carry the kit's parameter names: the checkpoint loads
    "PatchKWT",
    (
        "self.encoder = TransformerEncoder(layer, num_layers)",
        "self.encoder = nn.TransformerEncoder(\n"
        "            nn.TransformerEncoderLayer(\n"
        "                d_model, nhead, dim_feedforward, dropout, activation='gelu',\n"
        "                batch_first=True, norm_first=True,\n"
        "            ),\n"
        "            num_layers,\n"
        "            enable_nested_tensor=False,\n"
        "        )",
    ),
)

# Task 3: the rows and columns drawn from torch's global generator, not self.generator: a seed
# given to patchout.generator changes nothing.
GLOBAL_GENERATOR_EDITS = (
    ("torch.randperm(cols, generator=self.generator)", "torch.randperm(cols)"),
    ("torch.randperm(rows, generator=self.generator)", "torch.randperm(rows)"),
)
GLOBAL_GENERATOR_DRAW = _edit("StructuredPatchout", *GLOBAL_GENERATOR_EDITS)
# Task 3: no "at least one of each": asking for 9 of 7 columns keeps randperm(7)[:-2], 5 of them.
NOT_AT_LEAST_ONE_EDITS = (
    (
        "k_t, k_f = min(self.k_t, cols - 1), min(self.k_f, rows - 1)",
        "k_t, k_f = self.k_t, self.k_f",
    ),
)
NOT_AT_LEAST_ONE = _edit("StructuredPatchout", *NOT_AT_LEAST_ONE_EDITS)

# ---- patch projections written other ways: one Linear map of a patch each, full marks --------
# Each replaces the reference's two solution lines of PatchEmbedding (its projection, its
# forward) and converts the reference's checkpoint (a Conv2d's kernel (D, 1, pf, pt) and bias
# under patches.proj) to the tensors the rewrite holds, as if it had trained them itself.

CONV = (
    "        self.proj = nn.Conv2d(1, d_model, kernel_size=self.patch_size, stride=self.stride)\n"
)
CONV_FORWARD = (
    "        image = features.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): frequency as rows\n"
    "        return self.proj(image).permute(0, 2, 3, 1)  # (B, D, F', T') -> (B, F', T', D)\n"
)
PROJECTIONS = {
    "conv_without_bias": (
        CONV.replace("stride=self.stride)", "stride=self.stride, bias=False)"),
        CONV_FORWARD,
    ),
    "unfold_and_linear_without_bias": (
        "        pf, pt = self.patch_size\n"
        "        self.proj = nn.Linear(pf * pt, d_model, bias=False)\n",
        "        B, T, n_mels = features.shape\n"
        "        rows = grid_size(n_mels, self.patch_size[0], self.stride[0])\n"
        "        cols = grid_size(T, self.patch_size[1], self.stride[1])\n"
        "        image = features.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T)\n"
        "        patches = F.unfold(image, self.patch_size, stride=self.stride)  # (B, pf * pt, N)\n"
        "        return self.proj(patches.transpose(1, 2)).view(B, rows, cols, -1)\n",
    ),
    "unfold_and_raw_parameters": (
        "        pf, pt = self.patch_size\n"
        "        self.kernel = nn.Parameter(torch.randn(pf * pt, d_model) / (pf * pt) ** 0.5)\n"
        "        self.offset = nn.Parameter(torch.zeros(d_model))\n",
        "        B, T, n_mels = features.shape\n"
        "        rows = grid_size(n_mels, self.patch_size[0], self.stride[0])\n"
        "        cols = grid_size(T, self.patch_size[1], self.stride[1])\n"
        "        image = features.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T)\n"
        "        patches = F.unfold(image, self.patch_size, stride=self.stride)  # (B, pf * pt, N)\n"
        "        tokens = patches.transpose(1, 2) @ self.kernel + self.offset  # (B, N, D)\n"
        "        return tokens.reshape(B, rows, cols, -1)\n",
    ),
    "linear_on_sliced_patches": (
        "        pf, pt = self.patch_size\n        self.project = nn.Linear(pt * pf, d_model)\n",
        "        (pf, pt), (sf, st) = self.patch_size, self.stride\n"
        "        rows = grid_size(features.size(2), pf, sf)\n"
        "        cols = grid_size(features.size(1), pt, st)\n"
        "        grid = [\n"
        "            [features[:, t * st : t * st + pt, f * sf : f * sf + pf].flatten(1) for t in range(cols)]\n"
        "            for f in range(rows)\n"
        "        ]  # each patch (B, pt * pf), time-major\n"
        "        patches = torch.stack([torch.stack(row, dim=1) for row in grid], dim=1)\n"
        "        return self.project(patches)  # (B, F', T', D)\n",
    ),
}


def _conv_to(name: str, state: dict) -> dict:
    """The reference's checkpoint with patches.proj's Conv2d (D, 1, pf, pt) as projection `name`
    holds it."""
    weight, bias = state.pop("patches.proj.weight"), state.pop("patches.proj.bias")
    flat = weight.flatten(1)  # (D, pf * pt), frequency-major
    converted = {
        "conv_without_bias": {"patches.proj.weight": weight},
        "unfold_and_linear_without_bias": {"patches.proj.weight": flat},
        "unfold_and_raw_parameters": {"patches.kernel": flat.T, "patches.offset": bias},
        "linear_on_sliced_patches": {
            "patches.project.weight": weight.squeeze(1).transpose(1, 2).flatten(1),  # time-major
            "patches.project.bias": bias,
        },
    }[name]
    return state | converted


def _projection(name: str) -> Callable[[Path], None]:
    """Damage that is none: PatchEmbedding's projection written as `PROJECTIONS[name]`."""
    init, forward = PROJECTIONS[name]
    edit = _edit("PatchEmbedding", (CONV, init), (CONV_FORWARD, forward))

    def rewrite(folder: Path) -> None:
        edit(folder)
        path = folder / "outputs" / "patch" / "model.pt"
        torch.save(_conv_to(name, torch.load(path, weights_only=True)), path)

    return rewrite


# ---- a rewrite that keeps what the reference does -----------------------------------------------

REWRITTEN = {
    "grid_size": """import torch
from torch import nn
from torch.nn import functional as fn


def grid_size(length, width, step):
    # every start whose window fits
    return len(range(0, length - width + 1, step))


class PatchEmbedding(nn.Module):
    def __init__(self, d_model: int, patch_size: tuple[int, int], stride: tuple[int, int]):
        super().__init__()
        self.stride = tuple(stride)
        self.patch_size = tuple(patch_size)
        self.proj = nn.Linear(self.patch_size[0] * self.patch_size[1], d_model)

    def forward(self, features):
        batch, frames, mels = features.shape
        rows = grid_size(mels, self.patch_size[0], self.stride[0])
        cols = grid_size(frames, self.patch_size[1], self.stride[1])
        image = features.transpose(1, 2)[:, None]

        windows = fn.unfold(image, self.patch_size, stride=self.stride)  # (B, pf * pt, L)
        return self.proj(windows.transpose(1, 2)).view(batch, rows, cols, -1)
""",
    "FreqTimePositions": """import torch
from torch import nn


class FreqTimePositions(nn.Module):
    def __init__(self, d_model: int, rows: int, max_cols: int):
        super().__init__()
        self.freq = nn.Parameter(torch.randn(1, rows, 1, d_model) * 0.02)
        self.time = nn.Parameter(torch.randn(1, 1, max_cols, d_model) * 0.02)

    def forward(self, patches):
        available, width = self.time.shape[2], patches.shape[2]
        if width > available:
            raise ValueError(f"{width} columns, but positions for {available} only")
        return self.time[:, :, :width] + self.freq + patches
""",
    "StructuredPatchout": """import torch
from torch import nn


class StructuredPatchout(nn.Module):
    def __init__(self, k_t: int = 0, k_f: int = 0):
        super().__init__()
        self.k_t, self.k_f = k_t, k_f
        self.generator: torch.Generator | None = None

    def forward(self, patches):
        if self.training:
            n_rows, n_cols = patches.shape[1:3]
            cols = torch.randperm(n_cols, generator=self.generator)[min(self.k_t, n_cols - 1) :]
            rows = torch.randperm(n_rows, generator=self.generator)[min(self.k_f, n_rows - 1) :]
            patches = patches.index_select(2, cols.sort()[0].to(patches.device))
            patches = patches.index_select(1, rows.sort()[0].to(patches.device))
        return patches
""",
    "distillation_loss": """import torch
from torch import nn


def average_heads(first, second):
    return torch.stack([first, second]).mean(dim=0)


def distillation_loss(head, extra_head, targets, teacher, smoothing=0.0):
    criterion = nn.CrossEntropyLoss(label_smoothing=smoothing)
    answers = teacher.max(dim=1).indices  # hard labels
    return 0.5 * criterion(extra_head, answers) + 0.5 * criterion(head, targets)
""",
}


def _rewritten(folder: Path) -> None:
    """Tasks 1 to 4 written another way, Task 4's cell first; the checkpoint the rewrite trains
    (unfold + Linear keeps the convolution's kernel as a (D, pf * pt) weight)."""
    nb = nbformat.read(folder / NOTEBOOK, as_version=4)
    for name, source in REWRITTEN.items():
        _cell(nb, name).source = source
    task4 = _cell(nb, "distillation_loss")
    nb.cells.remove(task4)
    nb.cells.insert(nb.cells.index(_cell(nb, "grid_size")), task4)
    nbformat.write(nb, folder / NOTEBOOK)
    path = folder / "outputs" / "patch" / "model.pt"
    state = torch.load(path, weights_only=True)
    weight = state["patches.proj.weight"]  # (D, 1, pf, pt)
    state["patches.proj.weight"] = weight.reshape(weight.size(0), -1)  # (D, pf * pt)
    torch.save(state, path)


def patch_cases() -> list[PatchCase]:
    return [
        PatchCase("grid_off_by_one", GRID_OFF_BY_ONE, {"grid": "off by one"}),
        PatchCase(
            "positions_added_after_the_cls_token",
            POSITIONS_AFTER_THE_CLS_TOKEN,
            {"positions": "added to the CLS and distillation tokens"},
        ),
        PatchCase(
            "patchout_in_eval_mode",
            PATCHOUT_IN_EVAL_MODE,
            {"patchout_eval": "patch-out must only drop in training"},
        ),
        PatchCase(
            "patchout_of_single_patches",
            PATCHOUT_OF_SINGLE_PATCHES,
            {"patchout_training": "single patches are dropped, not whole rows and columns"},
        ),
        PatchCase(
            "distillation_against_soft_targets",
            SOFT_TARGETS,
            {"loss": "against the teacher's probabilities (soft targets)"},
        ),
        PatchCase(
            "library_encoder", LIBRARY_ENCODER, {"scratch": "runs torch.nn.TransformerEncoder"}
        ),
        PatchCase(
            "patchout_from_the_global_generator",
            GLOBAL_GENERATOR_DRAW,
            {"patchout_training": "not the global random generator"},
        ),
        PatchCase(
            "patchout_without_at_least_one",
            NOT_AT_LEAST_ONE,
            {"patchout_training": "drop at most T' - 1 columns"},
        ),
        PatchCase("rewritten_and_reordered", _rewritten),
        *[PatchCase(name, _projection(name)) for name in PROJECTIONS],
    ]


def build_patch_corpus(
    reference: Path, corpus_dir: Path, only: Collection[str] | None = None
) -> dict[str, PatchCase]:
    """One folder per case under `corpus_dir`: notebook 03 and its outputs/patch, then damaged.
    `only`: the names of the cases to build (default: all)."""
    return build_cases(patch_cases(), reference, corpus_dir, NOTEBOOK, ["patch"], only)
