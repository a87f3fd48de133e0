"""No module of the kit writes HTML in Python: every page and every piece of one (the class report,
the feedback pages, the rehearsal's page, `kws mark`'s page and the answers its server sends)
comes from a template of ``kws/templates/`` rendered by `kws.pages` with autoescape, and the
kit escapes by hand nowhere but there (`kws.pages`' one escape, what a template shows).

The rule, read from each module's syntax tree (`ast`), never from its text: a string (``str`` or
``bytes``) the module builds, an f-string, a ``+`` of strings, a ``%`` or ``.format`` string,
holds HTML when it has
- a tag of an HTML element (``<div``, ``<td>``, ``<a href=``, ``</pre>``, ``<br>``...), or of
  any element given attributes (``<x class="...``) or closed (``</x>``), the name written out or
  put in (``f"<{tag} class=..."``, ``"</" + tag + ">"``),
- a document's or comment's start (``<!DOCTYPE``, ``<!--``), or an entity written by hand
  (``&lt;``, ``&amp;``...).
A bare string statement (a docstring, an attribute's) is text for the reader, never output; a
regular expression's named group (``(?P<name>``) and a placeholder in a message (``<student>``,
``<path>``: no attribute, not closed) are no tag. `ALLOWED` names what is let through, each
with its reason."""

import ast
import re
from pathlib import Path

KWS = Path(__file__).resolve().parents[1] / "kws"
HOLE = "\x00"  # what an f-string's {value} (a "+" operand, a %s, a {}) stands for in the rule
# Tags a page writes that no message would use as a placeholder: flagged bare (``<div>``) too.
ELEMENTS = (
    "html|head|body|meta|link|style|script|h[1-6]|p|div|span|table|thead|tbody|tfoot|tr|td|th"
    "|caption|pre|code|kbd|br|hr|b|i|u|em|strong|small|sub|sup|a|ul|ol|li|dl|dt|dd|img|svg"
    "|details|summary|blockquote|figure|figcaption|iframe|form|button|textarea|article|nav"
    "|math|mrow|mi|mn|mo"
)
HTML = re.compile(
    rf"(?<!\?P)</?({ELEMENTS})\b/?(\s[^<>]*)?>"  # a known element's tag, bare or not
    rf"|<[A-Za-z{HOLE}][\w:.-]*{HOLE}*\s+[\w:-]+\s*=\s*[\"'{HOLE}\w]"  # a tag with an attribute
    rf"|</[A-Za-z{HOLE}][\w:.-]*\s*>"  # a closing tag
    r"|<!DOCTYPE|<!--"  # a document, a comment
    r"|&(lt|gt|amp|quot|apos|nbsp|#x?[0-9a-fA-F]+);",  # an entity written by hand
    re.IGNORECASE,
)
FORMAT_HOLES = re.compile(r"%(\(\w+\))?[-#0 +]*\d*(\.\d+)?[sdrfgx]|\{[^{}]*\}")
ESCAPES = {"re.escape"}  # a regular expression's escape: no HTML
MOST_ESCAPES = 5  # calls of an escape (html.escape, markupsafe.escape...) in the whole kit
# (module, what is found): why it is no HTML written in Python. Each entry must still be found.
ALLOWED = {
    ("pages.py", "html.escape(...)"): "the kit's one escape: what a template shows (_shown, the "
    "environment's finalize), quotes too",
}


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of each string `tree` builds: constants, f-strings and ``+`` chains with each
    value put in as `HOLE`, ``%`` and ``{}`` holes as `HOLE` too; bare string statements left out."""
    bare = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    inner: set[int] = set()  # the parts of an f-string or a chain, read with it
    found = []

    def text(node: ast.AST) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            inner.add(id(node))
            value = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            return FORMAT_HOLES.sub(HOLE, value)
        if isinstance(node, ast.JoinedStr):
            inner.add(id(node))
            return "".join(text(value) for value in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            inner.add(id(node))
            return text(node.left) + text(node.right)
        return HOLE

    for node in ast.walk(tree):  # outermost first: a chain is read whole, then its parts skipped
        if id(node) in inner or id(node) in bare:
            continue
        if isinstance(node, ast.Constant | ast.JoinedStr) or (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Add)
            and any(
                isinstance(side, ast.Constant | ast.JoinedStr) for side in (node.left, node.right)
            )
        ):
            if isinstance(node, ast.Constant) and not isinstance(node.value, str | bytes):
                continue
            found.append((node.lineno, text(node)))
    return found


def _escapes(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of each call of a function called ``escape`` (but `ESCAPES`)."""
    return [
        (node.lineno, name)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (name := ast.unparse(node.func)).split(".")[-1] == "escape"
        and name not in ESCAPES
    ]


