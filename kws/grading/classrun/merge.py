"""`kws merge OUT`: the shards of a class (`kws.grading.classrun.shards`), one gradebook.

`merge_shards` checks the N records against each other before it writes anything, and refuses
what docs/how-to/cluster.md lists, naming the shard and the command that fixes it. It then
writes OUT as a one-machine `kws grade` would, so `kws report OUT` and `kws export` read it
alike, keeps the class's plan in OUT (``plan.json``: the decisions the shards share, each
hand-in's notebooks from its shard's, `kws.grading.records.plan`), and applies the season,
which takes the written questions from it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from kws.grading.classrun.shards import (
    COMPLETE,
    RECORD,
    RECORD_FIELDS,
    SHARDS,
    Shard,
    ShardError,
    regrade_command,
)
from kws.grading.records.files import copy_whole, write_whole
from kws.grading.records.gradebook import (
    ROSTER_FILE,
    RUN_FILE,
    Graded,
    gradebook_csv,
    safe_name,
    write_run_record,
)
from kws.grading.records.grades import grades_of
from kws.grading.records.lock import CLASS, holding
from kws.grading.records.plan import KeptPlan, keep_plan, read_kept_plan
from kws.grading.records.roster import kept_roster_names
from kws.grading.season.apply import apply_season, checked_season, class_of
from kws.grading.season.inputs import read_season

# A plan's decisions (`kws.grading.judge.planned.shared_decisions`), as a refusal names them.
DECISION_WORDS = {
    "version": "the plan's version (the kit that made it)",
    "data": "the data folder",
    "assignment": "the selection (--assignment)",
    "tier_sets": "the tier sets",
    "public_test_set": "the notebooks graded on a public test set",
    "missing": "the notebooks the data cannot grade",
    "split": "the Kaggle split",
    "written": "the written questions and their points",
}


def _read_records(out_dir: Path) -> dict[Path, dict]:
    root = out_dir / SHARDS
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root}: no shards to merge; grade them first with "
            f"`kws grade SUBMISSIONS --data DATA --out {out_dir} --shard I/N` for I = 0 .. N-1"
        )
    records = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        path = folder / RECORD
        try:
            records[folder] = json.loads(path.read_text())
            absent = [k for k in RECORD_FIELDS if k not in records[folder]]
            if absent:
                raise ValueError(f"no {', '.join(absent)}")
        except FileNotFoundError:
            raise ShardError(
                f"{folder}: no {RECORD}: its shard never started grading, or this folder is not "
                "one `kws grade --shard` wrote; grade that shard again or delete the folder"
            ) from None
        except (OSError, ValueError) as error:
            raise ShardError(f"{path} cannot be read ({error}); grade that shard again") from None
    if not records:
        raise FileNotFoundError(f"{root}: no shards to merge; grade them with --shard I/N first")
    return records


def _names(shards: list[int]) -> str:
    return ", ".join(str(i) for i in sorted(shards))


def _regrade_commands(out_dir: Path, count: int, by_index: dict[int, dict], shards) -> str:
    """The commands that grade `shards` again, with the first shard's options, one a line."""
    first = by_index[min(by_index)]
    return "\n  ".join(
        regrade_command(first["options"], out_dir, Shard(i, count), first.get("given"))
        for i in shards
    )


def _check_records(out_dir: Path, records: dict[Path, dict]) -> tuple[int, dict[int, dict]]:
    """The number of shards and the records by index, once they agree; ShardError otherwise."""
    counts = Counter(record["count"] for record in records.values())
    if len(counts) > 1:
        splits = "; ".join(
            f"{n} shards: " + ", ".join(f.name for f, r in records.items() if r["count"] == n)
            for n in sorted(counts)
        )
        raise ShardError(
            f"{out_dir / SHARDS} holds shards of different splits ({splits}); delete the folders "
            "of the split you gave up and merge again"
        )
    count = next(iter(counts))
    by_index = {}
    for folder, record in records.items():
        expected = Shard(record["shard"], count).folder(out_dir)
        if folder != expected:
            raise ShardError(f"{folder}/{RECORD} describes shard {record['shard']}/{count}, "
                             f"which belongs in {expected}; grade that shard again")  # fmt: skip
        by_index[record["shard"]] = record
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        commands = _regrade_commands(out_dir, count, by_index, missing)
        raise ShardError(
            f"shard(s) {_names(missing)} of {count} missing from {out_dir / SHARDS} (never "
            f"graded, or graded into another --out); grade them, then merge again:\n  {commands}"
        )
    for key in by_index[min(by_index)]["options"]:
        by_value: dict[str, list[int]] = {}
        for i, record in by_index.items():
            by_value.setdefault(json.dumps(record["options"].get(key)), []).append(i)
        if len(by_value) > 1:
            groups = "; ".join(
                f"shard(s) {_names(s)} with {key} = {v}" for v, s in by_value.items()
            )
            raise ShardError(
                f"the shards were graded with different {key}: {groups}; grade the odd ones "
                "again with the options of the others (every shard of a class must grade alike)"
            )
    _check_plans(out_dir, count, by_index)
    return count, by_index


