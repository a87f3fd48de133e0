"""The kit's notebooks in the course's language (`kws.release.notebooks.in_language`): each
notebook's catalog (``kws/locale/<lang>/LC_MESSAGES/notebook_<name>.po``) holds every Markdown
cell of its student notebook, translated with its code spans, formulas and links intact; and
`kws release notebooks` in Traditional Chinese writes the instructions in Chinese and every code
cell byte for byte as the English release has it."""

import io
import os
import re
import subprocess
import sys

import nbformat
import pytest
from babel.messages.pofile import read_po
from course_helpers import ROOT

from kws import i18n
from kws.i18n_extract import notebook_markdown
from kws.release.notebooks import student_notebook
from kws.spec import ASSIGNMENTS

NOTEBOOKS = sorted(spec.notebook for spec in ASSIGNMENTS.values())  # the kit's 01-03
TRANSLATED = {"zh-TW": NOTEBOOKS}  # the languages whose catalogs cover every kit notebook
# What a translation keeps as it is: code spans, formulas, link targets, the table's columns.
KEPT = re.compile(r"`[^`\n]+`|\$\$.+?\$\$|\$[^$\n]+\$|\]\([^)\s]+\)", re.DOTALL)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _catalog(path):
    with path.open("rb") as source:
        return read_po(source)


def _english(notebook: str) -> nbformat.NotebookNode:
    """The English student notebook, as `kws release` makes it from the solution."""
    with i18n.speaking(i18n.ENGLISH):
        return student_notebook(ROOT / "solutions" / notebook)


def _extracted(nb: nbformat.NotebookNode) -> list[str]:
    """What `pybabel extract -F babel-notebooks.cfg` takes from the notebook `nb`."""
    found = notebook_markdown(io.BytesIO(nbformat.writes(nb).encode()), [], [], {})
    return [message for _, _, message, _ in found]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_each_notebooks_template_holds_its_markdown_as_released(notebook):
    """A Markdown cell changed in the solution notebook and not extracted again fails here:
    run the commands of docs/how-to/language.md (extract, then update)."""
    template = _catalog(i18n.LOCALE_DIR / f"{i18n.notebook_domain(notebook)}.pot")
    extracted = _extracted(_english(notebook))
    assert len(extracted) >= 10  # the title, the tasks, the hints: the notebook's text
    assert sorted(set(extracted) - {m.id for m in template if m.id}) == []  # new: extract
    assert sorted({m.id for m in template if m.id} - set(extracted)) == []  # gone: extract
    answers = [c.source for c in _english(notebook).cells if "answer:" in str(c.metadata)]
    assert not set(answers) & set(extracted)  # a written answer's cell is the student's


@pytest.mark.parametrize(
    ("tag", "notebook"), [(tag, nb) for tag, notebooks in TRANSLATED.items() for nb in notebooks]
)
def test_every_markdown_cell_is_translated_with_its_code_and_formulas(tag, notebook):
    domain = i18n.notebook_domain(notebook)
    template = _catalog(i18n.LOCALE_DIR / f"{domain}.pot")
    catalog = _catalog(i18n.catalog_file(tag, domain))
    wanted = [m.id for m in template if m.id]
    missing = [text[:60] for text in wanted if not (catalog.get(text) and catalog[text].string)]
    assert missing == []
    assert sorted(m.id[:60] for m in catalog if m.id and m.id not in wanted) == []
    for text in wanted:
        translated = catalog[text].string
        assert not catalog[text].fuzzy, text[:60]
        assert sorted(KEPT.findall(translated)) == sorted(KEPT.findall(text)), text[:60]
        assert translated.count("\n|") == text.count("\n|"), text[:60]  # the table's rows
        heading = re.match(r"#+ ", text)
        assert not heading or translated.startswith(heading[0]), text[:60]


SETS_LANGUAGE = '\nos.environ.setdefault("KWS_LANGUAGE", "zh-TW")'


