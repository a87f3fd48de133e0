"""What a sandboxed child can reach of the machine: its allow-list, and nothing else.

The list (`kws.grading.sandbox.allow`) is built once and given to both sandboxes: bubblewrap as
its arguments, the hand-written launcher as mounts of its own. Checked here:

- the list: only the OS, Python (as the child's interpreter finds it), the kit's copy and the
  child's own folders are bound; the grader's working directory and its own ``sys.path``
  additions are not; hidden paths and caches inside a bound folder are masked, Python folders
  inside a mask bound back; bubblewrap gets every entry; on a GPU the NVIDIA device files,
  driver libraries and /sys folders, found under a folder of stand-ins, and none without one;
- a child, in each sandbox, walking its whole file system: nothing outside the list, none of
  the planted files (a classmate's hand-in and results, an instructor's notes, the labels, a
  decoded test set cached beside the data), no other process; and, as controls, the same probe
  run without a sandbox finds every planted file, and the child finds its own hand-in and the
  kit's copy;
- a re-training child reads its data through the same list: the training clips, never the
  label folders, another notebook's labels or a cache beside the data;
- where the OS refuses the mounts (a root grader without CAP_SYS_ADMIN, as in a container):
  the child, another user id, reads what others may and nothing else, and its protections say
  how many of the paths it must not read are open to others.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from test_sandbox import ENTRY, IS_ROOT, LIMITS, _own_user_namespace_possible, _run, _script

from kws.grading.sandbox import allow, bwrap, gpu, launch
from kws.grading.sandbox.allow import KIT, STATUS, View, allow_list, python_paths
from kws.grading.sandbox.run import ChildJob, run_child

MARKER = "kws-probe-secret"  # in the name of every file planted for the child to find
needs_mounts = pytest.mark.skipif(
    not IS_ROOT and not _own_user_namespace_possible(),
    reason="the allow-list needs a mount namespace: root, or a user namespace of the child's own",
)


def _view(tmp_path: Path) -> View:
    host = tuple(str(tmp_path / name) for name in ("work", "lib", "status"))
    for folder in host:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return View(allow.child_home([]), host=host)


def _bound(mounts) -> set[str]:
    return {m.source for m in mounts if m.kind in ("ro", "rw", "device")}


def test_only_the_os_python_the_kits_copy_and_the_childs_folders_are_bound(tmp_path, monkeypatch):
    # a grader started from a script in a shared folder has that folder on its sys.path, and
    # pytest grader/ run from a course folder has it as the working directory
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    view = _view(tmp_path)
    mounts = allow_list(view, [], [], gpu=False)
    expected = {*allow.OS_FOLDERS, *python_paths(), *view.host}
    expected |= {p for p in allow.OS_LINKS if os.path.isdir(p) and not os.path.islink(p)}
    assert _bound(mounts) <= expected, _bound(mounts) - expected
    assert str(tmp_path) not in _bound(mounts) and os.getcwd() not in _bound(mounts)
    checkout = allow.checkout()
    if checkout is not None:  # a clone: none of it but a virtual environment inside it
        inside = {p for p in _bound(mounts) if Path(p).is_relative_to(checkout)}
        assert all(p in python_paths() for p in inside), inside
    where = {m.dest: m.source for m in mounts if m.kind in ("ro", "rw")}
    assert where[KIT] == view.host[1] and where[STATUS] == view.host[2]
    assert where[view.work] == view.host[0]
    assert [m.kind for m in mounts if m.dest in ("/tmp", "/var/tmp", "/dev/shm")] == ["tmpfs"] * 3
    depths = [len(Path(m.dest).parts) for m in mounts]
    assert depths == sorted(depths)  # a mount never hides one made after it


def test_hidden_paths_and_caches_inside_a_bound_folder_are_masked(tmp_path):
    data = tmp_path / "data"
    clips = data / "speech_commands_v0.02"
    for folder in (clips / "yes", clips / ".kws_cache", data / "speaker_features_hidden"):
        folder.mkdir(parents=True)
    view_root = tmp_path / "view"
    view_root.mkdir()
    (view_root / clips.name).symlink_to(clips)
    hidden = data / "speaker_features_hidden"
    mounts = allow_list(_view(tmp_path), [str(view_root)], [str(hidden), str(data)], gpu=False)
    assert {str(view_root), str(clips)} <= _bound(mounts)  # the view and where its link leads
    masked = {m.dest for m in mounts if m.kind == "mask"}
    assert str(clips / ".kws_cache") in masked  # a decoded test set may be cached there
    assert str(data) not in _bound(mounts) and str(hidden) not in _bound(mounts)


def test_python_folders_inside_a_masked_folder_are_bound_back(tmp_path, monkeypatch):
    """A virtual environment inside a hidden folder (a course folder holding .venv/): the
    folder stays empty but the environment the child's Python needs is there."""
    course = tmp_path / "course"
    venv = course / ".venv" / "lib"
    venv.mkdir(parents=True)
    monkeypatch.setattr(allow, "python_paths", lambda: (str(tmp_path), str(venv)))
    mounts = allow_list(_view(tmp_path / "sandbox"), [], [str(course)], gpu=False)
    order = [(m.kind, m.dest) for m in mounts if m.dest.startswith(str(tmp_path))]
    assert order.index(("mask", str(course))) < order.index(("ro", str(venv)))


