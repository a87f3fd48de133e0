"""`kws mark`'s page driven as a TA drives it, in headless Chromium (tests/browser.py): a
group card whose members hold different marks says so and its keys mark only the unmarked (or
the members the TA chose); a member split out is a card of its own, kept across a reload; an
answer collected again while the page is open is a card of its own; keys reach the marking
after the menu, a checkbox and the adjust box; a mark is taken back, and undone; a typed comment is not
lost without a warning; a conflict names no student; search, filters and each grader's count.
The one-by-one test prints the answers marked a minute by keyboard (no timed assertion)."""

import time

import pytest
from browser import MISSING, Chrome, Keys, chromium, click, keys, wait
from marking_class import SHARED, blank, by_people, fixtures, regrade, student_name

from kws.grading.marking.server import MarkServer
from kws.grading.records.marks.store import MarkStore

pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=str(MISSING)),
    pytest.mark.slow,
    # more browser tests of the marking page (test_mark_browser.py's first is the default run's)
    pytest.mark.full,
]
KEY = "speaker_id/norm-classifier"
OTHER = "keyword_spotting/token-budget"
STUDENTS = 24
READY = "document.body.dataset.ready === '1'"
SAVED = "document.body.dataset.pending === undefined || document.body.dataset.pending === '0'"


course, server = fixtures(STUDENTS)


def open_page(browser: Chrome, server: MarkServer, key: str = KEY, token: bool = True) -> None:
    browser.get((server.url if token else f"http://127.0.0.1:{server.port}/") + f"#{key}")
    wait(browser, READY)
    click(browser, "#answer")  # the keyboard on the page


def stored(server, key: str = KEY) -> dict:
    """{student: mark} of question `key` a grader gave (not the kit's 0 for a blank answer)."""
    return by_people(MarkStore(server.session.store.folder, []).marks().get(key, {}))


def text(browser: Chrome, element: str) -> str:
    return browser.execute_script(f"return document.getElementById('{element}').textContent")


def go_to(browser: Chrome, alias: str) -> None:
    """Press j (or k) until the card holding `alias` is shown."""
    wanted = browser.execute_script(f"return state.cards.findIndex(c => c.includes('{alias}'))")
    assert wanted >= 0, f"no card holds {alias}"
    step = wanted - browser.execute_script("return state.index")
    keys(browser, *(["j"] * step if step > 0 else ["k"] * -step))
    assert browser.execute_script(f"return current().includes('{alias}')")


def test_a_group_whose_marks_differ_says_so_and_its_keys_mark_only_the_unmarked(server):
    session, names = server.session, server.session.names()
    alias = session.alias[student_name(0)]
    group = next(g for g in session.question(KEY)["groups"] if alias in g)
    lee = group[-1]  # another TA's deliberate mark of one member, with a comment
    session.save({"key": KEY, "aliases": [lee], "items": ["scale", "training"],
                  "comment": "Good, but say what BatchNorm does."}, by="lee")  # fmt: skip
    with chromium() as browser:
        open_page(browser, server)
        menu = "return [...document.querySelectorAll('#question option')].map(o => o.value)"
        assert browser.execute_script(menu) == [q["key"] for q in session.questions()]
        go_to(browser, alias)
        assert not browser.execute_script("return document.getElementById('differ').hidden")
        assert text(browser, "differ-text") == (
            f"These {len(group)} answers hold 2 different marks: {len(group) - 1} not marked; "
            "1 at 2/3 (scale, training), a comment by lee. "
        )
        # the keys mark the unmarked
        assert browser.execute_script("return $('target').value") == "0"
        keys(browser, "1", "3")
        wait(browser, SAVED)
        marks = stored(server)
        assert marks[names[lee]].items == ("scale", "training") and marks[names[lee]].by == "lee"
        assert marks[names[lee]].comment == "Good, but say what BatchNorm does."
        assert {marks[names[a]].items for a in group if a != lee} == {("scale", "normalizes")}
        # the TA chooses every member, knowing their marks differ: then one key is for all
        click(browser, "#target option[value=all]")
        keys(browser, "2")
        wait(browser, SAVED)
        marks = stored(server)
        assert {marks[names[a]].items for a in group} == {("scale", "training", "normalizes")}
        # the members listed: one whose words differ from the answer shown, read by a click
        click(browser, "#members summary")
        differs = browser.execute_script(
            "return [...document.querySelectorAll('#member-list li')]"
            ".filter(li => li.querySelector('.differs')).map(li => li.dataset.alias)"
        )
        assert differs  # the near copies (other case, spacing, one word)
        before = text(browser, "answer")
        click(browser, f"#member-list li[data-alias='{differs[0]}'] a")
        shown = session.answers[KEY][differs[0]].text.split()[0]
        assert text(browser, "answer") != before and shown in text(browser, "answer")
        # one member split out: a card of its own, still split after a reload
        cards = browser.execute_script("return state.cards.length")
        click(browser, f"#member-list li[data-alias='{lee}'] button.split")
        assert browser.execute_script("return state.cards.length") == cards + 1
        assert browser.execute_script("return current()") == [lee]
        open_page(browser, server, token=False)
        assert browser.execute_script(
            f"return state.cards.some(c => c.length === 1 && c[0] === '{lee}')"
        )
        assert browser.execute_script("return state.cards.length") == cards + 1
        # and put back from its group's card, where the TA looks for it after that reload
        other = next(a for a in group if a != lee)
        go_to(browser, other)
        if not browser.execute_script("return $('members').open"):  # the TA opens its list
            click(browser, "#members summary")
        click(browser, f"#member-list li[data-alias='{lee}'] button.join")
        assert browser.execute_script("return state.cards.length") == cards
        assert set(browser.execute_script("return current()")) == set(group)  # lee among them
        assert text(browser, "status") == f"{lee} is back in its group"
        open_page(browser, server, token=False)
        assert browser.execute_script("return state.cards.length") == cards


