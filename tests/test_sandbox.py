"""The sandbox: each hostile child is stopped, classified and reported, and the grader survives.

Every child here is a small script handed in as the "submission"; it runs through the same
launcher as a real grading child. On this machine the tests run as root, so the dedicated
unprivileged user, the namespaces and the process limit are all exercised.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from kws.grading.sandbox import allow, launch, run
from kws.grading.sandbox.run import ChildJob, run_child
from kws.grading.sandbox.supervise import Limits, check_json, python_command

IS_ROOT = os.geteuid() == 0
# Limits no child here comes near, even on a loaded machine twice as slow (one that imports torch
# or walks "/" takes seconds): a guard against a hang, never what a test judges. A test of a limit
# sets its own, on a child that never ends by itself.
LIMITS = Limits(wall_seconds=600, cpu_seconds=600, memory_bytes=2**30, processes=64)
REPORT = """
import json, sys
_TOKEN = sys.stdin.readline().strip()
def report(**payload):
    with open(sys.argv[2], "w") as f:
        json.dump({"token": _TOKEN, "payload": payload}, f)
"""


def _script(tmp_path, body: str) -> dict:
    """The child's script, handed to it as an input (the sandbox copies only a hand-in's
    notebooks and output files, so a script in the submission folder would not reach it)."""
    script = tmp_path / "child.py"
    script.write_text(REPORT + textwrap.dedent(body))
    return {"child.py": script}


ENTRY = ["{work}/child.py", "--result", "{result}"]


def _run(tmp_path, body: str, limits: Limits = LIMITS, **kwargs):
    submission = tmp_path / "submission"
    submission.mkdir(exist_ok=True)
    job = ChildJob(ENTRY, submission=submission, inputs=_script(tmp_path, body), limits=limits,
                   **kwargs)  # fmt: skip
    return run_child(job)


def _home(result) -> str:
    """Where the child's folder is, as a student reads it: at /home/student (or beside it) in
    its allow-list, or its folder on the machine where the OS refused the mounts (rewritten)."""
    return allow.child_home([]) if allow.ALLOW_LIST in result.protections else "work"


def _uid(result) -> int | None:
    for line in result.protections:
        if line.startswith("unprivileged user id "):
            return int(line.rsplit(" ", 1)[1])
    return None


def _processes_of(uid: int) -> list[int]:
    """Live processes of `uid` (zombies, already dead and awaiting reaping, do not count)."""
    return [
        int(p) for p in os.listdir("/proc") if p.isdigit() and _stat_uid(p) == uid and _alive(p)
    ]


def _alive(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def _stat_uid(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


@pytest.fixture
def public_dir():
    """A folder any user could read, as an instructor's data folder often is."""
    path = Path(tempfile.mkdtemp(prefix="kws-test-public-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_ok_child_returns_payload_with_scrubbed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KWS_SECRET_TOKEN", "do-not-leak")
    result = _run(tmp_path, "import os; report(env=sorted(os.environ), home=os.environ['HOME'])")
    assert result.status == "ok", result.reason + result.stderr_tail
    assert "KWS_SECRET_TOKEN" not in result.payload["env"]
    # Its own folder: at /home/student in its allow-list (aside where Python lives there: a
    # grader user named student), the sandbox's work/ where the OS refused the mounts.
    assert result.payload["home"] == _home(result)
    assert result.payload["env"] == sorted(result.payload["env"])
    if IS_ROOT:
        assert _uid(result) is not None
        assert any("no network" in p for p in result.protections)


def test_wall_clock_timeout_kills_the_child(tmp_path):
    """A child that never ends is stopped at its wall clock: its run takes what a child that
    ends at once takes on this machine now (copying, starting, reporting), and the limit."""
    at_once = _run(tmp_path, "report(done=True)").seconds
    limits = Limits(wall_seconds=1.5, cpu_seconds=600, memory_bytes=2**30)
    result = _run(tmp_path, "import time\nwhile True: time.sleep(0.1)", limits)
    assert result.status == "timeout"
    assert "wall-clock" in result.reason
    assert 1.5 < result.seconds < 1.5 + 3 * at_once + 5  # not much later than the limit


def test_cpu_limit_is_a_timeout(tmp_path):
    limits = Limits(wall_seconds=600, cpu_seconds=1, memory_bytes=2**30)  # the CPU's first
    result = _run(tmp_path, "while True: pass", limits)
    assert result.status == "timeout"
    assert "CPU-time" in result.reason


def test_crash_reports_the_last_error_line(tmp_path):
    result = _run(tmp_path, "raise RuntimeError('the model exploded')")
    assert result.status == "crashed"
    assert "RuntimeError: the model exploded" in result.reason
    assert result.payload is None


def test_a_child_the_machine_cannot_start_stops_grading_instead_of_blaming_the_hand_in(
    tmp_path, monkeypatch, sandbox
):
    """The sandbox starts the child's Python, and finds none where it looks (as once through a
    grader started by ``../venv/bin/python``): that is the grading machine's fault, raised for
    the instructor (`SandboxStartError`), never a crash reported to the student."""
    real = run.python_command

    def nowhere(args: list[str]) -> list[str]:  # the launcher starts, the child's Python not
        command = real(args)
        return (
            command if "kws.grading.sandbox.launch" in args else ["/nowhere/python", *command[1:]]
        )

    monkeypatch.setattr(run, "python_command", nowhere)
    with pytest.raises(run.SandboxStartError) as error:
        _run(tmp_path, "report(ran=True)")
    message = str(error.value)
    assert "/nowhere/python" in message and "No such file or directory" in message
    assert "cannot start a grading child on this machine" in message
    assert "no grade is given for it" in message


@pytest.mark.parametrize(
    "body",
    [
        f"import sys\nprint({launch.NOT_STARTED!r} + ': python: gone', file=sys.stderr)\nexit(1)",
        "import a_package_the_grader_lacks",
    ],
    ids=["says-the-sandbox-failed", "imports-what-is-missing"],
)
def test_a_child_that_only_looks_unstarted_is_the_hand_ins_crash(tmp_path, sandbox, body):
    """What a child prints can make the grader check the machine, never stop the class's
    grading: a child that started (the check starts one that imports the kit and torch) and
    ends as one that could not have is reported as the hand-in's crash."""
    result = _run(tmp_path, body)
    assert result.status == "crashed", result.reason + result.stderr_tail
    assert result.reason.startswith("exited with code 1")


def test_memory_bomb_is_reported_as_memory(tmp_path):
    result = _run(tmp_path, "hog = bytearray(8 * 2**30)")
    assert result.status == "memory"
    assert "out of memory" in result.reason


def _own_user_namespace_possible() -> bool:
    """Whether this non-root user can make a user namespace with its process count of its own
    (Linux 5.14+): the sandbox's process limit without root."""
    if not launch._counts_processes_per_namespace():
        return False
    probe = "import ctypes, os; os._exit(ctypes.CDLL(None, use_errno=True).unshare(0x10000000))"
    return subprocess.run([sys.executable, "-c", probe], timeout=30).returncode == 0


@pytest.mark.skipif(
    not IS_ROOT and not _own_user_namespace_possible(),
    reason="the process limit needs a dedicated user id (root) or, without root, a user "
    "namespace of the child's own on Linux 5.14 or later: neither is possible here",
)
def test_fork_bomb_is_contained_and_every_process_is_gone(tmp_path):
    body = """
    import os, time
    while True:
        try:
            if os.fork() == 0:
                os.setsid()  # try to escape the process group
        except OSError:
            time.sleep(0.01)
    """
    result = _run(tmp_path, body, Limits(wall_seconds=2, cpu_seconds=20, processes=32))
    assert result.status == "timeout"
    assert "32 processes/threads" in result.protections
    if IS_ROOT:
        assert _processes_of(_uid(result)) == []
    else:  # the bomb has the grader's id: its PID namespace ends every process it made
        assert any("own PID namespace" in line for line in result.protections)


@pytest.mark.skipif(not IS_ROOT, reason="cleaning up escaped processes needs a dedicated user id")
def test_background_process_left_behind_is_killed(tmp_path):
    body = """
    import os, subprocess
    subprocess.Popen(["sleep", "300"], start_new_session=True)
    report(done=True)
    """
    result = _run(tmp_path, body)
    assert result.status == "ok"
    assert _processes_of(_uid(result)) == []


@pytest.mark.skipif(
    not IS_ROOT and not _own_user_namespace_possible(),
    reason="the allow-list needs a mount namespace: root, or a user namespace of the child's own",
)
def test_a_python_where_the_childs_folder_appears_stays_visible(tmp_path, monkeypatch, sandbox):
    """A grader whose Python lives where the child's folder appears (a virtual environment in
    /home/student on a lab machine): the child's folder moves aside instead of hiding Python."""
    monkeypatch.setattr(allow, "HOME", str(Path(sys.prefix).parent))
    result = _run(tmp_path, "import os\nreport(cwd=os.getcwd())")
    assert result.status == "ok", result.reason + result.stderr_tail
    assert result.payload["cwd"] == f"{allow.HOME}-1"


def test_huge_output_is_cut_to_its_tail(tmp_path):
    body = "import sys\nfor i in range(200000): print('spam' * 20)\nprint('LAST LINE')\nreport(n=1)"
    result = _run(tmp_path, body, Limits(wall_seconds=600, output_bytes=4096))
    assert result.status == "ok"
    assert len(result.stdout_tail) < 4096 + 100
    assert result.stdout_tail.startswith("[... ") and "LAST LINE" in result.stdout_tail


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("print(json.dumps({'token': 'x', 'payload': {'accuracy': 1.0}}))", "no result file"),
        ("json.dump({'token': 'guess', 'payload': {'a': 1}}, open(sys.argv[2], 'w'))", "token"),
        ("report(score=float('nan'))", "not a finite number"),
        ("report(blob='x' * 20000)", "string of 20000"),
        ("import os; os.symlink('/etc/passwd', sys.argv[2])", "not a regular file"),
        ("open(sys.argv[2], 'w').write('{\"token\": 1')", "not valid JSON"),
    ],
    ids=["print", "wrong-token", "nan", "huge-string", "symlink", "broken-json"],
)
def test_forged_or_bad_results_are_invalid_output(tmp_path, body, why):
    result = _run(tmp_path, body)
    assert result.status == "invalid_output"
    assert why in result.reason


