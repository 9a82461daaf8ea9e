"""Mutation-killing tests for theory/matrix_algebra.py (benchmarks/mutation.py, group matrix_algebra).

The rewriting moves of the derivations (T1's readout elimination, T2's kernel ODE, T3/T8's commuting
reduction, T5's coefficients, T9's matrix functions) pinned on small cases with exact answers.
"""
import pytest
import sympy as sp

from theory.matrix_algebra import coefficients, contract, from_scalar, split_right_linear, to_scalar
from theory.notation import I_m, I_n, K, Phi, S, W, Y, kappa, lam, mu, s

A = sp.MatrixSymbol("A", 3, 3)
B = sp.MatrixSymbol("B", 3, 3)
X = sp.MatrixSymbol("X", 3, 3)
I3 = sp.Identity(3)


def test_split_right_linear_T1_stationarity():
    """∂L/∂W = WΦΦᵀ − YΦᵀ + λW = W·(ΦΦᵀ + λI) + (−YΦᵀ)."""
    a, b = split_right_linear(W * Phi * Phi.T - Y * Phi.T + lam * W, W, I_m)
    assert sp.simplify(a - (Phi * Phi.T + lam * I_m)) == sp.ZeroMatrix(*a.shape)
    assert b == -Y * Phi.T


def test_split_right_linear_single_term_and_no_constant():
    a, b = split_right_linear(2 * X * A, X, I3)
    assert a == 2 * A and b == sp.ZeroMatrix(3, 3)
    a, b = split_right_linear(3 * X, X, I3)
    assert a == 3 * I3 and b == sp.ZeroMatrix(3, 3)
    a, b = split_right_linear(X * A * B + X + B, X, I3)
    assert a == A * B + I3 and b == B


@pytest.mark.parametrize("expr", [A * X, X * A * X + X, A * X * B + X])
def test_split_right_linear_rejects_x_not_leftmost_or_twice(expr):
    with pytest.raises(ValueError, match="is not of the form X·A"):
        split_right_linear(expr, X, I3)


def test_split_right_linear_rejects_no_x():
    with pytest.raises(ValueError, match="does not depend on X"):
        split_right_linear(A + B, X, I3)


def test_coefficients():
    basis = {"K": K, "KS": K * S, "I": I_n}
    out = coefficients(3 * K - mu * K * S + 2 * K + I_n / 2, basis)
    assert out == {"K": 5, "KS": -mu, "I": sp.Rational(1, 2)}
    assert coefficients(K, basis) == {"K": 1, "KS": 0, "I": 0}
    with pytest.raises(ValueError, match="is not a multiple of any of"):
        coefficients(K + S, basis)


def test_contract_adjacent_pairs_only():
    assert contract(Phi.T * Phi, (Phi.T, Phi), K) == K
    assert contract(W * Phi * Phi.T * Phi, (Phi.T, Phi), K) == W * Phi * K
    assert contract(Phi.T * Phi * Phi.T * Phi, (Phi.T, Phi), K) == K * K
    assert contract(Phi.T * W.T * W * Phi, (Phi.T, Phi), K) == Phi.T * W.T * W * Phi
    assert contract(Phi.T * Phi + Y.T * Y, (Y.T, Y), S) == Phi.T * Phi + S
    assert contract(sp.Trace(Phi.T * Phi), (Phi.T, Phi), K) == sp.Trace(K)
    assert contract(lam, (Phi.T, Phi), K) == lam


def test_to_scalar():
    ev = {K: kappa, S: s}
    assert to_scalar(K, ev) == kappa
    assert to_scalar(I_n, ev) == 1
    assert to_scalar(sp.ZeroMatrix(*K.shape), ev) == 0
    assert to_scalar(K.T, ev) == kappa
    assert sp.simplify(to_scalar((K + lam * I_n).I * S, ev) - s / (kappa + lam)) == 0
    assert to_scalar(K * S + 2 * K, ev) == kappa * s + 2 * kappa
    assert to_scalar(sp.MatPow(K, 3), ev) == kappa ** 3
    assert to_scalar(mu, ev) == mu


def test_to_scalar_errors():
    with pytest.raises(ValueError, match=r"S has no eigenvalue given; the reduction needs \[K\]"):
        to_scalar(S, {K: kappa})
    with pytest.raises(ValueError, match="cannot reduce"):
        to_scalar(sp.OneMatrix(3, 3), {K: kappa})


@pytest.mark.parametrize("function", [
    kappa / (kappa + lam), kappa ** 2 + 3, 5 / (kappa ** 2 + lam), sp.Integer(7), kappa, (2 * kappa + 1) / 3,
    (kappa ** 3 - kappa) / (kappa + 2)])
def test_from_scalar_round_trip(function):
    matrix = from_scalar(function, kappa, K, I_n)
    assert sp.simplify(to_scalar(matrix, {K: kappa}) - function) == 0


def test_from_scalar_forms():
    assert from_scalar(kappa ** 2, kappa, K, I_n) == sp.MatPow(K, 2)
    assert from_scalar(sp.Integer(3), kappa, K, I_n) == 3 * I_n
    assert from_scalar(1 / (kappa + lam), kappa, K, I_n) == sp.Inverse(K + lam * I_n)


def test_from_scalar_builds_the_plain_products():
    """Structure, not only value: X (not X¹) times the inverse, a constant numerator as a scalar factor."""
    assert from_scalar(kappa / (kappa + lam), kappa, K, I_n) == K * sp.Inverse(K + lam * I_n)
    assert from_scalar(5 / (kappa ** 2 + lam), kappa, K, I_n) == 5 * sp.Inverse(sp.MatPow(K, 2) + lam * I_n)
    assert from_scalar((2 * kappa + 1) / 3, kappa, K, I_n) == sp.Rational(2, 3) * K + sp.Rational(1, 3) * I_n


def test_to_scalar_returns_non_matrix_values_unchanged():
    assert to_scalar(2, {}) == 2
    assert to_scalar(lam * mu, {K: kappa}) == lam * mu


def test_from_scalar_divides_by_a_constant_denominator():
    assert from_scalar(kappa / 3, kappa, K, I_n) == K / 3


def test_from_scalar_of_a_constant_fraction():
    assert from_scalar(sp.Rational(7, 3), kappa, K, I_n) == sp.Rational(7, 3) * I_n
