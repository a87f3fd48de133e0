"""The TA's whole desk on `kws mark`'s page, in headless Chromium (tests/browser.py): from a card,
`s` opens that student's whole notebook at the answer, walked question by question (`n`/`p`) and
hand-in by hand-in (`j`/`k`), with each question's mark (another TA's too), what the grader
measured and the autograded tests, every cell and test output inert and the student anonymous
until names are shown; `s` goes back to that answer's card, where the keys mark it. A comment
saved by one TA (`L`) is found by search (`l`) by two, and edited once for every mark that holds
it, or for the library only; the library is in the history, sealed, and rebuilt when lost."""

import json

import pytest
from browser import MISSING, Chrome, Keys, chromium, click, keys, type_into, wait
from marking_class import by_people, serving, student_name, write_class

from kws.grading.marking.cli import _graders
from kws.grading.records.kept_marks import check_marks_kept, history_events, restore_marks
from kws.grading.records.marks.comments import COMMENTS_FILE
from kws.grading.records.marks.rubric import MarksError
from kws.grading.records.marks.store import MarkStore
from kws.grading.records.seal import digests, read_seal, seal

pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=str(MISSING)),
    pytest.mark.slow,
    # more browser tests of the marking page (test_mark_browser.py's first is the default run's)
    pytest.mark.full,
]
KEY = "speaker_id/norm-classifier"
PATCHOUT = "patch_transformer/patchout-test-time"
STUDENTS = 12
READY = "document.body.dataset.ready === '1'"
SAVED = "document.body.dataset.pending === undefined || document.body.dataset.pending === '0'"
# what a failing test printed for student 5: the hand-in's path (their name) and markup
PRINTED = "AssertionError: accuracy 0.55 < 0.9 in /srv/submissions/{name}/model.pt <img src=x onerror=\"window.marked = 4\">"  # fmt: skip


@pytest.fixture(name="server")
def server(tmp_path):
    root = write_class(tmp_path / "course", STUDENTS)
    results = root / "grades" / "results" / f"{student_name(5)}.json"
    document = json.loads(results.read_text())
    document["tests"][2]["output"] = PRINTED.format(name=student_name(5))  # speaker_id accuracy
    results.write_text(json.dumps(document))
    seal(root / "grades", "kws grade")  # as `kws grade` leaves it
    with serving(root / "grades") as served:
        yield served


def open_on(browser: Chrome, server, alias: str, key: str = KEY) -> None:
    """The page on question `key`, one answer a card, at `alias`'s answer."""
    browser.get(server.url + f"#{key}")
    wait(browser, READY)
    click(browser, "#group")  # one answer a card
    click(browser, "#answer")  # the keyboard on the page
    step = browser.execute_script(f"return state.cards.findIndex(c => c.includes('{alias}'))")
    keys(browser, *["j"] * step)
    assert browser.execute_script("return current()") == [alias]


def shown(browser: Chrome, css: str) -> str:
    return browser.execute_script(f"return document.querySelector('{css}').innerText")


