"""A class graded in shards, as a batch scheduler runs them, then merged into one gradebook.

- `--shard I/N` splits the hand-ins sorted by name into N contiguous blocks whose sizes differ by
  at most one, the same on every machine; a bad I/N is refused with the valid form;
- `kws merge` refuses, writing nothing and naming the shard and the command to run: a missing,
  unfinished or half-written shard, one graded with other options or in another split, hand-ins
  graded twice, a submissions folder that changed between shards, folders sharing a results file;
- shards run as separate `kws grade --shard` processes, then `kws merge`, give the gradebook,
  results, run.json, report and LMS export of one `kws grade` of the whole class (timings aside);
- the documented Slurm array script (kws/grading/classrun/slurm/grade_array.sbatch) does the same when
  submitted with `sbatch` to a one-node cluster (skipped, saying why, where Slurm cannot run).
"""

import contextlib
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from batch_helpers import grade_batch
from course_helpers import ROOT
from grading_helpers import TINY_KWS, make_submission
from in_process import kws_here
from slurm_cluster import node_resources, one_node_cluster, unavailable

from kws.grading.classrun.merge import merge_shards
from kws.grading.classrun.shards import RECORD, Shard, ShardError
from kws.grading.records.roster import read_roster

SCRIPT = ROOT / "kws" / "grading" / "classrun" / "slurm" / "grade_array.sbatch"
KWS = {"kws": ("KeywordTransformer", {"n_classes": 12})}
SELECTION = ["--assignment", "keyword_spotting"]


# ---- splitting ------------------------------------------------------------------------------


def test_shards_split_the_sorted_class_into_balanced_stable_blocks():
    names = [f"student{i:02d}" for i in range(23)]
    shares = [Shard(i, 5).share(list(reversed(names))) for i in range(5)]
    assert [len(share) for share in shares] == [4, 5, 4, 5, 5]  # differ by at most one
    assert sum(shares, []) == names  # contiguous, in name order, each hand-in once
    assert Shard(3, 5).share(names) == shares[3]  # the listing's order does not matter
    assert [Shard(i, 4).share(["a", "b"]) for i in range(4)] == [[], ["a"], [], ["b"]]
    assert Shard.parse(" 3 / 12 ") == Shard(3, 12)
    assert Shard(3, 12).folder(Path("g")) == Path("g/shards/shard-03-of-12")


@pytest.mark.parametrize(
    "text, says",
    [
        ("4/4", "numbered from 0, so with 4 shards the index runs from 0 to 3"),
        ("/4", "no index: outside a Slurm array job $SLURM_ARRAY_TASK_ID"),
        ("2/", "no count"),
        ("2of4", "give INDEX/COUNT"),
        ("0/0", "at least 1"),
    ],
)
def test_a_bad_shard_is_refused_with_the_valid_form(text, says):
    with pytest.raises(ShardError, match=re.escape(says)):
        Shard.parse(text)


# ---- merging: what it refuses (a stand-in grader: the engine is tested elsewhere) -------------


@pytest.fixture(scope="module")
def stand_in_grader(tmp_path_factory) -> Path:
    """A grader folder whose results depend on the hand-in's name: a mix-up shows in the scores."""
    grader = tmp_path_factory.mktemp("grader")
    (grader / "conftest.py").write_text(
        textwrap.dedent(
            """
            import json
            from pathlib import Path

            def pytest_addoption(parser):
                for name in ("--submission", "--data", "--results", "--hide", "--assignment"):
                    parser.addoption(name, action="append")

            def pytest_configure(config):
                name = Path(config.getoption("--submission")[0]).name
                score = float(len(name) % 4)
                tests = [{"name": "size", "score": score, "max_score": 3.0, "status": "passed",
                          "output": name, "visibility": "visible"}]
                Path(config.getoption("--results")[0]).write_text(
                    json.dumps({"score": score, "tests": tests, "output": ""}))
            """
        )
    )
    (grader / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    return grader


def _rows(gradebook: Path) -> list[dict]:
    """The gradebook's rows without the seconds each grading took."""
    with open(gradebook, newline="") as file:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(file)]


