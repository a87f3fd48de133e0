"""A grader plugin for the test suite: grading children's reports, recorded once per kit version.

The grader decides every verdict in its own process from what the grading child reports (a
`ChildResult`); the child's start (a sandboxed interpreter importing torch) costs more than the
rest of grading one hand-in. The grader corpora grade hundreds of hand-ins, so the suite grades
most of them from reports recorded by real children earlier (`RECORDS`, committed), and starts
real sandboxed children for a few (``--real-child``) and for any hand-in the records lack.

A report is looked up by `job_key`: a digest of everything the child's report depends on — the
kit the child is given (every file of ``kws/``, `kit_digest`), torch's and Python's versions,
the sandbox that runs it, the child's entry point and limits, the files of the hand-in it is
given (its notebooks' cells, each task's output files) and its inputs. A change to what a child
may import changes every key: the records are then stale, every child starts for real (correct,
slower), and ``tests/test_recorded_children.py`` fails until they are recorded again::

    python -m pytest -n auto --dist loadgroup --record-children --full tests/

The full run (``--full``) starts a real child for every hand-in, as ``--record-children`` does.
The grader loads it as ``-p recorded_children`` with this folder on PYTHONPATH
(`tests/corpus_grading.py` passes the options; `tests/conftest.py` sets the path).
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import importlib.util
import json
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path

KIT = Path(__file__).resolve().parents[2] / "kws"
RECORDS = Path(__file__).resolve().parents[1] / "data" / "grading_children.json.gz"
# What of the kit only the grader's own process imports (a child's report cannot depend on it:
# tests/test_recorded_children.py imports every other module of kws/ in a fresh interpreter
# and checks that none of these follows), and the figures published by the benchmarks.
PARENT_ONLY = (
    "grading/classrun", "grading/records", "grading/season", "grading/publish",
    "grading/marking", "grading/judge", "grading/testsets", "grading/command.py",
    "grading/plugin.py", "assign", "demo", "handin", "rehearsal", "release", "templates",
    "cli.py", "pages.py", "figures.py", "figures.json", "written/render.py", "written/math_text.py",
    "grading/jaccard.py",
)  # fmt: skip
CHILDREN_SEEN = "KWS_TEST_CHILDREN_SEEN"  # the run's folder of the reports its graders saw
ALL_REAL = "KWS_TEST_ALL_REAL"  # set (--full, --record-children): every child starts for real
# What a training run writes that differs from run to run (its own clock)
RUN_CLOCK = ("train_seconds",)


def parent_only(relative: str) -> bool:
    """Whether `relative` (a path under ``kws/``, POSIX) is of `PARENT_ONLY`."""
    return any(relative == part or relative.startswith(part + "/") for part in PARENT_ONLY)


def environment() -> str:
    """torch's and Python's versions: a child's report holds for these alone. torch's is
    read from its ``version.py`` (``torch.__version__``, local part and all): the grader's own
    process need not import torch (two CPU seconds a grader) to look a report up."""
    if "torch" in sys.modules:
        version = sys.modules["torch"].__version__
    else:
        folder = importlib.util.find_spec("torch").submodule_search_locations[0]
        text = Path(folder, "version.py").read_text()
        version = re.search(r"^__version__ = ['\"](.+?)['\"]", text, re.M).group(1)
    return f"torch {version}, Python {'.'.join(map(str, sys.version_info[:2]))}"


def kit_files_digest() -> str:
    """sha256 of the kit a grading child is given (``kws/``, `PARENT_ONLY` and caches left
    out): the same on every machine for one commit."""
    digest = hashlib.sha256()
    for path in sorted(KIT.rglob("*")):
        relative = path.relative_to(KIT).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and not parent_only(relative):
            digest.update(relative.encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def kit_digest() -> str:
    """sha256 of the kit a grading child is given (`kit_files_digest`), with `environment`."""
    return hashlib.sha256(f"{environment()}\0{kit_files_digest()}".encode()).hexdigest()


# A file this large is digested by its data alone (`content_digest`): the corpus's hand-ins over
# the sandbox's copy limit are sparse files of gigabytes, hashed by every child's key otherwise.
LARGE_FILE = 64 << 20
_large_digests: dict[tuple, str] = {}  # (path, size, mtime, ctime, inode) -> digest, this process


def content_digest(path: Path) -> str:
    """sha256 of `path`'s bytes; for a file of `LARGE_FILE` bytes or more, of its size and each
    of its data extents with its offset (`SEEK_DATA`/`SEEK_HOLE`), which a sparse file's holes
    leave out: what it holds, read in a moment however large it appears."""
    status = path.stat()
    if status.st_size < LARGE_FILE:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    key = (str(path), status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)
    if key not in _large_digests:
        digest = hashlib.sha256(f"size {status.st_size}".encode())
        with open(path, "rb") as file:
            start = 0
            while start < status.st_size:
                try:
                    start = os.lseek(file.fileno(), start, os.SEEK_DATA)
                except OSError as error:
                    if error.errno != errno.ENXIO:  # ENXIO: a hole from `start` to the end
                        raise
                    break
                end = os.lseek(file.fileno(), start, os.SEEK_HOLE)
                digest.update(f"\0data at {start}\0".encode())
                file.seek(start)
                while start < end:
                    chunk = file.read(min(end - start, 1 << 20))
                    digest.update(chunk)
                    start += len(chunk)
        _large_digests[key] = digest.hexdigest()
    return _large_digests[key]


def _file_digest(path: Path, aliases: dict[str, str]) -> str:
    """sha256 of what the child reads of `path`: a notebook's cells (source, type and tags,
    not its outputs), a history without its run's clock (`RUN_CLOCK`), any other file's
    bytes (`content_digest`); in a notebook, each of `aliases` (a run's own folder or port ->
    a fixed name) replaced first."""
    if path.suffix != ".ipynb" and path.name != "history.json":
        return content_digest(path)
    data = path.read_bytes()
    for old, new in aliases.items() if path.suffix == ".ipynb" else ():
        data = data.replace(old.encode(), new.encode())
    try:
        if path.suffix == ".ipynb":
            cells = json.loads(data)["cells"]
            kept = [
                [c.get("cell_type"), c.get("source"), c.get("metadata", {}).get("tags")]
                for c in cells
            ]
            data = json.dumps(kept).encode()
        elif path.name == "history.json":
            history = json.loads(data)
            if isinstance(history, dict):
                history = {k: v for k, v in history.items() if k not in RUN_CLOCK}
                data = json.dumps(history, sort_keys=True).encode()
    except (ValueError, KeyError, TypeError, AttributeError):
        pass  # not what it should be: its bytes, as the child reads them
    return hashlib.sha256(data).hexdigest()


def input_items(path: Path) -> list[str] | None:
    """A digest of each item of a grading inputs file (`kws.grading.protocol.inputs`: its rows
    and gain), in the file's order, which the grader draws afresh for every hand-in; None when
    `path` is no inputs file."""
    from kws.grading.protocol.inputs import _DTYPES, MAGIC, inputs_header

    try:
        header = inputs_header(path)
    except ValueError:
        return None
    row_bytes = header["width"] * _DTYPES[header["kind"]].itemsize
    items = []
    with open(path, "rb") as file:
        for offset, length, gain in zip(
            header["offsets"], header["lengths"], header["gains"], strict=True
        ):
            file.seek(len(MAGIC) + offset * row_bytes)
            rows = file.read(length * row_bytes)
            items.append(hashlib.sha256(rows + repr(gain).encode()).hexdigest()[:20])
    return items


def sandbox_kind() -> str:
    """The sandbox a child starts in here, and whether the grader is root."""
    from kws.grading.sandbox import bwrap

    builtin = os.environ.get("KWS_SANDBOX") == "builtin" or bwrap.available() is None
    return f"{'builtin' if builtin else 'bubblewrap'} root={os.geteuid() == 0}"


def job_key(job, kit: str, aliases: dict[str, str]) -> tuple[str, list[str]]:
    """The key of a `kws.grading.sandbox.run.ChildJob`'s report (module docstring), and the
    order of its inputs' items (`input_items`): the key holds them as a set."""
    from kws.grading.protocol.handin import copy_plan

    digest = hashlib.sha256()

    def add(*parts) -> None:
        for part in parts:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode() + b"\0")

    add(kit, sandbox_kind(), job.entry, asdict(job.limits), job.gpu)
    add(len(job.hide), len(job.readable), job.assignment and Path(job.assignment).name)
    submission = Path(job.submission)
    plan = copy_plan(submission)
    add(sorted(plan.ignored.items()), sorted(plan.links))
    for rel in sorted(plan.files):
        add(rel.as_posix(), _file_digest(submission / rel, aliases))
    order = []
    for name, path in sorted(job.inputs.items()):
        items = input_items(Path(path))
        add(name, _file_digest(Path(path), aliases) if items is None else sorted(items))
        order += items or []
    return digest.hexdigest(), order


