"""The grading children's recorded reports (tests/plugins/recorded_children.py), which the
grader corpora judge instead of starting a sandboxed child for every hand-in: current for the
kit as it is, keyed by what the child reads (not by the grader's secret order of the inputs,
nor by a training run's clock), and translated into this grader's order."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import recorded_children
from recorded_children import (
    KIT,
    RECORDS,
    content_digest,
    environment,
    job_key,
    kit_digest,
    kit_files_digest,
    parent_only,
    read_records,
    reordered,
    sandbox_kind,
    stale_records,
)

from kws.grading.protocol.inputs import save_wave_inputs
from kws.grading.sandbox.run import ChildJob

REGENERATE = "python -m pytest -n auto --dist loadgroup --record-children"


def test_the_records_are_those_of_the_kit_as_it_is():
    """A change to kws/ (what a grading child is given) changes every report's key: the
    corpora then start real children for every hand-in until the reports are recorded again.
    A commit whose records are of another kit fails here on every machine, whatever torch it
    has; on a machine with another torch the reports are then not this run's to replay."""
    records = read_records()
    assert records.get("kit_files") == kit_files_digest(), (
        f"{RECORDS} holds the grading children's reports of another kit (kws/ changed): "
        f"record them again with `{REGENERATE}` (a few minutes), and commit the file"
    )
    if records.get("environment") not in (None, environment()):
        pytest.skip(
            f"the reports were recorded with {records['environment']}, this run has "
            f"{environment()}: its grader corpora start a real child for every hand-in"
        )
    assert kit_digest() in records["kit"], (
        f"{RECORDS} holds the grading children's reports of another kit (kws/ changed): "
        f"record them again with `{REGENERATE}` (a few minutes), and commit the file"
    )
    assert records["results"], f"{RECORDS} holds no report: `{REGENERATE}`"


def test_a_hand_in_the_records_of_this_kit_lack_fails_the_run(monkeypatch):
    """The records are of this kit and torch, yet a graded hand-in had none (a recording left
    incomplete, a corpus case changed since): the run fails naming it (tests/conftest.py)
    instead of starting a real child in silence; of another kit or torch, or beside another
    sandbox (the hand-written one, where bubblewrap is missing), it does not."""
    records = read_records()
    if kit_digest() not in records["kit"] or records.get("environment") != environment():
        pytest.skip("the records are of another kit or torch here: every child is real")
    if records.get("sandbox") != sandbox_kind():
        pytest.skip(f"the records were made beside {records.get('sandbox')}: every child is real")
    seen = [{"hand_in": "clean", "kind": "replayed"}, {"hand_in": "new_case", "kind": "real"},
            {"hand_in": "changed_case", "kind": "unrecorded"}]  # fmt: skip
    assert stale_records(seen) == ["changed_case"]
    assert stale_records(seen[:2]) == []
    # beside another sandbox than the recording's (no bubblewrap, or a grader that is not root)
    monkeypatch.setattr(recorded_children, "sandbox_kind", lambda: "builtin root=False")
    assert records["sandbox"] != "builtin root=False" and stale_records(seen) == []


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


def test_no_module_a_child_may_import_pulls_in_the_graders_own():
    """The key leaves out the grader's own packages (`PARENT_ONLY`): true only while no other
    module of kws/ (what a grading child or a hand-in's cells import) imports one of them."""
    modules = []
    for path in sorted(KIT.rglob("*.py")):
        relative = path.relative_to(KIT).as_posix()
        if parent_only(relative) or relative.startswith("assignments/"):
            continue
        parts = ["kws", *path.relative_to(KIT).with_suffix("").parts]
        if parts[-1] == "__main__" or parts[-1] == "compat":
            continue  # a program, not a module; compat: imported by every other
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print('\\n'.join(sorted(name for name in sys.modules if name.startswith('kws'))))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    paths = {name: "/".join(name.split(".")[1:]) for name in found}  # kws.a.b -> a/b
    pulled = [
        name for name, path in paths.items() if parent_only(path) or parent_only(f"{path}.py")
    ]
    assert not pulled, (
        f"{pulled} are imported by a module a grading child may import: take them out of "
        "PARENT_ONLY in tests/plugins/recorded_children.py (their changes then change the key)"
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


def test_a_sparse_file_of_gigabytes_is_digested_by_its_data(tmp_path):
    """The corpus's hand-ins over the copy limit are sparse files of gigabytes: their keys and
    the corpus's snapshots digest the data alone, yet any byte written changes the digest."""
    huge = tmp_path / "model.pt"
    with open(huge, "wb") as file:
        file.truncate(2_200_000_000)
    first = content_digest(huge)
    same = tmp_path / "same.pt"
    with open(same, "wb") as file:
        file.truncate(2_200_000_000)
    assert content_digest(same) == first
    with open(huge, "r+b") as file:
        file.seek(1_000_000_000)
        file.write(b"\x01")
    assert content_digest(huge) != first
    small = tmp_path / "config.json"
    small.write_bytes(b"{}")
    assert content_digest(small) == hashlib.sha256(b"{}").hexdigest()
