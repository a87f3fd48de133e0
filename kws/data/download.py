"""Downloading a file safely, and extracting a tar archive safely.

`download` writes to `DEST.part`, resumes it with an HTTP Range request after a dropped connection (in the
same call, or in a later one), checks the SHA-256 and only then renames it to `DEST`. So `DEST` exists only
when it is complete and verified; a file that fails its checksum is deleted, never kept.

`safe_extract` refuses members that would land outside the target folder (absolute paths, `..`, links
leading out, device files), and extracts into a temporary folder beside the target that is renamed at
the end, so a failed extraction leaves nothing half-made.

Only the standard library (`urllib`, `tarfile`) is used, plus tqdm for the progress bar.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

_USER_AGENT = "kws-downloader/1.0 (+https://pypi.org/project/kws)"
# tarfile's "data" filter (ordinary files and folders, no special mode bits) came with Python
# 3.10.12 and 3.11.4; older patch releases (Debian 12's 3.11.2) have no `filter` argument. There
# `_check_member` alone keeps every member inside the target, as it does before the filter runs.
SAFE_EXTRACT = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
# Network failures after which a download resumes instead of giving up: dropped or refused
# connections, timeouts, broken responses. (A full disk is an OSError too, but not one of these.)
_RETRYABLE = (ConnectionError, TimeoutError, urllib.error.URLError, http.client.HTTPException)


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 is not the one expected."""


def sha256_of(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    size: int | None = None,
    progress: bool = True,
    chunk_size: int = 1 << 20,
    retries: int = 5,
    timeout: float = 60.0,
) -> Path:
    """Download `url` to `dest`, resuming a partial download and checking the SHA-256.

    If `dest` already exists it is returned as is: it can only have got there after a complete,
    verified download. Otherwise bytes go to `dest.part`; a `.part` left by an earlier, interrupted
    call is resumed with an HTTP Range request (a server that ignores Range and answers 200 makes the
    download start over). A dropped connection is resumed the same way, up to `retries` times.

    Args:
        url: http(s) address.
        dest: where the complete file goes; its folder is created.
        sha256: expected hex digest, or None to skip the check.
        size: expected size in bytes, or None to skip the check (useful where no digest is known).
        progress: show a tqdm progress bar.
        chunk_size: bytes per read.
        retries: how many times a dropped connection is resumed before giving up.
        timeout: seconds to wait for the server on each request.

    Returns:
        `dest` as a Path.

    Raises:
        ChecksumError: the file's SHA-256 differs from `sha256`, or its size from `size` (the
            partial file is deleted).
        ConnectionError: the download kept failing; the `.part` file is kept for a later resume.
        urllib.error.HTTPError: the server refused the request (404, 403, ...).
    """
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            _fetch_into(url, part, progress=progress, chunk_size=chunk_size, timeout=timeout)
            break
        except _RETRYABLE as err:
            if isinstance(err, urllib.error.HTTPError):
                raise
            attempt += 1
            if attempt > retries:
                size = part.stat().st_size if part.exists() else 0
                raise ConnectionError(
                    f"downloading {url} failed {attempt} times (last error: {err!r}). "
                    f"{size:,} bytes are kept in {part}; run the same command again to resume."
                ) from err
    if size is not None and part.stat().st_size != size:
        got_size = part.stat().st_size
        part.unlink()
        raise ChecksumError(
            f"{url}: size mismatch — expected {size:,} bytes, got {got_size:,}. The download was "
            f"deleted; run the command again, and if it fails the same way, check the URL or mirror."
        )
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256.lower():
            part.unlink()
            raise ChecksumError(
                f"{url}: SHA-256 mismatch — expected {sha256.lower()}, got {got}. The download was "
                f"deleted; run the command again, and if it fails the same way, check the URL or mirror."
            )
    os.replace(part, dest)
    return dest


def _fetch_into(url: str, part: Path, *, progress: bool, chunk_size: int, timeout: float) -> None:
    """Append the rest of `url` to `part`, starting at its current size. Raises on a short read."""
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if start > 0:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start > 0:
            # "Range not satisfiable": the part already holds the whole file (an earlier run stopped
            # between the last byte and the rename). The checksum decides whether it is good.
            return
        raise
    with response:
        if start > 0 and response.status == 206:
            match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != start:
                raise ConnectionError(
                    f"{url}: the server resumed at the wrong byte (asked for {start})"
                )
            mode = "ab"
        else:
            start, mode = 0, "wb"  # no Range asked, or a server that ignored it: start over
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        received = start
        with (
            open(part, mode) as f,
            tqdm(
                total=total,
                initial=start,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
            ) as bar,
        ):
            while chunk := response.read(chunk_size):
                f.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received < total:
        raise ConnectionError(f"{url}: connection closed after {received:,} of {total:,} bytes")


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract a tar archive (any compression) into the folder `target`, refusing unsafe members.

    Members are written into a temporary folder beside `target`, which is renamed to `target` only
    once every member has been extracted; on any error the temporary folder is removed.

    Refused (ValueError naming the archive and the member): absolute paths, paths with `..`, paths
    through an earlier symlink that lead outside, symbolic or hard links whose target lies outside,
    and device files or FIFOs.

    Args:
        archive: the .tar / .tar.gz / .tar.bz2 / .tar.xz file.
        target: the folder to create; it must not exist yet.

    Returns:
        `target` as a Path.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise FileExistsError(f"{target} already exists; remove it to extract {archive} again")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".extracting", dir=target.parent)
    )
    try:
        try:
            tar = tarfile.open(archive, "r:*")
        except (tarfile.TarError, OSError) as err:
            raise ValueError(
                f"{archive}: not a readable tar archive ({err}); download it again"
            ) from err
        with tar:
            root = os.path.realpath(staging)
            # Iterating the archive reads it once from start to end (a 2.4 GB .tar.gz is decompressed
            # once); each member is checked against what is already on disk, then written.
            for member in tar:
                _check_member(archive, member, root)
                tar.extract(member, staging, **SAFE_EXTRACT)
        # mkdtemp made the folder private (0700); give it the usual permissions of a new folder.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _check_member(archive: Path, member: tarfile.TarInfo, root: str) -> None:
    """Raise ValueError if extracting `member` under the real folder `root` could escape it."""

    def refuse(why: str) -> ValueError:
        return ValueError(
            f"{archive}: refusing member {member.name!r}: {why}. The archive is unsafe."
        )

    name = member.name
    if os.path.isabs(name) or name.startswith(("/", "\\")):
        raise refuse("absolute path")
    if ".." in re.split(r"[/\\]", name):
        raise refuse("'..' in its path")
    if member.isdev():
        raise refuse("device file or FIFO")
    # realpath follows the symlinks extracted so far, so a chain of links cannot lead out either.
    parent = os.path.realpath(os.path.join(root, os.path.dirname(name)))
    if not _inside(parent, root):
        raise refuse("its path leads outside the target through a symlink")
    if member.issym():
        link = os.path.realpath(os.path.join(parent, member.linkname))
        if os.path.isabs(member.linkname) or not _inside(link, root):
            raise refuse(f"symlink to {member.linkname!r} outside the target")
    elif member.islnk():
        link = os.path.realpath(os.path.join(root, member.linkname))
        if os.path.isabs(member.linkname) or not _inside(link, root):
            raise refuse(f"hard link to {member.linkname!r} outside the target")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)