@pytest.mark.skipif(not IS_ROOT, reason="file protection relies on the unprivileged user id")
def test_child_cannot_write_grader_files_or_results(tmp_path, public_dir):
    grader_file = public_dir / "test_grader.py"
    grader_file.write_text("POINTS = 10\n")
    results = public_dir / "results.json"
    results.write_text('{"score": 0}')
    before = {p: p.read_bytes() for p in (grader_file, results)}
    body = f"""
    errors = []
    for path in [{str(grader_file)!r}, {str(results)!r}, {str(public_dir / "new.txt")!r}]:
        try:
            open(path, "w").write('{{"score": 100}}')
        except OSError as e:
            errors.append(type(e).__name__)
    report(errors=errors)
    """
    result = _run(tmp_path, body)
    assert result.status == "ok"
    assert len(result.payload["errors"]) == 3
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in public_dir.iterdir()) == ["results.json", "test_grader.py"]


def test_hidden_labels_cannot_be_read(tmp_path, public_dir):
    labels = public_dir / "speaker_features_hidden" / "test_labels.csv"
    labels.parent.mkdir()
    labels.write_text("Id,Category\nuttr-1.pt,id10001\n")
    labels.parent.chmod(0o755)
    labels.chmod(0o644)
    body = f"""
    try:
        text = open({str(labels)!r}).read()
    except OSError as e:
        text = type(e).__name__
    report(text=text)
    """
    result = _run(tmp_path, body, hide=[public_dir])
    assert result.status == "ok"
    if allow.ALLOW_LIST in result.protections:
        assert result.payload["text"] == "FileNotFoundError"  # not there at all