def test_bubblewrap_is_given_every_entry_of_the_list(tmp_path):
    view = _view(tmp_path)
    (tmp_path / "data" / ".kws_cache").mkdir(parents=True)
    mounts = allow_list(view, [str(tmp_path / "data")], [], gpu=False)
    args = bwrap.command("bwrap", mounts, view.work)
    pairs = set(zip(args, args[1:], args[2:], strict=False))
    for m in mounts:
        if m.kind in ("ro", "rw"):
            flag = "--ro-bind" if m.kind == "ro" else "--bind"
            assert (flag, m.source, m.dest) in pairs, m
        elif m.kind == "mask":
            assert ("--tmpfs", m.dest) in set(zip(args, args[1:], strict=False))
            assert ("--remount-ro", m.dest) in set(zip(args, args[1:], strict=False))
    assert args[-4:] == ["--remount-ro", "/", "--chdir", view.work]


@pytest.fixture
def stand_in_gpu(tmp_path, monkeypatch) -> Path:
    """A machine's folders with NVIDIA stand-ins: device files (plain files here), the driver's
    library in a folder the loader's configuration names, and the /sys folders."""
    root = tmp_path / "machine"
    for name in ("nvidiactl", "nvidia0", "nvidia1", "nvidia-uvm", "nvidia-caps/nvidia-cap1"):
        (root / "dev" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "dev" / name).write_text(f"stand-in {name}")
    (root / "dev" / "nvidia-caps").chmod(0o755)
    driver = root / "opt" / "nvidia-driver" / "lib"
    driver.mkdir(parents=True)
    (driver / "libcuda.so.1").write_text("stand-in driver")
    (root / "usr" / "local" / "nvidia" / "lib64").mkdir(parents=True)
    (root / "usr" / "local" / "nvidia" / "lib64" / "libcuda.so.1").write_text("under /usr")
    (root / "etc" / "ld.so.conf.d").mkdir(parents=True)
    (root / "etc" / "ld.so.conf.d" / "nvidia.conf").write_text(
        "# the driver\n/opt/nvidia-driver/lib\n"
    )
    (root / "sys" / "bus" / "pci" / "devices").mkdir(parents=True)
    (root / "sys" / "module" / "nvidia").mkdir(parents=True)
    (root / "sys" / "module" / "nvidia" / "version").write_text("stand-in 1.0")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    monkeypatch.setattr(gpu, "ROOT", str(root))
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    return root


def test_a_gpu_child_is_given_the_drivers_files_and_no_other_child_is(tmp_path, stand_in_gpu):
    root = stand_in_gpu
    found = {(kind, dest): source for kind, dest, source in gpu.gpu_mounts()}
    devices = {dest for kind, dest in found if kind == "device"}
    assert devices == {"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia-uvm",
                       "/dev/nvidia-caps/nvidia-cap1"}  # fmt: skip
    assert found[("ro", "/opt/nvidia-driver/lib")] == str(root / "opt/nvidia-driver/lib")
    assert ("ro", "/usr/local/nvidia/lib64") not in found  # visible through /usr already
    assert str(root / "usr/local/nvidia/lib64") in gpu.driver_library_folders()
    assert {("ro", "/sys/bus/pci"), ("ro", "/sys/module/nvidia")} <= set(found)
    view = _view(tmp_path)
    with_gpu = allow_list(view, [], [], gpu=True)
    assert {m.dest for m in with_gpu if m.kind == "device"} == devices
    without = allow_list(view, [], [], gpu=False)
    assert not [m for m in without if "nvidia" in m.dest or m.dest.startswith("/sys")]


