"""``kws reference``: a course's reference run. Each solution notebook of the course runs at a
budget of its spec (``[budgets.<preset>]``) once per seed, and once more at a tenth of it; the
grader grades what each wrote, as it grades a student; the accuracy tiers come from the seeds the
way the kit's own are set (docs/reference/tiers.md, ``benchmarks/bench_tiers.py``):

- the threshold of a task's target tier is at most the lowest seed's accuracy less 0.02, and at
  most the seeds' mean less 2.33 standard deviations (a seed of the same budget falls below it
  about once in a hundred), rounded down to two decimals;
- the tiers below the target are shares of it, those above step towards the best seed;
- a tenth of the budget must stay below the threshold: full marks then still mean a model
  trained as the notebook asks.

With ``--write-tiers`` the tier set is written into the spec (``[tiers]``, under the name of the
dataset the grader recognises in ``--data``) and every seed's run is graded again against it:
the reference must get full marks at every seed. Everything goes under OUT::

    OUT/<assignment>/seed<k>/         the executed notebook, its outputs/, results/<name>.json
    OUT/<assignment>/seed<k>-tenth/   the same at a tenth of the budget
    OUT/reference.json                every run's accuracies and scores, and the tier sets

The notebooks run side by side (``--jobs``), one torch thread each, in fresh kernels
(`kws.notebooks.execute_notebook`), with the settings a notebook reads from the environment:
``KWS_DATA_DIR`` (what students get of ``--data``), ``KWS_OUT_DIR``, ``KWS_SEED`` and the
budget's ``KWS_*`` values.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kws.demo.calibrate import calibrate, shown, write_entry
from kws.demo.runs import Run
from kws.spec import TIER_ORDER, Spec

MARGIN = 0.02  # below the lowest seed
SPREAD = 2.33  # standard deviations below the seeds' mean (one seed in a hundred, were they normal)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def budget(spec: Spec, preset: str, tenth: bool) -> dict[str, str]:
    """The settings of `spec`'s ``[budgets.<preset>]``; with `tenth`, each ``*STEPS`` a tenth (at
    least 1)."""
    values = spec.budget(preset)
    if tenth:
        values |= {
            key: str(max(1, round(float(value) / 10)))
            for key, value in values.items()
            if key.endswith("STEPS")
        }
    return values


def run_notebook(run: Run, solutions: Path, data: Path, preset: str) -> None:
    """Execute `run`'s solution notebook in its folder, as a student runs it."""
    from kws.data.speaker_private import students_folder
    from kws.notebooks import execute_notebook

    run.folder.mkdir(parents=True, exist_ok=True)
    notebook = run.folder / run.spec.notebook
    shutil.copy(solutions / run.spec.notebook, notebook)
    env = {
        "KWS_DATA_DIR": str(students_folder(data / run.spec.data.get("folder", "")).resolve()),
        "KWS_OUT_DIR": str((run.folder / "outputs").resolve()),
        "KWS_SEED": str(run.seed),
        "MPLBACKEND": "Agg",
        **ONE_THREAD,
        **budget(run.spec, preset, run.tenth),
    }
    execute_notebook(notebook, env=env, timeout=7200, save_to=notebook)


