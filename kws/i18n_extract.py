"""Babel extraction methods for the sentences students read that are not gettext calls: the
graded tests' titles (babel.cfg names these methods; `pybabel extract` and
tests/test_catalogs.py run them).

- `graded_tests`: a graded test module's gettext calls (Babel's Python method), the title a
  ``titled(title, **values)`` decorator gives, and the first line of each ``test_*``
  function's docstring: the names students see in ``results.json``;
- `spec_titles`: the ``title`` of each ``[numeric.<test name>]`` entry of an assignment's
  ``spec.toml``, the name of the test the entry declares.

The grader looks each title up in the course's catalog when it writes the results
(`kws.grading.judge.results`). Import nothing of the kit here: Babel loads this module alone.
"""

from __future__ import annotations

import ast
import io
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
