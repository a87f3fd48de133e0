"""Correct hand-ins rewritten the way students write them, for the grader corpus: each must keep
every point (issue 36).

- `rewrite_reordered`: the reference hand-in with independent statements reordered, in
  ``__init__`` (the order sub-modules are registered in) and in ``forward``;
- `rewrite_renamed`: every local name, every forward parameter and every sub-module the
  grader does not name renamed, comments and blank lines changed (the checkpoints saved with the
  new names, as the student's own training would have saved them);
- `rewrite_renamed_and_reordered`: both;
- `independent_A` .. `independent_D`: the released notebook 02 with four students' own code in
  its TODOs (tests/class_corpus.py), handing in the reference's checkpoints under their names.

Constructor arguments stay (config.json passes them by name), and so do the class names, the
model's `encoder` and am_softmax_loss's `margin` and `scale`: the skeleton fixes those.

    rewrite_cases(Case)   # grader_corpus.Case objects
"""

import json
import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import torch
from class_corpus import SPEAKER, SPEAKER_KEYS, filled_cells

NOTEBOOK = "02_speaker_id.ipynb"
TASKS = ("task1", "task2", "task3")

# Sub-modules, parameters and methods: old name -> the student's (state-dict keys follow).
ATTRIBUTES = {
    "nhead": "n_heads",
    "head_dim": "per_head",
    "in_proj_weight": "qkv_weight",
    "in_proj_bias": "qkv_bias",
    "out_proj": "merge",
    "dropout": "drop",
    "norm_first": "pre_norm",
    "self_attn": "attention",
    "linear1": "ff_in",
    "linear2": "ff_out",
    "norm1": "ln_attn",
    "norm2": "ln_ff",
    "dropout1": "drop_attn",
    "dropout2": "drop_ff",
    "_attention": "_attend",
    "_feed_forward": "_ffn",
    "layers": "blocks",
    "prenet": "embed",
    "classifier": "out_layer",
    "layer_norm": "pre_ln",
    "pointwise_conv1": "expand",
    "depthwise_conv": "depthwise",
    "norm": "bn",
    "pointwise_conv2": "squeeze",
    "ffn1": "half_ff_a",
    "self_attn_layer_norm": "attn_ln",
    "self_attn_dropout": "attn_drop",
    "conv_module": "conv",
    "ffn2": "half_ff_b",
    "final_layer_norm": "out_ln",
    "score": "scorer",
    "pooling": "pool",
    "head": "cos_head",
}
WEIGHT = {"head.weight": "cos_head.centers"}  # AMSoftmaxHead's own parameter, `self.weight`
# Forward parameters and locals: old name -> the student's.
LOCALS = {
    "x": "feats",
    "key_padding_mask": "ignore",
    "padding": "pad_mask",
    "lengths": "n_frames",
    "h": "hidden",
    "q": "query",
    "k": "key",
    "v": "value",
    "scores": "energy",
    "weights": "alpha",
    "y": "mixed",
    "pooled": "summary",
    "B": "n_batch",
    "T": "n_time",
    "D": "n_dim",
    "embedding": "emb",
    "cosines": "cos",
    "labels": "target",
    "margins": "shift",
    "layer": "blk",
    "block": "stage",
}


def _renamed_source(source: str, attributes: dict = ATTRIBUTES, locals_: dict = LOCALS) -> str:
    """A model cell with `attributes` (after ``self.`` and after ``def``) and `locals_` (whole
    names, not after a dot, not a keyword argument inside a call) renamed; comments and blank
    lines changed."""
    own = attributes | ({"weight": "centers"} if attributes is ATTRIBUTES else {})
    source = re.sub(r"\bself\.(\w+)", lambda m: f"self.{own.get(m[1], m[1])}", source)
    source = re.sub(r"(?<=def )(\w+)", lambda m: attributes.get(m[1], m[1]), source)

    def local(match: re.Match) -> str:
        before, after = match.string[: match.start()], match.string[match.end() :]
        keyword = before.count("(") > before.count(")") and re.match(r"\s*=(?!=)", after)
        return match[0] if keyword else locals_[match[1]]

    names = "|".join(map(re.escape, locals_))
    source = re.sub(rf"(?<![.\w])({names})\b", local, source)
    lines = []
    for line in source.splitlines():
        if line.strip().startswith("#"):
            continue  # the reference's comments go, the student's come
        lines.append(re.sub(r"\s+# .*$", "", line))
        if line.strip() == "super().__init__()":
            lines += ["", "        # my own names for the parts"]
    return "# written my own way\n" + "\n".join(lines) + "\n"


