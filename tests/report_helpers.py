"""A class of notebook-01 hand-ins for the report's tests and benchmark: copies under disguise
and genuinely independent work, written into the released student notebook.

Each hand-in is the student notebook of assignments/ with its Task 1 cell (the functions
`twelve_class_labels` and `silence_windows`) and its recipe cell (`RECIPE`,
`learning_rate_factor`) filled in: from the reference solution, from one of three
differently structured implementations written here, or left as released.
"""

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_keyword_spotting.ipynb"

_HEADER = """import random

import torch

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
UNKNOWN = "_unknown_"
"""

# Three independent implementations of Task 1 and the recipe (all correct, differently built).
TASK1 = {
    "A": _HEADER
    + '''

def twelve_class_labels(words: list[str], unknown_fraction: float, seed: int) -> list[str | None]:
    """Keywords keep their word; a seeded sample of the other words becomes _unknown_."""
    n_keywords = sum(1 for w in words if w in KEYWORDS)
    candidates = [index for index, w in enumerate(words) if w not in KEYWORDS]
    rng = random.Random(seed)
    rng.shuffle(candidates)
    wanted = round(unknown_fraction * n_keywords)
    picked = set(candidates[:wanted])
    result = [None] * len(words)
    for index, w in enumerate(words):
        if w in KEYWORDS:
            result[index] = w
        elif index in picked:
            result[index] = UNKNOWN
    return result


def silence_windows(noises: list[torch.Tensor], count: int, seed: int, length: int = 16000) -> torch.Tensor:
    """Windows cut from random recordings at random offsets."""
    generator = torch.Generator().manual_seed(seed)
    out = torch.empty(count, length)
    for row in range(count):
        which = int(torch.randint(len(noises), (1,), generator=generator))
        source = noises[which]
        offset = int(torch.randint(source.numel() - length + 1, (1,), generator=generator))
        out[row] = source[offset : offset + length]
    return out
''',
    "B": _HEADER
    + """

def twelve_class_labels(words, unknown_fraction, seed):
    keyword_total = len([w for w in words if w in KEYWORDS])
    pool = sorted(i for i in range(len(words)) if words[i] not in KEYWORDS)
    how_many = min(len(pool), int(round(keyword_total * unknown_fraction)))
    chosen = set(random.Random(seed).sample(pool, k=how_many)) if how_many else set()
    return [
        words[i] if words[i] in KEYWORDS else (UNKNOWN if i in chosen else None)
        for i in range(len(words))
    ]


def silence_windows(noises, count, seed, length=16000):
    g = random.Random(seed)
    picks = [g.randrange(len(noises)) for _ in range(count)]
    starts = [g.randint(0, noises[p].shape[0] - length) for p in picks]
    return torch.stack([noises[p][s : s + length].clone() for p, s in zip(picks, starts)])
""",
    "C": _HEADER
    + """

def twelve_class_labels(words, unknown_fraction, seed):
    labels = []
    other_positions = []
    for position, word in enumerate(words):
        if word in KEYWORDS:
            labels.append(word)
        else:
            labels.append(None)
            other_positions.append(position)
    keyword_count = len(words) - len(other_positions)
    target = min(len(other_positions), round(keyword_count * unknown_fraction))
    generator = torch.Generator().manual_seed(seed)
    for k in torch.randperm(len(other_positions), generator=generator)[:target].tolist():
        labels[other_positions[k]] = UNKNOWN
    return labels


def silence_windows(noises, count, seed, length=16000):
    gen = torch.Generator().manual_seed(seed + 1)
    recordings = torch.randint(0, len(noises), (count,), generator=gen).tolist()
    pieces = []
    while len(pieces) < count:
        r = recordings[len(pieces)]
        limit = noises[r].shape[-1] - length
        begin = torch.randint(0, limit + 1, (1,), generator=gen).item()
        pieces.append(noises[r][begin : begin + length])
    return torch.stack(pieces, dim=0)
""",
}

RECIPES = {
    "A": """import math

RECIPE = {"lr": 2e-3, "weight_decay": 0.05, "label_smoothing": 0.05}


def learning_rate_factor(step: int, total_steps: int) -> float:
    warm = max(1, int(0.1 * total_steps))
    if step >= warm:
        remaining = total_steps - warm
        t = (step - warm) / max(remaining, 1)
        return 0.5 + 0.5 * math.cos(math.pi * t)
    return (step + 1) / warm
""",
    "B": """import math

RECIPE = dict(lr=LR, weight_decay=1e-2, label_smoothing=0.1)


def learning_rate_factor(step, total_steps):
    warmup_steps = total_steps // 20 + 1
    progress = min(1.0, step / warmup_steps)
    if step < warmup_steps:
        return progress
    decay_span = total_steps - warmup_steps
    return max(0.0, 1.0 - (step - warmup_steps) / max(1, decay_span))  # linear decay
""",
    "C": """import math

RECIPE = {"weight_decay": 0.02, "lr": LR * 2, "label_smoothing": 0.15}


def learning_rate_factor(step, total_steps):
    ramp = total_steps * 0.08
    if ramp > 0 and step < ramp:
        return step / ramp
    done = (step - ramp) / (total_steps - ramp) if total_steps > ramp else 1.0
    return (1 + math.cos(done * math.pi)) / 2
""",
}

