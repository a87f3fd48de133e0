"""The marks of written answers in the grades folder (kws.grading.records.marks): saved at once
and whole, with who and when, the history kept, scores from the rubric as it is now, refusals
that name the fix, no mark lost to two graders at once, and the grades folder's seal covering
them."""

import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kws.grading.records.kept_marks import history_events
from kws.grading.records.marks.rubric import MARKS_FILE, Item, MarkConflict, MarksError, Rubric
from kws.grading.records.marks.store import MarkStore
from kws.grading.records.seal import RecordsError, check_seal, read_seal, seal

KEY = "speaker_id/norm"
STUDENTS = [f"s{n:02d}" for n in range(40)]
RUBRIC = Rubric(
    "speaker_id",
    "norm",
    "markdown",
    3.0,
    "Why a normalization?",
    "Because the scale drifts.",
    (Item("scale", 2.0, "names the scale"), Item("fix", 1.0, "says what it fixes")),
)


@pytest.fixture
def grades(tmp_path) -> Path:
    """A graded class's folder, sealed as `kws grade` leaves it, with the question recorded."""
    folder = tmp_path / "grades"
    (folder / "results").mkdir(parents=True)
    rows = "".join(f"{name},10\n" for name in STUDENTS)
    (folder / "gradebook.csv").write_text("student,total\n" + rows)
    for name in STUDENTS[:3]:
        (folder / "results" / f"{name}.json").write_text(json.dumps({"score": 10, "tests": []}))
    seal(folder, "kws grade")
    MarkStore(folder, STUDENTS).add_questions([RUBRIC], by="kim")
    return folder


def test_a_mark_is_saved_at_once_with_who_when_and_the_digest(grades):
    store = MarkStore(grades, STUDENTS)
    saved = store.save(KEY, ["s01"], items=["scale"], digests={"s01": "d1"}, by="kim",
                       comment="Say what it fixes.")  # fmt: skip
    again = MarkStore(grades, STUDENTS).marks()[KEY]["s01"]  # read back from the file
    assert again == saved["s01"] and again.items == ("scale",) and again.digest == "d1"
    assert (again.by, again.version, again.comment) == ("kim", 1, "Say what it fixes.")
    assert again.when.endswith("+00:00")
    assert store.rubrics()[KEY].score(again) == 2.0


def test_a_rubric_items_new_points_reach_every_answer_that_has_it(grades):
    store = MarkStore(grades, STUDENTS)
    store.save(KEY, ["s01", "s02"], items=["scale"], digests={}, by="kim")
    store.save(KEY, ["s03"], items=["scale", "fix"], digests={}, by="kim", adjust=-0.5)
    store.change_item(KEY, "scale", points=1.5, by="lee")
    rubric, marks = store.rubrics()[KEY], store.marks()[KEY]
    assert [rubric.score(marks[s]) for s in ("s01", "s02", "s03")] == [1.5, 1.5, 2.0]
    added = store.add_item(KEY, points=-1, text="wrong layer", by="lee")
    assert added.items[-1] == Item("added-1", -1.0, "wrong layer")
    store.save(KEY, ["s01"], items=["scale", "added-1"], digests={}, by="lee")
    assert store.rubrics()[KEY].score(store.marks()[KEY]["s01"]) == 0.5


def test_the_score_stays_between_0_and_the_points_and_a_deductions_rubric_starts_full(grades):
    rubric = Rubric("a", "q", "markdown", 3.0, "", "", (Item("x", -1.0, "x"), Item("y", -4, "y")))
    store = MarkStore(grades, STUDENTS)
    mark = store.save(KEY, ["s01"], items=[], digests={}, by="kim", adjust=3.0)["s01"]
    assert rubric.score(mark) == 3.0 and RUBRIC.score(mark) == 3.0
    mark = store.save(KEY, ["s01"], items=[], digests={}, by="kim", adjust=-3.0)["s01"]
    assert rubric.score(mark) == 0.0 and RUBRIC.score(mark) == 0.0


def test_the_history_keeps_every_change_in_order(grades):
    store = MarkStore(grades, STUDENTS)
    store.save(KEY, ["s01"], items=["scale"], digests={}, by="kim")
    store.save(KEY, ["s01"], items=["fix"], digests={}, by="lee")
    store.change_item(KEY, "fix", text="says what the normalization fixes", by="lee")
    events = [(e["event"], e.get("student"), e.get("items") or e.get("item"), e["by"])
              for e in history_events(grades)]  # fmt: skip
    assert events == [
        ("questions", None, None, "kim"),
        ("mark", "s01", ["scale"], "kim"),
        ("mark", "s01", ["fix"], "lee"),
        ("item", None, {"id": "fix", "points": 1.0, "text": "says what the normalization fixes"},
         "lee"),
    ]  # fmt: skip
    assert store.marks()[KEY]["s01"].version == 2


@pytest.mark.parametrize(
    "change, said",
    [
        (dict(students=["zed"]), r"no student 'zed' in .*gradebook.csv: marks are for the class "
         r"graded there; grade the hand-in first \(kws grade --student NAME\)"),
        (dict(key="speaker_id/other"), r"marks/rubrics.json has no question 'speaker_id/other' "
         r"\(it has: speaker_id/norm\); start `kws mark` with the solution notebooks"),
        (dict(items=["scale", "nope"]), r"speaker_id/norm: items \['scale', 'nope'\] are not "
         r"its rubric's"),
        (dict(items=["scale", "scale"]), r"are not its rubric's .*each once"),
        (dict(adjust=4.0), r"an adjustment of 4.0 points; give one between -3 and 3"),
        (dict(adjust=float("nan")), r"an adjustment of nan points"),
        (dict(comment="x" * 5001), r"a text of up to 5000 characters"),
        (dict(by=" "), r"a mark needs who gave it"),
    ],
)  # fmt: skip
def test_a_mark_for_what_does_not_exist_is_refused_with_the_fix(grades, change, said):
    store = MarkStore(grades, STUDENTS)
    store.save(KEY, ["s01"], items=["scale"], digests={}, by="kim")
    before = (grades / MARKS_FILE).read_bytes()
    arguments = dict(key=KEY, students=["s02"], items=["fix"], digests={}, by="kim") | change
    key, students = arguments.pop("key"), arguments.pop("students")
    with pytest.raises(MarksError, match=said):
        store.save(key, students, **arguments)
    assert (grades / MARKS_FILE).read_bytes() == before and len(history_events(grades)) == 2


