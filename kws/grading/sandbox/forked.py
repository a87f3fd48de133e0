"""Grading children forked from `kws grade`'s zygote instead of started afresh.

A grading child's Python imports torch before it can do anything (two to three CPU-seconds, most
of what grading a small hand-in costs). `kws grade` already forks each student's grader from a
zygote that imported torch once (`kws.grading.zygote`); with the hand-written sandbox the
grader's children come from that zygote too: the grader asks it over a socket of its own
(`FORKER_ENV` names it), the zygote forks, and the fork runs the launcher's lock-down
(`kws.grading.sandbox.launch`: namespaces, hidden paths, limits, user id) and then becomes the
child's command in place (`launch.become`) instead of executing a new interpreter. The zygote
imported, never graded: nothing of any student's or of the hidden labels is in its memory.

Everything else is as before: the grader gives the child its standard input, output and error
(pipes it reads itself), enforces the wall clock and ends the child's session and user id; the
zygote reports how the child ended and its CPU time. Bubblewrap starts its sandbox by executing
a program, so its children are started afresh as before; so are children that need the GPU, an
assignment from outside the kit, or a command other than ``python -m MODULE`` / ``-c CODE``.

The protocol, on a SOCK_SEQPACKET socket pair per grader: the grader sends
``{"spec": PATH, "command": [...]}`` with four descriptors (the child's stdin, stdout, stderr,
and a socket for the replies about this child); the zygote answers ``{"pid": N}`` on that socket
once forked, ``{"exit": CODE, "cpu": SECONDS}`` once the child has ended, and closes it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import traceback

FORKER_ENV = "KWS_CHILD_FORKER"  # the grader's end of its socket to the zygote (a descriptor)
MESSAGE_BYTES = 65536
CRASH_CODE = 70  # the fork failed before the command ran (os.EX_SOFTWARE)


class ForkerGone(RuntimeError):
    """The zygote cannot fork this child (gone, or never there): start it afresh."""


def forker() -> socket.socket | None:
    """This grader's socket to the zygote that forked it, or None (not forked by one, or the
    descriptor is not that socket: a process started afresh may inherit the variable alone)."""
    value = os.environ.get(FORKER_ENV, "")
    if not value.isdigit():
        return None
    try:
        sock = socket.socket(fileno=int(value))
    except OSError:
        return None
    try:
        ok = sock.family == socket.AF_UNIX and sock.type == socket.SOCK_SEQPACKET
        if ok:  # the peer must be the process that forked this one: the zygote
            credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            ok = int.from_bytes(credentials[:4], "little") == os.getppid()
    except OSError:
        ok = False
    sock.detach()  # the descriptor stays open for the next child; this object must not close it
    return socket.socket(fileno=os.dup(int(value))) if ok else None


def forkable(command: list[str]) -> bool:
    """Whether `command` (``python [FLAGS] -m MODULE ...`` or ``-c CODE ...``) can be become in
    a fork (`kws.grading.sandbox.launch.become`)."""
    return any(arg in ("-m", "-c") for arg in command[1:-1])


def start(sock: socket.socket, spec: str, command: list[str]) -> tuple[int, socket.socket, tuple]:
    """Ask the zygote for the child; returns (pid, the replies' socket, (stdin writer, stdout
    reader, stderr reader)). ForkerGone when the zygote does not answer."""
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    message = json.dumps({"spec": spec, "command": command}).encode()
    try:
        socket.send_fds(sock, [message], [stdin_r, out_w, err_w, theirs.fileno()])
        reply = ours.recv(MESSAGE_BYTES)
    except OSError as error:
        reply, gone = b"", error
    else:
        gone = "it closed the socket"
    finally:
        for fd in (stdin_r, out_w, err_w):
            os.close(fd)
        theirs.close()
    if not reply:
        for fd in (stdin_w, out_r, err_r):
            os.close(fd)
        ours.close()
        raise ForkerGone(f"the zygote did not fork the grading child ({gone})")
    return int(json.loads(reply)["pid"]), ours, (stdin_w, out_r, err_r)


def ended(replies: socket.socket, timeout: float | None) -> tuple[int, float] | None:
    """(exit code as os.waitstatus_to_exitcode gives it, CPU seconds) once the child has ended;
    None when `timeout` passed first. ForkerGone when the zygote died meanwhile."""
    replies.settimeout(timeout)
    try:
        reply = replies.recv(MESSAGE_BYTES)
    except TimeoutError:
        return None
    if not reply:
        raise ForkerGone("the zygote ended while the grading child ran")
    message = json.loads(reply)
    return int(message["exit"]), float(message["cpu"])


# ---- in the zygote -------------------------------------------------------------------------


def receive(sock: socket.socket) -> tuple[dict, list[int]] | None:
    """One request of a grader: (message, descriptors), or None when the grader has gone."""
    try:
        data, fds, _, _ = socket.recv_fds(sock, MESSAGE_BYTES, 4)
    except OSError:
        return None
    if not data:
        for fd in fds:
            os.close(fd)
        return None
    if len(fds) != 4:
        for fd in fds:
            os.close(fd)
        raise ValueError("a grading child's request came without its four descriptors")
    return json.loads(data), fds


def run_child(request: dict, fds: list[int]) -> None:
    """In the zygote's fork: take the child's standard streams, close every other descriptor the
    zygote had (its channels to the batch and to every grader), lock down as the spec says and
    become the command; never returns."""
    code = CRASH_CODE
    try:
        os.setsid()  # its own session and process group: the grader's kill reaches all it starts
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for source, target in zip(fds[:3], (0, 1, 2), strict=True):
            os.dup2(source, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        from kws.grading.sandbox import launch

        launch.main([request["spec"], "--", *request["command"]], start=launch.become)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def reply(sock: socket.socket, message: dict) -> None:
    """Tell the grader about its child; a grader that has gone is not an error."""
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass
