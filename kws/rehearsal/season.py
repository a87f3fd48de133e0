"""Play a course's whole season on a synthetic class, with the real commands, in a folder of
its own.

    season = rehearse(Path("course.toml"), Path("rehearsal"))   # what `kws rehearse` runs

In order, each step a `kws` command run as an instructor types it (through the ``kws``
command's own entry point, `kws.cli.main`, which `kws rehearse` passes down; paths relative to
the working directory), its output kept in ``OUT/logs/``:

1. ``kws grade`` the class (`kws.rehearsal.handins`) with the course file as it is, the
   stories' hand-in times (``OUT/times.csv``) and their roster (``OUT/roster.csv``), into
   ``OUT/grades/``;
2. ``kws grade --student regraded``: the regrade, with the hand-in completed. A later
   rehearsal of the same class (same kit, same names, same Kaggle rule) reuses these two
   gradings, kept in ``OUT/class/graded/``, and applies the course file with ``kws season``,
   as an instructor does during the season after changing it;
3. ``kws adjust``: a TA's +2 for the student who renamed an argument; the written answers marked
   by a stand-in person through ``kws mark``'s page (`kws.rehearsal.marker`), then
   ``kws season`` to count them;
4. ``kws report``, ``kws feedback``, ``kws export canvas`` and ``kws export moodle``;
5. ``kws gradescope --course`` (``OUT/autograder.zip``), then the zip's own late rule
   (`kws.grading.publish.gradescope.season.apply_gradescope_rules`, which the zip runs as
   ``python -m kws.grading.publish.gradescope.season``, with the course file the zip holds) on
   each hand-in's results, one Gradescope submission a notebook at its hand-in time
   (``OUT/gradescope/<student>/<assignment>/``).

Nothing is written outside OUT, and OUT must be a new folder or an earlier rehearsal's: never a
grades folder nor a folder inside one. Everything in it can be thrown away.
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
import zipfile
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kws.grading.records.files import private_folder
from kws.grading.records.gradebook import safe_name
from kws.grading.season.cli import warn_or_refuse
from kws.grading.season.course import Course, read_course
from kws.grading.season.warn import CourseWarning, roster_warnings
from kws.rehearsal.handins import kit_digest, reference_handin, write_class
from kws.rehearsal.marker import mark_class
from kws.rehearsal.stories import (
    ADJUSTED,
    DOMAIN,
    REGRADED,
    Story,
    by_due_date,
    class_stories,
    handin_times,
    roster_csv,
    times_csv,
)
from kws.spec import ASSIGNMENTS
from kws.spec import course as taught

MARKER = "rehearsal.json"  # what makes a folder a rehearsal's (and its summary)
GRADES_FILES = ("records.json", "standings.json")  # a grades folder's own (kws.grading.records)


class RehearsalError(ValueError):
    """The rehearsal cannot go on; the message names the folder or command and the fix."""


@dataclass(frozen=True)
class Step:
    """A command the rehearsal ran: its words after ``kws``, its wall time, its output's log."""

    words: tuple[str, ...]
    seconds: float
    log: Path

    @property
    def line(self) -> str:
        return "kws " + shlex.join(self.words)


@dataclass
class Season:
    """A course's season as the rehearsal played it (the season `kws.grading.season` applies):
    the course (as given, read), the class, the commands and where their files are, the zip's
    late record of each hand-in, and the wall time of each phase."""

    course: Course
    out: Path
    warnings: list[CourseWarning]
    stories: list[Story]
    mistakes: dict[str, str | None]
    times: dict[tuple[str, str], datetime]
    steps: list[Step] = field(default_factory=list)
    reused: bool = False  # the grading of an earlier rehearsal, applied with `kws season`
    gradescope: dict[tuple[str, str], dict | None] = field(default_factory=dict)
    gradescope_now: str | None = None  # when the zip's rule judged the held-out parts
    phases: dict[str, float] = field(default_factory=dict)
    marked: dict[str, int] = field(default_factory=dict)  # question -> answers the stand-in marked
    marked_after: int | None = None  # how many of `steps` ran before the marking


