"""`kws demo`: the kit's whole loop on synthetic data, in one command.

    synthetic datasets and their private test sets -> the reference solution notebooks, run in
    a small budget -> the grader on the submission they wrote -> a result table

Everything goes under one output folder::

    OUT/data/         the synthetic Speech Commands and HW4 features (hidden test labels apart),
                      and their private test sets (`kws private`, with the demo's fixed secret
                      OUT/demo.secret): the grader scores the models on those
    OUT/demo.secret   the demo's course secret (a course keeps a random one of its own)
    OUT/submission/   the executed solution notebooks and what they wrote (outputs/: checkpoints,
                      configs, predictions, curves, confusion matrices, attention maps)
    OUT/results.json  the grader's Gradescope report on that submission
    OUT/timings.json  wall and CPU seconds of each phase (the closing table's figures)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from kws import figures
from kws.spec import ASSIGNMENTS

ROOT = Path(__file__).resolve().parents[1]
# The notebooks and the settings of their reference runs per preset (passed to the notebooks'
# `parameters` cells through the environment) come from the specs, [budgets.<preset>] of
# kws/assignments/<name>/spec.toml; the reasons for each budget are written there.
SPECS = tuple(ASSIGNMENTS.values())
NOTEBOOKS = tuple(spec.notebook for spec in SPECS)
PRESETS = tuple(p for p in SPECS[0].budgets if all(p in spec.budgets for spec in SPECS))
# Three notebooks side by side on a small machine: one thread each for torch and the libraries
# under it. Single-threaded trainings side by side get more done than one after the other with
# two threads each (small batches scale poorly across threads).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _banner(text: str) -> None:
    print(f"\n{'=' * 8} {text} {'=' * max(0, 70 - len(text))}", flush=True)


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (notebook kernels, the grader)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class PhaseClock:
    """Wall and CPU seconds per phase of the demo, for the closing table: on a busy machine the
    wall time grows, the CPU time does not, so both are shown."""

    def __init__(self):
        self.phases: list[tuple[str, float, float]] = []

    @contextmanager
    def phase(self, name: str):
        wall, cpu = time.monotonic(), _cpu_seconds()
        try:
            yield
        finally:
            self.phases.append((name, time.monotonic() - wall, _cpu_seconds() - cpu))

    def as_dict(self) -> dict[str, dict[str, float]]:
        """The phases as ``{name: {"wall": seconds, "cpu": seconds}}``, rounded to 0.1 s."""
        return {
            name: {"wall": round(wall, 1), "cpu": round(cpu, 1)} for name, wall, cpu in self.phases
        }

    def table(self) -> str:
        width = max(len(name) for name, _, _ in self.phases)
        lines = [
            f"  {name:<{width}}  {wall:6.0f} s wall  {cpu:6.0f} CPU-s"
            for name, wall, cpu in self.phases
        ]
        total_wall = sum(wall for _, wall, _ in self.phases)
        total_cpu = sum(cpu for _, _, cpu in self.phases)
        lines.append(f"  {'total':<{width}}  {total_wall:6.0f} s wall  {total_cpu:6.0f} CPU-s")
        return "\n".join(lines)


def demo_secret(folder: Path, seed: int) -> Path:
    """The demo's course secret, in `folder`/../demo.secret: fixed by `seed`, so that the demo
    grades on the same private test sets every run (a course writes a random one)."""
    path = folder.parent / "demo.secret"
    if not path.is_file():
        path.write_text(f"kws-demo-secret-seed-{seed}\n")
    return path


def _make_speaker_features(folder: Path, preset: str, seed: int) -> None:
    """The synthetic HW4 features and their private test set: utterances of every speaker held
    back (`kws private`), from what the notebook then trains on (``speaker_features_students``)."""
    from kws.data.speaker_private import make_speaker_private, private_speaker_folder
    from kws.data.synthetic import make_speaker_features

    if not (folder / "speaker_features_hidden").is_dir():
        make_speaker_features(folder, preset, seed=seed)
    if private_speaker_folder(folder / "speaker_features") is None:
        held = make_speaker_private(folder, demo_secret(folder, seed))
        print(f"  private test set: {held.held_back} utterances held back into "
              f"{held.private.resolve()}; notebook 02 trains on {held.students.resolve()}, what "
              "students get", flush=True)  # fmt: skip


def _make_speech_commands(folder: Path, preset: str, seed: int) -> None:
    """The synthetic Speech Commands and its private test set: the secret variant of the
    12-class test clips (`kws private`)."""
    from kws.data.private_variant import make_private_test
    from kws.data.synthetic import make_speech_commands
    from kws.grading.testsets.layouts.speech_commands import private_folder

    test_set = folder / "speech_commands_test_set_v0.02"
    if not test_set.is_dir():
        make_speech_commands(folder, preset, seed=seed)
    if private_folder(test_set) is None:
        private, clips = make_private_test(folder, demo_secret(folder, seed), test_set.name)
        print(f"  private test set: the secret variant of {clips} test clips in "
              f"{private.resolve()}", flush=True)  # fmt: skip


# Each dataset layout's synthetic maker, the quick one first: the HW4 features take seconds, the
# speech clips about a minute, so notebook 02 starts while the clips are made.
MAKERS = {"hw4": _make_speaker_features, "speech_commands": _make_speech_commands}


def make_data(folder: Path, preset: str, seed: int) -> None:
    """The synthetic datasets of `preset` in `folder` and their private test sets, unless they
    are already there."""
    for make in MAKERS.values():
        make(folder, preset, seed)


def _notebook_env(data: Path, submission: Path, name: str, preset: str, seed: int) -> dict:
    """The environment a notebook's `parameters` cell reads its settings from: where its data
    and outputs are, and its spec's reference budget for `preset`. A setting of the budget that
    is set in the caller's environment keeps that value, as when the notebook runs by hand."""
    from kws.data.speaker_private import students_folder

    spec = next(spec for spec in SPECS if spec.notebook == name)
    budget = spec.budget(preset)
    return {
        # the notebook's DATA_DIR: what students get (without held-back utterances)
        "KWS_DATA_DIR": str(students_folder(data / spec.data["folder"]).resolve()),
        "KWS_OUT_DIR": str((submission / "outputs").resolve()),
        "KWS_SEED": str(seed),
        "MPLBACKEND": "Agg",
        **budget,
        **{key: os.environ[key] for key in budget if key in os.environ},
    }


