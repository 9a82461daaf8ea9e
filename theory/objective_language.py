"""Safe parsing of a model's objective: text → SymPy matrix expression, nothing executed.

The language (docs/extending.md, "Derive a model from its objective"):

- matrices ``W`` (C × m), ``Phi`` (m × n), ``Y`` (C × n); ``I`` (the identity of the size its neighbours fix);
  ``ones(n)`` (the n × 1 vector of ones); scalars ``lam``, ``mu``; every symbol named in the declarations;
- ``+ -`` (of scalars, or of matrices of one shape), ``*`` (scalar times scalar or matrix), ``/`` by a scalar,
  ``@`` (matrix product), ``.T`` (transpose), ``**`` with an integer exponent on a scalar;
- ``inv(X)`` (inverse of a square matrix), ``tr(X)`` (trace of a square matrix), ``fro2(X)`` = ‖X‖²_F = tr(XXᵀ).

Declarations name the extra symbols and what they are: ``"positive"``, ``"nonnegative"``, ``"real"`` for scalars;
``"R x K [symmetric] [diagonal] [positive definite | positive semidefinite]"`` for matrices, R and K each one of
n, m, C, 1 (``"n x n symmetric positive definite"``, ``"m x n"``, ``"C x 1"``).

The text is tokenised with Python's ``tokenize``; every token is checked against the whitelist before anything is
built, and a recursive-descent parser builds the expression from the tokens (no ``eval``, no ``sympify``), with
its shapes checked at every operation. The objective must be a scalar that depends on ``Phi``.

>>> parse_objective("0.5*fro2(W@Phi - Y) + lam/2*fro2(W) + mu/2*fro2(Phi)").objective
lambda*Trace(W*W.T)/2 + mu*Trace(Phi*Phi.T)/2 + Trace((W*Phi - Y)*(Phi.T*W.T - Y.T))/2
>>> parse_objective("__import__('os')")
Traceback (most recent call last):
...
ValueError: objective text: name '__import__' is not allowed; use W, Phi, Y, I, lam, mu, the declared symbols or the functions fro2, inv, ones, tr
"""
from __future__ import annotations

import io
import keyword
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp

from theory import limits, notation as nt

MAX_LENGTH = 2000
MAX_DEPTH = 50
#: an integer exponent of a scalar may not exceed this in magnitude (tr(K)**64 is already far beyond any use)
MAX_EXPONENT = 64
MAX_DECLARATIONS = 32
#: the all-ones column (a symbol, so that steps read b𝟏ᵀ)
ONES = sp.MatrixSymbol("𝟏", nt.n, 1)

FUNCTIONS = ("fro2", "inv", "ones", "tr")
RESERVED = {"W": nt.W, "Phi": nt.Phi, "Y": nt.Y, "lam": nt.lam, "mu": nt.mu}
OPERATORS = {"+", "-", "*", "/", "**", "@", "(", ")", ".", ","}
SIZES = {"n": nt.n, "m": nt.m, "C": nt.C, "1": sp.Integer(1)}
SCALAR_KINDS = {"positive": {"positive": True}, "nonnegative": {"nonnegative": True}, "real": {"real": True}}
MATRIX_PROPERTIES = ("symmetric", "diagonal", "positive definite", "positive semidefinite")


@dataclass(frozen=True)
class Declared:
    """What a declared matrix is: its properties (symmetric, diagonal, definite)."""

    symmetric: bool = False
    diagonal: bool = False
    definite: str = ""  # "", "positive definite" or "positive semidefinite"


@dataclass(frozen=True)
class ParsedObjective:
    """The objective as a SymPy scalar, with the symbols it may use and what each declared one is."""

    text: str
    objective: sp.Expr
    scalars: dict = field(default_factory=dict)  # name → Symbol (declared scalars only)
    matrices: dict = field(default_factory=dict)  # name → MatrixSymbol (declared matrices only)
    properties: dict = field(default_factory=dict)  # MatrixSymbol → Declared

    @property
    def symmetric(self) -> frozenset:
        """The matrices known to be symmetric: K, S and the declared symmetric ones."""
        return frozenset({nt.K, nt.S} | {M for M, d in self.properties.items() if d.symmetric})