def grade_run(run: Run, data: Path, tier_options: list[str]) -> None:
    """Grade `run`'s folder (the grader with ``--assignment``), and read its accuracies, score and
    the tests it lost into `run`."""
    from kws.demo.measure import accuracy_gaps
    from kws.grading.command import grader_command, grader_environment
    from kws.grading.judge.tiers import accuracy_in

    results = run.folder / "results" / f"{run.spec.name}.json"
    results.unlink(missing_ok=True)
    options = ["--assignment", run.spec.name, *tier_options]
    done = subprocess.run(
        grader_command(run.folder, data, results, options=options),
        env=grader_environment(),
        capture_output=True,
        text=True,
    )
    if not results.is_file():
        log = (done.stdout + done.stderr).strip().splitlines()[-8:]
        raise RuntimeError(f"grading {run.folder} wrote no results:\n" + "\n".join(log))
    document = json.loads(results.read_text())
    run.gaps = accuracy_gaps(document.get("output", ""))
    run.score = document["score"]
    run.max_score = sum(test.get("max_score", 0) for test in document["tests"])
    run.accuracies, run.lost, run.lost_checks = {}, [], []
    for test in document["tests"]:
        accuracy = accuracy_in(test.get("output", ""))
        task = (test.get("extra_data") or {}).get("task")
        if accuracy is not None and task:
            run.accuracies[task] = accuracy
        lost = test.get("score", 0) < test.get("max_score", 0)
        if lost:
            run.lost.append(test["name"])
        if lost and not (accuracy is not None and task):
            run.lost_checks.append(test["name"])


def _down(value: float) -> float:
    return max(0.0, math.floor(value * 100 + 1e-9) / 100)


def threshold(accuracies: list[float]) -> float:
    """The target tier's threshold from the seeds' `accuracies` (see the module)."""
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    return _down(min(min(accuracies) - MARGIN, statistics.fmean(accuracies) - SPREAD * spread))


def tier_set(targets: dict[str, float], best: float) -> dict[str, float]:
    """Four rising tiers from `targets` ({tier: threshold} of the tasks' target tiers, the lowest
    kept where two tasks share one): the tiers below the lowest target are shares of it, those
    between two targets step from one to the other, those above the highest step towards `best`
    (the best seed's accuracy)."""
    fixed = {tier: targets[tier] for tier in TIER_ORDER if tier in targets}
    for tier in reversed(TIER_ORDER[:-1]):  # a lower target above a higher one comes down to it
        above = [fixed[t] for t in TIER_ORDER[TIER_ORDER.index(tier) + 1 :] if t in fixed]
        if tier in fixed and above:
            fixed[tier] = min(fixed[tier], min(above))
    known = [TIER_ORDER.index(tier) for tier in fixed]
    low, high = min(known), max(known)
    tiers = {}
    for index, tier in enumerate(TIER_ORDER):
        if tier in fixed:
            tiers[tier] = fixed[tier]
        elif index < low:
            tiers[tier] = _down(fixed[TIER_ORDER[low]] * (index + 1) / (low + 1))
        elif index > high:
            top = max(best, fixed[TIER_ORDER[high]])
            step = (top - fixed[TIER_ORDER[high]]) * (index - high) / (len(TIER_ORDER) - 1 - high)
            tiers[tier] = _down(min(1.0, fixed[TIER_ORDER[high]] + step))
        else:
            before = max(i for i in known if i < index)
            after = min(i for i in known if i > index)
            share = (index - before) / (after - before)
            a, b = fixed[TIER_ORDER[before]], fixed[TIER_ORDER[after]]
            tiers[tier] = _down(a + (b - a) * share)
    return tiers


def write_tiers(spec: Spec, dataset: str, tiers: dict[str, float], note: str) -> str | None:
    """Set `dataset`'s tiers in `spec`'s ``[tiers]`` (its line replaced, or added at the end of
    the table; the table made where there is none), the rest of the file as it was; written
    whole. Returns the line replaced, for the caller to say (None when `dataset` had no tiers,
    or the same)."""
    values = ", ".join(f"{tier} = {tiers[tier]:g}" for tier in TIER_ORDER)
    replaced = write_entry(spec, "tiers", dataset, f"{{ {values} }}", note)
    same = replaced is not None and replaced.split("#")[0].strip() == f"{dataset} = {{ {values} }}"
    return None if same else replaced


