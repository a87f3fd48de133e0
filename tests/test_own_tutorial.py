"""The tutorial "Your own assignment" (docs/tutorial/own-assignment.md), as an instructor follows
it: from an empty folder outside the kit, the page's files written as it shows them and its
commands run as written (`kws` on the PATH, the kit's own folder never the working directory).
Its course is then released, bundled, checked by a student with `kws handin` from the bundle
alone, and graded: the reference gets full marks, and a hand-in that breaks each rule loses
exactly that rule's test.

The page's commands' wall time is printed (``pytest -s``): the tutorial's time from an empty
folder to a graded class."""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from course_helpers import ROOT

from kws.notebooks import execute_notebook

# The full run's (docs/development/tests.md, "The two tiers"): the own-assignment tutorial as written: notebooks run, a class graded.
pytestmark = [pytest.mark.slow, pytest.mark.full]
PAGE = ROOT / "docs" / "tutorial" / "own-assignment.md"
NOTEBOOK = ROOT / "docs" / "tutorial" / "own" / "04_speaker_pooling.ipynb"
NAME = "speaker_pooling"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def sections(text: str) -> dict[str, list[tuple[str, str]]]:
    """{heading: [(language, code)] of its fenced blocks}, for each ``## `` section of `text`."""
    found = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        found[heading.strip()] = [(m[1], m[2]) for m in FENCE.finditer(body)]
    return found


def section(name: str) -> list[tuple[str, str]]:
    return next(blocks for heading, blocks in sections(PAGE.read_text()).items() if name in heading)


class Shell:
    """The instructor's shell: the page's bash blocks line by line, its `cd` and `export` kept,
    each command's output and wall time recorded."""

    def __init__(self, home: Path):
        self.cwd, self.seconds = home, 0.0
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KWS_")}
        self.env |= {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                     "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}  # fmt: skip
        self.outputs: dict[str, subprocess.CompletedProcess] = {}

    @classmethod
    def started(cls, tmp_path_factory, first_step: str, notebook: Path) -> "Shell":
        """A shell that ran the page's first step (`first_step`, in an empty folder) and put
        the solution `notebook`, downloaded from the page's link, into course/solutions/."""
        home = tmp_path_factory.mktemp("instructor")
        shell = cls(home)
        shell.run(first_step)
        assert shell.cwd == home / "teaching" and shell.env["KWS_COURSE"] == "course"
        shutil.copy(notebook, shell.cwd / "course" / "solutions")
        return shell

    def run(self, block: str) -> None:
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("cd "):
                self.cwd = (self.cwd / line[3:]).resolve()
            elif line.startswith("export "):
                key, _, value = line[7:].partition("=")
                self.env[key] = value
            else:
                start = time.monotonic()
                done = subprocess.run(["bash", "-c", line], cwd=self.cwd, env=self.env,
                                      capture_output=True, text=True, timeout=1800)  # fmt: skip
                self.seconds += time.monotonic() - start
                self.outputs[line] = done
                assert done.returncode == 0, f"$ {line}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"

    def here(self, *words: str, cwd: Path, monkeypatch, capsys) -> subprocess.CompletedProcess:
        """`kws WORDS` typed in `cwd` with this shell's ``KWS_`` variables, run by
        `kws.cli.main` in the test's process: the parser and handler of the `kws` on the PATH,
        without another interpreter to start (for `kws assign`, whose every module reads the
        course when it runs). Its exit code and output, as the command gives them."""
        from kws.cli import main

        monkeypatch.chdir(cwd)
        for key in [key for key in os.environ if key.startswith("KWS_")]:
            monkeypatch.delenv(key)
        for key, value in self.env.items():
            if key.startswith("KWS_"):
                monkeypatch.setenv(key, value)
        capsys.readouterr()  # what came before
        code = main(list(words))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["kws", *words], code, out, err)


def _break(source: Path, target: Path, old: str, new: str) -> Path:
    """`source`'s notebook with `old` replaced by `new` in its model cell, written to `target`."""
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if "model" in c.metadata.get("tags", []))
    assert old in cell.source, old
    cell.source = cell.source.replace(old, new)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