def _error(message: str) -> ValueError:
    return ValueError(f"objective text: {message}")


def parse_declarations(declare: Mapping | None) -> tuple[dict, dict, dict]:
    """(scalars, matrices, properties) from ``{"name": "what it is"}``; ValueError naming the bad entry."""
    if declare is None:
        return {}, {}, {}
    if not isinstance(declare, Mapping):
        raise TypeError(f"declare must be a dict {{name: description}}, got {type(declare).__name__}")
    if len(declare) > MAX_DECLARATIONS:
        raise ValueError(f"declare: at most {MAX_DECLARATIONS} symbols, got {len(declare)}")
    scalars, matrices, properties = {}, {}, {}
    for name, what in declare.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,30}", name) or keyword.iskeyword(name):
            raise ValueError(f"declare: {name!r} is not a plain name (a letter, then letters, digits or _)")
        if name in RESERVED or name in FUNCTIONS or name in ("I", "K", "S", "n", "m", "C"):
            raise ValueError(f"declare: {name!r} is a name of the language itself; choose another")
        if not isinstance(what, str):
            raise ValueError(f"declare[{name!r}]: expected a description such as 'positive' or 'n x n symmetric', "
                             f"got {what!r}")
        text = " ".join(what.lower().split())
        if text in SCALAR_KINDS:
            scalars[name] = sp.Symbol(name, **SCALAR_KINDS[text])
            continue
        found = re.fullmatch(r"([nmc1]) x ([nmc1])((?: [a-z]+)*)", text)
        if not found:
            raise ValueError(f"declare[{name!r}] = {what!r}: expected 'positive', 'nonnegative', 'real' or "
                             "'R x K [symmetric] [diagonal] [positive definite|positive semidefinite]' with R, K "
                             "each one of n, m, C, 1")
        rows, cols = (SIZES["C" if d == "c" else d] for d in found.group(1, 2))
        rest = found.group(3).strip()
        flags = {}
        for prop in MATRIX_PROPERTIES:
            if prop in rest:
                flags[prop] = True
                rest = rest.replace(prop, "", 1).strip()
        if rest:
            raise ValueError(f"declare[{name!r}]: unknown property {rest!r}; use {', '.join(MATRIX_PROPERTIES)}")
        definite = [p for p in ("positive definite", "positive semidefinite") if flags.get(p)]
        if len(definite) > 1:
            raise ValueError(f"declare[{name!r}]: choose one of 'positive definite' and 'positive semidefinite'")
        special = flags.get("symmetric") or flags.get("diagonal") or definite
        if special and rows != cols:
            raise ValueError(f"declare[{name!r}]: only a square matrix can be symmetric, diagonal or definite")
        M = sp.MatrixSymbol(name, rows, cols)
        matrices[name] = M
        properties[M] = Declared(symmetric=bool(flags.get("symmetric") or flags.get("diagonal") or definite),
                                 diagonal=bool(flags.get("diagonal")), definite=definite[0] if definite else "")
    return scalars, matrices, properties


class _Eye:
    """``c·I`` whose size is not known yet: fixed by the matrix it meets in a sum or product."""

    def __init__(self, coeff=sp.Integer(1)):
        self.coeff = coeff

    def sized(self, size) -> sp.MatrixExpr:
        return self.coeff * sp.Identity(size)


def _is_matrix(x) -> bool:
    return isinstance(x, (sp.MatrixExpr, _Eye))


def _shape(x) -> str:
    return "a scalar" if not _is_matrix(x) else ("I" if isinstance(x, _Eye) else f"{x.shape[0]} × {x.shape[1]}")


