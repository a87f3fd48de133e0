"""`kws mark`'s page in a real browser (headless Chromium through chromedriver): a grader marks
by keyboard, changes a rubric item's points, reloads and finds every mark; two graders in two
browsers mark the same question at once and lose nothing; a request without the token is
refused; an answer holding a script, an onerror image and a javascript: link runs nothing.
The keyboard test prints the answers marked per minute (the page's own speed: keys sent as fast
as the page takes them)."""

import threading
import time

import pytest
from course_helpers import ROOT
from marking_class import student_name, write_class
from webdriver import CHROMEDRIVER, CHROMIUM, Browser

from kws.grading.marking.server import MarkServer
from kws.grading.marking.session import MarkingSession
from kws.grading.records.kept_marks import history_events
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
STUDENTS = 24
READY = "document.body.dataset.ready === '1'"
SAVED = "document.body.dataset.pending === undefined || document.body.dataset.pending === '0'"


@pytest.fixture
def server(tmp_path):
    root = write_class(tmp_path / "course", STUDENTS)
    session = MarkingSession(root / "grades", solutions=ROOT / "solutions", grader="kim")
    served = MarkServer(session)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


def open_page(browser: Browser, server: MarkServer, url: str | None = None) -> None:
    browser.get((url or server.url) + f"#{KEY}")
    browser.wait(READY)


def stored(server) -> dict:
    """{student: mark} of the question, as the grades folder holds them."""
    return MarkStore(server.session.store.folder, []).marks().get(KEY, {})


def test_a_grader_marks_by_keyboard_changes_an_item_reloads_and_finds_every_mark(server, capsys):
    with Browser() as browser:
        open_page(browser, server)
        cards = browser.run("return state.cards")
        assert sum(len(card) for card in cards) == STUDENTS and len(cards) < STUDENTS  # grouped
        started = time.monotonic()
        for number in range(len(cards)):
            browser.keys("1", *(["2"] if number % 3 == 0 else []), "j")
        browser.wait(SAVED)
        seconds = time.monotonic() - started
        assert browser.run("return document.getElementById('left').textContent") == (
            f"0 of {STUDENTS} left"
        )
        names = server.session.names()
        expected = {names[alias]: ("scale", "training") if n % 3 == 0 else ("scale",)
                    for n, card in enumerate(cards) for alias in card}  # fmt: skip
        assert {s: m.items for s, m in stored(server).items()} == expected
        # the rubric: "scale" worth 1.5 would pass the question's 3 points: said as it is typed
        browser.run("document.querySelector('#items li[data-item=scale] button').click()")
        browser.type("#items li input.edit-points", "1.5")
        assert browser.run("return document.querySelector('#items li .sum').textContent") == (
            "the items would give 3.5 of 3: lower this one or another first"
        )
        assert browser.run("return document.querySelector('#items li button.save-item').disabled")
        # worth 0.5 from now on, for every answer that has it; the page says what that leaves
        browser.type("#items li input.edit-points", "0.5")
        browser.click("#items li button.save-item")
        browser.wait("document.getElementById('status').textContent.startsWith('rubric changed')")
        assert "a best answer reaches 2.5" in browser.run(
            "return document.getElementById('note').textContent"
        )
        browser.get("about:blank")  # the page gone: what the page shows next comes from the files
        open_page(browser, server, f"http://127.0.0.1:{server.port}/")  # the cookie: no token
        shown = browser.run(
            "return state.data.answers.map(a => [a.alias, a.mark.items, a.mark.score])"
        )
        assert {names[alias]: tuple(items) for alias, items, _ in shown} == expected
        assert {alias: score for alias, _, score in shown} == {
            alias: 1.5 if len(expected[names[alias]]) == 2 else 0.5 for alias, _, _ in shown
        }
        assert browser.run("return [...document.querySelectorAll('#items li.given')]"
                           ".map(li => li.dataset.item)") == list(expected[names[cards[0][0]]])  # fmt: skip
    with capsys.disabled():
        print(f"\nkws mark, keyboard: {len(cards)} marks for {STUDENTS} answers in {seconds:.1f} s:"
              f" {STUDENTS / seconds * 60:.0f} answers a minute ({len(cards) / seconds * 60:.0f}"
              " marks a minute)")  # fmt: skip


