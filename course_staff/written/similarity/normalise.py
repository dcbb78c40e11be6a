"""Python code brought to one canonical form before it is fingerprinted, with the standard library's ``ast``.

A copier's cheap disguises change the text but not the program; each is undone here so that a copy
and its source give the same tokens:

- parentheses vanish by parsing; constant expressions fold (``(2) * (3)`` is ``6``, ``-(1)`` is ``-1``,
  ``float(3)`` is ``3.0``);
- statements whose result is never used are dropped: bare expressions that call nothing (``x``,
  ``(1)``, a string), ``pass``, and assignments that call nothing to names that nothing in the
  submission reads (``junk = 0`` after every line), repeated until nothing more goes;
- a loop that only fills a fresh list, set or dict, or only adds to a counter started at 0, becomes the
  equivalent comprehension (``ys = []`` + ``for x in xs: if c: ys.append(f(x))`` is
  ``ys = [f(x) for x in xs if c]``; ``t = 0`` + ``for x in xs: t += e`` is ``t = sum(e for x in xs)``);
  ``list(<generator>)`` is a list comprehension, and ``sum``/``any``/``all``/``min``/``max`` of a list
  comprehension take the generator;
- ``a += b`` is ``a = a + b``;
- runs of simple statements that do not depend on each other (by the names they read and write) are
  put in one order (the smallest canonical text first among those ready), so swapping independent
  lines changes nothing;
- every name that is not a builtin becomes ``V`` (variables, arguments, functions, classes); attribute
  names and keywords stay, as the library calls they name are the work's substance.

``tokens(cells)`` gives the canonical tokens of a submission's cells, each with the line of the
submission's code it comes from (for the side-by-side view); a cell that does not parse, even with its
IPython magics blanked, is left to the caller's token path (``None`` in its place).
"""

from __future__ import annotations

import ast
import builtins
import copy
import io
import operator
import re
import tokenize
from collections.abc import Sequence

BUILTINS = frozenset(dir(builtins))
NAME = "V"
# Operators folded on constants; ``**`` and ``<<`` only with small right operands (no huge numbers).
BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
          ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitAnd: operator.and_,
          ast.BitOr: operator.or_, ast.BitXor: operator.xor}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert, ast.Not: operator.not_}
CASTS = {"int": int, "float": float, "complex": complex, "str": str, "bool": bool}
REDUCERS = {"sum", "any", "all", "min", "max", "sorted", "tuple", "set"}
SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Import, ast.ImportFrom)
MAGIC = re.compile(r"^\s*[%!]|^\s*\w[\w.]*\?\s*$")  # IPython magics, shell escapes and help lines
_STMT_LISTS = ("body", "orelse", "finalbody")


def _number(value) -> bool:
    return isinstance(value, (int, float, complex))  # bool included: it is an int


class _Fold(ast.NodeTransformer):
    """Constant expressions to their value; ``list(genexp)`` to a list comprehension; reducers take generators."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        left, right, op = node.left, node.right, BINARY.get(type(node.op))
        if op and isinstance(left, ast.Constant) and isinstance(right, ast.Constant) \
                and _number(left.value) and _number(right.value):
            if isinstance(node.op, (ast.Pow, ast.LShift)) and not (isinstance(right.value, int) and abs(right.value) <= 64):
                return node
            try:
                return ast.copy_location(ast.Constant(op(left.value, right.value)), node)
            except (ArithmeticError, ValueError, TypeError):
                return node
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.operand, ast.Constant) and _number(node.operand.value):
            try:
                return ast.copy_location(ast.Constant(UNARY[type(node.op)](node.operand.value)), node)
            except (ArithmeticError, ValueError, TypeError):
                return node
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func.id if isinstance(node.func, ast.Name) else None
        if func in CASTS and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant):
            try:
                return ast.copy_location(ast.Constant(CASTS[func](node.args[0].value)), node)
            except (ArithmeticError, ValueError, TypeError):
                return node
        if func == "list" and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.GeneratorExp):
            gen = node.args[0]
            return ast.copy_location(ast.ListComp(gen.elt, gen.generators), node)
        if func in REDUCERS and node.args and isinstance(node.args[0], ast.ListComp):
            comp = node.args[0]
            node.args[0] = ast.copy_location(ast.GeneratorExp(comp.elt, comp.generators), comp)
        return node


def _loads(tree: ast.AST) -> set[str]:
    """Every name read anywhere (loads, ``del``, ``global``/``nonlocal``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    return names


def _calls(node: ast.AST) -> bool:
    return any(isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)) for n in ast.walk(node))


