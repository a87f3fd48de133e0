"""The language a student reads the kit in: gettext catalogs, one per language, managed with
Babel (``kws/locale/<lang>/LC_MESSAGES/kws.po``, extracted into ``kws/locale/kws.pot`` by the
mapping ``babel.cfg``; docs/how-to/language.md has the commands).

A sentence a student reads is written once, in English, wrapped in `gettext` (or `ngettext`
where a number decides its form; `N_` marks a module-level text translated where it is used)::

    from kws.i18n import gettext as _, ngettext

    print(_("{name}: all {n} checks passed.").format(name=name, n=n))
    ngettext("{n} test is not shown here", "{n} tests are not shown here", n).format(n=n)

The templates say the same with Jinja2's i18n extension (``{% trans %}``, `kws.pages`).

Which language: the one `use` set in this process, else the environment variable
``KWS_LANGUAGE`` (what the grading child and a notebook's kernel read; the Set-up cell of a
released notebook sets it), else English. A course chooses it with ``language = "zh-TW"`` (a
BCP 47 tag) in its course file or an assignment's spec; `check_language` refuses a tag the kit
has no catalog for, listing those it has.

A notebook's Markdown cells have a catalog of their own, one per notebook and language
(``kws/locale/<lang>/LC_MESSAGES/notebook_<name>.po``, `notebook_domain`), which `kws release`
applies (`kws.release.notebooks.in_language`); a notebook without one stays English.

The ``.po`` files are the catalogs' only form in the repository: each is compiled with Babel's
API the first time a process uses its language (a few milliseconds), so nothing binary is
committed, nothing goes stale, and ``pip install -e .`` needs no build step. Import nothing of
the kit here: every layer, the self-check in a student's kernel among them, uses this module.
"""

from __future__ import annotations

import argparse
import gettext as _gettext
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "kws"
ENGLISH = "en"  # the language the code is written in: no catalog
ENV = "KWS_LANGUAGE"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"  # every message, in English: what extraction gives


def catalog_file(tag: str, domain: str = DOMAIN) -> Path:
    """The ``.po`` file of the language `tag` (a BCP 47 tag, ``zh-TW``): the kit's messages, or
    those of another `domain` (a notebook's, `notebook_domain`)."""
    return LOCALE_DIR / _folder(tag) / "LC_MESSAGES" / f"{domain}.po"


def notebook_domain(notebook: str) -> str:
    """The catalog domain of the notebook named `notebook` (``01_keyword_spotting.ipynb``):
    ``notebook_01_keyword_spotting``, its Markdown cells' texts, one message each; its template
    is ``kws/locale/<domain>.pot``."""
    return f"notebook_{Path(notebook).stem}"


_chosen: str | None = None  # `use`'s language, for this process


def _folder(tag: str) -> str:
    """A BCP 47 tag's catalog folder (``zh-TW`` -> ``zh_TW``), as gettext and Babel name them."""
    return tag.replace("-", "_")


def languages() -> tuple[str, ...]:
    """The languages the kit speaks, as BCP 47 tags: English, then each catalog's (``pl``,
    ``zh-TW``)."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (ENGLISH, *(name.replace("_", "-") for name in found))


def check_language(tag: object) -> str | None:
    """What is wrong with `tag` as a course's language, or None when the kit speaks it.

    Args:
        tag: the value of a ``language = ...`` key.

    Returns:
        None, or a sentence naming the value and the tags the kit has, for the file's error.
    """
    known = languages()
    if isinstance(tag, str) and canonical(tag) in known:
        return None
    return (f"language = {tag!r} is not a language the kit has a catalog for; give one of "
            f"{', '.join(repr(t) for t in known)} (a BCP 47 tag; docs/how-to/language.md "
            "says how to add one)")  # fmt: skip


def language_option(tag: str) -> str:
    """A command line's ``--language`` (argparse's ``type``): `tag` as the kit spells it;
    ArgumentTypeError with `check_language`'s sentence for a tag the kit has no catalog for."""
    try:
        return resolved(tag)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def canonical(tag: str) -> str:
    """`tag` written as the kit lists it: ``zh_tw`` and ``ZH-tw`` are ``zh-TW``; a tag the kit
    does not have as it was given."""
    wanted = tag.strip().replace("_", "-").lower()
    return next((known for known in languages() if known.lower() == wanted), tag)


def resolved(tag: str | None) -> str:
    """The language `tag` names, as the kit spells it (None: the one spoken now, `active`).

    Raises:
        ValueError: a tag the kit has no catalog for (`check_language`'s sentence).
    """
    if tag is None:
        return active()
    problem = check_language(tag)
    if problem:
        raise ValueError(problem)
    return canonical(tag)


def use(tag: str | None) -> None:
    """Speak `tag` in this process from now on (None: back to ``KWS_LANGUAGE`` or English).

    Raises:
        ValueError: a tag the kit has no catalog for (`check_language`'s sentence).
    """
    global _chosen
    _chosen = None if tag is None else resolved(tag)