# Hand-ins that each break one rule of the spec: (the model cell's text, what replaces it, the
# steps trained, the test it must lose). The one trained too little is the reference's run at a
# tenth of the budget (seed 0), as `kws reference` left it: that notebook is not run again.
BROKEN = {
    "padding": ("return (x * valid[..., None]).sum(dim=1) / lengths[:, None].clamp(min=1)",
                "return x.mean(dim=1)", "60", "Task 1: masked_mean averages the valid frames"),
    "layers": ("num_layers=2", "num_layers=3", "60", "Task 1: 1 to 2 layers run in forward"),
    "norm": ("self.classifier(self.norm(masked_mean(h, lengths)))",
             "self.classifier(masked_mean(h, lengths))", "60",
             "Task 1: a normalization feeds the classifier's final Linear"),
    "untrained": ("", "", "a tenth", "Accuracy on the hidden test labels"),
}  # fmt: skip


def _hand_in(shell: Shell, student: str, data: Path) -> Path:
    """A student's hand-in of the solution notebook broken as `BROKEN[student]` says, run at the
    tutorial's budget (seed 0) in its folder under the instructor's ``subs/``."""
    old, new, steps, _ = BROKEN[student]
    folder = shell.cwd / "subs" / student
    if steps == "a tenth":
        shutil.copytree(shell.cwd / "reference" / NAME / "seed0-tenth", folder,
                        ignore=shutil.ignore_patterns("results"))  # fmt: skip
        return folder
    notebook = _break(shell.cwd / "course" / "solutions" / f"04_{NAME}.ipynb",
                      folder / f"04_{NAME}.ipynb", old, new)  # fmt: skip
    run_handin(shell, notebook, data / "speaker_features", steps)
    return folder


def run_handin(shell: Shell, notebook: Path, data: Path, steps: str) -> None:
    """Run a hand-in's `notebook` in place as its student does: on `data`, `steps` steps at seed
    0, with the instructor's course, its outputs under ``outputs/`` beside it."""
    env = {"KWS_DATA_DIR": str(data), "KWS_OUT_DIR": str(notebook.parent / "outputs"),
           "KWS_STEPS": steps, "KWS_SEED": "0", "KWS_COURSE": str(shell.cwd / "course"),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    execute_notebook(notebook, env=env, timeout=900, save_to=notebook)


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory) -> dict:
    """The page followed from an empty folder: {"shell", "students", "grades"}."""
    shell = Shell.started(tmp_path_factory, section("1. An empty folder")[0][1], NOTEBOOK)
    # 3 and 4: the files the page shows, each named in its first line
    written = 0
    for _, code in section("3. The spec") + section("4. The numeric check"):
        path = code.splitlines()[0].lstrip("# ").strip()
        (shell.cwd / path).write_text(code)
        written += len(code.splitlines())
    shell.run(section("5. Let the kit write the rest")[0][1])
    shell.run(section("6. Data, and the reference run")[0][1])
    shell.run(section("7. The student bundle")[0][1])
    data = shell.cwd / "data"
    with ThreadPoolExecutor(2) as pool:  # the class's hand-ins, collected into subs/
        list(pool.map(lambda student: _hand_in(shell, student, data), BROKEN))
    shutil.copytree(shell.cwd / "reference" / NAME / "seed0", shell.cwd / "subs" / "ada",
                    ignore=shutil.ignore_patterns("results"))  # fmt: skip
    shell.run(section("8. Grade the class")[0][1])
    print(f"\nthe tutorial's commands: {shell.seconds:.0f} s wall (load {os.getloadavg()[0]:.1f})")
    return {"shell": shell, "written": written, "data": data}


def test_the_page_shows_the_notebook_it_links_and_counts_the_lines_written_by_hand(tutorial):
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    shown = [code.rstrip("\n") for lang, code in section("2. The solution notebook")]
    assert shown == cells
    assert tutorial["written"] <= 60
    assert f"{tutorial['written']} lines together" in PAGE.read_text()


def test_kws_assign_writes_what_the_page_shows(tutorial, monkeypatch, capsys):
    shell = tutorial["shell"]
    shown = section("5. Let the kit write the rest")[1][1]
    assert shell.outputs["kws assign"].stdout == shown
    tests = shell.cwd / "course" / NAME / "graded_tests"
    assert sorted(p.name for p in tests.glob("*.py")) == ["__init__.py", "test_numeric.py",
                                                          "test_spec.py"]  # fmt: skip
    student = nbformat.read(shell.cwd / "course" / "students" / f"04_{NAME}.ipynb", as_version=4)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert 'raise NotImplementedError("TODO: average only the valid frames' in code
    assert "KIT_SOURCE = " in code and f'check.assignment("{NAME}")' in code
    assert f'ready_to_hand_in("{NAME}", data=DATA_DIR, outputs=OUT_DIR)' in code
    done = shell.here("assign", "--check", cwd=shell.cwd, monkeypatch=monkeypatch, capsys=capsys)
    assert done.returncode == 0, done.stdout + done.stderr  # nothing left to write


