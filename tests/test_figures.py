"""The measured figures the kit quotes come from one file that ships with it, kws/figures.json:
`kws demo` and notebook 01 quote it, an installed kit has it, and nothing in the kit reads the
repository's benchmarks/ folder (which an installed kit lacks)."""

import datetime
import json
import re
import subprocess

import pytest
from course_helpers import ROOT

from kws import figures
from kws.demo.run import real_speech_table
from kws.spec.toml import tomllib  # the kit's one reader (tomli on Python 3.10)


def test_the_figures_file_ships_with_the_package_and_says_how_each_figure_was_measured():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["kws"]
    assert any((ROOT / "kws").glob(pattern) for pattern in patterns if "figures" in pattern)
    sections = figures.load()
    assert {"real_speech", "grading", "report"} <= set(sections)  # `demo` once re-measured
    for name, section in sections.items():
        assert section["command"].startswith("python benchmarks/"), name
        assert section["conditions"] and isinstance(section["synthetic"], bool), name
    with pytest.raises(KeyError, match="has no section 'nothing'; it has: real_speech"):
        figures.section("nothing")


def _git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_every_figure_records_the_commit_and_date_it_was_measured_at():
    for name, section in figures.load().items():
        commit = section.get("commit", "").split(" ")[0]  # bench_demo adds "+ uncommitted ..."
        assert re.fullmatch(r"[0-9a-f]{7,40}", commit), f"{name}: no commit"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", section.get("measured", "")), name
        if _git("rev-parse", "--git-dir").returncode == 0:  # a clone, not an installed kit
            assert _git("cat-file", "-e", commit + "^{commit}").returncode == 0, name


def test_publishing_a_figure_records_the_checkout_s_commit(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as a benchmark script imports it
    import benchlib as module

    mine = tmp_path / "figures.json"
    mine.write_text(json.dumps({"report": {"kept": True}}))
    module.publish("grading", {"runs": [1]}, mine)
    saved = json.loads(mine.read_text())
    assert saved["report"] == {"kept": True}
    assert saved["grading"]["runs"] == [1]
    assert saved["grading"]["commit"] == _git("rev-parse", "HEAD").stdout.strip()
    assert saved["grading"]["measured"] == datetime.date.today().isoformat()


def test_the_demo_quotes_the_real_speech_rows_of_the_figures_file(tmp_path):
    table = real_speech_table()
    for name, row in figures.section("real_speech")["rows"].items():
        line = next(line for line in table.splitlines() if line.strip().startswith(name))
        assert f"{row['mean']:.2%} ± {row['sd']:.2%} over {row['k']} of" in line
    mine = tmp_path / "figures.json"
    mine.write_text(json.dumps({"demo": {}}))
    assert real_speech_table(mine) == ""  # no real-speech figures: the demo prints none


def test_notebook_01_quotes_its_measured_real_speech_figures():
    # What students read about their own model on real speech is the benchmark's last measurement
    # of the notebook as shipped (benchmarks/bench_real_speech.py --folds 5 --notebook).
    row = figures.section("real_speech")["rows"]["notebook 01"]
    assert row["k"] == row["total_folds"] == 5, "quote a run over every speaker fold"
    mean, sd = figures.percent(row["mean"]), f"{100 * row['sd']:.1f}"
    crnn, crnn_sd = figures.percent(row["crnn_mean"]), f"{100 * row['crnn_sd']:.1f}"
    notebook = json.loads((ROOT / "solutions/01_keyword_spotting.ipynb").read_text())
    introduction = re.sub(r"\s+", " ", "".join(notebook["cells"][0]["source"]))
    for quoted in (f"**{mean}** (± {sd})", f"{crnn} (± {crnn_sd})"):
        assert quoted in introduction, f"notebook 01's introduction should quote {quoted}"


def test_notebook_03_quotes_its_measured_real_speech_figures():
    # Notebook 03's reference, distilled, over every speaker fold
    # (benchmarks/bench_patch_variants.py --variant notebook), beside notebook 01's.
    rows = figures.section("real_speech")["rows"]
    row = rows["notebook 03"]
    assert row["k"] == row["total_folds"] == 5, "quote a run over every speaker fold"
    notebook = json.loads((ROOT / "solutions/03_patch_transformer.ipynb").read_text())
    introduction = re.sub(r"\s+", " ", "".join(notebook["cells"][0]["source"]))
    quoted = f"**{figures.percent(row['mean'])}** (± {100 * row['sd']:.1f})"
    assert quoted in introduction, f"notebook 03's introduction should quote {quoted}"
    assert figures.percent(rows["notebook 01"]["mean"]) in introduction


def test_the_kit_reads_nothing_from_the_benchmarks_folder():
    """An installed kit has no benchmarks/: no module of it builds a path into that folder."""
    into_benchmarks = re.compile(r"""["']benchmarks["']|["']benchmarks/results""")
    found = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "kws").rglob("*.py"))
        if into_benchmarks.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