def test_an_answer_collected_again_while_the_page_is_open_is_its_own_card(course, server):
    session = server.session
    alias = session.alias[student_name(0)]
    group = next(g for g in session.question(KEY)["groups"] if alias in g)
    with chromium() as browser:
        open_page(browser, server)
        go_to(browser, alias)
        keys(browser, "1", "2")
        wait(browser, SAVED)
        changed = SHARED["norm-classifier"].replace(
            "have no fixed scale", "have *not* a fixed scale"
        )
        regrade(course, 0, "norm-classifier", changed)  # the page is open all along
        wait(browser, "document.getElementById('status').textContent.startsWith('the class was "
                      "graded again')", timeout=30)  # fmt: skip
        go_to(browser, alias)
        assert browser.execute_script("return current()") == [alias]  # alone: its words are its own
        assert "have not a fixed scale" in text(browser, "answer")
        assert text(browser, "stale") == "the answer changed since it was marked: mark it again"
        others = [a for a in group if a != alias]
        go_to(browser, others[0])
        assert sorted(browser.execute_script("return current()")) == sorted(others)
        keys(browser, "3")  # the group's key: not for the changed answer
        wait(browser, SAVED)
    names = server.session.names()
    marks = stored(server)
    assert marks[names[alias]].items == ("scale", "training")  # as it was, and flagged stale
    assert {marks[names[a]].items for a in others} == {("scale", "training", "normalizes")}


def test_keys_reach_the_marking_after_the_menu_a_checkbox_and_the_adjust_box(server, capsys):
    names = server.session.names()
    with chromium() as browser:
        open_page(browser, server)
        click(browser, f"#question option[value='{OTHER}']")  # the menu, by mouse
        wait(browser, f"state.data.key === '{OTHER}'")
        first = browser.execute_script("return current()")
        keys(browser, "1")
        wait(browser, SAVED)
        assert {names[a] for a in first} == set(stored(server, OTHER))
        click(browser, "#group")  # one answer a card, by mouse: the keys still mark
        keys(browser, "j")
        assert browser.execute_script("return state.index") == 1
        alias = browser.execute_script("return current()[0]")
        keys(browser, "a", "1", Keys.ENTER)  # a: the adjust box; 1; Enter: back to the keys
        wait(browser, SAVED)
        keys(browser, "1")
        wait(browser, SAVED)
        mark = stored(server, OTHER)[names[alias]]
        assert mark.adjust == 1.0 and len(mark.items) == 1  # not 11, and the item given
        keys(browser, "u")  # unmark
        wait(browser, SAVED)
        assert names[alias] not in stored(server, OTHER)
        keys(browser, "2", "2")  # given, and taken back: unmarked, not 0
        wait(browser, SAVED)
        assert names[alias] not in stored(server, OTHER)
        assert text(browser, "marked-by") == "not marked"
        keys(browser, "1", "3", "z")  # undo: the mark as the last key found it
        wait(browser, SAVED)
        assert len(stored(server, OTHER)[names[alias]].items) == 1
        keys(browser, "z")
        wait(browser, SAVED)
        assert names[alias] not in stored(server, OTHER)
        assert text(browser, "status").startswith("undone:")
        # one by one by keyboard, as fast as the page takes it
        keys(browser, "n")
        left = browser.execute_script("return state.cards.filter(isLeft).length")
        started = time.monotonic()
        for _ in range(left):
            keys(browser, "1", "n")
        wait(browser, SAVED)
        seconds = time.monotonic() - started
        assert len(stored(server, OTHER)) == STUDENTS - blank(STUDENTS)  # the blanks: 0 already
    with capsys.disabled():
        print(f"\nkws mark, one by one by keyboard: {left} answers in {seconds:.1f} s: "
              f"{left / seconds * 60:.0f} answers a minute")  # fmt: skip


