"""Rewriting matrix expressions: the few moves the derivations need, done on SymPy trees.

- :func:`split_right_linear` writes an expression linear in X as X·A + B (to solve X·A = −B);
- :func:`contract` replaces adjacent factors (ΦᵀΦ → K, YᵀY → S);
- :func:`to_scalar` / :func:`from_scalar` use that functions of commuting matrices act on each
  common eigenvector as scalar functions: a rational function of K (and of an S commuting with
  it) simplifies as a rational function of κ (and s).

>>> from theory.notation import K, lam, I_n, kappa
>>> to_scalar((K + lam * I_n).I * K, {K: kappa})
kappa/(kappa + lambda)
"""
from __future__ import annotations

from collections.abc import Mapping

import sympy as sp


def _factors(term: sp.MatrixExpr) -> tuple[sp.Expr, list]:
    coeff, mats = term.as_coeff_mmul()
    factors = list(mats.args) if isinstance(mats, sp.MatMul) else [mats]
    scalars = [f for f in factors if not getattr(f, "is_Matrix", False)]
    matrices = [f for f in factors if getattr(f, "is_Matrix", False)]
    return sp.Mul(coeff, *scalars), matrices


def split_right_linear(expr: sp.MatrixExpr, X: sp.MatrixSymbol, identity: sp.MatrixExpr):
    """(A, B) with ``expr`` = X·A + B, for ``expr`` linear in X with X leftmost in each term.

    Raises ValueError when a term contains X elsewhere (then the equation is not of this form).
    """
    expanded = sp.expand(expr)
    terms = expanded.args if isinstance(expanded, sp.MatAdd) else (expanded,)
    a_terms, b_terms = [], []
    for term in terms:
        coeff, mats = _factors(term)
        if mats and mats[0] == X and X not in mats[1:]:
            a_terms.append(coeff * (sp.MatMul(*mats[1:]) if mats[1:] else identity))
        elif term.has(X):
            raise ValueError(f"term {term} is not of the form {X}·A")
        else:
            b_terms.append(term)
    if not a_terms:
        raise ValueError(f"{expr} does not depend on {X}")
    zero = sp.ZeroMatrix(*expr.shape)
    return sp.MatAdd(*a_terms).doit(), (sp.MatAdd(*b_terms).doit() if b_terms else zero)


def coefficients(expr: sp.MatrixExpr, basis: Mapping[str, sp.MatrixExpr]) -> dict:
    """Scalar coefficients of ``expr`` = Σ_k a_k·basis[k]; ValueError for any other term."""
    expanded = sp.expand(expr)
    terms = expanded.args if isinstance(expanded, sp.MatAdd) else (expanded,)
    out = {k: sp.Integer(0) for k in basis}
    for term in terms:
        coeff, mats = _factors(term)
        product = sp.MatMul(*mats).doit() if len(mats) > 1 else mats[0]
        for key, element in basis.items():
            if product == element:
                out[key] += coeff
                break
        else:
            raise ValueError(f"term {term} is not a multiple of any of {list(basis.values())}")
    return out


def contract(expr, pair: tuple, replacement):
    """Replace every adjacent pair of factors ``pair`` (e.g. (Φᵀ, Φ)) in products by ``replacement``."""
    if not isinstance(expr, sp.Basic) or not expr.args:
        return expr
    args = [contract(a, pair, replacement) for a in expr.args]
    if isinstance(expr, sp.MatMul):
        out, i = [], 0
        while i < len(args):
            if i + 1 < len(args) and (args[i], args[i + 1]) == pair:
                out.append(replacement)
                i += 2
            else:
                out.append(args[i])
                i += 1
        return sp.MatMul(*out).doit() if len(out) > 1 else out[0]
    return expr.func(*args)


