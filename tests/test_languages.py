"""A course in its own language (`kws.i18n`): ``language = "zh-TW"`` in the course file or an
assignment's spec, refused with the kit's list when it has no catalog for it; and what a student
reads — the feedback page, `kws handin`, the self-check's framing lines, the cells `kws assign`
writes — in Traditional Chinese and in Polish, with none of the English sentences the catalogs
hold. (The catalogs themselves: tests/test_catalogs.py.)"""

import html
import itertools
import json
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import nbformat
import pytest
import torch
from babel.messages.pofile import read_po
from course_helpers import ROOT

from kws import i18n
from kws.grading.publish.feedback.html import feedback_page, page_language
from kws.grading.publish.feedback.pages import Accuracy, Feedback, TestLine, WrittenLine
from kws.grading.publish.feedback.rerun import Rerun
from kws.grading.records.standings import Adjustment, Late, Standing
from kws.grading.season.course import CourseError, read_course
from kws.spec import ASSIGNMENTS, SpecError
from kws.spec.load import load

# A sentence of each language the page and `kws handin` must say (a catalog's translation).
SAID = {
    "zh-TW": ["你的分數", "隱藏測試集上的準確率", "在筆記本中要重新執行的部分", "最終分數"],
    "pl": ["Twój wynik", "Dokładność na ukrytym zbiorze testowym", "Wynik końcowy"],
}
HANDIN_SAID = {
    "zh-TW": ["以評分程式讀取的方式檢查", "沒有剩下的 TODO", "已寫出 handin.zip"],
    "pl": ["sprawdzony tak, jak czyta go program oceniający", "nie zostało żadne TODO",
           "komórek z kodem nie zostało uruchomionych", "Zapisano handin.zip"],
}  # fmt: skip


def _english_fragments() -> list[str]:
    """The English of every catalog message, cut at its placeholders and markup: each piece of
    two words or more (what a page in another language must not show)."""
    with i18n.TEMPLATE.open("rb") as source:
        template = read_po(source)
    pieces = set()
    for message in template:
        for text in [message.id] if isinstance(message.id, str) else message.id:
            for piece in re.split(r"%\(\w+\)s|\{\w*\}|<[^>]+>|\n", text):
                piece = piece.strip(" .,:;()“”`*-")
                if re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", piece):
                    pieces.add(piece)
    return sorted(pieces)


ENGLISH = _english_fragments()


def _english_in(text: str) -> list[str]:
    return [piece for piece in ENGLISH if piece in text]


# ---- where the language is set ----------------------------------------------------------------


def test_the_course_file_sets_the_language_and_refuses_one_without_a_catalog(tmp_path):
    course = tmp_path / "course.toml"
    course.write_text('timezone = "Asia/Taipei"\nlanguage = "zh_tw"\n', encoding="utf-8")
    assert read_course(course, sorted(ASSIGNMENTS)).language == "zh-TW"  # the kit's spelling
    course.write_text('timezone = "Europe/Warsaw"\nlanguage = "de"\n', encoding="utf-8")
    before = course.read_bytes()
    with pytest.raises(CourseError) as error:
        read_course(course, sorted(ASSIGNMENTS))
    said = str(error.value)
    assert said.startswith(f"{course}, line 2: language = 'de'")
    assert "'en', 'pl', 'zh-TW'" in said and "docs/how-to/language.md" in said
    assert course.read_bytes() == before


def test_without_a_language_a_course_speaks_english(tmp_path):
    course = tmp_path / "course.toml"
    course.write_text('timezone = "UTC"\n', encoding="utf-8")
    assert read_course(course, []).language is None
    assert page_language("keyword_spotting", read_course(course, [])) is None
    course.write_text('timezone = "UTC"\nlanguage = "pl"\n', encoding="utf-8")
    assert page_language("keyword_spotting", read_course(course, [])) == "pl"


def test_a_spec_sets_its_assignments_language_and_names_its_line_when_unknown(tmp_path):
    text = (ROOT / "kws/assignments/keyword_spotting/spec.toml").read_text(encoding="utf-8")
    spec = tmp_path / "spec.toml"
    spec.write_text(f'language = "pl"\n{text}', encoding="utf-8")
    assert load(spec).language == "pl"
    assert ASSIGNMENTS["keyword_spotting"].language is None  # the kit's own: English
    spec.write_text(f'language = "tlh"\n{text}', encoding="utf-8")
    with pytest.raises(SpecError, match=rf"^{re.escape(str(spec))}, line 1: language = 'tlh'"):
        load(spec)