def _renamed_key(key: str, attributes: dict = ATTRIBUTES) -> str:
    key = WEIGHT.get(key, key) if attributes is ATTRIBUTES else key
    return ".".join(attributes.get(part, part) for part in key.split("."))


# Independent statements swapped, in __init__ and in forward: (old, new) once each, per class.
REORDER = {
    "MultiHeadSelfAttention": [
        (
            "        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))\n"
            "        self.out_proj = nn.Linear(d_model, d_model)\n",
            "        self.out_proj = nn.Linear(d_model, d_model)\n"
            "        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))\n",
        ),
        (
            "        self.linear1 = nn.Linear(d_model, dim_feedforward)\n"
            "        self.linear2 = nn.Linear(dim_feedforward, d_model)\n"
            "        self.norm1 = nn.LayerNorm(d_model)\n"
            "        self.norm2 = nn.LayerNorm(d_model)\n",
            "        self.norm2 = nn.LayerNorm(d_model)\n"
            "        self.linear2 = nn.Linear(dim_feedforward, d_model)\n"
            "        self.norm1 = nn.LayerNorm(d_model)\n"
            "        self.linear1 = nn.Linear(d_model, dim_feedforward)\n",
        ),
        (
            "        q = q.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)\n"
            "        k = k.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)\n"
            "        v = v.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)\n",
            "        v = v.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)\n"
            "        k = k.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)\n"
            "        q = q.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)\n",
        ),
        (
            "        self.prenet = nn.Linear(n_mels, d_model)\n"
            "        self.encoder = Encoder(d_model, nhead, dim_feedforward, num_layers, dropout)\n",
            "        self.encoder = Encoder(d_model, nhead, dim_feedforward, num_layers, dropout)\n"
            "        self.prenet = nn.Linear(n_mels, d_model)\n",
        ),
    ],
    "SpeakerConformer": [
        (
            "        self.linear1 = nn.Linear(d_model, ffn_dim)\n"
            "        self.linear2 = nn.Linear(ffn_dim, d_model)\n",
            "        self.linear2 = nn.Linear(ffn_dim, d_model)\n"
            "        self.linear1 = nn.Linear(d_model, ffn_dim)\n",
        ),
        (
            "        self.norm = nn.BatchNorm1d(d_model)\n"
            "        self.pointwise_conv2 = nn.Conv1d(d_model, d_model, kernel_size=1)\n",
            "        self.pointwise_conv2 = nn.Conv1d(d_model, d_model, kernel_size=1)\n"
            "        self.norm = nn.BatchNorm1d(d_model)\n",
        ),
        (
            "        self.ffn1 = FeedForward(d_model, ffn_dim, dropout)\n"
            "        self.self_attn_layer_norm = nn.LayerNorm(d_model)\n"
            "        self.self_attn = MultiHeadSelfAttention(d_model, nhead, dropout)\n"
            "        self.self_attn_dropout = nn.Dropout(dropout)\n"
            "        self.conv_module = ConvolutionModule(d_model, kernel_size, dropout)\n"
            "        self.ffn2 = FeedForward(d_model, ffn_dim, dropout)\n"
            "        self.final_layer_norm = nn.LayerNorm(d_model)\n",
            "        self.final_layer_norm = nn.LayerNorm(d_model)\n"
            "        self.conv_module = ConvolutionModule(d_model, kernel_size, dropout)\n"
            "        self.self_attn = MultiHeadSelfAttention(d_model, nhead, dropout)\n"
            "        self.ffn2 = FeedForward(d_model, ffn_dim, dropout)\n"
            "        self.self_attn_layer_norm = nn.LayerNorm(d_model)\n"
            "        self.ffn1 = FeedForward(d_model, ffn_dim, dropout)\n"
            "        self.self_attn_dropout = nn.Dropout(dropout)\n",
        ),
        (
            "        T = x.shape[1]\n"
            "        padding = torch.arange(T, device=x.device) >= lengths[:, None]  # (B, T) True = padding\n"
            "        h = self.prenet(x)  # (B, T, D)\n",
            "        h = self.prenet(x)  # (B, T, D)\n"
            "        T = x.shape[1]\n"
            "        padding = torch.arange(T, device=x.device) >= lengths[:, None]  # (B, T) True = padding\n",
        ),
    ],
    "SpeakerAttentionAMS": [
        (
            "        self.pooling = SelfAttentionPooling(d_model)\n"
            "        self.head = AMSoftmaxHead(d_model, n_classes)\n",
            "        self.head = AMSoftmaxHead(d_model, n_classes)\n"
            "        self.pooling = SelfAttentionPooling(d_model)\n",
        ),
    ],
}  # fmt: skip