def _refused(tmp_path: Path, shell: Shell, monkeypatch, capsys) -> str:
    """`kws assign` in `tmp_path` on its course/ (``KWS_COURSE=course``): refused (exit 2) with
    nothing written; its message."""
    course = tmp_path / "course"
    before = {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}
    done = shell.here("assign", cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    assert done.returncode == 2, done.stdout
    assert {p: p.read_bytes() for p in course.rglob("*") if p.is_file()} == before
    return done.stderr


def test_the_mistakes_the_page_shows_are_refused_as_it_says(
    tutorial, tmp_path, monkeypatch, capsys
):
    shell = tutorial["shell"]
    course = shutil.copytree(shell.cwd / "course", tmp_path / "course")
    spec = course / NAME / "spec.toml"
    right = spec.read_text()
    spec.write_text(right.replace("norm_before_classifier = true", "norm_befor_classifier = true"))
    shown = [line for _, code in section("5. Let the kit write the rest") for line in code.splitlines()]  # fmt: skip
    said = next(line for line in shown if "a rule the kit does not know" in line)
    assert _refused(tmp_path, shell, monkeypatch, capsys).startswith(said.removesuffix("..."))
    spec.write_text(right)
    notebook = course / "solutions" / f"04_{NAME}.ipynb"
    _break(notebook, notebook, "\n        # END SOLUTION", "")  # forward's region, never closed
    said = (
        "course/solutions/04_speaker_pooling.ipynb, cell 2, line 33: BEGIN SOLUTION is never closed"
    )
    assert said in _refused(tmp_path, shell, monkeypatch, capsys)
    assert said.replace("ipynb, cell", "ipynb,\ncell") in PAGE.read_text()


def test_the_reference_run_sets_tiers_that_the_reference_meets_and_a_tenth_misses(tutorial):
    shell = tutorial["shell"]
    out = shell.outputs["kws reference --data data --seeds 0 1 2 --write-tiers"].stdout
    assert "✓ the reference gets full marks at every seed; a tenth of the budget does not" in out
    spec = (shell.cwd / "course" / NAME / "spec.toml").read_text()
    assert re.search(
        r"^synthetic-tiny = \{ simple = [\d.]+, medium = .* \}  # kws reference", spec, re.M
    )
    record = json.loads((shell.cwd / "reference" / "reference.json").read_text())[
        "assignments"][NAME]  # fmt: skip
    tiers, runs = record["tiers"], record["runs"]
    full = [run["accuracies"]["task1"] for run in runs if not run["tenth"]]
    assert tiers["simple"] <= min(full) - 0.02
    assert all(run["score"] == run["max_score"] for run in runs if not run["tenth"])
    tenth = next(run for run in runs if run["tenth"])
    assert tenth["score"] < tenth["max_score"] and tenth["accuracies"]["task1"] < tiers["simple"]


def test_the_bundle_carries_the_course_and_a_student_checks_a_hand_in_with_it_alone(
    tutorial, tmp_path
):
    shell = tutorial["shell"]
    handout = shell.cwd / "handout"
    assert sorted(p.name for p in handout.iterdir()) == sorted(
        [f"04_{NAME}.ipynb", "README.md", "handout.zip", "kws-0.1.0.tar.gz"])  # fmt: skip
    readme = (handout / "README.md").read_text()
    assert f"kws handin 04_{NAME}.ipynb" in readme and "HW4 feature folder" in readme
    assert "02_speaker_id" not in readme and "Speech Commands" not in readme
    kit = tmp_path / "kit"
    with tarfile.open(handout / "kws-0.1.0.tar.gz") as archive:
        archive.extractall(kit, filter="data")
    kit = next(kit.iterdir())
    assert sorted(p.name for p in (kit / "kws" / "assignments").iterdir()) == ["__init__.py", NAME]
    # The student: the bundle's notebook, each TODO written (the solution's code) and run
    student = tmp_path / "student"
    (student / "data").mkdir(parents=True)
    shutil.copytree(tutorial["data"] / "speaker_features", student / "data" / "speaker_features")
    nb = nbformat.read(handout / f"04_{NAME}.ipynb", as_version=4)
    solved = {c.id: c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells}
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.source = solved.get(cell.id, cell.source)
        if "handin" not in cell.metadata.get("tags", []):
            cell.execution_count = number + 1
    nbformat.write(nb, student / f"04_{NAME}.ipynb")
    shutil.copytree(shell.cwd / "reference" / NAME / "seed0" / "outputs", student / "outputs")
    env = {k: v for k, v in shell.env.items() if k != "KWS_COURSE"} | {"PYTHONPATH": str(kit)}
    # the self-check cell, as the notebook runs it, with the bundle's kit
    check = next(c.source for c in nb.cells if "self-check" in c.metadata.get("tags", []))
    model = next(c.source for c in nb.cells if "model" in c.metadata.get("tags", []))
    done = subprocess.run([sys.executable, "-c", f"{model}\n{check}"], cwd=student, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✗" not in done.stdout and "padded frames are left out" in done.stdout
    assert "a normalization feeds the final Linear classifier" in done.stdout
    command = next(code for lang, code in section("7. The student bundle") if lang == "console")
    done = subprocess.run(["bash", "-c", command.strip()], cwd=student, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{kit}" in subprocess.run([sys.executable, "-c", "import kws; print(kws.__file__)"],
                                      cwd=student, env=env, capture_output=True,
                                      text=True).stdout  # the bundle's kit  # fmt: skip
    shown = next(code for lang, code in section("7. The student bundle") if lang == "text")
    for line in shown.splitlines()[1:]:
        assert line in done.stdout, line
    assert (student / "handin.zip").is_file()


def test_the_class_is_graded_the_reference_full_marks_each_break_loses_its_test(tutorial):
    shell = tutorial["shell"]
    results = {
        p.stem: json.loads(p.read_text()) for p in (shell.cwd / "grades" / "results").glob("*.json")
    }
    assert sorted(results) == ["ada", *sorted(BROKEN)]
    ada = results["ada"]
    assert ada["score"] == sum(t["max_score"] for t in ada["tests"]) == 10
    for student, (_, _, _, loses) in BROKEN.items():
        lost = [t["name"] for t in results[student]["tests"] if t["score"] < t["max_score"]]
        assert len(lost) == 1 and lost[0].startswith(loses), (student, lost)
    graded = shell.outputs["kws grade subs --data data --out grades"].stdout
    assert "Warning: 04_speaker_pooling.ipynb graded on a public test set" in graded
    report = shell.outputs["kws report grades"].stdout
    assert "sharing code with the reference solution (in speaker_pooling)" in report
    assert "0 students sharing code" not in report  # compared with this course's solution


def test_a_first_grading_says_so_and_gradescope_sizes_the_course_from_its_reference(tutorial):
    shell = tutorial["shell"]
    shutil.copytree(shell.cwd / "subs" / "ada", shell.cwd / "subs" / "zoe")
    run = dict(cwd=shell.cwd, env=shell.env, capture_output=True, text=True)
    done = subprocess.run(["kws", "grade", "subs", "--data", "data", "--out", "grades",
                           "--student", "zoe"], **run)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "zoe graded for the first time" in done.stdout and "regraded" not in done.stdout
    done = subprocess.run(["kws", "gradescope", "--data", "data", "--out", "autograder.zip"], **run)
    assert done.returncode == 0, done.stderr
    # kws reference --write-tiers measured the grading: the zip is sized from it
    assert "The reference hand-in takes speaker_pooling" in done.stdout
    assert "Not measured" not in done.stdout and "0.0 min" not in done.stdout
    spec = (shell.cwd / "course" / NAME / "spec.toml").read_text()
    assert re.search(r"^\[grading\].*\ncpu_seconds = [\d.]+\nmeasured_size = \d+", spec, re.M)
    with zipfile.ZipFile(shell.cwd / "autograder.zip") as archive:  # the course, the kit's out
        assert "WHOLE_COURSE=1" in archive.read("run_autograder").decode()
        assert "WHOLE_COURSE=1" in archive.read("setup.sh").decode()
        assert f"assignments/{NAME}/graded_tests/test_spec.py" in archive.namelist()
