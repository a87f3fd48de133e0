"""One graded class for the tests of what instructors give the season's commands
(tests/test_bad_input.py: refusals; tests/test_course_warnings.py: warnings): five hand-ins of
notebooks 01 and 02 whose results are written with the grader's own writers, the course file,
times and roster of tests/bad_input_corpus.py, and `kws season --course --times` run on them as
the instructor runs it, in the course folder with relative paths.

    folder = graded_class(tmp_path / "course", tiny_data)
    done = kws(folder, "season", "grades", "--course", "course.toml")
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from bad_input_corpus import COURSE, KS, ROSTER, SI, STUDENTS, TIMES
from course_helpers import ROOT

from kws.grading.judge.document import TestResult, results_document, write_results
from kws.grading.records.gradebook import Graded, write_gradebook, write_run_record
from kws.spec import ASSIGNMENTS

SCORES = {"ann": (10, 20, 44), "bob": (10, 15, 40), "cy": (10, 20, 30), "ext": (5, 20, 44),
          "lateday": (10, 18, 44)}  # fmt: skip


def kws(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`kws ARGS` typed in `cwd`, in a process of its own."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    # a guard against a hang, never a measure: `kws rehearse` trains the reference and grades a
    # class (about 2 minutes on 2 idle cores; past 300 s with the suite pinned to one core)
    return subprocess.run([sys.executable, "-m", "kws.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1800)  # fmt: skip


def snapshot(folder: Path, leave_out=()) -> dict[str, str]:
    """{file: sha256} of every file under `folder` (the data folder and `leave_out` aside)."""
    found = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not (Path(root) == folder and d == "data")]
        for name in files:
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if relative not in leave_out:
                found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def document(points: tuple[int, int, int]) -> dict:
    """A results document with these points in notebook 01's two tests and notebook 02's one."""
    tests = [("ks task", 10.0, KS), ("ks accuracy", 20.0, KS), ("si all", 44.0, SI)]
    return results_document(
        [TestResult(title, float(got), maximum, "passed" if got == maximum else "failed", "",
                    "visible", {"assignment": name})
         for (title, maximum, name), got in zip(tests, points, strict=True)],
        output="", execution_time=3,
    )  # fmt: skip


def graded_class(folder: Path, tiny_data: Path) -> Path:
    """The instructor's folder `folder`: submissions/ (five hand-ins of notebooks 01 and 02),
    data/, course.toml, times.csv, roster.csv, and grades/ as `kws grade --roster` and `kws
    season --course --times` leave it."""
    grades, graded = folder / "grades", []
    for student in STUDENTS:
        handin = folder / "submissions" / student
        handin.mkdir(parents=True)
        for name in (KS, SI):  # empty notebooks: the grader would find them; nothing runs them
            nbformat.write(nbformat.v4.new_notebook(), handin / ASSIGNMENTS[name].notebook)
        results = document(SCORES[student])
        write_results(grades / "results" / f"{student}.json", results)
        graded.append(Graded(student, results, "", 4.0))
    write_gradebook(graded, grades / "gradebook.csv")
    (folder / "data").symlink_to(tiny_data, target_is_directory=True)
    for name, text in (("course.toml", COURSE), ("times.csv", TIMES), ("roster.csv", ROSTER)):
        (folder / name).write_text(text)
    shutil.copyfile(folder / "roster.csv", grades / "roster.csv")
    write_run_record(grades, folder / "submissions", folder / "data", None, roster_key="folder")
    done = kws(folder, "season", "grades", "--course", "course.toml", "--times", "times.csv")
    assert done.returncode == 0, done.stderr
    return folder


def copy_class(course: Path, tmp_path: Path) -> Path:
    """A copy of the graded class `course` in `tmp_path`, sealed with its own run.json."""
    copy = tmp_path / "course"
    shutil.copytree(course, copy, symlinks=True)
    run = (copy / "grades" / "run.json").read_text().replace(str(course), str(copy))
    (copy / "grades" / "run.json").write_text(run)
    assert kws(copy, "season", "grades").returncode == 0  # sealed with its own run.json
    return copy
