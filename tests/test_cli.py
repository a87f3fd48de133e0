"""The `kws` command: every subcommand is wired to the function it names, and what a verb raises
is said in one line with its exit code (`kws.verbs.say`); its groups and arguments:
tests/test_cli_groups.py."""

import json

import pytest
from course_helpers import ROOT

import kws.cli
from kws.cli import build_parser, main
from kws.grading.season.cli import grades_folder_faults
from kws.verbs import GRADES, Verb


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


def _run_as_kws(monkeypatch, verb, raised: BaseException) -> int:
    """`kws.cli.main` running `verb`, whose handler raises `raised`, as the only verb."""

    def handler(args):
        raise raised

    declared = Verb(verb.name, verb.help, handler, arguments=verb.arguments,
                              faults=verb.faults, stops=verb.stops, mistake=verb.mistake)  # fmt: skip
    monkeypatch.setattr(kws.cli, "GROUPS", (kws.cli.Group("one", (declared,)),))
    return main([verb.name, "grades"])


class _Stopped(KeyboardInterrupt):
    exit_code = 143


def test_what_a_verb_raises_is_said_once_with_its_exit_code(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # GRADES: no grades folder, so no lock of one
    merge = Verb("merge", "merge", None, arguments=(GRADES,),
                           faults=grades_folder_faults("grades"), stops=lambda: (_Stopped,))  # fmt: skip
    assert _run_as_kws(monkeypatch, merge, FileNotFoundError("grades: no such folder")) == 2
    assert capsys.readouterr().err == "kws merge: grades: no such folder\n"
    assert _run_as_kws(monkeypatch, merge, _Stopped("stopped by SIGTERM; kept 3")) == 143
    assert capsys.readouterr().err == "kws merge: stopped by SIGTERM; kept 3\n"
    assert _run_as_kws(monkeypatch, merge, KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == "interrupted\n"
    full = OSError(28, "No space left on device")
    assert _run_as_kws(monkeypatch, merge, full) == 1
    said = capsys.readouterr().err
    assert said.startswith("kws merge: [Errno 28] No space left on device: a fault of this machine")
    assert "the grades of grades are as they were" in said
    train = Verb("train", "train", None, arguments=(GRADES,), mistake="error: ")
    assert _run_as_kws(monkeypatch, train, ValueError("--set x: no such setting")) == 2
    assert capsys.readouterr().err == "kws train: error: --set x: no such setting\n"
    with pytest.raises(RuntimeError):  # the kit's own bug: its traceback shows
        _run_as_kws(monkeypatch, train, RuntimeError("a bug"))
    with pytest.raises(OSError):  # a machine's fault only where the verb says it (a grades folder)
        _run_as_kws(monkeypatch, train, full)
