"""`kws mark`'s page driven as a TA drives it, in headless Chromium (tests/webdriver.py): a
group card whose members hold different marks says so and its keys mark only the unmarked (or
the members the TA chose); a member split out is a card of its own, kept across a reload; an
answer collected again while the page is open is a card of its own; keys reach the marking
after the menu, a checkbox and the adjust box; a mark is taken back, and undone; a typed comment is not
lost without a warning; a conflict names no student; search, filters and each grader's count.
The one-by-one test prints the answers marked a minute by keyboard (no timed assertion)."""

import threading
import time

import pytest
from course_helpers import ROOT
from marking_class import SHARED, regrade, student_name, write_class
from webdriver import CHROMEDRIVER, CHROMIUM, Browser

from kws.grading.marking.server import MarkServer
from kws.grading.marking.session import MarkingSession
from kws.grading.records.marks import MarkStore

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="chromium and chromedriver not installed (Debian: apt-get install chromium "
        "chromium-driver)",
    ),
    pytest.mark.slow,
]
KEY = "speaker_id/norm-classifier"
OTHER = "keyword_spotting/token-budget"
STUDENTS = 24
READY = "document.body.dataset.ready === '1'"
SAVED = "document.body.dataset.pending === undefined || document.body.dataset.pending === '0'"


@pytest.fixture
def course(tmp_path):
    return write_class(tmp_path / "course", STUDENTS)


@pytest.fixture
def server(course):
    session = MarkingSession(course / "grades", solutions=ROOT / "solutions", grader="kim")
    served = MarkServer(session)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


def open_page(browser: Browser, server: MarkServer, key: str = KEY, token: bool = True) -> None:
    browser.get((server.url if token else f"http://127.0.0.1:{server.port}/") + f"#{key}")
    browser.wait(READY)
    browser.click("#answer")  # the keyboard on the page


def stored(server, key: str = KEY) -> dict:
    return MarkStore(server.session.store.folder, []).marks().get(key, {})


def text(browser: Browser, element: str) -> str:
    return browser.run(f"return document.getElementById('{element}').textContent")


def go_to(browser: Browser, alias: str) -> None:
    """Press j (or k) until the card holding `alias` is shown."""
    wanted = browser.run(f"return state.cards.findIndex(c => c.includes('{alias}'))")
    assert wanted >= 0, f"no card holds {alias}"
    step = wanted - browser.run("return state.index")
    browser.keys(*(["j"] * step if step > 0 else ["k"] * -step))
    assert browser.run(f"return current().includes('{alias}')")


def test_a_group_whose_marks_differ_says_so_and_its_keys_mark_only_the_unmarked(server):
    session, names = server.session, server.session.names()
    alias = session.alias[student_name(0)]
    group = next(g for g in session.question(KEY)["groups"] if alias in g)
    lee = group[-1]  # another TA's deliberate mark of one member, with a comment
    session.save({"key": KEY, "aliases": [lee], "items": ["scale", "training"],
                  "comment": "Good, but say what BatchNorm does."}, by="lee")  # fmt: skip
    with Browser() as browser:
        open_page(browser, server)
        go_to(browser, alias)
        assert not browser.run("return document.getElementById('differ').hidden")
        assert text(browser, "differ-text") == (
            f"These {len(group)} answers hold 2 different marks: {len(group) - 1} not marked; "
            "1 at 2/3 (scale, training), a comment by lee. "
        )
        assert browser.run("return $('target').value") == "0"  # the keys mark the unmarked
        browser.keys("1", "3")
        browser.wait(SAVED)
        marks = stored(server)
        assert marks[names[lee]].items == ("scale", "training") and marks[names[lee]].by == "lee"
        assert marks[names[lee]].comment == "Good, but say what BatchNorm does."
        assert {marks[names[a]].items for a in group if a != lee} == {("scale", "normalizes")}
        # the TA chooses every member, knowing their marks differ: then one key is for all
        browser.click("#target option[value=all]")
        browser.keys("2")
        browser.wait(SAVED)
        marks = stored(server)
        assert {marks[names[a]].items for a in group} == {("scale", "training", "normalizes")}
        # the members listed: one whose words differ from the answer shown, read by a click
        browser.click("#members summary")
        differs = browser.run(
            "return [...document.querySelectorAll('#member-list li')]"
            ".filter(li => li.querySelector('.differs')).map(li => li.dataset.alias)"
        )
        assert differs  # the near copies (other case, spacing, one word)
        before = text(browser, "answer")
        browser.click(f"#member-list li[data-alias='{differs[0]}'] a")
        shown = session.answers[KEY][differs[0]].text.split()[0]
        assert text(browser, "answer") != before and shown in text(browser, "answer")
        # one member split out: a card of its own, still split after a reload
        cards = browser.run("return state.cards.length")
        browser.click(f"#member-list li[data-alias='{lee}'] button.split")
        assert browser.run("return state.cards.length") == cards + 1
        assert browser.run("return current()") == [lee]
        open_page(browser, server, token=False)
        assert browser.run(f"return state.cards.some(c => c.length === 1 && c[0] === '{lee}')")
        assert browser.run("return state.cards.length") == cards + 1


