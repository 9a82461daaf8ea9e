"""Mutation-killing tests for verify/flows/kernel_ode.py (T2, and the Jacobians T6 uses; benchmarks/mutation.py,
group kernel_ode).

The complex-step Jacobian against finite differences and against a linear map whose spectrum is
known (dense and ARPACK paths), the ARPACK failure path, the CuPy path (with a NumPy stand-in for
CuPy, so it runs without a GPU), and the validation messages.
"""
import importlib.machinery
import sys
import types

import numpy as np
import pytest

import verify.flows.kernel_ode as ko
from verify.flows.kernel_ode import (
    jacobian_unchecked,
    kernel_ode_jacobian,
    kernel_ode_rhs,
    rightmost_jacobian_mode,
    validate_problem,
)


def _problem(n=3, C=1, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    return A @ A.T + np.eye(n), rng.standard_normal((C, n))


def test_T2_jacobian_matches_central_differences_in_symmetric_coordinates():
    K, Y = _problem()
    lam, mu = 0.7, 0.3
    J = kernel_ode_jacobian(K, Y, lam, mu)
    rows, cols = np.triu_indices(3)
    h = 1e-6
    for l, (i, j) in enumerate(zip(rows, cols)):
        E = np.zeros((3, 3))
        E[i, j] = E[j, i] = 1.0
        column = (kernel_ode_rhs(K + h * E, Y, lam, mu) - kernel_ode_rhs(K - h * E, Y, lam, mu)) / (2 * h)
        np.testing.assert_allclose(J[:, l], column[rows, cols], rtol=1e-6, atol=1e-8)


def _sylvester(K, d):
    """F(K) = diag(d)·K + K·diag(d): on symmetric matrices its eigenvalues are d_i + d_j (i ≤ j)."""
    return d[:, None] * K + K * d[None, :]


def test_jacobian_unchecked_of_a_linear_map_and_of_K_squared():
    d = np.array([0.5, -1.0, 2.0])
    K = np.arange(9.0).reshape(3, 3)
    K = K + K.T
    before = K.copy()
    J = jacobian_unchecked(_sylvester, K, d)
    rows, cols = np.triu_indices(3)
    np.testing.assert_allclose(J, np.diag(d[rows] + d[cols]), atol=1e-12)
    np.testing.assert_array_equal(K, before)
    J2 = jacobian_unchecked(lambda M: M @ M, K)
    for l, (i, j) in enumerate(zip(rows, cols)):
        E = np.zeros((3, 3))
        E[i, j] = E[j, i] = 1.0
        np.testing.assert_allclose(J2[:, l], (K @ E + E @ K)[rows, cols], atol=1e-12)


@pytest.mark.parametrize("n", [4, 45])  # N = 10 (dense eig) and N = 1035 (ARPACK on Jacobian-vector products)
def test_rightmost_jacobian_mode_of_a_linear_map(n):
    d = np.linspace(-1.0, 1.0, n)
    value, vector = rightmost_jacobian_mode(_sylvester, np.eye(n), d)
    assert value == pytest.approx(2.0, rel=1e-7)
    rows, cols = np.triu_indices(n)
    top = int(np.argmax(np.abs(vector)))
    assert (rows[top], cols[top]) == (n - 1, n - 1)
    assert np.abs(vector[top]) / np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)


def test_rightmost_jacobian_mode_reports_arpack_failure_as_infinite(monkeypatch):
    import scipy.sparse.linalg as spla

    def no_convergence(*args, **kwargs):
        raise spla.ArpackNoConvergence("no convergence", np.array([]), np.array([]))

    monkeypatch.setattr(spla, "eigs", no_convergence)
    value, vector = rightmost_jacobian_mode(_sylvester, np.eye(45), np.linspace(-1, 1, 45))
    assert value == float("inf") and vector is None


def test_cupy_backend_passes_every_argument(monkeypatch):
    """CuPy stand-in backed by NumPy: the cupy branch must give the NumPy result."""
    calls = []
    fake = types.ModuleType("cupy")
    fake.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    fake.__getattr__ = lambda name: calls.append(name) or getattr(np, name)
    fake.asarray = np.asarray
    fake.asnumpy = np.asarray
    monkeypatch.setitem(sys.modules, "cupy", fake)
    ko.compiled_rhs.cache_clear()
    try:
        K, Y = _problem(n=4, C=2)
        np.testing.assert_allclose(kernel_ode_rhs(K, Y, 0.7, 0.3, backend="cupy"), kernel_ode_rhs(K, Y, 0.7, 0.3),
                                   rtol=1e-12)
        assert calls, "the CuPy-generated right-hand side must evaluate through CuPy"
    finally:
        ko.compiled_rhs.cache_clear()


def test_validate_problem_messages_name_the_arguments():
    K, Y = _problem()
    with pytest.raises(ValueError, match="^K must be symmetric"):
        validate_problem(K + np.triu(np.ones((3, 3)), 1), Y, 1.0, 0.0)
    with pytest.raises(ValueError, match="^K0 must be symmetric"):
        validate_problem(K + np.triu(np.ones((3, 3)), 1), Y, 1.0, 0.0, name="K0")
    with pytest.raises(ValueError, match="^Y must have 3 columns"):
        validate_problem(K, np.ones((1, 2)), 1.0, 0.0)
    with pytest.raises(ValueError, match="^lam must be a finite number > 0"):
        validate_problem(K, Y, 0.0, 0.0)
    with pytest.raises(ValueError, match="^mu must be a finite number > 0"):
        validate_problem(K, Y, 1.0, 0.0, mu_positive=True)
    with pytest.raises(ValueError, match="^mu must be a finite number >= 0"):
        validate_problem(K, Y, 1.0, -1.0)
    assert validate_problem(K, Y, 1, 0)[2:] == (1.0, 0.0)


def test_rightmost_mode_of_a_lyapunov_map_on_the_arpack_path():
    """F(K) = K·A + Aᵀ·K with A = S·diag(a)·S⁻¹ (a full matrix): on symmetric matrices its eigenvalues are
    a_i + a_j, and the Jacobian-vector products must use symmetric directions (lower triangle = upper)."""
    n = 45
    d = np.linspace(-1.0, 1.0, n)
    S = np.eye(n) + 0.3 * np.random.default_rng(1).standard_normal((n, n)) / np.sqrt(n)
    A = S @ np.diag(d) @ np.linalg.inv(S)
    value, _ = rightmost_jacobian_mode(lambda M: M @ A + A.T @ M, np.eye(n))
    assert value == pytest.approx(2.0, rel=1e-6)


def test_validate_problem_checks_psd_when_asked():
    K, Y = _problem()
    with pytest.raises(ValueError, match="^K must be positive semidefinite"):
        validate_problem(-K, Y, 1.0, 0.0, psd=True)
