"""The grading children's recorded reports (tests/plugins/recorded_children.py), which the
grader corpora judge instead of starting a sandboxed child for every hand-in: current for the
kit as it is, keyed by what the child reads (not by the grader's secret order of the inputs,
nor by a training run's clock), and translated into this grader's order."""

import json

import numpy as np
from recorded_children import RECORDS, job_key, kit_digest, read_records, reordered

from kws.grading.protocol.inputs import save_wave_inputs
from kws.grading.sandbox.run import ChildJob

REGENERATE = "python -m pytest -n auto --dist loadgroup --record-children"


def test_the_records_are_those_of_the_kit_as_it_is():
    """A change to kws/ (what a grading child is given) changes every report's key: the
    corpora then start real children for every hand-in until the reports are recorded again."""
    records = read_records()
    assert kit_digest() in records["kit"], (
        f"{RECORDS} holds the grading children's reports of another kit (kws/ changed): "
        f"record them again with `{REGENERATE}` (a few minutes), and commit the file"
    )
    assert records["results"], f"{RECORDS} holds no report: `{REGENERATE}`"


def _hand_in(folder, seconds: float, order) -> ChildJob:
    (folder / "outputs" / "task1").mkdir(parents=True)
    cells = [{"cell_type": "code", "source": "class Model: pass", "metadata": {"tags": ["model"]},
              "outputs": [{"text": f"took {seconds} s"}]}]  # fmt: skip
    (folder / "02_speaker_id.ipynb").write_text(json.dumps({"cells": cells}))
    history = {"loss": [2.0, 1.5], "train_seconds": seconds}
    (folder / "outputs" / "task1" / "history.json").write_text(json.dumps(history))
    waves = np.arange(3 * 8, dtype=np.int16).reshape(3, 8)
    save_wave_inputs(folder / "inputs.bin", waves, np.ones(3, dtype=np.float32), order)
    return ChildJob(
        ["-m", "kws.grading.child.runner"], folder, {"inputs.bin": folder / "inputs.bin"}
    )


def test_a_key_holds_what_the_child_reads_and_not_the_run_it_came_from(tmp_path):
    first = job_key(_hand_in(tmp_path / "a", 1.5, [0, 1, 2]), "kit", {})
    again = job_key(_hand_in(tmp_path / "b", 9.0, [2, 0, 1]), "kit", {})
    assert first[0] == again[0]  # another secret order, another clock and cell outputs
    assert first[1] == [again[1][1], again[1][2], again[1][0]]  # the items, in each order
    assert job_key(_hand_in(tmp_path / "c", 1.5, [0, 1, 2]), "other kit", {})[0] != first[0]
    edited = _hand_in(tmp_path / "d", 1.5, [0, 1, 2])
    notebook = edited.submission / "02_speaker_id.ipynb"
    notebook.write_text(notebook.read_text().replace("pass", "x = 1"))
    assert job_key(edited, "kit", {})[0] != first[0]


def test_a_replayed_report_gives_each_input_its_own_prediction():
    payload = {"tasks": {"task1": {"predictions": [7, 8, 9], "near": [[], [1], [2]], "seconds": 1}}}
    moved = reordered(payload, ["a", "b", "c"], ["c", "a", "b"])
    assert moved["tasks"]["task1"]["predictions"] == [9, 7, 8]
    assert moved["tasks"]["task1"]["near"] == [[2], [], [1]]
    assert payload["tasks"]["task1"]["predictions"] == [7, 8, 9]  # the record is left as it was
