"""Mutation-killing tests for verify/flows/codegen.py (the generated right-hand sides; benchmarks/mutation.py,
group codegen).

Values of generated code for inverses next to non-symmetric factors and with scalar factors, the
"no inverse is formed" rule, the matrix-chain order, and the optional backends with stand-ins for
numba and CuPy (so the code paths run on a machine without them).
"""
import importlib.machinery
import inspect
import sys
import types

import numpy as np
import pytest
import sympy as sp

from theory.notation import I_n, K, Y, lam, n
from verify.flows import codegen
from verify.flows.codegen import chain_order, generate

A = sp.MatrixSymbol("A", n, n)  # square, not symmetric
X = sp.MatrixSymbol("X", n, n)


def _rng_matrix(seed, rows, cols):
    return np.random.default_rng(seed).standard_normal((rows, cols))


def test_right_inverse_of_a_non_symmetric_matrix():
    """X·A⁻¹ becomes (A⁻ᵀXᵀ)ᵀ: the transpose of A is needed when A is not symmetric."""
    f = generate(X * A.I, (X, A))
    Xv, Av = _rng_matrix(0, 4, 4), _rng_matrix(1, 4, 4) + 4 * np.eye(4)
    np.testing.assert_allclose(f(Xv, Av), Xv @ np.linalg.inv(Av), rtol=1e-10)


def test_scalar_times_an_inverse_keeps_the_scalar():
    f = generate(2 * (K + lam * I_n).I, (K, lam))
    np.testing.assert_allclose(f(np.eye(3), 1.0), np.eye(3), rtol=1e-12)
    g = generate(lam * (K + lam * I_n).I * Y.T, (K, Y, lam))
    Kv, Yv = np.eye(3), _rng_matrix(2, 2, 3)
    np.testing.assert_allclose(g(Kv, Yv, 3.0), 3.0 * Yv.T / 4.0, rtol=1e-12)


def test_an_inverse_with_a_right_neighbour_is_a_solve_not_an_inverse():
    f = generate((K + lam * I_n).I * Y.T, (K, Y, lam))
    source = inspect.getsource(f)
    assert "solve" in source and "inv(" not in source
    Kv, Yv = np.diag([1.0, 2.0, 3.0]), _rng_matrix(3, 2, 3)
    np.testing.assert_allclose(f(Kv, Yv, 1.0), np.linalg.solve(Kv + np.eye(3), Yv.T), rtol=1e-12)


def test_chain_order_is_the_cheapest_parenthesisation():
    # (10×1000)(1000×10)(10×1000): (AB)C costs 10·1000·10 + 10·10·1000 = 2e5; A(BC) costs 2e7
    assert chain_order([(10, 1000), (1000, 10), (10, 1000)]) == ((0, 1), 2)
    # (1000×10)(10×1000)(1000×10): A(BC) is the cheap one
    assert chain_order([(1000, 10), (10, 1000), (1000, 10)]) == (0, (1, 2))
    # the first dimension counts: (1×100)(100×100)(100×100) → (AB)C = 1e4 + 1e4, A(BC) = 1e6 + 1e4
    assert chain_order([(1, 100), (100, 100), (100, 100)]) == ((0, 1), 2)
    assert chain_order([(5, 6), (6, 7)]) == (0, 1)
    assert chain_order([(1, 100), (100, 1), (1, 100), (100, 1)]) == ((0, 1), (2, 3))


def _numpy_stand_in(name, calls):
    """A module that forwards every attribute to NumPy and counts the lookups (a stand-in for CuPy)."""
    fake = types.ModuleType(name)
    fake.__spec__ = importlib.machinery.ModuleSpec(name, None)

    def forward(attr):
        calls.append(attr)
        return getattr(np, attr)

    fake.__getattr__ = forward
    return fake


def test_cupy_backend_evaluates_through_cupy_with_static_chains(monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "cupy", _numpy_stand_in("cupy", calls))
    expr = K * Y.T * Y + (K + lam * I_n).I * K
    f = generate(expr, (K, Y, lam), backend="cupy")
    assert "multi_dot" not in inspect.getsource(f) and " @ " in inspect.getsource(f)
    Kv, Yv = np.diag([1.0, 2.0]), _rng_matrix(4, 1, 2)
    np.testing.assert_allclose(f(Kv, Yv, 1.0), Kv @ Yv.T @ Yv + np.linalg.solve(Kv + np.eye(2), Kv), rtol=1e-12)
    assert calls, "the generated code must call the CuPy module, not NumPy"


@pytest.mark.parametrize("backend", ["numba", "auto"])
def test_numba_backend_jits_the_generated_function(monkeypatch, backend):
    jitted = []
    fake = types.ModuleType("numba")
    fake.__spec__ = importlib.machinery.ModuleSpec("numba", None)

    def njit(**options):
        def wrap(function):
            jitted.append((function, options))
            return function
        return wrap

    fake.njit = njit
    monkeypatch.setitem(sys.modules, "numba", fake)
    f = generate(K * Y.T * Y, (K, Y), backend=backend)
    assert len(jitted) == 1 and jitted[0][0] is f and jitted[0][1] == {"cache": False}
    assert "multi_dot" not in inspect.getsource(f)
    np.testing.assert_allclose(f(2 * np.eye(2), np.ones((1, 2))), 2 * np.ones((2, 2)))


def test_auto_backend_without_numba_is_numpy(monkeypatch):
    monkeypatch.setattr(codegen, "numba_available", lambda: False)
    f = generate(K * Y.T * Y, (K, Y), backend="auto")
    assert "multi_dot" in inspect.getsource(f)


def _trees(i, j):
    if i == j:
        yield i
        return
    for k in range(i, j):
        for left in _trees(i, k):
            for right in _trees(k + 1, j):
                yield (left, right)


def _cost(tree, shapes):
    """(rows, cols, flops) of evaluating the product tree."""
    if isinstance(tree, int):
        return shapes[tree][0], shapes[tree][1], 0
    (r, m, a), (_, c, b) = _cost(tree[0], shapes), _cost(tree[1], shapes)
    return r, c, a + b + r * m * c


def test_chain_order_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(40):
        count = int(rng.integers(3, 6))
        dims = [int(d) for d in rng.choice([1, 3, 10, 100, 1000], size=count + 1)]
        shapes = [(dims[i], dims[i + 1]) for i in range(count)]
        best = min(_cost(t, shapes)[2] for t in _trees(0, count - 1))
        assert _cost(chain_order(shapes), shapes)[2] == best, shapes
