"""The autograder zip as Gradescope runs it: unpacked into an emulated /autograder root
(AUTOGRADER_ROOT), setup.sh builds a fresh environment (KWS_VENV), run_autograder grades the
reference hand-in within Gradescope's default memory (768 MiB for the whole process tree, a
memory cgroup), and results.json meets Gradescope's specification, leaderboard included.
setup.sh's failure paths stop the build with a message and a non-zero exit.

The environment is a venv with the base interpreter's site-packages (torch is not downloaded
again) and apt is skipped (KWS_SKIP_APT=1); everything else is what Gradescope runs. The memory
limit is a cgroup's (v1 or v2, where this machine lets the tests make one: as root), as a
container's is; a per-process address-space limit (RLIMIT_AS) cannot stand in for it, since
torch's libraries alone map more address space than 768 MiB. Without a writable cgroup the
limited tests are skipped, saying so; a test shows the limit is real (1 GB cannot be allocated).
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from gradescope_schema import problems

from kws.grading.publish.gradescope.autograder import SCRIPTS, make_autograder

FULL_MARKS = 102.0  # the three notebooks of the reference hand-in (test_instructor_commands.py)
LEADERBOARD = {
    "Keyword spotting accuracy",
    *(f"Speaker ID task{i} accuracy" for i in (1, 2, 3)),
    "Patch Transformer accuracy",
}
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
GRADESCOPE_MEMORY = 768 * 2**20  # Gradescope's default container: 768 MB


def _memory_cgroup(name: str) -> tuple[Path, str, str] | None:
    """A new memory cgroup (folder, limit file, peak file), v1 or v2, or None where the tests
    cannot make one (not root, no memory controller, a read-only /sys/fs/cgroup)."""
    for root, limit, peak in (
        (Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes", "memory.max_usage_in_bytes"),
        (Path("/sys/fs/cgroup"), "memory.max", "memory.peak"),
    ):
        folder = root / name
        try:
            folder.mkdir(exist_ok=True)
        except OSError:
            continue
        if (folder / limit).exists():
            return folder, limit, peak
        folder.rmdir()
    return None


@contextlib.contextmanager
def memory_limit(limit: int):
    """A command prefix that runs a process tree in a memory cgroup of `limit` bytes (swap
    included, where the kernel counts it), and the group's folder; pytest.skip where no cgroup
    can be made."""
    found = _memory_cgroup(f"kws-test-{os.getpid()}")
    if found is None:
        pytest.skip("no writable memory cgroup here (needs root), so no container-like limit")
    folder, limit_file, _ = found
    try:
        (folder / limit_file).write_text(str(limit))
        for swap in ("memory.memsw.limit_in_bytes", "memory.swap.max"):
            with contextlib.suppress(OSError):
                (folder / swap).write_text("0" if swap.endswith("max") else str(limit))
        enter = f'echo $$ > {folder}/cgroup.procs && exec "$@"'
        yield ["sh", "-c", enter, "sh"], found
    finally:
        with contextlib.suppress(OSError):
            folder.rmdir()


def test_the_memory_limit_is_real():
    """Under the emulated container's limit, a process cannot hold 1 GB (the kernel ends it)."""
    with memory_limit(GRADESCOPE_MEMORY) as (prefix, _):
        allocate = [
            sys.executable,
            "-c",
            "data = bytearray(10**9); data[::4096] = b'x' * len(data[::4096])",
        ]
        done = subprocess.run(prefix + allocate, capture_output=True, timeout=300)
    assert done.returncode != 0, "1 GB was allocated under a 768 MiB limit"
    small = [
        sys.executable,
        "-c",
        "data = bytearray(10**8); data[::4096] = b'x' * len(data[::4096])",
    ]
    with memory_limit(GRADESCOPE_MEMORY) as (prefix, _):
        assert subprocess.run(prefix + small, timeout=300).returncode == 0  # 100 MB fits


def _base_has_torch() -> bool:
    probe = [BASE_PYTHON, "-c", "import torch, torchaudio, numpy, nbclient"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def _setup(root: Path, venv: Path, **env: str) -> subprocess.CompletedProcess:
    settings = {
        "AUTOGRADER_ROOT": str(root),
        "KWS_VENV": str(venv),
        "KWS_PYTHON": BASE_PYTHON,
        "KWS_SKIP_APT": "1",
        "KWS_VENV_OPTIONS": "--system-site-packages",
        "PYTHONPATH": "",
    }
    return subprocess.run(
        [shutil.which("bash"), str(root / "source" / "setup.sh")],
        env=os.environ | settings | env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory, tiny_data) -> Path:
    """The zip unpacked where Gradescope puts it: ROOT/source."""
    root = tmp_path_factory.mktemp("autograder")
    path = make_autograder(root / "autograder.zip", tiny_data)
    with zipfile.ZipFile(path) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):  # zipfile does not restore the mode bits
        (root / "source" / name).chmod(0o755)
    return root