def html_in_python(path: Path) -> list[tuple[int, str]]:
    """Where the module `path` writes HTML by hand (see the module): (line, what), the HTML's
    first match shown (a put-in value as ``{}``) or the escape called as ``name(...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = [
        (line, repr(match.group(0).replace(HOLE, "{}")))
        for line, value in _strings(tree)
        if (match := HTML.search(value))
    ]
    found += [(line, f"{name}(...)") for line, name in _escapes(tree)]
    return sorted(found)


def _modules() -> list[tuple[str, Path]]:
    return [(path.relative_to(KWS).as_posix(), path) for path in sorted(KWS.rglob("*.py"))]


def test_no_module_of_the_kit_writes_html_outside_the_templates():
    found, allowed = [], set()
    for relative, path in _modules():
        for line, what in html_in_python(path):
            if (relative, what) in ALLOWED:
                allowed.add((relative, what))
            else:
                found.append(f"kws/{relative}:{line}: {what}")
    assert not found, (
        "HTML written in Python (write it in a template of kws/templates/, rendered with "
        "kws.pages.render, or kws.pages.fragment for a piece of a page; a template escapes what "
        "it shows):\n" + "\n".join(found)
    )
    assert allowed == set(ALLOWED), f"allowed, no longer found: {set(ALLOWED) - allowed}"


def test_the_kit_calls_an_escape_at_most_five_times():
    calls = [
        f"kws/{relative}:{line}: {name}(...)"
        for relative, path in _modules()
        for line, name in _escapes(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert len(calls) <= MOST_ESCAPES, "\n".join(calls)


def test_the_check_finds_html_however_python_builds_it(tmp_path):
    module = tmp_path / "page.py"
    module.write_text(
        "import html, markupsafe, re\n"
        "def f(x, tag):\n"
        '    """<b>fine in a docstring</b>"""\n'
        '    row = f"<td>{html.escape(x)}</td>"\n'
        "    opened = f\"<{tag} class='{x}'>\"\n"
        '    closed = "</" + tag + ">"\n'
        '    old = "<span title=%s>" % x\n'
        '    new = "<{} id={}>".format(tag, x)\n'
        "    by_hand = x.replace('<', '&lt;')\n"
        '    page = b"<!DOCTYPE html>"\n'
        "    svg = f'<rect x=\"{x}\"/>'\n"
        "    return markupsafe.escape(x), re.escape(x)\n"
    )
    assert html_in_python(module) == [
        (4, "'<td>'"),
        (4, "html.escape(...)"),
        (5, '"<{} class=\'"'),
        (6, "'</{}>'"),
        (7, "'<span title={}>'"),
        (8, "'<{} id={}'"),
        (9, "'&lt;'"),
        (10, "'<!DOCTYPE'"),
        (11, "'<rect x=\"'"),
        (12, "markupsafe.escape(...)"),
    ]


def test_the_check_leaves_messages_patterns_and_docstrings_alone(tmp_path):
    module = tmp_path / "cli.py"
    module.write_text(
        "import re\n"
        '"""The module\'s <div> docstring."""\n'
        "WORD = re.compile(r'(?P<name>\\w+) <(?P<rest>.*)>')\n"
        '"""An attribute\'s docstring: the page\'s ``<meta>``."""\n'
        "def usage(student, name):\n"
        '    print(f"kws feedback grades/ --student <student>: {student}")\n'
        '    print("kws grade <path> --out <folder>", f"<{name}>", "a < b > c", "<= 3")\n'
        '    return f"<model cell {name}>"\n'
    )
    assert html_in_python(module) == []
