"""nbgrader's autograded test cells, between the parent and the grading child: the parent
(`kws.grading.judge.autograded`) writes an `AutogradedRun` as ``autograded.json``; the child
(`kws.grading.child.autograded`) sends back, by ``grade_id``, None or the error each test cell
raised, which the parent checks with `check_autograded_payload`.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

AUTOGRADED_FILE = "autograded.json"  # the description's name in the child's folder


@dataclass(frozen=True)
class AutogradedRun:
    """Run `notebook`'s code cells with the test cells of `tests` (grade_id -> source) as given."""

    notebook: str  # the notebook's file name, e.g. "problem1.ipynb"
    tests: dict[str, str]  # grade_id -> the instructor's source of the test cell
    submission: str = "submission"  # the copy of the hand-in, in the child's folder

    def save(self, folder: Path) -> Path:
        """Write ``folder/autograded.json``; returns its path."""
        path = Path(folder) / AUTOGRADED_FILE
        path.write_text(json.dumps(asdict(self), indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> "AutogradedRun":
        """The run `save` wrote; ValueError when the file holds another shape."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or set(data) != {"notebook", "tests", "submission"}:
            raise ValueError(f"{path}: not an autograded run")
        return cls(**data)


def check_autograded_payload(payload: object, tests: list[str]) -> dict[str, str | None]:
    """{grade_id: None (ran without error) or the error, one line} for each of `tests`, from
    the child's `payload`; ValueError naming what is wrong with its shape."""
    if not isinstance(payload, dict) or set(payload) != {"notebook", "errors", "cells"}:
        raise ValueError("the payload holds exactly notebook, errors and cells")
    errors, cells = payload["errors"], payload["cells"]
    if not isinstance(errors, dict) or not all(isinstance(v, str) for v in errors.values()):
        raise ValueError("the payload's errors are sentences by stage")
    if not isinstance(cells, dict) or set(cells) - set(tests):
        raise ValueError("the payload's cells are the graded test cells asked for")
    if not all(v is None or isinstance(v, str) for v in cells.values()):
        raise ValueError("each cell's verdict is None or an error's sentence")
    not_run = f"it did not run ({next(iter(errors.values()))})" if errors else "it did not run"
    return {grade_id: cells.get(grade_id, not_run) for grade_id in tests}
