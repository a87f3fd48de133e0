"""The mistakes students make in a hand-in, made on a real student notebook 02: the released
notebook (assignments/) filled with the reference solution's code and executed on the tiny data,
then damaged as a student damages it (`MISTAKES`), or executed with the mistake in it
(`EXECUTED`: a model over its budget, a TODO left).

Each `Mistake` names the graded tests it must cost (short names of tests/grader_corpus.py's
`TESTS`) and, per line of ``kws handin`` that must fail, a phrase of the fix it names.

    write_student(folder, edit=None)      # folder/02_speaker_id.ipynb, the student's notebook
    MISTAKES["renamed_argument"].damage(folder)
"""

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch
from class_corpus import filled_cells, solution_fills

NOTEBOOK = "02_speaker_id.ipynb"
ROOT = Path(__file__).resolve().parents[1]
TASK1_CHILD = [
    "load1",
    "layers",
    "scratch1",
    "acc1",
]  # what a task1 model that does not build costs


@dataclass(frozen=True)
class Mistake:
    """A student's mistake: `damage` edits an executed hand-in folder (None: `EXECUTED` makes
    it while the notebook runs); `lost`: the graded tests it costs; `fixes`: {what a ``kws
    handin`` line checks (a start of its name): a phrase its fix must hold}."""

    damage: Callable[[Path], None] | None
    lost: tuple[str, ...] = ()
    fixes: dict[str, str] = field(default_factory=dict)


def write_student(folder: Path, edit: Callable[[nbformat.NotebookNode], None] | None = None):
    """`folder/02_speaker_id.ipynb`: the released notebook with the reference's code in every
    TODO of its model cells, `edit`ed."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = filled_cells(NOTEBOOK, solution_fills(NOTEBOOK))
    if edit is not None:
        edit(nb)
    nbformat.write(nb, folder / NOTEBOOK)


def _edit_notebook(edit: Callable[[nbformat.NotebookNode], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        nb = nbformat.read(folder / NOTEBOOK, as_version=4)
        edit(nb)
        nbformat.write(nb, folder / NOTEBOOK)

    return damage


def _cell(nb, start: str):
    """The code cell whose source holds `start`."""
    return next(c for c in nb.cells if c.cell_type == "code" and start in c.source)


def _import_math_elsewhere(nb) -> None:
    """`import math` moved out of Task 1's model cell into a cell of its own above it, which the
    student ran (it has an execution count): the kernel knew `math`, the grader does not."""
    cell = _cell(nb, "class SpeakerTransformer(")
    assert cell.source.startswith("import math\n")
    cell.source = cell.source.removeprefix("import math\n").lstrip("\n")
    moved = nbformat.v4.new_code_cell("import math", execution_count=cell.execution_count)
    nb.cells.insert(nb.cells.index(cell), moved)


def _rename_argument(nb) -> None:
    """SpeakerTransformer's `dim_feedforward` renamed `ffn_dim` (in Task 1's settings too, so the
    cell below still runs) after the model was trained and saved."""
    cell = _cell(nb, "class SpeakerTransformer(")
    head, _, model = cell.source.partition("class SpeakerTransformer(")
    model = model.replace("dim_feedforward", "ffn_dim")
    cell.source = f"{head}class SpeakerTransformer({model}"
    settings = _cell(nb, "TASK1 = dict(")
    settings.source = settings.source.replace("dim_feedforward=", "ffn_dim=")


def _wrapped_checkpoints(folder: Path) -> None:
    """Task 1 trained as torch.compile(model), Task 2 under nn.DataParallel, Task 3 saved as a
    training checkpoint: what each saves."""
    outputs = folder / "outputs"
    for task, wrap in [
        ("task1", lambda s: {f"_orig_mod.{k}": v for k, v in s.items()}),
        ("task2", lambda s: {f"module.{k}": v for k, v in s.items()}),
        ("task3", lambda s: {"model_state_dict": s, "epoch": 4}),
    ]:
        path = outputs / task / "model.pt"
        torch.save(wrap(torch.load(path, weights_only=True)), path)


def _rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines() if line]


def _csv_mistakes(folder: Path) -> None:
    """Task 1's predictions.csv written by pandas' ``to_csv(path)`` (an unnamed index column:
    read as it is), Task 2's with the header ``id,label``, Task 3's with its last two rows cut."""
    outputs = folder / "outputs"
    rows = _rows(outputs / "task1" / "predictions.csv")
    indexed = [",Id,Category"] + [f"{i},{a},{b}" for i, (a, b) in enumerate(rows[1:])]
    (outputs / "task1" / "predictions.csv").write_text("\n".join(indexed) + "\n")
    task2 = outputs / "task2" / "predictions.csv"
    task2.write_text(re.sub(r"^Id,Category", "id,label", task2.read_text()))
    rows = _rows(outputs / "task3" / "predictions.csv")
    (outputs / "task3" / "predictions.csv").write_text(
        "\n".join(",".join(r) for r in rows[:-2]) + "\n"
    )


def _outputs_elsewhere(folder: Path) -> None:
    """OUT_DIR set to results/ in the parameters cell, where the notebook then wrote."""

    def edit(nb) -> None:
        cell = _cell(nb, "OUT_DIR = ")
        assert '"KWS_OUT_DIR", "outputs"' in cell.source
        cell.source = cell.source.replace('"KWS_OUT_DIR", "outputs"', '"KWS_OUT_DIR", "results"')

    _edit_notebook(edit)(folder)
    (folder / "outputs").rename(folder / "results")


def _saved_before_task3(folder: Path) -> None:
    """The notebook saved before Task 3's training cell and the ones after it ran: their
    outputs never written, no Task 3 files."""

    def edit(nb) -> None:
        start = nb.cells.index(_cell(nb, 'history3 = train_task("task3"'))
        for cell in nb.cells[start:]:
            if cell.cell_type == "code" and "handin" not in cell.metadata.get("tags", []):
                cell.execution_count, cell.outputs = None, []

    _edit_notebook(edit)(folder)
    shutil.rmtree(folder / "outputs" / "task3")


def _over_budget(nb) -> None:
    """Task 1's model widened past the 500k encoder budget before training."""
    settings = _cell(nb, "TASK1 = dict(")
    for old, new in [
        ("d_model=64", "d_model=128"),
        ("dim_feedforward=256", "dim_feedforward=1024"),
    ]:
        assert settings.source.count(old) == 1
        settings.source = settings.source.replace(old, new)


