"""torch / torchaudio pairings: a pairing whose torchaudio does not load (torchaudio 2.11.1 with
torch 2.11: an undefined symbol; a CPU-only torch with the registry's CUDA torchaudio:
"libc10_cuda.so: cannot open shared object file") stops the kit with the installed versions, why,
and a command that installs a pair measured to load, not a loader traceback; the pins
pyproject.toml declares, CI's two ends and the fix message agree with the measured table
(kws.compat.PAIRS, copied from benchmarks/results/torch_pairs.json)."""

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from kws import compat
from kws.compat import TORCH_RANGE, TORCHAUDIO_RANGE
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
    command = " ".join(f'"{requirement}"' for requirement in compat.advice(torch_version))
    assert f"pip install {command}\n" in f"{text}\n" or "+cpu" in torch_version


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


def _in_pins(pair: compat.Pair) -> bool:
    return SpecifierSet(TORCH_RANGE).contains(pair.torch.split("+")[0]) and SpecifierSet(
        TORCHAUDIO_RANGE
    ).contains(pair.torchaudio)


def test_every_measured_pair_within_the_pins_loads():
    """pip may install any pair within the pins: each one measured there must load, and the
    measured pairs that do not load must all lie outside (the CPU-only build aside: it pairs with
    the CPU torchaudio of torch's own index, which the pins cannot tell from the CUDA one)."""
    inside = [pair for pair in compat.PAIRS if _in_pins(pair) and "+cpu" not in pair.torch]
    assert inside and all(pair.loads for pair in inside), [p for p in inside if not p.loads]
    broken = [pair for pair in compat.PAIRS if not pair.loads and "+cpu" not in pair.torch]
    assert broken and not any(_in_pins(pair) for pair in broken)


def test_the_ends_ci_installs_are_the_range_s_oldest_and_newest_measured_torch():
    in_range = [p.torch for p in compat.PAIRS if _in_pins(p) and "+" not in p.torch]
    assert compat.LOWEST.torch == min(in_range, key=Version)
    assert compat.NEWEST.torch == max(in_range, key=Version)
    for end in compat.ENDS:
        assert _in_pins(end) and compat.measured(end.torch, end.torchaudio).loads, end
    assert compat.other_end(compat.NEWEST.torch + "+cu130") == compat.LOWEST
    assert compat.other_end(compat.LOWEST.torch) == compat.NEWEST


def test_ci_installs_the_other_end_the_kit_names():
    run = _python(os.environ | {"PYTHONPATH": str(ROOT)}, "-m", "kws.compat", "--other-end")
    assert run.returncode == 0, run.stderr
    expected = compat.other_end(metadata.version("torch"))
    assert run.stdout.split() == list(expected.requirements())
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m kws.compat --other-end" in ci
    assert not re.search(r"torch(audio)?==\d", ci), "the ends come from kws.compat, not .ci/run"


def test_the_gradescope_image_the_docs_and_colab_take_the_pair_from_kws_compat():
    """kws.compat is the one source of the torch pair: the Gradescope image's setup.sh installs
    `CPU_PAIR` from `CPU_INDEX`, exactly (a range there took torchaudio 2.11.1 from that index,
    which does not load with torch 2.11), and no other torch requirement; the README and the
    torch-pairs page give the same command and the range pyproject.toml pins; the Colab
    set-up cell installs the kit alone, so pyproject's pins, and no torch of its own."""
    from kws.release.notebooks import SETUP_CODE

    assert _in_pins(compat.CPU_PAIR)
    assert compat.measured(compat.CPU_PAIR.torch, compat.CPU_PAIR.torchaudio).loads
    script = (ROOT / "kws/grading/publish/gradescope/scripts/setup.sh").read_text()
    assert compat.setup_script(script) == script  # as `kws gradescope` writes it in each zip
    pair = [f'"{requirement}"' for requirement in compat.CPU_PAIR.requirements()]
    assert re.findall(r'"torch(?:audio)?[=<>!~][^"]*"', script) == pair
    assert f"TORCH_PAIR=(--index-url {compat.CPU_INDEX} {' '.join(pair)})" in script
    command = f"pip install --index-url {compat.CPU_INDEX} {' '.join(pair)}"
    lowest, newest = (".".join(p.torch.split(".")[:2]) for p in (compat.LOWEST, compat.NEWEST))
    pins = f"torch {lowest} to {newest} with torchaudio {compat.CPU_PAIR.torchaudio}"
    for page in ("README.md", "docs/reference/torch-pairs.md", "docs/index.md"):
        text = " ".join((ROOT / page).read_text().split())
        assert command in text or page == "docs/index.md", page
        assert pins in text or page == "docs/reference/torch-pairs.md", page
    assert "%pip install" in SETUP_CODE and "torch" not in SETUP_CODE


