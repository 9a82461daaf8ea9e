"""Safe parsing of a user's per-sample loss: text → SymPy expression, nothing executed.

The text is tokenised with Python's ``tokenize`` and every token is checked against a whitelist
*before* anything is built: names must be outputs ``f1..fC``, targets ``y1..yC``, the constants
``pi``/``E``, or one of the functions in :data:`FUNCTIONS` (and a function name must be followed by
``(``); numbers must be real literals; operators are ``+ - * / ** ( ) ,``. A small recursive-descent
parser then builds the SymPy expression from those tokens directly — no ``eval``, no ``sympify`` of
the text — so attribute access, dunder names, calls of anything else, statements, lambdas,
conditionals, subscripts and comprehensions are refused with a ``ValueError`` saying what was wrong.

>>> parse_loss_text("log(1 + exp(-y1*f1))", 1)
log(1 + exp(-f1*y1))
>>> parse_loss_text("__import__('os')", 1)
Traceback (most recent call last):
...
ValueError: loss text: name '__import__' is not allowed; use f1..f1, y1..y1, pi, E or the functions abs, cosh, erf, exp, log, log1p, logcosh, max, min, sigmoid, sinh, softplus, sqrt, tanh
"""
from __future__ import annotations

import io
import tokenize

import sympy as sp

from theory import limits

MAX_LENGTH = 2000
MAX_DEPTH = 50  # nesting of parentheses, calls, signs and exponents (deeper would overflow Python's stack)
MAX_NUMBER_BITS = 1024  # every numerator and denominator stays below 2**1024 (about 1e308): "9**9**9" would hang SymPy


def _softplus(x):
    return sp.log(1 + sp.exp(x))


def _sigmoid(x):
    return 1 / (1 + sp.exp(-x))


def _logcosh(x):
    return sp.log(sp.cosh(x))


#: function name → (number of arguments, builder); the only callables a loss may use
FUNCTIONS = {
    "abs": (1, sp.Abs), "cosh": (1, sp.cosh), "erf": (1, sp.erf), "exp": (1, sp.exp), "log": (1, sp.log),
    "log1p": (1, lambda x: sp.log(1 + x)), "logcosh": (1, _logcosh), "max": (2, sp.Max), "min": (2, sp.Min),
    "sigmoid": (1, _sigmoid), "sinh": (1, sp.sinh), "softplus": (1, _softplus), "sqrt": (1, sp.sqrt),
    "tanh": (1, sp.tanh),
}
CONSTANTS = {"pi": sp.pi, "E": sp.E}
OPERATORS = {"+", "-", "*", "/", "**", "(", ")", ","}


def _bits(expr) -> int:
    """log2 of the largest numerator or denominator among the rational numbers in ``expr`` (0 if none)."""
    return max((max(abs(r.p), r.q).bit_length() - 1 for r in expr.atoms(sp.Rational)), default=0)


def _sized(expr):
    if _bits(expr) > MAX_NUMBER_BITS:
        raise ValueError(f"loss text: a number is too large (more than {MAX_NUMBER_BITS} bits, about 1e308)")
    return expr


