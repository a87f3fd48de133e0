"""One child run, described once (`ChildRun`): the parent writes it as ``run.json`` into the
child's folder and the child reads it back (``python -m kws.grading.child.runner RESULT_FILE
RUN_FILE``; only the result file is on the command line, as the sandbox alone knows where the
child sees it). Its paths are the child's, relative to its working folder.
"""

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from kws.device import DeviceName

RUN_FILE = "run.json"  # the name of the description in the child's folder


@dataclass(frozen=True)
class Retraining:
    """Re-running the whole notebook before grading it: the settings its `parameters` cell reads."""

    data: str  # KWS_DATA_DIR: the training data (its test labels hidden)
    steps: int  # KWS_STEPS
    seed: int = 0  # KWS_SEED
    cell_timeout: int = 3600  # seconds one notebook cell may take


@dataclass(frozen=True)
class ChildRun:
    """Grade `classes` (task -> the class name the skeleton fixes) of one notebook."""

    notebook: str  # the notebook's file name, e.g. "02_speaker_id.ipynb"
    classes: dict[str, str]  # task -> class name, in grading order
    n_classes: int  # the model's output size; predictions must lie in [0, n_classes)
    inputs: str = "inputs.bin"  # the unlabelled inputs (`kws.grading.protocol.inputs`)
    submission: str = "submission"  # the copy of the hand-in
    outputs: str = "outputs"  # OUT_DIR beside the notebook ("retrained" after a re-training)
    device: DeviceName = DeviceName("cpu")  # where it runs; ``str()`` in run.json
    batch_size: int = 64  # prediction batch size (long inputs are split further)
    retrain: Retraining | None = field(default=None)
    # > 0: also give, per input, the other classes the model scores within this fraction of
    # the input's score range from its top score (a predictions.csv check: its near ties).
    near: float = 0.0

    def __post_init__(self):
        if (
            not isinstance(self.classes, dict)
            or not self.classes
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in self.classes.items())
        ):
            raise ValueError("a child run needs at least one task, each with its class name")
        if not isinstance(self.n_classes, int) or self.n_classes < 1:
            raise ValueError(f"n_classes must be a positive integer, not {self.n_classes!r}")
        if not isinstance(self.near, int | float) or not 0 <= self.near < 1:
            raise ValueError(f"near must be a fraction in [0, 1), not {self.near!r}")
        if not isinstance(self.device, DeviceName):
            raise ValueError(f"device must be a DeviceName, not {self.device!r}")

    @property
    def tasks(self) -> list[str]:
        return list(self.classes)

    @classmethod
    def from_json(cls, text: str) -> "ChildRun":
        """The run `save` wrote; ValueError naming the field when the text is not one."""
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) - names:
            raise ValueError(f"a child run holds exactly the fields {sorted(names)}")
        retrain = data.get("retrain")
        if retrain is not None:
            data["retrain"] = Retraining(**retrain)
        if "device" in data:
            data["device"] = DeviceName.parse(data["device"])
        return cls(**data)

    def save(self, folder: Path) -> Path:
        """Write ``folder/run.json``; returns its path."""
        path = Path(folder) / RUN_FILE
        path.write_text(json.dumps(asdict(self) | {"device": str(self.device)}, indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> "ChildRun":
        return cls.from_json(Path(path).read_text())
