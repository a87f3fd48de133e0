"""`kws mark`'s page in a real browser (headless Chromium through chromedriver, driven by
selenium: tests/browser.py): a grader marks by keyboard, changes a rubric item's points, reloads
and finds every mark; two graders in two browsers mark the same question at once and lose nothing;
a request without the token is refused; an answer holding a script, an onerror image and a
javascript: link runs nothing. The keyboard test prints the answers marked per minute (the page's
own speed: keys sent as fast as the page takes them)."""

import time

import pytest
from browser import MISSING, Chrome, chromium, click, keys, type_into, wait
from marking_class import blank, by_people, fixtures, student_name

from kws.grading.marking.server import MarkServer
from kws.grading.records.kept_marks import history_events
from kws.grading.records.marks.blanks import BLANK_BY
from kws.grading.records.marks.store import MarkStore

pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=str(MISSING)),
    pytest.mark.slow,
]
KEY = "speaker_id/norm-classifier"
STUDENTS = 24
READY = "document.body.dataset.ready === '1'"
SAVED = "document.body.dataset.pending === undefined || document.body.dataset.pending === '0'"


course, server = fixtures(STUDENTS)


def open_page(browser: Chrome, server: MarkServer, url: str | None = None) -> None:
    browser.get((url or server.url) + f"#{KEY}")
    wait(browser, READY)


def stored(server) -> dict:
    """{student: mark} of the question, as the grades folder holds them."""
    return MarkStore(server.session.store.folder, []).marks().get(KEY, {})


def test_a_grader_marks_by_keyboard_changes_an_item_reloads_and_finds_every_mark(server, capsys):
    with chromium() as browser:
        open_page(browser, server)
        cards = browser.execute_script("return state.cards")
        assert sum(len(card) for card in cards) == STUDENTS and len(cards) < STUDENTS  # grouped
        started = time.monotonic()
        for number in range(len(cards)):
            keys(browser, "1", *(["2"] if number % 3 == 0 else []), "j")
        wait(browser, SAVED)
        seconds = time.monotonic() - started
        assert browser.execute_script("return document.getElementById('left').textContent") == (
            f"0 of {STUDENTS} left"
        )
        names = server.session.names()
        expected = {names[alias]: ("scale", "training") if n % 3 == 0 else ("scale",)
                    for n, card in enumerate(cards) for alias in card}  # fmt: skip
        assert {s: m.items for s, m in stored(server).items()} == expected
        # the rubric: "scale" worth 1.5 would pass the question's 3 points: said as it is typed
        browser.execute_script(
            "document.querySelector('#items li[data-item=scale] button').click()"
        )
        type_into(browser, "#items li input.edit-points", "1.5")
        assert (
            browser.execute_script("return document.querySelector('#items li .sum').textContent")
            == "the items would give 3.5 of 3: lower this one or another first"
        )
        assert browser.execute_script(
            "return document.querySelector('#items li button.save-item').disabled"
        )
        # worth 0.5 from now on, for every answer that has it; the page says what that leaves
        type_into(browser, "#items li input.edit-points", "0.5")
        click(browser, "#items li button.save-item")
        wait(browser, "document.getElementById('status').textContent.startsWith('rubric changed')")
        assert "a best answer reaches 2.5" in browser.execute_script(
            "return document.getElementById('note').textContent"
        )
        browser.get("about:blank")  # the page gone: what the page shows next comes from the files
        open_page(browser, server, f"http://127.0.0.1:{server.port}/")  # the cookie: no token
        shown = browser.execute_script(
            "return state.data.answers.map(a => [a.alias, a.mark.items, a.mark.score])"
        )
        assert {names[alias]: tuple(items) for alias, items, _ in shown} == expected
        assert {alias: score for alias, _, score in shown} == {
            alias: 1.5 if len(expected[names[alias]]) == 2 else 0.5 for alias, _, _ in shown
        }
        assert browser.execute_script(
            "return [...document.querySelectorAll('#items li.given')].map(li => li.dataset.item)"
        ) == list(expected[names[cards[0][0]]])
    with capsys.disabled():
        print(f"\nkws mark, keyboard: {len(cards)} marks for {STUDENTS} answers in {seconds:.1f} s:"
              f" {STUDENTS / seconds * 60:.0f} answers a minute ({len(cards) / seconds * 60:.0f}"
              " marks a minute)")  # fmt: skip


