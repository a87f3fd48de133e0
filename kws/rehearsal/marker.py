"""A stand-in person marks the rehearsal's written answers, through `kws mark`'s own page.

    marked = mark_class(grades, solutions, stories)   # {question: answers marked}

`kws mark`'s server (`kws.grading.marking.server.MarkServer`) starts on a free port of
127.0.0.1 and is asked as the page's own script asks it, with its cookie and token: the
questions, each question's answers and rubric, then one mark an answer. So the rehearsal
exercises what a person's marks go through — the server's checks, the sealed store, its
history — and the marks reach the standings by the next ``kws season`` as a person's do.

The class hands in the reference's notebooks, so every answer is the model answer: the stand-in
gives each every rubric item that gives points (an item that takes points off names a mistake the
model answer does not make), except the student who left a TODO (`TODO_STORY`), whose answers get
the first of those only and a comment (an answer left blank: no item). Nothing here chooses by
assignment or question name.
"""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path
from urllib.parse import quote

from kws.grading.marking.collect import course_questions
from kws.grading.marking.server import MarkServer
from kws.grading.marking.session import MarkingSession
from kws.rehearsal.stories import Story

MARKER_NAME = "rehearsal"  # who marked, in the marks' records
TODO_STORY = "todo"  # the story whose answers the stand-in marks down
COMMENT = "Says the first point; the rest is missing (a comment by the stand-in marker)."


class _Client:
    """Requests to `server` as its page makes them: its host, origin, cookie and token."""

    def __init__(self, server: MarkServer):
        self.server = server

    def ask(self, method: str, path: str, body: dict | None = None):
        port, token = self.server.port, self.server.token
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Host": f"127.0.0.1:{port}", "Cookie": f"{self.server.cookie}={token}"}
        if body is not None:
            headers |= {"Content-Type": "application/json", "X-KWS-Token": token,
                        "Origin": f"http://127.0.0.1:{port}"}  # fmt: skip
        try:
            connection.request(method, path, json.dumps(body) if body else None, headers)
            response = connection.getresponse()
            status, data = response.status, json.loads(response.read())
        finally:
            connection.close()
        if status != 200:
            raise RuntimeError(f"kws mark's page answered {method} {path} with {status}: {data}")
        return data


def mark_class(grades: Path, solutions: Path, stories: list[Story]) -> dict[str, int]:
    """Mark every answer of every written question of `grades`' class as the module docstring
    says, through the marking page; {question key: answers marked} ({} when the course's
    notebooks ask no written question)."""
    if not course_questions(Path(solutions)):
        return {}
    session = MarkingSession(Path(grades), solutions=Path(solutions), grader=MARKER_NAME)
    marked_down = {s.student for s in stories if s.mistake == TODO_STORY}
    server = MarkServer(session)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    marked: dict[str, int] = {}
    try:
        client = _Client(server)
        names = client.ask("GET", "/api/names")  # alias -> student, the same for every question
        for question in client.ask("GET", "/api/questions"):
            key = question["key"]
            asked = client.ask("GET", f"/api/question?key={quote(key)}")
            items = [item["id"] for item in asked["items"] if item["points"] > 0]
            for answer in asked["answers"]:
                down = names[answer["alias"]] in marked_down
                given = items[:1] if down else items
                given = given if answer["answered"] else []  # no answer: 0 points on purpose
                body = {"key": key, "aliases": [answer["alias"]], "comment": COMMENT if down
                        else "", "items": given, "zero": not given}  # fmt: skip
                client.ask("POST", "/api/mark", body)
                marked[key] = marked.get(key, 0) + 1
    finally:
        server.shutdown()
        server.server_close()
    return marked