def to_scalar(expr, eigenvalues: Mapping):
    """The scalar function by which a rational expression in commuting symmetric matrices acts on
    a common eigenvector: each matrix symbol → its eigenvalue, I → 1, products → products,
    inverses → reciprocals, transposes → themselves (the matrices are symmetric)."""
    if isinstance(expr, sp.MatrixSymbol):
        if expr not in eigenvalues:
            raise ValueError(f"{expr} has no eigenvalue given; the reduction needs {list(eigenvalues)}")
        return eigenvalues[expr]
    if isinstance(expr, sp.Identity):
        return sp.Integer(1)
    if isinstance(expr, sp.ZeroMatrix):
        return sp.Integer(0)
    if isinstance(expr, (sp.Transpose,)):
        return to_scalar(expr.arg, eigenvalues)
    if isinstance(expr, sp.Inverse):
        return 1 / to_scalar(expr.arg, eigenvalues)
    if isinstance(expr, sp.MatAdd):
        return sp.Add(*[to_scalar(a, eigenvalues) for a in expr.args])
    if isinstance(expr, sp.MatMul):
        return sp.Mul(*[to_scalar(a, eigenvalues) for a in expr.args])
    if isinstance(expr, sp.MatPow):
        return to_scalar(expr.base, eigenvalues) ** expr.exp
    if getattr(expr, "is_Matrix", False):
        raise ValueError(f"cannot reduce {type(expr).__name__} {expr} to a scalar function")
    return expr


def from_scalar(function: sp.Expr, variable: sp.Symbol, X: sp.MatrixExpr, identity: sp.MatrixExpr):
    """The matrix function r(X) for a rational function r(x) (numerator·denominator⁻¹ form)."""
    num, den = sp.fraction(sp.cancel(sp.together(function)))

    def poly(p):
        coeffs = sp.Poly(sp.expand(p), variable).all_coeffs()[::-1]
        terms = [c * (identity if k == 0 else (X if k == 1 else sp.MatPow(X, k)))
                 for k, c in enumerate(coeffs) if c != 0]
        return sp.MatAdd(*terms).doit() if len(terms) > 1 else terms[0]

    den_const = not den.has(variable)
    num_const = not num.has(variable)
    if den_const:
        return (poly(num) / den) if not num_const else (num / den) * identity
    inverse = sp.Inverse(poly(den))
    return num * inverse if num_const else poly(num) * inverse


def directional_derivative(expr, X: sp.MatrixSymbol, E: sp.MatrixExpr):
    """d/dt expr(X + tE) at t = 0, by the rules of matrix calculus applied to the expression tree:

        dX = E,  d(A + B) = dA + dB,  d(AB) = dA·B + A·dB,  d(A⁻¹) = −A⁻¹·dA·A⁻¹,  d(Aᵀ) = (dA)ᵀ,
        d(tr A) = tr dA,  and a scalar or matrix without X has derivative 0.

    Scalar factors must not depend on X (the kernel flows' expressions never need it); a node these
    rules do not cover raises NotImplementedError rather than guessing.
    """
    if expr == X:
        return E
    if not expr.has(X):
        return sp.ZeroMatrix(*expr.shape) if getattr(expr, "is_Matrix", False) else sp.Integer(0)
    if isinstance(expr, sp.MatAdd):
        return sp.MatAdd(*[directional_derivative(a, X, E) for a in expr.args]).doit()
    if isinstance(expr, sp.MatMul):
        coeff, factors = _factors(expr)
        if getattr(coeff, "has", lambda _: False)(X):
            raise NotImplementedError(f"a scalar factor depends on {X}: {coeff}")
        terms = [sp.MatMul(coeff, *factors[:i], directional_derivative(f, X, E), *factors[i + 1:])
                 for i, f in enumerate(factors) if f.has(X)]
        return sp.MatAdd(*terms).doit() if len(terms) > 1 else terms[0].doit()
    if isinstance(expr, sp.Inverse):
        return (-expr * directional_derivative(expr.arg, X, E) * expr).doit()
    if isinstance(expr, sp.Transpose):
        return sp.Transpose(directional_derivative(expr.arg, X, E)).doit()
    if isinstance(expr, sp.Trace):
        return sp.Trace(directional_derivative(expr.arg, X, E))
    if isinstance(expr, sp.Add):
        return sp.Add(*[directional_derivative(a, X, E) for a in expr.args])
    if isinstance(expr, sp.Mul):
        scalars = [a for a in expr.args if not a.has(X)]
        varying = [a for a in expr.args if a.has(X)]
        if len(varying) != 1:
            raise NotImplementedError(f"a product of several factors in {X}: {expr}")
        return sp.Mul(*scalars) * directional_derivative(varying[0], X, E)
    raise NotImplementedError(f"no rule for {type(expr).__name__} in the directional derivative: {expr}")
