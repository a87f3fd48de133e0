"""Grading children forked from a process that imported torch, instead of started afresh.

A grading child's Python imports torch before it can do anything: two to three CPU-seconds, half
of what grading a small hand-in costs. With the hand-written sandbox, `kws grade` starts one
*child zygote* for the class (`ChildZygote`): a Python with the children's own scrubbed
environment that imports torch and the libraries the children use, then only forks. A grader
that wants a child connects to its socket (the path in `FORKER_ENV`) and sends the launcher's
spec and the command with the child's standard streams; the fork runs the launcher's lock-down
(`kws.grading.sandbox.launch`: namespaces, hidden paths, limits, user id) and then becomes the
command in place (`launch.become`: the kit's modules imported afresh from the child's copy).

The zygote never sees a hand-in, the labels or the instructor's environment: it imports, and
forks on request; its socket's folder is private to the grader's user and hidden from every
child. Everything else is as before: the grader reads the child's output through pipes of its
own, feeds it the token, enforces the wall clock and ends its session and user id; the zygote
reports how the child ended and its CPU time. Bubblewrap starts its sandbox by executing a
program, so its children start afresh as before; so do children that need the GPU, an
assignment from outside the kit, a command other than ``python -m MODULE`` / ``-c CODE``, and
every child when the zygote is gone.

The protocol, one SOCK_SEQPACKET connection a child: ``{"spec": PATH, "command": [...]}`` with
three descriptors (the child's stdin, stdout, stderr); ``{"pid": N}`` once forked, then
``{"exit": CODE, "cpu": SECONDS}`` once it has ended (CODE as `os.waitstatus_to_exitcode`).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from kws.grading.sandbox import launch

FORKER_ENV = "KWS_CHILD_FORKER"  # the child zygote's socket, for the graders
MESSAGE_BYTES = 65536
CRASH_CODE = 70  # the fork failed before the command ran (os.EX_SOFTWARE)
REAP_SECONDS = 0.05  # how often the zygote looks for ended children while some run
# The libraries a grading child imports (its `kws` modules it imports itself, from its copy).
PRELOAD = ("torch", "torchaudio", "numpy", "nbformat", "IPython.core.inputtransformer2")


class ForkerGone(RuntimeError):
    """The zygote cannot fork this child (gone, or never there): start it afresh."""


def forker() -> str | None:
    """The child zygote's socket this grader was given, or None."""
    return os.environ.get(FORKER_ENV) or None


def forkable(args: list[str]) -> bool:
    """Whether ``python ARGS`` can be become in a fork (`kws.grading.sandbox.launch.become`):
    ``-m MODULE ...`` or ``-c CODE ...``, not a script."""
    return args[0] in ("-m", "-c") and len(args) > 1


def start(path: str, spec: str, command: list[str]) -> tuple[int, socket.socket, tuple]:
    """Ask the zygote at `path` for the child; returns (pid, the connection, (stdin writer,
    stdout reader, stderr reader)). ForkerGone when the zygote does not answer."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pipes = [os.pipe() for _ in range(3)]
    theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
    try:
        connection.connect(path)
        message = json.dumps({"spec": spec, "command": command}).encode()
        socket.send_fds(connection, [message], theirs)
        reply = connection.recv(MESSAGE_BYTES)
    except OSError as error:
        reply, why = b"", str(error)
    else:
        why = "it closed the connection"
    finally:
        for fd in theirs:
            os.close(fd)
    if not reply:
        for fd in (pipes[0][1], pipes[1][0], pipes[2][0]):
            os.close(fd)
        connection.close()
        raise ForkerGone(f"the child zygote did not fork the grading child ({why})")
    return int(json.loads(reply)["pid"]), connection, (pipes[0][1], pipes[1][0], pipes[2][0])


def ended(connection: socket.socket, timeout: float | None) -> tuple[int, float] | None:
    """(exit code, CPU seconds) once the child has ended; None when `timeout` passed first.
    ForkerGone when the zygote died meanwhile."""
    connection.settimeout(timeout)
    try:
        reply = connection.recv(MESSAGE_BYTES)
    except TimeoutError:
        return None
    if not reply:
        raise ForkerGone("the child zygote ended while the grading child ran")
    message = json.loads(reply)
    return int(message["exit"]), float(message["cpu"])


class ChildZygote:
    """The child zygote of one `kws grade` run: `path` is its socket (give it to the graders as
    `FORKER_ENV`, and hide `folder` from every child). Close it to let it exit."""

    def __init__(self, python: str = sys.executable):
        self.folder = Path(tempfile.mkdtemp(prefix="kws-forker-"))  # mode 0700: ours alone
        self.path = str(self.folder / "socket")
        kit = str(Path(__file__).resolve().parents[3])  # where `kws` is importable from
        environment = {  # the children's kind of environment, nothing of the instructor's
            "PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.folder),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",  # the children's fixed seed
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": kit,
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "CUDA_VISIBLE_DEVICES": "",  # children that need the GPU start afresh
        }
        flags = ["-P", "-s"] if sys.version_info >= (3, 11) else ["-s"]
        self._process = subprocess.Popen(
            [python, *flags, "-m", "kws.grading.sandbox.forked", self.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=environment,
            cwd=self.folder,
        )
        deadline = time.monotonic() + 30  # its socket is bound before it imports anything large
        while not os.path.exists(self.path) and self._process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)

    def __enter__(self) -> ChildZygote:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Let the zygote exit once its children have ended, and remove its folder."""
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()
        self._process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