def _yours(preset: str) -> str:
    """The preset's settings the caller's environment replaces, as a line ("" when none)."""
    keys = sorted({key for spec in SPECS for key in spec.budget(preset) if key in os.environ})
    if not keys:
        return ""
    return "  from your environment, over the preset's: " + " ".join(
        f"{key}={os.environ[key]}" for key in keys
    )


class StatusLine:
    """The last line each running notebook printed (a progress bar's latest state), shown every
    `every` seconds while notebooks run side by side and their own output would interleave."""

    def __init__(self, names: list[str], every: float = 20.0):
        self.last = dict.fromkeys(names, "starting")
        self.every, self.started = every, time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def update(self, name: str, text: str) -> None:
        lines = [part.strip() for part in text.replace("\r", "\n").split("\n") if part.strip()]
        if lines:
            self.last[name] = lines[-1]

    def line(self) -> str:
        parts = [f"{name.split('_')[0]}: {text[:70]}" for name, text in self.last.items()]
        return f"  [{time.monotonic() - self.started:5.0f} s] " + " | ".join(parts)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            print(self.line(), flush=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _copy_notebooks(submission: Path, preset: str) -> None:
    """The solution notebooks into `submission`, to run there as a student would."""
    submission.mkdir(parents=True, exist_ok=True)
    exported = _yours(preset)
    if exported:
        print(exported, flush=True)
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "solutions" / name, submission / name)


def run_in_turn(submission: Path, data: Path, preset: str, seed: int, clock: PhaseClock) -> None:
    """Copy the solution notebooks into `submission` and run them there one after the other,
    their output echoed as it comes (`kws demo --one-at-a-time`)."""
    from kws.notebooks import execute_notebook

    _copy_notebooks(submission, preset)
    for name in NOTEBOOKS:
        _banner(f"running solutions/{name}")
        with clock.phase(f"notebook {name}"):
            execute_notebook(
                submission / name,
                env=_notebook_env(data, submission, name, preset, seed),
                timeout=7200,
                save_to=submission / name,
                echo=True,
            )


def _run_one(name: str, submission: Path, data: Path, preset: str, seed: int, status) -> None:
    """Run one copied notebook with one torch thread, its output summarised in `status`."""
    from kws.notebooks import execute_notebook

    start = time.monotonic()
    execute_notebook(
        submission / name,
        env={**_notebook_env(data, submission, name, preset, seed), **ONE_THREAD},
        timeout=7200,
        save_to=submission / name,
        on_output=lambda text: status.update(name, text),
    )
    print(f"  {name} finished in {time.monotonic() - start:.0f} s", flush=True)


