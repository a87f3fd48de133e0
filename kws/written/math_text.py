"""Maths drawn as plain text, where no MathML can go: a question's title in `kws mark`'s menu
(an ``<option>`` holds text only). ``$x_i=i^2$ for $1\\leq i \\leq n$`` reads
``xᵢ=i² for 1≤i≤n``: latex2mathml reads the TeX (as for the page, `kws.written.render`), its
symbols are kept, sub- and superscripts become Unicode's where each character has one (else
``_(…)`` and ``^(…)``), a fraction ``a/b`` and a root ``√(…)``. TeX it cannot read stays as
typed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

import latex2mathml.converter

from kws.written.render import _MATH, _MATHML

SUPERSCRIPT = dict(zip("0123456789+-−=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱ", strict=True))
SUBSCRIPT = dict(zip("0123456789+-−=()aeoxijklmnpst", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₒₓᵢⱼₖₗₘₙₚₛₜ", strict=True))


def title_text(title: str) -> str:
    """`title` with each ``$...$`` (and ``$$...$$``) drawn as text (`math_text`)."""
    return re.sub(_MATH, lambda m: math_text(m.group("display") or m.group("inline")), title)


def math_text(tex: str) -> str:
    """The TeX `tex` as plain Unicode text (see the module); `tex` itself when it cannot be
    read."""
    try:
        return _text(etree.fromstring(latex2mathml.converter.convert(tex)))
    except Exception:  # TeX the converter does not know, or odd input it trips on
        return tex


def _text(element: etree.Element) -> str:
    tag = element.tag.removeprefix(_MATHML)
    parts = [_text(child) for child in element]
    if tag in ("msup", "msub", "msubsup") and len(parts) >= 2:
        base, scripts = parts[0], parts[1:]
        marks = ("^",) if tag == "msup" else ("_",) if tag == "msub" else ("_", "^")
        return base + "".join(_script(s, m) for s, m in zip(scripts, marks, strict=False))
    if tag == "mfrac" and len(parts) == 2:
        return "/".join(p if len(p) == 1 else f"({p})" for p in parts)
    if tag == "msqrt":
        joined = "".join(parts)
        return f"√{joined}" if len(joined) == 1 else f"√({joined})"
    return (element.text or "").strip() + "".join(parts)


def _script(text: str, mark: str) -> str:
    """`text` as a superscript (`mark` ``^``) or subscript (``_``) in Unicode's characters, or
    ``^(text)`` where one has none."""
    table = SUPERSCRIPT if mark == "^" else SUBSCRIPT
    if text and all(c in table for c in text):
        return "".join(table[c] for c in text)
    return f"{mark}{text}" if len(text) == 1 else f"{mark}({text})"
