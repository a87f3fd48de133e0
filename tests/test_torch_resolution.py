"""What pip would install, for each torch pairing the kit installs or advises, is a pair measured
to load (kws.compat.PAIRS): the next torch or torchaudio release on the registry shows up here as a
failure naming the pair, not as a loader traceback in a student's notebook.

The pairings asked about:
- ``pip install -e .`` in a fresh environment: pyproject.toml's torch and torchaudio requirements,
  on this Python and on the oldest and newest supported (the wheels pip would take for them);
- ``pip install -e .`` where torch is installed already (a lab image, a pinned Colab or Gradescope
  runtime): pip keeps that torch; every torch release of the range on the registry;
- the two ends CI installs (kws.compat.ENDS, which .ci/run reads);
- what the fix message advises for each measured torch.

pip is asked with ``pip install --dry-run --report``, ``--no-deps`` (torch's own dependencies do
not choose the pair; torchaudio's requirement on torch is checked from the report) and
``--use-feature=fast-deps``: pip 25.3 and later read a wheel's metadata with HTTP range requests
(or from the index's metadata files) and download no wheel, so each question takes seconds, not
gigabytes. A machine-wide pip constraint file is set aside: the question is what the registry
offers a user. Marked `full` (CI runs it); skipped when the registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from kws import compat

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.full
ROOT = Path(__file__).resolve().parents[1]
NETWORK_ERRORS = (
    "NewConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ConnectionError",
    "ProxyError",
    "timed out",
)
SUPPORTED_PYTHONS = ("3.10", "3.13")  # Gradescope's Ubuntu 22.04 image; Colab
NO_DOWNLOAD_PIP = Version("25.3")  # the first pip whose --dry-run downloads no wheel


class Unreachable(Exception):
    """pip could not reach the registry."""


def _pip(args: list[str], folder: Path) -> subprocess.CompletedProcess:
    empty = folder / "no-constraints.txt"
    empty.write_text("")
    env = os.environ | {"PIP_CONSTRAINT": str(empty), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pip", *args], env=env, capture_output=True, text=True, timeout=600
    )
    if run.returncode != 0 and any(word in run.stderr for word in NETWORK_ERRORS):
        raise Unreachable(run.stderr.strip().splitlines()[-1])
    return run


def _resolve(
    requirements: tuple[str, ...], folder: Path, python: str | None = None
) -> tuple[str, str] | str:
    """(torch, torchaudio) as pip would install them for `requirements` (on `python`, a version
    such as "3.10": its wheels; None: this interpreter), or pip's error."""
    report = folder / f"report-{abs(hash((requirements, python)))}.json"
    args = ["install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed"]
    if python is not None:
        args += ["--python-version", python, "--only-binary=:all:"]
    args += ["--use-feature=fast-deps", "--report", str(report), *requirements]
    run = _pip(args, folder)
    if run.returncode != 0:
        return next((line for line in run.stderr.splitlines() if "ERROR" in line), run.stderr)
    chosen = {
        item["metadata"]["name"].lower(): item["metadata"]
        for item in json.loads(report.read_text())["install"]
    }
    torch, audio = chosen["torch"]["version"], chosen["torchaudio"]["version"]
    for needed in map(Requirement, chosen["torchaudio"].get("requires_dist", [])):
        if needed.name == "torch" and not needed.specifier.contains(torch, prereleases=True):
            return (
                f"torchaudio {audio} requires {needed}, not torch {torch}: pip would choose again"
            )
    return torch, audio