@pytest.mark.parametrize(("device", "on_gpu"), [("cpu", False), ("cpu:0", False),
                                                ("cuda", True), ("cuda:0", True)])  # fmt: skip
def test_a_child_run_on_the_cpu_however_named_gets_no_gpu_file(tmp_path, stand_in_gpu,
                                                               monkeypatch, device, on_gpu):  # fmt: skip
    """The grader runs a notebook's child where the device says: on ``cpu:0`` (the tests' CPU
    stand-in for a GPU) as on ``cpu``, none of the machine's GPU files is in its allow-list."""
    from kws.device import DeviceName
    from kws.grading.judge import notebook
    from kws.grading.sandbox.supervise import ChildResult
    from kws.grading.testsets.hidden import HiddenTest
    from kws.spec import ASSIGNMENTS

    jobs = []

    def started(job):  # what the grader asked of the sandbox, before it starts a child
        jobs.append(job)
        return ChildResult("crashed", None, "", "", None, 0.0, reason="not started here")

    monkeypatch.setattr(notebook, "run_child", started)
    (tmp_path / "inputs.bin").write_bytes(b"")
    hidden = HiddenTest(tmp_path / "inputs.bin", [0, 1], ("yes", "no"), ("", ""))
    notebook.run_notebook(tmp_path, ASSIGNMENTS["keyword_spotting"], hidden,
                          limits=LIMITS, hide=[], device=DeviceName.parse(device))  # fmt: skip
    [job] = jobs
    found = allow_list(_view(tmp_path), [], [], gpu=job.gpu)
    assert bool([m for m in found if m.kind == "device"]) is on_gpu


GPU_PROBE = """
import os
def read(path):
    try:
        return open(path).read()
    except OSError as error:
        return type(error).__name__
devices = sorted(os.listdir("/dev/nvidia-caps")) if os.path.isdir("/dev/nvidia-caps") else []
report(nodes=sorted(n for n in os.listdir("/dev") if n.startswith("nvidia")), caps=devices,
       driver=read("/opt/nvidia-driver/lib/libcuda.so.1"), module=read("/sys/module/nvidia/version"))
"""


@needs_mounts
@pytest.mark.parametrize("on_gpu", [True, False], ids=["gpu", "cpu"])
def test_the_drivers_files_reach_a_gpu_child_in_both_sandboxes(tmp_path, stand_in_gpu, sandbox,
                                                               on_gpu):  # fmt: skip
    submission = tmp_path / "submission"
    submission.mkdir()
    job = ChildJob(ENTRY, submission=submission, inputs=_script(tmp_path, GPU_PROBE), limits=LIMITS,
                   gpu=on_gpu)  # fmt: skip
    result = run_child(job)
    assert result.status == "ok", result.reason + result.stderr_tail
    seen = result.payload
    # a host thread spinning while the GPU works cannot meet the CPU-time limit before the wall
    # clock ends the child: the wall clock's seconds for each of 2 torch threads and the waiting one
    on_device = int(LIMITS.wall_seconds * (LIMITS.threads + 1))
    assert f"CPU time {on_device if on_gpu else LIMITS.cpu_seconds} s" in result.protections
    if on_gpu:
        assert seen["nodes"] == ["nvidia-caps", "nvidia-uvm", "nvidia0", "nvidia1", "nvidiactl"]
        assert seen["caps"] == ["nvidia-cap1"]
        assert seen["driver"] == "stand-in driver" and seen["module"] == "stand-in 1.0"
    else:
        assert seen == {"nodes": [], "caps": [], "driver": "FileNotFoundError",
                        "module": "FileNotFoundError"}  # fmt: skip


