"""Which torch / torchaudio pairs load and run the kit's torchaudio parts: each pair installed from
the registry into a fresh venv, then probed.

    python benchmarks/torch_pairs.py                      # every pair below, one at a time
    python benchmarks/torch_pairs.py --torch 2.11.0 --torchaudio 2.11.1

For each torch version a venv is made under a temporary folder; for each torchaudio version
``pip install torch==X torchaudio==Y`` runs in it (the registry's wheels: CUDA builds, gigabytes
each, so the installs run one after another and each venv is deleted once its pairs are probed),
then the probe runs in the venv's Python: ``import torchaudio``; a MelSpectrogram and an
AmplitudeToDB on a one-second wave (the kit's features); a small ``torchaudio.models.Conformer``
forward (the kit's reference Conformer), all on the CPU. A pair is recorded as ``loads`` (every
step ran), ``fails`` (with the step, the error's first line and that of the error it wraps, the
dynamic loader's) or ``does not install`` (pip's first error line).

A version is pinned exactly (``torch===2.13.0``: not the ``2.13.0+cpu`` a find-links folder may
offer, which ``==2.13.0`` would prefer); give the local version (``2.13.0+cpu``) to measure that
build. A machine-wide pip constraint (``pip config``'s ``global.constraint``) is set aside for these
installs, so that the pairs measured are the ones the registry offers to a user; the index
settings are kept. The records go to ``--out`` (JSON, rewritten after each pair, so that an
interrupted run keeps what it measured; a pair measured before is replaced, the others kept). ``kws/compat.py``'s table is copied from this record.

Benchmark code, not the kit's: it imports no module of ``kws``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from benchlib import BENCHMARKS

TORCH = ["2.11.0", "2.12.1", "2.13.0", "2.14.1", "2.15.0"]
TORCHAUDIO = ["2.11.0", "2.11.1"]
OUT = BENCHMARKS / "results" / "torch_pairs.json"
INSTALL_TIMEOUT = 3600  # seconds: gigabytes of wheels over the network

# Run in the pair's venv; prints one JSON line: the installed versions and the first step that
# failed (None when every step ran), with the error's first line.
PROBE = r"""
import json, traceback
from importlib import metadata
result = {"installed": {}, "stage": None, "error": None}
for name in ("torch", "torchaudio"):
    try:
        result["installed"][name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        result["installed"][name] = None
stage = "import torchaudio"
try:
    import torch
    import torchaudio
    stage = "MelSpectrogram + AmplitudeToDB"
    wave = torch.randn(1, 16000)  # (channels, samples): one second at 16 kHz
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=400, n_mels=40)(wave)
    db = torchaudio.transforms.AmplitudeToDB()(mel)  # (1, 40, frames)
    assert db.shape[:2] == (1, 40) and torch.isfinite(db).all(), db.shape
    stage = "Conformer forward"
    conformer = torchaudio.models.Conformer(
        input_dim=40, num_heads=2, ffn_dim=24, num_layers=2, depthwise_conv_kernel_size=5
    ).eval()
    frames = db.transpose(1, 2).repeat(2, 1, 1)  # (B, T, 40)
    lengths = torch.tensor([frames.shape[1], frames.shape[1] - 7])
    with torch.no_grad():
        out, out_lengths = conformer(frames, lengths)
    assert out.shape == frames.shape and torch.isfinite(out).all(), out.shape
    stage = None
except BaseException as error:
    def first_line(error):
        text = str(error).strip()
        return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
    result["error"] = first_line(error)
    while error.__cause__ or error.__context__:  # torch wraps the loader's error in its own
        error = error.__cause__ or error.__context__
        result["cause"] = first_line(error)
result["stage"] = stage
print(json.dumps(result))
"""


def first_error_line(output: str) -> str:
    """pip's first ``ERROR:`` line, or its last line when it printed none."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["(no output)"])[0]


def pip_env(folder: Path) -> dict[str, str]:
    """The environment for pip: the machine's constraint set aside (an empty constraint file)."""
    empty = folder / "no-constraints.txt"
    empty.write_text("")
    return os.environ | {"PIP_CONSTRAINT": str(empty), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def pin(package: str, version: str) -> str:
    """An exact requirement: ``===`` for a public version (no local build matches it)."""
    return f"{package}=={version}" if "+" in version else f"{package}==={version}"


def measure_pair(python: Path, torch: str, audio: str, env: dict[str, str]) -> dict:
    """Install ``torch==torch torchaudio==audio`` with `python`'s pip, then probe it.

    Args:
        python: the venv's interpreter.
        torch, audio: exact versions, as on the registry.
        env: the environment pip runs in.

    Returns:
        The pair's record: versions asked and installed, ``result``, and the failing ``stage``
        and ``error`` (None when it loads), the install's seconds.
    """
    record = {"torch": torch, "torchaudio": audio}
    start = time.monotonic()
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", pin("torch", torch), pin("torchaudio", audio)],
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    record["install_s"] = round(time.monotonic() - start, 1)
    if install.returncode != 0:
        error = first_error_line(install.stderr + install.stdout)
        return record | {"result": "does not install", "stage": "pip install", "error": error}
    probe = subprocess.run(
        [python, "-c", PROBE], capture_output=True, text=True, timeout=600, env=env
    )
    try:
        found = json.loads(probe.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):  # the interpreter itself died (a signal)
        found = {"installed": {}, "stage": "probe", "error": first_error_line(probe.stderr)}
    result = "loads" if found["stage"] is None else "fails"
    return record | found | {"result": result}


def measure(torch_versions: list[str], audio_versions: list[str], out: Path) -> list[dict]:
    """Every pair, one venv per torch version, the records written to `out` after each pair."""
    records: list[dict] = []
    if out.is_file():  # earlier pairs are kept, a pair measured again replaces its record
        asked = {(torch, audio) for torch in torch_versions for audio in audio_versions}
        earlier = json.loads(out.read_text())["pairs"]
        records = [r for r in earlier if (r["torch"], r["torchaudio"]) not in asked]
    document = {
        "measured_on": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "command": "pip install torch==X torchaudio==Y (the registry's wheels), then the probe",
        "probe": "import torchaudio; MelSpectrogram + AmplitudeToDB on 1 s; Conformer forward",
        "pairs": records,
    }
    for torch in torch_versions:
        folder = Path(tempfile.mkdtemp(prefix=f"torch-{torch}-"))
        try:
            venv.create(folder / "venv", with_pip=True)
            python = folder / "venv" / "bin" / "python"
            env = pip_env(folder)
            for audio in audio_versions:
                record = measure_pair(python, torch, audio, env)
                records.append(record)
                out.write_text(json.dumps(document, indent=1) + "\n")
                print(json.dumps(record), flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return records


def main(argv: list[str] | None = None) -> int:
    """Measure the pairs asked for; print one JSON line per pair and a table at the end."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch", nargs="+", default=TORCH, help="torch versions (exact)")
    parser.add_argument("--torchaudio", nargs="+", default=TORCHAUDIO, help="torchaudio versions")
    parser.add_argument("--out", type=Path, default=OUT, help=f"the JSON record ({OUT.name})")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    print(
        f"{sys.executable} ({platform.python_version()}): {len(args.torch) * len(args.torchaudio)} pairs"
    )
    records = measure(args.torch, args.torchaudio, args.out)
    for record in records:
        installed = record.get("installed") or {}
        where = f" at {record['stage']}: {record['error']}" if record["result"] != "loads" else ""
        print(
            f"torch {record['torch']:8} torchaudio {record['torchaudio']:8} {record['result']}"
            f" ({installed.get('torch')}, {installed.get('torchaudio')}){where}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
