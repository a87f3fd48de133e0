"""Messy hand-ins are read like clean ones: the notebook found, outputs/ beside it, the
predictions CSV as Excel or pandas saved it, large unneeded folders left out of the copy.

Fast: no child process here (tests/test_runner.py and the grader corpus grade such hand-ins
end to end).
"""

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from grading_helpers import make_notebook

from kws.data.labels_csv import read_labels_csv, read_labels_rows
from kws.grading.protocol.handin import (
    copy_plan,
    find_notebook,
    outputs_folder,
    predictions_csv,
    relative,
)
from kws.grading.sandbox.staging import SubmissionTooLarge, copy_submission
from kws.grading.testsets.layouts.hw4 import hidden_speaker_test

NAME, CLASSES = "02_speaker_id.ipynb", ["SpeakerTransformer"]
DEFINES = "class SpeakerTransformer:\n    pass\n"


def _notebook(path: Path, source: str = DEFINES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(make_notebook([(source, ["model"])]), path)
    return path


def test_nested_notebook_and_outputs_are_found_two_folders_deep(tmp_path):
    notebook = _notebook(tmp_path / "hw4" / "submission" / NAME)
    (notebook.parent / "outputs" / "task1").mkdir(parents=True)
    assert find_notebook(tmp_path, NAME, CLASSES) == notebook
    assert outputs_folder(tmp_path, notebook) == notebook.parent / "outputs"
    assert relative(predictions_csv(tmp_path, NAME, CLASSES, "task1"), tmp_path) == (
        "hw4/submission/outputs/task1/predictions.csv"
    )


def test_outputs_at_the_top_are_used_when_none_sit_beside_the_notebook(tmp_path):
    notebook = _notebook(tmp_path / "notebooks" / NAME)
    (tmp_path / "outputs").mkdir()
    assert outputs_folder(tmp_path, notebook) == tmp_path / "outputs"


def test_a_browser_renamed_notebook_is_picked_never_its_checkpoint_or_mac_copies(tmp_path):
    renamed = _notebook(tmp_path / "02_speaker_id (1).ipynb")
    _notebook(tmp_path / ".ipynb_checkpoints" / "02_speaker_id (1)-checkpoint.ipynb")
    _notebook(tmp_path / "__MACOSX" / NAME)
    (tmp_path / "._02_speaker_id (1).ipynb").write_bytes(
        b"\x00\x05\x16\x07 class SpeakerTransformer"
    )
    _notebook(tmp_path / "scratch.ipynb", "print('no model here')")
    assert find_notebook(tmp_path, NAME, CLASSES) == renamed


def test_of_two_notebooks_defining_the_class_the_original_name_wins(tmp_path):
    _notebook(tmp_path / "old_attempt.ipynb")
    original = _notebook(tmp_path / "final" / NAME)
    assert find_notebook(tmp_path, NAME, CLASSES) == original
    (tmp_path / "final" / NAME).unlink()
    download = _notebook(tmp_path / "02_speaker_id (2).ipynb")
    assert find_notebook(tmp_path, NAME, CLASSES) == download


def test_ambiguous_or_missing_notebooks_are_named_relative_to_the_hand_in(tmp_path):
    _notebook(tmp_path / "a" / "mine.ipynb")
    _notebook(tmp_path / "b" / "mine_too.ipynb")
    with pytest.raises(FileNotFoundError) as error:
        find_notebook(tmp_path, NAME, CLASSES)
    assert str(error.value) == (
        f"the submission holds several notebooks that could be {NAME} (a/mine.ipynb, "
        f"b/mine_too.ipynb); hand in one notebook named {NAME}, with the outputs/ folder its "
        "saving cells wrote"
    )
    shutil.rmtree(tmp_path / "a")
    shutil.rmtree(tmp_path / "b")
    _notebook(tmp_path / "notes.ipynb", "x = 1")
    with pytest.raises(FileNotFoundError, match=r"no 02_speaker_id.ipynb .*found: notes.ipynb\)"):
        find_notebook(tmp_path, NAME, CLASSES)
    assert str(tmp_path) not in str(error.value)


def test_notebook_json_with_windows_line_ends_is_read(tmp_path):
    notebook = _notebook(tmp_path / "hw" / "02_speaker_id (1).ipynb")
    notebook.write_bytes(notebook.read_bytes().replace(b"\n", b"\r\n"))
    assert find_notebook(tmp_path, NAME, CLASSES) == notebook


# ---- what the sandbox copies -------------------------------------------------------------------


def _sparse(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space (truncate -s)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.truncate(size)
    return path


def test_a_2_gb_data_folder_is_left_out_of_the_copy_and_named(tmp_path):
    source = tmp_path / "alice"
    _notebook(source / NAME)
    (source / "outputs" / "task1").mkdir(parents=True)
    (source / "outputs" / "task1" / "config.json").write_text("{}")
    _sparse(source / "outputs" / "task1" / "model.pt", 3 * 2**20)  # needed, though not small
    _sparse(source / "data" / "speaker_features" / "uttr-1.pt", 2_100_000_000)
    (source / "data" / "mapping.json").write_text("{}")  # small, but not needed: left out
    (source / "outputs" / "task1" / "answers.json").write_text("{}")  # a side file: left out
    (source / "helpers.py").write_text("ANSWERS = {}\n")  # a helper module: left out
    _sparse(source / ".git" / "objects" / "pack", 5_000_000)
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "x.pyc").write_bytes(b"1")
    plan = copy_submission(source, tmp_path / "copy", limit=2 * 2**30)
    copied = sorted(
        p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*.*")
    )
    assert copied == [NAME, "outputs/task1/config.json", "outputs/task1/model.pt"]
    assert plan.ignored_text() == (
        "data/ (2.1 GB), .git/ (5.0 MB), helpers.py (13 bytes), outputs/ (2 bytes), "
        "__pycache__/ (1 bytes)"
    )
    assert plan.note().startswith("grading used only the notebook and each task's config.json")


def test_what_grading_needs_over_the_limit_names_the_largest_file(tmp_path):
    source = tmp_path / "bob"
    _notebook(source / NAME)
    _sparse(source / "outputs" / "task1" / "model.pt", 3_000_000_000)
    with pytest.raises(SubmissionTooLarge) as error:
        copy_submission(source, tmp_path / "copy", limit=2 * 2**30)
    assert "the largest: outputs/task1/model.pt (3.0 GB), 02_speaker_id.ipynb" in str(error.value)
    assert str(tmp_path) not in str(error.value)
    assert not (tmp_path / "copy").exists()


def test_links_and_fifos_are_listed_not_copied(tmp_path):
    source = tmp_path / "carol"
    _notebook(source / NAME)
    (source / "labels.csv").symlink_to("/etc/hostname")
    os.mkfifo(source / "pipe.ipynb")
    plan = copy_plan(source)
    assert sorted(plan.links) == ["labels.csv", "pipe.ipynb"]
    assert find_notebook(source, "other.ipynb", CLASSES) == source / NAME  # the fifo is not read


# ---- predictions.csv and test_labels.csv as spreadsheets save them -----------------------------

CLEAN = "Id,Category\nuttr-1.pt,id10001\nuttr-2.pt,id10002\nuttr-3.pt,id10001\n"


@pytest.mark.parametrize(
    "text",
    [
        "\ufeff" + CLEAN,  # Excel's "CSV UTF-8": a byte-order mark
        CLEAN.replace("\n", "\r\n"),  # Windows line ends
        CLEAN + "\n\n",  # trailing blank lines
        'Id,Category\n"uttr-1.pt","id10001"\n"uttr-2.pt",id10002\nuttr-3.pt,"id10001"\n',
        "Id,Category\nuttr-3.pt,id10001\nuttr-1.pt,id10001\nuttr-2.pt,id10002\n",  # any order
        " Id , Category\nuttr-1.pt , id10001\nuttr-2.pt,id10002,\nuttr-3.pt,id10001\n",
        ",Id,Category\n0,uttr-1.pt,id10001\n1,uttr-2.pt,id10002\n2,uttr-3.pt,id10001\n",  # pandas
        "\ufeff" + CLEAN.replace("\n", "\r\n") + "\r\n",
    ],
)
def test_a_predictions_csv_reads_like_the_clean_one(tmp_path, text):
    path = tmp_path / "predictions.csv"
    path.write_bytes(text.encode("utf-8"))
    (tmp_path / "clean.csv").write_text(CLEAN)
    assert read_labels_csv(path) == read_labels_csv(tmp_path / "clean.csv")


@pytest.mark.parametrize(
    "text, message",
    [
        ("Id;Category\nuttr-1.pt;id1\n", "predictions.csv: the first line must be the header"),
        (CLEAN + "uttr-1.pt,id10002\n", "line 5: Id 'uttr-1.pt' appears twice (also line 2)"),
        ("Id,Category\nuttr-1.pt\n", "line 2: expected 2 columns (Id,Category), got 1"),
    ],
)
def test_a_broken_predictions_csv_names_the_line(tmp_path, text, message):
    path = tmp_path / "predictions.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        read_labels_csv(path)


def test_a_utf16_csv_says_how_to_save_it(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text(CLEAN, encoding="utf-16")
    with pytest.raises(ValueError, match="is not UTF-8 text; save it as 'CSV UTF-8'"):
        read_labels_rows(path)


@pytest.fixture
def hidden_copy(tiny_data, tmp_path) -> Path:
    """A private copy of the tiny HW4 features and hidden labels, to damage."""
    for name in ("speaker_features", "speaker_features_hidden"):
        shutil.copytree(tiny_data / name, tmp_path / "data" / name)
    return tmp_path / "data"


def test_hidden_labels_saved_by_excel_give_the_same_labels(hidden_copy, tmp_path):
    clean = hidden_speaker_test(hidden_copy, tmp_path / "clean.pt")
    labels = hidden_copy / "speaker_features_hidden" / "test_labels.csv"
    lines = labels.read_text().splitlines()
    labels.write_bytes(("\ufeff" + "\r\n".join([lines[0], *lines[:0:-1]]) + "\r\n\r\n").encode())
    excel = hidden_speaker_test(hidden_copy, tmp_path / "excel.pt")
    truth = dict(zip(clean.ids, clean.labels.tolist(), strict=True))
    assert dict(zip(excel.ids, excel.labels.tolist(), strict=True)) == truth


def test_hidden_labels_with_an_extra_row_or_unknown_speaker_name_the_line(hidden_copy, tmp_path):
    labels = hidden_copy / "speaker_features_hidden" / "test_labels.csv"
    text = labels.read_text()
    labels.write_text(text.rstrip("\n") + "\nnot-a-test-utterance.pt,id00000\n")
    line = len(text.splitlines()) + 1
    with pytest.raises(ValueError) as error:
        hidden_speaker_test(hidden_copy, tmp_path / "x.pt")
    assert str(error.value).startswith(
        f"{labels}, line {line}: Id 'not-a-test-utterance.pt' is not a test utterance of "
    )
    first_id, first_speaker = text.splitlines()[1].split(",")
    labels.write_text(text.replace(f"{first_id},{first_speaker}", f"{first_id},nobody"))
    with pytest.raises(
        ValueError, match=r"line 2: speaker 'nobody' is not in .*speaker_features/mapping.json"
    ):
        hidden_speaker_test(hidden_copy, tmp_path / "x.pt")


# ---- IPython lines in the model cells ----------------------------------------------------------


def test_colab_and_magic_lines_run_as_jupyter_runs_them(tmp_path):
    from kws.grading.child.cells import run_model_cells

    cells = [
        (
            'import sys\nif "google.colab" in sys.modules:\n    !pip install -q x\n    %cd /content\n'
            "files = !ls\n%matplotlib inline\nclass SpeakerTransformer:\n    pass\n",
            ["model"],
        ),
        ("%%capture\n!pip install y\nclass Captured:\n    size = 3\n", ["model"]),
        ("%%bash\necho this is not Python\n", ["model"]),
        ("get_ipython().system('nvidia-smi')\nafter = Captured.size + 1\n", ["model"]),
    ]
    path = tmp_path / NAME
    nbformat.write(make_notebook(cells), path)
    namespace = run_model_cells(path)
    assert namespace["files"] == [] and namespace["after"] == 4
    assert isinstance(namespace["SpeakerTransformer"], type)