def _tokens(text: str, C: int, symbols: dict) -> list[tuple[str, str]]:
    """Whitelisted (kind, value) tokens; ValueError at the first token that is not allowed."""
    allowed = ", ".join(sorted(FUNCTIONS))
    hint = f"use f1..f{C}, y1..y{C}, pi, E or the functions {allowed}"
    out = []
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise ValueError(f"loss text: cannot be tokenised ({exc.args[0]})") from None
    for tok in raw:
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT):
            continue  # layout only (INDENT: leading whitespace)
        if tok.type == tokenize.ERRORTOKEN and tok.string.isspace():
            continue  # whitespace before an invalid character: report that character instead
        if tok.type == tokenize.NAME:
            if tok.string in symbols or tok.string in CONSTANTS:
                out.append(("name", tok.string))
            elif tok.string in FUNCTIONS:
                out.append(("function", tok.string))
            else:
                raise ValueError(f"loss text: name {tok.string!r} is not allowed; {hint}")
        elif tok.type == tokenize.NUMBER:
            if any(ch in tok.string.lower() for ch in "jx_") or tok.string.lower().startswith(("0b", "0o")):
                raise ValueError(f"loss text: number {tok.string!r} is not a plain real literal")
            exponent = tok.string.lower().partition("e")[2]
            if exponent and abs(int(exponent)) > 400:  # before sp.Rational, which would build 10**exponent
                raise ValueError(f"loss text: number {tok.string[:40]!r} is out of range (about 1e308 at most)")
            out.append(("number", tok.string))
        elif tok.type == tokenize.OP and tok.string in OPERATORS:
            out.append(("op", tok.string))
        elif tok.type == tokenize.OP:
            raise ValueError(f"loss text: operator {tok.string!r} is not allowed (only + - * / ** ( ) ,)")
        elif tok.type == tokenize.STRING:
            raise ValueError("loss text: string literals are not allowed")
        else:
            raise ValueError(f"loss text: unexpected token {tok.string!r}")
    return out


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
    unary := ('+'|'-') unary | power ; power := atom ('**' unary)? ;
    atom := number | name | function '(' expr (',' expr)* ')' | '(' expr ')'"""

    def __init__(self, tokens, symbols):
        self.tokens, self.pos, self.symbols, self.depth = tokens, 0, symbols, 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self, value=None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            found = "the end of the text" if tok[0] == "end" else repr(tok[1])
            raise ValueError(f"loss text: expected {value!r}, found {found}")
        self.pos += 1
        return tok

    def parse(self):
        if not self.tokens:
            raise ValueError("loss text is empty")
        value = self.expr()
        if self.peek()[0] != "end":
            raise ValueError(f"loss text: unexpected {self.peek()[1]!r} after a complete expression")
        return value

    def expr(self):
        value = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            rhs = self.term()
            value = _sized(value + rhs if op == "+" else value - rhs)
        return value

    def term(self):
        value = self.unary()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            rhs = self.unary()
            value = _sized(value * rhs if op == "*" else value / rhs)
        return value

    def unary(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ValueError(f"loss text is nested more than {MAX_DEPTH} levels deep")
        if self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            value = self.unary()
            value = value if op == "+" else -value
        else:
            value = self.power()
        self.depth -= 1
        return value

    def power(self):
        base = self.atom()
        if self.peek()[1] == "**":
            self.take()
            exponent = self.unary()
            if exponent.is_Rational and abs(exponent) * max(_bits(base), 1) > MAX_NUMBER_BITS:
                raise ValueError(f"loss text: a power is too large (|exponent| times the bits of the numbers in its "
                                 f"base must stay <= {MAX_NUMBER_BITS})")
            return _sized(base**exponent)
        return base

    def atom(self):
        kind, value = self.take()
        if kind == "number":
            return _sized(sp.Rational(value))  # decimal literals are exact rationals (0.5 → 1/2)
        if kind == "name":
            return self.symbols.get(value, CONSTANTS.get(value))
        if kind == "function":
            arity, build = FUNCTIONS[value]
            self.take("(")
            args = [self.expr()]
            while self.peek()[1] == ",":
                self.take()
                args.append(self.expr())
            self.take(")")
            if len(args) != arity:
                raise ValueError(f"loss text: {value}() takes {arity} argument(s), got {len(args)}")
            return _sized(build(*args))
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        found = "the end of the text" if kind == "end" else repr(value)
        raise ValueError(f"loss text: expected a number, name, function call or '(', found {found}")


def parse_loss_text(text: str, C: int, f=None, y=None) -> sp.Expr:
    """The SymPy expression of ``text`` in outputs f1..fC and targets y1..yC (ValueError if not allowed)."""
    if not isinstance(text, str):
        raise TypeError(f"loss text must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"loss text is longer than {MAX_LENGTH} characters")
    limits.check_outputs(C)
    f = f if f is not None else sp.symbols(f"f1:{C + 1}", real=True)
    y = y if y is not None else sp.symbols(f"y1:{C + 1}", real=True)
    symbols = {str(s): s for s in (*f, *y)}
    try:
        expr = _Parser(_tokens(text, C, symbols), symbols).parse()
    except RecursionError:
        raise limits.SymbolicLimitError("loss text: nested too deeply for SymPy to build") from None
    if isinstance(expr, sp.Expr) and expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
        raise ValueError(f"loss text must be a finite real expression; it simplifies to {expr} "
                         "(division by zero, log(0) or the square root of a negative number?)")
    if not isinstance(expr, sp.Expr) or not expr.free_symbols & set(f):
        raise ValueError(f"loss text must depend on the outputs f1..f{C}; got {expr}")
    return limits.check_size(expr, f)