def test_a_students_whole_notebook_walked_by_keys_inert_anonymous_and_back(server):
    alias = server.session.alias[student_name(5)]
    number = int(alias[1:])  # j: the next hand-in in the page's order; k: the one before
    step, after = ("j", f"#{number + 1}") if number < STUDENTS else ("k", f"#{number - 1}")
    with chromium() as ann, chromium() as bob:
        open_on(bob, server, alias)
        keys(bob, "2")  # another TA marks this answer: ann's notebook shows it
        wait(bob, SAVED)
        open_on(ann, server, alias)
        keys(ann, "s")
        wait(ann, f"document.body.dataset.notebook === '{alias}'")
        assert shown(ann, "#notebook-who") == alias
        page = ann.execute_script("return document.body.innerText")
        assert student_name(5) not in page  # the test's output says the alias, not the name
        assert shown(ann, "#notebook-position") == "question 3 of 3"  # the card's question
        current = ann.execute_script(
            "return document.querySelector('#notebook-questions li.current').innerText"
        )
        assert current.startswith("speaker_id:") and "1/3 by kim" in current
        # the whole notebook: every cell, the answer's own marked, shown as typed, run never
        cells = ann.execute_script(
            "return document.querySelectorAll('#notebook-cells > div').length"
        )
        assert cells > 20
        assert "<script>window.marked = 1;" in shown(ann, "#notebook-cells .answer-cell.current")
        assert (
            ann.execute_script(
                "return document.querySelectorAll('#notebook-view script, #notebook-view img, "
                "#notebook-view [onerror], #notebook-view a[href^=javascript]').length"
            )
            == 0
        )
        # the autograded tests of this notebook, the failing one's output unfolded
        rows = ann.execute_script(
            "return [...document.querySelectorAll('#notebook-tests tbody tr')]"
            ".map(r => [...r.cells].map(c => c.innerText.trim()))"
        )
        assert rows == [["speaker_id accuracy", "2.75 / 5", "failed"],
                        ["encoder budget", "2 / 2", "passed"]]  # fmt: skip
        click(ann, "#notebook-tests summary")
        output = shown(ann, "#notebook-tests pre.output")
        assert f"/srv/submissions/{alias}/model.pt <img src=x" in output
        assert "task1 encoder layers that ran" in shown(ann, "#notebook-measures")
        # p: the question before, in its own notebook; j: the same question, the next hand-in
        keys(ann, "p")
        assert shown(ann, "#notebook-position") == "question 2 of 3"
        answer = ann.execute_script(
            "return document.querySelector('#notebook-cells .answer-cell.current').dataset.question"
        )
        assert answer == PATCHOUT
        keys(ann, step)
        wait(ann, f"document.body.dataset.notebook === '{after}'")
        assert shown(ann, "#notebook-who") == after
        assert shown(ann, "#notebook-position") == "question 2 of 3"
        # s: back to that answer's card, where the keys mark it
        keys(ann, "s")
        wait(ann, f"state.data.key === '{PATCHOUT}' && document.body.dataset.ready === '1'")
        assert ann.execute_script("return current()") == [after]
        keys(ann, "1")
        wait(ann, SAVED)
        # names shown: the notebook says whose it is
        click(ann, "#show-names")
        wait(ann, "state.names !== null")
        click(ann, "#answer")
        keys(ann, "s")
        wait(ann, f"document.body.dataset.notebook === '{after}'")
        assert shown(ann, "#notebook-who") == f"{student_name_of(server, after)} ({after})"
        assert "by kim" in shown(ann, "#notebook-questions li.current")
        assert ann.execute_script("return window.marked === undefined")
    marks = MarkStore(server.session.store.folder, []).marks()
    first = server.session.store.rubrics()[PATCHOUT].items[0].id
    assert marks[PATCHOUT][student_name_of(server, after)].items == (first,)
    assert marks[KEY][student_name(5)].items == ("training",)  # bob's, on the card


def student_name_of(server, alias: str) -> str:
    return server.session.names()[alias]


SAID = "Say what BatchNorm1d rescales <b>per feature</b>."
BETTER = "Say what BatchNorm1d rescales, and over which axis <b>(B, D)</b>."