# The probe: a walk of the child's file system. Folders bound from the machine (the OS, Python)
# are not searched (a course keeps nothing there), only checked to be on the list; the rest is
# searched to the last file: the folders on the way to them, the child's own, the fresh ones.
REACH_PROBE = """
import glob, os
expected, searched, secrets = {expected!r}, {searched!r}, {secrets!r}

def readable(path):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        return True
    except OSError:
        return False

def within(path, folders):
    return any(path == f or path.startswith(f + "/") for f in folders)

unexpected, named = [], []
for folder, dirs, files in os.walk("/"):
    keep = []
    for d in dirs:
        path = os.path.join(folder, d)
        on_the_way = any(e.startswith(path + "/") for e in expected + searched)
        if path in ("/proc", "/sys", "/dev") or path in expected:
            continue  # checked apart, or a folder of the machine on the list
        if within(path, searched) or on_the_way:
            keep.append(d)
        else:
            unexpected.append(path)
    dirs[:] = keep
    named += [os.path.join(folder, f) for f in files if "{marker}" in f]
    if not within(folder, searched):
        unexpected += [os.path.join(folder, f) for f in files]
processes = []
for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        text = open(cmdline, "rb").read().decode(errors="replace")
    except OSError:
        continue
    if "{marker}" in text:
        processes.append(text.replace("\\0", " ")[:80])
import kws
kit = os.path.dirname(os.path.dirname(kws.__file__))
report(found=[name for name, path in secrets.items() if readable(path)], named=named,
       unexpected=unexpected, processes=processes, kit=sorted(os.listdir(kit)),
       own=readable(os.path.join(os.environ["HOME"], "submission", "mine.ipynb")))
"""


@pytest.fixture
def planted(tmp_path):
    """Files a child must not find, each readable by every user, as an instructor's folders
    often are: a graded classmate's hand-in and results, an instructor's notes, the hidden
    labels, a decoded test set cached beside the training data, the grader's private cache."""
    from kws.grading.sandbox.processes import private_folder

    course = Path(tempfile.mkdtemp(prefix="kws-test-course-"))
    secrets = {
        "classmate's notebook": course / "submissions" / "alice" / f"{MARKER}.ipynb",
        "classmate's results": course / "grades" / f"alice-{MARKER}.json",
        "instructor's notes": course / "notes" / f"{MARKER}.txt",
        "labels": course / "data" / "speaker_features_hidden" / f"{MARKER}.csv",
        "test-set cache": course / "data" / "speech_commands_v0.02" / ".kws_cache"
        / f"clips-test12-{MARKER}.pt",
        "hidden-test cache": private_folder("hidden-cache") / f"{MARKER}.pt",
    }  # fmt: skip
    for path in secrets.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Id,Category\nuttr-1.pt,id10001\n")
    for path in [course, *course.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    secrets["hidden-test cache"].chmod(0o644)
    yield course, {name: str(path) for name, path in secrets.items()}
    secrets["hidden-test cache"].unlink()
    shutil.rmtree(course)


def _probe(tmp_path, secrets: dict[str, str], **job) -> dict:
    """Run the probe as a child whose hand-in is ``mine.ipynb``; what it found."""
    submission = tmp_path / "submission"
    submission.mkdir(exist_ok=True)
    (submission / "mine.ipynb").write_text("{}")
    expected = sorted({*allow.OS_FOLDERS, *python_paths(), "/bin", "/sbin", "/lib", "/lib32",
                       "/lib64", KIT, STATUS})  # fmt: skip
    searched = ["/tmp", "/var/tmp", "/home", "/opt/kit"]  # fresh, or the child's own
    body = REACH_PROBE.format(expected=expected, secrets=secrets, marker=MARKER, searched=searched)
    result = run_child(ChildJob(ENTRY, submission=submission, inputs=_script(tmp_path, body),
                                limits=LIMITS, **job))  # fmt: skip
    assert result.status == "ok", result.reason + result.stderr_tail
    return result.payload | {"protections": result.protections}


@needs_mounts
def test_a_child_reaches_nothing_outside_its_allow_list(tmp_path, planted, sandbox):
    course, secrets = planted
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", MARKER])
    try:
        seen = _probe(tmp_path, secrets, hide=[course / "data"])
    finally:
        other.kill()
        other.wait()
    assert allow.ALLOW_LIST in seen["protections"]
    assert seen["found"] == [] and seen["named"] == []
    assert seen["unexpected"] == []
    assert seen["processes"] == []  # not another grader's, with a classmate's name
    assert seen["own"] and seen["kit"] == ["kws"]  # controls: its hand-in, the kit's copy


@pytest.mark.skipif(not IS_ROOT, reason="the control reads other users' files: it needs root")
def test_the_probe_finds_every_planted_file_without_a_sandbox(tmp_path, planted):
    """The control: the same probe, as a child without namespaces, finds what was planted."""
    _, secrets = planted
    seen = _probe(tmp_path, secrets, isolate=False)
    assert sorted(seen["found"]) == sorted(secrets)


@needs_mounts
def test_a_retraining_child_reads_its_training_data_and_nothing_else(tmp_path, tiny_data,
                                                                     sandbox):  # fmt: skip
    """Notebook 01's data view: the training clips through its links, the test set's stand-in;
    never the labelled test set, notebook 02's labels, a note beside the data, nor the decoded
    12-class test set cached in the training folder."""
    from kws.grading.testsets.layouts import hidden_test, layout_of
    from kws.spec import ASSIGNMENTS

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data, symlinks=True)
    cache = data / "speech_commands_v0.02" / ".kws_cache" / "clips-test12-0123456789abcdef.pt"
    cache.parent.mkdir(exist_ok=True)  # a notebook run on the shared data may have made it
    cache.write_text("a decoded test set, labels and all")
    (data / "notes.txt").write_text("the instructor's")
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    spec = ASSIGNMENTS["keyword_spotting"]
    layout = layout_of(spec)
    hidden = hidden_test(spec, data, tmp_path / "inputs.bin")
    view = layout.retraining_data(data, hidden, tmp_path / "retrain-data")
    body = """
    import os
    def files(top, links):
        found = []
        for folder, dirs, names in os.walk(top, followlinks=links):
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in ("/proc", "/sys", "/dev")]
            found += [os.path.join(folder, name) for name in names]
        return found
    data = sys.argv[3]
    found = files("/", False) + files(data, True)  # everywhere, and the data through its links
    report(listed=sorted(os.listdir(data)), clips=len([p for p in found if p.endswith(".wav")]),
           caches=[p for p in found if "clips-test" in p or "kws_cache" in p],
           labels=[p for p in found if "speaker_features_hidden" in p or "notes.txt" in p],
           real_test_set=[p for p in found if "commands_test_set" in p and "standin" not in p])
    """
    submission = tmp_path / "submission"
    submission.mkdir()
    job = ChildJob([*ENTRY, str(view)], submission=submission, inputs=_script(tmp_path, body),
                   limits=LIMITS, readable=[view], hide=[data, *layout.label_folders(data)])  # fmt: skip
    result = run_child(job)
    assert result.status == "ok", result.reason + result.stderr_tail
    seen = result.payload
    assert seen["listed"] == ["speech_commands_test_set_v0.02", "speech_commands_v0.02"]
    training = len(list((data / "speech_commands_v0.02").rglob("*.wav")))
    stand_in = len(list((data / "speech_commands_test_set_v0.02").rglob("*.wav")))
    assert seen["clips"] >= training + stand_in  # read through the view (and its links)
    assert seen["caches"] == [] and seen["labels"] == [] and seen["real_test_set"] == []
    assert os.access(cache, os.R_OK) and cache.stat().st_mode & 0o004  # the control: it is there