def _stand_in_class(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / "subs" / name).mkdir(parents=True)
    return root / "subs"


def _shards(subs, data, out, grader, count, indices=None, **options):
    for i in range(count) if indices is None else indices:
        grade_batch(subs, data, out, grader=grader, shard=Shard(i, count), **options)


def _refusal(out: Path, *phrases: str) -> str:
    with pytest.raises(ShardError) as refused:
        merge_shards(out)
    for phrase in phrases:
        assert phrase in str(refused.value), str(refused.value)
    assert not (out / "gradebook.csv").exists() and not (out / "run.json").exists()
    return str(refused.value)


def test_merge_equals_one_run_and_refuses_what_is_not_one_class(
    tmp_path, tiny_data, stand_in_grader
):
    subs = _stand_in_class(tmp_path, ["ann", "bob", "cyrus", "dee", "eve", "fay", "gus"])
    data = tmp_path / "data"  # a copy, changed by one case below
    shutil.copytree(tiny_data, data, symlinks=True)
    tiny_data = data
    whole = grade_batch(subs, tiny_data, tmp_path / "whole", grader=stand_in_grader)
    clean = tmp_path / "clean"
    _shards(subs, tiny_data, clean, stand_in_grader, 3)
    shares = [json.loads((Shard(i, 3).folder(clean) / RECORD).read_text()) for i in range(3)]
    assert [r["share"] for r in shares] == [["ann", "bob"], ["cyrus", "dee"], ["eve", "fay", "gus"]]

    def broken(name: str) -> Path:  # a copy of the clean shards, never merged
        copy = tmp_path / name
        shutil.copytree(clean, copy)
        return copy

    def record(out: Path, i: int, count: int = 3) -> tuple[Path, dict]:
        path = Shard(i, count).folder(out) / RECORD
        return path, json.loads(path.read_text())

    out = broken("missing")
    shutil.rmtree(Shard(1, 3).folder(out))
    message = _refusal(out, "shard(s) 1 of 3 missing", "--shard 1/3", f"--out {out}")
    assert f"kws grade {subs} --data {tiny_data}" in message

    given = tmp_path / "given"  # a shard given a roster and a course file: named again
    (tmp_path / "roster.csv").write_text("Student,folder\n" + "".join(
        f"{n.title()},{n}\n" for n in ["ann", "bob", "cyrus", "dee", "eve", "fay", "gus"]))  # fmt: skip
    (tmp_path / "course.toml").write_text('timezone = "UTC"\n')
    roster = read_roster(tmp_path / "roster.csv", key="folder")
    _shards(subs, tiny_data, given, stand_in_grader, 3, [0, 2], roster=roster,
            course=tmp_path / "course.toml")  # fmt: skip
    message = _refusal(given, "shard(s) 1 of 3 missing", "--shard 1/3")
    assert f"--roster {tmp_path / 'roster.csv'} --roster-key folder" in message
    assert f"--course {tmp_path / 'course.toml'}" in message

    out = broken("unfinished")  # stopped by a time limit: its record still says running
    path, running = record(out, 2)
    running.pop("graded")
    path.write_text(json.dumps(running | {"status": "running"}))
    _refusal(out, "shard(s) 2 of 3 did not finish", "started", "--shard 2/3")

    out = broken("options")
    _shards(subs, tiny_data, out, stand_in_grader, 3, [0], assignment="keyword_spotting")
    _refusal(out, "different assignment", 'shard(s) 0 with assignment = "keyword_spotting"')

    out = broken("plan")  # the data changed under its path: speaker ID no longer graded
    hw4 = data / "speaker_features"
    hw4.rename(tmp_path / "set-aside")
    _shards(subs, data, out, stand_in_grader, 3, [1])
    (tmp_path / "set-aside").rename(hw4)
    plans = [json.loads((Shard(i, 3).folder(out) / RECORD).read_text())["plan_sha256"][:12]
             for i in (0, 1)]  # fmt: skip
    _refusal(out, f"{out / 'shards'} were graded with different plans",
             f"shard-0-of-3, shard-2-of-3 (plan {plans[0]}); shard-1-of-3 (plan {plans[1]})",
             "differ in the tier sets (speaker_id) and the notebooks the data cannot grade "
             "(speaker_id); grade the odd ones again")  # fmt: skip

    out = broken("split")
    _shards(subs, tiny_data, out, stand_in_grader, 2, [1])
    _refusal(out, "different splits", "2 shards: shard-1-of-2", "3 shards: shard-0-of-3")

    out = broken("overlap")
    path, overlapping = record(out, 1)
    path.write_text(json.dumps(overlapping | {"share": ["bob", "cyrus", "dee"]}))
    _refusal(out, "graded by more than one shard: bob by shards 0, 1")

    out = broken("results")  # a shard's results lost after it finished (a failed copy, a disk)
    (Shard(2, 3).folder(out) / "results" / "fay.json").write_text('{"score": ')
    _refusal(out, "fay.json is missing or half-written", "grade that shard again")

    out = broken("record")
    (Shard(0, 3).folder(out) / RECORD).write_text('{"shard": 0, "co')
    _refusal(out, "shard.json cannot be read", "grade that shard again")

    out = broken("late")  # a hand-in arrives while the shards run
    (subs / "hal").mkdir()
    _shards(subs, tiny_data, out, stand_in_grader, 3, [2])
    _refusal(out, "submissions folder changed", "shard 0 saw 7 hand-ins, shard 2 saw 8 (new: hal)")
    (subs / "hal").rmdir()

    # All refusals done, the clean shards merge into what one run of the class wrote.
    merged = merge_shards(clean)
    assert _rows(merged) == _rows(whole)  # same rows, same columns, in the same order
    assert [r["size"] for r in _rows(merged)] == ["3.0", "3.0", "1.0", "3.0", "3.0", "3.0", "3.0"]
    for name in ("ann", "gus"):
        assert (clean / "results" / f"{name}.json").read_text() == (
            tmp_path / "whole" / "results" / f"{name}.json"
        ).read_text()
    assert json.loads((clean / "run.json").read_text()) == json.loads(
        (tmp_path / "whole" / "run.json").read_text()
    )
    assert oct((clean / "results").stat().st_mode & 0o777) == "0o700"