def test_kws_release_in_traditional_chinese_translates_the_markdown_not_the_code(tmp_path):
    """The kit's course released with a course file whose language is zh-TW (its specs name
    none): every instruction cell in Chinese, the written answer's placeholder as the hand-in
    check knows it, and every code cell byte for byte the English release's, but the Set-up
    cell, which also sets the kernel's language: the self-check and the hand-in cell speak it."""
    course = tmp_path / "course.toml"
    course.write_text('timezone = "Asia/Taipei"\nlanguage = "zh-TW"\n', encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop(i18n.ENV, None)
    command = [sys.executable, "-m", "kws.cli", "release", "notebooks", str(tmp_path / "zh"),
               "--course", str(course)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for notebook in NOTEBOOKS:
        released = nbformat.read(tmp_path / "zh" / notebook, as_version=4).cells
        english = nbformat.reads(nbformat.writes(_english(notebook)), as_version=4).cells
        assert [c["cell_type"] for c in released] == [c["cell_type"] for c in english]
        for ours, theirs in zip(released, english, strict=True):
            if ours["cell_type"] == "code" and "KIT_SOURCE = " in theirs["source"]:
                assert ours["source"] == theirs["source"] + SETS_LANGUAGE
                assert ours["metadata"] == theirs["metadata"] and ours["id"] == theirs["id"]
            elif ours["cell_type"] == "code":
                assert ours == theirs  # source, tags, id: the grader reads them as released
            elif "answer:" in str(theirs["metadata"]):
                assert ours["source"] == theirs["source"] == "*Write your answer here.*"
            else:
                assert CJK.search(ours["source"]) and ours["source"] != theirs["source"]
                assert ours["metadata"] == theirs["metadata"]
    title = nbformat.read(tmp_path / "zh" / NOTEBOOKS[0], as_version=4).cells[0]
    assert title["source"].startswith("# 用 Transformer 做關鍵詞辨識")


def test_a_cell_without_a_translation_stays_english(monkeypatch):
    """A Markdown cell the catalog does not hold yet (an instructor's edit) is released in
    English, the rest of the notebook in the language; Polish has no notebook catalogs."""
    from kws.release.notebooks import in_language

    nb = _english(NOTEBOOKS[1])
    nb.cells[0].source += "\n\nA sentence added after the catalog was made."
    with i18n.speaking("zh-TW"):
        translated = in_language(nb, NOTEBOOKS[1])
    assert translated.cells[0].source.endswith("after the catalog was made.")
    markdown = [c.source for c in translated.cells if c.cell_type == "markdown"]
    assert sum(bool(CJK.search(text)) for text in markdown) == len(markdown) - 2  # and the answer
    with i18n.speaking("pl"):
        polish = in_language(_english(NOTEBOOKS[1]), NOTEBOOKS[1])
    assert not any(CJK.search(c.source) for c in polish.cells)


def test_kws_assign_writes_the_notebook_in_its_specs_language(tmp_path, monkeypatch):
    """What `kws assign` writes for an assignment whose spec says ``language = "zh-TW"``
    (`kws.assign.generate.planned_files`), with no ``KWS_LANGUAGE``: the notebook in Chinese,
    its Set-up cell setting the kernel's language."""
    from dataclasses import replace

    from kws.assign.generate import planned_files

    monkeypatch.delenv(i18n.ENV, raising=False)
    spec = replace(ASSIGNMENTS["speaker_id"], language="zh-TW")
    files = planned_files(spec, ROOT / "solutions" / spec.notebook, tmp_path)
    nb = nbformat.reads(files[tmp_path / spec.notebook], as_version=4)
    assert nb.cells[0].source.startswith("# 用 Transformer 與 Conformer 做語者辨識")
    english = _english(spec.notebook)
    assert [c.source for c in nb.cells if c.cell_type == "code"] == [
        c.source + (SETS_LANGUAGE if "KIT_SOURCE = " in c.source else "")
        for c in english.cells
        if c.cell_type == "code"
    ]  # the Set-up cell sets the kernel's language too


def test_a_course_file_naming_no_catalogs_language_is_refused_before_anything_is_written(
    tmp_path, capsys
):
    from kws.cli import main

    course = tmp_path / "course.toml"
    course.write_text('timezone = "Europe/Berlin"\nlanguage = "de"\n', encoding="utf-8")
    out = tmp_path / "students"
    assert main(["release", "notebooks", str(out), "--course", str(course)]) == 2
    said = capsys.readouterr().err
    assert f"{course}, line 2: language = 'de'" in said and "'en', 'pl', 'zh-TW'" in said
    assert not out.exists()