def check_out(out: Path) -> None:
    """RehearsalError unless `out` is a new or empty folder or an earlier rehearsal's, and lies
    in no grades folder."""
    for folder in [Path(out), *Path(out).absolute().parents]:
        graded = (folder / "gradebook.csv").is_file() and (folder / "results").is_dir()
        if graded or any((folder / name).is_file() for name in GRADES_FILES):
            raise RehearsalError(f"{out}: {folder} holds a season's grades; a rehearsal writes "
                                 "only into a folder of its own (--out rehearsal)")  # fmt: skip
    if Path(out).is_dir() and any(Path(out).iterdir()) and not (Path(out) / MARKER).is_file():
        raise RehearsalError(f"{out} is not an earlier rehearsal's folder (it has no {MARKER}) "
                             "and is not empty; pass a new folder with --out")  # fmt: skip


def check_tiers() -> None:
    """RehearsalError, before anything runs, when an assignment has no tier set for the data
    the rehearsal grades on (the tiny synthetic twin with its private test set), with the
    commands that measure one."""
    from kws.grading.testsets.layouts import layout_of
    from kws.rehearsal.handins import PRESET

    for spec in ASSIGNMENTS.values():
        layout = layout_of(spec)
        dataset = layout.synthetic_name(PRESET, True)
        if dataset is None or dataset in spec.tiers:
            continue
        make = f"kws synth {layout.synthetic} data-{PRESET} --preset {PRESET}"
        raise RehearsalError(
            f"{spec.path} has no tier set {dataset} ([tiers]), the data the rehearsal grades "
            f"{spec.name} on (the {PRESET} synthetic data with its private test set); measure "
            f"it first, then rehearse again: `{make}`, `kws private data-{PRESET} --secret "
            f"{PRESET}.secret`, `kws reference {spec.name} --data data-{PRESET} --preset "
            f"{PRESET} --seeds 0 1 2 --write-tiers`"
        )


class _Player:
    """Runs the season's commands in order through `kws` (the command's entry point: its words
    after ``kws`` in, its exit code out), each logged; RehearsalError at the first that fails."""

    def __init__(self, season: Season, kws: Callable[[list[str]], int]):
        self.season, self.main = season, kws
        (season.out / "logs").mkdir(parents=True, exist_ok=True)

    def kws(self, *words: str | Path) -> Step:
        words = tuple(str(w) for w in words)
        log = self.season.out / "logs" / f"{len(self.season.steps) + 1:02d}-{words[0]}.txt"
        print(f"$ kws {shlex.join(words)}", flush=True)
        start = time.monotonic()
        with open(log, "w", encoding="utf-8") as file, redirect_stdout(file), redirect_stderr(file):
            try:
                code = self.main(list(words))
            except SystemExit as stop:  # the parser refused the words (its usage is in the log)
                code = stop.code
        step = Step(words, time.monotonic() - start, log)
        self.season.steps.append(step)
        if code == 130:  # interrupted (Ctrl-C): the rehearsal stops as the command did
            raise KeyboardInterrupt
        if code != 0:
            said = log.read_text(encoding="utf-8").strip().splitlines()[-1:]
            raise RehearsalError(f"`{step.line}` stopped (exit code {code}); its output ends: "
                                 f"{''.join(said)} (all of it: {log})")  # fmt: skip
        print(f"  {step.seconds:.0f} s; output in {log}", flush=True)
        return step


def _phase(season: Season, name: str, start: float) -> None:
    season.phases[name] = round(time.monotonic() - start, 1)