def reordered(payload: dict | None, recorded: list[str], order: list[str]) -> dict | None:
    """`payload` with its per-input lists (each task's predictions and near ties) taken from
    the `recorded` order of the inputs' items to this grader's `order`."""
    if not isinstance(payload, dict) or not isinstance(payload.get("tasks"), dict):
        return payload
    where = {}
    for position, item in enumerate(recorded):
        where.setdefault(item, position)
    tasks = {}
    for task, report in payload["tasks"].items():
        report = dict(report)
        for name in ("predictions", "near"):
            values = report.get(name)
            if isinstance(values, list) and len(values) == len(recorded):
                report[name] = [values[where[item]] for item in order]
        tasks[task] = report
    return payload | {"tasks": tasks}


def read_records(path: Path = RECORDS) -> dict:
    """The committed records: {"kit": [kit digests], "kit_files": the kit's files' digest
    (`kit_files_digest`), "environment", "sandbox" (the recording machine's `sandbox_kind`),
    "results": {key: result}, "payloads": {digest: payload}} (empty when there is no file)."""
    if not path.is_file():
        return {"kit": [], "results": {}, "payloads": {}}
    with gzip.open(path, "rt") as file:
        return json.load(file)


def write_records(records: dict, path: Path = RECORDS) -> None:
    """Write `records` (`read_records`' shape) compactly, the same bytes for the same records."""
    text = json.dumps(records, sort_keys=True, separators=(",", ":"))
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as file:
        file.write(text.encode())