def _model_cell(nb, class_name: str):
    return next(
        c
        for c in nb.cells
        if "model" in c.metadata.get("tags", []) and f"class {class_name}(" in c.source
    )


def _reordered(nb) -> None:
    for class_name, swaps in REORDER.items():
        cell = _model_cell(nb, class_name)
        for old, new in swaps:
            assert cell.source.count(old) == 1, f"{old!r} is not in the cell exactly once"
            cell.source = cell.source.replace(old, new)


def _rekey(folder: Path, rename: Callable[[str], str], tasks=TASKS) -> None:
    """Each task's model.pt saved with its keys renamed (the student's model saves its names)."""
    for task in tasks:
        path = folder / "outputs" / task / "model.pt"
        state = torch.load(path, weights_only=True)
        torch.save({rename(key): value for key, value in state.items()}, path)


def rewrite(rename: bool, reorder: bool) -> Callable:
    """Damage: the model cells rewritten (renamed and/or reordered), checkpoints to match."""

    def damage(folder: Path, context) -> None:
        nb = nbformat.read(folder / NOTEBOOK, as_version=4)
        if reorder:
            _reordered(nb)
        if rename:
            for cell in nb.cells:
                if "model" in cell.metadata.get("tags", []):
                    cell.source = _renamed_source(cell.source)
            _rekey(folder, _renamed_key)
        nbformat.write(nb, folder / NOTEBOOK)

    return damage


def independent(student: str) -> Callable:
    """Damage: the notebook replaced by `student`'s own (the released notebook, their code in
    its TODOs); the reference's checkpoints, under the names their classes give them."""

    def damage(folder: Path, context) -> None:
        nbformat.write(filled_cells(NOTEBOOK, SPEAKER[student]), folder / NOTEBOOK)
        names = SPEAKER_KEYS.get(student, {})  # the model's own sub-modules, at the top

        def rename(key: str) -> str:
            top, _, rest = key.partition(".")
            return ".".join([names.get(top, top), rest]) if rest else names.get(top, top)

        state = folder / "outputs" / "task2" / "model.pt"
        weights = torch.load(state, weights_only=True)
        torch.save({rename(key): value for key, value in weights.items()}, state)
        config = json.loads((folder / "outputs" / "task2" / "config.json").read_text())
        assert config["class"] == "SpeakerConformer"

    return damage


# ---- notebook 01 ---------------------------------------------------------------------------------

