"""With the hand-written sandbox, a grader forked by `kws grade`'s zygote has its grading children
forked by the zygote too (`kws.grading.sandbox.forked`): each must be what a new interpreter
would have been (folder, environment, paths, arguments, hash seed, threads, descriptors, the kit
from its copy, the same protections), end the same ways (exit code, signal, time-out, output),
and a grader that no zygote forked starts its children afresh."""

import json
import os
import re
import socket
import textwrap

import pytest

from kws.grading.sandbox import forked
from kws.grading.zygote import Zygote, available

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
    options = dict(submission=submission, inputs=None, gpu=False, hide=[], isolate=True,
                   readable=[], assignment=None)
    outcomes = {}
    for name, code in [("probe", probe), *endings.items()]:
        limits = Limits(wall_seconds=6 if name == "sleep" else 120, threads=1)
        for fork in (True, False):
            result = run._run_child(["-c", code, "{result}"], fork=fork, limits=limits, **options)
            outcomes[f"{name} {fork}"] = {
                "status": result.status, "reason": result.reason, "returncode": result.returncode,
                "payload": result.payload, "protections": result.protections,
                "stdout": result.stdout_tail, "stderr": result.stderr_tail,
            }
    outcomes["forker"] = run.forked.forker() is not None
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
    env = dict(
        os.environ,
        KWS_SANDBOX="builtin",
        CHILDREN=json.dumps([textwrap.dedent(PROBE), ENDINGS]),
        SUBMISSION=str(root / "submission"),
        OUTCOMES=str(root / "outcomes.json"),
    )
    with Zygote(env) as zygote:
        code = zygote.run(
            [str(root / "grader"), "-q", "-p", "no:cacheprovider"],
            cwd=root,
            log=root / "log.txt",
            env=env,
            timeout=600,
        )
    assert code == 0, (root / "log.txt").read_text()[-3000:]
    return json.loads((root / "outcomes.json").read_text())


def test_the_grader_forked_by_the_zygote_can_fork_its_children(outcomes):
    assert outcomes["forker"]
    assert outcomes["probe True"]["payload"]["preloaded"]  # torch came with the fork
    assert not outcomes["probe False"]["payload"]["preloaded"]  # a new interpreter imports it


def test_a_forked_child_sees_what_a_new_interpreter_would(outcomes):
    seen = {fork: json.loads(outcomes[f"probe {fork}"]["payload"]["facts"]) for fork in (True, False)}
    forked_, fresh = seen[True], seen[False]
    assert forked_["kit"] and forked_["name"] == "__main__" and forked_["bytecode"]
    assert forked_["fds"] == fresh["fds"] == [0, 1, 2, 3]  # no channel of the zygote's is left
    assert forked_["argv"] == [os.path.join(forked_["cwd"], "result.json")]
    for key in ("hash", "threads", "bytecode", "kit", "name"):
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


def test_only_a_socket_to_the_parent_is_taken_for_the_zygote(monkeypatch):
    """A process started afresh may inherit the variable without the descriptor: a descriptor
    that is not a socket pair with the parent process is not used."""
    read, write = os.pipe()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        for value in (str(read), str(ours.fileno()), "999", "not a number"):
            monkeypatch.setenv(forked.FORKER_ENV, value)
            assert forked.forker() is None, value  # the pair's peer is this process, not its parent
        os.fstat(read), os.fstat(ours.fileno())  # and what was looked at stays open
    finally:
        os.close(read), os.close(write)
        ours.close(), theirs.close()