def _check_plans(out_dir: Path, count: int, by_index: dict[int, dict]) -> None:
    """ShardError when the shards were graded under plans whose shared decisions differ (their
    recorded digests), naming the shards' folders by plan and the decisions that differ."""
    by_digest: dict[str, list[int]] = {}
    for i in sorted(by_index):
        by_digest.setdefault(by_index[i]["plan_sha256"], []).append(i)
    if len(by_digest) == 1:
        return
    groups = "; ".join(
        ", ".join(Shard(i, count).folder(out_dir).name for i in shards) + f" (plan {digest[:12]})"
        for digest, shards in by_digest.items()
    )
    plans = [by_index[shards[0]]["plan"] for shards in by_digest.values()]
    raise ShardError(
        f"the shards in {out_dir / SHARDS} were graded with different plans: {groups}; they "
        f"differ in {_differences(plans)}; grade the odd ones again from the same data and "
        "course file as the others"
    )


def _differences(plans: list[dict]) -> str:
    """The decisions that differ between `plans`, in words (`DECISION_WORDS`); a decision made
    per notebook (the tier sets, the public test sets) with the notebooks it differs for."""
    said = []
    for key in dict.fromkeys(key for plan in plans for key in plan):
        values = [plan.get(key) for plan in plans]
        if all(value == values[0] for value in values):
            continue
        names: set[str] = set()
        if all(isinstance(value, dict) for value in values):  # {notebook: its decision}
            names = {n for v in values for n in v if any(w.get(n) != v.get(n) for w in values)}
        elif all(isinstance(value, list) for value in values):  # [notebook]
            names = set().union(*values) - set.intersection(*(set(v) for v in values))
        words = DECISION_WORDS.get(key, key)
        said.append(f"{words} ({', '.join(sorted(names))})" if names else words)
    if not said:
        return "nothing their records show (edited records?)"
    return " and ".join([", ".join(said[:-1]), said[-1]] if len(said) > 1 else said)


def _check_shares(out_dir: Path, count: int, by_index: dict[int, dict]) -> list[str]:
    """Every hand-in graded by exactly one finished shard; the class's hand-ins."""
    seen = {i: tuple(r["handins"]) for i, r in by_index.items()}
    if len(set(seen.values())) > 1:
        first = min(seen)
        changes = []
        for i, names in seen.items():
            added = ", ".join(sorted(set(names) - set(seen[first])))
            gone = ", ".join(sorted(set(seen[first]) - set(names)))
            what = "; ".join(
                f"{word}: {them}" for word, them in (("new", added), ("gone", gone)) if them
            )
            if what:
                changes.append(f"shard {i} saw {len(names)} ({what})")
        raise ShardError(
            f"the submissions folder changed while the shards graded: shard {first} saw "
            f"{len(seen[first])} hand-ins, {', '.join(changes)}; grade every shard "
            "again once the folder is final"
        )
    unfinished = [i for i, r in by_index.items() if r.get("status") != COMPLETE]
    if unfinished:
        started = "; ".join(
            f"shard {i} started {by_index[i].get('started')} on {by_index[i].get('host')}"
            for i in sorted(unfinished)
        )
        commands = _regrade_commands(out_dir, count, by_index, sorted(unfinished))
        raise ShardError(
            f"shard(s) {_names(unfinished)} of {count} did not finish ({started}): still running, "
            "or stopped (time limit, cancelled, node failure); when they have ended, grade "
            f"them again and merge:\n  {commands}"
        )
    graded_by: dict[str, list[int]] = {}
    for i, record in by_index.items():
        for name in record["share"]:
            graded_by.setdefault(name, []).append(i)
    twice = {name: shards for name, shards in graded_by.items() if len(shards) > 1}
    if twice:
        listed = "; ".join(f"{name} by shards {_names(s)}" for name, s in sorted(twice.items()))
        raise ShardError(f"hand-ins graded by more than one shard: {listed}; the shards overlap "
                         "(edited records?): grade every shard again")  # fmt: skip
    handins = list(next(iter(seen.values())))
    ungraded = sorted(set(handins) - set(graded_by))
    if ungraded:
        raise ShardError(f"hand-ins no shard graded: {', '.join(ungraded)}; grade every shard "
                         "again")  # fmt: skip
    files = Counter(safe_name(name) for name in handins)
    clash = sorted(name for name in handins if files[safe_name(name)] > 1)
    if clash:
        raise ShardError(
            f"hand-in folders {', '.join(clash)} share one results file name "
            f"({safe_name(clash[0])}.json); rename them apart and grade every shard again"
        )
    return handins


