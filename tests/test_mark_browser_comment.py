"""A comment alone is not a mark, on `kws mark`'s page in headless Chromium (tests/browser.py):
a comment typed on a card no one marked waits on the page, unsaved, until the TA gives points
(an item, or 0 on purpose), and is then saved with them for every answer the keys mark; leaving
the card or the page with it asks first, and the TA may stay or leave it unsaved; an item taken
back unmarks the answer (never a 0) and keeps its comment on the page."""

import pytest
from browser import MISSING, Chrome, Keys, chromium, keys, wait
from marking_class import blank, by_people, fixtures

from kws.grading.marking.server import MarkServer
from kws.grading.records.marks.store import MarkStore

pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=str(MISSING)),
    pytest.mark.slow,
    # more browser tests of the marking page (test_mark_browser.py's first is the default run's)
    pytest.mark.full,
]
KEY = "speaker_id/norm-classifier"
STUDENTS = 24
READY = "document.body.dataset.ready === '1'"
SAVED = "document.body.dataset.pending === undefined || document.body.dataset.pending === '0'"
LEAVING = ("const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); "
           "return e.defaultPrevented")  # fmt: skip

course, server = fixtures(STUDENTS)


def open_group(browser: Chrome, server: MarkServer) -> list[str]:
    """The page on the question, at its first card of several answers alike; its aliases."""
    browser.get(server.url + f"#{KEY}")
    wait(browser, READY)
    browser.execute_script("document.getElementById('answer').click()")
    step = browser.execute_script("return state.cards.findIndex(c => c.length > 1)")
    assert step >= 0
    keys(browser, *["j"] * step)
    return browser.execute_script("return current()")


def stored(server) -> dict:
    """{student: mark} a grader gave (not the kit's 0 for a blank answer)."""
    return by_people(MarkStore(server.session.store.folder, []).marks().get(KEY, {}))


def value(browser: Chrome, element: str) -> str:
    return browser.execute_script(f"return $('{element}').value ?? $('{element}').textContent")


def test_a_comment_alone_waits_for_points_and_leaving_it_asks_first(server):
    names = server.session.names()
    with chromium() as browser:
        card = open_group(browser, server)
        index = browser.execute_script("return state.index")
        keys(browser, "c", "Half a thought", Keys.ESCAPE)  # typed, then the keys again
        wait(browser, SAVED)
        assert stored(server) == {}  # not a mark: nothing saved, nothing counted as 0
        assert "waits on this page, not saved" in value(browser, "status")
        assert browser.execute_script("return $('left').textContent") == (
            f"{STUDENTS - blank(STUDENTS)} of {STUDENTS} left"
        )
        assert browser.execute_script(LEAVING)  # the browser asks before the page goes
        shown = browser.execute_script("return refresh().then(() => $('comment').value)")
        assert shown == "Half a thought"  # another grader's marks read: the comment stays

        keys(browser, "j")  # leaving the card asks
        alert = browser.switch_to.alert
        assert "not saved: no points are given yet" in alert.text
        alert.dismiss()  # stay, to give the points
        assert browser.execute_script("return state.index") == index
        assert value(browser, "comment") == "Half a thought"
        keys(browser, "j")
        browser.switch_to.alert.accept()  # leave it unsaved, as asked
        assert browser.execute_script("return state.index") == index + 1
        assert not browser.execute_script(LEAVING) and stored(server) == {}

        keys(browser, "k")  # back: the comment left is gone, and nothing was saved
        assert value(browser, "comment") == ""
        keys(browser, "c", "Say which layer.", Keys.ESCAPE, "1")  # the points: saved with it
        wait(browser, SAVED)
        aimed = browser.execute_script("return aimOf(current()).aliases")
        marks = stored(server)
        assert set(marks) == {names[a] for a in aimed} and set(aimed) <= set(card)
        assert {(m.items, m.comment) for m in marks.values()} == {(("scale",), "Say which layer.")}
        assert not browser.execute_script(LEAVING)

        keys(browser, "1")  # the last item taken back: unmarked, not 0; the comment waits
        wait(browser, SAVED)
        assert stored(server) == {}
        assert value(browser, "comment") == "Say which layer."
        assert browser.execute_script(LEAVING)
        keys(browser, "0")  # 0 points on purpose: a mark, with the comment that waited
        wait(browser, SAVED)
        marks = stored(server)
        assert {(m.items, m.adjust, m.comment) for m in marks.values()} == {
            ((), 0.0, "Say which layer.")
        }
        assert set(marks) == {names[a] for a in aimed}
        assert browser.execute_script("return $('score').textContent") == "0 / 3"
        assert not browser.execute_script(LEAVING)
        keys(browser, "j")  # nothing waits: no question asked
        assert browser.execute_script("return state.index") == index + 1