def _tokens(text: str, names: dict) -> list[tuple[str, str]]:
    hint = "use W, Phi, Y, I, lam, mu, the declared symbols or the functions " + ", ".join(FUNCTIONS)
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        if "EOF" in str(message):
            message = "a parenthesis is not closed"
        raise _error(f"cannot be read ({message})") from None
    out = []
    for tok in raw:
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT):
            continue
        if tok.type == tokenize.ERRORTOKEN and tok.string.isspace():
            continue
        if tok.type == tokenize.NAME:
            if tok.string in FUNCTIONS:
                out.append(("function", tok.string))
            elif tok.string in names or tok.string in ("I", "T", "n"):
                out.append(("name", tok.string))
            else:
                raise _error(f"name {tok.string!r} is not allowed; {hint}")
        elif tok.type == tokenize.NUMBER:
            if any(ch in tok.string.lower() for ch in "jx_") or tok.string.lower().startswith(("0b", "0o")):
                raise _error(f"number {tok.string!r} is not a plain real literal")
            exponent = tok.string.lower().partition("e")[2]
            if exponent and abs(int(exponent)) > 400:
                raise _error(f"number {tok.string[:40]!r} is out of range (about 1e308 at most)")
            out.append(("number", tok.string))
        elif tok.type == tokenize.OP and tok.string in OPERATORS:
            out.append(("op", tok.string))
        elif tok.type == tokenize.OP:
            raise _error(f"operator {tok.string!r} is not allowed (only + - * / ** @ ( ) .T and function calls)")
        elif tok.type == tokenize.STRING:
            raise _error("string literals are not allowed")
        else:
            raise _error(f"unexpected token {tok.string!r}")
    return out


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/'|'@') unary)* ; unary := ('+'|'-') unary | power ;
    power := postfix ('**' unary)? ; postfix := atom ('.T')* ;
    atom := number | name | function '(' expr ')' | 'ones' '(' 'n' ')' | '(' expr ')'"""

    def __init__(self, tokens, names):
        self.tokens, self.pos, self.names, self.depth = tokens, 0, names, 0

    def peek(self, ahead: int = 0):
        k = self.pos + ahead
        return self.tokens[k] if k < len(self.tokens) else ("end", "")

    def take(self, value=None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            found = "the end of the text" if tok[0] == "end" else repr(tok[1])
            raise _error(f"expected {value!r}, found {found}")
        self.pos += 1
        return tok

    def parse(self):
        if not self.tokens:
            raise _error("the objective is empty")
        value = self.expr()
        if self.peek()[0] != "end":
            raise _error(f"unexpected {self.peek()[1]!r} after a complete expression")
        return value

    def expr(self):
        value = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            value = _add(value, self.term(), op)
        return value

    def term(self):
        value = self.unary()
        while self.peek()[1] in ("*", "/", "@"):
            op = self.take()[1]
            value = _multiply(value, self.unary(), op)
        return value

    def unary(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(f"nested more than {MAX_DEPTH} levels deep")
        if self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            value = self.unary()
            value = value if op == "+" else _scale(value, -1)
        else:
            value = self.power()
        self.depth -= 1
        return value

    def power(self):
        base = self.postfix()
        if self.peek()[1] == "**":
            self.take()
            exponent = self.unary()
            if _is_matrix(base):
                raise _error("'**' applies to scalars only (write matrix products with @)")
            if _is_matrix(exponent) or not (exponent.is_Integer and abs(exponent) <= MAX_EXPONENT):
                raise _error(f"an exponent must be an integer of magnitude at most {MAX_EXPONENT}, got {exponent}")
            if exponent < 0 and base == 0:
                raise _error("division by zero")
            return base**exponent
        return base

    def postfix(self):
        value = self.atom()
        while self.peek()[1] == ".":
            self.take()
            kind, name = self.take()
            if name != "T":
                raise _error(f"only '.T' may follow a '.', found {name!r}")
            if not _is_matrix(value):
                raise _error("'.T' applies to a matrix, got a scalar")
            value = value if isinstance(value, _Eye) else value.T
        return value

    def atom(self):
        kind, value = self.take()
        if kind == "number":
            return sp.Rational(value)
        if kind == "name":
            if value == "I":
                return _Eye()
            if value in ("T", "n"):
                raise _error(f"{value!r} is only allowed as " + ("'.T'" if value == "T" else "'ones(n)'"))
            return self.names[value]
        if kind == "function":
            self.take("(")
            if value == "ones":
                size = self.take()
                if size[1] != "n":
                    raise _error("ones(...) takes n (the n × 1 vector of ones), got " + repr(size[1]))
                self.take(")")
                return ONES
            arg = self.expr()
            self.take(")")
            return _function(value, arg)
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        found = "the end of the text" if kind == "end" else repr(value)
        raise _error(f"expected a number, a name, a function call or '(', found {found}")


def _scale(x, c):
    if isinstance(x, _Eye):
        return _Eye(x.coeff * c)
    return c * x


def _add(a, b, op):
    b = b if op == "+" else _scale(b, -1)
    if isinstance(a, _Eye) and isinstance(b, _Eye):
        return _Eye(a.coeff + b.coeff)
    if isinstance(a, _Eye) or isinstance(b, _Eye):
        other = b if isinstance(a, _Eye) else a
        eye = a if isinstance(a, _Eye) else b
        if not _is_matrix(other):
            raise _error("cannot add I to a scalar (write c*I for a matrix, or drop I)")
        if other.shape[0] != other.shape[1]:
            raise _error(f"cannot add I to a {_shape(other)} matrix (not square)")
        return other + eye.sized(other.shape[0])
    if _is_matrix(a) != _is_matrix(b):
        raise _error(f"cannot {'add' if op == '+' else 'subtract'} {_shape(b)} and {_shape(a)}")
    if _is_matrix(a) and a.shape != b.shape:
        raise _error(f"cannot {'add' if op == '+' else 'subtract'} a {_shape(a)} and a {_shape(b)} matrix")
    return a + b


def _multiply(a, b, op):
    if op == "/":
        if _is_matrix(b):
            raise _error("'/' divides by a scalar only (use inv(...) for a matrix)")
        if b == 0:
            raise _error("division by zero")
        return _scale(a, 1 / b)
    if op == "*":
        if _is_matrix(a) and _is_matrix(b):
            raise _error(f"'*' multiplies by a scalar; for the product of a {_shape(a)} and a {_shape(b)} matrix "
                         "use @")
        if _is_matrix(b):
            a, b = b, a
        return _scale(a, b)
    if not (_is_matrix(a) and _is_matrix(b)):
        raise _error(f"'@' multiplies two matrices, got {_shape(a)} and {_shape(b)} (use * for scalars)")
    if isinstance(a, _Eye) and isinstance(b, _Eye):
        return _Eye(a.coeff * b.coeff)
    if isinstance(a, _Eye):
        return a.coeff * b
    if isinstance(b, _Eye):
        return b.coeff * a
    if a.shape[1] != b.shape[0]:
        raise _error(f"cannot multiply a {_shape(a)} by a {_shape(b)} matrix (inner sizes differ)")
    return a * b


def _function(name, arg):
    if isinstance(arg, _Eye):
        if name == "inv":
            if arg.coeff == 0:
                raise _error("inv of the zero matrix")
            return _Eye(1 / arg.coeff)
        raise _error(f"{name}(I): the size of I is not fixed; write it next to a matrix")
    if not _is_matrix(arg):
        raise _error(f"{name}(...) takes a matrix, got a scalar")
    if name == "fro2":
        return sp.Trace(arg * arg.T)
    if arg.shape[0] != arg.shape[1]:
        raise _error(f"{name}(...) takes a square matrix, got a {_shape(arg)} one")
    return sp.Trace(arg) if name == "tr" else sp.Inverse(arg)


def parse_objective(text: str, declare: Mapping | None = None) -> ParsedObjective:
    """The objective ``text`` in the language of this module, with ``declare``'s symbols (ValueError when not allowed)."""
    if not isinstance(text, str):
        raise TypeError(f"objective must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise _error(f"longer than {MAX_LENGTH} characters")
    scalars, matrices, properties = parse_declarations(declare)
    names = {**RESERVED, **scalars, **matrices}
    try:
        value = _Parser(_tokens(text, names), names).parse()
    except RecursionError:
        raise limits.SymbolicLimitError("objective text: nested too deeply for SymPy to build") from None
    if _is_matrix(value):
        raise _error(f"the objective must be a scalar, got {_shape(value)} matrix (wrap it in tr(...) or fro2(...))")
    value = sp.sympify(value)
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise _error(f"the objective must be finite; it simplifies to {value}")
    if not value.has(nt.Phi):
        raise _error("the objective must depend on the features Phi")
    limits.check_size(value, (), what="objective text")
    return ParsedObjective(text, value, scalars, matrices, properties)