@pytest.mark.full  # a second browser test of the marking page
def test_two_graders_in_two_browsers_lose_no_mark(server):
    with chromium() as ann, chromium() as bob:
        for browser, name in ((ann, "ann-grader"), (bob, "bob-grader")):
            open_page(browser, server)
            type_into(browser, "#grader", name)
            click(browser, "#group")  # one answer a card
            click(browser, "#answer")  # the page has the keyboard again
        half = STUDENTS // 2
        keys(bob, *["j"] * half)
        for _ in range(half):  # both at once, key by key
            keys(ann, "1", "j")
            keys(bob, "2", "j")
        wait(ann, SAVED)
        wait(bob, SAVED)
        keys(bob, *["k"] * half)  # back to the last answer ann marked
        alias = bob.execute_script("return current()[0]")
        for _ in range(3):  # ann's mark comes first: a conflict, then bob's page shows it
            keys(bob, "2")
            wait(bob, SAVED)
            items = bob.execute_script("return state.answers.get(current()[0]).mark.items")
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
    assert {e["by"] for e in history if e["event"] == "mark"} == {
        "ann-grader",
        "bob-grader",
        BLANK_BY,  # the blank answers' 0, given as the page started, then replaced
    }


def test_a_request_without_the_token_is_refused(server):
    with chromium() as browser:
        browser.get(f"http://127.0.0.1:{server.port}/")
        text = browser.execute_script("return document.body.innerText")
        assert text.startswith("403: open the address kws mark printed")
        browser.get(f"http://127.0.0.1:{server.port}/?token=guessed")
        assert browser.execute_script("return document.body.innerText").startswith(
            "403: this is not the token"
        )
        open_page(browser, server)
        status = browser.execute_script(
            "return fetch('/api/mark', {method: 'POST', headers: {'Content-Type': "
            "'application/json'}, body: JSON.stringify({key: state.data.key, aliases: ['#1'], "
            "items: []})}).then(r => r.status)"
        )
        assert status == 403  # the cookie alone is not enough: a change needs the token
    assert by_people(stored(server)) == {}


@pytest.mark.full  # a second browser test of the marking page
def test_an_answer_with_a_script_an_onerror_and_a_javascript_link_runs_nothing(server):
    with chromium() as browser:
        open_page(browser, server)
        click(browser, "#show-names")
        click(browser, "#answer")
        wait(browser, "state.names !== null")
        for _ in range(STUDENTS):
            if student_name(5) in browser.execute_script(
                "return document.getElementById('who').textContent"
            ):
                break
            keys(browser, "j")
        shown = browser.execute_script("return document.getElementById('answer').innerText")
        assert "<script>window.marked = 1;" in shown and '<img src="x" onerror=' in shown
        found = browser.execute_script(
            "return document.querySelectorAll('#answer script, #answer img, #answer iframe, "
            "#answer [onerror], #answer a[href]').length"
        )
        assert found == 0
        assert browser.execute_script(
            "return document.querySelector('#answer math msubsup') !== null"
        )
        click(browser, "#answer a")  # the javascript: link, without its target
        time.sleep(1)  # what a script would have done by now
        assert browser.execute_script(
            "return window.marked === undefined && location.pathname === '/'"
        )
        assert browser.execute_script("return document.getElementById('left').textContent") == (
            f"{STUDENTS - blank(STUDENTS)} of {STUDENTS} left"
        )
    assert by_people(stored(server)) == {}  # the script's fetch never marked anything
