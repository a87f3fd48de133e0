"""The message catalogs (kws/locale/, `kws.i18n`): the committed template is what extraction with
the repository's babel.cfg gives; every language's catalog translates each of its messages, keeps
their placeholders and markup, and has the plural forms its language needs; and the modules and
templates whose sentences moved into the catalogs write none outside them."""

import ast
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from course_helpers import ROOT

from kws import i18n

TEMPLATE = i18n.TEMPLATE
LANGUAGES = [tag for tag in i18n.languages() if tag != i18n.ENGLISH]
# What students read, moved into the catalogs: no sentence of theirs is written outside them.
CONVERTED = [
    "kws/handin/lines.py",
    "kws/handin/check.py",
    "kws/handin/cell.py",
    "kws/grading/publish/feedback/html.py",
    "kws/grading/publish/feedback/pages.py",
    "kws/release/notebooks.py",
    # the self-check's items (`Item.what`, `Item.fix`: `kws.i18n.Text`, shown translated)
    "kws/check/selfcheck.py",
    "kws/check/layers.py",
    "kws/check/layer_inputs.py",
    "kws/check/weights.py",
    "kws/check/declared.py",
    "kws/check/precision.py",
    "kws/tracing/determinism.py",
    # the tests a spec declares: their titles and failure messages
    "kws/spec/rules.py",
    "kws/grading/judge/declared.py",
    *(
        f"kws/assignments/{name}"
        for name in (
            "keyword_spotting/checks.py",
            "keyword_spotting/batch_checks.py",
            "keyword_spotting/keyword_checks.py",
            "keyword_spotting/keyword_model_checks.py",
            "keyword_spotting/recipe_checks.py",
            "keyword_spotting/schedule.py",
            "keyword_spotting/token_budget.py",
            "keyword_spotting/selfcheck.py",
            "speaker_id/selfcheck.py",
            "speaker_id/rules.py",
            "patch_transformer/selfcheck.py",
            "patch_transformer/rules.py",
            "speaker_id/checks.py",
            "speaker_id/formula_checks.py",
            "speaker_id/layer_checks.py",
            "speaker_id/padding_checks.py",
            "patch_transformer/checks.py",
            "patch_transformer/distill_checks.py",
            "patch_transformer/model_checks.py",
            "patch_transformer/patch_checks.py",
            "patch_transformer/patchout_checks.py",
        )
    ),
]
CONVERTED_TEMPLATES = ["kws/templates/feedback.html"]
# Strings of those modules that no student reads: a dictionary key, the gradebook's note read
# back, the instructor's errors, the code of the cells a notebook gets.
NOT_SHOWN = (
    "written questions",  # `later`'s key
    "ran longer than",  # the gradebook's note, read
    ": due date ",  # the instructor's StandingsError
    " is no ISO 8601 time",
    ": no such folder of solution notebooks",  # `kws release`'s errors, for the instructor
    ": releasing onto the solution notebook",
    "import importlib",  # the Set-up cell's code
    "import os",  # the line a notebook's own Set-up cell gets with its language
    "from kws",  # the self-check and hand-in cells' code
    "not written yet: ",  # the item field's English start the grader matches (NOT_WRITTEN)
    " has no attribute ",  # an AttributeError of `kws.check.layers`, for the code reading it
    "dtype|scalar type",  # the pattern matched on torch's error messages (`is_dtype_error`)
    "yes no up down",  # the keyword-spotting data's words, as the dataset spells them
    "zero one two three",
    "all frames",  # `POOLING_CAUSES`'s keys, the pooled vector's candidates' names
    "divided by T",
    "padded summed",
)
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w*\}|<[^>]+>")
WORDS = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}")


