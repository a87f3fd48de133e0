"""Getting a notebook's data in place: what the first cell of each course notebook calls.

`prepare_keyword_data(DATA_DIR)` downloads Speech Commands v0.02 and its 12-class test set into
`DATA_DIR` when they are missing (checksummed, resumable, with a progress bar) and does nothing when
they are there. `prepare_speaker_data(DATA_DIR)` checks the HW4 feature folder, which the kit cannot
download (the course hands it out), and says exactly what to do when it is missing.

Both behave the same on Colab and on a laptop; on Colab only the advice changes (Google Drive,
`/content`). Neither downloads anything when the data is already in place, so a notebook run on a
synthetic twin (the kit's tests, the demo, the grader) fetches nothing.
"""

from __future__ import annotations

import os
import sys
import urllib.error
from pathlib import Path

from kws.data.speaker_features import load_features
from kws.data.speaker_format import SpeakerFolder, read_speaker_folder
from kws.data.speech_commands import ARCHIVES, URL_BASE, download_speech_commands

SPEAKER_FILES = "metadata.json, testdata.json, mapping.json and the uttr-*.pt feature files"


def on_colab() -> bool:
    """True inside Google Colab (only the wording of messages depends on it)."""
    return "google.colab" in sys.modules


def prepare_keyword_data(
    data_dir: str | os.PathLike,
    *,
    url_base: str = URL_BASE,
    progress: bool = True,
) -> dict[str, Path]:
    """Make sure `data_dir` holds `speech_commands_v0.02/` and `speech_commands_test_set_v0.02/`.

    What is missing is downloaded (2.4 GB and 113 MB) with the kit's downloader: SHA-256 or size
    checked, resumed when run again after an interruption, extracted only once complete. What is
    there is left alone and nothing is fetched.

    Args:
        data_dir: the notebook's DATA_DIR, the parent of both folders.
        url_base: where the archives are (a mirror; a local server in tests).
        progress: show download progress bars (tqdm: in Jupyter, Colab and a terminal).

    Returns:
        {"dataset": Path, "test_set": Path}.

    Raises:
        ConnectionError: the download failed; the message says how to resume, or to go offline.
    """
    data_dir = Path(data_dir)
    folders = {"dataset": ARCHIVES["v0.02"], "test_set": ARCHIVES["test_set_v0.02"]}
    missing = [a for a in folders.values() if not (data_dir / a.folder).is_dir()]
    if not missing:
        print(
            f"Speech Commands v0.02 and its 12-class test set are in {data_dir}: nothing to fetch."
        )
        return {key: data_dir / archive.folder for key, archive in folders.items()}
    offline = f"kws synth speech-commands {data_dir} --preset small"
    sizes = ", ".join(f"{a.filename} ({_size(a.size)})" for a in missing)
    print(f"Downloading into {data_dir.resolve()}: {sizes}.")
    print(f"Offline, or to try the notebook first, make a synthetic twin instead: {offline}")
    if on_colab() and "/content/drive" in str(data_dir.resolve()):
        print(
            "Colab: extracting 105,000 clips into Google Drive is very slow; a DATA_DIR on the "
            "runtime's disk (/content/data) is fast, but is emptied when the runtime resets."
        )
    try:
        return download_speech_commands(data_dir, "v0.02", url_base=url_base, progress=progress)
    except urllib.error.HTTPError as error:  # the server is there but refuses: resuming won't help
        raise ConnectionError(
            f"downloading Speech Commands: {error.url} answered HTTP {error.code} ({error.reason}); "
            f"check the address (url_base={url_base!r}), or use the synthetic twin: {offline}"
        ) from error
    except (ConnectionError, TimeoutError, urllib.error.URLError) as error:
        raise ConnectionError(
            f"downloading Speech Commands into {data_dir} failed ({error}). Run this cell again to "
            f"resume where it stopped; without internet, use the synthetic twin: {offline}"
        ) from error


def prepare_speaker_data(data_dir: str | os.PathLike) -> SpeakerFolder:
    """Check the HW4 feature folder `data_dir` and print what it holds.

    The kit cannot download these features (the course distributes them). A missing folder raises
    FileNotFoundError saying how to put it in place (on Colab: Google Drive or an upload), the
    layout expected, and the offline synthetic twin; a malformed one raises the error of
    `kws.data.speaker_format` naming the file and the fix.

    Args:
        data_dir: the notebook's DATA_DIR, the folder holding metadata.json itself.

    Returns:
        the folder's checked description (`kws.data.speaker_format.SpeakerFolder`).
    """
    data_dir = Path(data_dir)
    if not (data_dir / "metadata.json").is_file():
        raise FileNotFoundError(_missing_speaker_folder(data_dir))
    folder = read_speaker_folder(data_dir, need_test=True)
    paths = [path for path, _, _ in folder.labelled] + [path for path, _ in folder.test]
    absent = [path for path in paths if not (data_dir / path).is_file()]
    if absent:
        raise FileNotFoundError(
            f"{len(absent):,} of the {len(paths):,} feature files listed in {data_dir} are missing, "
            f"e.g. {data_dir / absent[0]}: the folder was copied or unzipped only in part; copy the "
            "whole folder again."
        )
    first, mel_len, _ = folder.labelled[0]
    load_features(data_dir / first, folder.n_mels, mel_len)  # a transposed or numpy file fails here
    print(
        f"HW4 features in {data_dir}: {len(folder.speakers):,} speakers, "
        f"{len(folder.labelled):,} labelled and {len(folder.test):,} test utterances, "
        f"{folder.n_mels} mel bins."
    )
    return folder


def _missing_speaker_folder(data_dir: Path) -> str:
    """What to do when `data_dir` is not an HW4 feature folder."""
    nested = sorted(data_dir.glob("*/metadata.json")) if data_dir.is_dir() else []
    if nested:  # an unzipped archive often adds one folder level
        return (
            f"{data_dir} holds no metadata.json, but {nested[0].parent} does: set DATA_DIR (or "
            f"KWS_DATA_DIR) to {nested[0].parent}."
        )
    where = "is not a folder" if not data_dir.is_dir() else "holds no metadata.json"
    if on_colab():
        how = (
            "On Colab, either mount Google Drive (from google.colab import drive; "
            "drive.mount('/content/drive')) with the course's feature folder in it, and set "
            "DATA_DIR to it, e.g. /content/drive/MyDrive/speaker_features; or upload the course's "
            "zip in the Files panel and unzip it (!unzip -q speaker_features.zip -d /content/data), "
            "then set DATA_DIR to the unzipped folder."
        )
    else:
        how = (
            "Unzip the course's feature folder and set DATA_DIR in the parameters cell (or the "
            "KWS_DATA_DIR environment variable) to it."
        )
    return (
        f"{data_dir} {where}: the HW4 speaker features are not here, and the kit cannot download "
        f"them (the course hands them out). {how} The folder must hold {SPEAKER_FILES} side by "
        "side. Offline, a synthetic folder in the same format works too: kws synth "
        "speaker-features data --preset small, then DATA_DIR = data/speaker_features."
    )


def _size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    return f"{size / 1e9:.1f} GB" if size > 1e9 else f"{size / 1e6:.0f} MB"
