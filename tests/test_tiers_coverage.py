""".ci/tiers.py, which CI runs after both tiers: it reads each tier's coverage data (the default
run's, and the rest of the full run's), prints the lines of kws/ each covers, and fails CI when the
default run covers less than 90 % of the full run's lines or never imports a module of kws/."""

import importlib.util
import os
import subprocess
import sys

import pytest
from course_helpers import ROOT

SCRIPT = ROOT / ".ci" / "tiers.py"
# CI's own script, with coverage.py run on a made-up kit: tested in the full run, as CI runs it
pytestmark = pytest.mark.full


@pytest.fixture(scope="module")
def tiers():
    spec = importlib.util.spec_from_file_location("tiers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kit_lines(tiers) -> dict[str, list[int]]:
    return tiers.statement_lines()


def _data(path, lines: dict[str, list[int]], root=ROOT / "kws"):
    """A coverage data file at `path` holding `lines` ({kit file: lines run}) of the kit at `root`."""
    from coverage import CoverageData

    data = CoverageData(basename=str(path))
    data.add_lines({str(root / name): numbers for name, numbers in lines.items() if numbers})
    data.write()
    return path


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, timeout=600, env=os.environ | {"PYTHONPATH": str(ROOT)})  # fmt: skip


def test_a_default_run_under_its_share_fails_ci_and_says_what_to_do(tmp_path, kit_lines):
    """The rest of the full run covers every statement; the default run all but the larger half
    of the biggest modules: under 90 %, exit 1 with the figures and the fix."""
    total = sum(len(lines) for lines in kit_lines.values())
    biggest = sorted(kit_lines, key=lambda name: -len(kit_lines[name]))
    dropped, default = 0, dict(kit_lines)
    for name in biggest:  # a module's second half: the module is still imported
        if dropped > total * 0.12:
            break
        default[name] = kit_lines[name][: len(kit_lines[name]) // 2]
        dropped += len(kit_lines[name]) - len(default[name])
    rest = _data(tmp_path / "rest.coverage", kit_lines)
    done = _run(_data(tmp_path / "default.coverage", default), rest)
    share = (total - dropped) / total
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"full run: {total:,} lines of kws/ (100.0%)" in done.stdout
    assert f"the default run runs {share:.1%} of the full run's lines (at least 90%)" in done.stdout
    assert "FAILED: move a test back into the default run" in done.stdout
    assert "no default test imports" not in done.stdout


def test_a_module_no_default_test_imports_is_named_even_above_the_share(tmp_path, kit_lines):
    """The default run covers every line but one module's, in a clone of the kit elsewhere (CI's
    paths): above 90 %, still exit 1, naming the module."""
    module = "grading/records/adjustments.py"
    default = {name: lines for name, lines in kit_lines.items() if name != module}
    clone = tmp_path / "clone" / "kws"
    done = _run(_data(tmp_path / "default.coverage", default, clone),
                _data(tmp_path / "rest.coverage", kit_lines, clone))  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"no default test imports kws/{module}" in done.stdout.splitlines()


def test_a_default_run_that_holds_its_share_passes_and_reads_a_folder_of_data_files(
    tmp_path, kit_lines
):
    """The default run's data as a run leaves it, one file a process in a folder (two halves of
    the kit's modules' lines); the rest adds nothing: 100 %, exit 0."""
    folder = tmp_path / "default"
    folder.mkdir()
    first = {name: lines[: len(lines) // 2 + 1] for name, lines in kit_lines.items()}
    second = {name: lines[len(lines) // 2 :] for name, lines in kit_lines.items()}
    _data(folder / ".coverage.host.1.a", first)
    _data(folder / ".coverage.host.2.b", second)
    done = _run(folder, _data(tmp_path / "rest.coverage", {}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the default run runs 100.0% of the full run's lines" in done.stdout


def test_missing_data_is_refused_naming_the_file(tmp_path):
    done = _run(tmp_path / "nothing.coverage", tmp_path / "empty")
    assert done.returncode == 2 and "nothing.coverage: no such coverage data file" in done.stderr
