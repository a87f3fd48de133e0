"""`kws demo`, the newcomer's first command, run as they would: from their own folder, with a
relative --out, on the tiny synthetic preset (the small one takes minutes; its figures are in
kws/figures.json)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from kws.demo import PhaseClock, StatusLine


@pytest.mark.slow
def test_tiny_demo_grades_the_reference_with_full_marks(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-m", "kws.cli", "demo", "--preset", "tiny", "--out", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "demo" / "results.json").read_text())
    full = sum(test["max_score"] for test in report["tests"])
    assert full > 0 and report["score"] == full, [
        (t["name"], t.get("output", "")) for t in report["tests"] if t["score"] < t["max_score"]
    ]
    assert f"grader score        {full:g} / {full:g}" in done.stdout
    # The closing table: where the time went, wall and CPU, phase by phase.
    for phase in ("synthetic data", "both notebooks, side by side", "grading", "total"):
        assert any(
            line.strip().startswith(phase) and "CPU-s" in line for line in done.stdout.splitlines()
        ), phase
    assert (tmp_path / "demo" / "submission" / "outputs" / "kws" / "model.pt").is_file()
    for name in ("01_keyword_spotting.ipynb", "02_speaker_id.ipynb"):
        assert f"{name} finished in" in done.stdout
        executed = json.loads((tmp_path / "demo" / "submission" / name).read_text())
        assert any(cell.get("outputs") for cell in executed["cells"]), f"{name} kept no output"


@pytest.mark.slow
def test_demo_one_notebook_at_a_time_shows_their_output(tmp_path, tiny_data):
    # The demo makes its data only where it is missing: the session's tiny data is that very data
    # (preset tiny, seed 0; made by the test above as a newcomer would), this test is about output.
    shutil.copytree(tiny_data, tmp_path / "d" / "data")
    done = subprocess.run(
        [sys.executable, "-m", "kws.cli", "demo", "--preset", "tiny", "--out", "d"]
        + ["--no-grade", "--one-at-a-time"],
        cwd=tmp_path,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "running solutions/02_speaker_id.ipynb" in done.stdout
    assert "test accuracy" in done.stdout  # what the notebooks print, echoed as it comes
    assert not (tmp_path / "d" / "results.json").exists()  # --no-grade


def test_phase_clock_adds_up_its_phases():
    clock = PhaseClock()
    with clock.phase("first"):
        sum(i * i for i in range(200_000))  # some CPU time
    with pytest.raises(RuntimeError), clock.phase("second"):
        raise RuntimeError("a failing phase is still timed")
    names = [name for name, _, _ in clock.phases]
    assert names == ["first", "second"]
    assert clock.phases[0][1] > 0 and clock.phases[0][2] > 0
    total = clock.table().splitlines()[-1].split()
    assert total[0] == "total"
    assert float(total[1]) == pytest.approx(sum(wall for _, wall, _ in clock.phases), abs=1)


def test_status_line_shows_each_notebooks_latest_progress():
    status = StatusLine(["01_keyword_spotting.ipynb", "02_speaker_id.ipynb"])
    status.update("01_keyword_spotting.ipynb", "kws:  10%|#  | 150/1500\rkws:  20%|## | 300/1500")
    status.update("02_speaker_id.ipynb", "task1: best validation accuracy 0.9000\n")
    status.update("02_speaker_id.ipynb", "\n")  # an empty write keeps the last line
    line = status.line()
    assert "01: kws:  20%|## | 300/1500" in line
    assert "02: task1: best validation accuracy 0.9000" in line
