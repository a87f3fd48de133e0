"""Settings shared by the tests that run the course notebooks (imported by conftest.py)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_STEPS = {  # a few steps each: the notebooks must run end to end, not learn
    "01_keyword_spotting.ipynb": {
        "KWS_STEPS": "6",
        "KWS_BASELINE_STEPS": "2",
        "KWS_BATCH_SIZE": "16",
    },
    "02_speaker_id.ipynb": {"KWS_STEPS": "4", "KWS_BATCH_SIZE": "8"},
    "03_patch_transformer.ipynb": {
        "KWS_STEPS": "6",
        "KWS_TEACHER_STEPS": "2",
        "KWS_BATCH_SIZE": "16",
    },
}


def notebook_env(name: str, data: Path, out_dir: Path) -> dict[str, str]:
    """Environment for running a course notebook on the tiny data in a few steps, on the CPU
    named as a GPU is (``cpu:0``, which a tensor reports as ``cpu``: `kws.device`'s stand-in),
    on one thread: what it trains is then the same bytes in every test run, under pytest-xdist
    or not (the grading children's records are keyed by them)."""
    data_dir = data / "speaker_features" if name.startswith("02") else data
    env = {"KWS_DATA_DIR": str(data_dir), "KWS_OUT_DIR": str(out_dir), "KWS_VALID_EVERY": "2"}
    env |= {"KWS_DEVICE": "cpu:0", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    return env | NOTEBOOK_STEPS[name]
