"""Matrix expressions as sums of products: the normal form the model engine rewrites, and its matrix calculus.

A matrix expression is expanded into :class:`Term` objects ``coeff · F₁F₂…F_k`` — a scalar coefficient (it may hold
traces) times a product of *atoms*: matrix symbols, transposes of non-symmetric symbols, inverses of expanded sums.
Transposes are pushed onto the symbols ((AB)ᵀ = BᵀAᵀ, (A⁻¹)ᵀ = (Aᵀ)⁻¹, Mᵀ = M for symmetric M), identities are
dropped from products and like terms are collected, so equal expressions built in different ways meet in one form.

On that form the engine applies rules whose results are always certified by the caller on explicit instances:

- :func:`gradient`: ∇_X of a scalar by differentials — d tr(P) = tr(dP), d(AB) = dA B + A dB, d(A⁻¹) = −A⁻¹ dA A⁻¹,
  d(Aᵀ) = (dA)ᵀ, d(aᵖ) = p aᵖ⁻¹ da — then tr(P dX Q) = tr(QP dX) read off as the gradient (QP)ᵀ;
- :func:`push_through`: (cI + ΣX Z_k)⁻¹X = X(cI + ΣZ_k X)⁻¹ and its mirror Xᵀ(cI + ΣZ_k Xᵀ)⁻¹ = (cI + ΣXᵀZ_k)⁻¹Xᵀ;
- :func:`contract`: XᵀX → K (Φ), YᵀY → S, 𝟏ᵀ𝟏 → n, inside inverses and traces too (a trace rotated when that closes it);
- :func:`absorb_resolvents`: (cI + αF)⁻¹F = F(cI + αF)⁻¹ = (I − c(cI + αF)⁻¹)/α, so no factor stands next to its own
  resolvent (R S − R S R K becomes λ R S R).

>>> from theory import notation as nt
>>> R = nt.W * nt.Phi - nt.Y
>>> gradient(sp.Trace(R * R.T) / 2 + nt.lam / 2 * sp.Trace(nt.W * nt.W.T), nt.W)
lambda*W + W*Phi*Phi.T - Y*Phi.T
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sympy as sp

from theory import notation as nt


class NotInNormalForm(ValueError):
    """An expression the rules cannot expand (an operation outside the objective language)."""


@dataclass(frozen=True)
class Term:
    """``coeff`` · product of ``factors`` (atoms), of matrix ``shape``; no factors means coeff · I."""

    coeff: sp.Expr
    factors: tuple
    shape: tuple

    def expr(self) -> sp.MatrixExpr:
        """The term as a SymPy matrix expression."""
        if not self.factors:
            rows, cols = self.shape
            if rows != cols:
                raise NotInNormalForm(f"an empty product of shape {self.shape}")
            return self.coeff * sp.Identity(rows)
        product = self.factors[0] if len(self.factors) == 1 else sp.MatMul(*self.factors)
        return product if self.coeff == 1 else self.coeff * product


def _shape_of(expr) -> tuple:
    return tuple(expr.shape)


def transpose_atom(atom, symmetric: frozenset):
    """The transpose of one atom, as an atom."""
    if isinstance(atom, sp.MatrixSymbol):
        return atom if atom in symmetric or atom.shape == (1, 1) else sp.Transpose(atom)
    if isinstance(atom, sp.Transpose):
        return atom.arg
    if isinstance(atom, sp.Inverse):
        return _inverse_atom(transpose_terms(expand(atom.arg, symmetric), symmetric))
    raise NotInNormalForm(f"no transpose rule for {atom}")


def transpose_terms(terms: Iterable[Term], symmetric: frozenset) -> list[Term]:
    """The terms of (Σ terms)ᵀ: (c·F₁…F_k)ᵀ = c·F_kᵀ…F₁ᵀ."""
    return collect([Term(t.coeff, tuple(transpose_atom(f, symmetric) for f in reversed(t.factors)),
                         (t.shape[1], t.shape[0])) for t in terms])


def collect(terms: Iterable[Term]) -> list[Term]:
    """Like terms (equal factors) added; zero terms dropped; order of first appearance kept."""
    out: dict = {}
    for t in terms:
        key = t.factors
        if key in out:
            out[key] = Term(out[key].coeff + t.coeff, key, t.shape)
        else:
            out[key] = t
    return [Term(sp.expand(t.coeff), t.factors, t.shape) for t in out.values() if sp.expand(t.coeff) != 0]


def _inverse_atom(terms: list[Term]):
    """The atom (Σ terms)⁻¹ (NotInNormalForm for the inverse of a zero matrix)."""
    if not terms:
        raise NotInNormalForm("the inverse of a zero matrix")
    return sp.Inverse(rebuild(terms))


def rebuild(terms: list[Term], shape=None) -> sp.MatrixExpr:
    """The SymPy expression of a sum of terms (ZeroMatrix when empty; ``shape`` then required)."""
    if not terms:
        if shape is None:
            raise NotInNormalForm("an empty sum without a shape")
        return sp.ZeroMatrix(*shape)
    exprs = [t.expr() for t in terms]
    return exprs[0] if len(exprs) == 1 else sp.MatAdd(*exprs)


def _multiply(left: list[Term], right: list[Term]) -> list[Term]:
    out = []
    for a in left:
        for b in right:
            out.append(_join(a.coeff * b.coeff, a.factors + b.factors, (a.shape[0], b.shape[1])))
    return out


def _join(coeff, factors, shape) -> Term:
    """A product with scalar inverses (of c·I) folded into the coefficient."""
    kept = []
    for f in factors:
        if isinstance(f, sp.Inverse):
            inner = f.arg
            scalar = _scalar_multiple_of_identity(inner)
            if scalar is not None:
                coeff = coeff / scalar
                continue
        kept.append(f)
    return Term(coeff, tuple(kept), shape)


def _scalar_multiple_of_identity(expr):
    """c when ``expr`` is c·I (or a 1 × 1 matrix c), else None."""
    if isinstance(expr, sp.Identity):
        return sp.Integer(1)
    if isinstance(expr, sp.MatMul):
        scalars = [a for a in expr.args if not isinstance(a, sp.MatrixExpr)]
        mats = [a for a in expr.args if isinstance(a, sp.MatrixExpr)]
        if len(mats) == 1 and isinstance(mats[0], sp.Identity):
            return sp.Mul(*scalars)
    return None


def expand(expr, symmetric: frozenset = frozenset({nt.K, nt.S})) -> list[Term]:
    """The terms of a matrix expression (transposes on symbols, identities dropped, like terms collected)."""
    if isinstance(expr, sp.MatrixSymbol):
        return [Term(sp.Integer(1), (expr,), _shape_of(expr))]
    if isinstance(expr, sp.Identity):
        return [Term(sp.Integer(1), (), _shape_of(expr))]
    if isinstance(expr, sp.ZeroMatrix):
        return []
    if isinstance(expr, sp.MatAdd):
        return collect(t for a in expr.args for t in expand(a, symmetric))
    if isinstance(expr, sp.MatMul):
        coeff = sp.Mul(*[a for a in expr.args if not isinstance(a, sp.MatrixExpr)])
        mats = [a for a in expr.args if isinstance(a, sp.MatrixExpr)]
        terms = [Term(coeff, (), (mats[0].shape[0], mats[0].shape[0]))]
        for a in mats:
            terms = _multiply(terms, expand(a, symmetric))
        return collect(terms)
    if isinstance(expr, sp.Transpose):
        return transpose_terms(expand(expr.arg, symmetric), symmetric)
    if isinstance(expr, sp.Inverse):
        inner = expand(expr.arg, symmetric)
        if not inner:
            raise NotInNormalForm(f"the inverse of a zero matrix in {expr}")
        if len(inner) == 1 and not inner[0].factors:
            return [Term(1 / inner[0].coeff, (), _shape_of(expr))]
        return [Term(sp.Integer(1), (sp.Inverse(rebuild(inner)),), _shape_of(expr))]
    if isinstance(expr, sp.MatPow):
        power = expr.exp
        if not (power.is_Integer):
            raise NotInNormalForm(f"a matrix power with a non-integer exponent: {expr}")
        base = expr.base if power > 0 else sp.Inverse(expr.base)
        terms = [Term(sp.Integer(1), (), _shape_of(expr))]
        for _ in range(abs(int(power))):
            terms = _multiply(terms, expand(base, symmetric))
        return collect(terms)
    raise NotInNormalForm(f"no expansion rule for {type(expr).__name__}: {expr}")


def canonical(expr, symmetric: frozenset = frozenset({nt.K, nt.S})) -> sp.MatrixExpr:
    """``expr`` rebuilt from its expanded terms."""
    return rebuild(expand(expr, symmetric), _shape_of(expr))


# --------------------------------------------------------------------------- matrix calculus by differentials


def differential(expr, X: sp.MatrixSymbol, dX: sp.MatrixSymbol):
    """d expr along dX (linear in dX), for scalars and matrices of the objective language."""
    if not expr.has(X):
        return sp.ZeroMatrix(*expr.shape) if isinstance(expr, sp.MatrixExpr) else sp.Integer(0)
    if expr == X:
        return dX
    if isinstance(expr, sp.MatrixExpr):
        if isinstance(expr, sp.MatAdd):
            return sp.MatAdd(*[differential(a, X, dX) for a in expr.args])
        if isinstance(expr, sp.MatMul):
            args = expr.args
            parts = []
            for i, a in enumerate(args):
                if a.has(X):
                    d = differential(a, X, dX)
                    parts.append(sp.MatMul(*args[:i], d, *args[i + 1:]) if isinstance(d, sp.MatrixExpr)
                                 else sp.MatMul(*args[:i], *args[i + 1:]) * d)
            return sp.MatAdd(*parts)
        if isinstance(expr, sp.Transpose):
            return sp.Transpose(differential(expr.arg, X, dX))
        if isinstance(expr, sp.Inverse):
            return -expr * differential(expr.arg, X, dX) * expr
        if isinstance(expr, sp.MatPow) and expr.exp.is_Integer:
            base, k = expr.base, int(expr.exp)
            if k < 0:
                return differential(sp.MatPow(sp.Inverse(base), -k), X, dX)
            d = differential(base, X, dX)
            return sp.MatAdd(*[sp.MatMul(*([base] * i + [d] + [base] * (k - 1 - i))) for i in range(k)])
        raise NotInNormalForm(f"no differential rule for {type(expr).__name__}: {expr}")
    if isinstance(expr, sp.Trace):
        return sp.Trace(differential(expr.arg, X, dX))
    if expr.is_Add:
        return sp.Add(*[differential(a, X, dX) for a in expr.args])
    if expr.is_Mul:
        args = expr.args
        return sp.Add(*[sp.Mul(*args[:i], differential(a, X, dX), *args[i + 1:])
                        for i, a in enumerate(args) if a.has(X)])
    if expr.is_Pow and not expr.exp.has(X):
        return expr.exp * expr.base ** (expr.exp - 1) * differential(expr.base, X, dX)
    raise NotInNormalForm(f"no differential rule for {type(expr).__name__}: {expr}")


def _linear_trace_terms(expr, dX, symmetric) -> list[tuple]:
    """[(coeff, factors)] with expr = Σ coeff · tr(factors) and dX (or dXᵀ) once in each factors tuple."""
    if expr == 0:
        return []
    if expr.is_Add:
        return [t for a in expr.args for t in _linear_trace_terms(a, dX, symmetric)]
    if expr.is_Mul:
        moving = [a for a in expr.args if a.has(dX)]
        if len(moving) != 1:
            raise NotInNormalForm(f"a differential that is not linear in {dX}: {expr}")
        coeff = sp.Mul(*[a for a in expr.args if not a.has(dX)])
        return [(coeff * c, f) for c, f in _linear_trace_terms(moving[0], dX, symmetric)]
    if isinstance(expr, sp.Trace):
        return [(t.coeff, t.factors) for t in expand(expr.arg, symmetric)]
    raise NotInNormalForm(f"a differential that is not a sum of traces: {expr}")


def gradient(objective, X: sp.MatrixSymbol, symmetric: frozenset = frozenset({nt.K, nt.S})) -> sp.MatrixExpr:
    """∇_X objective by differentials (module docstring): the matrix G with d objective = tr(Gᵀ dX)."""
    dX = sp.MatrixSymbol(f"d{X.name}", *X.shape)
    d = differential(objective, X, dX)
    dXt = sp.Transpose(dX)
    terms = []
    for coeff, factors in _linear_trace_terms(sp.expand(d), dX, symmetric):
        where = [i for i, f in enumerate(factors) if f in (dX, dXt)]
        if len(where) != 1 or any(f.has(dX) for i, f in enumerate(factors) if i != where[0]):
            raise NotInNormalForm(f"{dX} inside a factor of tr({factors})")
        i = where[0]
        rotated = factors[i + 1:] + factors[:i]  # tr(P dX Q) = tr(QP dX)
        shape = (X.shape[1], X.shape[0])
        qp = [Term(coeff, rotated, shape)]
        terms.extend(qp if factors[i] == dXt else transpose_terms(qp, symmetric))
    return rebuild(collect(terms), X.shape)


# --------------------------------------------------------------------------- rewriting towards the kernel


def _starts_with(t: Term, X) -> bool:
    return bool(t.factors) and t.factors[0] == X


def _ends_with(t: Term, Xt) -> bool:
    return bool(t.factors) and t.factors[-1] == Xt


def push_through(factors: tuple, X: sp.MatrixSymbol, symmetric: frozenset) -> tuple:
    """Move X rightwards through inverses and Xᵀ leftwards (module docstring), until no rule applies."""
    Xt = transpose_atom(X, symmetric)
    factors = list(factors)
    changed = True
    while changed:
        changed = False
        for i in range(len(factors) - 1):
            a, b = factors[i], factors[i + 1]
            if isinstance(a, sp.Inverse) and b == X:
                inner = expand(a.arg, symmetric)
                if all(not t.factors or _starts_with(t, X) for t in inner):
                    moved = [Term(t.coeff, (), (X.shape[1], X.shape[1])) if not t.factors else
                             Term(t.coeff, t.factors[1:] + (X,), (X.shape[1], X.shape[1])) for t in inner]
                    factors[i:i + 2] = [X, sp.Inverse(rebuild(collect(moved)))]
                    changed = True
                    break
            if a == Xt and isinstance(b, sp.Inverse):
                inner = expand(b.arg, symmetric)
                if all(not t.factors or _ends_with(t, Xt) for t in inner):
                    moved = [Term(t.coeff, (), (X.shape[1], X.shape[1])) if not t.factors else
                             Term(t.coeff, (Xt,) + t.factors[:-1], (X.shape[1], X.shape[1])) for t in inner]
                    factors[i:i + 2] = [sp.Inverse(rebuild(collect(moved))), Xt]
                    changed = True
                    break
    return tuple(factors)


@dataclass(frozen=True)
class Contraction:
    """Pairs (Aᵀ, A) → a symbol (ΦᵀΦ → K, YᵀY → S) or a scalar (𝟏ᵀ𝟏 → n)."""

    pairs: Mapping  # (left atom, right atom) → replacement (MatrixSymbol or scalar)


def contract(factors: tuple, rules: Contraction, symmetric: frozenset, X=None) -> tuple[sp.Expr, tuple]:
    """(scalar, factors) with every adjacent pair of ``rules`` replaced, push-through for ``X`` first and the insides
    of inverses rewritten the same way."""
    if X is not None:
        factors = push_through(factors, X, symmetric)
    coeff, out = sp.Integer(1), []
    for f in factors:
        if isinstance(f, sp.Inverse):
            inner = rewrite_terms(expand(f.arg, symmetric), rules, symmetric, X)
            if len(inner) == 1 and not inner[0].factors:
                coeff = coeff / inner[0].coeff
                continue
            f = sp.Inverse(rebuild(inner))
        out.append(f)
        while len(out) >= 2 and (out[-2], out[-1]) in rules.pairs:
            replacement = rules.pairs[(out[-2], out[-1])]
            del out[-2:]
            if isinstance(replacement, sp.MatrixExpr):
                out.append(replacement)
            else:
                coeff = coeff * replacement
    return coeff, tuple(out)


def rewrite_terms(terms: Iterable[Term], rules: Contraction, symmetric: frozenset, X=None) -> list[Term]:
    """Every term contracted (:func:`contract`) and its coefficient's traces rewritten too; like terms collected."""
    out = []
    for t in terms:
        coeff, factors = contract(t.factors, rules, symmetric, X)
        out.append(_join(rewrite_traces(t.coeff, rules, symmetric, X) * coeff, factors, t.shape))
    return collect(out)


