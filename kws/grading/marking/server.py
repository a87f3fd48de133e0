"""The marking page's server: the standard library's `ThreadingHTTPServer`, bound to 127.0.0.1,
answering only the person who started it (docs/how-to/mark.md).

A fresh token per start, kept in a cookie (``HttpOnly``, ``SameSite=Strict``) once the printed
address is opened; a change (POST) needs it in the ``X-KWS-Token`` header too, which a page of
another site cannot send without a CORS preflight, never granted here. A ``Host`` other than
``127.0.0.1:PORT`` or ``localhost:PORT`` (a DNS-rebinding site), or a POST from another origin,
is refused. Answers are rendered escaped (`kws.written.render`), and every response's
Content-Security-Policy runs this server's own files only (``/static/``).
"""

from __future__ import annotations

import hmac
import json
import secrets
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from kws.grading.marking.requests_api import RequestBusy, answer_from_page, request_queue
from kws.grading.marking.session import MarkingSession
from kws.grading.marking.shares import assign, shares
from kws.grading.records.marks.rubric import MarkConflict, MarksError
from kws.pages import STYLE, render
from kws.written.render import code_styles

STATIC = Path(__file__).resolve().parent / "static"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)
"""The page's Content-Security-Policy, in its ``<meta>`` too: the server's files only."""
CSP = f"{PAGE_CSP}; frame-ancestors 'none'"
"""Every response's (a ``<meta>`` policy cannot say ``frame-ancestors``)."""
MOST_BODY = 64 * 1024  # bytes of a POST: a mark, a rubric item
_FILES = {
    "/static/cards.js": ("cards.js", "text/javascript; charset=utf-8"),
    "/static/notebook.js": ("notebook.js", "text/javascript; charset=utf-8"),
    "/static/comments.js": ("comments.js", "text/javascript; charset=utf-8"),
    "/static/shares.js": ("shares.js", "text/javascript; charset=utf-8"),
    "/static/mark.js": ("mark.js", "text/javascript; charset=utf-8"),
    "/static/mark.css": ("mark.css", "text/css; charset=utf-8"),
    "/static/requests.js": ("requests.js", "text/javascript; charset=utf-8"),
    "/static/requests.css": ("requests.css", "text/css; charset=utf-8"),
}


