"""Who marks what on `kws mark`'s page: each grader's share (`kws.grading.records.marks.graders`)
told by alias with its progress (`shares`), a share added or taken back from the page
(`assign`), and the hand-ins a grader types for a share (`share_aliases`).

    shares(session)      # [{"grader": "ann", "questions": [...], "students": ["#1", ...], "progress": [...]}]
    assign(session, {"to": "cat", "question": "", "students": "1/2"}, by="lee")
    share_aliases(["#1", "#2", "#3", "#4"], "#2-#3")    # ["#2", "#3"]
"""

from __future__ import annotations

import re

from kws.grading.records.marks.graders import Share
from kws.grading.records.marks.rubric import MarksError


def shares(session) -> list[dict]:
    """Who marks what in `session` (a `MarkingSession`), by alias, with each share's progress:
    [{"grader", "questions" ([] for all), "students" (aliases; [] for all), "progress":
    [{"key", "answers", "left"}] for each question of the share}]; an answer is left while it
    has no mark, or a mark given to an earlier answer, whoever gave it."""
    marks, keys = session.store.marks(), [q["key"] for q in session.questions()]
    found = []
    for share in session.store.shares():
        progress = []
        for key in [k for k in keys if not share.questions or k in share.questions]:
            held = marks.get(key, {})
            mine = [
                (alias, answer)
                for alias, answer in session.answers[key].items()
                if share.holds(key, session.named[alias])
            ]
            left = sum(
                1
                for alias, answer in mine
                if (m := held.get(session.named[alias])) is None or m.digest != answer.digest
            )
            progress.append({"key": key, "answers": len(mine), "left": left})
        found.append({
            "grader": share.grader,
            "questions": list(share.questions),
            "students": [session.alias[s] for s in share.students if s in session.alias],
            "progress": progress,
        })  # fmt: skip
    return found


def assign(session, data: dict, *, by: str) -> list[dict]:
    """Add a share to `session`'s (``data``: ``to``, its grader; ``question``, "" for every
    one; ``students``, as `share_aliases` reads them), or take one back (``remove``: its
    index); the shares then (`shares`).

    Raises:
        MarksError: no grader, an unknown question or alias, hand-ins that cannot be read.
    """
    held = session.store.shares()
    if isinstance(data.get("remove"), int) and not isinstance(data["remove"], bool):
        if not 0 <= data["remove"] < len(held):
            raise MarksError("no such share; reload the page")
        del held[data["remove"]]
    else:
        grader = str(data.get("to") or "").strip()[:100]
        if not grader:
            raise MarksError("a share needs the grader who marks it")
        question = str(data.get("question") or "")
        keys = [q["key"] for q in session.questions()]
        if question and question not in keys:
            raise MarksError(f"no written question {question!r}; the questions are "
                             f"{', '.join(keys)}")  # fmt: skip
        aliases = share_aliases(list(session.named), str(data.get("students") or ""))
        students = tuple(session.named[a] for a in aliases)
        held.append(Share(grader, (question,) if question else (), students))
    session.store.set_shares(held, by=by, source="kws mark")
    return shares(session)


def share_aliases(aliases: list[str], text: str) -> list[str]:
    """The aliases of `aliases` (the class) that `text` names, in alias order: "" or "all" for
    every one ([]), aliases and ranges (``#1-#12, #15``), or ``k/n``, the k-th of n equal parts
    of the class in alias order.

    Raises:
        MarksError: an alias not in the class, a text that is none of these.
    """
    order = sorted(aliases, key=lambda a: int(a[1:]))
    text = text.strip()
    if text in ("", "all"):
        return []
    part = re.fullmatch(r"(\d+)\s*/\s*(\d+)", text)
    if part:
        k, n = int(part[1]), int(part[2])
        if not 1 <= k <= n:
            raise MarksError(f"{text!r}: a part k/n has 1 <= k <= n, such as 1/2")
        return order[len(order) * (k - 1) // n : len(order) * k // n]
    chosen = set()
    for piece in filter(None, (p.strip() for p in text.split(","))):
        ends = re.fullmatch(r"#?(\d+)(?:\s*-\s*#?(\d+))?", piece)
        if ends is None:
            raise MarksError(f"{piece!r}: give aliases (#3), ranges (#1-#12), a part (1/2), "
                             "or all")  # fmt: skip
        low, high = sorted((int(ends[1]), int(ends[2] or ends[1])))
        chosen.update(f"#{n}" for n in range(low, high + 1))
    unknown = sorted(chosen - set(order), key=lambda a: int(a[1:]))
    if unknown:
        raise MarksError(f"no hand-in {unknown[0]} in this class (the aliases go from #1 to "
                         f"#{len(order)})")  # fmt: skip
    return [alias for alias in order if alias in chosen]