# A grader as root in a container that refuses mount namespaces (no CAP_SYS_ADMIN, as Docker's
# default profile): the hand-written sandbox, and a child that reads two files it must not read.
REFUSED = """
import json, sys
from pathlib import Path
from kws.grading.sandbox.run import ChildJob, run_child
from kws.grading.sandbox.supervise import Limits
work, opened, private = map(Path, sys.argv[1:4])
(work / "child.py").write_text(sys.argv[4])
(work / "submission").mkdir()
job = ChildJob(["{work}/child.py", "{result}", str(opened), str(private)],
               submission=work / "submission", inputs={"child.py": work / "child.py"},
               limits=Limits(wall_seconds=60, cpu_seconds=60), hide=[opened, private])
result = run_child(job)
print(json.dumps({"protections": result.protections, "seen": result.payload,
                  "why": result.reason + result.stderr_tail}))
"""
READER = """
import json, os, sys
token = sys.stdin.readline().strip()
def read(path):
    try:
        return open(path).read()
    except OSError as error:
        return type(error).__name__
seen = {"uid": os.getuid(), "open": read(sys.argv[2]), "private": read(sys.argv[3])}
json.dump({"token": token, "payload": seen}, open(sys.argv[1], "w"))
"""


@pytest.mark.skipif(
    not IS_ROOT or shutil.which("setpriv") is None,
    reason="drops CAP_SYS_ADMIN from a root grader with setpriv: needs root and util-linux",
)
def test_where_the_os_refuses_mount_namespaces_file_permissions_keep_the_child_out(tmp_path):
    """Without a mount namespace the child runs as a throwaway user and sees the machine: what
    others may not read stays out of its reach, and its protections count what they may."""
    course = Path(tempfile.mkdtemp(prefix="kws-test-refused-"))  # a folder others may enter
    course.chmod(0o755)
    opened, private = course / "notes.txt", course / "labels.csv"
    opened.write_text("open to everyone")
    private.write_text("the grader's alone")
    opened.chmod(0o644)
    private.chmod(0o600)
    drop = ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin"]
    env = os.environ | {"KWS_SANDBOX": "builtin", "PYTHONPATH": str(Path(allow.KIT_PACKAGE).parent)}
    python = _python_for_others(env)
    arguments = [str(tmp_path), str(opened), str(private), READER]
    try:
        if python is None:
            pytest.skip("no Python here that other users may run (this one lives in a folder "
                        "closed to them): without mounts the child could not start")  # fmt: skip
        run = subprocess.run([*drop, python, "-c", REFUSED, *arguments], capture_output=True,
                             text=True, env=env, timeout=300)  # fmt: skip
    finally:
        shutil.rmtree(course)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["seen"] is not None, run.stdout[-2000:]
    assert allow.ALLOW_LIST not in report["protections"]
    assert (
        "no mount namespace: file permissions alone keep the child out (1 of 2 paths it must "
        "not read are open to other users)"
    ) in report["protections"], report["protections"]
    assert any(p.startswith("unprivileged user id ") for p in report["protections"])
    assert report["seen"]["private"] == "PermissionError"
    assert report["seen"]["open"] == "open to everyone"  # what the protections warn of