def test_an_answer_collected_again_while_the_page_is_open_is_its_own_card(course, server):
    session = server.session
    alias = session.alias[student_name(0)]
    group = next(g for g in session.question(KEY)["groups"] if alias in g)
    with Browser() as browser:
        open_page(browser, server)
        go_to(browser, alias)
        browser.keys("1", "2")
        browser.wait(SAVED)
        changed = SHARED["norm-classifier"].replace(
            "have no fixed scale", "have *not* a fixed scale"
        )
        regrade(course, 0, "norm-classifier", changed)  # the page is open all along
        browser.wait("document.getElementById('status').textContent.startsWith('the class was "
                     "graded again')", timeout=30)  # fmt: skip
        go_to(browser, alias)
        assert browser.run("return current()") == [alias]  # alone: its words are its own
        assert "have not a fixed scale" in text(browser, "answer")
        assert text(browser, "stale") == "the answer changed since it was marked: mark it again"
        others = [a for a in group if a != alias]
        go_to(browser, others[0])
        assert sorted(browser.run("return current()")) == sorted(others)
        browser.keys("3")  # the group's key: not for the changed answer
        browser.wait(SAVED)
    names = server.session.names()
    marks = stored(server)
    assert marks[names[alias]].items == ("scale", "training")  # as it was, and flagged stale
    assert {marks[names[a]].items for a in others} == {("scale", "training", "normalizes")}


def test_keys_reach_the_marking_after_the_menu_a_checkbox_and_the_adjust_box(server, capsys):
    names = server.session.names()
    with Browser() as browser:
        open_page(browser, server)
        browser.click(f"#question option[value='{OTHER}']")  # the menu, by mouse
        browser.wait(f"state.data.key === '{OTHER}'")
        first = browser.run("return current()")
        browser.keys("1")
        browser.wait(SAVED)
        assert {names[a] for a in first} == set(stored(server, OTHER))
        browser.click("#group")  # one answer a card, by mouse: the keys still mark
        browser.keys("j")
        assert browser.run("return state.index") == 1
        alias = browser.run("return current()[0]")
        browser.keys("a", "1", "\ue007")  # a: the adjust box; 1; Enter: back to the keys
        browser.wait(SAVED)
        browser.keys("1")
        browser.wait(SAVED)
        mark = stored(server, OTHER)[names[alias]]
        assert mark.adjust == 1.0 and len(mark.items) == 1  # not 11, and the item given
        browser.keys("u")  # unmark
        browser.wait(SAVED)
        assert names[alias] not in stored(server, OTHER)
        browser.keys("2", "2")  # given, and taken back: unmarked, not 0
        browser.wait(SAVED)
        assert names[alias] not in stored(server, OTHER)
        assert text(browser, "marked-by") == "not marked"
        browser.keys("1", "3", "z")  # undo: the mark as the last key found it
        browser.wait(SAVED)
        assert len(stored(server, OTHER)[names[alias]].items) == 1
        browser.keys("z")
        browser.wait(SAVED)
        assert names[alias] not in stored(server, OTHER)
        assert text(browser, "status").startswith("undone:")
        # one by one by keyboard, as fast as the page takes it
        browser.keys("n")
        left = browser.run("return state.cards.filter(isLeft).length")
        started = time.monotonic()
        for _ in range(left):
            browser.keys("1", "n")
        browser.wait(SAVED)
        seconds = time.monotonic() - started
        assert len(stored(server, OTHER)) == STUDENTS
    with capsys.disabled():
        print(f"\nkws mark, one by one by keyboard: {left} answers in {seconds:.1f} s: "
              f"{left / seconds * 60:.0f} answers a minute")  # fmt: skip


