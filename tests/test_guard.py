"""What the grading child's notebook must not change: the standard library, threads, hooks."""

import atexit
import builtins
import json
import os
import sys
import threading

import pytest

from kws.tracing import guard


@pytest.fixture(autouse=True)
def untraced():
    """Each test without the trace function and thread hook this process may have (coverage.py's,
    when CI measures the tiers' coverage), put back after it: a grading child, which the guard
    watches, starts with none, and the guard rightly reports one installed after its snapshot."""
    trace, hook = sys.gettrace(), getattr(threading, "_trace_hook", None)
    sys.settrace(None)
    threading.settrace(None)
    try:
        yield
    finally:
        threading.settrace(hook)
        sys.settrace(trace)


@pytest.fixture
def before():
    snapshot = guard.snapshot()
    assert guard.changes(snapshot) == []
    return snapshot


@pytest.mark.parametrize(
    ("owner", "name", "label"),
    [
        (builtins, "open", "builtins.open"),
        (json, "dump", "json.dump"),
        (json.JSONEncoder, "encode", "json.encoder.JSONEncoder.encode"),
        (os, "write", "os.write"),
        (os, "_exit", "os._exit"),
        (sys, "setprofile", "sys.setprofile"),
        (atexit, "register", "atexit.register"),
    ],
)
def test_replacing_a_standard_library_function_is_reported(before, owner, name, label):
    original = getattr(owner, name)
    setattr(owner, name, lambda *a, **k: None)
    try:
        assert f"{label} was replaced or changed by the notebook" in guard.changes(before)
    finally:
        setattr(owner, name, original)
    assert guard.changes(before) == []


def test_trace_functions_and_exit_handlers_are_reported_threads_are_not(before):
    """A thread is no evidence (a progress bar starts one); a trace function and the notebook's
    own exit handler are."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    notebook = {"handler": lambda: None}
    exec(compile("import atexit\natexit.register(handler)", "<model cell 1>", "exec"), notebook)
    atexit.register(print)  # a library's own handler (here: this test's) is not reported
    sys.settrace(lambda *a: None)
    try:
        found = guard.changes(before)
    finally:
        sys.settrace(None)
        atexit.unregister(notebook["handler"])
        atexit.unregister(print)
        stop.set()
        thread.join()
    assert not any("thread(s)" in line for line in found)
    assert "the notebook installed a trace function (sys.settrace)" in found
    assert "the notebook registered 1 atexit handler(s)" in found
    assert not any("thread" in line or "trace" in line for line in guard.changes(before))


def test_the_graders_own_profiler_is_not_a_change(before):
    def profiler(frame, event, arg):
        return None

    sys.setprofile(profiler)
    try:
        assert guard.changes(before, profiler_allowed=profiler) == []
        assert "installed a profiler function" in guard.changes(before)[0]
    finally:
        sys.setprofile(None)


def test_importing_common_libraries_after_the_snapshot_is_not_a_change():
    """matplotlib and IPython register atexit handlers of their own when imported by a notebook."""
    import subprocess

    code = (
        "from kws.tracing import guard\n"
        "before = guard.snapshot()\n"
        "import matplotlib.pyplot, IPython, torchaudio, tqdm, numpy\n"
        "print(guard.changes(before))\n"
    )
    # as a grading child runs: without coverage.py's tracer, which CI's runs hand down
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=env)  # fmt: skip
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
