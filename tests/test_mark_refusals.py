"""`kws mark` refusing to start, typed as an instructor types it: while a `kws grade` writes the
grades folder, on a folder it cannot write, on a port in use. Each refusal is one line on stderr
that names the folder or port and the fix, with no traceback, and exit code 2."""

import os
import shutil
import socket
import subprocess
import sys

import pytest
from course_helpers import ROOT
from marking_class import fixtures

ENV = os.environ | {"PYTHONPATH": str(ROOT)}


course, _ = fixtures(3)


def mark(course, *args, prefix=()):
    command = [*prefix, sys.executable, "-m", "kws.cli", "mark", "grades", *args]
    command += ["--solutions", str(ROOT / "solutions")]
    return subprocess.run(command, cwd=course, env=ENV, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def one_line(done) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    return done.stderr


# A `kws grade` half-way: it holds the folder's lock and has rewritten the gradebook, not the
# rest (so the seal no longer matches), until its stdin closes.
GRADING = """
import sys
from pathlib import Path
from kws.grading.records.lock import CLASS, holding
with holding(Path("grades"), "kws grade", scope=CLASS):
    Path("grades/gradebook.csv").write_text("student,total\\nstudent000,1\\n")
    print("grading", flush=True)
    sys.stdin.read()
"""


def test_kws_mark_during_a_grade_says_to_wait_for_it(course):
    grading = subprocess.Popen([sys.executable, "-c", GRADING], cwd=course, env=ENV,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert grading.stdout.readline() == "grading\n"
        said = one_line(mark(course))
    finally:
        grading.communicate("", timeout=60)
    assert said.startswith("kws mark: grades: `kws grade` (pid ")
    assert "is writing it now; wait for it to finish, then start kws mark again" in said
    assert "kws season" not in said  # not the half-written folder taken for one edited by hand


def _without_root_overrides():
    """How to run a command that the folder's permissions bind: as is for a user; for root,
    with its capability to write anything dropped (`setpriv`)."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("root writes a read-only folder, and setpriv (util-linux) is not here to "
                    "drop that right")  # fmt: skip
    return ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")


def test_kws_mark_on_a_read_only_folder_says_how_to_mark_it(course):
    prefix = _without_root_overrides()
    os.chmod(course / "grades", 0o500)
    try:
        said = one_line(mark(course, prefix=prefix))
    finally:
        os.chmod(course / "grades", 0o700)
    assert said.startswith("kws mark: grades: cannot be written (read-only)")
    assert "make it writable (chmod -R u+w grades), or copy the grades folder" in said
    assert not (course / "grades" / "marks").exists()


def test_kws_mark_on_a_port_in_use_says_to_pick_another(course):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        said = one_line(mark(course, "--port", str(port)))
    assert said == (f"kws mark: port {port} on 127.0.0.1 is in use; pass another --port, or "
                    "--port 0 for any free one\n")  # fmt: skip