# ---- the zygote process (python -m kws.grading.sandbox.forked SOCKET) ------------------------


def _run(request: dict, fds: list[int]) -> None:
    """In the fork: take the child's standard streams, close every other descriptor (the
    socket, other connections), lock down as the spec says and become the command; never
    returns."""
    code = CRASH_CODE
    try:
        os.setsid()  # its own session and process group: the grader's kill reaches all it starts
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for source, target in zip(fds, (0, 1, 2), strict=True):
            os.dup2(source, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        launch.main([request["spec"], "--", *request["command"]], start=launch.become)
    except BaseException:
        traceback.print_exc()
    finally:
        launch.exit_flushed(code)


def _send(connection: socket.socket, message: dict) -> None:
    with contextlib.suppress(OSError):  # a grader that has gone is not the zygote's problem
        connection.send(json.dumps(message).encode())


def _fork(connection: socket.socket, children: dict) -> None:
    """Fork the child one connection asks for; a connection that is not a grader's request (another
    user, no descriptors) is closed unanswered."""
    try:
        peer = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        connection.settimeout(10)  # a grader sends its request at once: a silent one is dropped
        data, fds, _, _ = socket.recv_fds(connection, MESSAGE_BYTES, 3)
        connection.settimeout(None)
    except OSError:
        connection.close()
        return
    if int.from_bytes(peer[4:8], sys.byteorder) != os.getuid() or len(fds) != 3 or not data:
        for fd in fds:
            os.close(fd)
        connection.close()
        return
    pid = os.fork()
    if pid == 0:
        _run(json.loads(data), fds)
    for fd in fds:
        os.close(fd)
    children[pid] = connection
    _send(connection, {"pid": pid})


def serve(path: str) -> None:
    """Import the libraries, listen on `path`, fork a child per connection; return once standard
    input closes and every child has ended."""
    import importlib

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)  # first: graders that connect meanwhile wait in the backlog
    os.chmod(path, 0o600)
    listener.listen(64)
    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # a library the children will miss themselves
            importlib.import_module(name)
    children: dict[int, socket.socket] = {}
    closing = False
    for number in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C: the graders stop their children
        signal.signal(number, signal.SIG_IGN)
    while not closing or children:
        watched = [listener, *children.values()] + ([] if closing else [sys.stdin])
        ready, _, _ = select.select(watched, [], [], REAP_SECONDS if children else None)
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
            closing = True
        if listener in ready:
            with contextlib.suppress(OSError):
                _fork(listener.accept()[0], children)
        for pid, connection in list(children.items()):
            if connection in ready:  # its grader has gone (it sends nothing else): end the child
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        while children:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            connection = children.pop(pid, None)
            if connection is not None:
                cpu = usage.ru_utime + usage.ru_stime
                _send(connection, {"exit": os.waitstatus_to_exitcode(status), "cpu": cpu})
                connection.close()
    listener.close()


if __name__ == "__main__":
    serve(sys.argv[1])