# A's names, renamed the way a copier would.
RENAMES = {
    "n_keywords": "kw_count",
    "candidates": "others_idx",
    "rng": "shuffler",
    "wanted": "n_unknown",
    "picked": "selected",
    "result": "out_labels",
    "index": "j",
    "w": "word",
    "out": "stacked",
    "row": "r",
    "which": "rec_id",
    "source": "recording",
    "offset": "start",
    "warm": "w_steps",
    "remaining": "rest",
    "t": "frac",
}


def renamed(code: str) -> str:
    """`code` with every name of RENAMES replaced (whole words, strings included)."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, RENAMES)) + r")\b")
    return pattern.sub(lambda m: RENAMES[m.group(1)], code)


def reordered(task1: str, recipe: str) -> tuple[str, str]:
    """B with other comments, other layout, independent statements swapped and the recipe's
    definitions in the other order."""
    task1 = task1.replace(
        "    keyword_total = len([w for w in words if w in KEYWORDS])\n"
        "    pool = sorted(i for i in range(len(words)) if words[i] not in KEYWORDS)\n",
        "    # indices of the words that are not keywords\n"
        "    pool = sorted(i for i in range(len(words)) if words[i] not in KEYWORDS)\n\n"
        "    keyword_total = len([w for w in words if w in KEYWORDS])  # keep all of these\n",
    )
    recipe = recipe.replace("  # linear decay", "")
    head, definition = recipe.split("\n\n\n")
    imports, assignment = head.split("\n\n")
    swapped = f"{imports}\n\n# my learning-rate schedule\n{definition}\n\n\n{assignment}\n"
    return task1.replace(
        "    g = random.Random(seed)", "    g = random.Random(seed)  # rng"
    ), swapped


def _cell_defining(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source)


def solution_cells() -> tuple[str, str]:
    """The reference solution's Task 1 cell and recipe cell."""
    nb = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    cells = _cell_defining(nb, "twelve_class_labels"), _cell_defining(nb, "learning_rate_factor")
    return cells[0].source, cells[1].source


def write_handin(folder: Path, task1: str | None = None, recipe: str | None = None) -> Path:
    """`folder/01_keyword_spotting.ipynb`: the released notebook, with the Task 1 and recipe
    cells replaced by `task1` / `recipe` when given."""
    nb = nbformat.read(ROOT / "assignments" / NOTEBOOK, as_version=4)
    if task1 is not None:
        _cell_defining(nb, "twelve_class_labels").source = task1
    if recipe is not None:
        _cell_defining(nb, "learning_rate_factor").source = recipe
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / NOTEBOOK)
    return folder


def class_of_twenty(submissions: Path) -> dict[str, str]:
    """Write 20 hand-ins into `submissions`; return {student: what it is}.

    s01 copies the reference solution; s02, s04 and s06 are independent work (A, B, C); s03 is
    s02 with its names renamed; s05 is s04 with comments, layout and statement order changed;
    s07-s13 set only the recipe's numbers; s14-s20 hand in the released notebook unchanged.
    """
    kinds = {}
    write_handin(submissions / "s01", *solution_cells())
    kinds["s01"] = "reference copy"
    for student, impl in (("s02", "A"), ("s04", "B"), ("s06", "C")):
        write_handin(submissions / student, TASK1[impl], RECIPES[impl])
        kinds[student] = f"independent {impl}"
    write_handin(submissions / "s03", renamed(TASK1["A"]), renamed(RECIPES["A"]))
    kinds["s03"] = "renamed copy of s02"
    write_handin(submissions / "s05", *reordered(TASK1["B"], RECIPES["B"]))
    kinds["s05"] = "reordered copy of s04"
    released = nbformat.read(ROOT / "assignments" / NOTEBOOK, as_version=4)
    recipe_skeleton = _cell_defining(released, "learning_rate_factor").source
    for number in range(7, 14):
        own = f'RECIPE = {{"lr": {number}e-4, "weight_decay": 0.0{number}, "label_smoothing": 0.1}}'
        recipe = re.sub(r"^raise NotImplementedError\(.*\)$", own, recipe_skeleton, flags=re.M)
        write_handin(submissions / f"s{number:02d}", recipe=recipe)
        kinds[f"s{number:02d}"] = "recipe numbers only"
    for number in range(14, 21):
        write_handin(submissions / f"s{number:02d}")
        kinds[f"s{number:02d}"] = "released notebook"
    return kinds
