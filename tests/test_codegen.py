"""Generated code (verify.flows.codegen): it agrees with hand-written NumPy, resolves symbolic sizes at
run time, prints long products with multi_dot, and reports bad or unavailable backends clearly."""
from __future__ import annotations

import importlib.util
import inspect

import numpy as np
import pytest
import sympy as sp

from theory.notation import I_n, K, lam
from verify import TOL, relative_error
from verify.flows.codegen import BACKENDS, BackendUnavailable, generate
from verify.flows.kernel_ode import compiled_drive, compiled_rhs

HAS_NUMBA = importlib.util.find_spec("numba") is not None


def _instance(n, C, seed):
    rng = np.random.default_rng([n, C, seed])
    A = rng.normal(size=(n, n))
    return A @ A.T / n, rng.normal(size=(C, n)), float(rng.uniform(0.2, 2.0)), float(rng.uniform(0.01, 1.0))


def _drive_by_hand(K_, Y_, lam_):
    """D = λ(K+λI)⁻¹YᵀY(K+λI)⁻¹ with two solves (K+λI is symmetric), no generated code."""
    A = K_ + lam_ * np.eye(K_.shape[0])
    left = np.linalg.solve(A, Y_.T @ Y_)  # A⁻¹S
    return lam_ * np.linalg.solve(A, left.T).T  # (A⁻¹(A⁻¹S)ᵀ)ᵀ = A⁻¹SA⁻¹


def _rhs_by_hand(K_, Y_, lam_, mu_):
    D = _drive_by_hand(K_, Y_, lam_)
    return K_ @ D + D @ K_ - 2 * mu_ * K_


SIZES = [(3, 1), (5, 2), (12, 3), (30, 4), (60, 2), (60, 4)]


@pytest.mark.parametrize("n, C", SIZES)
def test_generated_rhs_matches_hand_written_numpy(n, C):
    for seed in range(3):
        K_, Y_, lam_, mu_ = _instance(n, C, seed)
        got = compiled_rhs(C)(K_, Y_, lam_, mu_)
        assert relative_error(got, _rhs_by_hand(K_, Y_, lam_, mu_)) <= TOL.generated_code


@pytest.mark.parametrize("n, C", SIZES)
def test_generated_drive_matches_hand_written_numpy(n, C):
    K_, Y_, lam_, _ = _instance(n, C, 0)
    got = compiled_drive(C)(K_, Y_, lam_)
    assert relative_error(got, _drive_by_hand(K_, Y_, lam_)) <= TOL.generated_code


def test_one_generated_function_serves_every_n():
    rhs = compiled_rhs(2)
    for n in (2, 3, 7, 20, 41):
        K_, Y_, lam_, mu_ = _instance(n, 2, 1)
        assert compiled_rhs(2) is rhs
        got = rhs(K_, Y_, lam_, mu_)
        assert got.shape == (n, n)
        assert relative_error(got, _rhs_by_hand(K_, Y_, lam_, mu_)) <= TOL.generated_code


def test_identity_size_is_read_from_the_argument_shape():
    resolvent = generate((K + lam * I_n).I, (K, lam))
    assert "shape[0]" in inspect.getsource(resolvent)
    for n in (1, 4, 9):
        K_ = np.diag(np.arange(1.0, n + 1))
        expected = np.diag(1.0 / (np.arange(1.0, n + 1) + 0.5))
        assert relative_error(resolvent(K_, 0.5), expected) <= TOL.generated_code


def test_unknown_backend_is_a_value_error_naming_the_backends():
    with pytest.raises(ValueError) as info:
        generate(K * 2, (K,), backend="bogus")
    assert "bogus" in str(info.value)
    for name in BACKENDS:
        assert name in str(info.value)


@pytest.mark.skipif(HAS_NUMBA, reason="numba is installed; the missing-extra error cannot occur")
def test_numba_backend_without_numba_names_the_extra():
    with pytest.raises(BackendUnavailable, match=r"kernel-flows\[numba\]"):
        generate(K * 2, (K,), backend="numba")


HAS_CUPY = importlib.util.find_spec("cupy") is not None


@pytest.mark.skipif(HAS_CUPY, reason="cupy is installed; the missing-extra error cannot occur")
def test_cupy_backend_without_cupy_names_the_gpu_extra():
    with pytest.raises(BackendUnavailable, match=r"kernel-flows\[gpu\]"):
        generate(K * 2, (K,), backend="cupy")


def _cupy_device_present() -> bool:
    if not HAS_CUPY:
        return False
    import cupy

    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # a CUDA runtime without a device
        return False


@pytest.mark.skipif(not _cupy_device_present(), reason="needs cupy and a GPU")
@pytest.mark.parametrize("n, C", [(50, 3), (400, 10)])
def test_cupy_backend_matches_numpy_on_the_gpu(n, C):
    import cupy

    K_, Y_, lam_, mu_ = _instance(n, C, 0)
    value = cupy.asnumpy(compiled_rhs(C, "cupy")(cupy.asarray(K_), cupy.asarray(Y_), lam_, mu_))
    assert relative_error(value, compiled_rhs(C)(K_, Y_, lam_, mu_)) < TOL.generated_code