def test_child_cannot_kill_the_grader(tmp_path, sandbox):
    """Its parent, its parent's process group and init are out of reach, in both sandboxes (in
    the fallback, "its parent's group" once meant the child's own: a group outside the PID
    namespace reads as 0 there, and killpg(0) signals the caller's group)."""
    body = """
    import os, signal
    outcomes = {}
    for name, kill in [
        ("parent", lambda: os.kill(os.getppid(), signal.SIGKILL)),
        ("parent's group", lambda: os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)),
        ("init", lambda: os.kill(1, signal.SIGKILL)),
    ]:
        try:
            kill()
            outcomes[name] = "sent"
        except OSError as e:
            outcomes[name] = type(e).__name__
    report(outcomes=outcomes)
    """
    original = signal.getsignal(signal.SIGTERM)
    result = _run(tmp_path, body)
    # Still alive to assert: the child ran as another user id and could not signal us.
    assert signal.getsignal(signal.SIGTERM) == original
    assert result.status == "ok", result.reason + result.stderr_tail
    if IS_ROOT:
        assert "sent" not in result.payload["outcomes"].values(), result.payload
        assert result.payload["outcomes"]["parent"] == "PermissionError"


@pytest.mark.parametrize("name", ["SIGKILL", "SIGTERM", "SIGSEGV"])
def test_a_child_ended_by_a_signal_is_reported_killed_by_it(tmp_path, sandbox, name):
    """The signal reaches the grader unchanged through the sandbox's own processes (the
    fallback's pid 1 and launcher pass it on; setting SIGKILL's action, refused, once ended the
    launcher with "OSError: [Errno 22]" instead)."""
    result = _run(tmp_path, f"import os, signal\nos.kill(os.getpid(), signal.{name})")
    assert result.status == "killed", result.reason + result.stderr_tail
    assert result.reason.startswith(f"killed by signal {name}")
    assert result.stderr_tail == ""