def rewrite_traces(scalar, rules: Contraction, symmetric: frozenset, X=None):
    """Traces inside a scalar rewritten in the contracted symbols; a trace rotated cyclically when that closes it."""
    if not isinstance(scalar, sp.Basic) or not scalar.has(sp.Trace):
        return scalar
    mapping = {}
    for tr in scalar.atoms(sp.Trace):
        total = sp.Integer(0)
        for t in expand(tr.arg, symmetric):
            best = None
            for k in range(max(len(t.factors), 1)):
                rotated = t.factors[k:] + t.factors[:k]
                c, f = contract(rotated, rules, symmetric, X)
                candidate = (len(f), c, f)
                if best is None or candidate[0] < best[0]:
                    best = candidate
            _, c, f = best
            if not t.factors:
                total += t.coeff * t.shape[0]  # tr(c·I)
            elif not f:
                total += t.coeff * c  # a 1 × 1 product contracted to a scalar (𝟏ᵀ𝟏 = n)
            else:
                total += t.coeff * c * sp.Trace(f[0] if len(f) == 1 else sp.MatMul(*f))
        mapping[tr] = total
    return scalar.xreplace(mapping)


def atoms_of(terms: Iterable[Term]) -> set:
    """Every matrix symbol a sum of terms uses, in its factors, inside its inverses and in its coefficients."""
    found = set()
    for t in terms:
        for f in t.factors:
            found |= f.atoms(sp.MatrixSymbol)
        if isinstance(t.coeff, sp.Basic):
            found |= t.coeff.atoms(sp.MatrixSymbol)
    return found


