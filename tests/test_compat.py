"""torch / torchaudio pairings: a pairing whose torchaudio does not load (a CPU-only torch with
the registry's CUDA torchaudio: "libc10_cuda.so: cannot open shared object file") stops the kit
with the installed versions and the command that fixes it, not a loader traceback; the range
pyproject.toml declares is the one the message and CI use."""

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from kws.compat import KNOWN_GOOD, TORCH_RANGE, TORCHAUDIO_RANGE
from kws.compat import torchaudio as checked

ROOT = Path(__file__).resolve().parents[1]
LOADER_ERROR = "libc10_cuda.so: cannot open shared object file: No such file or directory"


@pytest.fixture
def broken_torchaudio(tmp_path) -> dict[str, str]:
    """An environment whose `import torchaudio` fails as the registry's torchaudio 2.11 does
    with the CPU wheel of torch 2.13 (an OSError from the dynamic loader)."""
    fake = tmp_path / "fake" / "torchaudio"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(f"raise OSError({LOADER_ERROR!r})\n")
    return os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), str(ROOT)])}


def _python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )


def _says_what_to_install(text: str) -> None:
    torch_version, audio_version = metadata.version("torch"), metadata.version("torchaudio")
    assert f"torchaudio {audio_version} does not load with torch {torch_version}" in text
    assert LOADER_ERROR in text
    assert "pip install" in text and f'"torch=={KNOWN_GOOD}.*" "torchaudio=={KNOWN_GOOD}.*"' in text


@pytest.mark.parametrize(
    "module",
    ["kws.data.features", "kws.data.speaker_features", "kws.assignments.speaker_id.layer_checks"],
)
def test_a_broken_pairing_stops_the_import_with_the_fix(broken_torchaudio, module):
    run = _python(broken_torchaudio, "-c", f"import {module}")
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()
    assert any(line.startswith("kws.compat.TorchPairingError: torchaudio") for line in last)
    _says_what_to_install(run.stderr)
    assert "OSError" not in run.stderr.split("TorchPairingError")[0]  # no loader traceback first


def test_the_check_command_prints_the_fix_without_a_traceback(broken_torchaudio):
    run = _python(broken_torchaudio, "-m", "kws.compat")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    _says_what_to_install(run.stderr)


def test_the_check_command_accepts_the_installed_pairing():
    run = _python(os.environ | {"PYTHONPATH": str(ROOT)}, "-m", "kws.compat")
    assert run.returncode == 0, run.stderr
    assert f"torchaudio {checked.__version__} load together" in run.stdout


def test_the_declared_range_is_the_one_the_kit_names():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"torch{TORCH_RANGE}"' in pyproject and f'"torchaudio{TORCHAUDIO_RANGE}"' in pyproject
    low = re.match(r">=(\d+\.\d+)", TORCH_RANGE)[1]
    assert low == KNOWN_GOOD  # the pairing the message recommends is inside the range


def test_the_fast_subset_names_existing_test_files():
    """.ci/run's second environment runs these; a renamed file must not silently drop out."""
    listed = [line for line in (ROOT / ".ci/fast-tests").read_text().splitlines() if line]
    files = [line for line in listed if not line.startswith("#")]
    assert "tests/test_compat.py" in files
    assert all((ROOT / name).is_file() for name in files), files
