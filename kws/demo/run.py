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
    OUT/results/      each notebook's Gradescope report, written when it was graded
    OUT/results.json  the grader's Gradescope report on the whole submission (the three merged)
    OUT/timings.json  wall and CPU seconds of each phase (the closing table's figures), and when
                      each notebook ended and was graded (seconds since the demo started)
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import unicodedata
from pathlib import Path

from kws import figures, i18n
from kws.demo.grading import grade_notebook, merge_results
from kws.demo.progress import PhaseClock, StatusLine, Timeline
from kws.i18n import gettext as _
from kws.spec import ASSIGNMENTS, course

ROOT = Path(__file__).resolve().parents[2]
# The notebooks and the settings of their reference runs per preset (passed to the notebooks'
# `parameters` cells through the environment) come from the specs, [budgets.<preset>] of
# kws/assignments/<name>/spec.toml; the reasons for each budget are written there.
SPECS = tuple(ASSIGNMENTS.values())
NOTEBOOKS = tuple(spec.notebook for spec in SPECS)
PRESETS = tuple(p for p in SPECS[0].budgets if all(p in spec.budgets for spec in SPECS))
# Three notebooks side by side on a small machine: one thread each for torch and the libraries
# under it to start with. Single-threaded trainings side by side get more done than one after the
# other with two threads each (small batches scale poorly across threads); a notebook left alone
# is given the free cores (kws.demo.cores).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _banner(text: str) -> None:
    print(f"\n{'=' * 8} {text} {'=' * max(0, 70 - len(text))}", flush=True)


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
        names = ", ".join(spec.notebook for spec in SPECS if spec.data.get("layout") == "hw4")
        print(f"  private test set: {held.held_back} utterances held back into "
              f"{held.private.resolve()}; {names or 'a notebook'} trains on "
              f"{held.students.resolve()}, what students get", flush=True)  # fmt: skip


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


def makers() -> dict:
    """`MAKERS` of the layouts the course's notebooks read (`SPECS`: the course's, ``KWS_COURSE``,
    default the kit's)."""
    return {
        layout: make for layout, make in MAKERS.items() if any(s.layout == layout for s in SPECS)
    }


def make_data(folder: Path, preset: str, seed: int) -> None:
    """The synthetic datasets of `preset` in `folder` and their private test sets, unless they
    are already there."""
    for make in makers().values():
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
        "KWS_DATA_DIR": str(students_folder(data / spec.data.get("folder", "")).resolve()),
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


def _copy_notebooks(submission: Path, preset: str) -> None:
    """The solution notebooks into `submission`, to run there as a student would."""
    submission.mkdir(parents=True, exist_ok=True)
    exported = _yours(preset)
    if exported:
        print(exported, flush=True)
    for name in NOTEBOOKS:  # the course's solution notebooks (KWS_COURSE; the kit's without)
        shutil.copy(course().solutions / name, submission / name)


class Runner:
    """Runs one notebook of the submission and, when asked, grades it the moment it ends,
    printing its score; what `make_data_and_run` and `run_in_turn` share."""

    def __init__(self, submission: Path, data: Path, preset: str, seed: int, grade_into,
                 language: str = i18n.ENGLISH):  # fmt: skip
        self.submission, self.data, self.preset, self.seed = submission, data, preset, seed
        self.grade_into = grade_into  # the folder of each notebook's results, None: no grading
        self.language = language  # what the graders write for students (`kws.i18n`)
        self.timeline, self.codes = Timeline(), {}
        self._print = threading.Lock()

    def say(self, text: str) -> None:
        with self._print:  # a block of lines from one notebook's thread stays together
            print(text, flush=True)

    def run(self, name: str, **execute) -> None:
        """Execute notebook `name` in place (`execute`: more `execute_notebook` arguments),
        then grade it."""
        from kws.notebooks import execute_notebook

        env = _notebook_env(self.data, self.submission, name, self.preset, self.seed)
        execute_notebook(
            self.submission / name,
            env={**env, **execute.pop("env", {})},
            timeout=7200,
            save_to=self.submission / name,
            **execute,
        )
        self.say(f"  {name} finished in {self.timeline.mark(name, 'finished'):.0f} s")

    def grade(self, name: str) -> None:
        if self.grade_into is None:
            return
        code, table = grade_notebook(self.submission, self.data, self.grade_into, name,
                                     language=self.language)  # fmt: skip
        at = self.timeline.mark(name, "graded")
        self.codes[name] = code
        self.say(f"\n{table.rstrip()}\n  {name} graded at {at:.0f} s")


def run_in_turn(runner: Runner, preset: str, clock: PhaseClock) -> None:
    """Copy the solution notebooks into the submission and run them there one after the other,
    their output echoed as it comes, each graded as it ends (`kws demo --one-at-a-time`)."""
    _copy_notebooks(runner.submission, preset)
    for name in NOTEBOOKS:
        _banner(f"running solutions/{name}")
        with clock.phase(f"notebook {name}"):
            runner.run(name, echo=True)
            runner.grade(name)


def make_data_and_run(runner: Runner, preset: str, clock: PhaseClock) -> None:
    """The data and the notebooks at once: each notebook starts as soon as its dataset is made
    (notebook 02 while the speech clips are synthesised) and is graded the moment it ends, its
    score printed then; their progress is summarised in a status line.

    Why side by side and not two at a time: the operating system shares the cores among the
    three one-thread kernels and never leaves one idle while two or more run, whatever each
    notebook costs; a queue of two lanes idles a core as soon as its lane runs dry. What remains
    is the end, where one notebook runs alone: `CoreShares` then gives it the cores the others
    left (its torch threads raised from within its kernel), so no core idles while work remains;
    never more threads than the demo's own ``OMP_NUM_THREADS`` asks for, when that is set.
    """
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from kws.demo.cores import CoreShares, kernel_startup, own_threads

    _copy_notebooks(runner.submission, preset)

    def run_and_grade(name: str, shares: CoreShares, status: StatusLine) -> None:
        threads = shares.start(name)
        try:
            runner.run(
                name,
                env=ONE_THREAD,  # the files raise it once notebooks have ended
                on_output=lambda text: status.update(name, text),
                kernel_startup=kernel_startup(threads),
            )
        finally:
            shares.end(name)
        runner.grade(name)  # a few CPU-seconds, beside the trainings still running

    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="kws-demo-threads-") as folder,
        StatusLine(list(NOTEBOOKS)) as status,
        ThreadPoolExecutor(len(NOTEBOOKS)) as pool,  # shut down first: no file is left in use
    ):
        shares = CoreShares(Path(folder), most=own_threads())
        with clock.phase("synthetic data"):
            for layout, make in makers().items():
                make(runner.data, preset, runner.seed)
                for spec in SPECS:
                    if spec.data["layout"] == layout:
                        runs.append(pool.submit(run_and_grade, spec.notebook, shares, status))
        _banner(f"running {', '.join(NOTEBOOKS)} side by side, each graded as it ends")
        with clock.phase("the notebooks, side by side, and their grading"):
            for future in runs:
                future.result()  # a failed cell raises here, naming the notebook's error


