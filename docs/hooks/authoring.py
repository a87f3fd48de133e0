"""The Authoring API page's reference, written out in Markdown from the docstrings of `kws.author`,
so that it reads on GitHub as on the built site:

    python docs/hooks/authoring.py          # rewrites docs/reference/authoring-api.md below MARK

`api_markdown` renders every published name (its signature, its docstring's text, arguments,
returns, raises, attributes and example; a class's public methods and properties; the `layers`
module's names), each under a heading whose id is its full name (``kws.author.Spec``), so that
links to ``authoring-api.md#kws.author.Spec`` work. A test (tests/test_docs.py) fails when the
page is not what this script writes.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "reference" / "authoring-api.md"
MARK = "<!-- Written by docs/hooks/authoring.py from the docstrings of kws.author; do not edit below. -->"
SECTIONS = ("Args", "Arguments", "Returns", "Raises", "Attributes", "Example", "Examples", "Note")
# The published names by where an assignment uses them, in the page's order.
GROUPS = {
    "The spec": ["Spec", "spec_of"],
    "checks.py: numeric checks, run by the self-check and the grading child": [
        "Component", "Checker", "CheckResult", "call", "build", "differs", "shape_text",
        "run_task_checks", "history_key",
    ],
    "A layer against its reference (torch.nn, torchaudio), as layers.compare_layer(...)": ["layers"],
    "selfcheck.py: a whole model, run and measured as the grader does": [
        "run_model", "probe_facts", "trace_forward", "format_count",
    ],
    "graded_tests/test_*.py: the fixtures grading, hidden, score": ["Grading", "HiddenTest", "Score"],
    "graded_tests/test_*.py: verdicts": [
        "tier_credit", "numeric_tests", "spec_tests", "retraining_test",
    ],
    "layout.py: a data layout of the assignment's own": [
        "Layout", "secret_permutation", "save_feature_inputs",
    ],
    "What a student reads, in the course's language": ["N_", "Text", "shown"],
}  # fmt: skip


def _signature(name: str, obj) -> str:
    try:
        signature = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return name
    signature = re.sub(r"<([\w.]+) object at 0x[0-9a-f]+>", r"\1()", signature)
    signature = re.sub(r"(: |-> )'([^']+)'", r"\1\2", signature)  # annotations, unquoted
    signature = re.sub(r"^\(self(, )?", "(", signature)
    return f"{name}{signature}"


def _sections(doc: str) -> list[tuple[str, str]]:
    """(section name, its text) of a Google-style docstring, the text before any section first
    (named "")."""
    parts, current, lines = [], "", []
    for line in doc.splitlines():
        header = re.fullmatch(r"(\w+):\s*", line)
        if header and header[1] in SECTIONS:
            parts.append((current, "\n".join(lines)))
            current, lines = header[1], []
        else:
            lines.append(line)
    parts.append((current, "\n".join(lines)))
    return [(name, textwrap.dedent(text).strip("\n")) for name, text in parts if text.strip()]


def _items(text: str) -> str:
    """An Args-like section as a list: ``name: text`` items, continuation lines joined."""
    items: list[list[str]] = []
    for line in text.splitlines():
        match = re.match(r"^(\*{0,2}[\w.]+(?: \([^)]*\))?):\s*(.*)$", line)
        if match and not line.startswith(" "):
            items.append([f"`{match[1]}`", match[2]])
        elif items:
            items[-1].append(line.strip())
        else:
            items.append([line.strip()])
    return "\n".join(
        f"- {parts[0]}: {' '.join(p for p in parts[1:] if p)}"
        if len(parts) > 1
        else f"- {parts[0]}"
        for parts in items
    )


def docstring_markdown(obj) -> str:
    """`obj`'s docstring as Markdown: its text, then each section under a bold heading."""
    doc = inspect.getdoc(obj) or ""
    out = []
    for name, text in _sections(doc):
        if not name:
            out.append(text)
        elif name in ("Args", "Arguments", "Raises", "Attributes"):
            out.append(f"**{name}**\n\n{_items(text)}")
        else:
            out.append(f"**{name}**\n\n{text}")
    return "\n\n".join(out)


def _members(cls) -> list[tuple[str, object]]:
    """A class's public methods and properties defined in the kit (its own and its kit bases'),
    in the order their classes define them."""
    found = {}
    for base in reversed(cls.__mro__):
        if not base.__module__.startswith("kws"):
            continue
        for name, value in vars(base).items():
            if name.startswith("_") or not (
                inspect.isfunction(value) or isinstance(value, property)
            ):
                continue
            if inspect.getdoc(value):
                found[name] = value
    return list(found.items())


def _entry(full: str, shown: str, obj, level: int) -> str:
    heading = "#" * level
    if inspect.ismodule(obj):
        return f"{heading} `{shown}` {{#{full}}}\n\n{docstring_markdown(obj)}"
    if not (inspect.isclass(obj) or callable(obj)):
        return f"{heading} `{shown}` {{#{full}}}\n\n`{shown} = {obj!r}`"
    text = f"{heading} `{shown}` {{#{full}}}\n\n```python\n{_signature(shown, obj)}\n```\n\n"
    text += docstring_markdown(obj)
    if inspect.isclass(obj):
        for name, member in _members(obj):
            if isinstance(member, property):
                head = f"`{shown}.{name}` (property)"
                body = docstring_markdown(member.fget)
            else:
                head = f"`{shown}.{name}`"
                body = f"```python\n{_signature(name, member)}\n```\n\n{docstring_markdown(member)}"
            text += f"\n\n{'#' * (level + 1)} {head} {{#{full}.{name}}}\n\n{body}"
    return text


def api_markdown() -> str:
    """The generated part of the Authoring API page (see the module)."""
    import kws.author

    listed = [name for names in GROUPS.values() for name in names]
    assert sorted(listed) == sorted(kws.author.__all__), "GROUPS must list kws.author.__all__"
    rows = "\n".join(
        f"| {where} | {', '.join(f'[`{n}`](#kws.author.{n})' for n in names)} |"
        for where, names in GROUPS.items()
    )
    parts = [f"## The names, by where they are used\n\n| where | names |\n|---|---|\n{rows}"]
    for where, names in GROUPS.items():
        parts.append(f"## {where}")
        for name in names:
            obj = getattr(kws.author, name)
            parts.append(_entry(f"kws.author.{name}", name, obj, 3))
            if name == "layers":
                shown = [n for n in obj.__all__ if n != "torchaudio"]
                links = ", ".join(f"[`layers.{n}`](#kws.author.layers.{n})" for n in shown)
                parts.append(f"The module's names: {links}, and `layers.torchaudio` (torchaudio, "
                             "checked to load with the installed torch).")  # fmt: skip
                for inner in shown:
                    parts.append(_entry(f"kws.author.layers.{inner}", f"layers.{inner}",
                                        getattr(obj, inner), 4))  # fmt: skip
    return "\n\n".join(parts) + "\n"


def page_text() -> str:
    """The whole page: its hand-written part (above `MARK`) and the generated one."""
    text = PAGE.read_text(encoding="utf-8")
    head = text.split(MARK)[0].rstrip("\n")
    return f"{head}\n\n{MARK}\n\n{api_markdown()}"


if __name__ == "__main__":
    PAGE.write_text(page_text(), encoding="utf-8")
    print(f"wrote {PAGE}")
    sys.exit(0)
