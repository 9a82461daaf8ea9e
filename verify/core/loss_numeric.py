"""Numeric per-sample losses, generated from the SymPy expression of a ``theory.losses.Loss``.

    total(F, Y) = Σ_i ℓ(f_i, y_i),     gradient(F, Y) = G with column i = ∇_f ℓ(f_i, y_i),
    hessian(F, Y) = H (C × C × n) with H[:, :, i] = ∇²_f ℓ(f_i, y_i)

Both are vectorised over samples (columns of the C × n arrays F and Y) and cached per loss. Piecewise-smooth
losses (``max``, ``min``, ``abs``) get their derivatives almost everywhere: SymPy's DiracDelta terms (supported
on the kinks, a set of measure zero) evaluate to 0 and Heaviside(0) to 1/2; special functions (``erf``) come
from SciPy.

>>> import numpy as np, theory
>>> total, gradient = numeric_loss(theory.losses.squared(1))
>>> total(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])), gradient(np.array([[1.0, 2.0]]), np.zeros((1, 2)))
(2.5, array([[1., 2.]]))
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp


def _dirac_almost_everywhere(x, *order):
    """DiracDelta off its support: 0 (the derivative of a piecewise-smooth loss almost everywhere)."""
    return np.zeros_like(np.asarray(x, dtype=float))


def _maximum(*args):
    return np.maximum.reduce(np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in args]))


def _minimum(*args):
    return np.minimum.reduce(np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in args]))


#: lambdify namespaces: a.e. derivatives of kinks, elementwise max/min over samples, SciPy's special functions
MODULES = [{"DiracDelta": _dirac_almost_everywhere, "Max": _maximum, "Min": _minimum}, "scipy", "numpy"]


@lru_cache(maxsize=None)
def numeric_hessian(loss):
    """hessian(F, Y) → C × C × n array of per-sample Hessians ∇²_f ℓ (from the SymPy Hessian)."""
    args = list(loss.f) + list(loss.y)
    entries = sp.lambdify(args, [list(row) for row in loss.hessian().tolist()], modules=MODULES)

    def hessian(F, Y):
        ones = np.ones(F.shape[1])
        return np.array([[np.asarray(h, dtype=float) * ones for h in row] for row in entries(*F, *Y)])

    return hessian


@lru_cache(maxsize=None)
def numeric_loss(loss):
    """(total, gradient) callables for ``loss``: Σ_i ℓ(f_i, y_i) and the C × n matrix G."""
    args = list(loss.f) + list(loss.y)
    value = sp.lambdify(args, loss.expr, modules=MODULES)
    grad = sp.lambdify(args, list(loss.gradient()), modules=MODULES)

    def total(F, Y):
        return float(np.sum(value(*F, *Y) * np.ones(F.shape[1])))

    def gradient(F, Y):
        return np.array([np.asarray(g, dtype=float) * np.ones(F.shape[1]) for g in grad(*F, *Y)])

    return total, gradient