def grader_options(real=(), aliases=None) -> list[str]:
    """The grader's options that load this plugin, for this test run: `real`, the hand-ins
    (folder names) graded by real children; `aliases`, {text: name} for the key (a run's own
    folders and ports, which a hand-in may carry)."""
    options = ["-p", "recorded_children"]
    if os.environ.get(CHILDREN_SEEN):
        options += ["--new-children", os.environ[CHILDREN_SEEN]]
    if os.environ.get(ALL_REAL):
        options += ["--recorded-children", os.devnull]  # no records: every child is real
    for name in real:
        options += ["--real-child", name]
    for text, name in (aliases or {}).items():
        options += ["--child-alias", f"{text}={name}"]
    return options


def children_seen() -> dict[str, dict]:
    """{key: {"kind", "kit", "order", "result", "hand_in"}} of every child this run's graders
    saw (`CHILDREN_SEEN`); its kind: "replayed" (from its record), "real" (asked for, or no
    records given) or "unrecorded" (a real child: the records lack its key)."""
    folder = Path(os.environ.get(CHILDREN_SEEN) or os.devnull)
    if not folder.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def stale_records(seen) -> list[str]:
    """The hand-ins of `seen` (`children_seen`' entries) that had no record although the
    records are of this kit and this environment (torch, Python): what a run must not leave
    to a real child in silence. Empty where the records are of another kit or torch, or were
    recorded beside another sandbox (`sandbox_kind`: a machine without bubblewrap, or a grader
    that is not root, makes keys the recording machine never made): every child is then real,
    and tests/test_recorded_children.py says why."""
    missing = sorted({entry["hand_in"] for entry in seen if entry["kind"] == "unrecorded"})
    if not missing:
        return []
    records = read_records()
    if (
        records.get("environment") not in (None, environment())
        or records.get("sandbox") not in (None, sandbox_kind())
        or kit_digest() not in records["kit"]
    ):
        return []
    return missing


def save_records(seen: dict[str, dict], path: Path = RECORDS) -> None:
    """Add the reports of `seen` (`children_seen`) to the records, and keep only those of the
    kit now (the digests of others' keys are of a kit that no longer exists)."""
    kit = kit_digest()
    records = read_records(path)
    results = {k: v for k, v in records["results"].items() if v.get("kit") == kit}
    payloads = {}
    for key, entry in seen.items():
        if entry["kit"] == kit:
            results[key] = entry["result"] | {"kit": kit, "order": entry["order"]}
    for key, result in results.items():
        payload = result["payload"]
        if isinstance(payload, dict):
            text = json.dumps(payload, sort_keys=True)
            digest = hashlib.sha256(text.encode()).hexdigest()
            payloads[digest] = payload
            results[key] = result | {"payload": digest}
        elif payload is not None:
            payloads[payload] = records["payloads"][payload]
    records = {"kit": [kit], "kit_files": kit_files_digest(), "environment": environment()}
    records["sandbox"] = sandbox_kind()  # the recording machine's, for `stale_records`
    records["results"] = results
    write_records(records | {"payloads": payloads}, path)


def pytest_addoption(parser):
    group = parser.getgroup("recorded children (the kit's test suite)")
    group.addoption("--recorded-children", type=Path, help="the records to replay")
    group.addoption("--new-children", type=Path, help="a folder for the reports of real children")
    group.addoption("--real-child", action="append", default=[], help="a hand-in graded for real")
    group.addoption("--child-alias", action="append", default=[], help="TEXT=NAME in the key")


def pytest_configure(config):
    from kws.grading.judge import notebook

    given = config.getoption("recorded_children")
    records = read_records(RECORDS if given is None else given)
    new = config.getoption("new_children")
    real = set(config.getoption("real_child"))
    aliases = dict(alias.split("=", 1) for alias in config.getoption("child_alias"))
    kit = kit_digest()
    run_child = notebook.run_child

    def recorded_run_child(job):
        from kws.grading.sandbox.supervise import ChildResult

        key, order = job_key(job, kit, aliases)
        recorded = records["results"].get(key)
        if recorded is not None and Path(job.submission).name not in real:
            payload = records["payloads"].get(recorded["payload"]) if recorded["payload"] else None
            payload = reordered(payload, recorded["order"], order)
            fields = {k: v for k, v in recorded.items() if k not in ("kit", "order")}
            result = ChildResult(**(fields | {"payload": payload}))
            kind = "replayed"
        else:
            result = run_child(job)
            asked = Path(job.submission).name in real or not records["results"]
            kind = "real" if asked else "unrecorded"
        if new is not None:
            new.mkdir(parents=True, exist_ok=True)
            entry = {"kind": kind, "kit": kit, "order": order, "result": result.to_dict()}
            entry["hand_in"] = Path(job.submission).name
            (new / f"{key}.json").write_text(json.dumps(entry))
        return result

    notebook.run_child = recorded_run_child