def test_folders_that_share_a_results_file_are_refused_before_a_shard_grades(
    tmp_path, tiny_data, stand_in_grader
):
    """``ann lee`` and ``ann_lee`` would be graded into one results file: every shard refuses
    before it grades (so does a one-machine `kws grade`), and nothing is written."""
    subs = _stand_in_class(tmp_path, ["ann lee", "ann_lee", "bob"])
    with pytest.raises(ValueError, match="'ann lee' and 'ann_lee' would share one results file"):
        _shards(subs, tiny_data, tmp_path / "out", stand_in_grader, 2)
    assert not (tmp_path / "out").exists()


def test_kws_merge_says_what_to_do_without_a_traceback(tmp_path):
    run = _kws(tmp_path, "merge", "grades")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "no shards to merge" in run.stderr and "--shard I/N" in run.stderr
    run = _kws(tmp_path, "grade", "subs", "--data", "data", "--shard", "3/3")
    assert run.returncode == 2 and "numbered from 0" in run.stderr


# ---- the real grader, shards as separate processes --------------------------------------------


def _kws(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`kws ARGS` typed in `cwd`: `kws grade` in a process of its own, the others (`kws merge`,
    `kws report`, `kws export`: records read and written) in this process."""
    env = (env or os.environ) | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if args[0] != "grade":
        return kws_here(cwd, *args, env=env)
    return subprocess.run([sys.executable, "-m", "kws.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1800)  # fmt: skip


@pytest.fixture(scope="module")
def course(tiny_data, tmp_path_factory) -> Path:
    """An instructor's folder: data/, a class of five whose hand-ins score differently (a good
    model twice, a model with 10 classes, no checkpoint, a good one in a folder with a space),
    and a roster CSV missing one of them and listing a student who handed in nothing."""
    root = tmp_path_factory.mktemp("course")
    (root / "data").symlink_to(tiny_data)
    notebook = "01_keyword_spotting.ipynb"
    cells = [(TINY_KWS, ["model"])]
    make_submission(root / "subs" / "ann", notebook, cells, KWS)
    make_submission(root / "subs" / "bob", notebook, cells, {"kws": ("KeywordTransformer",
                                                                     {"n_classes": 10})})  # fmt: skip
    make_submission(root / "subs" / "cy", notebook, cells, {})
    make_submission(root / "subs" / "dee", notebook, cells, KWS)
    make_submission(root / "subs" / "eve li", notebook, cells, KWS)
    (root / "roster.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,folder\r\n"
        '"Ames, Ann",101,S1,ann,CS-1,ann\r\n"Bo, Bob",102,S2,bob,CS-1,bob\r\n'
        '"Chu, Cy",103,S3,cy,CS-2,cy\r\n"Day, Dee",104,S4,dee,CS-2,dee\r\n'
        '"Zu, Zoe",105,S5,zoe,CS-2,\r\n'
    )
    return root


@pytest.fixture(scope="module")
def one_machine(course) -> Path:
    run = _kws(course, "grade", "subs", "--data", "data", "--out", "one", "--roster",
               "roster.csv", *SELECTION)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "4 of 5 hand-ins matched" in run.stdout
    assert "1 hand-in folder(s) with no roster row, left out of LMS exports: eve li" in run.stdout
    assert "exported as missing: Zu, Zoe (zoe) [line 6]" in run.stdout
    return course / "one"


_TIMING = [
    (re.compile(r"graded in [\d.]+ s"), "graded in # s"),
    (re.compile(r"unprivileged user id \d+"), "unprivileged user id #"),  # a free id each run
]


def _untimed(value):
    """A results document without what differs between two gradings of one hand-in: the
    execution time, the seconds in messages and the sandbox's user id."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k != "execution_time"}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    if isinstance(value, str):
        for pattern, replacement in _TIMING:
            value = pattern.sub(replacement, value)
    return value


