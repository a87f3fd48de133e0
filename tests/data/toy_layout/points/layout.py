"""The toy assignment's data layout: points in the plane, one file each for inputs and labels.

    <data>/points/test.json          {"points": [[x, y], ...]}           what students may see
    <data>/points_hidden/labels.json {"classes": [...], "labels": [...]} the grader's alone

Each point becomes one item of a ``features`` inputs file (one frame of 2 values), so the
grading child calls the model as ``model(x (B, 1, 2), lengths (B,))``.
"""

import json
from pathlib import Path

import numpy as np

from kws.author import HiddenTest, Layout, secret_permutation


class PointsLayout(Layout):
    input_kind = "features"

    def __init__(self, spec):
        super().__init__(spec)
        self.folder = spec.data["folder"]
        self.hidden = spec.data["hidden"]

    def _files(self, data: Path) -> tuple[Path, Path]:
        return data / self.folder / "test.json", data / self.hidden / "labels.json"

    def missing(self, data: Path) -> str | None:
        inputs, labels = self._files(data)
        if inputs.is_file() and labels.is_file():
            return None
        return f"{data} has no {self.folder}/test.json with {self.hidden}/labels.json"

    def hidden_test(self, data: Path, out_file: Path) -> HiddenTest:
        from kws.author import save_feature_inputs

        inputs, labels = self._files(data)
        points = json.loads(inputs.read_text())["points"]
        truth = json.loads(labels.read_text())
        order = secret_permutation(len(points)).tolist()
        save_feature_inputs(out_file, (np.array([points[i]], dtype=np.float32) for i in order))
        return HiddenTest(
            inputs_file=out_file,
            labels=[truth["labels"][i] for i in order],
            classes=tuple(truth["classes"]),
            ids=("",) * len(order),
        )

    def detect(self, data: Path) -> str | None:
        return "toy-points" if self.missing(data) is None else None

    def test_set_size(self, data: Path) -> int:
        inputs, _ = self._files(data)
        return len(json.loads(inputs.read_text())["points"]) if inputs.is_file() else 0

    def grading_files(self, data: Path) -> tuple[list[tuple[Path, str]], list[str]]:
        if self.missing(data):
            return [], []
        return [(path, f"data/{path.relative_to(data)}") for path in self._files(data)], []

    def label_folders(self, data: Path) -> list[Path]:
        return [data / self.hidden]