def rehearse(
    course_path: Path,
    out: Path = Path("rehearsal"),
    *,
    jobs: int = 2,
    roster: Path | None = None,
    roster_key: str | None = None,
    strict: bool = False,
    kws: Callable[[list[str]], int],
) -> Season:
    """Play the season of the course file `course_path` into `out` (module docstring).

    Args:
        course_path: the course file, as the instructor gave it (messages name it so).
        out: the rehearsal's folder (relative paths: the working directory's).
        kws: the `kws` command's entry point, `kws.cli.main` (its words after ``kws`` in, its
            exit code out), which runs each step: passed down by `kws rehearse`, since nothing
            below the command imports it.
        jobs: hand-ins graded at once.
        roster: the class roster, only to warn of an extension for a folder it lacks.
        roster_key: its column of hand-in folder names (default ``folder``).
        strict: refuse the course file on a warning, before anything is written.

    Returns:
        The season played; its page is written by `kws.rehearsal.page`.

    Raises:
        CourseError, RosterError, RehearsalError: naming the file or folder and the fix, before
            anything is written (a command that fails later names its log).
    """
    course = read_course(course_path, sorted(ASSIGNMENTS))
    warnings = list(course.warnings)
    if roster is not None:
        from kws.grading.records.roster import read_roster

        table = read_roster(roster, key=roster_key)
        names = {row[table.key] for row in table.rows if row[table.key]}
        warnings += roster_warnings(course.path, course.text, course.extensions, names, roster)
    warn_or_refuse(warnings, strict)  # first: the rest takes minutes
    check_out(out)
    check_tiers()
    out, started = Path(out), time.monotonic()
    season = Season(course, out, warnings, class_stories(course), {}, {})
    private_folder(out)  # its pages and grades hold a class's grades, as a real one's do
    (out / MARKER).write_text(json.dumps({"course": str(course_path)}) + "\n")
    reference_data, reference = reference_handin(out / "class")
    season.mistakes = write_class(out / "class", season.stories, reference)
    _phase(season, "the class", started)
    season.times = handin_times(season.stories, course)
    (out / "times.csv").write_text(times_csv(season.times))
    (out / "roster.csv").write_text(roster_csv(season.stories))
    _play(season, _Player(season, kws), course_path, reference_data, jobs)
    return season


def _grading_key(season: Season, data: Path) -> dict:
    return {"kit": kit_digest(), "class": [[s.student, s.mistake] for s in season.stories],
            "kaggle": [season.course.public_share, season.course.split_seed],
            "data": str(data.resolve())}  # fmt: skip


def season_options(season: Season, course_path: Path) -> list:
    """The options of every `kws grade` and `kws season` the rehearsal runs: the course file
    (`course_path`, as given) and the made-up times (``OUT/times.csv``), with
    ``--accept-future-times`` where a time is later than now (a rehearsal before the term, its
    due dates still ahead: the times are made up on purpose, not an LMS export's mistake)."""
    given = ["--course", course_path, "--times", season.out / "times.csv"]
    if any(when > datetime.now(timezone.utc) for when in season.times.values()):
        given.append("--accept-future-times")
    return given


