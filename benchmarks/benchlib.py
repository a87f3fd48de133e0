"""What the benchmark scripts share: publishing a section of the kit's figures file, the commit
it was measured at, the machine it was measured on, and the commands a benchmark runs and times.

- **Publishing** (`publish`, `add_publish_options`, `figures_target`): ``kws demo``, notebook 01
  and the documentation site quote their measurements from ``kws/figures.json`` (package data,
  read by ``kws.figures``). Each benchmark writes its own section of it, with the commit and the
  date it was measured at (`measured_at`; `commit` is the kit's commit as a script records it);
  ``--publish`` writes into the kit's file, ``--figures FILE`` into another (a test's). The
  sections and the scripts that write them: ``benchmarks/figures.py``.
- **The machine** (`reference_time`, `settled_load`, `load_average`, `cores_and_load`): a
  section of times records the machine's reference time, a fixed one-thread workload timed
  beside it (``benchmarks/machine.py``), so that figures from two machines compare; a
  benchmark that publishes wall times waits for the load a previous run left to decay.
- **Commands** (`run_step`, `cpu_seconds`): a command run, its output kept, its wall and CPU
  seconds (its whole waited-for process tree) measured, and a failure stopped with its output.

Benchmark code, not the kit's: it imports no module of ``kws``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the kit's checkout
BENCHMARKS = ROOT / "benchmarks"
KIT_FIGURES = ROOT / "kws" / "figures.json"
IDLE_LOAD = 0.5  # the 1-minute load average of a machine doing nothing else


# ---- publishing ---------------------------------------------------------------------------------


def commit(full: bool = False) -> str:
    """The kit's commit: its first 12 hex digits, with " + uncommitted changes" when a tracked
    file differs from it ("unknown (not a git checkout)" outside one); `full`: ``git rev-parse
    HEAD`` alone ("" outside a checkout)."""

    def git(*args: str) -> str:
        done = run_step(["git", *args], cwd=ROOT, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    if full:
        return git("rev-parse", "HEAD")
    head = git("rev-parse", "--short=12", "HEAD") or "unknown (not a git checkout)"
    changed = git("status", "--porcelain", "--untracked-files=no")
    return f"{head} + uncommitted changes" if changed else head


def measured_at() -> dict:
    """The kit's commit (``git rev-parse HEAD``) and today's date, recorded with every section.

    Returns:
        ``{"commit": ..., "measured": "YYYY-MM-DD"}``.
    """
    head = commit(full=True)
    if not head:
        raise SystemExit(
            f"benchmarks: {ROOT} is not a git checkout; a published figure records the commit "
            "it was measured at, so run it from a clone"
        )
    return {"commit": head, "measured": datetime.date.today().isoformat()}


def publish(name: str, values: dict, figures: str | Path = KIT_FIGURES) -> Path:
    """Write ``values`` as section ``name`` of ``figures`` (the other sections kept), atomically,
    with the commit and the date it was measured at (``commit``, ``measured``: `measured_at`),
    unless ``values`` records them itself.

    Args:
        name: the section, e.g. ``grading``.
        values: the section's figures.
        figures: the figures file (the kit's by default; a test passes its own).

    Returns:
        the figures file.
    """
    figures = Path(figures)
    saved = json.loads(figures.read_text(encoding="utf-8")) if figures.is_file() else {}
    saved[name] = {**measured_at(), **values}  # a commit the benchmark recorded itself stays
    figures.parent.mkdir(parents=True, exist_ok=True)
    partial = figures.with_name(figures.name + ".partial")
    partial.write_text(json.dumps(saved, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(figures)
    return figures


def add_publish_options(
    parser: argparse.ArgumentParser, section: str, label: str | None = None
) -> None:
    """``--publish`` (write the kit's figures file's `section`) and ``--figures FILE`` (write
    it into FILE instead); with `label`, ``--publish LABEL`` keeps the run under that name in
    the section."""
    how = {"action": "store_true"} if label is None else {"metavar": label}
    what = f"keep the run as {label} in" if label else "write"
    parser.add_argument("--publish", help=f"{what} kws/figures.json's {section}", **how)
    parser.add_argument("--figures", type=Path, help=f"write the {section} section into this file")


def figures_target(args: argparse.Namespace) -> Path | None:
    """Where `add_publish_options`' options publish: ``--figures FILE``, else the kit's figures
    file with ``--publish``, else nowhere (None)."""
    return args.figures or (KIT_FIGURES if args.publish else None)


def is_kit_figures(target: str | Path | None) -> bool:
    """Whether `target` is the kit's own figures file (what the docs quote)."""
    return target is not None and Path(target).resolve() == KIT_FIGURES.resolve()


def figures_section(name: str, figures: str | Path = KIT_FIGURES) -> dict:
    """Section `name` of `figures` as published so far ({} when there is none)."""
    figures = Path(figures)
    return (
        json.loads(figures.read_text(encoding="utf-8")).get(name, {}) if figures.is_file() else {}
    )


# ---- the machine --------------------------------------------------------------------------------


def load_average() -> float:
    """The machine's 1-minute load average."""
    return os.getloadavg()[0]


def settled_load(limit: float = IDLE_LOAD, wait: float = 240.0) -> float:
    """The 1-minute load average once it is at most `limit`, waiting up to `wait` seconds: the
    load a run leaves behind takes minutes to decay, and the next run must not count it as a
    busy machine. Returns the last reading (above `limit` when the machine stayed busy)."""
    deadline = time.monotonic() + wait
    while load_average() > limit and time.monotonic() < deadline:
        time.sleep(5)
    return load_average()


def cores_and_load(loads: list[float]) -> str:
    """ "N cores with a load average of LOW to HIGH": the machine a figure was measured on."""
    return f"{os.cpu_count()} cores with a load average of {min(loads):.1f} to {max(loads):.1f}"


def reference_time(runs: int = 3) -> dict:
    """This machine's reference time: ``benchmarks/machine.py``'s fixed workload run `runs`
    times, each in a fresh process, on one thread.

    Returns:
        ``{"reference_seconds": median wall seconds, "reference_cpu_seconds": median CPU
        seconds (the same on an idle machine), "reference_runs": each run's wall, "workload":
        what ran, "torch": its version, "cpu_model": the processor, "cores": os.cpu_count(),
        "load_before": the 1-minute load average before the first run}``.
    """
    load = load_average()
    measured = []
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    for _ in range(runs):
        step = run_step(
            [sys.executable, str(BENCHMARKS / "machine.py"), "--once"], env=env, check=False
        )
        if step.returncode != 0:  # e.g. a Python without torch: the benchmark's venv not active
            last = (step.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(
                f"benchmarks/machine.py: the reference workload failed under {sys.executable} "
                f"({last}); run the benchmark with the kit's venv active"
            )
        measured.append(json.loads(step.stdout))
    seconds = [run["seconds"] for run in measured]
    return {
        "reference_seconds": round(statistics.median(seconds), 2),
        "reference_cpu_seconds": round(
            statistics.median(run["cpu_seconds"] for run in measured), 2
        ),
        "reference_runs": [round(value, 2) for value in seconds],
        "workload": measured[-1]["workload"],
        "torch": measured[-1]["torch"],
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "load_before": round(load, 2),
    }


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine()


# ---- commands -----------------------------------------------------------------------------------


def cpu_seconds(own: bool = True, children: bool = True) -> float:
    """CPU seconds, user and system, of this process (all its threads; `own`) and of the
    children it waited for (`children`)."""
    who = [resource.RUSAGE_SELF] * own + [resource.RUSAGE_CHILDREN] * children
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, who))


