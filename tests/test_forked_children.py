"""With the hand-written sandbox, `kws grade`'s graders have their grading children forked by a
child zygote that imported torch (`kws.grading.sandbox.forked`): each must be what a new
interpreter would have been (folder, environment, paths, arguments, hash seed, threads,
descriptors, the kit from its copy, the same protections, the zygote's socket out of sight), end
the same ways (exit code, signal, time-out, output), and a grader whose zygote is gone starts
its children afresh."""

import json
import os
import re
import socket
import stat
import subprocess
import sys
import textwrap

import pytest

from kws.grading.sandbox.forked import FORKER_ENV, ChildZygote
from kws.grading.zygote import available

pytestmark = pytest.mark.skipif(not available(), reason="graders are forked on Linux only")

# What the child reports of itself, through the result channel (token on stdin, result file).
PROBE = """
import hashlib, json, os, sys, tempfile
preloaded = "torch" in sys.modules
token = sys.stdin.readline().strip()
import torch
import kws
facts = {
    "cwd": os.getcwd(),
    "env": dict(os.environ),
    "path0": sys.path[0],
    "argv": sys.argv[1:],
    "hash": hash("a string's hash depends on the seed"),
    "bytecode": sys.dont_write_bytecode,
    "tmp": tempfile.gettempdir(),
    "threads": torch.get_num_threads(),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "kit": os.path.dirname(kws.__file__) == os.path.join(sys.path[0], "kws"),
    "uid": os.getuid(),
    "name": __name__,
    "socket_seen": os.path.exists(sys.argv[2]),
}
print("to stdout")
print("to stderr", file=sys.stderr)
with open(sys.argv[1], "w") as f:
    json.dump({"token": token, "payload": {"facts": json.dumps(facts), "preloaded": preloaded}}, f)
"""

ENDINGS = {  # child code -> how it ends
    "exit": "import sys; sys.exit(3)",
    "raise": "raise ValueError('a student error')",
    "signal": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    "sleep": "import time; time.sleep(60)",
}

