"""`kws release bundle OUT`: the student bundle an instructor hands out instead of the repository.

Run as an instructor runs it (another working directory, a relative path), then opened and scanned
the way a curious student would: every file, every member of the zip and of the kit's archive."""

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from kws.cli import main
from kws.i18n import notebook_domain
from kws.notebooks import BEGIN, END
from kws.release.bundle import BundleError, build_bundle, scan_bundle
from kws.spec import ASSIGNMENTS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
KIT_SOURCE = re.compile(r'KIT_SOURCE = os\.environ\.get\("KWS_KIT_SOURCE", "([^"]*)"\)')


def _release(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "kws.cli", "release", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("instructor")
    done = _release(cwd, "bundle", "handout")
    assert done.returncode == 0, done.stderr
    assert "note:" not in done.stderr  # the current form
    return cwd / "handout"


def _solution_lines() -> set[str]:
    """Lines of reference code inside the solution regions that appear nowhere else in solutions/
    (long enough to be telling)."""
    inside, outside = set(), set()
    for name in NOTEBOOKS:
        for cell in nbformat.read(ROOT / "solutions" / name, as_version=4).cells:
            region = False
            for line in cell.source.splitlines():
                if BEGIN.match(line) or END.match(line):
                    region = BEGIN.match(line) is not None
                    continue
                (inside if region else outside).add(line.strip())
    return {line for line in inside - outside if len(line) >= 25}


def _every_file(folder: Path) -> dict[str, bytes]:
    """Every file of the bundle by its path, with the members of zips and .tar.gz files nested."""
    files = {}

    def add(name: str, data: bytes) -> None:
        files[name] = data
        if name.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zipped:
                for member in zipped.namelist():
                    add(f"{name}/{member}", zipped.read(member))
        elif name.endswith(".tar.gz"):
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        add(f"{name}/{member.name}", tar.extractfile(member).read())

    for path in folder.rglob("*"):
        if path.is_file():
            add(path.relative_to(folder).as_posix(), path.read_bytes())
    return files


def test_bundle_holds_the_student_notebooks_readme_kit_and_zip(bundle):
    kit = next(bundle.glob("kws-*.tar.gz")).name
    assert sorted(p.name for p in bundle.iterdir()) == sorted(
        [*NOTEBOOKS, "README.md", kit, "handout.zip"]
    )
    with zipfile.ZipFile(bundle / "handout.zip") as zipped:
        assert sorted(zipped.namelist()) == sorted(
            f"handout/{n}" for n in [*NOTEBOOKS, "README.md", kit]
        )
        for name in [*NOTEBOOKS, "README.md", kit]:
            assert zipped.read(f"handout/{name}") == (bundle / name).read_bytes()
    for name in NOTEBOOKS:
        # the released notebook of assignments/ (kept in sync with solutions/ by a test), its
        # set-up cell pointing at the kit's archive beside it
        student = nbformat.read(bundle / name, as_version=4)
        code = "\n".join(cell.source for cell in student.cells)
        assert KIT_SOURCE.findall(code) == [kit]
        assert "raise NotImplementedError" in code
        released = nbformat.read(ROOT / "assignments" / name, as_version=4)
        for cell in released.cells:
            cell.source = KIT_SOURCE.sub(
                f'KIT_SOURCE = os.environ.get("KWS_KIT_SOURCE", "{kit}")', cell.source
            )
        assert student == released
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    for promise in (f"pip install {kit}", "Colab", "drive.mount", "kws synth speech-commands",
                    "metadata.json", "outputs", "Hand in", *NOTEBOOKS):  # fmt: skip
        assert promise in readme, promise


def test_bundle_holds_no_solution_grader_or_hidden_labels(bundle):
    files = _every_file(bundle)
    assert any(name.endswith("/kws/cli.py") for name in files)  # the scan does reach the archive
    solution_lines = _solution_lines()
    assert len(solution_lines) > 20
    for name, data in files.items():
        parts = name.split("/")
        assert not {"solutions", "grader", "speaker_features_hidden", "tests"} & set(parts), name
        assert not any(p.startswith("speech_commands_test_set") for p in parts), name
        # (the kit's own README, inside its archive, documents the markers for instructors)
        if name.endswith(".ipynb") or (name.endswith("README.md") and "/kws-" not in name):
            text = data.decode("utf-8")
            assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, name
            if name.endswith(".ipynb"):  # the code as written, not as escaped in JSON
                text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
            leaked = [line for line in solution_lines if line in text]
            assert not leaked, f"{name} holds solution code: {leaked[:3]}"
    kit = [n.split("/", 2)[2] for n in files if re.match(r"kws-[^/]+\.tar\.gz/", n)]
    assert {n for n in kit if not n.startswith("kws/")} == {
        "PKG-INFO", "README.md", "pyproject.toml", "setup.cfg", "kws.egg-info/PKG-INFO",
        "kws.egg-info/SOURCES.txt", "kws.egg-info/dependency_links.txt",
        "kws.egg-info/entry_points.txt", "kws.egg-info/requires.txt",
        "kws.egg-info/top_level.txt",
    }  # fmt: skip
    assert all(n.endswith(".py") for n in kit if n.startswith("kws/")
               and "/assignments/" not in n and "/locale/" not in n)  # fmt: skip
    notebooks = [notebook_domain(spec.notebook) for spec in ASSIGNMENTS.values()]
    assert {n for n in kit if "/locale/" in n} == {  # the catalogs, which students read
        "kws/locale/kws.pot", "kws/locale/pl/LC_MESSAGES/kws.po",
        "kws/locale/zh_TW/LC_MESSAGES/kws.po",
        *(f"kws/locale/{domain}.pot" for domain in notebooks),
        *(f"kws/locale/zh_TW/LC_MESSAGES/{domain}.po" for domain in notebooks),
    }  # fmt: skip
    catalogs = {data.decode("utf-8") for name, data in files.items() if "/notebook_" in name}
    assert len(catalogs) == 6  # the student notebooks' Markdown, never a model answer
    assert not [line for line in solution_lines if any(line in text for text in catalogs)]
    # the assignment specs (limits, points, tiers) ship: kws.spec reads them when asked; and so
    # do the graded tests, which a student's `kws handin` runs on the hand-in
    assert {
        "kws/assignments/keyword_spotting/spec.toml",
        "kws/assignments/speaker_id/spec.toml",
        "kws/assignments/speaker_id/graded_tests/test_02_speaker_id.py",
    } <= set(kit)
    assert "kws/data/prepare.py" in kit  # what the notebooks' set-up cell imports
    assert scan_bundle(bundle) == []


def test_release_refuses_a_non_empty_folder_unless_forced(bundle, tmp_path):
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    done = _release(bundle.parent, "bundle", "handout")
    assert done.returncode == 2
    assert "handout is not empty" in done.stderr and "--force" in done.stderr
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before

    (tmp_path / "notes.txt").write_text("mine")
    done = _release(tmp_path.parent, "bundle", tmp_path.name, "--force")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with zipfile.ZipFile(tmp_path / f"{tmp_path.name}.zip") as zipped:
        assert not any(name.endswith("notes.txt") for name in zipped.namelist())


def test_release_never_writes_over_the_solutions(tmp_path):
    with pytest.raises(BundleError, match="holds the solution notebooks"):
        build_bundle(ROOT, force=True)
    with pytest.raises(BundleError, match="holds the solution notebooks"):
        build_bundle(ROOT / "solutions", force=True)


def test_scan_finds_what_students_must_not_get(bundle, tmp_path):
    with zipfile.ZipFile(tmp_path / "extra.zip", "w") as zipped:
        zipped.writestr("extra/grader/test_02_speaker_id.py", "hidden tests")
        zipped.writestr("extra/speech_commands_test_set_v0.02/yes/a_nohash_0.wav", b"RIFF")
    notebook = json.loads((bundle / NOTEBOOKS[0]).read_text(encoding="utf-8"))
    notebook["cells"][-1]["source"] = [
        "# BEGIN SOLUTION: the answer\n",
        "x = 42\n",
        "# END SOLUTION",
    ]
    (tmp_path / "leaky.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    (tmp_path / "speaker_features_hidden").mkdir()
    (tmp_path / "speaker_features_hidden" / "test_labels.csv").write_text("Id,Category\n")
    kit = io.BytesIO()
    with tarfile.open(fileobj=kit, mode="w:gz") as tar:
        info = tarfile.TarInfo("kws-0.1.0/solutions/02_speaker_id.ipynb")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    (tmp_path / "kws-0.1.0.tar.gz").write_bytes(kit.getvalue())
    problems = "\n".join(scan_bundle(tmp_path))
    assert "extra.zip/extra/grader/test_02_speaker_id.py: a folder" in problems
    assert "extra.zip/extra/speech_commands_test_set_v0.02/yes/a_nohash_0.wav: a folder" in problems
    assert "leaky.ipynb: holds a solution marker" in problems
    assert "speaker_features_hidden/test_labels.csv: a folder" in problems
    assert "solutions/02_speaker_id.ipynb: not part of the kit's package" in problems


def test_kit_url_and_a_notebook_without_set_up_cell(tmp_path):
    url = "https://course.example.org/kws-0.1.0.tar.gz"
    build_bundle(tmp_path / "out", kit_url=url)
    for name in NOTEBOOKS:
        student = nbformat.read(tmp_path / "out" / name, as_version=4)
        assert KIT_SOURCE.findall("\n".join(c.source for c in student.cells)) == [url]

    solutions = tmp_path / "solutions"
    solutions.mkdir()
    cell = nbformat.v4.new_code_cell("# BEGIN SOLUTION: add\nx = 1 + 1\n# END SOLUTION")
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), str(solutions / "03_new.ipynb"))
    with pytest.raises(BundleError, match=r"03_new\.ipynb has no set-up cell"):
        build_bundle(tmp_path / "other", solutions=solutions)
    assert not (tmp_path / "other").exists()  # nothing written