def _shard_outcomes(folder: Path, record: dict) -> list[Graded]:
    """The shard's gradebook rows as `Graded` entries; ShardError when files are missing."""
    entries = record.get("graded") or []
    if sorted(e["student"] for e in entries) != sorted(record["share"]):
        raise ShardError(f"{folder}/{RECORD} is complete but does not list its share's outcomes; "
                         "grade that shard again")  # fmt: skip
    graded = []
    for entry in entries:
        document = None
        if entry["results"]:
            path = folder / "results" / f"{safe_name(entry['student'])}.json"
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError):
                raise ShardError(
                    f"{path} is missing or half-written, though {folder.name} finished; "
                    "grade that shard again"
                ) from None
        graded.append(Graded(entry["student"], document, entry["problem"], entry["seconds"]))
    return graded


def merge_shards(out_dir: Path, *, wait: bool = False) -> Path:
    """Merge the shards under ``OUT/shards/`` into ``OUT`` (the module says how); return the
    gradebook. FileNotFoundError when there is nothing to merge, ShardError (naming the shard
    and the command to run) when the shards do not make one class, CourseError when the
    season kept in OUT does not fit it: nothing is written then; FolderBusy while another
    command writes OUT (`kws.grading.records.lock`), unless `wait`."""
    with holding(out_dir, "kws merge", scope=CLASS, wait=wait):
        return _merge(Path(out_dir).resolve())


def _merge(out_dir: Path) -> Path:
    records = _read_records(out_dir)
    count, by_index = _check_records(out_dir, records)
    handins = _check_shares(out_dir, count, by_index)
    graded = []
    for i in range(count):
        graded += _shard_outcomes(Shard(i, count).folder(out_dir), by_index[i])
    options = by_index[0]["options"]  # every shard's, checked
    submissions, data = Path(options["submissions"]), Path(options["data"])
    by_name = {g.student: g for g in graded}
    text = gradebook_csv([by_name[name] for name in handins])
    documents = {g.student: g.document for g in graded}
    grades = grades_of(out_dir, text, documents, submissions)  # as `kws grade` gathers them
    copies = sorted((out_dir / SHARDS).glob(f"*/{ROSTER_FILE}"))  # one roster, in each shard
    names = kept_roster_names(copies[0].parent) if copies else set()
    # The course file, times and adjustments kept in OUT, checked before anything is written.
    kept = _merged_plan(out_dir, count, handins)  # the shards', as one class's
    season = checked_season(read_season(out_dir), out_dir, *class_of(grades, kept),
                            roster=names)  # fmt: skip
    for folder in ("results", "logs"):  # the instructor's eyes only, as `kws grade` makes them
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
        (out_dir / folder).chmod(0o700)
    for i in range(count):
        source = Shard(i, count).folder(out_dir)
        for name in by_index[i]["share"]:
            for folder, suffix in (("results", ".json"), ("logs", ".txt")):
                path = source / folder / f"{safe_name(name)}{suffix}"
                if path.is_file():
                    copy_whole(path, out_dir / folder / path.name)
    roster = Shard(0, count).folder(out_dir) / ROSTER_FILE
    run = json.loads((Shard(0, count).folder(out_dir) / RUN_FILE).read_text())
    if roster.is_file():
        copy_whole(roster, out_dir / ROSTER_FILE)
    key = run.get("roster_key") if roster.is_file() else None
    write_run_record(out_dir, submissions, data, options["assignment"], roster_key=key)
    if kept is not None:
        keep_plan(out_dir, kept.decisions, kept.notebooks)
    gradebook = write_whole(out_dir / "gradebook.csv", text)
    apply_season(out_dir, season=season, command="kws merge", kept=kept)  # the course file kept
    return gradebook


def _merged_plan(out_dir: Path, count: int, handins: list[str]) -> KeptPlan | None:
    """The plan of the class the `count` shards of `out_dir` graded: the decisions they share
    (checked equal by `_check_records`), and each hand-in's notebooks from the shard that
    graded it; None where a shard keeps no plan (graded by a kit that kept none)."""
    kept = [read_kept_plan(Shard(i, count).folder(out_dir)) for i in range(count)]
    if any(plan is None for plan in kept):
        return None
    notebooks = {}
    for plan in kept:
        notebooks |= plan.notebooks
    decisions = {key: value for key, value in kept[0].decisions.items() if key != "held"}
    held = {}
    for plan in kept:
        held |= plan.decisions["held"]
    return KeptPlan(decisions | {"held": held},
                    {name: notebooks.get(name, []) for name in handins})  # fmt: skip
