"""Downloads and extraction against a local HTTP server on 127.0.0.1 (no internet needed)."""

import hashlib
import importlib.util
import io
import os
import random
import re
import shutil
import tarfile
import threading
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import kws.data.speech_commands as sc
from kws.data.download import ChecksumError, download, safe_extract

SAMPLE = Path(__file__).parent / "data" / "speech_commands_v0.01_sample"
REPO = Path(__file__).parents[1]


class FileServer:
    """Serves `files` ({"/name": bytes}) with Range support; can misbehave on purpose.

    drops: how many of the next responses are cut off after `drop_after` bytes (the connection is
    closed while the client still expects more). ignore_range: answer Range requests with the whole
    file (200), as some servers do. requests: (path, Range header) of every request served.
    """

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.drops, self.drop_after, self.ignore_range = 0, 0, False
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = server.files.get(self.path)
                server.requests.append((self.path, self.headers.get("Range")))
                if body is None:
                    self.send_error(404)
                    return
                start, status = 0, 200
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and not server.ignore_range:
                    start, status = int(match.group(1)), 206
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                self.send_response(status)
                self.send_header("Content-Length", str(len(body) - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                if server.drops > 0:
                    server.drops -= 1
                    self.wfile.write(body[start : start + server.drop_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


PAYLOAD = random.Random(0).randbytes(100_000)  # incompressible, so byte counts are exact
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def server():
    s = FileServer({"/data.tar.gz": PAYLOAD})
    yield s
    s.close()


def test_clean_download(server, tmp_path):
    dest = download(
        f"{server.url}/data.tar.gz", tmp_path / "d" / "data.tar.gz", PAYLOAD_SHA, progress=False
    )
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in dest.parent.iterdir()) == ["data.tar.gz"]
    # A complete file is trusted: calling again asks the server nothing.
    download(f"{server.url}/data.tar.gz", dest, PAYLOAD_SHA, progress=False)
    assert len(server.requests) == 1


def test_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
    server.drops, server.drop_after = 1, 4000
    dest = download(
        f"{server.url}/data.tar.gz",
        tmp_path / "data.tar.gz",
        PAYLOAD_SHA,
        progress=False,
        chunk_size=1024,
    )
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("/data.tar.gz", None), ("/data.tar.gz", "bytes=4000-")]


def test_partial_file_from_an_earlier_run_is_resumed(server, tmp_path):
    server.drops, server.drop_after = 1, 3000
    dest = tmp_path / "data.tar.gz"
    with pytest.raises(
        ConnectionError, match=r"3,000 bytes are kept in .*data\.tar\.gz\.part.*resume"
    ):
        download(f"{server.url}/data.tar.gz", dest, PAYLOAD_SHA, progress=False, retries=0)
    assert not dest.exists()
    assert (tmp_path / "data.tar.gz.part").read_bytes() == PAYLOAD[:3000]
    download(f"{server.url}/data.tar.gz", dest, PAYLOAD_SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/data.tar.gz", "bytes=3000-")
    assert not (tmp_path / "data.tar.gz.part").exists()


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.ignore_range = True
    (tmp_path / "data.tar.gz.part").write_bytes(b"stale bytes from another file")
    dest = download(
        f"{server.url}/data.tar.gz", tmp_path / "data.tar.gz", PAYLOAD_SHA, progress=False
    )
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("/data.tar.gz", "bytes=29-")]


def test_complete_partial_file_answered_416_is_verified_and_kept(server, tmp_path):
    (tmp_path / "data.tar.gz.part").write_bytes(PAYLOAD)
    dest = download(
        f"{server.url}/data.tar.gz", tmp_path / "data.tar.gz", PAYLOAD_SHA, progress=False
    )
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_names_url_and_digests_and_leaves_nothing(server, tmp_path):
    url, wrong = f"{server.url}/data.tar.gz", "ab" * 32
    with pytest.raises(ChecksumError) as err:
        download(url, tmp_path / "data.tar.gz", wrong, progress=False)
    message = str(err.value)
    assert url in message and f"expected {wrong}" in message and f"got {PAYLOAD_SHA}" in message
    assert list(tmp_path.iterdir()) == []


def test_size_mismatch_is_caught_without_a_digest(server, tmp_path):
    with pytest.raises(ChecksumError, match="expected 99 bytes, got 100,000"):
        download(f"{server.url}/data.tar.gz", tmp_path / "data.tar.gz", size=99, progress=False)
    assert list(tmp_path.iterdir()) == []
    download(f"{server.url}/data.tar.gz", tmp_path / "data.tar.gz", size=100_000, progress=False)


def test_missing_url_raises_and_leaves_nothing(server, tmp_path):
    with pytest.raises(urllib.error.HTTPError, match="404"):
        download(f"{server.url}/nope.tar.gz", tmp_path / "nope.tar.gz", progress=False)
    assert list(tmp_path.iterdir()) == []


# ---- safe extraction -----------------------------------------------------------------------------


def _evil_tar(path: Path, evil: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w") as tar:
        ok = tarfile.TarInfo("fine.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        if evil.isfile():
            evil.size = 4
            tar.addfile(evil, io.BytesIO(b"evil"))
        else:
            tar.addfile(evil)
    return path


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _device(name):
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info


@pytest.mark.parametrize(
    "evil, why",
    [
        (tarfile.TarInfo("../escaped.txt"), "'..'"),
        (tarfile.TarInfo("a/../../escaped.txt"), "'..'"),
        (tarfile.TarInfo("/tmp/kws_absolute_escape.txt"), "absolute path"),
        (_link("out", "../outside"), "symlink"),
        (_link("etc", "/etc/passwd"), "symlink"),
        (_link("hard", "../outside", tarfile.LNKTYPE), "hard link"),
        (_device("null"), "device"),
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "absolute",
        "symlink-out",
        "symlink-absolute",
        "hardlink",
        "device",
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_left(tmp_path, evil, why):
    archive = _evil_tar(tmp_path / "evil.tar", evil)
    target = tmp_path / "box" / "out"
    with pytest.raises(
        ValueError, match=rf"evil\.tar: refusing member '{re.escape(evil.name)}': .*{why}"
    ):
        safe_extract(archive, target)
    assert list((tmp_path / "box").iterdir()) == []  # neither the target nor the staging folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box", "evil.tar"]
    assert not Path("/tmp/kws_absolute_escape.txt").exists()


def test_symlink_chain_cannot_escape(tmp_path):
    archive = tmp_path / "chain.tar"
    with tarfile.open(archive, "w") as tar:
        tar.addfile(_link("here", "."))  # harmless on its own
        tar.addfile(_link("here/up", ".."))  # through "here", this points above the target
    with pytest.raises(ValueError, match="'here/up': symlink"):
        safe_extract(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.tar"]


def test_safe_archive_is_extracted_with_inner_links(tmp_path):
    archive = tmp_path / "good.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in {"a/x.txt": b"xx", "a/b/y.txt": b"yyy", "top.txt": b"t"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.addfile(_link("a/b/to_x", "../x.txt"))
    target = safe_extract(archive, tmp_path / "out")
    assert (target / "a" / "b" / "y.txt").read_bytes() == b"yyy"
    assert (target / "a" / "b" / "to_x").read_bytes() == b"xx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.tar.gz", "out"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask  # not the private staging mode
    with pytest.raises(FileExistsError, match="already exists"):
        safe_extract(archive, target)


def test_not_a_tar_is_named(tmp_path):
    archive = tmp_path / "junk.tar.gz"
    archive.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match=r"junk\.tar\.gz: not a readable tar archive"):
        safe_extract(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.tar.gz"]


# ---- the download command, end to end ---------------------------------------------------------------


def _tar_folder(folder: Path) -> bytes:
    """A .tar.gz of the folder's contents, members relative to it (like the official archives)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=f"./{path.relative_to(folder).as_posix()}", recursive=False)
    return buffer.getvalue()


def _script():
    spec = importlib.util.spec_from_file_location(
        "sc_script", REPO / "data_scripts" / "speech_commands.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_download_command_fetches_dataset_and_test_set(tmp_path, monkeypatch, capsys):
    source = tmp_path / "source"
    clips = sorted(SAMPLE.glob("*/*.wav"))
    for clip in clips:  # a v0.02-shaped folder: real clips, plus one in a v0.02-only word
        (source / "data" / clip.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, source / "data" / clip.parent.name / clip.name)
    (source / "data" / "visual").mkdir()
    shutil.copy(clips[0], source / "data" / "visual" / "0badcafe_nohash_0.wav")
    for name in sc.LABEL_SETS["12"]:
        (source / "test" / name).mkdir(parents=True)
        shutil.copy(clips[0], source / "test" / name / "1234abcd_nohash_0.wav")
    archives = {
        "v0.02": _tar_folder(source / "data"),
        "test_set_v0.02": _tar_folder(source / "test"),
    }
    for key, data in archives.items():
        published = sc.ARCHIVES[key]
        monkeypatch.setitem(
            sc.ARCHIVES,
            key,
            sc.Archive(published.filename, hashlib.sha256(data).hexdigest(), len(data)),
        )
    server = FileServer(
        {f"/mirror/{sc.ARCHIVES[k].filename}": data for k, data in archives.items()}
    )
    try:
        root = tmp_path / "DATA"
        argv = [
            "download",
            "--version",
            "v0.02",
            "--root",
            str(root),
            "--url-base",
            f"{server.url}/mirror",
        ]
        assert _script().main(argv) == 0
        assert sorted(p.name for p in root.iterdir()) == [
            "speech_commands_test_set_v0.02",
            "speech_commands_v0.02",
        ]
        train = sc.SpeechCommands(root / "speech_commands_v0.02", "training", "35")
        every = [
            sc.SpeechCommands(root / "speech_commands_v0.02", s, "35")
            for s in ("training", "validation", "testing")
        ]
        assert sum(len(d) for d in every) == len(clips) + 1
        assert train.version == "v0.02"
        test12 = sc.SpeechCommands(root / "speech_commands_v0.02", "test12", "12")
        assert test12.counts() == dict.fromkeys(sc.LABEL_SETS["12"], 1)
        assert len(server.requests) == 2
        assert _script().main(argv) == 0  # already there: nothing is fetched again
        assert len(server.requests) == 2
        assert _script().main(["info", "--root", str(root)]) == 0
        assert "test12" in capsys.readouterr().out
    finally:
        server.close()
