"""Code as a token stream that survives cheap disguises, for `kws report`'s similarity flags.

The code is parsed, never run: comments and layout, the names it binds itself (``V``), string
contents (``S``) and the order of independent statements are normalised away; library names stay
(docs/reference/similarity.md). A cell that does not parse is tokenised line by line instead.
"""

from __future__ import annotations

import ast
import functools
import io
import keyword
import re
import tokenize
from typing import NamedTuple

_IPYTHON = re.compile(r"^\s*[!%]", re.MULTILINE)
_SKIPPED_NODES = {ast.Load, ast.Store, ast.Del}  # the context a name is used in


class Token(NamedTuple):
    """One normalised token and where it came from: compared cell `cell`, source line `line`."""

    text: str
    cell: int
    line: int


def _source(cell: str) -> str:
    if not _IPYTHON.search(cell):
        return cell
    from kws.notebooks import python_source  # IPython only when a cell has magics

    return python_source(cell)


def _bound_names(tree: ast.AST) -> set[str]:
    """The names `tree` binds itself: these are the ones a copier renames."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.alias) and node.asname:
            names.add(node.asname)
    return names


def _chain(node: ast.AST) -> str | None:
    """``self.proj.weight`` for an attribute chain on a name, the name for a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# The nodes that name something, and the field holding the name.
_NAMED = {ast.Name: "id", ast.Attribute: "attr", ast.arg: "arg"}
_NAMED |= dict.fromkeys(_DEFINITIONS, "name")
# Statements (and expressions) that keep their place: they end, jump or wait.
_FIXED = (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Delete, ast.Global, ast.Nonlocal)
_FIXED += (ast.Yield, ast.YieldFrom, ast.Await, ast.Pass, ast.Assert)


class _Effects:
    """What a statement reads and writes (name chains such as ``self.proj``), or `fixed`."""

    __slots__ = ("reads", "writes", "fixed", "touched", "around", "around_writes")

    def __init__(self):
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self.fixed = False

    def merge(self, other: _Effects) -> None:
        self.reads |= other.reads
        self.writes |= other.writes
        self.fixed |= other.fixed

    def close(self) -> _Effects:
        """Prepare the sets `_conflict` compares: the chains touched, and with their prefixes
        (``self.proj.weight`` -> ``self``, ``self.proj``, ``self.proj.weight``)."""
        self.touched = self.reads | self.writes
        self.around = {p for c in self.touched for p in _prefixes(c)}
        self.around_writes = {p for c in self.writes for p in _prefixes(c)}
        return self


def _prefixes(chain: str) -> list[str]:
    parts = chain.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def _conflict(a: _Effects, b: _Effects) -> bool:
    """Whether one statement writes a chain the other reads or writes, or a chain inside it or
    around it (`self.proj` and `self`); a fixed statement conflicts with everything."""
    if a.fixed or b.fixed:
        return True
    return not (
        a.writes.isdisjoint(b.around)
        and b.touched.isdisjoint(a.around_writes)
        and b.writes.isdisjoint(a.around)
        and a.touched.isdisjoint(b.around_writes)
    )


def _expression_statement(stmt: ast.Expr, effects: _Effects) -> None:
    """``windows.append(x)`` writes ``windows``; any other bare expression keeps its place
    (``print(...)``, ``super().__init__()``, a docstring)."""
    call = stmt.value
    method = isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
    receiver = _chain(call.func.value) if method else None
    if receiver is None:
        effects.fixed = True
    else:
        effects.writes.add(receiver)


