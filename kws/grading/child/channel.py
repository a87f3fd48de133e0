"""The grading child's result channel, opened before any student code runs: it binds every
function the final write needs while they are genuine, and `send` ends the process with
``os._exit``, so that nothing of the notebook can rewrite the result afterwards.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


class ResultChannel:
    """The one way a payload leaves the grading child; open it before running student code."""

    def __init__(self, fd: int, token: str):
        self._fd, self._token = fd, token
        self._encode = json.JSONEncoder(allow_nan=False, ensure_ascii=True).encode
        self._write, self._fsync, self._exit = os.write, os.fsync, os._exit

    @classmethod
    def open(cls, path: Path, token: str | None = None) -> ResultChannel:
        """Read the token (first line of stdin unless given) and create `path` for the result."""
        token = sys.stdin.readline().strip() if token is None else token
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        return cls(os.open(path, flags, 0o600), token)

    def send(self, payload: dict) -> None:
        """Write the envelope and end the process (exit status 0); never returns."""
        try:
            data = self._encode({"token": self._token, "payload": payload}).encode()
        except ValueError as error:  # NaN or a value JSON cannot hold: say so, still exit
            data = self._encode({"token": self._token, "payload": {"unencodable": str(error)}})
            data = data.encode()
        view = memoryview(data)
        while view:
            view = view[self._write(self._fd, view) :]
        self._fsync(self._fd)
        self._exit(0)