# A grader of its own (a conftest.py): it runs each child through `run_child` (forked where it
# can be) and through a start afresh, and writes both outcomes to OUTCOMES.
GRADER = """
import json, os
from pathlib import Path
from kws.grading.sandbox import run
from kws.grading.sandbox.run import Limits

def pytest_configure(config):
    probe, endings = json.loads(os.environ["CHILDREN"])
    submission = Path(os.environ["SUBMISSION"])
    socket = os.environ["KWS_CHILD_FORKER"]
    options = dict(submission=submission, inputs=None, gpu=False, hide=[], isolate=True,
                   readable=[], assignment=None)
    outcomes = {}
    for name, code in [("probe", probe), *endings.items()]:
        limits = Limits(wall_seconds=6 if name == "sleep" else 120, threads=1)
        for fork in (True, False):
            entry = ["-c", code, "{result}", socket]
            result = run.run_child(entry, fork=fork, limits=limits, **options)
            outcomes[f"{name} {fork}"] = {
                "status": result.status, "reason": result.reason, "returncode": result.returncode,
                "payload": result.payload, "protections": result.protections,
                "stdout": result.stdout_tail, "stderr": result.stderr_tail,
            }
    os.environ["KWS_CHILD_FORKER"] = socket + ".gone"  # as if the zygote had died
    result = run.run_child(["-c", probe, "{result}", socket], limits=Limits(), **options)
    outcomes["gone"] = {"status": result.status, "payload": result.payload}
    Path(os.environ["OUTCOMES"]).write_text(json.dumps(outcomes))
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict:
    """Each child, forked by the zygote and started afresh, in the hand-written sandbox."""
    root = tmp_path_factory.mktemp("forked")
    (root / "grader").mkdir()
    (root / "grader" / "conftest.py").write_text(textwrap.dedent(GRADER))
    (root / "grader" / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    (root / "submission").mkdir()
    (root / "submission" / "notes.txt").write_text("a hand-in\n")
    with ChildZygote() as children:
        env = dict(
            os.environ,
            KWS_SANDBOX="builtin",
            CHILDREN=json.dumps([textwrap.dedent(PROBE), ENDINGS]),
            SUBMISSION=str(root / "submission"),
            OUTCOMES=str(root / "outcomes.json"),
            **{FORKER_ENV: children.path},
        )
        grader = [
            sys.executable,
            "-m",
            "pytest",
            str(root / "grader"),
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        run = subprocess.run(grader, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert not children.folder.exists()  # the socket's folder goes with the zygote
    return json.loads((root / "outcomes.json").read_text())


def test_the_child_zygote_forks_children_with_torch_imported(outcomes):
    assert outcomes["probe True"]["payload"]["preloaded"]  # torch came with the fork
    assert not outcomes["probe False"]["payload"]["preloaded"]  # a new interpreter imports it


def test_a_grader_whose_zygote_is_gone_starts_its_children_afresh(outcomes):
    assert outcomes["gone"]["status"] == "ok"
    assert not outcomes["gone"]["payload"]["preloaded"]


def test_a_forked_child_sees_what_a_new_interpreter_would(outcomes):
    seen = {
        fork: json.loads(outcomes[f"probe {fork}"]["payload"]["facts"]) for fork in (True, False)
    }
    forked_, fresh = seen[True], seen[False]
    assert forked_["kit"] and forked_["name"] == "__main__" and forked_["bytecode"]
    assert not forked_["socket_seen"] and not fresh["socket_seen"]  # its folder is hidden
    assert forked_["fds"] == fresh["fds"] == [0, 1, 2, 3]  # no channel of the zygote's is left
    assert forked_["argv"][0] == os.path.join(forked_["cwd"], "result.json")
    for key in ("hash", "threads", "bytecode", "kit", "name", "socket_seen"):
        assert forked_[key] == fresh[key], key
    if os.geteuid() == 0:  # each child has a user id of its own
        assert forked_["uid"] != 0 and fresh["uid"] != 0
    else:
        assert forked_["uid"] == fresh["uid"] == os.getuid()
    # the folders differ (each child has its own); relative to it, everything is the same
    for key in ("env", "path0", "tmp", "argv"):
        assert json.dumps(forked_[key]).replace(forked_["cwd"], "WORK").replace(
            forked_["path0"], "LIB"
        ) == json.dumps(fresh[key]).replace(fresh["cwd"], "WORK").replace(fresh["path0"], "LIB"), (
            key
        )
    protections = [
        [re.sub(r"user id \d+", "user id N", p) for p in outcomes[f"probe {fork}"]["protections"]]
        for fork in (True, False)
    ]
    assert protections[0] == protections[1]
    for stream, text in (("stdout", "to stdout"), ("stderr", "to stderr")):
        assert outcomes["probe True"][stream].strip() == text


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_a_forked_child_ends_as_a_new_one_would(outcomes, ending):
    forked_, fresh = outcomes[f"{ending} True"], outcomes[f"{ending} False"]
    for key in ("status", "reason", "returncode"):
        assert forked_[key] == fresh[key], key
    expected = {"exit": "crashed", "raise": "crashed", "signal": "killed", "sleep": "timeout"}
    assert forked_["status"] == expected[ending]
    if ending == "raise":
        assert "ValueError: a student error" in forked_["stderr"]


def test_the_child_zygote_keeps_its_socket_private_and_answers_only_a_childs_request(tmp_path):
    """Its socket is in a folder only the grader's user can enter, and a connection that brings
    no child's streams is closed unanswered."""
    with ChildZygote() as children:
        assert stat.S_IMODE(children.folder.stat().st_mode) == 0o700
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
            connection.connect(children.path)
            connection.send(b'{"spec": "/nowhere", "command": ["python", "-c", "pass"]}')
            connection.settimeout(30)
            assert connection.recv(100) == b""