class _Normaliser:
    """Walks one hand-in's compared cells and emits their normalised tokens: `Token`s, or
    with ``lines=False`` only their texts (faster, for hashing)."""

    def __init__(self, bound: set[str], lines: bool = True):
        self.bound = bound
        self.token = Token if lines else lambda text, cell, line: text

    def _name(self, name: str) -> str:
        return "V" if name in self.bound else name

    def _leaf(self, node: ast.AST) -> list[str]:
        """The tokens a node adds besides its kind: its name, number or string marker."""
        kind = type(node)
        if kind in _NAMED:
            return [self._name(getattr(node, _NAMED[kind]))]
        if kind is ast.Constant:
            return ["S" if isinstance(node.value, str | bytes) else repr(node.value)]
        if kind is ast.keyword:
            return [self._name(node.arg or "**")]
        if kind is ast.alias:
            return [node.name, self._name(node.asname)] if node.asname else [node.name]
        return []

    def _record(self, node: ast.AST, effects: _Effects) -> bool:
        """Note what `node` reads or writes; True when it is a whole name chain."""
        if isinstance(node, _FIXED):
            effects.fixed = True
        elif isinstance(node, ast.alias):
            effects.writes.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.Name | ast.Attribute) and (chain := _chain(node)):
            (effects.reads if isinstance(node.ctx, ast.Load) else effects.writes).add(chain)
            return True
        return False

    def expression(
        self, node: ast.AST, cell: int, line: int, effects: _Effects, chained: bool = False
    ) -> list[Token]:
        """The tokens of `node` (pre-order); its reads and writes are added to `effects`."""
        line = getattr(node, "lineno", line)
        out = [self.token(type(node).__name__, cell, line)]
        out += [self.token(text, cell, line) for text in self._leaf(node)]
        whole_chain = not chained and self._record(node, effects)
        for field in node._fields:
            value = getattr(node, field, None)
            children = value if type(value) is list else [value]
            if children and isinstance(children[0], ast.stmt):
                tokens, inner = self.block(children, cell)
                out += tokens
                if not isinstance(node, _DEFINITIONS):  # a body defined now runs later
                    effects.merge(inner)
                continue
            for child in children:
                if isinstance(child, ast.AST) and type(child) not in _SKIPPED_NODES:
                    inside = (whole_chain or chained) and field == "value"
                    out += self.expression(child, cell, line, effects, inside)
        if isinstance(node, ast.AugAssign) and (chain := _chain(node.target)):
            effects.reads.add(chain)
        return out

    def block(self, stmts: list[ast.stmt], cell: int) -> tuple[list[Token], _Effects]:
        """The tokens of a block, its independent statements in canonical order, and what the
        whole block reads and writes."""
        tokens, effects, whole = [], [], _Effects()
        for stmt in stmts:
            effects.append(_Effects())
            tokens.append(self.expression(stmt, cell, stmt.lineno, effects[-1]))
            if isinstance(stmt, ast.Expr):
                _expression_statement(stmt, effects[-1])
            whole.merge(effects[-1])
        if len(stmts) == 1:
            return tokens[0], whole

        @functools.cache
        def key(j: int) -> tuple[str, int]:
            return " ".join(t if isinstance(t, str) else t.text for t in tokens[j]), j

        closed = [e.close() for e in effects]
        after = [
            {i for i in range(j) if _conflict(closed[i], closed[j])} for j in range(len(stmts))
        ]
        done: list[int] = []
        while len(done) < len(stmts):  # the smallest key among the statements free to go next
            placed = set(done)
            ready = [j for j in range(len(stmts)) if j not in placed and after[j] <= placed]
            done.append(ready[0] if len(ready) == 1 else min(ready, key=key))
        return [token for j in done for token in tokens[j]], whole


def _plain_tokens(source: str, cell: int) -> list[Token]:
    """Tokens of code that does not parse: names V, strings S, comments and layout dropped."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME:
                text = tok.string if keyword.iskeyword(tok.string) else "V"
            elif tok.type == tokenize.STRING:
                text = "S"
            elif tok.type in (tokenize.OP, tokenize.NUMBER):
                text = tok.string
            else:
                continue
            out.append(Token(text, cell, tok.start[0]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # keep what was read before the error
    return out


def normalised_tokens(cells: list[str], *, lines: bool = True) -> list[Token] | list[str]:
    """The normalised token stream of a hand-in's compared cells (the module docstring);
    ``lines=False``: the token texts only."""
    trees: list[ast.Module | None] = []
    for cell in cells:
        try:
            trees.append(ast.parse(_source(cell)))
        except (SyntaxError, ValueError):
            trees.append(None)
    bound = set().union(*(_bound_names(t) for t in trees if t is not None))
    walker = _Normaliser(bound, lines)
    tokens = []
    for number, (cell, tree) in enumerate(zip(cells, trees, strict=True)):
        if tree is not None:
            tokens += walker.block(tree.body, number)[0]
        else:
            tokens += [t if lines else t.text for t in _plain_tokens(cell, number)]
    return tokens
