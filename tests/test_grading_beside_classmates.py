"""One hand-in graded with `pytest grader/` next to graded classmates, as docs/how-to/grade-one.md
shows: a model cell that looks around while the grader runs it finds nothing of theirs, and the
re-training child (on the CPU, in 4 steps) finds no decoded test set cached beside the data, in
bubblewrap and in the hand-written sandbox.

The course folder holds what a student who wants points would look for, all readable by every
user: a graded classmate's notebook and results, an instructor's notes, and the 12-class test
set decoded by `kws.data.cache_clips` into the training data's cache folder (what running
notebook 01 on the grader's data writes). Mallory's model cell walks every folder it can reach
and fails with what it found, so that the grade shows it; as controls, it names its own
notebook and the training clips it could read, and the same walk in this process finds every
planted file.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_helpers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.full]  # two graders, each with a re-training child
NOTEBOOK = "01_keyword_spotting.ipynb"

PROBE = """
def _kws_probe(top):
    import glob, os
    home = os.environ.get("HOME", os.path.expanduser("~"))
    own = bool(glob.glob(os.path.join(home, "submission", "*.ipynb")))
    data = os.environ.get("KWS_DATA_DIR")
    clips = len(glob.glob(os.path.join(data, "speech_commands_v0.02", "*", "*.wav"))) if data else -1
    found = []
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in ("/proc", "/sys", "/dev", "/usr")]
        found += [os.path.join(folder, f) for f in files
                  if f.startswith(("clips-test", "alice", "instructor")) or folder.endswith("/alice")]
    return f"PROBE own={int(own)} clips={clips} found={len(found)}: {sorted(found)[:3]}"
"""


def _probe_cell(source: str) -> str:
    return source + "\n\n" + PROBE + '\nraise RuntimeError(_kws_probe("/"))\n'


@pytest.fixture(scope="module")
def course(tmp_path_factory, tiny_data, reference_submission) -> Path:
    """An instructor's folder: alice graded (her notebook and results), mallory's hand-in with
    the probe in its model cell, notes, and the data with a decoded test set in its cache."""
    from kws.data.cache import cache_clips
    from kws.data.speech_commands import SpeechCommands

    root = tmp_path_factory.mktemp("course")
    shutil.copytree(tiny_data, root / "data", symlinks=True)
    for student in ("alice", "mallory"):
        shutil.copytree(reference_submission, root / "submissions" / student)
    (root / "grades").mkdir()
    (root / "grades" / "alice.json").write_text(json.dumps({"score": 101.0, "tests": []}))
    (root / "notes").mkdir()
    (root / "notes" / "instructor-answers.txt").write_text("the answers")
    saved = os.environ.pop("KWS_CACHE_DIR", None)  # the cache beside the data, as a notebook's
    try:
        test_set = SpeechCommands(root / "data" / "speech_commands_v0.02", "test12", labels="12")
        cache_clips(test_set, num_workers=1)
    finally:
        if saved is not None:
            os.environ["KWS_CACHE_DIR"] = saved
    notebook_file = root / "submissions" / "mallory" / NOTEBOOK
    notebook = nbformat.read(notebook_file, as_version=4)
    cell = next(c for c in notebook.cells if "model" in c.metadata.get("tags", []))
    cell.source = _probe_cell(cell.source)
    nbformat.write(notebook, notebook_file)
    for path in [root, *root.rglob("*")]:  # what every user may read
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def test_the_probe_finds_the_classmates_files_without_a_sandbox(course):
    """The control: the same walk, in this process, finds what was planted."""
    scope: dict = {}
    exec(PROBE, scope)
    report = scope["_kws_probe"](str(course))
    found = int(report.split("found=")[1].split(":")[0])
    assert found >= 4, report  # alice's notebook, her results, the notes, the decoded test set
    assert list((course / "data" / "speech_commands_v0.02" / ".kws_cache").glob("clips-test*"))


@pytest.mark.parametrize("which", ["bubblewrap", "hand-written"])
def test_a_model_cell_finds_nothing_of_its_classmates(course, which):
    from kws.grading.sandbox import bwrap

    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    if which == "hand-written":
        env["KWS_SANDBOX"] = "builtin"
    elif bwrap.available() is None:
        pytest.skip("bubblewrap is not installed here; the hand-written sandbox is tested")
    results = course / "grades" / f"mallory-{which}.json"
    args = ["--submission", "submissions/mallory", "--data", "data", "--results", str(results)]
    args += ["--assignment", "keyword_spotting", "--retrain-device", "cpu"]
    args += ["--retrain-steps", "4", "-k", "model_loads or retrains"]
    grader = [sys.executable, "-m", "pytest", str(ROOT / "grader"), "-q", "-p", "no:cacheprovider"]
    run = subprocess.run([*grader, *args], cwd=course, env=env, capture_output=True, text=True,
                         timeout=1200)  # fmt: skip
    tests = json.loads(results.read_text())["tests"]
    reports = {t["name"]: t["output"] for t in tests if "PROBE" in t["output"]}
    retraining = [out for name, out in reports.items() if name.startswith("Re-training")]
    grading = [out for name, out in reports.items() if not name.startswith("Re-training")]
    assert retraining and grading, run.stdout[-3000:]
    for output in grading:  # the grading child: its hand-in, no data
        assert "PROBE own=1 clips=-1 found=0: []" in output, output
    for output in retraining:  # the re-training child: the training clips, no cache
        report = output[output.index("PROBE") :]
        clips = int(report.split("clips=")[1].split()[0])
        assert report.startswith("PROBE own=1 ") and clips > 0, report
        assert "found=0: []" in report, report
