"""The whole repository stays `ruff check` and `ruff format` clean (STYLE.md house rule)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ruff", *args], cwd=ROOT, capture_output=True, text=True)


needs_ruff = pytest.mark.skipif(
    shutil.which("ruff") is None, reason="ruff is not installed: pip install -e '.[dev]'"
)


@needs_ruff
def test_ruff_check_is_clean():
    result = _ruff("check", ".")
    assert result.returncode == 0, f"ruff check found problems:\n{result.stdout}{result.stderr}"


@needs_ruff
def test_ruff_format_is_clean():
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, f"run `ruff format .`; these files differ:\n{result.stdout}"