def test_no_network_inside_the_child(tmp_path):
    body = """
    import socket
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2)
        outcome = "connected"
    except OSError as e:
        outcome = type(e).__name__
    report(outcome=outcome)
    """
    result = _run(tmp_path, body)
    assert result.status == "ok"
    if any("no network" in p for p in result.protections):
        assert result.payload["outcome"] != "connected"


def test_symlinks_in_the_submission_are_not_copied(tmp_path, public_dir):
    secret = public_dir / "secret.txt"
    secret.write_text("labels")
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "labels.csv").symlink_to(secret)
    result = _run(tmp_path, "import os; report(files=sorted(os.listdir('submission')))")
    assert result.payload["files"] == []
    assert "labels.csv" in result.reason


def test_fallback_without_isolation_still_limits_and_reports(tmp_path):
    result = _run(tmp_path, "report(ok=True)", isolate=False)
    assert result.status == "ok"
    assert not any("unprivileged" in p or "network" in p for p in result.protections)
    assert f"CPU time {LIMITS.cpu_seconds} s" in result.protections


def test_check_json_accepts_plain_data_and_names_the_bad_value():
    check_json({"predictions": [1, 2, 3], "facts": {"layers": 2, "params": 154880.0}})
    with pytest.raises(ValueError, match=r"\['facts'\]\['x'\]: unexpected type"):
        check_json({"facts": {"x": {1, 2}}})
    with pytest.raises(ValueError, match="nested too deeply"):
        check_json(json.loads("[" * 10 + "]" * 10))


def test_no_message_shows_the_grading_machines_paths(tmp_path, public_dir):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "outputs").mkdir()
    body = """
    import os, torch
    report(where=os.path.abspath("submission/outputs"), torch=torch.__file__, home=os.getcwd())
    """
    result = _run(tmp_path, body, hide=[public_dir])
    assert result.status == "ok"
    home = _home(result)  # a path inside the sandbox, not the machine's
    assert result.payload == {"where": "outputs", "torch": "torch/__init__.py", "home": home}
    assert not any(str(public_dir) in p for p in result.protections)
    result = _run(tmp_path, "import os\nopen(os.path.abspath('submission/nothing.txt'))")
    assert result.status == "crashed"
    assert result.reason.endswith("[Errno 2] No such file or directory: 'nothing.txt'")
    everything = json.dumps(result.to_dict())
    assert "/tmp/" not in everything and str(public_dir) not in everything


