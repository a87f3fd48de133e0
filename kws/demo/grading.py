"""`kws demo`'s grading: each notebook graded alone the moment it ends, then one results.json
for the whole submission."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from kws.spec import ASSIGNMENTS

ROOT = Path(__file__).resolve().parents[2]


def grade_notebook(
    submission: Path, data: Path, results: Path, name: str, language: str = "en"
) -> tuple[int, str]:
    """Grade notebook `name` of the submission alone (the grader's ``--assignment``) into its
    own results file in the folder `results`, its test names and messages in `language` (a tag
    the kit has a catalog for); returns the grader's exit code and score table."""
    from kws.grading.command import grader_command, grader_environment

    spec = next(spec for spec in ASSIGNMENTS.values() if spec.notebook == name)
    try:  # absolute paths: the caller's
        command = grader_command(
            submission,
            data,
            results / f"{spec.name}.json",
            options=["--assignment", spec.name, "--language", language],
        )
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{error}; or pass --no-grade") from None
    done = subprocess.run(
        command, cwd=ROOT, env=grader_environment(), capture_output=True, text=True
    )
    return done.returncode, done.stdout + done.stderr


def merge_results(parts: list[Path], results: Path) -> None:
    """One Gradescope results.json for the submission from each notebook's (`grade_notebook`):
    the tests in notebook order, the scores summed."""
    from kws.grading.judge.document import write_results

    documents = [json.loads(part.read_text()) for part in parts if part.is_file()]
    extra: dict = {"tier_sets": {}, "findings": []}
    for document in documents:  # every key the grader writes: tables merged, lists joined
        for key, value in document.get("extra_data", {}).items():
            if isinstance(value, dict):
                extra.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                joined = extra.setdefault(key, [])
                joined += [item for item in value if item not in joined]
            else:
                extra.setdefault(key, value)
    merged = {
        "score": round(sum(document["score"] for document in documents), 4),
        "execution_time": sum(document.get("execution_time", 0) for document in documents),
        "output": "\n\n".join(document.get("output", "") for document in documents),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": extra,
        "tests": [test for document in documents for test in document["tests"]],
    }
    leaderboard = [entry for document in documents for entry in document.get("leaderboard", [])]
    if leaderboard:
        merged["leaderboard"] = leaderboard
    write_results(results, merged)
