"""Model cells that reach for the grader's own machinery, flagged for a person to read (points are
not changed by a flag). Runs in the grader's process on the notebook's text, never executing it;
what the words can reach: docs/reference/threat-model.md.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kws.spec import Cells

# word in the code (a name, an attribute or inside a string) -> what it can reach
FRAMES = ("_getframe", "currentframe", "f_back", "f_locals", "f_globals", "tb_frame", "gi_frame")
HOOKS = ("register_module_forward_hook", "register_module_forward_pre_hook")
REVIEW_WORDS = {
    "gc": "the garbage collector (gc)",
    **dict.fromkeys(FRAMES, "frame introspection"),
    "inspect": "frame introspection (inspect)",
    "atexit": "exit handlers (atexit)",
    **dict.fromkeys(("builtins", "__builtins__"), "builtins"),
    **dict.fromkeys(("__import__", "importlib"), "dynamic imports"),
    **dict.fromkeys(("exec", "eval"), "dynamic code (exec/eval)"),
    **dict.fromkeys(("settrace", "setprofile", "gettrace", "getprofile"), "trace or profile hooks"),
    **dict.fromkeys(("_len_torch_function_stack", "TorchFunctionMode"), "torch function modes"),
    **dict.fromkeys(
        ("_global_forward_hooks", "_global_forward_pre_hooks", *HOOKS),
        "torch's global module hooks",
    ),
    "ctypes": "raw memory (ctypes)",
    **dict.fromkeys(("threading", "_thread"), "threads"),
    "_exit": "ending the process (os._exit)",
    "kws.grading": "the grader's own code",
}


# Code that reads files or looks at its own process: a model needs neither, while a model that
# answers from a side file, or tells the grader's re-run from the notebook's run (no ipykernel
# imported, another sys.argv or environment), does. Matched as names only (and string literals
# holding just the word): "os" is in "positions".
READING = ("read_text", "read_bytes", "fromfile", "loadtxt", "read_csv")
PROCESS_WORDS = {
    "open": "opening files",
    **dict.fromkeys(READING, "reading files"),
    "load": "loading files (load)",
    **dict.fromkeys(("glob", "listdir", "scandir"), "listing files"),
    **dict.fromkeys(("Path", "pathlib"), "file paths (pathlib)"),
    "os": "the process and its files (os)",
    "sys": "the process (sys)",
    **dict.fromkeys(("environ", "getenv"), "the environment"),
    "argv": "the process's arguments",
    **dict.fromkeys(("ipykernel", "IPython", "get_ipython"), "the notebook kernel"),
    **dict.fromkeys(("getpid", "getppid", "psutil", "__main__"), "the process"),
    "subprocess": "other processes",
    "platform": "the machine (platform)",
    "socket": "the network",
    "__file__": "file paths",
}
WORDS = REVIEW_WORDS | PROCESS_WORDS  # every word a cell is searched for
# The cell of notebook settings reads its folders from the environment (DATA_DIR, OUT_DIR).
SETTINGS_WORDS = {"os", "environ", "getenv", "Path", "pathlib"}
LITERAL_NUMBERS = 200  # numbers written in one cell (the course's cells: at most 57)
LITERAL_CHARACTERS = 4000  # characters of one string literal (a table, encoded)

# Names that are harmless as methods: `model.eval()` is not `eval(...)`.
METHODS = {"eval", "exec", "compile", "inspect"}


def _in_string(word: str, literal: str) -> bool:
    """Whether a string literal names `word`: anywhere in it, except the words that are also
    English or method names ("in eval mode" in a docstring), which only a literal holding that
    one word names (``getattr(builtins, "eval")``)."""
    if word not in METHODS and word not in PROCESS_WORDS:
        return word in literal
    return literal.lstrip("rbuRBU").strip("'\"").strip() == word


def _words(source: str) -> list[str]:
    """Names and attribute names in `source`, plus the words inside its string literals."""
    words, previous = [], ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.NAME and not (previous == "." and token.string in METHODS):
                words.append(token.string)
            elif token.type == tokenize.STRING:
                words += [w for w in WORDS if _in_string(w, token.string)]
            previous = token.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        words += [w for w in REVIEW_WORDS if w in source]  # broken cells: a plain text search
        words += [w for w in PROCESS_WORDS if re.search(rf"\b{re.escape(w)}\b", source)]
    if "kws.grading" in source:
        words.append("kws.grading")
    return words


def review_flags(notebook: Path, cells: Iterable[Cells] = ()) -> list[str]:
    """One line per cell the grading child runs (the model cells, and those `cells` name: the
    spec's, `kws.spec.Spec.cells`) that uses something in REVIEW_WORDS; [] when none does."""
    from kws.grading.protocol.handin import child_cells

    flags = []
    for label, cell in child_cells(notebook, cells):
        allowed = SETTINGS_WORDS if label.startswith("parameters") else set()
        found = {w: WORDS[w] for w in _words(cell.source) if w in WORDS and w not in allowed}
        if found:
            what = sorted(set(found.values()))
            words = ", ".join(sorted(found))
            flags.append(f"{notebook.name}, {label}: {'; '.join(what)} ({words})")
        flags += [f"{notebook.name}, {label}: {table}" for table in _literal_tables(cell.source)]
    return flags


def _literal_tables(source: str) -> list[str]:
    """A sentence per kind of table written into `source`: many numbers, or a long string."""
    try:
        nodes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant)]
    except (SyntaxError, ValueError):
        return []
    numbers = sum(isinstance(n.value, int | float) and not isinstance(n.value, bool) for n in nodes)
    longest = max((len(n.value) for n in nodes if isinstance(n.value, str | bytes)), default=0)
    found = []
    if numbers > LITERAL_NUMBERS:
        found.append(f"{numbers} numbers written in the code (a table of values, not a model)")
    if longest > LITERAL_CHARACTERS:
        found.append(f"a literal of {longest} characters (data written into the code)")
    return found


def submission_flags(
    submission: Path, notebook_name: str, cells: Iterable[Cells] = ()
) -> list[str]:
    """`review_flags` of the submission's notebook `notebook_name` (found anywhere inside it),
    with the cells its spec names (`cells`)."""
    found = [
        p
        for p in sorted(Path(submission).rglob(notebook_name))
        if ".ipynb_checkpoints" not in p.parts and p.is_file() and not p.is_symlink()
    ]
    flags = []
    for path in found[:3]:
        try:
            flags += review_flags(path, cells)
        except Exception as error:  # an unreadable notebook is the child's to report
            flags.append(f"{path.name}: could not be read for review ({type(error).__name__})")
    return flags