def test_two_graders_in_two_browsers_lose_no_mark(server):
    with Browser() as ann, Browser() as bob:
        for browser, name in ((ann, "ann-grader"), (bob, "bob-grader")):
            open_page(browser, server)
            browser.type("#grader", name)
            browser.click("#group")  # one answer a card
            browser.click("#answer")  # the page has the keyboard again
        half = STUDENTS // 2
        bob.keys(*["j"] * half)
        for _ in range(half):  # both at once, key by key
            ann.keys("1", "j")
            bob.keys("2", "j")
        ann.wait(SAVED)
        bob.wait(SAVED)
        bob.keys(*["k"] * half)  # back to the last answer ann marked
        alias = bob.run("return current()[0]")
        for _ in range(3):  # ann's mark comes first: a conflict, then bob's page shows it
            bob.keys("2")
            bob.wait(SAVED)
            items = bob.run("return state.answers.get(current()[0]).mark.items")
            if "training" in items:
                break
    marks = stored(server)
    names = server.session.names()
    assert len(marks) == STUDENTS  # none lost
    assert {marks[names[f"#{n}"]].by for n in range(1, half)} == {"ann-grader"}
    assert {marks[names[f"#{n}"]].by for n in range(half + 1, STUDENTS + 1)} == {"bob-grader"}
    both = marks[names[alias]]
    assert both.items == ("scale", "training") and both.by == "bob-grader" and both.version == 2
    history = history_events(server.session.store.folder)
    assert {e["by"] for e in history if e["event"] == "mark"} == {"ann-grader", "bob-grader"}


def test_a_request_without_the_token_is_refused(server):
    with Browser() as browser:
        browser.get(f"http://127.0.0.1:{server.port}/")
        text = browser.run("return document.body.innerText")
        assert text.startswith("403: open the address kws mark printed")
        browser.get(f"http://127.0.0.1:{server.port}/?token=guessed")
        assert browser.run("return document.body.innerText").startswith(
            "403: this is not the token"
        )
        open_page(browser, server)
        status = browser.run(
            "return fetch('/api/mark', {method: 'POST', headers: {'Content-Type': "
            "'application/json'}, body: JSON.stringify({key: state.data.key, aliases: ['#1'], "
            "items: []})}).then(r => r.status)"
        )
        assert status == 403  # the cookie alone is not enough: a change needs the token
    assert stored(server) == {}


def test_an_answer_with_a_script_an_onerror_and_a_javascript_link_runs_nothing(server):
    with Browser() as browser:
        open_page(browser, server)
        browser.click("#show-names")
        browser.click("#answer")
        browser.wait("state.names !== null")
        for _ in range(STUDENTS):
            if student_name(5) in browser.run("return document.getElementById('who').textContent"):
                break
            browser.keys("j")
        shown = browser.run("return document.getElementById('answer').innerText")
        assert "<script>window.marked = 1;" in shown and '<img src="x" onerror=' in shown
        found = browser.run("return document.querySelectorAll('#answer script, #answer img, "
                            "#answer iframe, #answer [onerror], #answer a[href]').length")  # fmt: skip
        assert found == 0
        assert browser.run("return document.querySelector('#answer math msubsup') !== null")
        browser.click("#answer a")  # the javascript: link, without its target
        time.sleep(1)  # what a script would have done by now
        assert browser.run("return window.marked === undefined && location.pathname === '/'")
        assert browser.run("return document.getElementById('left').textContent") == (
            f"{STUDENTS} of {STUDENTS} left"
        )
    assert stored(server) == {}  # the script's fetch never marked anything
