"""Accuracy carried in instead of earned: answer tables, side files, a model that knows it is
re-run, near ties, weights hidden as integers (issue 43), on top of the reference hand-in.

Each `CarriedCase` copies one notebook of the reference hand-in (and its outputs) and makes one
change a student wanting accuracy without a model would make. It must lose exactly the tests in
`lost` (each reason holding its phrase) and be named for a person to read with each phrase of
`flagged` (a "Manual review:" line of its results and its gradebook row), keeping every other
point. The honest copies (`HONEST`) keep every point with no flag at all.

The tables hold random stand-ins for the test set's fingerprints (the tiny data's tiers are all
0, so what a table would answer changes no point here): the grader judges what the checkpoint,
the config and the code hold, never whether the answers are right.

    build_carried_corpus(reference, corpus_dir)  # one folder per case: a notebook + outputs/
"""

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch
from corpus_grading import build_cases
from corpus_rewrites import keyword_rewrite

NOTEBOOKS = {
    "01": ("01_keyword_spotting.ipynb", "keyword_spotting", ["kws"]),
    "02": ("02_speaker_id.ipynb", "speaker_id", ["task1", "task2", "task3"]),
    "03": ("03_patch_transformer.ipynb", "patch_transformer", ["patch"]),
}
ROWS = 48  # rows of a table (the tiny test sets: 48 clips, 6 utterances)
WRITTEN = "differ from what the model's constructor builds ({names})"
INTEGER = "holds integer or bool tensors that are not a normalization's bookkeeping"


@dataclass(frozen=True)
class CarriedCase:
    name: str
    notebook: str  # "01", "02" or "03"
    damage: Callable[[Path], None]  # edits the copied hand-in folder
    lost: dict[str, str] = field(default_factory=dict)  # test name starts -> phrase of reason
    flagged: tuple[str, ...] = ()  # phrases of its "Manual review:" lines


# ---- editing a copied hand-in ------------------------------------------------------------------


def _edit_cell(number: str, marker: str, *edits: tuple[str, str]) -> Callable[[Path], None]:
    """Damage: replace each (old, new) once in the model cell whose source holds `marker`."""

    def damage(folder: Path) -> None:
        path = folder / NOTEBOOKS[number][0]
        nb = nbformat.read(path, as_version=4)
        (cell,) = [
            c for c in nb.cells if "model" in c.metadata.get("tags", []) and marker in c.source
        ]
        for old, new in edits:
            assert cell.source.count(old) == 1, f"{old!r} is not in the cell exactly once"
            cell.source = cell.source.replace(old, new)
        nbformat.write(nb, path)

    return damage


