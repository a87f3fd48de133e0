"""Build graded submissions in tests: a notebook from cell sources plus the files it would write.

    make_submission(tmp_path / "alice", "01_keyword_spotting.ipynb",
                    cells=[("import torch ...", ["model"])],
                    outputs={"kws": ("KeywordTransformer", {"n_classes": 12})})

The model cells are executed here (trusted test code) to build each task's model, whose
state dict and config are saved the way the course notebooks save them; `tamper` hooks let a
test damage any written file afterwards.
"""

import json
import types
from pathlib import Path

import nbformat
import torch

TINY_KWS = '''
import torch
from torch import nn


class KeywordTransformer(nn.Module):
    """Deliberately tiny: frames of 160 samples -> linear -> mean -> norm -> classifier."""

    def __init__(self, n_classes: int = 12, dim: int = 8):
        super().__init__()
        self.proj = nn.Linear(160, dim)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, waves):
        frames = waves.view(waves.shape[0], -1, 160)  # (B, 100, 160)
        return self.head(self.norm(self.proj(frames).mean(dim=1)))
'''

TINY_SPEAKER = """
import torch
from torch import nn


class EncoderLayer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(dim, dim)

    def forward(self, x):
        return x + torch.relu(self.linear(x))


class Encoder(nn.Module):
    def __init__(self, dim: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(dim) for _ in range(layers))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class SpeakerTransformer(nn.Module):
    def __init__(self, num_speakers: int = 600, dim: int = 16, layers: int = 2):
        super().__init__()
        self.prenet = nn.Linear(40, dim)
        self.encoder = Encoder(dim, layers)
        self.norm = nn.BatchNorm1d(dim)
        self.head = nn.Linear(dim, num_speakers)

    def forward(self, x, lengths):
        h = self.encoder(self.prenet(x))  # (B, T, D)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]  # (B, T)
        pooled = (h * mask[..., None]).sum(1) / lengths[:, None]  # (B, D)
        return self.head(self.norm(pooled))
"""


TINY_SPEAKER_TASKS = (
    TINY_SPEAKER
    + """

class ConformerBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.ff = nn.Linear(dim, dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size=3, padding=1, groups=dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        x = x + torch.relu(self.ff(x))
        x = x + self.conv(x.transpose(1, 2)).transpose(1, 2)  # (B, T, D)
        return self.norm(x)


class SpeakerConformer(SpeakerTransformer):
    def __init__(self, num_speakers: int = 600, dim: int = 16, layers: int = 2):
        super().__init__(num_speakers, dim, layers)
        self.encoder = nn.Sequential(*[ConformerBlock(dim) for _ in range(layers)])


class SelfAttentionPooling(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def forward(self, h, lengths):
        mask = torch.arange(h.shape[1], device=h.device)[None, :] >= lengths[:, None]  # (B, T)
        weights = self.score(h).squeeze(-1).masked_fill(mask, float("-inf")).softmax(dim=1)
        return (weights[..., None] * h).sum(dim=1)  # (B, D)


class SpeakerAttentionAMS(SpeakerTransformer):
    def __init__(self, num_speakers: int = 600, dim: int = 16, layers: int = 2):
        super().__init__(num_speakers, dim, layers)
        self.pooling = SelfAttentionPooling(dim)

    def forward(self, x, lengths):
        return self.head(self.norm(self.pooling(self.encoder(self.prenet(x)), lengths)))
"""
)


def make_notebook(cells: list[tuple[str, list[str]]]) -> nbformat.NotebookNode:
    """A python3 notebook whose code cells have the given sources and tags."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells
    ]
    return nb


def build_models(cells: list[tuple[str, list[str]]], outputs: dict, seed: int = 0) -> dict:
    """Run the `model` cells here and build each task's model: {task: nn.Module}."""
    if not outputs:
        return {}
    module = types.ModuleType("__notebook_fixture__")
    for source, tags in cells:
        if "model" in tags:
            exec(compile(source, "<fixture model cell>", "exec"), module.__dict__)
    torch.manual_seed(seed)
    return {task: module.__dict__[name](**kwargs) for task, (name, kwargs) in outputs.items()}


def make_submission(
    folder: Path,
    notebook_name: str,
    cells: list[tuple[str, list[str]]],
    outputs: dict[str, tuple[str, dict]],
    *,
    out_dir: str = "outputs",
    predictions: dict[str, str] | None = None,
) -> Path:
    """Write `folder/notebook_name` and, per task, OUT_DIR/<task>/{config.json, model.pt}.

    `outputs` maps a task to (class name, constructor kwargs); `predictions` optionally maps a
    task to the text of its predictions.csv.
    """
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(make_notebook(cells), folder / notebook_name)
    for task, model in build_models(cells, outputs).items():
        name, kwargs = outputs[task]
        task_dir = folder / out_dir / task
        task_dir.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), task_dir / "model.pt")
        config = {"task": task, "class": name, "kwargs": kwargs}
        (task_dir / "config.json").write_text(json.dumps(config))
        if predictions and task in predictions:
            (task_dir / "predictions.csv").write_text(predictions[task])
    return folder


# A grader that grades nothing: whatever the hand-in, 30 / 30 on keyword spotting (its one test)
STAND_IN_CONFTEST = """
import json
from pathlib import Path

def pytest_addoption(parser):
    for name in ("--submission", "--data", "--results", "--hide", "--assignment"):
        parser.addoption(name, action="append")

def pytest_configure(config):
    facts = {"assignment": "keyword_spotting"}
    tests = [{"name": "ks all", "score": 30.0, "max_score": 30.0, "status": "passed",
              "output": "", "visibility": "visible", "extra_data": facts}]
    Path(config.getoption("--results")[0]).write_text(
        json.dumps({"score": 30.0, "tests": tests, "output": ""}))
"""


def stand_in_grader(folder: Path) -> Path:
    """`folder`, made a grader folder (`kws grade --grader`) whose pytest writes results.json
    of 30 / 30 on keyword spotting for any hand-in, deciding nothing."""
    folder.mkdir()
    (folder / "conftest.py").write_text(STAND_IN_CONFTEST)
    (folder / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    return folder
