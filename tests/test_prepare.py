"""The notebooks' first cell: data in place -> nothing fetched; Speech Commands missing -> downloaded
from a local server on 127.0.0.1 with a progress bar; HW4 features missing or malformed -> an error
that says what to do."""

import hashlib
import json
import shutil
import sys

import pytest
import torch
from test_data_errors_speaker import feats  # noqa: F401  (the hand-written HW4 folder fixture)
from test_download import SAMPLE, FileServer, _tar_folder

import kws.data.speech_commands as sc
from kws.data.prepare import prepare_keyword_data, prepare_speaker_data


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local mirror serving a tiny v0.02 dataset and 12-class test set under the real names."""
    source = tmp_path / "source"
    clips = sorted(SAMPLE.glob("*/*.wav"))
    for clip in clips:
        (source / "data" / clip.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, source / "data" / clip.parent.name / clip.name)
    for name in sc.LABEL_SETS["12"]:
        (source / "test" / name).mkdir(parents=True)
        shutil.copy(clips[0], source / "test" / name / "1234abcd_nohash_0.wav")
    archives = {"v0.02": source / "data", "test_set_v0.02": source / "test"}
    files = {}
    for key, folder in archives.items():
        data = _tar_folder(folder)
        archive = sc.Archive(sc.ARCHIVES[key].filename, hashlib.sha256(data).hexdigest(), len(data))
        monkeypatch.setitem(sc.ARCHIVES, key, archive)
        files[f"/mirror/{archive.filename}"] = data
    server = FileServer(files)
    yield server
    server.close()


def test_missing_speech_commands_are_downloaded_with_a_progress_bar(mirror, tmp_path, capsys):
    data = tmp_path / "data"
    folders = prepare_keyword_data(data, url_base=f"{mirror.url}/mirror")
    out, err = capsys.readouterr()
    assert folders == {
        "dataset": data / "speech_commands_v0.02",
        "test_set": data / "speech_commands_test_set_v0.02",
    }
    assert sorted(p.name for p in data.iterdir()) == [
        "speech_commands_test_set_v0.02",
        "speech_commands_v0.02",
    ]  # the archives are deleted once extracted
    test12 = sc.SpeechCommands(folders["dataset"], "test12", "12")
    assert test12.counts() == dict.fromkeys(sc.LABEL_SETS["12"], 1)
    assert "speech_commands_v0.02.tar.gz" in out and "kws synth speech-commands" in out
    assert "speech_commands_v0.02.tar.gz: 100%" in err  # tqdm's bar, named after the archive
    assert len(mirror.requests) == 2

    prepare_keyword_data(data, url_base=f"{mirror.url}/mirror")  # run the cell again
    assert "nothing to fetch" in capsys.readouterr().out
    assert len(mirror.requests) == 2


def test_present_keyword_data_fetches_nothing(tmp_path, capsys):
    for folder in ("speech_commands_v0.02", "speech_commands_test_set_v0.02"):
        (tmp_path / folder).mkdir()
    # an address nothing listens on: any download attempt would fail the test
    prepare_keyword_data(tmp_path, url_base="http://127.0.0.1:9/none")
    assert f"in {tmp_path}: nothing to fetch" in capsys.readouterr().out


def test_only_the_missing_test_set_is_fetched(mirror, tmp_path):
    (tmp_path / "speech_commands_v0.02").mkdir()
    prepare_keyword_data(tmp_path, url_base=f"{mirror.url}/mirror", progress=False)
    assert [path for path, _ in mirror.requests] == [
        "/mirror/speech_commands_test_set_v0.02.tar.gz"
    ]
    assert (tmp_path / "speech_commands_test_set_v0.02" / "yes").is_dir()


def test_failed_download_says_how_to_resume_or_go_offline(mirror, tmp_path):
    with pytest.raises(ConnectionError, match=r"(?s)again to resume.*kws synth speech-commands"):
        prepare_keyword_data(tmp_path, url_base="http://127.0.0.1:9/none", progress=False)
    with pytest.raises(
        ConnectionError,
        match=r"elsewhere/speech_commands_v0\.02\.tar\.gz answered HTTP 404.*kws synth",
    ):
        prepare_keyword_data(tmp_path, url_base=f"{mirror.url}/elsewhere", progress=False)


def test_present_speaker_folder_is_checked_and_counted(feats, capsys):  # noqa: F811
    folder = prepare_speaker_data(feats)
    assert (len(folder.speakers), len(folder.labelled), len(folder.test)) == (3, 7, 3)
    assert f"HW4 features in {feats}: 3 speakers, 7 labelled and 3 test" in capsys.readouterr().out


@pytest.mark.parametrize("colab", [False, True])
def test_missing_speaker_folder_says_what_to_do(tmp_path, monkeypatch, colab):
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", object())
    folder = tmp_path / "speaker_features"
    with pytest.raises(FileNotFoundError) as error:
        prepare_speaker_data(folder)
    message = str(error.value)
    assert message.startswith(f"{folder} is not a folder")
    assert "cannot download" in message
    for part in ("metadata.json", "testdata.json", "mapping.json", "uttr-*.pt", "KWS_DATA_DIR"):
        assert part in message or (colab and part == "KWS_DATA_DIR")
    assert "kws synth speaker-features" in message
    assert ("drive.mount('/content/drive')" in message) == colab
    assert ("unzip" in message) == colab


def test_speaker_folder_one_level_down_is_pointed_at(feats, tmp_path):  # noqa: F811
    unzipped = tmp_path / "unzipped"
    unzipped.mkdir()
    feats.rename(unzipped / "Dataset")
    with pytest.raises(FileNotFoundError, match=r"set DATA_DIR \(or KWS_DATA_DIR\) to .*Dataset"):
        prepare_speaker_data(unzipped)


def test_malformed_speaker_folder_gets_the_validators_error(feats):  # noqa: F811
    torch.save(torch.randn(40, 150), feats / "uttr-spk_a-0.pt")  # (F, T): transposed
    with pytest.raises(ValueError, match=r"uttr-spk_a-0\.pt has 150 mel bins.*transposed"):
        prepare_speaker_data(feats)
    mapping = json.loads((feats / "mapping.json").read_text())
    mapping["id2speaker"] = list(mapping["id2speaker"].values())
    (feats / "mapping.json").write_text(json.dumps(mapping))
    with pytest.raises(ValueError, match=r"mapping\.json"):
        prepare_speaker_data(feats)


def test_speaker_folder_copied_in_part_is_refused(feats):  # noqa: F811
    (feats / "uttr-t1.pt").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of the 10 feature files .*uttr-t1\.pt.*again"):
        prepare_speaker_data(feats)