def _dead(stmt: ast.stmt, read: set[str]) -> ast.stmt | None:
    """None if ``stmt``'s result is never used (nothing called, nothing read); else ``stmt``."""
    if isinstance(stmt, ast.Pass):
        return None
    if isinstance(stmt, ast.Expr):
        return stmt if _calls(stmt.value) else None
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] \
        if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) else None
    if targets is None or not all(isinstance(t, ast.Name) and t.id not in read for t in targets):
        return stmt
    value = stmt.value
    # an unread name given a call's value stays: the call is work (and a name read in a cell the
    # comparison never sees, or renamed in one cell only, must not change the statement's tokens)
    return stmt if value is not None and _calls(value) else None


def _accumulation(body: list[ast.stmt], name: str, kind: str):
    """(generators' tails, element) if ``body`` only adds one item to ``name``; None otherwise."""
    if len(body) != 1:
        return None
    stmt = body[0]
    if isinstance(stmt, ast.If) and not stmt.orelse:
        inner = _accumulation(stmt.body, name, kind)
        return None if inner is None else ([("if", stmt.test)] + inner[0], inner[1])
    if isinstance(stmt, ast.For) and not stmt.orelse:
        inner = _accumulation(stmt.body, name, kind)
        return None if inner is None else ([("for", stmt)] + inner[0], inner[1])
    if kind in ("list", "set") and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        method = "append" if kind == "list" else "add"
        if isinstance(call.func, ast.Attribute) and call.func.attr == method and isinstance(call.func.value, ast.Name) \
                and call.func.value.id == name and len(call.args) == 1 and not call.keywords:
            return [], call.args[0]
    if kind == "dict" and isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == name:
            return [], (target.slice, stmt.value)
    if kind == "sum" and isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add) \
            and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
        return [], stmt.value
    if kind == "sum" and isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == name \
            and isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.op, ast.Add) \
            and isinstance(stmt.value.left, ast.Name) and stmt.value.left.id == name:
        return [], stmt.value.right  # ``t += e`` already made ``t = t + e`` by the inner block
    return None


def _fresh(stmt: ast.stmt) -> tuple[str, str] | None:
    """(name, kind) if ``stmt`` starts an empty container or a zero counter in a plain name."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return None
    value, name = stmt.value, stmt.targets[0].id
    if isinstance(value, ast.List) and not value.elts:
        return name, "list"
    if isinstance(value, ast.Dict) and not value.keys:
        return name, "dict"
    if isinstance(value, ast.Constant) and value.value == 0 and not isinstance(value.value, bool):
        return name, "sum"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and not value.args and not value.keywords:
        return {"list": (name, "list"), "set": (name, "set"), "dict": (name, "dict")}.get(value.func.id)
    return None


def _loop_to_comprehension(first: ast.stmt, loop: ast.stmt) -> ast.stmt | None:
    fresh = _fresh(first)
    if fresh is None or not isinstance(loop, ast.For) or loop.orelse:
        return None
    name, kind = fresh
    found = _accumulation(loop.body, name, kind)
    if found is None:
        return None
    tails, element = found
    generators = [ast.comprehension(loop.target, loop.iter, [], 0)]
    for what, part in tails:
        if what == "if":
            generators[-1].ifs.append(part)
        else:
            generators.append(ast.comprehension(part.target, part.iter, [], 0))
    if name in _loads(ast.Module([ast.Expr(g.iter) for g in generators], [])):
        return None  # the loop reads what it builds: not a comprehension
    if kind == "list":
        value = ast.ListComp(element, generators)
    elif kind == "set":
        value = ast.SetComp(element, generators)
    elif kind == "dict":
        value = ast.DictComp(element[0], element[1], generators)
    else:
        value = ast.Call(ast.Name("sum", ast.Load()), [ast.GeneratorExp(element, generators)], [])
    return ast.copy_location(ast.Assign([ast.Name(name, ast.Store())], value), first)


def _augmented(stmt: ast.stmt) -> ast.stmt:
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        load = ast.Name(stmt.target.id, ast.Load())
        return ast.copy_location(ast.Assign([ast.Name(stmt.target.id, ast.Store())],
                                            ast.BinOp(load, stmt.op, stmt.value)), stmt)
    return stmt


def _base(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _effects(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """(names read, names written) by a simple statement; an item store or a bare method call writes its object."""
    reads, writes = set(), set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name):
            (writes if isinstance(node.ctx, ast.Store) else reads).add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, ast.Store):
            if (base := _base(node)) is not None:
                writes.add(base)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(stmt, ast.Expr):
            # a method called for its effect (``ys.append(x)``, ``opt.step()``) changes its object; one whose
            # value is kept (``x = torch.zeros(3)``) is taken not to, or every library call would be a barrier
            if (base := _base(node.func.value)) is not None:
                writes.add(base)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            writes.update((a.asname or a.name).split(".")[0] for a in node.names)
    return reads, writes


def _canonical_order(run: list[ast.stmt]) -> list[ast.stmt]:
    """The run's statements in one order that keeps every name dependency (smallest canonical text first)."""
    if len(run) < 2:
        return run
    effects = [_effects(s) for s in run]
    keys = [ast.unparse(_renamed(copy.deepcopy(s))) for s in run]
    after = {j: {i for i in range(j) if effects[i][1] & (effects[j][0] | effects[j][1]) or effects[i][0] & effects[j][1]}
             for j in range(len(run))}
    done: list[int] = []
    while len(done) < len(run):
        ready = [j for j in range(len(run)) if j not in done and after[j] <= set(done)]
        done.append(min(ready, key=lambda j: (keys[j], j)))
    return [run[j] for j in done]