def test_the_table_is_the_measured_record():
    """kws.compat.PAIRS is benchmarks/torch_pairs.py's record, pair for pair."""
    record = json.loads((ROOT / "benchmarks" / "results" / "torch_pairs.json").read_text())
    assert record["measured_on"] == compat.MEASURED_ON
    measured = {(r["torch"], r["torchaudio"]): r for r in record["pairs"]}
    assert {(pair.torch, pair.torchaudio) for pair in compat.PAIRS} == set(measured)
    for pair in compat.PAIRS:
        found = measured[pair.torch, pair.torchaudio]
        assert pair.loads == (found["result"] == "loads"), (pair, found)
        if not pair.loads:  # the table quotes the probe's words: torch's, or the loader's
            assert pair.error in f"{found['error']} {found.get('cause', '')}", (pair, found)


def test_an_undefined_symbol_names_the_broken_pair_and_a_pair_that_loads(monkeypatch):
    """torchaudio 2.11.1 with torch 2.11.0, as torch wraps the loader's error."""
    versions = {"torch": "2.11.0+cu130", "torchaudio": "2.11.1"}
    monkeypatch.setattr(compat, "_version", versions.get)
    loader = OSError(f"/venv/torchaudio/lib/{compat.UNDEFINED_SYMBOL}")
    try:
        raise OSError(
            "Could not load this library: /venv/torchaudio/lib/libtorchaudio.so"
        ) from loader
    except OSError as error:
        text = compat.pairing_message(error)
    assert "torchaudio 2.11.1 does not load with torch 2.11.0+cu130" in text
    assert "the pair torch 2.11.0 + torchaudio 2.11.1 does not load" in text
    assert "undefined symbol: torch_exception_get_what_without_backtrace" in text
    # torch 2.11.0 loads torchaudio 2.11.0: the advice keeps the installed torch (no download)
    assert text.endswith('pip install "torchaudio==2.11.0"'), text
    assert compat.measured("2.11.0", "2.11.0").loads


def test_a_torch_outside_the_range_is_advised_the_newest_end(monkeypatch):
    monkeypatch.setattr(compat, "_version", {"torch": "2.15.0", "torchaudio": "2.11.0"}.get)
    text = compat.pairing_message(RuntimeError(compat.CUDA_MISMATCH))
    torch_pin, audio_pin = compat.NEWEST.requirements()
    assert text.endswith(f'pip install "{torch_pin}" "{audio_pin}"'), text
    assert compat.NEWEST.loads and compat.measured(compat.NEWEST.torch, compat.NEWEST.torchaudio)


def test_the_fast_subset_names_existing_test_files():
    """.ci/run's second environment runs these; a renamed file must not silently drop out."""
    listed = [line for line in (ROOT / ".ci/fast-tests").read_text().splitlines() if line]
    files = [line for line in listed if not line.startswith("#")]
    assert "tests/test_compat.py" in files
    assert all((ROOT / name).is_file() for name in files), files