def _python_for_others(env: dict[str, str]) -> str | None:
    """This Python, or the system's, if a user of no group of root's may run the sandbox's
    code with it (a child without mounts runs as such a user, in the machine as it is)."""
    for python in dict.fromkeys([sys.executable, shutil.which("python3", path="/usr/bin")]):
        if python is None:
            continue
        as_nobody = (  # what the launcher does before it starts the child
            "import os, sys; os.setgroups([]); os.setgid(65534); os.setuid(65534); "
            "os.execv(sys.executable, [sys.executable, '-c', 'import kws.grading.sandbox.run'])"
        )
        probe = [python, "-c", as_nobody]
        if subprocess.run(probe, env=env, capture_output=True, cwd="/").returncode == 0:
            return python
    return None


def test_without_user_namespaces_the_protections_say_nothing_holds(tmp_path):
    assert launch._permissions_only([str(tmp_path)], other_user=False) == (
        "no mount namespace: the child can read what the grader's user can"
    )


def test_without_a_mount_namespace_the_child_finds_its_folders_where_they_are():
    spec = {
        "in_place": {"/home/student": "/tmp/s/work", KIT: "/tmp/s/lib", STATUS: "/tmp/s/status"},
        "cwd": "/home/student",
        "env": {"HOME": "/home/student", "PYTHONPATH": KIT, "TMPDIR": "/home/student/tmp"},
        "protections_file": f"{STATUS}/protections.json",
    }
    moved, command = launch._in_place(spec, ["python", "/home/student/child.py", "/home/students"])
    assert (
        moved["cwd"] == "/tmp/s/work"
        and moved["protections_file"] == "/tmp/s/status/protections.json"
    )
    assert moved["env"] == {
        "HOME": "/tmp/s/work",
        "PYTHONPATH": "/tmp/s/lib",
        "TMPDIR": "/tmp/s/work/tmp",
    }
    assert command == ["python", "/tmp/s/work/child.py", "/home/students"]  # a prefix, not a path


def test_a_child_caches_data_in_its_own_folder_never_beside_the_data(tmp_path, sandbox):
    """A re-training notebook that caches its decoded data (kws.data.cache) writes the cache in
    the child's folder, even when the instructor's data folder is writable by everyone."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    body = f"""
    from kws.data.cache import cache_dir_for
    report(folder=str(cache_dir_for({str(data)!r})))
    """
    result = _run(tmp_path, body, readable=[data])
    assert result.status == "ok", result.reason + result.stderr_tail
    folder = result.payload["folder"]  # the child's folder: /home/student or work/ here
    assert ".cache/kws/data-" in folder and not folder.startswith(str(data)), folder
    assert list(data.iterdir()) == []
