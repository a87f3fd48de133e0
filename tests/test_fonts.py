"""Figures with Chinese labels (kws.fonts): a notebook's confusion matrix with Chinese class
names and a title in Chinese, and the class report's chart of Chinese test names, are drawn with
an installed font whose character map has every character (matplotlib warns "Glyph ... missing
from font(s)" for each box it would draw instead); with no such font the figure is refused
naming the characters and the package to install. Skipped, saying why, where no CJK font is
installed (CI installs Debian's fonts-noto-cjk)."""

import warnings

import pytest
from matplotlib import font_manager
from matplotlib.text import Text

import kws.fonts
from kws.fonts import FontMissing, fallback_family, readable
from kws.grading.publish.report import figures as report_figures
from kws.grading.publish.report.analysis import TestRow
from kws.grading.publish.report.page import _picture
from kws.plots import plot_confusion_matrix

CLASSES = ["是", "否", "上", "下", "左", "右"]
TITLE = "關鍵詞辨識：注意力機制"

needs_cjk_font = pytest.mark.skipif(
    fallback_family(set("關鍵詞辨識注意力")) is None,
    reason="no installed font has Chinese characters (Debian: apt-get install fonts-noto-cjk)",
)


def _drawn_without_boxes(draw) -> list[str]:
    """The messages of the warnings matplotlib gives while `draw()` runs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught]


def _chinese_texts_have_their_glyphs(figure) -> None:
    checked = 0
    for text in figure.findobj(Text):
        chinese = {ord(c) for c in text.get_text() if "\u4e00" <= c <= "\u9fff"}
        if not chinese:
            continue
        # the families matplotlib takes each character from, in order: one has them all
        found = font_manager.fontManager._find_fonts_by_props(text.get_fontproperties())
        assert any(chinese <= kws.fonts._charmap(str(path)) for path in found), text.get_text()
        checked += 1
    assert checked


@needs_cjk_font
def test_a_confusion_matrix_with_chinese_class_names_draws_every_character(tmp_path):
    path = tmp_path / "confusion.png"
    figure = None

    def draw():
        nonlocal figure
        labels = [0, 1, 2, 3, 4, 5, 0, 1]
        figure = plot_confusion_matrix(labels, [0, 1, 2, 3, 5, 4, 0, 0], CLASSES, title=TITLE,
                                       path=path)  # fmt: skip

    said = _drawn_without_boxes(draw)
    assert not [m for m in said if "missing from font" in m], said
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _chinese_texts_have_their_glyphs(figure)
    # the Latin parts (the appended accuracy) keep matplotlib's own font first
    title = next(t for t in figure.findobj(Text) if t.get_text().startswith(TITLE))
    assert title.get_fontfamily()[0] == "sans-serif"


@needs_cjk_font
def test_the_class_reports_chart_of_chinese_test_names_draws_every_character(tmp_path):
    rows = [TestRow("測試 1：注意力的形狀", "keyword_spotting", 2.0, 0.5, 1.0),
            TestRow("測試 2：參數量", "keyword_spotting", 3.0, 0.9, 0.3)]  # fmt: skip
    figure = report_figures.tests_chart(rows)
    said = _drawn_without_boxes(lambda: _picture(figure, tmp_path / "tests.png", "tests"))
    assert not [m for m in said if "missing from font" in m], said
    _chinese_texts_have_their_glyphs(figure)


def test_without_a_chinese_font_the_figure_is_refused_naming_the_package(monkeypatch):
    """A machine whose fonts have no Chinese (only matplotlib's DejaVu): refused, not boxes."""
    dejavu = [e for e in font_manager.fontManager.ttflist if e.name.startswith("DejaVu")]
    monkeypatch.setattr(kws.fonts, "_candidates", lambda: dejavu)
    monkeypatch.setattr(kws.fonts, "_learn_system_fonts", lambda: None)
    with pytest.raises(FontMissing) as refused:
        plot_confusion_matrix([0, 1], [0, 1], ["是", "否"])
    said = str(refused.value)
    assert "'是' has characters no installed font draws (是)" in said
    assert "sudo apt-get install fonts-noto-cjk" in said
    # Polish needs no other font: DejaVu has its letters
    figure = plot_confusion_matrix([0, 1], [0, 1], ["żółw", "gęś"], title="Macierz pomyłek")
    assert all(t.get_fontfamily() == ["sans-serif"] for t in figure.findobj(Text))
    assert readable(figure) is figure
