"""Who marks what in `kws mark`: each grader's share of the written answers (some questions,
some students, or all of either), kept in ``marks/graders.json``, set on the page or read
from a CSV file (`shares_from_csv`, ``kws mark --graders FILE``); every change a ``graders``
event of the marks' history. A share plans the work and counts nothing: the file is not sealed,
and a mark outside one's share is a mark like any other.

    shares = shares_from_csv(Path("graders.csv"), questions, students)   # [Share]
    store.set_shares(shares, by="lee", source="graders.csv")
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kws.grading.records.marks.rubric import VERSION, MarksError

GRADERS_FILE = "marks/graders.json"


@dataclass(frozen=True)
class Share:
    """One grader's share.

    Attributes:
        grader: who marks it, as the page's *marking as* box says.
        questions: the question keys (``assignment/question``); () for every question.
        students: the students, as the gradebook names them; () for every student.
    """

    grader: str
    questions: tuple[str, ...] = ()
    students: tuple[str, ...] = ()

    def holds(self, key: str, student: str) -> bool:
        """Whether `student`'s answer to question `key` is in this share."""
        return (not self.questions or key in self.questions) and (
            not self.students or student in self.students
        )

    @classmethod
    def from_dict(cls, data) -> Share:
        """The share `data` holds; ValueError saying what is wrong."""
        if not isinstance(data, dict) or set(data) != {"grader", "questions", "students"}:
            raise ValueError("a share holds grader, questions and students")
        lists = (data["questions"], data["students"])
        if not isinstance(data["grader"], str) or not data["grader"].strip():
            raise ValueError("a share's grader is a name")
        if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in lists):
            raise ValueError(f"{data['grader']}'s share: questions and students are lists of texts")
        return cls(data["grader"], tuple(data["questions"]), tuple(data["students"]))


def shares_from(data) -> list[Share]:
    """The shares of ``graders.json``'s ``shares`` list; ValueError naming what is wrong."""
    if not isinstance(data, list):
        raise ValueError("not a list of shares")
    return [Share.from_dict(share) for share in data]


def shares_text(shares: list[Share]) -> str:
    """``graders.json``'s text for `shares`."""
    data = {"version": VERSION, "shares": [asdict(share) for share in shares]}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def shares_from_csv(path: Path, questions: list[str], students: list[str]) -> list[Share]:
    """The shares of the CSV file `path`: a header ``grader,question,students``, then one row a
    share. ``question``: a key of `questions` or its question id where one notebook asks it,
    empty for every question; ``students``: names of `students` separated by spaces, ``A..B``
    for the names from A to B in alphabetical order, empty for every student.

    Raises:
        MarksError: naming the file, the line and the fix (an unknown grader column, question or
            student); nothing is read from a file with one bad row.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise MarksError(f"{path}: cannot be read ({error}); give a UTF-8 CSV file") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip().lower() for c in rows[0]][:3] != ["grader", "question", "students"]:
        raise MarksError(f"{path}, line 1: the header must be grader,question,students")
    ordered = sorted(students)
    by_id = {}
    for key in questions:
        by_id.setdefault(key.split("/")[-1], []).append(key)
    shares = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        grader, question, who = [*row, "", ""][:3]
        grader, question = grader.strip(), question.strip()
        if not grader:
            raise MarksError(f"{path}, line {line}: no grader named; give who marks this share")
        if question and question not in questions:
            found = by_id.get(question, [])
            if len(found) != 1:
                raise MarksError(f"{path}, line {line}: no question {question!r} (the questions "
                                 f"are {', '.join(questions)}); leave it empty for every "
                                 "question")  # fmt: skip
            question = found[0]
        shares.append(Share(grader, (question,) if question else (),
                            tuple(_students(who, ordered, f"{path}, line {line}"))))  # fmt: skip
    return shares


def _students(text: str, ordered: list[str], where: str) -> list[str]:
    """The students `text` names (see `shares_from_csv`), in `ordered`'s order."""
    chosen = set()
    for word in text.split():
        first, dots, last = word.partition("..")
        ends = [first, last] if dots else [first]
        unknown = [end for end in ends if end not in ordered]
        if unknown:
            raise MarksError(f"{where}: no student {unknown[0]!r} in the gradebook; name students "
                             "as it does, A..B for a range, or leave it empty for all")  # fmt: skip
        low, high = sorted(ordered.index(end) for end in ends)
        chosen.update(ordered[low : high + 1])
    return [name for name in ordered if name in chosen]
