"""Grades folders built by hand as `kws grade` leaves them, for the tests of what reads them
(exports, the report, feedback pages): a results file for every gradebook row, and the seal.

    graded.append(ungraded(out, "cy", "the grader exited with code 3: killed", 2.0))
    write_gradebook(graded, out / "gradebook.csv")
    finish(out)                     # standings, the gradebook's columns, records.json
"""

from pathlib import Path

from kws.grading.judge.document import write_results
from kws.grading.records.gradebook import Graded, safe_name, ungraded_document
from kws.grading.season.apply import apply_season


def ungraded(out: Path, student: str, problem: str, seconds: float) -> Graded:
    """What `kws grade` records for a hand-in its grader could not grade (`problem`): results
    with no test and the reason, and its gradebook entry."""
    document = ungraded_document(problem, seconds)
    write_results(Path(out) / "results" / f"{safe_name(student)}.json", document)
    return Graded(student, document, problem, seconds)


def finish(out: Path) -> Path:
    """The grades folder `out` (results, gradebook) finished as `kws grade` finishes it: the
    standings, the gradebook's per-notebook columns and the seal (`apply_season`)."""
    apply_season(out, command="kws grade")
    return out