def _kit_requirements() -> tuple[str, str]:
    """pyproject.toml's torch and torchaudio requirements, as written there."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {Requirement(line).name: line for line in dependencies}
    return wanted["torch"], wanted["torchaudio"]


def _torch_releases_in_range(folder: Path) -> list[str]:
    """The torch releases the registry offers within the kit's range: its CUDA builds (a local
    build such as ``2.13.0+cpu`` on a find-links folder pairs with the CPU torchaudio of torch's
    own CPU index, which the registry lacks; test_compat.py covers its message)."""
    run = _pip(["index", "versions", "torch"], folder)
    assert run.returncode == 0, run.stderr
    line = next(line for line in run.stdout.splitlines() if line.startswith("Available versions:"))
    versions = [text.strip() for text in line.split(":", 1)[1].split(",")]
    in_range = SpecifierSet(compat.TORCH_RANGE)
    return [v for v in versions if "+" not in v and in_range.contains(v)]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory) -> dict[str, tuple[tuple[str, ...], tuple[str, str] | str]]:
    """Each pairing the kit installs or advises: its name -> (requirements, what pip chooses)."""
    if Version(metadata.version("pip")) < NO_DOWNLOAD_PIP:
        pytest.skip(
            f"pip {metadata.version('pip')} downloads every wheel in a dry run (gigabytes of "
            f"torch); pip {NO_DOWNLOAD_PIP} does not: pip install -U pip (the dev extra does)"
        )
    folder = tmp_path_factory.mktemp("pip")
    torch_spec, audio_spec = _kit_requirements()
    try:
        releases = _torch_releases_in_range(folder)
    except Unreachable as error:
        pytest.skip(f"the package registry cannot be reached ({error}): nothing to ask pip")
    asked: dict[str, tuple[tuple[str, ...], str | None]] = {
        "pip install -e . (a fresh environment)": ((torch_spec, audio_spec), None)
    }
    for python in SUPPORTED_PYTHONS:
        asked[f"pip install -e . (a fresh environment, Python {python})"] = (
            (torch_spec, audio_spec),
            python,
        )
    for release in releases:
        asked[f"pip install -e . with torch {release} installed"] = (
            (f"torch==={release}", audio_spec),
            None,
        )
    for end in compat.ENDS:
        asked[f".ci/run's end {' '.join(end.requirements())}"] = (end.requirements(), None)
    for torch in sorted({pair.torch for pair in compat.PAIRS if "+" not in pair.torch}):
        advice = compat.advice(torch)
        kept = () if any(r.startswith("torch==") for r in advice) else (f"torch==={torch}",)
        asked[f"the fix message's advice with torch {torch}: pip install {' '.join(advice)}"] = (
            kept + advice,  # the installed torch, where the advice keeps it
            None,
        )
    questions = set(asked.values())  # the same question asked once (the advice is often an end)
    with ThreadPoolExecutor(max_workers=6) as pool:  # network-bound: each waits on the index
        futures = {
            (requirements, python): pool.submit(_resolve, requirements, folder, python)
            for requirements, python in questions
        }
        try:
            answers = {question: future.result() for question, future in futures.items()}
        except Unreachable as error:
            pytest.skip(f"the package registry cannot be reached ({error}): nothing to ask pip")
    return {name: (question[0], answers[question]) for name, question in asked.items()}


def _not_loading(resolved: dict, which: str) -> list[str]:
    """The pairings whose name starts with `which` that pip would install and do not load."""
    wrong = []
    for name, (requirements, chosen) in resolved.items():
        if not name.startswith(which):
            continue
        if isinstance(chosen, str):
            wrong.append(f"{name}: pip cannot install {' '.join(requirements)}: {chosen}")
            continue
        pair = compat.measured(*chosen)
        if pair is None:
            wrong.append(
                f"{name}: pip would install torch {chosen[0]} + torchaudio {chosen[1]}, a pair "
                "not measured (python benchmarks/torch_pairs.py --torch "
                f"{chosen[0]} --torchaudio {chosen[1]}, then add it to kws.compat.PAIRS)"
            )
        elif not pair.loads:
            wrong.append(
                f"{name}: pip would install torch {chosen[0]} + torchaudio {chosen[1]}, which "
                f"does not load ({pair.error})"
            )
    return wrong


def test_a_fresh_install_gets_a_pair_that_loads(resolved):
    wrong = _not_loading(resolved, "pip install -e . (a fresh")
    assert not wrong, "\n".join(wrong)


def test_an_installed_torch_of_the_range_keeps_a_pair_that_loads(resolved):
    assert any(name.endswith("installed") for name in resolved)
    wrong = _not_loading(resolved, "pip install -e . with torch")
    assert not wrong, "\n".join(wrong)


def test_both_ends_ci_installs_load(resolved):
    wrong = _not_loading(resolved, ".ci/run's end")
    assert not wrong, "\n".join(wrong)


def test_the_fix_message_advises_pairs_that_load(resolved):
    wrong = _not_loading(resolved, "the fix message's advice")
    assert not wrong, "\n".join(wrong)