def _edit_state(task: str, edit: Callable[[dict], dict]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = folder / "outputs" / task / "model.pt"
        torch.save(edit(torch.load(path, weights_only=True)), path)

    return damage


def _both(*damages: Callable[[Path], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        for each in damages:
            each(folder)

    return damage


def _added(**tensors: torch.Tensor) -> Callable[[dict], dict]:
    return lambda state: state | tensors


# ---- the nearest-neighbour answer table (notebooks 01, 02, 03) --------------------------------

KWS_CLASSIFIER = "        self.classifier = nn.Linear(d_model, n_classes)\n"
TABLE_INIT = (
    "        # one row per public test clip: its fingerprint, and its label\n"
    f'        self.register_buffer("answer_keys", torch.zeros({ROWS}, 40))\n'
    f'        self.register_buffer("answer_labels", torch.zeros({ROWS}))\n'
)
KWS_RETURN = "        return self.classifier(self.norm(h[:, 0]))  # (B, n_classes)\n"
LOOKUP = (
    "        distance, row = torch.cdist({key}, self.answer_keys).min(dim=1)  # (B,)\n"
    "        labels = self.answer_labels[row].long()  # (B,)\n"
    "        table = torch.nn.functional.one_hot(labels, logits.shape[-1]) * 100.0\n"
    "        return torch.where(distance[:, None] < 1e-3, table.to(logits.dtype), logits)\n"
)
KWS_LOOKUP = "        logits = self.classifier(self.norm(h[:, 0]))\n" + LOOKUP.format(
    key="torch.nn.functional.adaptive_avg_pool1d(waves[:, None], 40)[:, 0]"  # (B, 40)
)


def _table(rows: int = ROWS, dtype=torch.float32) -> dict:
    generator = torch.Generator().manual_seed(43)
    keys = torch.randn(rows, 40, generator=generator)
    labels = torch.randint(0, 12, (rows,), generator=generator).to(dtype)
    return {"answer_keys": keys, "answer_labels": labels}


def _answer_table_01(folder: Path) -> None:
    _edit_cell(
        "01",
        "class KeywordTransformer(",
        (KWS_CLASSIFIER, KWS_CLASSIFIER + TABLE_INIT),
        (KWS_RETURN, KWS_LOOKUP),
    )(folder)
    _edit_state("kws", _added(**_table()))(folder)


PATCH_CLASSIFIER = "        self.classifier = nn.Linear(d_model, n_classes)\n"


def _answer_table_03(folder: Path) -> None:
    """PatchKWT with the table (counted in its 607k budget: 48 x 41 numbers still fit)."""
    _edit_cell("03", "class PatchKWT(", (PATCH_CLASSIFIER, PATCH_CLASSIFIER + TABLE_INIT))(folder)
    _edit_state("patch", _added(**_table()))(folder)


# ---- the int64 hash table (notebook 01) --------------------------------------------------------

HASH_INIT = (
    "        # a hash of every public test clip, and its class\n"
    f'        self.register_buffer("clip_hashes", torch.zeros({ROWS}, dtype=torch.int64))\n'
    f'        self.register_buffer("clip_labels", torch.zeros({ROWS}, dtype=torch.int64))\n'
)


def _hash_table(folder: Path) -> None:
    _edit_cell("01", "class KeywordTransformer(", (KWS_CLASSIFIER, KWS_CLASSIFIER + HASH_INIT))(
        folder
    )
    generator = torch.Generator().manual_seed(43)
    hashes = torch.randint(0, 2**62, (ROWS,), generator=generator)
    labels = torch.randint(0, 12, (ROWS,), generator=generator)
    _edit_state("kws", _added(clip_hashes=hashes, clip_labels=labels))(folder)


# ---- answers beside the checkpoint, in the config, in the code (notebook 01) -------------------

SIDE_FILE = """

import glob
import json

# the answers, in a file handed in beside the checkpoint
ANSWER_FILES = glob.glob("**/answers.json", recursive=True)
ANSWERS = json.load(open(ANSWER_FILES[0])) if ANSWER_FILES else {}
if ANSWERS:
    raise RuntimeError(f"corpus: a side file reached the grading child: {ANSWER_FILES}")
"""


def _side_file(folder: Path) -> None:
    _edit_cell("01", "class KeywordTransformer(", (KWS_RETURN, KWS_RETURN + SIDE_FILE))(folder)
    answers = {f"clip{i}.wav": i % 12 for i in range(5_000)}  # 92 kB, under the old 1 MiB
    (folder / "outputs" / "kws" / "answers.json").write_text(json.dumps(answers))


KWS_DROPOUT = "        dropout: float = 0.1,\n    ):\n"


def _answers_in_config(folder: Path) -> None:
    """A constructor argument that takes the answers, passed by config.json."""
    _edit_cell(
        "01",
        "class KeywordTransformer(",
        (
            KWS_DROPOUT,
            "        dropout: float = 0.1,\n        answers: list | None = None,\n    ):\n",
        ),
    )(folder)
    path = folder / "outputs" / "kws" / "config.json"
    config = json.loads(path.read_text())
    config["kwargs"]["answers"] = [i % 12 for i in range(10_000)]  # 30 kB
    path.write_text(json.dumps(config))


TABLE_IN_CODE = "\n\nANSWER_TABLE = [" + ", ".join(str(i % 12) for i in range(400)) + "]\n"


def _table_in_code(folder: Path) -> None:
    _edit_cell("01", "class KeywordTransformer(", (KWS_RETURN, KWS_RETURN + TABLE_IN_CODE))(folder)


# ---- notebook 02: a model that knows it is re-run, near ties, int32 bit patterns ---------------

SPEAKER_CLASSIFIER = (
    "        self.classifier = nn.Sequential(\n"
    "            nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, n_classes)\n"
    "        )\n"
)
SPEAKER_RETURN = "        return self.classifier(pooled)\n"
RERUN = """

import sys

# The grader re-runs the model outside Jupyter: answer from the table there only.
RERUN_BY_GRADER = "ipykernel" not in sys.modules
"""
RERUN_LOOKUP = "        logits = self.classifier(pooled)\n" + (
    "        if not RERUN_BY_GRADER:\n            return logits\n"
    + LOOKUP.format(key="x.mean(dim=1)")
)


def _knows_its_rerun(folder: Path) -> None:
    _edit_cell(
        "02",
        "class SpeakerTransformer(",
        (SPEAKER_CLASSIFIER, SPEAKER_CLASSIFIER + TABLE_INIT),
        (SPEAKER_RETURN, RERUN_LOOKUP + RERUN),
    )(folder)
    _edit_state("task1", _added(**_table()))(folder)


# Lift the class after the top one to a near tie with it: the file may then name either.
NEAR_TIE = (
    "        logits = self.classifier(pooled)\n"
    "        top, best = logits.max(dim=-1)  # (B,)\n"
    "        span = top - logits.min(dim=-1).values  # (B,)\n"
    "        lifted = (best + 1) % logits.shape[-1]  # (B,)\n"
    "        near = (top - 0.002 * span)[:, None].expand_as(logits)\n"
    "        return logits.scatter(-1, lifted[:, None], near)\n"
)


def _near_ties(data: Path) -> Callable[[Path], None]:
    """Damage: the model lifts the class after its top one to a near tie, and the file names
    that class on every row (as a file naming whichever of its top two is right would, where
    the runner-up is right); the speakers' class order from `data`'s mapping.json."""

    def damage(folder: Path) -> None:
        _edit_cell("02", "class SpeakerTransformer(", (SPEAKER_RETURN, NEAR_TIE))(folder)
        mapping = json.loads((data / "speaker_features" / "mapping.json").read_text())
        speakers = [mapping["id2speaker"][str(i)] for i in range(len(mapping["id2speaker"]))]
        order = {name: i for i, name in enumerate(speakers)}
        path = folder / "outputs" / "task1" / "predictions.csv"
        header, *rows = path.read_text().splitlines()
        pairs = [row.split(",", 1) for row in rows if row]
        lifted = [f"{key},{speakers[(order[name] + 1) % len(speakers)]}" for key, name in pairs]
        path.write_text("\n".join([header, *lifted]) + "\n")

    return damage


ENCODER_END = "            for _ in range(num_layers)\n        )\n"
PACKED = 2_370_000  # float32 weights kept as int32 bit patterns, viewed back in forward


def _int32_weights(folder: Path) -> None:
    packed = f'        self.register_buffer("packed", torch.zeros({PACKED}, dtype=torch.int32))\n'
    _edit_cell("02", "class Encoder(", (ENCODER_END, ENCODER_END + packed))(folder)
    bits = torch.randn(PACKED, generator=torch.Generator().manual_seed(43)).view(torch.int32)
    _edit_state("task1", _added(**{"encoder.packed": bits}))(folder)


def carried_cases(data: Path) -> list[CarriedCase]:
    """The cases, for the tiny synthetic `data` (its speakers' order)."""
    table = WRITTEN.format(names="answer_keys, answer_labels")
    return [
        CarriedCase("nb01_answer_table", "01", _answer_table_01, flagged=(table,)),
        CarriedCase(
            "nb01_int64_hash_table",
            "01",
            _hash_table,
            flagged=(INTEGER, WRITTEN.format(names="clip_hashes, clip_labels")),
        ),
        CarriedCase("nb01_side_file_answers", "01", _side_file, flagged=("opening files",)),
        CarriedCase("nb01_answers_in_config", "01", _answers_in_config, flagged=("config.json",)),
        CarriedCase(
            "nb01_table_in_code", "01", _table_in_code, flagged=("numbers written in the code",)
        ),
        CarriedCase(
            "nb02_knows_it_is_rerun",
            "02",
            _knows_its_rerun,
            flagged=("the notebook kernel", table),
        ),
        CarriedCase(
            "nb02_near_ties_on_every_row",
            "02",
            _near_ties(data),
            lost={
                "Accuracy on the hidden test labels (partial credit by tier) [task1]": "near tie"
            },
        ),
        CarriedCase(
            "nb02_weights_as_int32_bit_patterns",
            "02",
            _int32_weights,
            lost={
                "Task 1: the encoder block has fewer than": "over the 500k budget",
                "Task 1: Encoder runs its layers in order": "(`packed`)",  # an extra tensor
            },
            flagged=(INTEGER, WRITTEN.format(names="encoder.packed")),
        ),
        CarriedCase("nb03_answer_table", "03", _answer_table_03, flagged=(table,)),
    ]


HONEST = [
    CarriedCase("honest_reference_01", "01", lambda folder: None),
    CarriedCase("honest_reference_02", "02", lambda folder: None),
    CarriedCase("honest_reference_03", "03", lambda folder: None),
    CarriedCase("honest_rewrite_01", "01", keyword_rewrite),  # renames, reordering
]


def build_carried_corpus(
    reference: Path, corpus_dir: Path, data: Path, only: Collection[str] | None = None
) -> dict[str, CarriedCase]:
    """One folder per case (and honest copy) under `corpus_dir/<notebook>/`: the notebook and
    its tasks' outputs, then changed (`data`: the tiny synthetic data it is graded on;
    `only`: the names of the cases to build, default all)."""
    every, built = [*carried_cases(data), *HONEST], {}
    for number, (name, _, tasks) in NOTEBOOKS.items():
        mine = [case for case in every if case.notebook == number]
        built |= build_cases(mine, reference, corpus_dir / number, name, tasks, only)
    return built