KEYWORD_NOTEBOOK = "01_keyword_spotting.ipynb"
# ConvTokenizer's sub-modules and KeywordTransformer's augmentation (the checks name the others).
KEYWORD_ATTRIBUTES = {
    "convs": "stages",
    "norms": "bns",
    "activation": "act",
    "proj": "to_model",
    "specaugment": "augment",
}
KEYWORD_LOCALS = {
    "words": "clip_words",
    "unknown_fraction": "share",
    "seed": "rng_seed",
    "others": "rest",
    "count": "n_pick",
    "kept": "chosen",
    "labels": "out",
    "i": "idx",
    "word": "w",
    "noises": "recordings",
    "length": "n",
    "rng": "gen",
    "windows": "pieces",
    "noise": "rec",
    "start": "off",
    "features": "mel",
    "lengths": "lens",
    "x": "z",
    "conv": "layer_c",
    "norm": "layer_n",
    "B": "n_b",
    "C": "n_c",
    "N": "n_tok",
    "F": "n_f",
    "freqs": "n_bins",
    "stride": "st",
    "waves": "audio",
    "S": "n_s",
    "frame_lengths": "frame_lens",
    "tokens": "toks",
    "token_lengths": "n_toks",
    "cls": "first",
    "h": "seq",
    "padding": "pad",
    "frames": "dummy",
    "n_tokens": "n_out",
    "layer": "one_layer",
    "step": "s",
    "total_steps": "n_steps",
    "warmup": "ramp",
    "progress": "frac",
}
KEYWORD_REORDER = [  # (old, new) once each, in the cell that holds `old`
    (
        "        self.frontend = LogMel(n_mels=n_mels, n_fft=400, hop_length=160)  # 25 ms / 10 ms\n"
        "        self.specaugment = SpecAugment(freq_masks=2, freq_width=7, time_masks=2, time_width=10)\n",
        "        self.specaugment = SpecAugment(freq_masks=2, freq_width=7, time_masks=2, time_width=10)\n"
        "        self.frontend = LogMel(n_mels=n_mels, n_fft=400, hop_length=160)  # 25 ms / 10 ms\n",
    ),
    (
        "        self.norm = nn.LayerNorm(d_model)\n"
        "        self.classifier = nn.Linear(d_model, n_classes)\n",
        "        self.classifier = nn.Linear(d_model, n_classes)\n"
        "        self.norm = nn.LayerNorm(d_model)\n",
    ),
    (
        "        N = tokens.size(1)\n"
        "        cls = self.cls_token.expand(B, -1, -1)  # (B, 1, D)\n",
        "        cls = self.cls_token.expand(B, -1, -1)  # (B, 1, D)\n"
        "        N = tokens.size(1)\n",
    ),
]  # fmt: skip


def keyword_rewrite(folder: Path) -> None:
    """Notebook 01's reference hand-in rewritten: its graded cells (Task 1, the model cell, the
    recipe) with every local name and parameter, and ConvTokenizer's sub-modules, renamed,
    comments and blank lines changed, independent statements reordered; model.pt to match."""
    nb = nbformat.read(folder / KEYWORD_NOTEBOOK, as_version=4)
    graded = [
        c
        for c in nb.cells
        if c.cell_type == "code" and {"model", "recipe"} & set(c.metadata.get("tags", []))
    ]
    for old, new in KEYWORD_REORDER:
        (cell,) = [c for c in graded if old in c.source]
        assert cell.source.count(old) == 1, f"{old!r} is not in the cell exactly once"
        cell.source = cell.source.replace(old, new)
    recipe = next(c for c in graded if "recipe" in c.metadata.get("tags", []))
    line = 'RECIPE = {"lr": LR, "weight_decay": 0.01, "label_smoothing": 0.1}\n'
    assert recipe.source.count(line) == 1
    recipe.source = recipe.source.replace(line, "") + "\n\n" + line  # defined after the function
    for cell in graded:
        cell.source = _renamed_source(cell.source, KEYWORD_ATTRIBUTES, KEYWORD_LOCALS)
    nbformat.write(nb, folder / KEYWORD_NOTEBOOK)
    _rekey(folder, lambda key: _renamed_key(key, KEYWORD_ATTRIBUTES), tasks=("kws",))


def rewrite_cases(Case) -> list:
    """The rewrite cases, as `grader_corpus.Case`s: each keeps every point."""
    return [
        Case("rewrite_reordered", rewrite(rename=False, reorder=True)),
        Case("rewrite_renamed", rewrite(rename=True, reorder=False)),
        Case("rewrite_renamed_and_reordered", rewrite(rename=True, reorder=True)),
        *(Case(f"independent_{student}", independent(student)) for student in SPEAKER),
    ]