def test_settings_outlive_a_reload_and_a_typed_comment_is_not_lost_unwarned(server):
    with Browser() as browser:
        open_page(browser, server)
        browser.click("#group")
        browser.click("#show-names")
        browser.wait("state.names !== null")
        browser.click("#context summary")  # the student's cells around the answer
        browser.wait("document.querySelector('#context-cells .answer-cell') !== null")
        open_page(browser, server, token=False)
        assert browser.run("return [$('group').checked, $('show-names').checked, "
                           "$('context').open]") == [False, True, True]  # fmt: skip
        alias = browser.run("return current()[0]")
        browser.wait(f"$('context').dataset.alias === '{alias}'")
        browser.keys("j")
        alias = browser.run("return current()[0]")
        browser.wait(f"$('context').dataset.alias === '{alias}'")  # follows the card shown
        assert browser.run("return state.cards.length") == STUDENTS
        leaving = ("const e = new Event('beforeunload', {cancelable: true}); "
                   "window.dispatchEvent(e); return e.defaultPrevented")  # fmt: skip
        assert not browser.run(leaving)
        browser.keys("c", "Say which layer.")
        assert browser.run(leaving)  # the browser asks before the page goes
        browser.keys("Escape")  # saved
        browser.wait(SAVED)
        assert not browser.run(leaving)
        alias = browser.run("return current()[0]")
    assert stored(server)[server.session.names()[alias]].comment == "Say which layer."


def test_a_conflict_on_the_page_names_no_student(server):
    names = server.session.names()
    with Browser() as browser:
        open_page(browser, server)
        alias = browser.run("return aimOf(current()).aliases[0]")
        server.session.save({"key": KEY, "aliases": [alias], "items": ["training"]}, by="lee")
        browser.keys("1")
        browser.wait(SAVED)
        said = text(browser, "status")
        assert (
            said
            == f"{alias}: marked by someone else since you looked; the page shows their mark now"
        )
        page = browser.run("return document.body.innerText")
    assert not any(name in said or name in page for name in names.values())


def test_search_filters_and_each_graders_count(server):
    session = server.session
    names = session.names()
    lee = session.alias[student_name(2)]  # an answer of its own
    session.save({"key": KEY, "aliases": [lee], "items": ["scale"]}, by="lee")
    with Browser() as browser:
        open_page(browser, server)
        browser.click("#group")
        browser.click("#answer")
        browser.keys("/", "BatchNorm1d", "Escape")
        shown = browser.run("return state.cards.flat()")
        having = {a for a, answer in session.answers[KEY].items() if "batchnorm1d" in
                  answer.text.lower()}  # fmt: skip
        assert set(shown) == having and 0 < len(having) < STUDENTS
        browser.keys("1")
        browser.wait(SAVED)
        assert text(browser, "graders") == "marked by kim 1 · lee 1"
        browser.run("$('search').value = ''; $('search').dispatchEvent(new Event('input'))")
        browser.click("#filter option[value='grader:lee']")
        assert browser.run("return state.cards") == [[lee]]
        browser.click("#filter option[value='left']")
        assert len(browser.run("return state.cards")) == STUDENTS - 2
        browser.click("#filter option[value='item:scale']")
        assert len(browser.run("return state.cards")) == 2
    assert set(stored(server)) == {names[lee], names[shown[0]]}