def _graded(folder: Path) -> tuple[list[dict], dict, dict]:
    """(gradebook rows without their seconds, {student: results untimed}, run.json)."""
    rows = _rows(folder / "gradebook.csv")
    results = {
        path.stem: _untimed(json.loads(path.read_text()))
        for path in sorted((folder / "results").glob("*.json"))
    }
    return rows, results, json.loads((folder / "run.json").read_text())


def _same_class(merged: Path, one: Path) -> None:
    rows, results, run = _graded(merged)
    want_rows, want_results, want_run = _graded(one)
    assert [r["student"] for r in rows] == ["ann", "bob", "cy", "dee", "eve li"]
    assert rows == want_rows
    assert results == want_results
    assert run == want_run
    totals = {r["student"]: float(r["total"]) for r in rows}
    assert totals["ann"] == totals["dee"] == totals["eve li"] > totals["bob"] > totals["cy"] == 0
    assert (merged / "roster.csv").read_bytes() == (one / "roster.csv").read_bytes()
    # the plan the class was graded with, kept as one run keeps it: each hand-in's notebooks
    # from the shard that graded it, the decisions every shard shares
    plan, want_plan = (json.loads((f / "plan.json").read_text()) for f in (merged, one))
    assert sorted(plan["notebooks"]) == ["ann", "bob", "cy", "dee", "eve li"]
    assert plan == want_plan


