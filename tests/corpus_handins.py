"""Messy hand-ins for the grader corpus: the reference submission as students really hand it in.

Each case rearranges or re-saves the reference hand-in the way a browser, Colab, Excel, macOS or
a training loop does; all but three must get exactly the clean hand-in's points. `HANDIN_CASES`
is added to `grader_corpus.cases()`; `OUTPUT_PHRASES` lists what the run's overall output must
say (e.g. which folders were not copied).

Sparse files (``truncate``) stand in for the gigabyte folders: nothing large is written.
"""

import base64
import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
import torch

NOTEBOOK = "02_speaker_id.ipynb"
TASKS = ("task1", "task2", "task3")
COLAB = """import sys
if "google.colab" in sys.modules:
    !pip install -q soundfile
    %cd /content/drive/MyDrive/hw4
    from google.colab import drive
files = !ls
%matplotlib inline

"""


def _move_into(*parts: str, name: str = NOTEBOOK) -> Callable:
    """Damage: the notebook (as `name`) and outputs/ moved into folder `parts` (a zip's layout)."""

    def damage(folder: Path, context) -> None:
        inner = folder.joinpath(*parts)
        inner.mkdir(parents=True, exist_ok=True)
        shutil.move(folder / "outputs", inner / "outputs")
        shutil.move(folder / NOTEBOOK, inner / name)

    return damage


def _both(*damages: Callable) -> Callable:
    def damage(folder: Path, context) -> None:
        for one in damages:
            one(folder, context)

    return damage


def _edit_notebook(edit: Callable[[nbformat.NotebookNode], None]) -> Callable:
    def damage(folder: Path, context) -> None:
        nb = nbformat.read(folder / NOTEBOOK, as_version=4)
        edit(nb)
        nbformat.write(nb, folder / NOTEBOOK)

    return damage


def _model_cell(nb, class_name: str):
    return next(c for c in nb.cells if f"class {class_name}(" in c.source)


def _colab_lines(nb) -> None:
    """Colab set-up lines inside an `if` in the first model cell, a %%time cell magic on the
    last: Jupyter runs both."""
    _model_cell(nb, "SpeakerTransformer").source = (
        COLAB + _model_cell(nb, "SpeakerTransformer").source
    )
    _model_cell(nb, "SpeakerAttentionAMS").source = (
        "%%time\n" + _model_cell(nb, "SpeakerAttentionAMS").source
    )


def _huge_image(nb) -> None:
    """A plot output of 20 MB (a huge PNG, base64) in a cell before the model cells."""
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(15 * 2**20)).decode()
    output = nbformat.v4.new_output(
        "display_data", data={"image/png": png, "text/plain": "<Figure>"}
    )
    code = [cell for cell in nb.cells if cell.cell_type == "code"]  # outputs live in code cells
    code[1].setdefault("outputs", []).append(output)


def _nbformat_4_4(folder: Path, context) -> None:
    """Saved by an older Jupyter: nbformat 4.4, no cell ids."""
    data = json.loads((folder / NOTEBOOK).read_text())
    data["nbformat_minor"] = 4
    for cell in data["cells"]:
        cell.pop("id", None)
    (folder / NOTEBOOK).write_text(json.dumps(data, indent=1))