def make_data_and_run(submission: Path, data: Path, preset: str, seed: int, clock: PhaseClock):
    """The data and the notebooks at once: each notebook starts as soon as its dataset is made
    (notebook 02 while the speech clips are synthesised), one torch thread each, and every
    notebook runs side by side; their progress is summarised in a status line."""
    from concurrent.futures import ThreadPoolExecutor

    _copy_notebooks(submission, preset)
    runs = []
    with StatusLine(list(NOTEBOOKS)) as status, ThreadPoolExecutor(len(NOTEBOOKS)) as pool:
        with clock.phase("synthetic data"):
            for layout, make in MAKERS.items():
                make(data, preset, seed)
                for spec in SPECS:
                    if spec.data["layout"] == layout:
                        runs.append(
                            pool.submit(
                                _run_one, spec.notebook, submission, data, preset, seed, status
                            )
                        )
        _banner(f"running {', '.join(NOTEBOOKS)} side by side (one torch thread each)")
        with clock.phase("the notebooks, side by side"):
            for future in runs:
                future.result()  # a failed cell raises here, naming the notebook's error


def grade_submission(submission: Path, data: Path, results: Path) -> int:
    """Run the hidden grader on the submission; its score table is printed as it runs."""
    from kws.grading.command import grader_command, grader_environment

    try:
        command = grader_command(submission, data, results)  # absolute: the caller's paths
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{error}; or pass --no-grade") from None
    return subprocess.run(command, cwd=ROOT, env=grader_environment()).returncode


def result_table(submission: Path, results: Path | None) -> str:
    """Accuracies the notebooks reported (each one's ``outputs/<assignment>_summary.json``), and
    the grader's score, as a small text table."""
    rows = []
    outputs = submission / "outputs"
    for summary in (f"{spec.name}_summary.json" for spec in SPECS):
        if (outputs / summary).is_file():
            for name, value in json.loads((outputs / summary).read_text()).items():
                rows.append((name, f"{value:.4f}"))
    if results is not None and results.is_file():
        report = json.loads(results.read_text())
        total = sum(test.get("max_score", 0) for test in report.get("tests", []))
        rows.append(("grader score", f"{report.get('score', 0):g} / {total:g}"))
    width = max((len(name) for name, _ in rows), default=10)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def real_speech_table(path: Path | None = None) -> str:
    """The reference models' accuracy on real speech, as the kit's figures file records it
    (``kws/figures.json``, written by the repository's ``benchmarks/bench_real_speech.py``; the
    demo itself trains on synthetic data only), or "" without such figures.

    Each row shows its mean and spread over the speaker folds it ran, and its CPU seconds a fold.
    ``path``: another figures file (the tests' own)."""
    rows = figures.load(path).get("real_speech", {}).get("rows", {})
    if not rows:
        return ""
    width = max(len(name) for name in rows)
    lines = ["Measured on real Speech Commands clips of unseen speakers (kws/figures.json):"]
    for name, row in rows.items():
        lines.append(
            f"  {name:<{width}}  {row['mean']:.2%} ± {row['sd']:.2%} over {row['k']} of "
            f"{row['total_folds']} speaker folds ({row['cpu_seconds_mean']:.0f} CPU-s a fold)"
        )
    return "\n".join(lines)


def run_demo(
    out: str | Path = "kws-demo",
    preset: str = "small",
    seed: int = 0,
    grade: bool = True,
    parallel: bool = True,
) -> int:
    """Run the demo into `out`; returns the exit code (the grader's when it ran)."""
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r}; use one of {', '.join(PRESETS)}")
    out, clock = Path(out), PhaseClock()
    data, submission, results = out / "data", out / "submission", out / "results.json"
    _banner(f"synthetic data ({preset}) in {data}")
    if parallel:
        make_data_and_run(submission, data, preset, seed, clock)
    else:
        with clock.phase("synthetic data"):
            make_data(data, preset, seed)
        run_in_turn(submission, data, preset, seed, clock)
    code = 0
    if grade:
        _banner("grading the reference submission")
        with clock.phase("grading"):
            code = grade_submission(submission, data, results)
    _banner("done")
    (out / "timings.json").write_text(json.dumps(clock.as_dict(), indent=1))
    print(clock.table())
    print(result_table(submission, results if grade else None))
    print("(the accuracies above are on the synthetic data the demo trains on)")
    real = real_speech_table()
    if real:
        print(f"\n{real}")
    print(
        f"\nEverything is in {out.resolve()}: curves, confusion matrices and attention maps "
        f"under {submission / 'outputs'}"
    )
    return code
