"""The write quota counts what a hand-in really holds, in bubblewrap and the hand-written sandbox:
its files, the files it deleted but keeps open, its private /tmp; a hand-in past it loses its
own points with the limit named, and a classmate graded beside it is never blamed.

Every quota here is a few MiB (`Limits.written_bytes`, as `tests/interrupted_class.py` lowers it
for a class): no test writes more than a few tens of MiB, and the "full disk" is a small tmpfs
made for the test, never the machine's.
"""

import contextlib
import os
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from test_sandbox import IS_ROOT, LIMITS, _run, _script

from kws.grading.sandbox.run import ChildJob, run_child
from kws.grading.sandbox.supervise import Limits

QUOTA = Limits(**{**LIMITS.__dict__, "written_bytes": 4 * 2**20})
LIMIT_SAID = "wrote more than 4 MiB of files, the limit of what one hand-in may write"

# Writes MiB after MiB, each into a file it deletes and keeps open (`deleted`), or into /tmp
# (`scratch`), then holds them a while (3 s: several looks of the quota) and reports.
HOLDER = """
import os, time
held = []
def write(folder, mib, delete):
    for i in range(mib):
        path = os.path.join(folder, f"f{len(held)}")
        f = open(path, "wb")
        try:
            f.write(os.urandom(2**20))
            f.flush()
        except OSError as error:  # a full /tmp: keep what was written
            held.append(f)
            return str(error)
        held.append(f)
        if delete:
            os.unlink(path)
    return ""
said = write(os.environ["TMPDIR"], DELETED, True) + write("/tmp", SCRATCH, False)
time.sleep(3)
report(said=said, files=len(held))
"""


def _holder(deleted: int, scratch: int) -> str:
    return f"DELETED, SCRATCH = {deleted}, {scratch}\n" + HOLDER


def test_files_deleted_but_kept_open_count_against_the_quota(tmp_path, sandbox):
    """6 MiB in files it deleted at once (no folder walk finds them) is past a 4 MiB quota."""
    result = _run(tmp_path, _holder(deleted=6, scratch=0), QUOTA)
    assert result.status == "killed", result.reason + result.stderr_tail
    assert LIMIT_SAID in result.reason and "deleted but kept open" in result.reason


def test_the_private_tmp_counts_against_the_quota(tmp_path, sandbox):
    """/tmp is the child's own (memory): 8 MiB asked for there is past a 4 MiB quota; the tmpfs
    itself holds no more than the quota and 1 MiB, so the machine's memory is safe meanwhile."""
    result = _run(tmp_path, _holder(deleted=0, scratch=8), QUOTA)
    assert result.status == "killed", result.reason + result.stderr_tail
    assert LIMIT_SAID in result.reason


def test_its_folder_its_deleted_files_and_its_tmp_count_together(tmp_path, sandbox):
    """3 MiB deleted and 2 MiB in /tmp: each under the quota, past it together; 2 and 1 MiB
    (and the hand-in and inputs copied in, which are not the child's writing) stay under it."""
    over = _run(tmp_path, _holder(deleted=3, scratch=2), QUOTA)
    assert over.status == "killed" and LIMIT_SAID in over.reason, over.reason + over.stderr_tail
    (tmp_path / "submission").mkdir(exist_ok=True)
    (tmp_path / "submission" / "model.pt").write_bytes(os.urandom(5 * 2**20))
    under = _run(tmp_path, _holder(deleted=2, scratch=1), QUOTA)
    assert under.status == "ok", under.reason + under.stderr_tail
    assert under.payload == {"said": "", "files": 3}