def test_a_rubric_change_for_what_does_not_exist_is_refused(grades):
    store = MarkStore(grades, STUDENTS)
    with pytest.raises(MarksError, match=r"speaker_id/norm has no rubric item 'gone'; its items "
                                         r"are scale, fix"):  # fmt: skip
        store.change_item(KEY, "gone", points=1, by="kim")
    with pytest.raises(MarksError, match=r"an item of 0.0 points; give it between -3 and 3"):
        store.change_item(KEY, "scale", points=0, by="kim")


def test_a_mark_changed_since_the_grader_looked_is_a_conflict_not_an_overwrite(grades):
    store = MarkStore(grades, STUDENTS)
    store.save(KEY, ["s01"], items=["scale"], digests={}, by="kim", versions={"s01": None})
    with pytest.raises(MarkConflict) as conflict:  # lee's page still shows no mark
        store.save(KEY, ["s01", "s02"], items=["fix"], digests={}, by="lee",
                   versions={"s01": None, "s02": None})  # fmt: skip
    assert conflict.value.current["s01"].by == "kim" and "s02" not in conflict.value.current
    assert store.marks()[KEY]["s01"].items == ("scale",) and "s02" not in store.marks()[KEY]
    store.save(KEY, ["s01"], items=["fix"], digests={}, by="lee", versions={"s01": 1})
    assert store.marks()[KEY]["s01"].items == ("fix",)


def test_the_seal_covers_the_marks_and_is_renewed_by_each_mark(grades):
    store = MarkStore(grades, STUDENTS)
    store.save(KEY, ["s01"], items=["scale"], digests={}, by="kim")
    check_seal(grades)  # what kws report, feedback and export check first
    record = read_seal(grades)
    assert record["command"] == "kws mark" and {MARKS_FILE, "marks/rubrics.json"} <= set(
        record["files"]
    )
    (grades / MARKS_FILE).write_text((grades / MARKS_FILE).read_text().replace("kim", "eve"))
    with pytest.raises(RecordsError, match=r"marks/marks.json changed since `kws mark`"):
        check_seal(grades)


def test_a_hand_edited_record_is_not_sealed_over_by_a_mark(grades):
    (grades / "gradebook.csv").write_text("student,total\ns01,99\n")  # edited by hand
    store = MarkStore(grades, STUDENTS)
    store.save(KEY, ["s01"], items=["scale"], digests={}, by="kim")
    assert store.marks()[KEY]["s01"].items == ("scale",) and not store.sealed  # the mark kept
    with pytest.raises(RecordsError, match=r"gradebook.csv changed, marks/marks.json is new since"):
        check_seal(grades)


def test_the_notebooks_questions_are_added_and_a_graders_changes_kept(grades):
    store = MarkStore(grades, STUDENTS)
    store.change_item(KEY, "scale", points=1.5, by="kim")
    newer = Rubric(*[getattr(RUBRIC, f) for f in ("assignment", "question", "kind", "points",
                                                  "prompt", "model_answer")],
                   items=RUBRIC.items + (Item("vague", -1.0, "too vague"),))  # fmt: skip
    other = Rubric("patch_transformer", "eval", "markdown", 2.0, "?", "!", (Item("a", 2, "a"),))
    notes = store.add_questions([newer, other], by="kim")
    assert notes == ["speaker_id/norm: item scale gives 1.5 points in the grades folder, 2 in "
                     "the notebook; marking keeps 1.5"]  # fmt: skip
    rubrics = store.rubrics()
    assert [i.id for i in rubrics[KEY].items] == ["scale", "fix", "vague"]
    assert rubrics[KEY].items[0].points == 1.5 and "patch_transformer/eval" in rubrics


def _mark_many(folder: str, students: list[str], by: str) -> None:
    store = MarkStore(Path(folder), STUDENTS)
    for student in students:
        store.save(KEY, [student], items=["scale"], digests={student: by}, by=by)


def test_two_graders_at_once_lose_no_mark(grades):
    """Two processes (two `kws mark` servers on one folder) and, in each, threads (two browsers
    on one server) save marks at once: every mark is there, each with its one version."""
    halves = [STUDENTS[:20], STUDENTS[20:]]
    context = multiprocessing.get_context("spawn")
    with ThreadPoolExecutor(4) as pool:
        processes = [context.Process(target=_mark_many, args=(str(grades), h[:10], f"p{n}"))
                     for n, h in enumerate(halves)]  # fmt: skip
        for process in processes:
            process.start()
        list(pool.map(lambda n: _mark_many(str(grades), halves[n % 2][10 + n // 2 :: 5], f"t{n}"),
                      range(10)))  # fmt: skip
        for process in processes:
            process.join(60)
            assert process.exitcode == 0
    marks = MarkStore(grades, STUDENTS).marks()[KEY]
    assert sorted(marks) == sorted(STUDENTS)
    assert {mark.version for mark in marks.values()} == {1}
    assert len([e for e in history_events(grades) if e["event"] == "mark"]) == 40
    check_seal(grades)
