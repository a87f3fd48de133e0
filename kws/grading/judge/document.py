"""The ``results.json`` document Gradescope reads and what this kit records in it, written whole
(`write_results`); `kws.grading.judge.results` fills it from a pytest run.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kws.i18n import N_

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
HIDDEN_OUTPUT = N_("This test is hidden; its details are not shown.")  # in the language
FINDING_KINDS = ("review", "tampering", "grader_error")
# A test's extra_data["part"] when it grades the Kaggle rule's held-out part
# (`kws.grading.testsets.split`): on Gradescope its points count from its notebook's due date on
# (`kws.grading.publish.gradescope.held_out`).
HELD_OUT = "held_out"
# What a test may record it measured (`kws.grading.judge.results.GradescopeReport.add_measure`):
# the hidden-test accuracy, the weights of the task's model.pt, those of its encoder block, and
# the encoder layers that ran.
MEASURES = ("accuracy", "weights", "encoder_weights", "layers_run")
REVIEW_PREFIX = "Manual review:"  # how a review finding reads in the output and the gradebook


@dataclass
class TestResult:
    """One entry of results.json's "tests" list."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    score: float
    max_score: float
    status: str  # "passed" or "failed" (a skipped test: "passed" with 0 / 0)
    output: str
    visibility: str = "visible"
    # What the test belongs to, for the class report: {"assignment", "test", "task"} as known,
    # and "skipped" (why) for a test that did not run.
    extra_data: dict = field(default_factory=dict)


def results_document(
    tests: list[TestResult],
    *,
    output: str,
    execution_time: float,
    extra_data: dict | None = None,
    leaderboard: list[dict] | None = None,
) -> dict:
    """The results.json object Gradescope reads (total score = the sum of the tests' scores);
    `leaderboard`: its ``{name, value, order}`` entries, left out when there are none."""
    document = {
        "score": round(sum(t.score for t in tests), 4),
        "execution_time": int(round(execution_time)),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": extra_data or {},
        "tests": [asdict(t) for t in tests],
    }
    if leaderboard:
        document["leaderboard"] = leaderboard
    return document


def findings_of(document: dict | None, kind: str) -> list[dict]:
    """The findings of `kind` (one of `FINDING_KINDS`) a results document records, in order:
    each ``{"kind", "text", "test"}``
    (`kws.grading.judge.results.GradescopeReport.add_finding`); [] for none."""
    recorded = ((document or {}).get("extra_data") or {}).get("findings") or []
    return [f for f in recorded if isinstance(f, dict) and f.get("kind") == kind]


def write_results(path: Path, document: dict) -> None:
    """Write `document` to `path` atomically (a half-written file is never left behind, nor
    the partial one beside it when the write fails: a full disk)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(json.dumps(document, indent=2) + "\n")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