def run_all(
    runs: list[Run],
    solutions: Path,
    data: Path,
    preset: str,
    tiers: dict,
    jobs: int,
    *,
    execute: bool = True,
) -> list[Run]:
    """Execute (unless not `execute`) and grade every run, `jobs` side by side; `tiers`: the
    grader's tier options per assignment."""

    def one(run: Run) -> Run:
        if execute:
            run_notebook(run, solutions, data, preset)
        grade_run(run, data, tiers[run.spec.name])
        print(f"  {run.spec.name} {run.name}: {_accuracies(run)}, {run.score:g} / "
              f"{run.max_score:g}", flush=True)  # fmt: skip
        return run

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(one, runs))


def _accuracies(run: Run) -> str:
    return (
        ", ".join(f"{task} {value:.4f}" for task, value in run.accuracies.items()) or "no accuracy"
    )


def _check_inputs(specs: list[Spec], solutions: Path, data: Path, preset: str) -> None:
    """Refuse, before anything runs, a data folder without an assignment's test set, a missing
    solution notebook, a preset without a budget."""
    from kws.grading.testsets.layouts import layout_of

    if not data.is_dir():
        raise FileNotFoundError(f"--data {data}: no such folder (the data the class is graded on)")
    for spec in specs:
        missing = layout_of(spec).missing(data)
        if missing:
            raise FileNotFoundError(f"--data {data}: {missing}")
        if not (solutions / spec.notebook).is_file():
            raise FileNotFoundError(
                f"{solutions / spec.notebook}: no solution notebook of {spec.name}; put it in the "
                "course's solutions/"
            )
        spec.budget(preset)  # SpecError naming the spec's budgets


def _dataset(spec: Spec, data: Path, dataset: str | None) -> str:
    from kws.grading.judge.tiers import detect_dataset

    name = dataset or detect_dataset(data, spec.name, spec)
    if name is None:
        raise ValueError(
            f"--data {data}: the grader does not recognise {spec.name}'s dataset, so its tier set "
            "needs a name: add --dataset NAME (the key its [tiers] entry gets)"
        )
    return name


def _summary(spec: Spec, runs: list[Run], dataset: str) -> tuple[dict[str, float], list[str]]:
    """The tier set the seeds give `spec` on `dataset`, and the lines that say how."""
    full = [run for run in runs if not run.tenth]
    tenth = [run for run in runs if run.tenth]
    targets, best, lines = {}, 0.0, []
    for name, task in spec.tasks.items():
        if not task.target:
            continue
        accuracies = [run.accuracies.get(name, 0.0) for run in full]  # no accuracy: a crash, 0
        value = threshold(accuracies)
        targets[task.target] = min(value, targets.get(task.target, 1.0))
        best = max([best, *accuracies])
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        small = ", ".join(f"{run.accuracies.get(name, 0.0):.4f}" for run in tenth)
        lines.append(
            f"  {name} (target {task.target}): {len(accuracies)} seed(s) "
            f"{' '.join(f'{a:.4f}' for a in accuracies)} (lowest {min(accuracies):.4f}, mean "
            f"{statistics.fmean(accuracies):.4f}, sd {spread:.4f}) -> {task.target} at {value:.2f}"
            + (f"; a tenth of the budget: {small}" if small else "")
        )
    tiers = tier_set(targets, best) if targets else {}
    if tiers:
        values = ", ".join(f"{tier} {tiers[tier]:g}" for tier in TIER_ORDER)
        lines.append(f"  tier set {dataset}: {values} (lowest seed - {MARGIN:g}, and mean - "
                     f"{SPREAD:g} sd, whichever is lower)")  # fmt: skip
    return tiers, lines