def _read(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def _extracted() -> Catalog:
    """The template as `pybabel extract -F babel.cfg` makes it, through Babel's API."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    catalog = Catalog()
    for filename, line, message, comments, context in extract_from_dir(
        ROOT, method_map, options_map
    ):
        catalog.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return catalog


def _ids(catalog: Catalog) -> dict:
    return {m.id if isinstance(m.id, str) else m.id[0]: m.id for m in catalog if m.id}


def test_the_committed_template_is_what_extraction_gives():
    """A sentence wrapped in gettext but missing from kws/locale/kws.pot (or one left there
    after the code dropped it) fails here: run the extract command of docs/how-to/language.md."""
    extracted, committed = _ids(_extracted()), _ids(_read(TEMPLATE))
    assert len(extracted) > 50  # the extraction read the modules and the templates
    assert sorted(set(extracted) - set(committed)) == []  # new: extract, then update
    assert sorted(set(committed) - set(extracted)) == []  # dropped: extract, then update
    assert extracted == committed  # the same plural forms too


@pytest.mark.parametrize("tag", LANGUAGES)
def test_every_message_is_translated_with_its_placeholders_and_markup(tag):
    catalog = _read(i18n.catalog_file(tag))
    template = _ids(_read(TEMPLATE))
    translated = {_id: m for _id, m in ((k, catalog.get(v)) for k, v in template.items())}
    missing = [key for key, message in translated.items() if message is None or not message.string]
    assert missing == []
    fuzzy = [key for key, message in translated.items() if message.fuzzy]
    assert fuzzy == []
    assert sorted(set(_ids(catalog)) - set(template)) == []  # nothing the code no longer says
    for key, message in translated.items():
        forms = [message.string] if isinstance(message.string, str) else list(message.string)
        if isinstance(message.id, tuple):
            assert len(forms) == catalog.num_plurals, key
        assert all(forms), key
        wanted = sorted(PLACEHOLDER.findall(message.id if isinstance(message.id, str) else
                                            message.id[1]))  # fmt: skip
        for form in forms:
            assert sorted(PLACEHOLDER.findall(form)) == wanted, (tag, key, form)
    assert [problem for problem in catalog.check()] == []  # Babel's own checks (python-format)


def test_the_languages_plural_forms_are_the_languages():
    """Polish: 1 punkt, 2-4 (22-24) punkty, 5-21 (25...) punktów; Chinese: one form."""
    said = {}
    for tag in ("pl", "zh-TW"):
        with i18n.speaking(tag):
            said[tag] = [i18n.ngettext("{n} point", "{n} points", n).format(n=n)
                         for n in (1, 2, 5, 12, 22, 25, 2.5)]  # fmt: skip
    assert said["pl"] == ["1 punkt", "2 punkty", "5 punktów", "12 punktów", "22 punkty",
                          "25 punktów", "2.5 punktów"]  # fmt: skip
    assert said["zh-TW"] == [f"{n} 分" for n in (1, 2, 5, 12, 22, 25, 2.5)]


def _inline(path: Path, root: Path = ROOT) -> list[str]:
    """The sentences written in `path` outside gettext, ngettext, N_ and Text.counted (babel.cfg's
    keyword `counted`), docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = getattr(function, "id", getattr(function, "attr", ""))
            if name in ("_", "gettext", "ngettext", "N_", "counted"):
                inside |= {id(sub) for sub in ast.walk(node)}
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            inside.add(id(node.value))  # a docstring
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in inside
        ):
            if WORDS.search(re.sub(r"\{[^}]*\}", " ", node.value)):
                if not node.value.startswith(NOT_SHOWN) and NOT_SHOWN[3] not in node.value:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_the_converted_modules_write_no_sentence_outside_the_catalogs():
    """A sentence a student reads, added to one of these modules as a plain string, fails here:
    wrap it in gettext (`kws.i18n`) and extract."""
    found = [line for module in CONVERTED for line in _inline(ROOT / module)]
    assert found == []


def test_the_scan_finds_a_plain_sentence(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        'from kws.i18n import gettext as _\nA = _("fine here")\nB = "left in English"\n'
        'C = Text.counted("{n} fine thing", "{n} fine things", 2)\n'
    )
    assert [line.split(": ", 1)[1] for line in _inline(module, tmp_path)] == ["'left in English'"]


def _outside_trans(text: str) -> list[str]:
    """The words of a template outside ``{% trans %}`` blocks, tags, expressions and comments."""
    text = re.sub(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", " ", text, flags=re.DOTALL)
    text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}|<[^>]*>", " ", text, flags=re.DOTALL)
    return [line.strip() for line in text.splitlines() if WORDS.search(line)]


def test_the_converted_templates_write_no_sentence_outside_trans_blocks():
    for template in CONVERTED_TEMPLATES:
        assert _outside_trans((ROOT / template).read_text(encoding="utf-8")) == [], template
    assert _outside_trans("<p>{% trans %}Tests{% endtrans %} left in English</p>") == [
        "left in English"
    ]