@pytest.mark.parametrize("version", [(3, 10, 13), sys.version_info[:3]])
@pytest.mark.parametrize("form", ["module", "code", "script"])
def test_the_child_python_keeps_its_folder_off_the_path_and_reads_pythonpath(
    tmp_path, monkeypatch, version, form
):
    """`python -P -s`, or on Python 3.10 (no -P; its -I would ignore PYTHONPATH, where the
    child's copy of the kit is) a bootstrap doing the same: a module planted in the working
    directory or beside the script is not imported, the PYTHONPATH folder is, and the arguments
    and exit code are those of the real command."""
    lib, work = tmp_path / "lib", tmp_path / "work"
    lib.mkdir(), work.mkdir()
    (lib / "probe_lib.py").write_text("WHERE = 'lib'\n")
    (work / "probe_planted.py").write_text("raise SystemExit('the planted module ran')\n")
    body = textwrap.dedent("""
        import os, sys
        import probe_lib
        try:
            import probe_planted
        except ModuleNotFoundError:
            planted = False
        else:
            planted = True
        print(probe_lib.WHERE, planted, sys.argv[1:], __name__)
        sys.exit(7)
        """)
    (lib / "probe_main.py").write_text(body)
    (work / "script.py").write_text(body)
    args = {
        "module": ["-m", "probe_main", "a", "b"],
        "code": ["-c", body, "a", "b"],
        "script": [str(work / "script.py"), "a", "b"],
    }[form]
    monkeypatch.setattr(sys, "version_info", version)
    command = python_command(args)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(lib)}
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 7, done.stderr
    assert done.stdout.split() == ["lib", "False", "['a',", "'b']", "__main__"]


# A grader that runs one child, which sleeps with a marker on its command line, until killed.
GRADER_OF_A_SLEEPER = """
import sys
from pathlib import Path
from kws.grading.sandbox.run import ChildJob, run_child
from kws.grading.sandbox.supervise import Limits
sleeper = "import time; time.sleep(300)  # " + sys.argv[2][::-1]  # its own marker: not ours
run_child(ChildJob(["-c", sleeper, "{result}"], submission=Path(sys.argv[1]),
                   limits=Limits(wall_seconds=300, cpu_seconds=300)))
"""


def _live_with(marker: str, launcher: bool = True) -> list[int]:
    """Live processes whose command line holds `marker` (`launcher`: the sandbox's launcher too,
    whose arguments hold the child's command)."""
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if launcher or b"kws.grading.sandbox.launch" not in command:
            if marker.encode() in command and _alive(pid):
                found.append(int(pid))
    return found


def test_a_grader_that_is_killed_takes_its_child_along(tmp_path, sandbox):
    """`kws grade` ends a grader past its time-out, or at Ctrl-C, with SIGKILL: its grading
    child, in a session of its own, must not run on with no wall clock (bubblewrap's
    --die-with-parent; the hand-written launcher's parent-death signal)."""
    (tmp_path / "submission").mkdir()
    marker = f"sleeper-{os.getpid()}-{sandbox}"
    grader = subprocess.Popen(
        [sys.executable, "-c", GRADER_OF_A_SLEEPER, str(tmp_path / "submission"), marker[::-1]]
    )
    try:
        for _ in range(3000):  # until the child's own command runs (not just its launcher)
            if _live_with(marker, launcher=False) or grader.poll() is not None:
                break
            time.sleep(0.1)
        assert _live_with(marker, launcher=False), "the child never started"
    finally:
        grader.kill()
        grader.wait()
    for _ in range(600):  # a minute: a child left behind would sleep on for five
        if not _live_with(marker):
            return
        time.sleep(0.1)
    for pid in _live_with(marker):
        os.kill(pid, signal.SIGKILL)
    pytest.fail(f"the {sandbox} sandbox's child outlived its grader")