def test_a_comment_saved_by_one_ta_is_reused_by_search_by_two_and_edited_everywhere(server):
    with chromium() as ann, chromium() as bob:
        for browser, name in ((ann, "ann"), (bob, "bob")):
            browser.get(server.url + f"#{KEY}")
            wait(browser, READY)
            type_into(browser, "#grader", name)
            click(browser, "#group")  # one answer a card
            click(browser, "#answer")
        keys(bob, "n")  # bob one card on: not ann's
        # ann marks an answer, writes a comment, and saves it to the library (L)
        keys(ann, "1", "c", *SAID, Keys.ESCAPE, "L")
        wait(ann, "document.querySelectorAll('#library-list li').length === 1")
        assert shown(ann, "#library-list li .text") == SAID  # as typed: no <b> made
        assert ann.execute_script("return document.querySelector('#library-list b')") is None
        first = ann.execute_script("return current()[0]")
        # the next answer: found by a few letters (l), Enter adds it and the keys mark again
        keys(ann, "n", "1", "l", *"rescales", Keys.ENTER)
        wait(ann, SAVED)
        keys(ann, "2")  # the keys are back: an item
        wait(ann, SAVED)
        second = ann.execute_script("return current()[0]")
        # bob's page picks the saved comment up; he gives it to an answer not marked yet:
        # it waits for its points, then is saved with them
        bob.refresh()
        wait(bob, READY)
        click(bob, "#answer")
        keys(bob, "n", "n", "n")
        wait(bob, "document.querySelectorAll('#library-list li').length === 1")
        keys(bob, "l", *"batchnorm", Keys.ENTER)
        assert "not saved" in shown(bob, "#status")
        keys(bob, "1")
        wait(bob, SAVED)
        third = bob.execute_script("return current()[0]")
        names = server.session.names()
        marks = stored(server)
        assert {s for s, m in marks.items() if m.comment == SAID} == {
            names[first],
            names[second],
            names[third],
        }
        assert marks[names[second]].items == ("scale", "training")
        # ann edits it everywhere: the three marks say the new text, each still its grader's
        wait(
            ann,
            "document.querySelector('#library-list li .uses').textContent === 'used 3 times'",
            10,
        )
        click(ann, "#library-list li button")
        type_into(ann, "#library-list li textarea", BETTER)
        click(ann, "#library-list li button.save-comment")
        wait(ann, "document.getElementById('status').textContent.startsWith('comment changed')")
        assert shown(ann, "#status") == "comment changed, and in 3 marks"
        marks = stored(server)
        assert {
            names[a]: (marks[names[a]].comment, marks[names[a]].by) for a in (first, third)
        } == {
            names[first]: (BETTER, "ann"),
            names[third]: (BETTER, "bob"),
        }
        assert marks[names[second]].version == 4  # marked, commented, an item, the edit
        wait(bob, f"document.getElementById('comment').value === {BETTER!r}", 10)  # bob's card
        # edited again, in the library only: the marks keep what the students were given
        click(ann, "#library-list li button")
        type_into(ann, "#library-list li textarea", "Which axis?")
        click(ann, "#library-list li label input")  # unticked
        click(ann, "#library-list li button.save-comment")
        wait(ann, "document.getElementById('status').textContent.includes('library only')")
        assert shown(ann, "#library-list li .text") == "Which axis?"
        # bob saves another, and ann takes the first out of the library: the marks keep it
        keys(bob, "c", Keys.ESCAPE, "L")
        wait(ann, "document.querySelectorAll('#library-list li').length === 2", 10)
        click(ann, "#library-list li button")
        click(ann, "#library-list li button.remove-comment")
        wait(ann, "document.getElementById('status').textContent.startsWith('removed')")
        assert shown(ann, "#library-list li .text") == BETTER  # bob's: his card's comment
    assert {m.comment for m in stored(server).values() if m.comment} == {BETTER}
    # kept as marks are: in the history, sealed, and rebuilt from the history when lost
    folder = server.session.store.folder
    events = [e for e in history_events(folder) if e["event"] == "comment"]
    assert [
        (e["by"], e.get("comment", e["was"])["text"], len(e.get("marks", ""))) for e in events
    ] == [
        ("ann", SAID, 0),
        ("ann", BETTER, 3),
        ("ann", "Which axis?", 0),
        ("bob", BETTER, 0),
        ("ann", "Which axis?", 0),  # removed
    ]
    edited = [e for e in history_events(folder) if e.get("source", "").startswith("comment")]
    assert len(edited) == 3
    check_marks_kept(folder)  # the marks the edit changed agree with their history
    saved = (folder / COMMENTS_FILE).read_text()
    assert read_seal(folder)["files"][COMMENTS_FILE] == digests(folder)[COMMENTS_FILE]
    (folder / COMMENTS_FILE).unlink()
    with pytest.raises(MarksError, match="comments.json is gone, though .* saved comments"):
        check_marks_kept(folder)
    assert restore_marks(folder, []) == [COMMENTS_FILE]
    assert (folder / COMMENTS_FILE).read_text() == saved


