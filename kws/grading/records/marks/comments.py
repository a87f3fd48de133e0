"""A comment library per question, ``marks/comments.json``: the comments graders save on
`kws mark`'s page to give again (by search and key), each change recorded in the marks'
history (a ``comment`` event) and sealed with the marks (`MarkStore.save_comment`).

A mark holds its comment's text, never a library id: the feedback page, the export and the
history read a mark as before. Editing a saved comment "everywhere" writes the new text into
every mark of its question whose comment holds the old text (each a ``mark`` event with
``"source": "comment library ..."``, who gave the mark kept); editing it "here only" changes the
library, and the marks keep what the students were given.

    library = comments_from(data)          # {question key: [Comment]}, checked
    changed = with_comment(marks, "Say what it rescales.", "Say what BatchNorm1d rescales.")
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from kws.grading.records.marks.rubric import MOST_COMMENT, VERSION, MarksError

COMMENTS_FILE = "marks/comments.json"


@dataclass(frozen=True)
class Comment:
    """A saved comment of one question.

    Attributes:
        id: ``c1``, ``c2`` ... within its question, never reused.
        text: what the student reads (up to `MOST_COMMENT` characters).
        by: who saved it, or last edited it.
        when: when (`kws.grading.records.files.record_time`).
    """

    id: str
    text: str
    by: str
    when: str

    @classmethod
    def from_dict(cls, data) -> Comment:
        """The comment `data` holds; ValueError saying which value is wrong."""
        if not isinstance(data, dict) or set(data) != {"id", "text", "by", "when"}:
            raise ValueError("a saved comment holds id, text, by and when")
        if not all(isinstance(data[name], str) for name in data):
            raise ValueError(f"comment {data.get('id')!r}: its id, text, by and when are texts")
        if not data["text"].strip() or len(data["text"]) > MOST_COMMENT:
            raise ValueError(f"comment {data['id']!r}: a text of 1 to {MOST_COMMENT} characters")
        return cls(**data)


def comments_from(data: dict) -> dict[str, list[Comment]]:
    """{question key: its saved comments, in the order saved} of ``comments.json``'s
    ``comments``; ValueError naming the question and the value that is wrong."""
    found = {}
    for key, saved in data.items():
        if not isinstance(saved, list):
            raise ValueError(f"question {key!r}: not a list of comments")
        try:
            found[key] = [Comment.from_dict(comment) for comment in saved]
        except ValueError as error:
            raise ValueError(f"question {key!r}: {error}") from None
        ids = [comment.id for comment in found[key]]
        if len(set(ids)) != len(ids):
            raise ValueError(f"question {key!r}: two comments share an id")
    return found


def comments_text(library: dict[str, list[Comment]]) -> str:
    """``comments.json``'s text for `library`, as every change writes it (and a restore)."""
    comments = {key: [asdict(c) for c in saved] for key, saved in sorted(library.items()) if saved}
    return (
        json.dumps({"version": VERSION, "comments": comments}, indent=1, ensure_ascii=False) + "\n"
    )


def next_id(saved: list[Comment]) -> str:
    """The id of a comment added after `saved`: one more than the highest."""
    return f"c{max((int(c.id[1:]) for c in saved if c.id[1:].isdigit()), default=0) + 1}"


def uses(marks: dict[str, dict], text: str) -> int:
    """How many of `marks` ({student: a mark's fields}) hold `text` in their comment."""
    return sum(text in (mark.get("comment") or "") for mark in marks.values())


def with_comment(marks: dict[str, dict], old: str, new: str) -> list[str]:
    """The students of `marks` ({student: a mark's fields}, changed in place) whose comment
    holds `old`, now holding `new` there instead.

    Raises:
        MarksError: a comment that would pass `MOST_COMMENT` characters (nothing changed).
    """
    held = [student for student, mark in marks.items() if old in (mark.get("comment") or "")]
    comments = {student: marks[student]["comment"].replace(old, new) for student in held}
    if any(len(comment) > MOST_COMMENT for comment in comments.values()):
        raise MarksError(f"the comment would make a mark's comment longer than {MOST_COMMENT} "
                         "characters; shorten it, or change it here only")  # fmt: skip
    for student, comment in comments.items():
        marks[student]["comment"] = comment
    return held