def active() -> str:
    """The language spoken now: `use`'s, else ``KWS_LANGUAGE``'s (when the kit has it), else
    English."""
    if _chosen is not None:
        return _chosen
    from_env = os.environ.get(ENV, "").strip()
    return canonical(from_env) if from_env and check_language(from_env) is None else ENGLISH


@contextmanager
def speaking(tag: str | None) -> Iterator[str]:
    """Speak `tag` inside the block (None: the language spoken already), e.g. a course's
    feedback pages; the language before it afterwards. Yields the language spoken."""
    global _chosen
    before = _chosen
    if tag is not None:
        use(tag)
    try:
        yield active()
    finally:
        _chosen = before


@cache
def translations(tag: str, domain: str = DOMAIN) -> _gettext.NullTranslations:
    """The catalog of `tag` (of the kit's messages, or of `domain`'s), compiled from its ``.po``
    with Babel once a process; English has none (the messages are their own translation), nor
    has a notebook without a catalog in `tag` (its text stays English)."""
    path = catalog_file(tag, domain)
    if tag == ENGLISH or (domain != DOMAIN and not path.is_file()):
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as source:
        catalog = read_po(source, locale=_folder(tag), domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries left out, as `pybabel compile` does
    compiled.seek(0)
    return _gettext.GNUTranslations(compiled)


def gettext(message: str) -> str:
    """`message` in the active language (itself where the catalog has no translation)."""
    return translations(active()).gettext(message)


def ngettext(singular: str, plural: str, n: float) -> str:
    """The form of a message for the number `n` in the active language: the catalog's plural
    rule picks it (Polish has three forms, Chinese one). gettext's rules count whole numbers:
    a number with a fraction (2.5 points) takes the form of 5, the plural every language's
    catalog has."""
    whole = int(n) if float(n).is_integer() else 5
    return translations(active()).ngettext(singular, plural, whole)


def N_(message: str) -> str:  # noqa: N802 (gettext's name for it)
    """`message` itself: marks a text for extraction into the catalogs (a constant, a check's
    sentence); `gettext` or `shown` translates it where it is shown.

    Args:
        message: the English text, a string literal (what ``pybabel extract`` reads).

    Returns:
        `message`, unchanged.

    Example:
        ```python
        checker.expect(ok, N_("every parameter gets a gradient"), N_("call every layer"))
        ```
    """
    return message


class Text(str):
    """A message with its values, which is its English text: a field that code reads in English
    (a self-check item's ``what`` and ``fix``, matched by the grader) and a student reads in the
    active language (`shown`). A count that decides the words' form ("2 windows", Polish
    "2 okna" but "5 okien") makes the text with `counted`, which keeps both English forms.

    Args:
        message: the English message, marked for extraction: ``N_("{n} heads of {size}")``.
        **values: its placeholders' values; a number stays a number (for a format spec such
            as ``{gap:.2g}``), a `Text` stays a `Text` (translated with the message), anything
            else becomes its ``str`` (a shape, a code name), shown as it is in every language.

    Example:
        ```python
        fix = Text(N_("return (B, {d}) = (batch, d_model)"), d=12)
        fix == "return (B, 12) = (batch, d_model)"  # True: the field is English
        shown(fix)  # the catalog's translation, 12 put in
        ```
    """

    message: str
    values: dict
    plural: str | None = None  # `counted`'s: the English plural form, and
    n: int | float | None = None  # the number that picks the form

    def __new__(cls, message: str, /, **values: object) -> Text:
        kept = {key: _kept(value) for key, value in values.items()}
        text = super().__new__(cls, message.format(**kept) if values else message)
        text.message, text.values = message, kept
        return text

    @classmethod
    def counted(cls, singular: str, plural: str, n: int | float, /, **values: object) -> Text:
        """A message whose form `n` picks: in English `singular` for 1 and `plural` otherwise,
        shown through `ngettext` in the active language (Polish has three forms).

        Args:
            singular: the English singular, a string literal (``pybabel extract`` reads it,
                with `plural`, as one message: babel.cfg's ``counted`` keyword).
            plural: the English plural.
            n: the number that picks the form; it is also the message's ``{n}`` unless
                `values` gives one (the number written for reading: ``n="1,234"``).
            **values: the placeholders' values, as `Text` takes them.

        Returns:
            The `Text`, whose value is the English form for `n`.

        Example:
            ```python
            said = Text.counted("{n} different window", "{n} different windows", 5)
            said == "5 different windows"  # True; Polish shows "5 różnych okien"
            ```
        """
        if isinstance(n, bool) or not isinstance(n, int | float):
            raise TypeError(f"Text.counted: n must be a number, not {n!r}")
        text = cls(singular if n == 1 else plural, **{"n": n, **values})
        text.message, text.plural, text.n = singular, plural, n
        return text

    def __reduce__(self):
        if self.plural is None:
            return _text, (self.message, self.values)
        return _counted, (self.message, self.plural, self.n, self.values)

    def portable(self) -> dict:
        """The message and its values as JSON (a nested `Text` as its own; a `counted` one with
        its plural and number too): what the grading child sends, so that the grader shows it in
        the course's language (`from_portable`)."""
        values = {k: v.portable() if isinstance(v, Text) else v for k, v in self.values.items()}
        if self.plural is None:
            return {"message": self.message, "values": values}
        return {"message": self.message, "plural": self.plural, "n": self.n, "values": values}

    @classmethod
    def joined(cls, separator: str, parts: list[str]) -> Text:
        """`parts` one after the other, `separator` between them (``"; "``, ``""``), each shown
        in the active language: a sentence made of sentences, the empty string for none."""
        message = separator.join(f"{{part{i}}}" for i in range(len(parts)))
        said = [part if isinstance(part, Text) else cls(part) for part in parts]
        return cls(message, **{f"part{i}": part for i, part in enumerate(said)})

    @classmethod
    def from_portable(cls, data: dict) -> Text:
        """The `Text` `portable` gave `data` of."""
        values = {
            key: cls.from_portable(value) if isinstance(value, dict) else value
            for key, value in data["values"].items()
        }
        if "plural" in data:
            return cls.counted(data["message"], data["plural"], data["n"], **values)
        return cls(data["message"], **values)


def portable(text: str) -> str | dict:
    """`text` as JSON, for a process that shows it in its own language (`from_portable`): a
    `Text`'s message and values (`Text.portable`), a plain string itself."""
    return text.portable() if isinstance(text, Text) else str(text)


def from_portable(data: object, english: str) -> str:
    """The text `portable` gave `data` of, as `shown` shows it; `english` (the field it stands
    for) when `data` is not what `portable` gives or names a message the kit does not have:
    `data` may come from another process, and only the kit's own messages are formatted."""
    try:
        text = _checked(data)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return english
    return shown(text) if str(text) == english else english


def _checked(data: object) -> str:
    """`data` as a `Text` (or a plain string), every message one of the kit's (`TEMPLATE`)."""
    if isinstance(data, str):
        return data
    counted = isinstance(data, dict) and set(data) == {"message", "plural", "n", "values"}
    if not (counted or (isinstance(data, dict) and set(data) == {"message", "values"})):
        raise ValueError("not a portable text")
    message, values = data["message"], data["values"]
    if counted:
        n = data["n"]
        if (message, data["plural"]) not in _plurals():
            raise ValueError("not one of the kit's plural messages")
        if isinstance(n, bool) or not isinstance(n, int | float):
            raise ValueError("not a portable number")
    if message not in _messages() or not isinstance(values, dict):
        raise ValueError("not one of the kit's messages")
    kept = {}
    for key, value in values.items():
        if isinstance(value, dict):
            kept[key] = _checked(value)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            kept[key] = value
        else:
            raise ValueError("not a portable value")
    if counted:
        return Text.counted(message, data["plural"], n, **kept)
    return Text(message, **kept)


@cache
def _template_ids() -> tuple:
    """The ids of the kit's messages (its catalog template's): a string, or (singular,
    plural) for a message with plural forms."""
    from babel.messages.pofile import read_po

    with TEMPLATE.open("rb") as source:
        template = read_po(source)
    return tuple(m.id for m in template if m.id)


@cache
def _messages() -> frozenset[str]:
    """The kit's messages (its catalog template's ids), singular forms."""
    return frozenset(i if isinstance(i, str) else i[0] for i in _template_ids())


@cache
def _plurals() -> frozenset[tuple[str, str]]:
    """The kit's messages with plural forms, as (singular, plural)."""
    return frozenset(tuple(i[:2]) for i in _template_ids() if not isinstance(i, str))


def _text(message: str, values: dict) -> Text:
    return Text(message, **values)  # pickle's way back (a Text crosses processes)


def _counted(singular: str, plural: str, n: int | float, values: dict) -> Text:
    return Text.counted(singular, plural, n, **values)  # pickle's way back for `counted`


def _kept(value: object) -> object:
    if isinstance(value, Text) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    return str(value)


def shown(text: str) -> str:
    """`text` as a student reads it, in the active language.

    Args:
        text: a `Text` (its message translated, its values put in, a `Text` among them
            translated too) or a plain string (looked up as a message: itself when the catalog
            does not have it; the empty string stays empty).

    Returns:
        The text in the active language.

    Example:
        ```python
        said = N_("Your model: ✗ {what} — {fix}")  # the item's texts, shown first
        pytest.fail(shown(Text(said, what=shown(what), fix=shown(fix))))
        ```
    """
    if isinstance(text, Text):
        values = {k: shown(v) if isinstance(v, Text) else v for k, v in text.values.items()}
        if text.plural is not None:
            message = ngettext(text.message, text.plural, text.n)
        else:
            message = gettext(text.message) if text.message else ""  # gettext(""): the header
        return message.format(**values) if text.values else message
    return gettext(text) if text else text