def _block(stmts: list[ast.stmt], read: set[str]) -> list[ast.stmt]:
    """One statement list normalised (nested blocks first)."""
    for stmt in stmts:
        for field in _STMT_LISTS:
            block = getattr(stmt, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                # a block left empty keeps a ``pass`` (the tree must stay valid Python)
                setattr(stmt, field, _block(block, read) or [ast.copy_location(ast.Pass(), stmt)])
        for handler in getattr(stmt, "handlers", []):
            handler.body = _block(handler.body, read) or [ast.copy_location(ast.Pass(), handler)]
    out: list[ast.stmt] = []
    i = 0
    while i < len(stmts):
        if i + 1 < len(stmts) and (comp := _loop_to_comprehension(stmts[i], stmts[i + 1])) is not None:
            out.append(comp)
            i += 2
            continue
        kept = _dead(stmts[i], read)
        if kept is not None:
            out.append(_augmented(kept))
        i += 1
    ordered, run = [], []
    for stmt in out:
        if isinstance(stmt, SIMPLE):
            run.append(stmt)
            continue
        ordered += _canonical_order(run) + [stmt]
        run = []
    return ordered + _canonical_order(run)


class _Rename(ast.NodeTransformer):
    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id not in BUILTINS:
            node.id = NAME
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        self.generic_visit(node)
        node.arg = NAME
        return node

    def _named(self, node):
        self.generic_visit(node)
        node.name = NAME
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _named

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:
        self.generic_visit(node)
        if node.name:
            node.name = NAME
        return node


def _renamed(node: ast.AST) -> ast.AST:
    return _Rename().visit(node)


def parse(source: str) -> ast.Module | None:
    """The cell's tree, IPython magics and shell lines blanked (line numbers kept); None if it does not parse."""
    text = "\n".join("" if MAGIC.match(line) else line for line in source.splitlines())
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None


def normalise(trees: Sequence[ast.Module | None]) -> list[ast.Module | None]:
    """The cells' trees in canonical form (in place); names read in any cell count as read in all."""
    read: set[str] = set()
    for tree in trees:
        if tree is not None:
            _Fold().visit(tree)
    for _ in range(4):  # dropping a dead statement can make another one dead
        read = set().union(*(_loads(t) for t in trees if t is not None))
        before = sum(len(list(ast.walk(t))) for t in trees if t is not None)
        for tree in trees:
            if tree is not None:
                tree.body = _block(tree.body, read)
        if sum(len(list(ast.walk(t))) for t in trees if t is not None) == before:
            break
    for tree in trees:
        if tree is not None:
            _renamed(tree)
    return list(trees)


def _words(text: str) -> list[str]:
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING) or \
                    tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        out = text.split()
    return out


def _header(stmt: ast.stmt) -> str:
    shell = copy.copy(stmt)
    for field in (*_STMT_LISTS, "handlers"):
        if isinstance(getattr(shell, field, None), list):
            setattr(shell, field, [])
    try:
        return ast.unparse(shell)
    except Exception:  # noqa: BLE001 - a node type unparse cannot show without its body: its name will do
        return type(stmt).__name__


def stream(tree: ast.Module) -> list[tuple[str, int]]:
    """The canonical tree's tokens, each with the line (of the cell) its statement starts on; blocks bracketed."""
    out: list[tuple[str, int]] = []

    def emit(stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            compound = any(isinstance(getattr(stmt, f, None), list) and getattr(stmt, f) and
                           isinstance(getattr(stmt, f)[0], ast.stmt) for f in (*_STMT_LISTS, "handlers"))
            if not compound:
                out.extend((w, stmt.lineno) for w in _words(ast.unparse(stmt)))
                continue
            out.extend((w, stmt.lineno) for w in _words(_header(stmt)))
            for field in (*_STMT_LISTS, "handlers"):
                block = getattr(stmt, field, None)
                if not block:
                    continue
                out.append((f"{field}{{", stmt.lineno))
                if field == "handlers":
                    for handler in block:
                        out.extend((w, handler.lineno) for w in _words(_header(handler)))
                        emit(handler.body)
                else:
                    emit(block)
                out.append(("}", stmt.lineno))

    emit(tree.body)
    return out