def _play(season: Season, player: _Player, course_path: Path, data: Path, jobs: int) -> None:
    out, grades, submissions = (
        season.out,
        season.out / "grades",
        season.out / "class" / "submissions",
    )
    kept, stamp = out / "class" / "graded", out / "class" / "graded.json"
    given = season_options(season, course_path)
    started, key = time.monotonic(), _grading_key(season, data)
    shutil.rmtree(grades, ignore_errors=True)
    if stamp.is_file() and json.loads(stamp.read_text()) == key and kept.is_dir():
        shutil.copytree(kept, grades, symlinks=True)  # the class and its regrade, as graded
        season.reused = True
        player.kws("season", grades, *given)
    else:
        stamp.unlink(missing_ok=True)
        player.kws("grade", submissions, "--data", data, "--out", grades, "--jobs", jobs, *given,
                   "--roster", out / "roster.csv")  # fmt: skip
        if (out / "class" / "regrade" / REGRADED).is_dir():  # the completed hand-in arrives
            shutil.rmtree(submissions / REGRADED)
            (out / "class" / "regrade" / REGRADED).rename(submissions / REGRADED)
            player.kws("grade", submissions, "--data", data, "--out", grades, "--student",
                       REGRADED)  # fmt: skip
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(grades, kept, symlinks=True)
        stamp.write_text(json.dumps(key))
    _phase(season, "grading and the regrade" if not season.reused else "the season (grading "
           "reused)", started)  # fmt: skip
    started = time.monotonic()
    if any(s.student == ADJUSTED for s in season.stories):
        first = by_due_date(season.course)[0]
        player.kws("adjust", grades, ADJUSTED, first, "+2", "--reason", "the renamed argument "
                   "checked by hand: the model is right", "--who", "rehearsal")  # fmt: skip
    season.marked = mark_class(grades, taught().solutions, season.stories)
    if season.marked:  # a person's marks count in the standings by the next kws season
        season.marked_after = len(season.steps)
        player.kws("season", grades, *given)
    player.kws("report", grades, "--jobs", jobs)
    player.kws("feedback", grades, "--out", out / "feedback")
    for lms in ("canvas", "moodle"):
        player.kws("export", lms, grades, "--out", out / f"{lms}-grades.csv")
    _phase(season, "adjustment, report, feedback and exports", started)
    started = time.monotonic()
    player.kws("gradescope", "--data", data, "--course", course_path, "--out",
               out / "autograder.zip")  # fmt: skip
    gradescope_late_rule(season)
    _phase(season, "Gradescope", started)


def notebook_results(document: dict, name: str) -> dict:
    """A hand-in's results as a Gradescope assignment of notebook `name` alone grades it
    (`kws gradescope --assignment NAME`): that notebook's tests, their score."""
    tests = [
        t
        for t in document.get("tests", [])
        if (t.get("extra_data") or {}).get("assignment") == name
    ]
    return document | {"tests": tests, "score": round(sum(t["score"] for t in tests), 4)}


def gradescope_late_rule(season: Season) -> None:
    """The zip's late rule on each hand-in's results: each notebook a Gradescope assignment of
    its own (`notebook_results`), submitted at its hand-in time, and the rule the zip runs
    (`kws.grading.publish.gradescope.season`) with the course file the zip holds;
    `season.gradescope` gets each notebook's late record (None: on time)."""
    from kws.grading.publish.gradescope.season import apply_gradescope_rules

    folder = season.out / "gradescope"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    with zipfile.ZipFile(season.out / "autograder.zip") as archive:
        (folder / "course.toml").write_bytes(archive.read("course.toml"))
    dates = [*season.course.due.values(), *season.times.values()]
    dates += [d for granted in season.course.extensions.values() for d in granted.values()]
    now = max(dates) + timedelta(days=1) if dates else None
    season.gradescope_now = now.isoformat() if now else None
    for (student, name), when in sorted(season.times.items()):
        results = season.out / "grades" / "results" / f"{safe_name(student)}.json"
        if not results.is_file():
            continue
        submission = folder / student / name
        submission.mkdir(parents=True)
        document = notebook_results(json.loads(results.read_text()), name)
        (submission / "results.json").write_text(json.dumps(document, indent=1))
        metadata = {"created_at": when.isoformat(), "previous_submissions": [],
                    "users": [{"name": student, "email": f"{student}@{DOMAIN}"}],
                    "assignment": {"title": ASSIGNMENTS[name].title,
                                   "due_date": season.course.due[name].isoformat()}}  # fmt: skip
        (submission / "submission_metadata.json").write_text(json.dumps(metadata, indent=1))
        document = apply_gradescope_rules(submission / "results.json",
                                          submission / "submission_metadata.json",
                                          folder / "course.toml", now)  # fmt: skip
        season.gradescope[(student, name)] = (
            (document.get("extra_data") or {}).get("late", {}).get(name)
        )