def result_table(submission: Path, results: Path | None) -> str:
    """Accuracies the notebooks reported (each one's ``outputs/<assignment>_summary.json``), and
    the grader's score, as a small text table in the active language (`kws.i18n`), with the
    line that says what the accuracies were measured on."""
    rows = []
    outputs = submission / "outputs"
    for summary in (f"{spec.name}_summary.json" for spec in SPECS):
        if (outputs / summary).is_file():
            for name, value in json.loads((outputs / summary).read_text()).items():
                rows.append((name, f"{value:.4f}"))
    if results is not None and results.is_file():
        report = json.loads(results.read_text())
        total = sum(test.get("max_score", 0) for test in report.get("tests", []))
        rows.append((_("grader score"), f"{report.get('score', 0):g} / {total:g}"))
    width = max((_columns(name) for name, _value in rows), default=10)
    lines = [f"  {name}{' ' * (width - _columns(name))}  {value}" for name, value in rows]
    return "\n".join(
        [*lines, _("(the accuracies above are on the synthetic data the demo trains on)")]
    )


def _columns(text: str) -> int:
    """How many columns of a terminal `text` takes: a Chinese character two, so that the table's
    values line up in every language."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


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
    language: str | None = None,
) -> int:
    """Run the demo into `out`; returns the exit code (the graders' first non-zero one, if any).
    The score tables speak `language` (a tag the kit has a catalog for; None: ``KWS_LANGUAGE``'s,
    else English): the graders' and the closing one's lines a student would read. ValueError
    naming the tags the kit has when it has no catalog for `language`."""
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r}; use one of {', '.join(PRESETS)}")
    spoken = i18n.resolved(language)  # before any work: a tag the kit has no catalog for
    out, clock = Path(out), PhaseClock()
    data, submission, results = out / "data", out / "submission", out / "results.json"
    parts = out / "results"
    runner = Runner(submission, data, preset, seed, parts if grade else None, spoken)
    _banner(f"synthetic data ({preset}) in {data}")
    if parallel:
        make_data_and_run(runner, preset, clock)
    else:
        with clock.phase("synthetic data"):
            make_data(data, preset, seed)
        run_in_turn(runner, preset, clock)
    if grade:
        merge_results([parts / f"{spec.name}.json" for spec in SPECS], results)
    _banner("done")
    timings = {
        "phases": clock.as_dict(),
        "notebooks": runner.timeline.events,
        "first_graded": runner.timeline.first_graded(),
    }
    (out / "timings.json").write_text(json.dumps(timings, indent=1))
    print(clock.table())
    with i18n.speaking(spoken):
        print(result_table(submission, results if grade else None))
    real = real_speech_table()
    if real:
        print(f"\n{real}")
    print(
        f"\nEverything is in {out.resolve()}: curves, confusion matrices and attention maps "
        f"under {submission / 'outputs'}"
    )
    return next((code for code in runner.codes.values() if code), 0)