def _todo_left(nb) -> None:
    """am_softmax_loss's TODO left as released: Task 3's training stops at it."""
    start = "def am_softmax_loss("
    cell = _cell(nb, start)
    released = _cell(nbformat.read(ROOT / "assignments" / NOTEBOOK, as_version=4), start)
    todo = released.source[released.source.index(start) :]
    assert 'raise NotImplementedError("TODO: subtract the margin' in todo
    cell.source = cell.source[: cell.source.index(start)] + todo


LOAD1 = "Model builds from config.json and loads model.pt [task1]"
CSV = "predictions.csv: Id,Category with one known speaker per test utterance"
MISTAKES = {
    "untagged_name": Mistake(  # the three models run Task 1's attention
        _edit_notebook(_import_math_elsewhere),
        tuple(
            "num_attention num_attention_mask load1 load2 load3 layers scratch1 scratch2 "
            "scratch3 norm acc1 acc2 acc3".split()
        ),
        {
            LOAD1: (
                "NameError: name 'math' is not defined (model cell 1, line",
                "The grader runs only the cells tagged 'model', and `math` is defined in a cell "
                "without that tag (the cell starting `import math`): define or import `math` in "
                "a model cell",
            )
        },
    ),
    "renamed_argument": Mistake(
        _edit_notebook(_rename_argument),
        ("load1", "layers", "params", "scratch1", "acc1"),
        {
            LOAD1: "unexpected keyword argument 'dim_feedforward'. Your task1/config.json holds "
            "the arguments your model was trained with"
        },
    ),
    "wrapped_checkpoints": Mistake(_wrapped_checkpoints),  # the grader unwraps them all
    "csv_mistakes": Mistake(
        _csv_mistakes,
        ("csv2", "acc2", "csv3", "acc3"),
        {
            f"{CSV} [task2]": "the first line must be the header Id,Category",
            f"{CSV} [task3]": "has 2 test Ids missing",
        },
    ),
    "outputs_elsewhere": Mistake(
        _outputs_elsewhere,
        tuple(
            "load1 load2 load3 layers params scratch1 scratch2 scratch3 norm acc1 acc2 acc3 "
            "csv1 csv2 csv3".split()
        ),
        {
            "the notebook writes its outputs where the grader reads them": "results, the grader "
            'reads outputs/ beside the notebook: set OUT_DIR = Path("outputs")'
        },
    ),
    "saved_before_task3": Mistake(
        _saved_before_task3,
        ("load3", "scratch3", "acc3", "csv3"),
        {
            "the saved notebook shows every code cell run": "did not run before the notebook was "
            'saved (from `history3 = train_task("task3"',
            "outputs/task1, task2, task3 hold": "missing: task3/config.json",
        },
    ),
    "over_budget": Mistake(
        None,
        ("params",),
        {
            "Task 1: the encoder block has fewer than 500k parameters": "over the 500k budget; "
            "use a smaller d_model or feed-forward size"
        },
    ),
    "todo_left": Mistake(  # Task 3's training stopped at the TODO: no Task 3 files
        None,
        ("load3", "scratch3", "acc3", "csv3", "num_loss"),
        {
            "no TODO left": "1 TODO left: subtract the margin",
            "Task 3: am_softmax_loss subtracts the margin": "still has a TODO",
        },
    ),
}
EXECUTED = {"over_budget": _over_budget, "todo_left": _todo_left}  # mistakes made before a run


def config_of(folder: Path, task: str) -> dict:
    return json.loads((folder / "outputs" / task / "config.json").read_text())
