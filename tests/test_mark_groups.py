"""`kws mark`'s groups never overwrite (kws.grading.marking.session, kws.grading.records.marks):
one mark asked for answers whose marks differ is refused unless the grader chose to replace
them, by alias; an answer collected again with another text is a card of its own until it is
marked again; a mark can be taken back; a conflict never names a student; a rubric edit that
passes the question's points is refused as it is made; a regrade while the page is open is read
again."""

import re

import pytest
from course_helpers import ROOT
from marking_class import SHARED, fixtures, regrade, student_name

from kws.grading.marking.session import MarkingSession
from kws.grading.records.kept_marks import history_events
from kws.grading.records.marks.rubric import MarkConflict, MarksError
from kws.grading.records.marks.store import MarkStore

KEY = "speaker_id/norm-classifier"
STUDENTS = 12


course, _ = fixtures(STUDENTS)


@pytest.fixture
def session(course):
    return MarkingSession(course / "grades", solutions=ROOT / "solutions", grader="kim")


def shared_group(session) -> list[str]:
    """The aliases of the group of the shared answer (students 0, 6, 9 and the near copies)."""
    alias = session.alias[student_name(0)]
    return next(g for g in session.question(KEY)["groups"] if alias in g)


def test_one_mark_for_a_group_whose_marks_differ_is_refused_by_alias(session):
    group = shared_group(session)
    one, rest = group[0], group[1:]
    session.save({"key": KEY, "aliases": [one], "items": ["scale", "training"],
                  "comment": "Deliberately more."}, by="lee")  # fmt: skip
    marks = session.marks(KEY)
    versions = {alias: marks[alias]["version"] if marks[alias] else None for alias in group}
    with pytest.raises(MarkConflict) as refused:
        session.save({"key": KEY, "aliases": group, "items": ["scale"], "versions": versions},
                     by="kim")  # fmt: skip
    message = str(refused.value)
    assert refused.value.reason == "differ" and set(refused.value.current) == set(group)
    assert message.startswith(f"{', '.join(group)} hold different marks")
    assert not re.search(r"student\d{3}", message)  # the page is anonymous: aliases only
    kept = session.marks(KEY)[one]
    assert kept["items"] == ("scale", "training") and kept["comment"] == "Deliberately more."
    assert all(session.marks(KEY)[alias] is None for alias in rest)  # nothing recorded
    # the members with the same mark (none) together: only they are marked
    session.save({"key": KEY, "aliases": rest, "items": ["scale"]}, by="kim")
    marks = session.marks(KEY)
    assert marks[one]["by"] == "lee" and {tuple(marks[a]["items"]) for a in rest} == {("scale",)}
    # replacing every member is what the grader chose: then it is done
    session.save({"key": KEY, "aliases": group, "items": ["normalizes"], "replace": True},
                 by="kim")  # fmt: skip
    assert {tuple(m["items"]) for a, m in session.marks(KEY).items() if a in group} == {
        ("normalizes",)
    }


def test_a_conflict_between_two_graders_names_no_student(session):
    alias = session.alias[student_name(2)]
    session.save({"key": KEY, "aliases": [alias], "items": ["scale"]}, by="lee")
    with pytest.raises(MarkConflict) as refused:
        session.save({"key": KEY, "aliases": [alias], "items": ["training"],
                      "versions": {alias: None}}, by="kim")  # fmt: skip
    assert str(refused.value) == (
        f"{alias}: marked by someone else since you looked; the page shows their mark now"
    )
    assert set(refused.value.current) == {alias}


def test_an_answer_collected_again_is_its_own_card_until_marked_again(course, session):
    group = shared_group(session)
    session.save({"key": KEY, "aliases": group, "items": ["scale", "training"]}, by="kim")
    changed = session.alias[student_name(0)]
    text = SHARED["norm-classifier"].replace("have no fixed scale", "have *not* a fixed scale")
    regrade(course, 0, "norm-classifier", text)
    again = MarkingSession(course / "grades", solutions=ROOT / "solutions", grader="kim")
    question = again.question(KEY)
    assert [changed] in question["groups"]  # alone, though its text is nearly the group's
    assert any(set(g) == set(group) - {changed} for g in question["groups"])
    mark = again.marks(KEY)[changed]
    assert mark["stale"] and again.answers[KEY][changed].text == text
    with pytest.raises(MarkConflict):  # the group's mark is not for its new words
        again.save({"key": KEY, "aliases": group, "items": ["scale"]}, by="kim")
    again.save({"key": KEY, "aliases": [changed], "items": ["scale"]}, by="kim")
    assert not again.marks(KEY)[changed]["stale"]
    assert any(changed in g and len(g) > 1 for g in again.question(KEY)["groups"])  # back


def test_a_regrade_while_the_page_is_open_is_read_again(course, session):
    alias = session.alias[student_name(2)]
    assert not session.reread() and session.generation == 0
    regrade(course, 2, "norm-classifier", "Written again after the deadline.")
    assert session.reread() and session.generation == 1
    assert session.answers[KEY][alias].text == "Written again after the deadline."
    assert session.question(KEY)["generation"] == 1 and not session.reread()


def test_a_mark_taken_back_is_unmarked_and_the_history_keeps_it(session):
    alias = session.alias[student_name(2)]
    session.save({"key": KEY, "aliases": [alias], "items": ["scale"]}, by="kim")
    left = {q["key"]: q["left"] for q in session.questions()}[KEY]
    assert session.unmark({"key": KEY, "aliases": [alias], "versions": {alias: 1}},
                          by="kim") == {alias: None}  # fmt: skip
    assert session.marks(KEY)[alias] is None
    assert {q["key"]: q["left"] for q in session.questions()}[KEY] == left + 1
    history = history_events(session.store.folder)
    assert history[-1]["event"] == "unmark" and history[-1]["was"]["items"] == ["scale"]
    with pytest.raises(MarkConflict):  # taken back by someone who had seen another version
        session.unmark({"key": KEY, "aliases": [alias], "versions": {alias: 3}}, by="kim")


def test_a_rubric_edit_that_passes_the_points_is_refused_and_a_shortfall_said(session):
    with pytest.raises(MarksError, match=r"would add up to 3\.5, more than the question's 3; "):
        session.change_rubric({"key": KEY, "item": "scale", "points": 1.5}, by="kim")
    with pytest.raises(MarksError, match="would add up to 4"):
        session.change_rubric({"key": KEY, "add": {"points": 1, "text": "Extra."}}, by="kim")
    assert MarkStore(session.store.folder, []).rubrics()[KEY].items[0].points == 1.0
    changed = session.change_rubric({"key": KEY, "item": "scale", "points": 0.5}, by="kim")
    assert changed["note"] == (
        f"{KEY}: the items that give points add up to 2.5 of 3: a best answer reaches 2.5; "
        "raise an item or add one"
    )
    assert session.question(KEY)["note"] == changed["note"]
    fine = session.change_rubric({"key": KEY, "add": {"points": 0.5, "text": "More."}}, by="kim")
    assert (
        fine["note"] == ""
        and session.change_rubric(
            {"key": KEY, "add": {"points": -1, "text": "Wrong layer."}}, by="kim"
        )["note"]
        == ""
    )