def resolvent_of(inverse, factor, symmetric) -> tuple | None:
    """(c, α) when ``inverse`` = (cI + α·factor)⁻¹ (c and α scalars, α ≠ 0), else None."""
    if not isinstance(inverse, sp.Inverse) or isinstance(factor, sp.Inverse):
        return None
    inner = expand(inverse.arg, symmetric)
    if len(inner) != 2:
        return None
    eye = [t for t in inner if not t.factors]
    other = [t for t in inner if t.factors == (factor,)]
    if len(eye) != 1 or len(other) != 1:
        return None
    return eye[0].coeff, other[0].coeff


def absorb_resolvents(terms: Iterable[Term], symmetric: frozenset) -> list[Term]:
    """Every product R·F or F·R with R = (cI + αF)⁻¹ replaced by (I − cR)/α, until none is left; like terms
    collected (module docstring)."""
    pending, done = list(terms), []
    while pending:
        t = pending.pop()
        for i in range(len(t.factors) - 1):
            a, b = t.factors[i], t.factors[i + 1]
            found = resolvent_of(a, b, symmetric) or resolvent_of(b, a, symmetric)
            if found is None:
                continue
            c, alpha = found
            R = a if isinstance(a, sp.Inverse) else b
            before, after = t.factors[:i], t.factors[i + 2:]
            pending.append(Term(t.coeff / alpha, before + after, t.shape))
            pending.append(Term(-t.coeff * c / alpha, before + (R,) + after, t.shape))
            break
        else:
            done.append(t)
    return collect(done)