def test_the_environment_variable_speaks_only_a_language_the_kit_has(monkeypatch):
    monkeypatch.setenv(i18n.ENV, "pl")
    assert i18n.active() == "pl" and i18n.gettext("Tests") == "Testy"
    monkeypatch.setenv(i18n.ENV, "xx")
    assert i18n.active() == "en" and i18n.gettext("Tests") == "Tests"
    with pytest.raises(ValueError, match="'en', 'pl', 'zh-TW'"):
        i18n.use("xx")


# ---- what a student reads ---------------------------------------------------------------------


def _page() -> Feedback:
    """A page with every part: a late hand-in, an adjustment, a failed test with a cell to run
    again, a passed one, the accuracy against the tiers, written answers, tests withheld."""
    late = Late("2026-10-03T04:59:00+00:00", "2026-10-02T23:59:00+00:00", 5.0, 1, 3.0, "10 %",
                "gradescope")  # fmt: skip
    bonus = Adjustment(2.5, "+", "Ng", "2026-10-05T10:00:00+00:00")
    rerun = Rerun("1.", "check.twelve_class_data(DATA_DIR)")
    tests = [TestLine("test_accuracy", 0.0, 3.0, "", rerun), TestLine("test_model", 2.0, 2.0, "")]
    written = [WrittenLine("Q1", 1.0, 2.0, (("+1", 1.0),), -0.5, "", True),
               WrittenLine("Q2", 0.0, 2.0, (), 0.0, "", False)]  # fmt: skip
    accuracy = [
        Accuracy(
            "task1", 0.91, {"simple": 0.7, "medium": 0.8, "strong": 0.9, "boss": 0.95}, "strong"
        )
    ]
    standing = Standing("graded", 6.0, 10.0, 5.5, late, (bonus,), written=1.0)
    return Feedback("ann", "keyword_spotting", "keyword_spotting", tests, 2, True, accuracy,
                    standing, "2026-10-02T23:59:00+00:00", [rerun], extended=True,
                    written=written)  # fmt: skip