def reference(
    names: list[str],
    *,
    data: Path,
    out: Path,
    preset: str = "tiny",
    seeds: list[int] = (0, 1, 2),
    dataset: str | None = None,
    write: bool = False,
    jobs: int = 2,
) -> int:
    """Run, grade and set the tiers of the course's assignments `names` (default: every one of
    the course); see the module. Returns 0 when the reference gets full marks at every seed and a
    tenth of the budget does not, else 1."""
    from kws.spec import assignments, course

    taught, registry = course(), assignments()
    names = names or [n for n in registry if registry.folder(n).parent == taught.folder]
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: no such assignment in {taught.describe()}")
    specs = [registry[name] for name in names]
    data, out = Path(data), Path(out)
    _check_inputs(specs, taught.solutions, data, preset)
    datasets = {spec.name: _dataset(spec, data, dataset) for spec in specs}
    out.mkdir(parents=True, exist_ok=True)
    provisional = out / "provisional-tiers.json"  # the accuracy measured, no tier yet to meet
    provisional.write_text(json.dumps(dict.fromkeys(TIER_ORDER, 0.0)))
    options = {
        spec.name: ["--dataset", datasets[spec.name]]
        if datasets[spec.name] in spec.tiers
        else ["--tiers", str(provisional.resolve())]
        for spec in specs
    }
    runs = [
        Run(spec, seed, tenth, out / spec.name / (f"seed{seed}" + ("-tenth" if tenth else "")))
        for spec in specs
        for seed, tenth in [*((s, False) for s in seeds), (seeds[0], True)]
    ]
    print(f"{len(runs)} runs of {', '.join(names)} at [budgets.{preset}] (and a tenth of it), "
          f"seeds {' '.join(map(str, seeds))}, {jobs} side by side, into {out}", flush=True)  # fmt: skip
    run_all(runs, taught.solutions, data, preset, options, jobs)
    failed, record = [], {"preset": preset, "seeds": list(seeds), "assignments": {}}
    for spec in specs:
        mine = [run for run in runs if run.spec is spec]
        tiers, lines = _summary(spec, mine, datasets[spec.name])
        print(f"{spec.name}:", *lines, sep="\n")
        if write and tiers:
            note = f"kws reference: {len(seeds)} seeds at [budgets.{preset}]"
            replaced = write_tiers(spec, datasets[spec.name], tiers, note)
            if replaced:
                print(f"  replaced the tier set {datasets[spec.name]} of {shown(spec.path)}, which "
                      f"was: {replaced}")  # fmt: skip
            print(f"  wrote the tier set {datasets[spec.name]} into {shown(spec.path)}")
        given = [] if write and tiers else options[spec.name]
        for line in calibrate(spec, mine, data, datasets[spec.name], write=write and bool(tiers),
                              options=given):  # fmt: skip
            print(line, flush=True)
        if write and tiers:
            print("  graded again:")
            run_all(mine, taught.solutions, data, preset, {spec.name: []}, jobs, execute=False)
        graded_with = write or datasets[spec.name] in spec.tiers
        for run in mine:
            full_marks = run.score >= run.max_score
            if run.tenth and full_marks and graded_with:
                failed.append(f"{spec.name} at a tenth of the budget gets full marks: the tiers "
                              f"say little; raise [budgets.{preset}] of {shown(spec.path)}")  # fmt: skip
            elif not run.tenth and (run.lost_checks or (graded_with and not full_marks)):
                lost = ", ".join(run.lost) or "accuracy"
                failed.append(f"{spec.name} {run.name}: {run.score:g} / {run.max_score:g} (lost: "
                              f"{lost}); the reference must get full marks")  # fmt: skip
        record["assignments"][spec.name] = {
            "dataset": datasets[spec.name],
            "tiers": tiers,
            "runs": [
                {
                    "seed": r.seed,
                    "tenth": r.tenth,
                    "accuracies": r.accuracies,
                    "score": r.score,
                    "max_score": r.max_score,
                    "lost": r.lost,
                }  # fmt: skip
                for r in mine
            ],
        }
    (out / "reference.json").write_text(json.dumps(record, indent=1) + "\n")
    for line in failed:
        print(f"✗ {line}")
    if not failed:
        print("✓ the reference gets full marks at every seed; a tenth of the budget does not"
              if any(write or datasets[s.name] in s.tiers for s in specs)
              else "✓ the reference loses no test but accuracy; --write-tiers sets the tiers")  # fmt: skip
    return 1 if failed else 0
