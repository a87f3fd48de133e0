"""Figures whose text is in Chinese (or any script matplotlib's own font lacks) drawn with a font
that has its characters, instead of empty boxes.

    figure = plot_confusion(matrix, ["是", "否", "上", "下"])   # kws.plots calls readable()
    readable(figure)   # each text's missing characters drawn by an installed font that has them

matplotlib draws with DejaVu Sans, which has Latin (Polish included), Greek and Cyrillic letters
but no Chinese, Japanese or Korean ones: a label in Chinese comes out as boxes, with only a
warning ("Glyph ... missing from font(s) DejaVu Sans"). `readable` finds a font on the machine
that has the missing characters, through matplotlib's font manager (Noto Sans CJK first, with its
Traditional Chinese face, then the other CJK fonts Linux, macOS and Windows ship, then any font
that has them), and adds it to that text's families as a fallback: matplotlib takes each
character from the first family that has it. When no installed font has them it raises
`FontMissing` naming the characters and the package to install.
"""

from __future__ import annotations

import functools
import re

from matplotlib import font_manager, ft2font
from matplotlib.figure import Figure
from matplotlib.text import Text

# Families that draw Chinese, in the order they are preferred (Traditional Chinese faces first).
_PREFERRED = (
    "Noto Sans CJK TC", "Noto Sans CJK HK", "Noto Sans TC", "Source Han Sans TC",
    "Source Han Sans TW", "Microsoft JhengHei", "PingFang TC", "Heiti TC", "Noto Sans CJK SC",
    "Noto Sans CJK JP", "Noto Sans CJK KR", "Source Han Sans SC", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "AR PL UMing TW", "Droid Sans Fallback", "Microsoft YaHei",
    "PingFang SC", "Hiragino Sans",
)  # fmt: skip
_CJK_FILE = re.compile(r"cjk|wqy|wenquanyi|sourcehan|uming|ukai|droidsansfallback", re.I)
INSTALL = (
    "install a font that has them: on Debian or Ubuntu `sudo apt-get install fonts-noto-cjk` "
    "(Chinese, Japanese and Korean; Fedora: google-noto-sans-cjk-fonts), or put an OpenType "
    "font with them (Noto Sans CJK TC, from https://github.com/notofonts/noto-cjk) in "
    "~/.local/share/fonts; macOS and Windows have one already (PingFang, Microsoft JhengHei)"
)


class FontMissing(RuntimeError):
    """No installed font has characters a figure's text needs; the message says what to install."""


@functools.cache
def _charmap(path: str) -> frozenset[int]:
    """The code points the font file at `path` has glyphs for."""
    return frozenset(ft2font.FT2Font(path).get_charmap())


def _candidates() -> list[font_manager.FontEntry]:
    """The fonts matplotlib knows, preferred families first, each family once."""
    entries = {entry.name: entry for entry in font_manager.fontManager.ttflist}
    preferred = [entries[name] for name in _PREFERRED if name in entries]
    return preferred + [e for n, e in sorted(entries.items()) if n not in _PREFERRED]


def _learn_system_fonts() -> None:
    """Add to matplotlib's font list the CJK fonts installed after it cached its list (it does
    not look again by itself: `apt-get install fonts-noto-cjk` after a first figure)."""
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known and _CJK_FILE.search(path):
            font_manager.fontManager.addfont(path)


def fallback_family(characters: set[str]) -> str | None:
    """The family of an installed font that has every one of `characters` (the preferred
    families first, `_PREFERRED`), or None."""
    wanted = {ord(c) for c in characters}
    for attempt in range(2):
        for entry in _candidates():
            try:
                if wanted <= _charmap(entry.fname):
                    return entry.name
            except (OSError, RuntimeError):
                continue  # a font file matplotlib listed but cannot open now
        if attempt == 0:
            _learn_system_fonts()
    return None


def _missing(text: Text) -> set[str]:
    """The characters of `text` its own font has no glyph for (spaces aside)."""
    path = font_manager.findfont(text.get_fontproperties())
    have = _charmap(path)
    return {c for c in text.get_text() if not c.isspace() and ord(c) not in have}


def readable(figure: Figure) -> Figure:
    """`figure` with each of its texts whose font lacks some of its characters given a
    fallback family that has them (the module docstring). FontMissing when no installed font
    has them, naming them and what to install. Returns `figure`."""
    for text in figure.findobj(Text):
        missing = _missing(text)
        if not missing:
            continue
        family = fallback_family(missing)
        if family is None:
            shown = "".join(sorted(missing))
            raise FontMissing(
                f"the figure's text {text.get_text()!r} has characters no installed font "
                f"draws ({shown}); {INSTALL}"
            )
        text.set_fontfamily([*text.get_fontfamily(), family])
    return figure