@pytest.mark.slow
@pytest.mark.full  # minutes: an image's venv, then a whole hand-in graded in a memory cgroup
def test_setup_then_run_autograder_writes_a_valid_results_json(unpacked, reference_submission):
    """The whole run within Gradescope's default 768 MB: the grader and its children together
    (a memory cgroup, as a container has), with this machine's torch build."""
    if not _base_has_torch():
        pytest.skip(f"{BASE_PYTHON} lacks torch/torchaudio: the test's venv would download them")
    venv = unpacked / "opt-kws"
    built = _setup(unpacked, venv)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "the autograder is ready" in built.stdout
    # the venv sees the base's torch (any pairing in the kit's range), so nothing is downloaded
    assert "setup.sh: keeping the installed torch and torchaudio" in built.stdout
    shutil.copytree(reference_submission, unpacked / "submission")
    env = os.environ | {"AUTOGRADER_ROOT": str(unpacked), "KWS_VENV": str(venv), "PYTHONPATH": ""}
    env["OMP_NUM_THREADS"] = "1"
    with memory_limit(GRADESCOPE_MEMORY) as (prefix, (folder, _, peak_file)):
        run = subprocess.run(
            [*prefix, str(unpacked / "source" / "run_autograder")],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        peak = int((folder / peak_file).read_text()) if (folder / peak_file).exists() else None
    assert peak is None or peak <= GRADESCOPE_MEMORY
    document = json.loads((unpacked / "results" / "results.json").read_text())
    assert problems(document) == [], run.stdout[-2000:]
    assert document["score"] == FULL_MARKS, run.stdout[-3000:]
    assert sum(t["max_score"] for t in document["tests"]) >= FULL_MARKS
    board = {entry["name"]: entry for entry in document["leaderboard"]}
    assert set(board) == LEADERBOARD
    for entry in board.values():
        assert 0.0 <= entry["value"] <= 1.0 and entry["order"] == "desc"
    kws_accuracy = next(
        t for t in document["tests"] if t["name"].startswith("Accuracy on the hidden 12")
    )
    assert f"Accuracy {board['Keyword spotting accuracy']['value']:.4f}" in kws_accuracy["output"]


def _fake_python(folder: Path, version: tuple[int, int]) -> Path:
    """An interpreter that reports `version` (the real one underneath)."""
    folder.mkdir(parents=True, exist_ok=True)
    fake = folder / "python3"
    fake.write_text(
        "#!/bin/sh\n"
        f'exec "{BASE_PYTHON}" -c "import sys; sys.version_info = {version + (0, "final", 0)}; '
        'exec(sys.stdin.read())"\n'
    )
    fake.chmod(0o755)
    return fake


@pytest.mark.parametrize("version", [(3, 9), (3, 14)])
def test_setup_refuses_a_python_outside_3_10_to_3_13(unpacked, tmp_path, version):
    fake = _fake_python(tmp_path / "bin", version)
    built = _setup(unpacked, tmp_path / "venv", KWS_PYTHON=str(fake))
    assert built.returncode != 0
    assert "setup.sh: FAILED: the kit needs Python 3.10 to 3.13" in built.stderr
    assert "Ubuntu 22.04" in built.stderr and not (tmp_path / "venv").exists()


def test_setup_refuses_a_folder_without_the_kit(tmp_path):
    (tmp_path / "source").mkdir()
    shutil.copy(SCRIPTS / "setup.sh", tmp_path / "source")
    built = _setup(tmp_path, tmp_path / "venv")
    assert built.returncode != 0
    assert "pyproject.toml is missing: upload the zip that 'kws gradescope' wrote" in built.stderr


def test_setup_needs_apt_get_on_a_root_image(unpacked, tmp_path):
    """Without KWS_SKIP_APT, as root on an image without apt-get: stop, naming the base image."""
    if os.geteuid() != 0:
        pytest.skip("not root: setup.sh skips apt-get (and says so) instead of needing it")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("id"), bin_dir / "id")
    built = _setup(unpacked, tmp_path / "venv", KWS_SKIP_APT="0", PATH=str(bin_dir))
    assert built.returncode != 0
    assert "apt-get not found: choose an Ubuntu base image" in built.stderr


def test_a_failing_install_stops_the_build_naming_the_step(unpacked, tmp_path):
    """A pip failure (here: a kit whose pyproject.toml does not parse) is never silent."""
    root = tmp_path / "root"
    shutil.copytree(unpacked / "source", root / "source", ignore=shutil.ignore_patterns("data"))
    (root / "source" / "kit" / "pyproject.toml").write_text("[project\nname = broken\n")
    built = _setup(root, tmp_path / "venv", PIP_NO_INDEX="1")
    assert built.returncode != 0
    if _base_has_torch():  # the environment keeps its torch: the kit's install is what fails
        assert f"setup.sh: FAILED while installing the kit from {root}/source/kit" in built.stderr
    else:  # a Python without torch (a fresh base image): torch, from no index, fails first
        assert "setup.sh: FAILED while installing torch and torchaudio (CPU build)" in built.stderr


def test_the_schema_check_catches_what_gradescope_rejects():
    good = {
        "score": 1,
        "tests": [{"name": "a", "score": 1, "max_score": 1, "status": "passed", "output": "ok"}],
        "leaderboard": [{"name": "Accuracy", "value": 0.9, "order": "desc"}],
    }
    assert problems(good) == []
    bad = json.loads(json.dumps(good))
    bad["tests"][0] |= {"status": "skipped", "score": "1", "visibility": "private"}
    bad["leaderboard"][0] |= {"order": "up"}
    bad["leaderboard"].append({"value": True})
    found = "\n".join(problems(bad))
    for what in ("status", "score", "visibility", "order", "needs both name and value", "value"):
        assert what in found