@pytest.fixture
def small_disk(monkeypatch):
    """A 64 MiB file system (a tmpfs) where the children's folders are made: a disk a hand-in
    can fill in a test. Needs root, to mount it."""
    if not IS_ROOT:
        pytest.skip("mounting a small disk for the test needs root")
    folder = Path(tempfile.mkdtemp(prefix="kws-small-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], check=True)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        with contextlib.suppress(OSError):
            folder.rmdir()


# Writes MiB after MiB into files it deletes at once, a little slower than a disk would take
# them, until the disk is full, and then holds them.
HOG = """
import os, time
held = []
while True:
    f = open(os.path.join(os.environ["TMPDIR"], "hog"), "wb")
    os.unlink(f.name)
    try:
        f.write(os.urandom(2**20))
        f.flush()
    except OSError:
        time.sleep(600)
    held.append(f)
    time.sleep(0.02)
"""
# Waits until the hog beside it has had the time to fill the disk, then writes its 4 MiB.
CLASSMATE = """
import os, time
time.sleep(4)
with open(os.path.join(os.environ["TMPDIR"], "features.bin"), "wb") as f:
    f.write(os.urandom(4 * 2**20))
report(done=True)
"""


def test_a_hog_beside_a_classmate_is_stopped_before_the_disk_fills(tmp_path, sandbox, small_disk):
    """Two hand-ins graded side by side on a 64 MiB disk: the hog's deleted files stop it at its
    8 MiB quota, its own fault; the classmate writes its 4 MiB and keeps its result."""
    # a wall clock of a minute: a hog that is not stopped times out instead of holding 10 minutes
    limits = Limits(**{**LIMITS.__dict__, "written_bytes": 8 * 2**20, "wall_seconds": 60})
    results = {}

    def grade(name: str, body: str) -> None:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "submission").mkdir()
        results[name] = _run(folder, body, limits)

    threads = [threading.Thread(target=grade, args=a) for a in [("hog", HOG), ("ann", CLASSMATE)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    hog, ann = results["hog"], results["ann"]
    assert hog.status == "killed" and "wrote more than 8 MiB" in hog.reason, hog.reason
    assert ann.status == "ok" and ann.payload == {"done": True}, ann.reason + ann.stderr_tail


# Writes its features slowly until the disk is full, waits until someone else frees it, then
# fails with the error it met.
FILLED_BY_SOMEONE_ELSE = """
import os, time
home = os.environ["TMPDIR"]
try:
    with open(os.path.join(home, "features.bin"), "wb") as f:
        for _ in range(16):
            f.write(os.urandom(2**20))
            f.flush()
            time.sleep(0.1)
except OSError as error:
    for _ in range(100):
        if os.statvfs(home).f_bavail * os.statvfs(home).f_frsize > 32 * 2**20:
            break
        time.sleep(0.1)
    raise error
report(done=True)
"""


def test_a_child_that_meets_a_disk_filled_by_someone_else_is_not_blamed(
    tmp_path, sandbox, small_disk
):
    """Something else fills the disk while a hand-in writes its features, and frees it before
    the hand-in's child ends: the child's ENOSPC is the machine's (an OSError that stops the
    class, no grade), not a crash of the hand-in, though the disk is fine by then."""
    (tmp_path / "submission").mkdir()
    limits = Limits(**{**LIMITS.__dict__, "written_bytes": 32 * 2**20})
    inputs = _script(tmp_path, FILLED_BY_SOMEONE_ELSE)
    job = ChildJob(["{work}/child.py", "--result", "{result}"], tmp_path / "submission", inputs,
                   limits)  # fmt: skip
    filler = small_disk / "someone-else"

    def fill_then_free() -> None:
        for _ in range(600):  # once the child writes
            if list(small_disk.glob("kws-sandbox-*/work/tmp/features.bin")):
                break
            threading.Event().wait(0.1)
        with contextlib.suppress(OSError), open(filler, "wb") as f:
            while True:
                f.write(bytes(2**20))
                f.flush()
        threading.Event().wait(2)  # the child meets the full disk, the quota's looks see it
        filler.unlink()

    thread = threading.Thread(target=fill_then_free)
    thread.start()
    try:
        with pytest.raises(OSError, match=r"only .* MiB free"):
            run_child(job)
    finally:
        thread.join()
