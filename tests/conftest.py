import shutil
from pathlib import Path

import pytest
import torch
from course_helpers import NOTEBOOK_STEPS, ROOT, notebook_env


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU: none is visible on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test body on the CPU, and again on CUDA when one is present."""
    return torch.device(request.param)


# ---- synthetic data and the reference submission, built once per test session -----------------


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """The `tiny` synthetic Speech Commands and HW4 features (seed 0), with hidden test labels."""
    from kws.data.synthetic import make_speaker_features, make_speech_commands

    root = tmp_path_factory.mktemp("tiny-data")
    make_speech_commands(root, "tiny", seed=0)
    make_speaker_features(root, "tiny", seed=0)
    return root


@pytest.fixture(scope="session")
def reference_submission(tiny_data, tmp_path_factory) -> Path:
    """A student's hand-in made from the solution notebooks: both notebooks, executed on the tiny
    data, with what they wrote under outputs/."""
    from kws.notebooks import execute_notebook

    folder = tmp_path_factory.mktemp("reference-submission")
    for name in NOTEBOOK_STEPS:
        shutil.copy(ROOT / "solutions" / name, folder / name)
        env = notebook_env(name, tiny_data, folder / "outputs")
        execute_notebook(folder / name, env=env, timeout=600, save_to=folder / name)
    return folder