def _text(document: str) -> str:
    """What a reader sees of a page: its text, tags and styles left out."""
    body = re.sub(r"<style>.*?</style>", " ", document, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_in_english_the_page_says_the_sentences_the_catalogs_hold():
    """The check below can fail: an English page shows many of the catalog's sentences."""
    page = _text(feedback_page(_page(), "en"))
    assert len(_english_in(page)) >= 15 and "Your score" in page


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_a_feedback_page_in_the_courses_language_shows_no_english_sentence(tag):
    document = feedback_page(_page(), tag)
    page = _text(document)
    assert f'<html lang="{tag}">' in document
    assert [sentence for sentence in SAID[tag] if sentence not in page] == []
    assert _english_in(page) == []
    assert i18n.active() == "en"  # the page's language was the page's alone
    shown = feedback_page(replace(_page(), student="<script>x</script>"), tag)
    assert "<script>" not in shown and "&lt;script&gt;x" in shown  # a translation escapes too


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_kws_handin_speaks_the_language_and_no_english_sentence_of_the_catalogs(tmp_path, tag):
    """The released notebook 02, never run, TODOs left, no outputs, no data folder: every line
    `kws handin` prints is the catalog's (the data folder's own problem aside: its reader's)."""
    shutil.copy(ROOT / "assignments" / "02_speaker_id.ipynb", tmp_path)
    env = dict(os.environ, **{i18n.ENV: tag}, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "kws.cli", "handin", "02_speaker_id.ipynb",
                           "--data", "nowhere"], cwd=tmp_path, env=env, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert [sentence for sentence in HANDIN_SAID[tag] if sentence not in done.stdout] == []
    shown = done.stdout.replace("Question: why a normalization right before the classifier", "")
    shown = re.sub(r"nowhere has no \S+", "", shown)  # the test set's reader, in English
    shown = re.sub(r"(first|pierwsze): .*? \(|：project x .*?（", "", shown)  # the TODO hint
    assert _english_in(shown) == []


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_the_self_checks_framing_lines_speak_the_language(tag, capsys):
    from kws.check.selfcheck import Checker, call

    with i18n.speaking(tag):
        checker = Checker("attention")
        with checker.run():
            checker.expect(True, "shape", "")
            call(checker, "forward runs", lambda: (_ for _ in ()).throw(NotImplementedError("x")))
        with pytest.raises(NotImplementedError):
            checker.finish(strict=False)
    printed = capsys.readouterr().out
    wanted = {"zh-TW": ["尚未完成：x", "attention：2 項檢查中通過 1 項"],
              "pl": ["jeszcze nienapisane: x", "attention: zaliczone sprawdzenia: 1 z 2"]}[tag]  # fmt: skip
    assert [line for line in wanted if line not in printed] == []
    assert checker.items[1].fix == "not written yet: x"  # the field the grader reads


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_the_cells_kws_assign_writes_are_in_the_assignments_language(tag, monkeypatch):
    """The Set-up, Check your code and Ready to hand in? cells of a notebook without them, in
    the language; the Set-up cell passes it to the kernel (the self-check, `kws handin`)."""
    from kws.release.notebooks import with_kit_cells

    monkeypatch.setenv(i18n.ENV, tag)
    spec = ASSIGNMENTS["speaker_id"]
    model = nbformat.v4.new_code_cell("class SpeakerTransformer: ...")
    model.metadata["tags"] = ["model"]
    nb = with_kit_cells(nbformat.v4.new_notebook(cells=[model]), spec)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    heads = {"zh-TW": ["## 環境設定", "### 檢查你的程式", "## 準備好繳交了嗎？"],
             "pl": ["## Przygotowanie", "### Sprawdź swój kod", "## Gotowe do oddania?"]}[tag]  # fmt: skip
    assert [head for head in heads if head not in text] == []
    assert _english_in(text.replace("Run All", "")) == []
    setup = next(c.source for c in nb.cells if "KIT_SOURCE = " in c.source)
    assert f'os.environ.setdefault("KWS_LANGUAGE", "{tag}")' in setup
    monkeypatch.delenv(i18n.ENV)
    english = with_kit_cells(nbformat.v4.new_notebook(cells=[model]), spec)
    assert "KWS_LANGUAGE" not in "".join(c.source for c in english.cells)


def test_the_hand_out_readme_is_in_the_language():
    from kws.release.bundle import student_readme

    with i18n.speaking("pl"):
        # the notebook's title as `kws release` reads it (its metadata), the course's words
        readme = student_readme([("02_speaker_id.ipynb", "Speaker identification")],
                                "kws-0.1.0.tar.gz",
                                [ASSIGNMENTS["speaker_id"]])  # fmt: skip
    assert "## Na własnym komputerze" in readme and "## Oddanie" in readme
    assert "kws handin 02_speaker_id.ipynb" in readme  # the commands as they are typed
    assert _english_in(readme) == [], _english_in(readme)


def test_kws_demo_speaks_the_language_and_refuses_one_without_a_catalog(tmp_path, monkeypatch):
    """`kws demo --language zh-TW`: its closing score table in Chinese (the notebooks' model
    names as they wrote them), each notebook's grader asked for the language; a tag the kit has
    no catalog for is refused before anything is made."""
    from kws.cli import main
    from kws.demo import grading
    from kws.demo.run import result_table, run_demo

    submission = tmp_path / "submission"
    (submission / "outputs").mkdir(parents=True)
    summary = submission / "outputs" / "keyword_spotting_summary.json"
    summary.write_text('{"KeywordTransformer": 0.91}')
    results = tmp_path / "results.json"
    results.write_text('{"score": 7.5, "tests": [{"max_score": 8}, {"max_score": 2}]}')
    with i18n.speaking("zh-TW"):
        table = result_table(submission, results)
    assert table.splitlines()[:2] == [
        "  KeywordTransformer  0.9100",
        "  評分程式給的分數    7.5 / 10",
    ]  # lined up on a screen
    assert "以上準確率是在示範訓練所用的合成資料上測得的" in table
    assert _english_in(table) == [] and "grader score" in result_table(submission, results)
    commands = []
    monkeypatch.setattr(grading.subprocess, "run",
                        lambda command, **_: commands.append(command) or
                        subprocess.CompletedProcess(command, 0, "", ""))  # fmt: skip
    grading.grade_notebook(submission, tmp_path, tmp_path, "01_keyword_spotting.ipynb", "zh-TW")
    assert commands[0][commands[0].index("--language") + 1] == "zh-TW"  # results.json's
    with pytest.raises(SystemExit):
        main(["demo", "--language", "de", "--out", str(tmp_path / "demo")])
    with pytest.raises(ValueError, match="'en', 'pl', 'zh-TW'"):
        run_demo(tmp_path / "demo", preset="tiny", language="de")
    assert not (tmp_path / "demo").exists()


# ---- the self-check's items -------------------------------------------------------------------

KEYWORDS = "yes no up down left right on off stop go".split()


def _labels(words, fraction, seed, *, first=False):
    """Notebook 01's twelve_class_labels: the keywords, round(fraction x keyword clips) other
    clips as _unknown_, drawn at random (or, `first`, the first ones: a bug the check names)."""
    others = [i for i, word in enumerate(words) if word not in KEYWORDS]
    count = round(fraction * (len(words) - len(others)))
    kept = set(others[:count] if first else random.Random(seed).sample(others, count))
    return [w if w in KEYWORDS else "_unknown_" if i in kept else None for i, w in enumerate(words)]


def _self_checks(tag: str | None, capsys) -> tuple[str, list]:
    """What the self-checks print in `tag` (None: English), and their results: the kit's own
    attention (every item passes), one that ignores the padding mask (a failed item and its fix),
    and notebook 01's Task 1 labels, right and drawn from the first clips (items with values)."""
    from kws import check
    from kws.models.attention import MultiHeadSelfAttention

    class MaskIgnored(MultiHeadSelfAttention):
        def forward(self, x, key_padding_mask=None):
            return super().forward(x)

    capsys.readouterr()
    with i18n.speaking(tag):
        results = [check.attention(MultiHeadSelfAttention), check.attention(MaskIgnored),
                   check.twelve_class_data(_labels),
                   check.twelve_class_data(lambda *a: _labels(*a, first=True))]  # fmt: skip
    return capsys.readouterr().out, results


def test_in_english_the_self_check_says_the_sentences_the_catalogs_hold(capsys):
    """The check below can fail: in English the items' lines are the catalog's sentences."""
    printed, results = _self_checks(None, capsys)
    assert len(_english_in(printed)) >= 15
    assert "✓ every parameter gets a gradient" in printed
    assert [bool(result) for result in results] == [True, False, True, False]


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_the_self_checks_items_speak_the_language_and_keep_english_fields(tag, capsys):
    """Every line a self-check prints — each item's check and fix — is the catalog's, while the
    items' fields, which the grader reads, stay the English ones; the grader shows a failed
    item in the course's language from the form the grading child sends (`portable`), and
    nothing but the kit's own messages is formatted from it."""
    english, english_results = _self_checks(None, capsys)
    printed, results = _self_checks(tag, capsys)
    said = {"zh-TW": ["✓ 每個參數都有梯度", "12 類訓練集：", "不同的詞（隨機抽取大約包含"],
            "pl": ["✓ każdy parametr dostaje gradient", "zbiór treningowy 12 klas:",
                   "zawierają 2 różne słowa (losowanie daje około"]}[tag]  # fmt: skip
    assert [sentence for sentence in said if sentence not in printed] == []
    assert _english_in(printed) == []
    fields = [[(item.what, item.fix) for item in result.items] for result in results]
    assert fields == [[(item.what, item.fix) for item in r.items] for r in english_results]
    failed = results[3].failures[0]  # the unknown clips drawn from the first clips
    assert failed.what.startswith("the ") and "different words" in failed.what
    sent = json.loads(json.dumps(i18n.portable(failed.what)))  # through the child's payload
    with i18n.speaking(tag):
        assert i18n.from_portable(sent, failed.what) in str(failed) and sent != failed.what
    forged = {"message": "{x.__class__}", "values": {"x": "a"}}
    assert i18n.from_portable(forged, "the English field") == "the English field"


def _windows_from(places: int):
    """Notebook 01's silence_windows cutting its windows at only `places` offsets of the first
    recording: the check counts `places` different windows among its 20 and fails."""

    def windows(noises, count, seed, length=16000):
        return torch.stack([noises[0][(i % places) * 100 :][:length] for i in range(count)])

    return windows


def test_a_count_in_a_self_check_item_takes_the_languages_plural_form(capsys):
    """Polish "2 różne okna" but "5 różnych okien": the item's count picks the form, while the
    item's field stays the English the grader reads, in every language."""
    from kws import check

    said = {}
    for tag, places in itertools.product(["en", "pl", "zh-TW"], [2, 5]):
        capsys.readouterr()
        with i18n.speaking(tag):
            result = check.twelve_class_data(windows_function=_windows_from(places))
        said[tag, places] = capsys.readouterr().out
        failed = next(i for i in result.failures if "different windows" in i.what)
        assert failed.what == f"{places} different windows among 20"
    assert "✗ 2 different windows among 20" in said["en", 2]
    assert "✗ 2 różne okna spośród 20" in said["pl", 2]
    assert "✗ 5 różnych okien spośród 20" in said["pl", 5]
    assert "✗ 20 個窗中有 5 個不同的窗" in said["zh-TW", 5]
    one = i18n.Text.counted("{n} different window among {count}",
                            "{n} different windows among {count}", 1, count=20)  # fmt: skip
    assert one == "1 different window among 20"  # English's own singular
    with i18n.speaking("pl"):
        assert i18n.shown(one) == "1 różne okno spośród 20"


def test_a_counted_text_crosses_processes_with_its_forms_and_only_the_kits_plurals_pass():
    """The grading child sends a counted item's text as JSON (`portable`) or pickled; the grader
    shows it in the course's language with the form its number picks, and formats no plural
    message the kit does not have."""
    windows = i18n.Text.counted("{n} different window among {count}",
                                "{n} different windows among {count}", 22, count=40)  # fmt: skip
    sent = json.loads(json.dumps(i18n.portable(windows)))
    assert sent["plural"] == "{n} different windows among {count}" and sent["n"] == 22
    with i18n.speaking("pl"):
        assert i18n.from_portable(sent, windows) == "22 różne okna spośród 40"
        assert i18n.shown(pickle.loads(pickle.dumps(windows))) == "22 różne okna spośród 40"
        assert i18n.shown(i18n.Text.from_portable(sent)) == "22 różne okna spośród 40"
    forged = [
        dict(sent, plural="{n.__class__} windows"),  # the singular is the kit's, the plural not
        dict(sent, message="{n.__class__}"),
        dict(sent, n="22"),  # the number that picks the form is a number
        dict(sent, n=True),
    ]
    with i18n.speaking("pl"):
        assert [i18n.from_portable(data, windows) for data in forged] == [windows] * 4
    parameters = i18n.Text.counted("{n} parameter", "{n} parameters", 1234, n="1,234")
    assert parameters == "1,234 parameters"  # the number written for reading, its form chosen
    with i18n.speaking("pl"):
        assert i18n.shown(parameters) == "1,234 parametry"


class _NoNormBeforeClassifier(torch.nn.Module):
    """A speaker model whose classifier reads a mean, no normalization (a notebook's mistake)."""

    def __init__(self, n_spks=600):
        super().__init__()
        self.prenet = torch.nn.Linear(40, 16)
        self.pred_layer = torch.nn.Linear(16, n_spks)

    def forward(self, mels, lengths):
        return self.pred_layer(self.prenet(mels).mean(dim=1))  # (B, n_spks)


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_what_the_tracer_finds_is_shown_in_the_language(tag, capsys):
    """notebook 02's Task 2 self-check on a model without a ConformerBlock of the notebook's and
    no normalization before its classifier: the tracer's findings, quoted in the items' fixes,
    are the catalog's sentences; the fields stay the English the grader reads."""
    from kws import check
    from kws.tracing import trace

    trace.capture_originals()
    capsys.readouterr()
    with i18n.speaking(tag):
        result = check.task2(_NoNormBeforeClassifier(), ns={"__name__": "__main__"})
    printed = capsys.readouterr().out
    fixes = [item.fix for item in result.failures]
    assert any("not from a normalization; put a BatchNorm1d" in fix for fix in fixes), fixes
    assert any("does not define a class `ConformerBlock`" in fix for fix in fixes), fixes
    said = {"zh-TW": ["而不是正規化層", "沒有定義類別 `ConformerBlock`"],
            "pl": ["a nie z normalizacji", "nie definiuje w komórkach modelu klasy"]}[tag]  # fmt: skip
    assert [sentence for sentence in said if sentence not in printed] == []
    assert _english_in(printed) == []
