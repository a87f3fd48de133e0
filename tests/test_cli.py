"""The `kws` command: every subcommand is wired to the function it names (its groups and
arguments: tests/test_cli_groups.py)."""

import json

import pytest
from course_helpers import ROOT

from kws.cli import build_parser, main


def test_tables_print_the_course_parameter_counts(capsys):
    assert main(["tables", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    for count in ("527,104", "2,147,404", "2,152,287", "1,507,149", "125,896", "67,536"):
        assert count in out, f"{count} missing from `kws tables`"


def test_release_check_passes_on_the_repository(capsys):
    assert main(["release", str(ROOT / "solutions"), str(ROOT / "assignments"), "--check"]) == 0


def test_release_check_names_a_stale_notebook(tmp_path, capsys):
    (tmp_path / "01_keyword_spotting.ipynb").write_text("{}")
    assert main(["release", str(ROOT / "solutions"), str(tmp_path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "out of date" in out and "02_speaker_id.ipynb" in out


def test_synth_writes_the_real_layout(tmp_path, capsys):
    assert main(["synth", "speaker-features", str(tmp_path), "--preset", "tiny"]) == 0
    metadata = json.loads((tmp_path / "speaker_features" / "metadata.json").read_text())
    assert metadata["n_mels"] == 40 and metadata["speakers"]
    assert (tmp_path / "speaker_features_hidden" / "test_labels.csv").is_file()


def test_demo_rejects_an_unknown_preset():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--preset", "huge"])