class MarkServer(ThreadingHTTPServer):
    """The marking page of `session` on 127.0.0.1:`port` (0: a free port), with a fresh token.

    Attributes:
        session: the `MarkingSession` the page reads and changes.
        token: this start's token.
        port: the port bound.
        url: the address to open (it carries the token).
    """

    daemon_threads = True

    def __init__(self, session: MarkingSession, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.session = session
        self.token = secrets.token_urlsafe(32)
        self.port = self.server_address[1]
        self.cookie = f"kws_mark_{self.port}"
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self.origins = {f"http://{host}" for host in self.hosts}
        self.page = render("mark.html", token=self.token, policy=PAGE_CSP)
        self.files = {
            path: ((STATIC / name).read_bytes(), kind) for path, (name, kind) in _FILES.items()
        }
        self.files["/static/code.css"] = (code_styles(".code").encode(), "text/css; charset=utf-8")
        # the kit's one page style (the reports, the feedback pages), under the page's own
        self.files["/static/kit.css"] = (STYLE.encode(), "text/css; charset=utf-8")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"


class _Handler(BaseHTTPRequestHandler):
    server: MarkServer
    protocol_version = "HTTP/1.1"
    server_version = "kws-mark"
    sys_version = ""

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        return  # the marks have their own history; requests are not logged

    # ---- the checks ---------------------------------------------------------------------------

    def _host_ok(self) -> bool:
        return self.headers.get("Host", "") in self.server.hosts

    def _cookie_ok(self) -> bool:
        try:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return False
        morsel = cookie.get(self.server.cookie)
        return morsel is not None and hmac.compare_digest(morsel.value, self.server.token)

    def _same_origin(self) -> bool:
        origin = self.headers.get("Origin")
        site = self.headers.get("Sec-Fetch-Site")
        token = self.headers.get("X-KWS-Token", "")
        return (
            (origin is None or origin in self.server.origins)
            and site in (None, "same-origin", "none")
            and hmac.compare_digest(token, self.server.token)
        )

    # ---- the verbs ----------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if not self._host_ok():
            return self._refuse(403, "this page answers at 127.0.0.1 only")
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/" and "token" in query:
            if not hmac.compare_digest(query["token"][0], self.server.token):
                return self._refuse(403, "this is not the token kws mark printed")
            cookie = f"{self.server.cookie}={self.server.token}; HttpOnly; SameSite=Strict; Path=/"
            return self._send(303, b"", "text/plain", {"Location": "/", "Set-Cookie": cookie})
        if not self._cookie_ok():
            return self._refuse(403, "open the address kws mark printed (it carries the token)")
        session = self.server.session
        try:
            if url.path == "/":
                return self._send(200, self.server.page.encode(), "text/html; charset=utf-8")
            if url.path in self.server.files:
                return self._send(200, *self.server.files[url.path])
            key = query.get("key", [""])[0]
            if url.path in ("/api/questions", "/api/marks"):
                session.reread()  # a regrade while the page is open: its generation says so
            answers = {
                "/api/questions": session.questions,
                "/api/question": lambda: session.question(key),
                "/api/marks": lambda: session.marks(key),
                "/api/names": session.names,
                "/api/context": lambda: session.context(key, query.get("alias", [""])[0]),
                "/api/notebook": lambda: session.notebook(query.get("alias", [""])[0]),
                "/api/comments": lambda: session.library(key),
                "/api/shares": lambda: shares(session),
                "/api/requests": lambda: request_queue(session),
            }
            if url.path in answers:
                generation = {"X-KWS-Generation": str(session.generation)}
                return self._json(200, answers[url.path](), generation)
        except MarksError as error:
            return self._json(404, {"error": str(error)})
        return self._refuse(404, "no such page")

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.close_connection = True  # a refused body is never read: no second request follows
        if not (self._host_ok() and self._cookie_ok() and self._same_origin()):
            return self._refuse(403, "a change needs this page's token, from this page")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        kind = self.headers.get("Content-Type", "").split(";")[0].strip()
        if kind != "application/json" or not 0 < length <= MOST_BODY:
            return self._refuse(400, "send one JSON object of up to 64 KiB")
        try:
            data = json.loads(self.rfile.read(length))
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            return self._json(400, {"error": "the body is not a JSON object"})
        session = self.server.session
        by = data.get("grader") if isinstance(data.get("grader"), str) else ""
        by = by.strip()[:100] or session.grader
        try:
            if self.path == "/api/mark":
                return self._json(200, {"marks": session.save(data, by=by)})
            if self.path == "/api/unmark":
                return self._json(200, {"marks": session.unmark(data, by=by)})
            if self.path == "/api/rubric":
                return self._json(200, session.change_rubric(data, by=by))
            if self.path == "/api/comment":
                return self._json(200, session.save_comment(data, by=by))
            if self.path == "/api/share":
                return self._json(200, assign(session, data, by=by))
            if self.path == "/api/requests/answer":
                return self._json(200, answer_from_page(session, data, by=by))
        except RequestBusy as busy:  # another command holds the folder: try again later
            return self._json(423, {"error": str(busy), "busy": True})
        except MarkConflict as conflict:  # its message and marks by alias (the session's)
            marks = session.marks(str(data.get("key")))
            return self._json(
                409, {"error": str(conflict), "marks": {a: marks[a] for a in conflict.current}}
            )
        except MarksError as error:
            return self._json(400, {"error": str(error)})
        return self._refuse(404, "no such change")

    def _not_allowed(self) -> None:
        self._refuse(405, "only GET and POST")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # no CORS preflight is granted

    # ---- answers ------------------------------------------------------------------------------

    def _json(self, status: int, data, headers: dict | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _refuse(self, status: int, why: str) -> None:
        self._send(status, f"{status}: {why}\n".encode(), "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in {
            "Content-Type": kind,
            "Content-Length": str(len(body)),
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            **(headers or {}),
        }.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