def test_settings_outlive_a_reload_and_a_typed_comment_is_not_lost_unwarned(server):
    with chromium() as browser:
        open_page(browser, server)
        click(browser, "#group")
        click(browser, "#show-names")
        wait(browser, "state.names !== null")
        click(browser, "#context summary")  # the student's cells around the answer
        wait(browser, "document.querySelector('#context-cells .answer-cell') !== null")
        open_page(browser, server, token=False)
        assert browser.execute_script(
            "return [$('group').checked, $('show-names').checked, $('context').open]"
        ) == [False, True, True]
        alias = browser.execute_script("return current()[0]")
        wait(browser, f"$('context').dataset.alias === '{alias}'")
        keys(browser, "j")
        alias = browser.execute_script("return current()[0]")
        wait(browser, f"$('context').dataset.alias === '{alias}'")  # follows the card shown
        assert browser.execute_script("return state.cards.length") == STUDENTS
        leaving = ("const e = new Event('beforeunload', {cancelable: true}); "
                   "window.dispatchEvent(e); return e.defaultPrevented")  # fmt: skip
        assert not browser.execute_script(leaving)
        keys(browser, "c", "Say which layer.")
        assert browser.execute_script(leaving)  # the browser asks before the page goes
        keys(browser, Keys.ESCAPE)  # no points given: the comment waits on the page, unsaved
        assert browser.execute_script(leaving)
        keys(browser, "1")  # the points: saved with the comment
        wait(browser, SAVED)
        assert not browser.execute_script(leaving)
        alias = browser.execute_script("return current()[0]")
    assert stored(server)[server.session.names()[alias]].comment == "Say which layer."


def test_a_conflict_on_the_page_names_no_student(server):
    names = server.session.names()
    with chromium() as browser:
        open_page(browser, server)
        alias = browser.execute_script("return aimOf(current()).aliases[0]")
        server.session.save({"key": KEY, "aliases": [alias], "items": ["training"]}, by="lee")
        keys(browser, "1")
        wait(browser, SAVED)
        said = text(browser, "status")
        assert (
            said
            == f"{alias}: marked by someone else since you looked; the page shows their mark now"
        )
        page = browser.execute_script("return document.body.innerText")
    assert not any(name in said or name in page for name in names.values())


def test_search_filters_and_each_graders_count(server):
    session = server.session
    names = session.names()
    lee = session.alias[student_name(2)]  # an answer of its own
    session.save({"key": KEY, "aliases": [lee], "items": ["scale"]}, by="lee")
    with chromium() as browser:
        open_page(browser, server)
        click(browser, "#group")
        click(browser, "#answer")
        keys(browser, "/", "BatchNorm1d", Keys.ESCAPE)
        shown = browser.execute_script("return state.cards.flat()")
        having = {a for a, answer in session.answers[KEY].items() if "batchnorm1d" in
                  answer.text.lower()}  # fmt: skip
        assert set(shown) == having and 0 < len(having) < STUDENTS
        keys(browser, "1")
        wait(browser, SAVED)
        assert (
            text(browser, "graders")
            == f"marked by kim 1 · kws (no answer) {blank(STUDENTS)} · lee 1"
        )
        browser.execute_script(
            "$('search').value = ''; $('search').dispatchEvent(new Event('input'))"
        )
        click(browser, "#filter option[value='grader:lee']")
        assert browser.execute_script("return state.cards") == [[lee]]
        click(browser, "#filter option[value='left']")
        assert len(browser.execute_script("return state.cards")) == STUDENTS - 2 - blank(STUDENTS)
        click(browser, "#filter option[value='item:scale']")
        assert len(browser.execute_script("return state.cards")) == 2
    assert set(stored(server)) == {names[lee], names[shown[0]]}