def test_release_has_two_forms_and_the_old_spellings_say_the_new_ones(tmp_path, capsys):
    assert main(["release", "bundle", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert main(["release", str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c")]) == 2
    assert main(["release", "bundle", str(tmp_path / "out"), "--check"]) == 2
    assert main(["release", "notebooks", str(tmp_path / "b"), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("give one of the two forms:\nkws release bundle OUT") == 2
    assert "--check compares the student notebooks: kws release notebooks --check" in err
    assert "--force is for the bundle (kws release bundle OUT)" in err
    assert list(tmp_path.iterdir()) == []
    # the earlier `kws release SOLUTIONS ASSIGNMENTS`: the notebooks, with a note
    assert main(["release", str(ROOT / "solutions"), str(tmp_path / "students")]) == 0
    err = capsys.readouterr().err
    assert "`kws release " in err and "` is now `kws release notebooks " in err
    assert sorted(p.name for p in (tmp_path / "students").iterdir()) == NOTEBOOKS
    assert main(["release", "notebooks", str(tmp_path / "students"), "--check"]) == 0
    assert main(["release", "notebooks", "--check"]) == 0  # the kit's assignments/ is in sync


def test_the_release_says_which_data_students_get_and_which_the_grader_keeps(tiny_data, tmp_path):
    import shutil

    from kws.grading.testsets.public_only import PUBLIC_ONLY, handout

    data = tmp_path / "data"
    for name in ("speaker_features", "speaker_features_hidden", "speech_commands_test_set_v0.02",
                 "speech_commands_v0.02"):  # fmt: skip
        shutil.copytree(tiny_data / name, data / name)
    said = "\n".join(handout(data))
    assert f"hand out to students: {data / 'speaker_features'} (as the notebook's " in said
    assert PUBLIC_ONLY in said  # no private test set yet: said, with the command that makes one
    assert f"kws private {data} --secret FILE" in said
    assert main(["private", str(data), "--secret", str(tmp_path / "course.secret")]) == 0
    lines = handout(data)
    assert lines[0] == (f"hand out to students: {data / 'speaker_features_students'} (as the "
                        "notebook's speaker_features/)")  # fmt: skip
    kept = lines[1]
    for name in ("speaker_features", "speaker_features_hidden", "speaker_features_private",
                 "speech_commands_test_set_v0.02", "speech_commands_test_set_v0.02_private"):  # fmt: skip
        assert f"{data / name}," in kept + ","
    assert len(lines) == 2  # every notebook has its private test set
    assert "speaker_features_students/ folder" in handout()[0]  # without --data: how
    assert (
        main(["release", "bundle", str(tmp_path / "out"), "--data", str(tmp_path / "nowhere")]) == 2
    )
    assert not (tmp_path / "out").exists()
    problems = scan_bundle_of(tmp_path, "speaker_features_private/metadata.json")
    assert "speaker_features_private/metadata.json: a folder students must not get" in problems


def scan_bundle_of(folder: Path, name: str) -> str:
    """What `scan_bundle` says of a folder holding only the file `name`."""
    (folder / "scanned" / name).parent.mkdir(parents=True)
    (folder / "scanned" / name).write_text("{}")
    return "\n".join(scan_bundle(folder / "scanned"))


def _release_course(course: Path, cwd: Path) -> Path:
    """`kws release bundle handout` run as an instructor runs it, in `cwd`, for the course
    folder `course` (``KWS_COURSE``); the bundle's folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KWS_COURSE": str(course)}
    done = subprocess.run([sys.executable, "-m", "kws.cli", "release", "bundle", "handout"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return cwd / "handout"


def test_a_written_only_bundle_asks_for_no_data_gpu_or_settings(tmp_path):
    """nbgrader's ps1, problem2 alone (manually graded answers only) released as a course: its
    README asks for no data, no GPU and no `parameters` cell, says the notebook has written
    answers only, and that the Set-up cell, the notebook's first code cell, comes first. With
    problem1 beside it (nbgrader's autograded tests check its code), no data, GPU or settings
    either, but not "written answers only"; the kit's own course keeps its data section."""
    import shutil

    from nbgrader_ps1 import write_course

    course = write_course(tmp_path / "course", both=True)
    alone = tmp_path / "alone"
    shutil.copytree(course / "ps1_problem2", alone / "ps1_problem2")
    (alone / "solutions").mkdir()
    shutil.copy(course / "solutions" / "problem2.ipynb", alone / "solutions")
    (tmp_path / "a").mkdir()
    bundle = _release_course(alone, tmp_path / "a")
    readme = (bundle / "README.md").read_text()
    assert "These notebooks have written answers only" in readme
    assert "you need no data, no GPU\nand no `parameters` cell" in readme
    assert "**Set-up** cell comes first" in readme
    for asked in ("## The data", "Runtime → Change runtime type → a GPU", "`parameters` cell,",
                  "DATA_DIR", "OUT_DIR", "tagged `model`", "model.pt"):  # fmt: skip
        assert asked not in readme, asked
    assert "No GPU needed: keep the default runtime." in readme
    assert "kws handin problem2.ipynb" in readme and "each written question answered" in readme
    notebook = nbformat.read(bundle / "problem2.ipynb", as_version=4)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert first.get("id") == "kws-setup"  # the Set-up cell comes first, as the README says
    assert not any("parameters" in c.metadata.get("tags", []) for c in notebook.cells)

    (tmp_path / "b").mkdir()
    both = (_release_course(course, tmp_path / "b") / "README.md").read_text()
    assert "These notebooks train no model: you need no data, no GPU and no `parameters`" in both
    assert "written answers only" not in both and "## The data" not in both
    assert "a GPU" not in both.replace("No GPU", "")
    kit = build_readme_of_kit()
    assert "## The data" in kit and "Runtime → Change runtime type → a GPU" in kit


def build_readme_of_kit() -> str:
    """The README of the kit's own course (notebooks that train models), as `student_readme`
    writes it for the bundle."""
    from kws.release.bundle import student_readme
    from kws.spec import ASSIGNMENTS

    specs = list(ASSIGNMENTS.values())
    return student_readme([(spec.notebook, spec.name) for spec in specs], "kit.tar.gz", specs)