def stored(server) -> dict:
    """{student: mark} of the question a person gave (not the kit's 0 for a blank answer)."""
    return by_people(MarkStore(server.session.store.folder, []).marks().get(KEY, {}))


OTHER = "keyword_spotting/token-budget"


def test_who_marks_what_from_a_file_and_the_page_each_grader_opens_on_their_share(server, tmp_path):
    session = server.session
    plan = tmp_path / "graders.csv"
    plan.write_text(f"grader,question,students\nann,norm-classifier,{student_name(0)}..{student_name(5)}\n"
                    f"bob,{KEY},{student_name(6)}..{student_name(11)}\n")  # fmt: skip
    bad = tmp_path / "bad.csv"
    bad.write_text("grader,question,students\nann,,student999\n")
    with pytest.raises(MarksError, match=r"bad.csv, line 2: no student 'student999'"):
        _graders(session, bad)
    _graders(session, plan)  # what `kws mark --graders graders.csv` does
    ann_share = {session.alias[student_name(n)] for n in range(6)}
    with chromium() as ann, chromium() as bob:
        for browser, name in ((ann, "ann"), (bob, "bob")):
            browser.get(server.url)
            wait(browser, READY)
            type_into(browser, "#grader", name + "\n")  # kept by the browser for the next start
            browser.get(f"http://127.0.0.1:{server.port}/")  # no question named
            wait(browser, READY)
        # ann's page opens on her question, showing her share, and counts what is left of it
        assert ann.execute_script("return state.data.key") == KEY
        assert ann.execute_script("return document.getElementById('filter').value") == "mine"
        cards = ann.execute_script("return state.cards")
        assert {alias for card in cards for alias in card} == ann_share
        left = 6 - sum(session.answers[KEY][a].answered is False for a in ann_share)
        assert shown(ann, "#mine-left") == f"your share: {left} of 6 left"
        click(ann, "#answer")
        for _ in cards:
            keys(ann, "1", "j")
        wait(ann, SAVED)
        assert shown(ann, "#mine-left") == "your share: 0 of 6 left"
        # bob shares out the other question on the page: the first half of the class to cat
        click(bob, "#shares summary")
        type_into(bob, "#share-grader", "cat")
        bob.execute_script(f"document.getElementById('share-question').value = {OTHER!r}")
        type_into(bob, "#share-students", "1/2")
        click(bob, "#share-add")
        wait(bob, "document.querySelectorAll('#share-list li').length === 3")
        rows = bob.execute_script(
            "return [...document.querySelectorAll('#share-list li')].map(li => li.innerText)"
        )
        assert rows[0].startswith("ann") and "0 of 6 left" in rows[0]  # ann's progress
        assert rows[2].startswith("cat") and "#1–#6" in rows[2]
        type_into(bob, "#grader", "cat\n")
        bob.get(f"http://127.0.0.1:{server.port}/")
        wait(bob, READY)
        assert bob.execute_script("return state.data.key") == OTHER
        cats = bob.execute_script("return state.cards.flat()")
        assert sorted(cats, key=lambda a: int(a[1:])) == [f"#{n}" for n in range(1, 7)]
    shares = MarkStore(session.store.folder, []).shares()
    assert [(s.grader, s.questions, len(s.students)) for s in shares] == [
        ("ann", (KEY,), 6),
        ("bob", (KEY,), 6),
        ("cat", (OTHER,), 6),
    ]
    events = [e for e in history_events(session.store.folder) if e["event"] == "graders"]
    assert [(e["source"], len(e["shares"])) for e in events] == [
        (str(plan), 2),
        ("kws mark", 3),
    ]
