"""Certificates: every derivation step is checked on explicit instances in exact arithmetic.

A matrix identity lhs = rhs between expressions in the symbols of :mod:`theory.notation` is a
rational-function identity in the matrix entries. Evaluating both sides on matrices with random
*rational* entries, with exact rational arithmetic, is a polynomial-identity test: a false
identity survives a random rational point only on a measure-zero set, so a few sizes give a
certificate far more trustworthy than ``simplify`` (which can fail either way silently).
Sides that leave the rationals (radicals, exp, log) are compared at 60 significant digits and
the certificate says so.

>>> from theory.notation import K, lam, I_n, n, m, C
>>> cert = certify_identity("resolvent", (K + lam * I_n).I * K + lam * (K + lam * I_n).I, I_n,
...                         sizes=[{n: 3, m: 2, C: 1}], seed=0)
>>> cert.passed
True
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import sympy as sp

from theory import notation as nt

#: digits used when an identity leaves the rationals; residues must be below 10**-(DIGITS - 10)
DIGITS = 60


@dataclass(frozen=True)
class Certificate:
    """Outcome of checking one identity on explicit instances.

    ``trials`` names the sizes tried; ``method`` says whether the comparison was exact.
    """

    identity: str
    method: str
    trials: tuple[str, ...]
    passed: bool
    detail: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        verdict = "certified" if self.passed else "FAILED"
        text = f"{verdict} by {self.method} at {'; '.join(self.trials)}"
        return text + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Step:
    """One named derivation step: ``lhs = rhs`` (or a statement about them) with its certificate."""

    claim: str
    name: str
    statement: str
    lhs: sp.Basic
    rhs: sp.Basic
    certificate: Certificate

    def latex(self) -> str:
        """lhs = rhs; a side that is a statement in words (a symbol named "rank dK") is set as text, and a
        side that is itself a relation ("f'(0) > 0", "<= 2C") is joined without a false "="."""
        lhs, rhs = _latex_side(self.lhs), _latex_side(self.rhs)
        left_rel, right_rel = _is_relation(self.lhs), _is_relation(self.rhs)
        if right_rel and _name(self.rhs).lstrip().startswith(("<", ">", "=")):
            return f"{lhs} {rhs}"
        joiner = r"\iff" if left_rel and right_rel else "="
        return f"{lhs} {joiner} {rhs}"

    def _repr_markdown_(self) -> str:
        """Rendered in notebooks: name, statement, the equation and its certificate."""
        return (f"**{_md_escape(self.name)}** — {_md_escape(self.statement)}\n\n$${self.latex()}$$\n\n"
                f"<small>{'✔' if self.certificate.passed else '✘'} {_md_escape(self.certificate.summary())}</small>")

    def __str__(self) -> str:
        return (f"[{self.claim} · {self.name}] {self.statement}\n"
                f"    {sp.sstr(self.lhs)} = {sp.sstr(self.rhs)}\n"
                f"    {self.certificate.summary()}")


class Derivation:
    """An ordered collection of certified steps, with the expressions they lead to."""

    claim: str = ""
    steps: tuple[Step, ...] = ()

    @property
    def certified(self) -> bool:
        return all(step.certificate.passed for step in self.steps)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"{self.claim} has no step {name!r}; steps are {[s.name for s in self.steps]}")

    def latex(self) -> str:
        return "\n".join(f"% {s.name}\n{s.latex()}" for s in self.steps)

    def _repr_markdown_(self) -> str:
        """Rendered in notebooks: every step as an equation with its certificate."""
        head = f"### {self.claim}: {len(self.steps)} steps, {'all certified' if self.certified else 'NOT all certified'}"
        return "\n\n".join([head] + [f"{i}. {step._repr_markdown_()}" for i, step in enumerate(self.steps, 1)])

    def __str__(self) -> str:
        return "\n".join(str(step) for step in self.steps)


_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*'*(_[A-Za-z0-9_{},]+)?")
_RELATION = re.compile(r"<=|>=|<|>|=|≤|≥")
_TEX_RELATIONS = {"<=": r"\le", ">=": r"\ge", "≤": r"\le", "≥": r"\ge"}


def _name(expr) -> str:
    return expr.name if isinstance(expr, sp.Symbol) else ""


def _is_relation(expr) -> bool:
    return isinstance(expr, (sp.core.relational.Relational,)) or bool(_RELATION.search(_name(expr)))


def _as_text(name: str) -> str:
    """A symbol named by a phrase, set upright; relations as TeX so MathJax renders them."""
    parts = re.split(r"(<=|>=|≤|≥)", name)
    return " ".join(_TEX_RELATIONS.get(p, r"\text{" + p.strip() + "}") for p in parts if p.strip())


def _latex_side(expr) -> str:
    if isinstance(expr, sp.Symbol) and not _PLAIN_NAME.fullmatch(expr.name):
        return _as_text(expr.name)
    odd = {s: sp.Symbol(_as_text(s.name)) for s in getattr(expr, "free_symbols", ())
           if isinstance(s, sp.Symbol) and not _PLAIN_NAME.fullmatch(s.name)}
    return sp.latex(expr.xreplace(odd) if odd else expr)


def _md_escape(text: str) -> str:
    """Keep * and _ in statements (W*, G_i) literal when rendered as Markdown."""
    return re.sub(r"([*_`])", r"\\\1", text)


# --------------------------------------------------------------------------------------------
# exact evaluation of matrix expressions


def evaluate(expr, values: Mapping):
    """Evaluate ``expr`` with every symbol in ``values`` replaced by an explicit value.

    Matrix symbols map to explicit ``ImmutableMatrix`` objects, size symbols to ints, scalar
    symbols to numbers. The walk is explicit (not ``doit``) so that inverses, transposes and
    traces of explicit matrices are always carried out, exactly.
    """
    if isinstance(expr, sp.MatrixSymbol):
        try:
            return values[expr]
        except KeyError:
            raise KeyError(f"no explicit value for the matrix {expr}") from None
    if isinstance(expr, sp.Identity):
        return sp.eye(int(evaluate(expr.rows, values)))
    if isinstance(expr, sp.ZeroMatrix):
        return sp.zeros(int(evaluate(expr.rows, values)), int(evaluate(expr.cols, values)))
    if isinstance(expr, sp.MatAdd):
        parts = [evaluate(a, values) for a in expr.args]
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return total
    if isinstance(expr, sp.MatMul):
        out = sp.Integer(1)
        for a in expr.args:
            out = out * evaluate(a, values)
        return out
    if isinstance(expr, sp.Inverse):
        return evaluate(expr.arg, values).inv()
    if isinstance(expr, sp.Transpose):
        return evaluate(expr.arg, values).T
    if isinstance(expr, sp.MatPow):
        return evaluate(expr.base, values) ** int(evaluate(expr.exp, values))
    if isinstance(expr, sp.Trace):
        return evaluate(expr.arg, values).trace()
    if isinstance(expr, sp.MatrixBase):
        return sp.ImmutableMatrix(expr.applyfunc(lambda e: evaluate(e, values)))
    if isinstance(expr, sp.Basic) and expr.args and expr.has(sp.MatrixExpr):
        return expr.func(*[evaluate(a, values) for a in expr.args])
    if isinstance(expr, sp.Basic):
        return expr.xreplace({k: v for k, v in values.items() if not isinstance(k, sp.MatrixSymbol)})
    return expr


def _as_matrix(value) -> sp.ImmutableMatrix:
    if isinstance(value, sp.MatrixBase):
        return sp.ImmutableMatrix(value)
    return sp.ImmutableMatrix([[value]])


def _compare(lhs, rhs) -> tuple[bool, str, str]:
    """(equal, method, detail) for two explicit values."""
    a, b = _as_matrix(lhs), _as_matrix(rhs)
    if a.shape != b.shape:
        return False, "exact evaluation", f"shapes differ: {a.shape} vs {b.shape}"
    diff = a - b
    if all(e.is_Rational for e in diff):
        bad = [e for e in diff if e != 0]
        return not bad, "exact evaluation", (f"residue {bad[0]}" if bad else "")
    scale = max([1] + [abs(sp.N(e, DIGITS)) for e in list(a) + list(b)])
    worst = max(abs(sp.N(e, DIGITS)) for e in diff)
    ok = worst <= scale * sp.Float(10) ** (-(DIGITS - 10))
    return bool(ok), f"{DIGITS}-digit evaluation", ("" if ok else f"residue {sp.N(worst, 5)}")


# --------------------------------------------------------------------------------------------
# random exact instances


def rational(rng: random.Random, *, positive: bool = False) -> sp.Rational:
    """A small random rational number (positive if asked)."""
    num = rng.randint(1, 9) if positive else rng.choice([i for i in range(-9, 10) if i])
    return sp.Rational(num, rng.randint(1, 6))


def rational_matrix(rng: random.Random, rows: int, cols: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(rows, cols, lambda i, j: rational(rng))


def rational_orthogonal(rng: random.Random, size: int) -> sp.ImmutableMatrix:
    """An exactly orthogonal rational matrix: the Cayley transform (I − A)(I + A)⁻¹ of a skew A."""
    upper = rational_matrix(rng, size, size)
    skew = sp.ImmutableMatrix(size, size, lambda i, j: upper[i, j] if i < j else (-upper[j, i] if i > j else 0))
    eye = sp.eye(size)
    return sp.ImmutableMatrix((eye - skew) * (eye + skew).inv())


def standard_instance(rng: random.Random, dims: Mapping) -> dict:
    """Random exact values for the symbols of the setting (docs/theory.md#setting) at the sizes ``dims``.

    Φ, W, Y have random rational entries; K = ΦᵀΦ and S = YᵀY as in the setting (so K is PSD
    and symmetric, as every identity about the kernel may assume); λ, μ are positive rationals.
    """
    size = {nt.n: int(dims[nt.n]), nt.m: int(dims.get(nt.m, dims[nt.n])), nt.C: int(dims[nt.C])}
    phi = rational_matrix(rng, size[nt.m], size[nt.n])
    y = rational_matrix(rng, size[nt.C], size[nt.n])
    values = dict(size)
    values.update({
        nt.Phi: phi,
        nt.W: rational_matrix(rng, size[nt.C], size[nt.m]),
        nt.Y: y,
        nt.K: sp.ImmutableMatrix(phi.T * phi),
        nt.S: sp.ImmutableMatrix(y.T * y),
        nt.lam: rational(rng, positive=True),
        nt.mu: rational(rng, positive=True),
    })
    return values


def _describe(dims: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in dims.items())


#: sizes at which matrix identities are certified: square, wide and tall Φ
DEFAULT_SIZES = (
    {nt.n: 3, nt.m: 3, nt.C: 2},
    {nt.n: 4, nt.m: 2, nt.C: 2},
    {nt.n: 2, nt.m: 4, nt.C: 3},
)


def certify_identity(identity: str, lhs, rhs, *, sizes: Iterable[Mapping] = DEFAULT_SIZES,
                     sample: Callable[[random.Random, Mapping], dict] = standard_instance,
                     seed: int = 0) -> Certificate:
    """Certify ``lhs = rhs`` by exact evaluation on ``sample(rng, dims)`` for each size in ``sizes``."""
    rng = random.Random(seed)
    trials, methods = [], set()
    for dims in sizes:
        values = sample(rng, dims)
        equal, method, detail = _compare(evaluate(lhs, values), evaluate(rhs, values))
        methods.add(method)
        trials.append(_describe(dims))
        if not equal:
            return Certificate(identity, method, tuple(trials), False, f"fails at {trials[-1]}: {detail}")
    return Certificate(identity, " and ".join(sorted(methods)), tuple(trials), True)


def certify_values(identity: str, pairs: Iterable[tuple[str, object, object]]) -> Certificate:
    """Certify explicit (description, lhs, rhs) pairs computed by the caller."""
    trials, methods = [], set()
    for description, lhs, rhs in pairs:
        equal, method, detail = _compare(lhs, rhs)
        methods.add(method)
        trials.append(description)
        if not equal:
            return Certificate(identity, method, tuple(trials), False, f"fails at {description}: {detail}")
    return Certificate(identity, " and ".join(sorted(methods)), tuple(trials), True)


def certify_symbolic(identity: str, residue, assumptions: str = "") -> Certificate:
    """Certify an identity whose residue (a scalar or every entry of a matrix) SymPy simplifies to 0."""
    entries = list(residue) if isinstance(residue, sp.MatrixBase) else [residue]
    left = [r for r in (sp.simplify(e) for e in entries) if r != 0]
    return Certificate(identity, "symbolic simplification to 0" + (f" ({assumptions})" if assumptions else ""),
                       ("symbolic",), not left, f"residue {left[0]}" if left else "")
