"""The marking page's queue of regrade requests (`kws.grading.records.requests`): each open
request with the student's alias, the question, the reason and the mark it has now, and the
TA's answer from the page, which runs what `kws requests answer` runs
(`kws.grading.season.regrade_requests.answer_request`).

    GET  /api/requests            -> {"requests": [...]}
    POST /api/requests/answer     {"alias", "question", "keep": true | "points": P, "reply"}

Students are named by alias, as the rest of the page names them; the reasons are the
students' own text, sent as JSON strings the page sets as text (static/requests.js).
"""

from __future__ import annotations

from kws.grading.marking.session import MarkingSession
from kws.grading.records.grades import read_grades
from kws.grading.records.lock import FolderBusy
from kws.grading.records.marks.rubric import MarksError
from kws.grading.records.requests import open_requests
from kws.grading.season.regrade_requests import answer_request


class RequestBusy(MarksError):
    """Another command holds the grades folder: the answer was not recorded; send it again
    once that command ends."""


def request_queue(session: MarkingSession) -> dict[str, list[dict]]:
    """{"requests": each open request of the session's grades folder, in the order asked}: its
    student's alias, the question, the reason (the last one asked), when it was asked, and the
    mark now (``points`` of ``most``; ``points`` None for a written answer not marked yet).

    Raises:
        MarksError: ``requests.csv`` holds a line this kit did not write (its line, the fix).
    """
    folder = session.store.folder
    try:
        left = open_requests(folder)
    except ValueError as error:  # requests.csv edited by hand: its line and the fix
        raise MarksError(str(error)) from None
    if not left:
        return {"requests": []}
    rubrics, marks = session.store.rubrics(), session.store.marks()
    tests = {s.name: {t["name"]: t for t in s.tests} for s in read_grades(folder).students}
    queue = []
    for thread in left:
        asked = thread.events[-1]
        if thread.question in rubrics:
            rubric = rubrics[thread.question]
            mark = marks.get(thread.question, {}).get(thread.student)
            now, most = (rubric.score(mark) if mark else None), rubric.points
        else:
            test = tests.get(thread.student, {}).get(thread.question, {})
            now, most = test.get("score"), test.get("max_score")
        queue.append(
            {
                "alias": session.alias.get(thread.student, "(no hand-in read)"),
                "question": thread.question,
                "reason": asked.text,
                "asked": asked.when,
                "points": now,
                "most": most,
            }
        )
    return {"requests": queue}


def answer_from_page(session: MarkingSession, data: dict, *, by: str) -> dict[str, list[dict]]:
    """Answer the open request of ``data["alias"]`` about ``data["question"]``: ``keep`` true
    leaves the mark, else ``points`` is what the question counts from now on; ``reply`` is
    what the student reads. Never waits for the folder's lock. The queue as it is then.

    Raises:
        RequestBusy: another command writes the grades folder now; nothing was recorded.
        MarksError: an unknown alias, neither or both of keep and points, no reply, no open
            request, points outside the question's, a written answer not marked yet.
    """
    alias, question = data.get("alias"), data.get("question")
    if alias not in session.named or not isinstance(question, str):
        raise MarksError(f"no hand-in {alias!r} with a request; reload the queue")
    keep, points = data.get("keep") is True, data.get("points")
    if keep == (points is not None):
        raise MarksError("answer by keeping the mark or by giving points, not both")
    if points is not None:
        if isinstance(points, bool) or not isinstance(points, int | float | str):
            raise MarksError(f"{points!r} is not a number of points")
        try:
            points = float(points)
        except ValueError:
            raise MarksError(f"{points!r} is not a number of points") from None
    reply = data.get("reply")
    if not isinstance(reply, str) or not reply.strip():
        raise MarksError("an answer needs a reply: the student reads it")
    try:
        answer_request(session.store.folder, session.named[alias], question, points=points,
                       reply=reply, who=by, wait=False)  # fmt: skip
    except FolderBusy as busy:
        now = str(busy).split("; ")[0]  # who holds it, without the terminal's --wait
        raise RequestBusy(f"{now}; nothing was recorded: the reply stays here, send it again "
                          "once that command ends") from None  # fmt: skip
    except ValueError as error:  # said with the student's name: told by alias
        raise MarksError(str(error).replace(session.named[alias], alias)) from None
    return request_queue(session)