@dataclass
class Step:
    """A command `run_step` ran: its exit code (None: stopped at its time limit), its output
    (empty where it went to this process's own), its wall seconds, and the CPU seconds of its
    process and all it waited for."""

    command: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    wall_seconds: float
    cpu_seconds: float

    def tail(self, characters: int = 3000) -> str:
        """The end of its output, both streams."""
        return self.stdout[-characters:] + self.stderr[-characters:]


def run_step(
    command: list[str],
    *,
    what: str | None = None,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    capture: bool = True,
    check: bool = True,
) -> Step:
    """Run `command` and time it: its wall seconds, and the CPU seconds of its whole process
    tree (read from its own end, so that steps run side by side in threads count apart).

    Args:
        what: what the command is, for the message of a failure (default: its first words).
        cwd, env: where and with what environment it runs.
        timeout: wall seconds after which it is killed (its `Step.returncode` then None).
        capture: keep its output (else it goes to this process's stdout and stderr).
        check: stop the benchmark (SystemExit, with the end of its output) when it fails.
    """
    start = time.monotonic()
    pipe = subprocess.PIPE if capture else None
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=pipe, stderr=pipe)
    output: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda n=name, s=stream: output.setdefault(n, s.read()))
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
        if stream is not None
    ]
    stopped = threading.Event()  # set by the timer, before it kills

    def stop() -> None:
        stopped.set()
        process.kill()

    timer = threading.Timer(timeout, stop) if timeout else None
    for thread in [*readers, *([timer] if timer else [])]:
        thread.daemon = True
        thread.start()
    _, status, usage = os.wait4(process.pid, 0)  # its tree's CPU, whoever else runs beside it
    process.returncode = os.waitstatus_to_exitcode(status)
    if timer is not None:
        timer.cancel()
    for reader in readers:
        reader.join()
    step = Step(
        list(map(str, command)),
        None if stopped.is_set() else process.returncode,
        output.get("stdout", b"").decode(errors="replace"),
        output.get("stderr", b"").decode(errors="replace"),
        time.monotonic() - start,
        usage.ru_utime + usage.ru_stime,
    )
    if check and step.returncode != 0:
        name = what or " ".join(step.command[:3])
        ended = "ran out of time" if step.returncode is None else f"exit {step.returncode}"
        raise SystemExit(f"{name} failed ({ended}):\n{step.tail()}")
    return step
