"""A class larger than one machine: grade it in shards on a batch scheduler, then merge them.

    kws grade SUBMISSIONS --data DATA --out OUT --shard I/N    one share of the class, 0 <= I < N
    kws merge OUT                                               one gradebook from all N shards

Shard I grades the I-th of N contiguous blocks of the hand-in folders sorted by name, into its
own folder ``OUT/shards/shard-I-of-N/`` with ``shard.json`` (written "running" first and
"complete" last); docs/how-to/cluster.md says what each holds. Shards never write into the
same folder, so any number can run at once on a shared file system;
`kws.grading.classrun.merge` merges them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from kws.grading.records.gradebook import Graded

SHARDS = "shards"  # OUT/shards/shard-I-of-N/
RECORD = "shard.json"
RUNNING, COMPLETE = "running", "complete"
# What merging reads.
RECORD_FIELDS = ("shard", "count", "status", "options", "plan_sha256", "plan", "handins", "share")
_FORM = re.compile(r"^\s*(-?\d*)\s*/\s*(-?\d*)\s*$")


class ShardError(ValueError):
    """Shards that cannot be merged (or a --shard that cannot be graded); the message says why
    and what to run."""


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (numbered from 0, as ``--array=0-N`` numbers Slurm's tasks)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` as ``--shard`` takes it; ShardError saying the valid form otherwise."""
        form = _FORM.match(text or "")
        example = "--shard 0/4 ... --shard 3/4 (in a Slurm array: grade_array.sbatch)"
        if not form:
            raise ShardError(f"--shard {text!r}: give INDEX/COUNT, e.g. {example}")
        index, count = form.groups()
        if not index or not count:
            side = "index" if not index else "count"
            raise ShardError(
                f"--shard {text!r} has no {side}: outside a Slurm array job "
                "$SLURM_ARRAY_TASK_ID and $SLURM_ARRAY_TASK_COUNT are empty; "
                f"give both numbers, e.g. {example}"
            )
        index, count = int(index), int(count)
        if count < 1:
            raise ShardError(f"--shard {text}: the number of shards must be at least 1")
        if not 0 <= index < count:
            raise ShardError(
                f"--shard {text}: shards are numbered from 0, so with {count} shards the index "
                f"runs from 0 to {count - 1} (a Slurm array numbered from 1, --array=1-{count}, "
                "needs $SLURM_ARRAY_TASK_ID - $SLURM_ARRAY_TASK_MIN, as grade_array.sbatch does)"
            )
        return cls(index, count)

    def share(self, handins: list[str]) -> list[str]:
        """This shard's block of `handins` (sorted by name here): the same names on every
        machine that sees the same folders; block sizes differ by at most one."""
        names = sorted(handins)
        start, end = (len(names) * i // self.count for i in (self.index, self.index + 1))
        return names[start:end]

    def folder(self, out_dir: Path) -> Path:
        width = len(str(self.count - 1))  # shard-03-of-12 lists in order
        return Path(out_dir) / SHARDS / f"shard-{self.index:0{width}d}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def file_digest(path: Path | None) -> str | None:
    """sha256 of a file's bytes (None for no file): two shards read the same tiers or roster."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None


def write_record(folder: Path, record: dict) -> None:
    """shard.json, replaced in one step: a reader sees the old record or the new one."""
    partial = folder / f".{RECORD}.partial"
    partial.touch(mode=0o600)  # it names the instructor's folders
    partial.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(partial, folder / RECORD)


def finish_shard(folder: Path, record: dict, graded: list[Graded]) -> None:
    """Mark the shard complete, with each hand-in's outcome (what its gradebook row is made of)."""
    entries = [
        {"student": g.student, "results": g.document is not None, "problem": g.problem,
         "seconds": g.seconds}
        for g in graded
    ]  # fmt: skip
    finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_record(folder, record | {"status": COMPLETE, "finished": finished, "graded": entries})


def regrade_command(
    options: dict, out_dir: Path, shard: Shard | str, given: dict | None = None
) -> str:
    """The `kws grade` command that grades `shard` with these options again, with the roster,
    course file and times the shard it is read from was given (its record's `given`)."""
    words = ["kws", "grade", options["submissions"], "--data", options["data"]]
    words += ["--out", str(out_dir), "--shard", str(shard)]
    for flag in ("assignment", "dataset", "tiers"):
        words += [f"--{flag}", options[flag]] if options.get(flag) else []
    for flag in ("roster", "roster_key", "course", "times"):
        value = (given or {}).get(flag)
        words += [f"--{flag.replace('_', '-')}", value] if value else []
    return shlex.join(words)
