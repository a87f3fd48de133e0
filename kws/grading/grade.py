"""Grader-side glue: run one notebook's child, explain what went wrong, score accuracy by tier.

Used by grader/conftest.py and the grader's tests. Nothing here runs student code: the child
does (`kws.grading.runner` in `kws.grading.sandbox`), and this module reads its checked payload.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from kws.grading.hidden import HiddenTest
from kws.grading.runner import check_payload
from kws.grading.sandbox import ChildResult, Limits, run_child

TIER_ORDER = ("simple", "medium", "strong", "boss")


@dataclass(frozen=True)
class Assignment:
    """One graded notebook: its file name, its tasks and each task's class name."""

    notebook: str
    classes: dict[str, str]  # task -> class name the skeleton fixes
    data_subdir: str = ""  # KWS_DATA_DIR for re-training, relative to the grader's --data

    @property
    def tasks(self) -> list[str]:
        return list(self.classes)


ASSIGNMENTS = {
    "keyword_spotting": Assignment("01_keyword_spotting.ipynb", {"kws": "KeywordTransformer"}),
    "speaker_id": Assignment(
        "02_speaker_id.ipynb",
        {
            "task1": "SpeakerTransformer",
            "task2": "SpeakerConformer",
            "task3": "SpeakerAttentionAMS",
        },
        data_subdir="speaker_features",  # the notebook's DATA_DIR is the features folder itself
    ),
}


def grade_notebook(
    submission: Path,
    assignment: Assignment,
    hidden: HiddenTest,
    *,
    limits: Limits,
    hide: list[Path],
    device: str = "cpu",
    outputs: str = "outputs",
    module: str = "kws.grading.runner",
    extra_args: list[str] = (),
) -> ChildResult:
    """Run the grading child on `submission` for every task of `assignment`."""
    entry = ["-m", module, "--result", "{result}", "--submission", "{work}/submission"]
    entry += [
        "--notebook",
        assignment.notebook,
        "--outputs",
        outputs,
        "--inputs",
        "{work}/inputs.pt",
    ]
    entry += ["--num-classes", str(len(hidden.classes)), "--device", device, *extra_args]
    for task, class_name in assignment.classes.items():
        entry += ["--task", task, "--classes", class_name]
    result = run_child(
        entry,
        submission=submission,
        inputs={"inputs.pt": hidden.inputs_file},
        limits=limits,
        gpu=device != "cpu",
        hide=hide,
    )
    if result.status == "ok":
        try:
            check_payload(result.payload, assignment.tasks, len(hidden.labels), len(hidden.classes))
        except ValueError as error:
            result.status, result.reason, result.payload = "invalid_output", str(error), None
    return result


def child_problem(result: ChildResult) -> str:
    """One or two sentences for the student about a child that did not finish normally."""
    what = {
        "timeout": "Grading your notebook's model took too long",
        "memory": "Grading your notebook's model ran out of memory",
        "killed": "The grading process running your model was killed",
        "crashed": "The grading process running your model crashed",
        "invalid_output": "The grading process running your model ended without a valid result",
    }.get(result.status, "Grading your notebook failed")
    return (
        f"{what} ({result.reason}). Make sure the cells tagged 'model' only define your classes "
        "(no training, no downloads, no exit calls) and that the saved model runs on CPU."
    )


def load_thresholds(path: Path) -> dict:
    """grader/thresholds.json, checked: every tier table has the four tiers in rising order."""
    table = json.loads(Path(path).read_text())
    for family in ("kws", "speaker"):
        for dataset, tiers in table[family].items():
            values = [tiers.get(name) for name in TIER_ORDER]
            if None in values or values != sorted(values):
                raise ValueError(
                    f"{path}: {family}/{dataset} needs tiers {', '.join(TIER_ORDER)} in rising order"
                )
    return table


def tier_credit(accuracy: float, tiers: dict[str, float], target: str) -> tuple[float, str]:
    """(fraction of the points, sentence): full marks at `target`, an equal share per lower tier."""
    wanted = TIER_ORDER[: TIER_ORDER.index(target) + 1]
    reached = [name for name in wanted if accuracy >= tiers[name]]
    fraction = len(reached) / len(wanted)
    if fraction == 1.0:
        return 1.0, f"Accuracy {accuracy:.4f} reaches the {target} tier ({tiers[target]:.4f})."
    missing = wanted[len(reached)]
    got = f"reaches the {reached[-1]} tier" if reached else "reaches no tier"
    return fraction, (
        f"Accuracy {accuracy:.4f} {got}; the {missing} tier needs {tiers[missing]:.4f} "
        f"(full marks at {target}, {tiers[target]:.4f}). Train longer or improve the model."
    )