def _windows_line_ends(folder: Path, context) -> None:
    path = folder / NOTEBOOK
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def _checkpoint_copy(name: str) -> Callable:
    """Jupyter's autosave copy beside the notebook: an older version whose model cell crashes."""

    def damage(folder: Path, context) -> None:
        notebook = next(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        nb = nbformat.read(notebook, as_version=4)
        cell = _model_cell(nb, "SpeakerTransformer")
        cell.source += '\nraise RuntimeError("the autosaved copy was graded")\n'
        copies = notebook.parent / ".ipynb_checkpoints"
        copies.mkdir()
        nbformat.write(nb, copies / name)

    return damage


def _old_attempt(folder: Path, context) -> None:
    """A second notebook that also defines the classes (an earlier attempt, which crashes)."""
    nb = nbformat.read(folder / NOTEBOOK, as_version=4)
    _model_cell(nb, "SpeakerTransformer").source += '\nraise RuntimeError("the old attempt")\n'
    nbformat.write(nb, folder / "02_speaker_id_old.ipynb")


def _mac_zip(folder: Path, context) -> None:
    """A zip made on macOS: the hand-in inside hw4/, plus __MACOSX/ resource forks."""
    _move_into("hw4")(folder, context)
    debris = folder / "__MACOSX" / "hw4"
    debris.mkdir(parents=True)
    (debris / f"._{NOTEBOOK}").write_bytes(
        b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X class Speaker"
    )
    (folder / "hw4" / f"._{NOTEBOOK}").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


def _rewrite_csv(write: Callable[[list[list[str]]], bytes]) -> Callable:
    """Damage: every predictions.csv re-saved by `write` (given header + rows)."""

    def damage(folder: Path, context) -> None:
        for task in TASKS:
            path = folder / "outputs" / task / "predictions.csv"
            rows = list(csv.reader(io.StringIO(path.read_text())))
            path.write_bytes(write(rows))

    return damage


def _excel(rows: list[list[str]]) -> bytes:
    """Excel's "CSV UTF-8": a byte-order mark, CRLF, every field quoted, rows sorted by speaker,
    and blank lines at the end."""
    body = [rows[0], *sorted(rows[1:], key=lambda row: (row[1], row[0]), reverse=True)]
    text = "\r\n".join(",".join(f'"{cell}"' for cell in row) for row in body)
    return ("\ufeff" + text + "\r\n\r\n\r\n").encode("utf-8")


def _pandas_index(rows: list[list[str]]) -> bytes:
    """``DataFrame.to_csv(path)`` without index=False: an unnamed index column first."""
    lines = [",Id,Category"] + [f"{i},{row[0]},{row[1]}" for i, row in enumerate(rows[1:])]
    return ("\n".join(lines) + "\n\n").encode()


def _sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.truncate(size)


BIG = 2_200_000_000  # over the sandbox's 2 GiB copy limit


def _data_folder(folder: Path, context) -> None:
    """The training data and a git history carried along in the hand-in."""
    _sparse(folder / "data" / "speaker_features" / "uttr-all.pt", BIG)
    _sparse(folder / ".git" / "objects" / "pack" / "pack-1.pack", 3_000_000)


def _huge_model(folder: Path, context) -> None:
    _sparse(folder / "outputs" / "task1" / "model.pt", BIG)


def _edit_state(task: str, edit: Callable[[dict], object]) -> Callable:
    def damage(folder: Path, context) -> None:
        path = folder / "outputs" / task / "model.pt"
        torch.save(edit(torch.load(path, weights_only=True)), path)

    return damage


def _training_checkpoint(state: dict) -> dict:
    optimizer = {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"lr": 1e-3}]}
    return {"epoch": 12, "model_state_dict": state, "optimizer_state_dict": optimizer}


def _compiled(state: dict) -> dict:
    return {f"_orig_mod.{key}": value for key, value in state.items()}


def _cuda_in_forward(folder: Path, context) -> None:
    nb = nbformat.read(folder / NOTEBOOK, as_version=4)
    cell = _model_cell(nb, "SpeakerTransformer")
    line = "        padding = torch.arange(T, device=x.device) >= lengths[:, None]"
    assert cell.source.count(line) == 1
    cell.source = cell.source.replace(
        line, "        x, lengths = x.cuda(), lengths.cuda()\n" + line
    )
    nbformat.write(nb, folder / NOTEBOOK)


def handin_cases(Case, child_lost: Callable[[str], dict]) -> list:
    """The messy hand-ins as `grader_corpus.Case`s; `child_lost(phrase)`: every test that reads
    the grading child loses its points with `phrase`."""
    cpu = "grading runs on the CPU: do not call .cuda()"
    too_big = "the largest: outputs/task1/model.pt (2.2 GB)"
    return [
        Case("handin_nested_two_deep", _move_into("Homework 4", "submission")),
        Case("handin_renamed_by_browser", _move_into(name="02_speaker_id (1).ipynb")),
        Case(
            "handin_renamed_beside_checkpoint_copy",
            _both(
                _move_into("hw4", name="02_speaker_id (1).ipynb"),
                _checkpoint_copy("02_speaker_id (1)-checkpoint.ipynb"),
            ),
        ),
        Case("handin_checkpoint_copy", _checkpoint_copy("02_speaker_id-checkpoint.ipynb")),
        Case("handin_old_attempt_also_defines_classes", _old_attempt),
        Case("handin_macos_zip", _mac_zip),
        Case("handin_colab_magics_in_if", _edit_notebook(_colab_lines)),
        Case("handin_huge_image_output", _edit_notebook(_huge_image)),
        Case("handin_nbformat_4_4_no_cell_ids", _nbformat_4_4),
        Case("handin_windows_line_ends_in_json", _windows_line_ends),
        Case("handin_predictions_from_excel", _rewrite_csv(_excel)),
        Case("handin_predictions_with_pandas_index", _rewrite_csv(_pandas_index)),
        Case("handin_data_folder_2_gb", _data_folder),
        Case("handin_training_checkpoint_dict", _edit_state("task1", _training_checkpoint)),
        Case("handin_torch_compile_prefix", _edit_state("task2", _compiled)),
        Case(
            "handin_cuda_in_forward",
            _cuda_in_forward,  # the parameter budget is counted without running forward
            dict.fromkeys(["load1", "acc1", "layers", "scratch1"], cpu),
        ),
        Case("handin_model_pt_too_large", _huge_model, child_lost(too_big)),
    ]


OUTPUT_PHRASES = {
    "handin_data_folder_2_gb": "nothing to fix): left out data/ (2.2 GB), .git/ (3.0 MB)",
    "handin_macos_zip": "__MACOSX/ (",
}
