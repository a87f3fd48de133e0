"""The reference notebooks as ``kws demo`` runs them, for the benchmarks that run them again:
its settings for a notebook (`demo_settings`: the preset's budget, the seed, one torch thread)
and one notebook executed into a folder of its own and timed (`run_reference`).

``demo_budgets.py`` (its learning curves), ``bench_tiers.py`` (the tiers from seeds),
``bench_speaker_private.py`` (the references it resamples), ``bench_stored_teacher.py`` and
``profile_demo.py`` run them so.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from benchlib import ROOT, cpu_seconds


def demo_settings(data: Path, work: Path, notebook: str, preset: str, seed: int) -> dict:
    """The environment ``kws demo`` runs `notebook` with (``KWS_*``: its data, its outputs in
    `work`, the preset's budget, the seed), on one torch thread."""
    from kws.demo import run as demo

    return {**demo._notebook_env(data, work, notebook, preset, seed), **demo.ONE_THREAD}


def run_reference(notebook: str, data: Path, work: Path, preset: str, seed: int, env: dict) -> dict:
    """Run the solution `notebook` once into `work` with the preset's budget and `env` over it.

    Returns:
        its record: ``notebook``, ``seed``, ``settings`` (`env`), ``accuracy`` (the notebook's
        own summary file), ``cpu`` (the kernel's CPU seconds) and ``wall`` seconds.
    """
    from kws.demo import run as demo
    from kws.notebooks import execute_notebook

    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "solutions" / notebook, work / notebook)
    settings = {**demo_settings(data, work, notebook, preset, seed), **env}
    start, cpu = time.monotonic(), cpu_seconds(own=False)
    execute_notebook(work / notebook, env=settings, timeout=7200, save_to=work / notebook)
    spec = next(spec for spec in demo.SPECS if spec.notebook == notebook)
    summary = json.loads((work / "outputs" / f"{spec.name}_summary.json").read_text())
    return {
        "notebook": notebook,
        "seed": seed,
        "settings": env,
        "accuracy": summary,
        "cpu": round(cpu_seconds(own=False) - cpu, 1),
        "wall": round(time.monotonic() - start, 1),
    }
