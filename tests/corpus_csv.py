"""Cheating notebook 02's accuracy, scored from predictions.csv (kws.grading.judge.accuracy): each way
costs exactly the task's accuracy points, with the sampled check's message. The honest files
saved by Excel or pandas keep them (tests/corpus_handins.py).

On the tiny synthetic data the secret sample is the whole test set (6 utterances) and the
tolerance lets none differ: every edited row is caught. What the checks must catch is that the
file is not what the handed-in model predicts: rows edited by hand toward the true labels (which
the synthetic data's hidden labels give the test), a file from another checkpoint, a model that
answers otherwise on long inputs than the run that wrote the file.
"""

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import torch

DISAGREES = "disagrees with your {task} model on"
# What the model cell's forward returns, and the same with other answers for long utterances
# (the tiny test set's are 100 to 160 frames: a batch holding one of the longest is "long").
HONEST_RETURN = "        return self.classifier(pooled)\n"
LONG_INPUTS_DIFFER = (
    "        logits = self.classifier(pooled)\n"
    "        if int(lengths.max()) > 140:  # long utterances: another answer than the file's\n"
    "            logits = logits.roll(1, dims=-1)\n"
    "        return logits\n"
)


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def _write(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(rows)


def _edited_toward_truth(task: str) -> Callable:
    """Damage: `task`'s rows that the true label contradicts set to it (the first row changed
    to another speaker when none do), the model left as it is."""

    def damage(folder: Path, context) -> None:
        truth = dict(_rows(context.data / "speaker_features_hidden" / "test_labels.csv")[1:])
        path = folder / "outputs" / task / "predictions.csv"
        header, *rows = _rows(path)
        edited = [[key, truth[key]] for key, _ in rows]
        if edited == rows:  # the model is right everywhere: a hand edit all the same
            others = sorted(set(truth.values()) - {rows[0][1]})
            edited[0] = [rows[0][0], others[0]]
        _write(path, [header, *edited])

    return damage


def _from_another_checkpoint(task: str) -> Callable:
    """Damage: `task`'s model.pt replaced by another model's, whose classifier answers with the
    next class (its output rows rolled): the file is still the first model's predictions."""

    def damage(folder: Path, context) -> None:
        mapping = context.data / "speaker_features" / "mapping.json"
        n_classes = len(json.loads(mapping.read_text())["speaker2id"])  # the models' outputs
        path = folder / "outputs" / task / "model.pt"
        state = torch.load(path, weights_only=True)
        last = [k for k, v in state.items() if k.endswith(".weight") and len(v) == n_classes][-1]
        for key in (last, last.removesuffix(".weight") + ".bias"):
            if key in state:
                state[key] = state[key].roll(1, dims=0)
        torch.save(state, path)

    return damage


def csv_cases(Case, edit_cell, replace) -> list:
    """The cheating cases as `grader_corpus.Case`s (`edit_cell`, `replace`: its cell editors)."""
    return [
        Case(
            "csv_edited_toward_true_labels",
            _edited_toward_truth("task1"),
            {"acc1": DISAGREES.format(task="task1")},
        ),
        Case(
            "csv_from_another_checkpoint",
            _from_another_checkpoint("task2"),
            {"acc2": DISAGREES.format(task="task2")},
        ),
        Case(
            "model_differs_on_long_inputs",
            edit_cell("SpeakerTransformer", replace(HONEST_RETURN, LONG_INPUTS_DIFFER)),
            {"acc1": DISAGREES.format(task="task1")},
        ),
    ]