@pytest.mark.skipif(not HAS_NUMBA, reason="needs the numba extra")
@pytest.mark.parametrize("n, C", [(20, 2), (60, 4)])
def test_numba_backend_matches_numpy(n, C):
    K_, Y_, lam_, mu_ = _instance(n, C, 1)
    assert relative_error(compiled_rhs(C, "numba")(K_, Y_, lam_, mu_), compiled_rhs(C)(K_, Y_, lam_, mu_)) \
        < TOL.generated_code


def test_static_chain_order_multiplies_thin_factors_first():
    """numba and CuPy lack multi_dot: chains are ordered at generation time with C ≪ n."""
    from theory.notation import C, n
    from verify.flows.codegen import chain_order

    assert chain_order([(n, C), (C, n), (n, n)]) == (0, (1, 2))
    assert chain_order([(n, n), (n, C), (C, n)]) == ((0, 1), 2)
    assert chain_order([(n, n), (n, C), (C, n), (n, n)]) == ((0, 1), (2, 3))
    assert issubclass(BackendUnavailable, ImportError)


@pytest.mark.skipif(HAS_NUMBA, reason="with numba installed, auto picks numba")
def test_auto_backend_falls_back_to_numpy_without_numba():
    K_ = np.arange(9.0).reshape(3, 3)
    auto = generate((K + lam * I_n).I * K, (K, lam), backend="auto")
    plain = generate((K + lam * I_n).I * K, (K, lam), backend="numpy")
    assert relative_error(auto(K_, 0.5), plain(K_, 0.5)) == 0.0


def test_products_of_three_or_more_matrices_use_multi_dot():
    A, B, M = (sp.MatrixSymbol(name, 4, 4) for name in "ABM")
    three = inspect.getsource(generate(A * B * M, (A, B, M)))
    two = inspect.getsource(generate(A * B, (A, B)))
    assert "numpy.linalg.multi_dot" in three
    assert "multi_dot" not in two and "@" in two
    assert "numpy.linalg.multi_dot" in inspect.getsource(compiled_rhs(3))


def test_multi_dot_product_is_numerically_right():
    A, B, M = (sp.MatrixSymbol(name, 3, 3) for name in "ABM")
    rng = np.random.default_rng(0)
    a, b, m = rng.normal(size=(3, 3, 3))
    got = generate(2 * A * B * M, (A, B, M))(a, b, m)
    assert relative_error(got, 2 * (a @ b @ m)) <= TOL.generated_code


def test_products_with_sum_factors_keep_their_parentheses():
    """(A + B)·K must not print as A + B @ K (a precedence bug that once slipped through)."""
    import sympy as sp

    from theory.notation import I_n, K, lam
    from verify.flows.codegen import generate

    S = sp.MatrixSymbol("S", *K.shape)
    f = generate(sp.MatMul(S + lam * I_n, K), (K, S, lam))
    rng = np.random.default_rng(0)
    Kn, Sn = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    assert relative_error(f(Kn, Sn, 0.7), (Sn + 0.7 * np.eye(3)) @ Kn) <= TOL.generated_code


def test_no_inverse_is_formed_for_the_kernel_ode():
    """One solve against the C label columns, shared by both terms (K + λI is symmetric because K is)."""
    source = inspect.getsource(compiled_rhs(3))
    assert "inv(" not in source and source.count("numpy.linalg.solve(") == 1


@pytest.mark.parametrize("name", ["bare", "left", "right", "both sides", "transposed", "trace", "two inverses"])
def test_inverses_in_every_position_match_numpy(name):
    """Generated code with inverses left, right, alone, transposed, inside a trace, nested: against NumPy."""
    from theory.notation import Y

    A = K + lam * I_n
    exprs = {"bare": A.I, "left": A.I * Y.T, "right": Y * A.I, "both sides": Y * A.I * K * A.I * Y.T,
             "transposed": (Y * A.I).T * Y, "trace": sp.Trace(A.I * K), "two inverses": (K + 2 * lam * I_n).I * A.I * Y.T}
    rng = np.random.default_rng(4)
    K_, Y_ = rng.standard_normal((6, 6)), rng.standard_normal((2, 6))
    K_ = K_ @ K_.T
    A_ = np.linalg.inv(K_ + 0.3 * np.eye(6))
    expected = {"bare": A_, "left": A_ @ Y_.T, "right": Y_ @ A_, "both sides": Y_ @ A_ @ K_ @ A_ @ Y_.T,
                "transposed": (Y_ @ A_).T @ Y_, "trace": np.trace(A_ @ K_),
                "two inverses": np.linalg.inv(K_ + 0.6 * np.eye(6)) @ A_ @ Y_.T}
    value = generate(exprs[name], (K, Y, lam))(K_, Y_, 0.3)
    assert relative_error(np.asarray(value), expected[name]) < TOL.generated_code
