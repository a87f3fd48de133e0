"""Grade a whole class: one `pytest grader/` process per submission, in parallel, into a gradebook.

    kws grade SUBMISSIONS_DIR --data DATA --jobs 2 --out grades/

`SUBMISSIONS_DIR` holds one folder per student (the folder name is the student's name in the
gradebook). Each is graded by its own pytest process, so a submission that brings the grader
down costs only its own row; the gradebook still gets that row, with zeros and the reason.

Writes ``OUT/results/<student>.json`` (Gradescope schema), ``OUT/logs/<student>.txt`` (pytest's
output, for the staff) and ``OUT/gradebook.csv``: one row a student, one column a test, the
total and the maximum.
"""

import csv
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kws.grading.review import REVIEW_PREFIX

DEFAULT_GRADER = Path(__file__).resolve().parents[2] / "grader"


@dataclass
class Graded:
    """One student's outcome: the results.json document, or None and why."""

    student: str
    document: dict | None
    problem: str
    seconds: float


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def grade_one(
    submission: Path,
    data: Path,
    out_dir: Path,
    *,
    grader: Path = DEFAULT_GRADER,
    hide: list[Path] = (),
    pytest_args: list[str] = (),
    timeout: float = 3600.0,
) -> Graded:
    """Run ``pytest grader/`` on one submission in its own process; never raises for its faults."""
    student = submission.name
    results = out_dir / "results" / f"{_safe_name(student)}.json"
    log = out_dir / "logs" / f"{_safe_name(student)}.txt"
    results.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", str(grader), "-q", "-p", "no:cacheprovider"]
    command += ["--submission", str(submission), "--data", str(data), "--results", str(results)]
    command += [arg for path in hide for arg in ("--hide", str(path))] + list(pytest_args)
    start = time.monotonic()
    try:
        run = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=grader.parent
        )
        log.write_text(run.stdout + run.stderr)
        last = (run.stdout + run.stderr).strip().splitlines()[-1:] or ["no output"]
        problem = f"the grader exited with code {run.returncode}: {last[0]}"
    except subprocess.TimeoutExpired:
        problem = f"the grader ran longer than {timeout:g} s and was stopped"
    seconds = time.monotonic() - start
    try:
        document = json.loads(results.read_text())
        return Graded(student, document, "", seconds)
    except (OSError, json.JSONDecodeError):
        return Graded(student, None, problem, seconds)


def grade_batch(
    submissions_dir: Path,
    data: Path,
    out_dir: Path,
    *,
    jobs: int = 2,
    grader: Path = DEFAULT_GRADER,
    pytest_args: list[str] = (),
    timeout: float = 3600.0,
) -> Path:
    """Grade every folder in `submissions_dir` with `jobs` parallel graders; return the gradebook.

    The submissions folder and `out_dir` are hidden from every child, and the results and logs
    folders are the instructor's alone (mode 0700), so no student's code can read a classmate's
    notebook, checkpoint or results.
    """
    submissions_dir, out_dir = Path(submissions_dir), Path(out_dir)
    if not submissions_dir.is_dir():
        raise FileNotFoundError(
            f"{submissions_dir}: no such folder of submissions (one folder per student)"
        )
    students = sorted(
        p for p in submissions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if not students:
        raise ValueError(
            f"{submissions_dir} has no student folders; put each submission in its own folder"
        )
    for folder in ("results", "logs"):  # the instructor's eyes only: no child may read them
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
        (out_dir / folder).chmod(0o700)

    def one(submission: Path) -> Graded:
        return grade_one(
            submission,
            Path(data),
            out_dir,
            grader=grader,
            hide=[submissions_dir.resolve(), out_dir.resolve()],
            pytest_args=pytest_args,
            timeout=timeout,
        )

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        graded = list(pool.map(one, students))
    return write_gradebook(graded, out_dir / "gradebook.csv")


def write_gradebook(graded: list[Graded], path: Path) -> Path:
    """One row a student, one column a test (its score), then total, maximum and notes."""
    columns: list[str] = []
    for entry in graded:
        for test in (entry.document or {}).get("tests", []):
            if test["name"] not in columns:
                columns.append(test["name"])
    maximum = {}
    for entry in graded:
        for test in (entry.document or {}).get("tests", []):
            maximum[test["name"]] = max(maximum.get(test["name"], 0.0), test["max_score"])
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["student", *columns, "total", "max_score", "seconds", "notes"])
        for entry in graded:
            scores = {t["name"]: t["score"] for t in (entry.document or {}).get("tests", [])}
            total = entry.document["score"] if entry.document else 0.0
            row = [scores.get(name, 0.0) for name in columns]
            output = (entry.document or {}).get("output", "")
            review = [p for p in output.split("\n\n") if p.startswith(REVIEW_PREFIX)]
            notes = "; ".join(([entry.problem] if entry.problem else []) + review)
            writer.writerow(
                [entry.student, *row, total, sum(maximum.values()), round(entry.seconds, 1), notes]
            )
    return path
