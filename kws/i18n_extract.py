"""Babel extraction methods for the sentences students read that are not gettext calls: the
graded tests' titles (babel.cfg names these methods; `pybabel extract` and
tests/test_catalogs.py run them).

- `graded_tests`: a graded test module's gettext calls (Babel's Python method), the title a
  ``titled(title, **values)`` decorator gives, and the first line of each ``test_*``
  function's docstring: the names students see in ``results.json``;
- `spec_titles`: the ``title`` of each ``[numeric.<test name>]`` entry of an assignment's
  ``spec.toml``, the name of the test the entry declares;
- `notebook_markdown`: each Markdown cell of a student notebook, whole: the instructions a
  notebook's own catalog translates (babel-notebooks.cfg; one template per notebook,
  ``kws/locale/notebook_<name>.pot``, applied by `kws.release.notebooks`).

The grader looks each title up in the course's catalog when it writes the results
(`kws.grading.judge.results`). Import nothing of the kit here: Babel loads this module alone.
"""

from __future__ import annotations

import ast
import io
import json
from collections.abc import Iterator

import tomllib
from babel.messages.extract import DEFAULT_KEYWORDS, extract_python

Extracted = tuple[int, str | None, str, list[str]]  # line, function, message, comments


def graded_tests(fileobj, keywords, comment_tags, options) -> Iterator[Extracted]:
    """The gettext calls of a graded test module, then its tests' docstring titles."""
    source = fileobj.read()
    known = dict(keywords) if isinstance(keywords, dict) else dict.fromkeys(keywords)
    keywords = {**{k: DEFAULT_KEYWORDS.get(k) for k in known}, "titled": None}
    for line, function, message, comments in extract_python(
        io.BytesIO(source), keywords, comment_tags, options
    ):
        # a title stating values (`kws.grading.judge.results.titled`): a text to translate, as N_
        yield line, "N_" if function == "titled" else function, message, comments
    tree = ast.parse(source.decode(options.get("encoding", "utf-8")))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            doc = (ast.get_docstring(node) or "").strip()
            if doc:
                yield node.lineno, None, doc.splitlines()[0], []


def spec_titles(fileobj, keywords, comment_tags, options) -> Iterator[Extracted]:
    """The titles of a spec's ``[numeric.<test name>]`` entries: each a graded test's name."""
    spec = tomllib.loads(fileobj.read().decode("utf-8"))
    for entry in spec.get("numeric", {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("title"), str):
            yield 0, None, entry["title"], []


def notebook_markdown(fileobj, keywords, comment_tags, options) -> Iterator[Extracted]:
    """The source of each Markdown cell of a notebook (its student version: a solution
    notebook's would put model answers in a catalog students get), numbered by cell; a written
    answer's cell (tagged ``answer:<id>``) is the student's, never translated."""
    notebook = json.loads(fileobj.read().decode("utf-8"))
    for number, cell in enumerate(notebook["cells"], start=1):
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        answer = any(tag.startswith("answer:") for tag in tags)
        if cell["cell_type"] == "markdown" and source.strip() and not answer:
            yield number, None, source, []