@pytest.mark.slow
@pytest.mark.full  # a class graded end to end, twice
def test_shards_graded_as_processes_merge_into_the_one_machine_gradebook(course, one_machine):
    work = course / "elsewhere"  # the commands typed from another folder, with relative paths
    work.mkdir()
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    shards = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kws.cli",
                "grade",
                "../subs",
                "--data",
                "../data",
                "--out",
                "../sharded",
                "--roster",
                "../roster.csv",
                "--jobs",
                "1",
                "--shard",
                f"{i}/3",
                *SELECTION,
            ],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(3)
    ]
    for i, shard in enumerate(shards):
        out, err = shard.communicate(timeout=1800)
        assert shard.returncode == 0, err
        assert f"shard {i}/3 graded; once all 3 have finished: kws merge ../sharded" in out
    merged = _kws(work, "merge", "../sharded")
    assert merged.returncode == 0, merged.stderr
    _same_class(course / "sharded", one_machine)

    # `kws report` and `kws export` read the merged folder as they read one run's (on copies:
    # the report adds a column to the gradebook, and other tests compare with `one_machine`).
    printed = {}
    for folder in ("sharded", "one"):
        shutil.copytree(course / folder, course / f"{folder}-copy")
        report = _kws(course, "report", f"{folder}-copy")
        assert report.returncode == 0, report.stderr
        printed[folder] = report.stdout.replace(f"{folder}-copy", "GRADES")
        export = _kws(course, "export", "canvas", f"{folder}-copy", "--out", f"{folder}.csv",
                      "--unmarked", "zero")  # the written questions, unmarked here  # fmt: skip
        assert export.returncode == 0, export.stderr
    assert printed["sharded"] == printed["one"] and "similarity flagged:" in printed["one"]
    assert _rows(course / "sharded-copy/gradebook.csv") == _rows(course / "one-copy/gradebook.csv")
    assert (course / "sharded.csv").read_text() == (course / "one.csv").read_text()
    assert (course / "one.csv").read_text().splitlines()[1:3] == [
        "    Points Possible,,,,,33", '"Ames, Ann",101,S1,ann,CS-1,10'
    ]  # fmt: skip


# ---- the documented Slurm job array, on a one-node cluster ------------------------------------


def test_the_docs_carry_the_shipped_array_script():
    page = (ROOT / "docs" / "how-to" / "cluster.md").read_text()
    assert SCRIPT.read_text() in page, "docs/how-to/cluster.md must show grade_array.sbatch as is"


@pytest.mark.slow
@pytest.mark.full  # a one-node cluster started for it
def test_slurm_array_grades_the_shards_and_a_dependent_job_merges_them(
    course, one_machine, tmp_path
):
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    cpus, memory_mb = node_resources()
    fit = [f"--cpus-per-task={min(2, cpus)}"] + (
        [f"--mem={memory_mb}M"] if memory_mb < 4096 else []
    )
    kws = f"{sys.executable} -m kws.cli"
    with contextlib.ExitStack() as stack:
        try:
            env = stack.enter_context(one_node_cluster(tmp_path / "slurm"))
        except RuntimeError as error:
            pytest.skip(str(error))
        env |= {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "KWS": kws}
        # An array counted from 1: the script makes it shards 0/3 .. 2/3.
        submit = ["sbatch", "--parsable", "--array=1-3", *fit, str(SCRIPT), "subs", "data",
                  "slurm-grades", "--roster", "roster.csv", *SELECTION]  # fmt: skip
        array = subprocess.run(submit, cwd=course, env=env, capture_output=True, text=True)
        assert array.returncode == 0, array.stderr
        job = array.stdout.strip().split(";")[0]
        merge = ["sbatch", "--wait", f"--dependency=afterany:{job}", "--output=merge-%j.out",
                 "--wrap", f"{kws} merge slurm-grades"]  # fmt: skip
        merged = subprocess.run(merge, cwd=course, env=env, capture_output=True, text=True,
                                timeout=1800)  # fmt: skip
        logs = {p.name: p.read_text() for p in course.glob("*.out")}
        assert merged.returncode == 0, (merged.stderr, logs)
    assert sorted(p.name for p in (course / "slurm-grades/shards").iterdir()) == [
        "shard-0-of-3", "shard-1-of-3", "shard-2-of-3"
    ]  # fmt: skip
    assert any("shard 2/3 graded" in text for text in logs.values()), logs
    _same_class(course / "slurm-grades", one_machine)
