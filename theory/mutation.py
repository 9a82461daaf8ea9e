"""Mutants of a step's right-hand side: wrong answers that its certificate must reject.

A check is as good as the wrong answers it rejects. :func:`mutants` perturbs an expression the way
derivations typically go wrong — a factor off (× 8/7), a missing term (+ μI, + a rank-one term, a
constant), a transposed factor, a dropped term — keeping shapes valid so that a mutant fails for
being wrong, not for being malformed. ``Step.recheck(rhs=mutant)`` re-runs the step's own check.

>>> import sympy as sp
>>> from theory import notation as nt
>>> [name for name, _ in mutants(nt.W.T * nt.G + nt.mu * nt.Phi)]
['scaled by 8/7', 'plus a rank-one term', 'term 1 dropped', 'term 2 dropped']
>>> xi = sp.MatrixSymbol("xi", nt.m, nt.n)
>>> [str(m) for name, m in mutants(xi.T * nt.Phi + nt.Phi.T * xi) if name.endswith("transposed")]
['xi.T*Phi + xi.T*Phi', 'Phi.T*xi + Phi.T*xi']
"""
from __future__ import annotations

import sympy as sp

from theory import notation as nt

#: the factor of the scaling mutant: 1 + 1/7, off by a "small" amount that no tolerance should absorb
SCALE = sp.Rational(8, 7)
#: matrix symbols that are symmetric by construction: transposing them gives an equivalent expression
SYMMETRIC_NAMES = frozenset({"K", "S", "L", "M", "K_Psi", "D", "A", "E", "F", "Delta", "H"})


def _is_zero(expr) -> bool:
    if isinstance(expr, sp.ZeroMatrix):
        return True
    if isinstance(expr, sp.MatrixBase):
        return all(e == 0 for e in expr)
    return expr == 0


def _coefficient(expr):
    """μ where the expression speaks of μ (a missing decay is the classic error), 1/7 otherwise."""
    return nt.mu if nt.mu in getattr(expr, "free_symbols", ()) else sp.Rational(1, 7)


def _transposable(factor) -> bool:
    base = factor.arg if isinstance(factor, sp.Transpose) else factor
    return (isinstance(base, sp.MatrixSymbol) and base.rows == base.cols and base.name not in SYMMETRIC_NAMES)


def _transpose_one_factor(expr):
    """expr with the first transposable square factor of a product transposed, or None."""
    if isinstance(expr, sp.MatMul):
        args = list(expr.args)
        for i, a in enumerate(args):
            if _transposable(a):
                args[i] = a.arg if isinstance(a, sp.Transpose) else sp.Transpose(a)
                return sp.MatMul(*args)
    for i, a in enumerate(getattr(expr, "args", ())):
        if isinstance(a, sp.MatrixExpr):
            changed = _transpose_one_factor(a)
            if changed is not None:
                args = list(expr.args)
                args[i] = changed
                return expr.func(*args)
    return None


def _symmetric_form(expr):
    """``expr`` with Xᵀ → X for the symmetric-by-construction symbols it contains."""
    return expr.xreplace({sp.Transpose(x): x for x in expr.atoms(sp.MatrixSymbol) if x.name in SYMMETRIC_NAMES})


def _transposed_terms(expr, limit: int = 2):
    """One square term of a sum replaced by its transpose (ξᵀΦ + Φᵀξ → 2Φᵀξ), where that changes the term."""
    if not isinstance(expr, sp.MatAdd) or expr.rows != expr.cols:
        return []
    out = []
    for i, term in enumerate(expr.args):
        flipped = _symmetric_form(sp.Transpose(term).doit())
        if flipped != _symmetric_form(term) and len(out) < limit:
            out.append((f"term {i + 1} transposed", sp.MatAdd(*[flipped if j == i else t for j, t in enumerate(expr.args)])))
    return out


def _dropped_terms(expr, limit: int = 3):
    terms = expr.args if isinstance(expr, (sp.MatAdd, sp.Add)) else ()
    if len(terms) < 2:
        return []
    return [(f"term {i + 1} dropped", expr.func(*[t for j, t in enumerate(terms) if j != i]))
            for i in range(min(limit, len(terms)))]


def _matrix_expression_mutants(expr):
    out = [] if _is_zero(expr) else [("scaled by 8/7", sp.MatMul(SCALE, expr))]
    coeff = _coefficient(expr)
    if expr.rows == expr.cols:
        out.append(("plus μI" if coeff == nt.mu else "plus I/7", expr + coeff * sp.Identity(expr.rows)))
    else:
        out.append(("plus a rank-one term", expr + coeff * sp.OneMatrix(expr.rows, expr.cols)))
    transposed = _transpose_one_factor(expr)
    if transposed is not None:
        out.append(("one factor transposed", transposed))
    return out + _transposed_terms(expr) + _dropped_terms(expr)


def _explicit_matrix_mutants(expr: sp.MatrixBase):
    out = [] if _is_zero(expr) else [("scaled by 8/7", SCALE * expr)]
    out.append(("plus a constant rank-one term", expr + sp.Rational(1, 7) * sp.ones(*expr.shape)))
    for k, entry in enumerate(expr):
        dropped = _dropped_terms(sp.expand(entry), limit=1)
        if dropped:
            changed = sp.Matrix(expr)
            changed[k] = dropped[0][1]
            out.append((f"a term of entry {k} dropped", sp.ImmutableMatrix(changed)))
            break
    if expr.rows == expr.cols and expr != expr.T:
        out.append(("transposed", expr.T))
    return out


def _scalar_mutants(expr):
    out = [] if _is_zero(expr) else [("scaled by 8/7", SCALE * expr)]
    out.append(("plus μ" if _coefficient(expr) == nt.mu else "plus 1/7", expr + _coefficient(expr)))
    return out + _dropped_terms(expr)


def mutants(expr) -> list[tuple[str, sp.Basic]]:
    """(description, mutant) pairs of ``expr``; empty for a side that is a phrase (a bare symbol)."""
    if isinstance(expr, sp.MatrixBase):
        return _explicit_matrix_mutants(expr)
    if isinstance(expr, sp.MatrixExpr):
        return [] if isinstance(expr, sp.MatrixSymbol) else _matrix_expression_mutants(expr)
    if isinstance(expr, sp.FiniteSet):
        items = list(expr.args)
        last = items[-1]
        return [("last element scaled by 8/7", sp.FiniteSet(*items[:-1], SCALE * last)),
                ("last element plus 1/7", sp.FiniteSet(*items[:-1], last + sp.Rational(1, 7)))]
    if isinstance(expr, sp.core.relational.Relational):
        return [(f"boundary {name}", expr.func(expr.lhs, changed)) for name, changed in _scalar_mutants(expr.rhs)
                if not name.startswith("term")]
    if isinstance(expr, sp.Piecewise):
        (first, cond), *rest = expr.args
        return [(f"first branch {name}", sp.Piecewise((changed, cond), *rest)) for name, changed in
                _scalar_mutants(first)]
    if isinstance(expr, sp.Symbol):
        return []
    if isinstance(expr, sp.Expr):
        return _scalar_mutants(expr)
    return []
