"""T5 coupled dynamics: rank ≤ C for any loss at stationary points, ≤ C − 1 for cross-entropy."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import theory
from theory.t5_coupled import columns_sum_to_zero, derive_coupled, rank_bound
from verify import ConvergenceError, instances, water_filling_spectrum
from verify.claims.shared import LOSSES, labels
from verify.claims.t5_coupled import finite_difference_stationarity
from verify.core.linalg import confirmed_rank, relative_error
from verify.core.tolerances import TOL
from verify.flows.coupled import coupled_flow, fixed_feature_flow, integrate_coupled_flow
from verify.truth.nuclear_norm import nuclear_norm_regression

LOSS_NAMES = [name for name, _, _ in LOSSES]


def _make(name, C):
    make, kind = {n: (m, k) for n, m, k in LOSSES}[name]
    return make(1 if name == "logistic" else C), kind


def test_T5_bounds_are_derived_from_the_loss():
    assert rank_bound(theory.losses.softmax_cross_entropy(4)) == 3
    assert rank_bound(theory.losses.squared(4)) == 4
    assert rank_bound(theory.losses.huber(3)) == 3
    assert not columns_sum_to_zero(theory.losses.parse("log(exp(f1)+exp(f2)) - y1*f1 - y2*f2 + 0.3*f1", 2))
    assert sp.simplify(derive_coupled(theory.losses.softmax_cross_entropy(2)).gradient_sum - (1 - sum(
        theory.losses.softmax_cross_entropy(2).y))) == 0


@pytest.mark.parametrize("name", LOSS_NAMES)
@given(C=st.integers(2, 4), extra=st.integers(3, 14), seed=st.integers(0, 2**16), lam=st.floats(0.05, 0.5),
       mu=st.floats(0.05, 0.5))
def test_T5_stationary_point_has_rank_at_most_the_bound(name, C, extra, seed, lam, mu):
    loss, kind = _make(name, C)
    rng = np.random.default_rng(seed)
    C = loss.C
    n = C + extra
    m = int(rng.integers(C + 1, n + 4))  # m > C, so rank ≤ m does not make the bound automatic
    Y = labels(rng, kind, n, C)
    state = coupled_flow(loss, rng.standard_normal((m, n)), rng.standard_normal((C, m)), Y, lam, mu,
                         return_info=True)
    assert state.stationarity <= TOL.stationarity
    assert finite_difference_stationarity(loss, state.Phi, state.W, Y, lam, mu) <= TOL.finite_differences
    assert confirmed_rank(state.Phi.T @ state.Phi) <= rank_bound(loss)


@given(n=st.integers(4, 20), C=st.integers(1, 4), seed=st.integers(0, 2**16), lam=st.floats(0.05, 0.5),
       mu=st.floats(0.05, 0.5))
def test_T5_squared_loss_coupled_steady_state_is_the_water_filled_one(n, C, seed, lam, mu):
    C = min(C, n)
    rng = np.random.default_rng(seed)
    Y = instances.one_hot_labels(rng, n, C)
    m = n + 2
    Phi, _ = coupled_flow(theory.losses.squared(C), rng.standard_normal((m, n)), rng.standard_normal((C, m)), Y,
                          lam, mu)
    assert relative_error(np.linalg.eigvalsh(Phi.T @ Phi)[::-1], water_filling_spectrum(Y, lam, mu)) <= TOL.law


@given(seed=st.integers(0, 2**16), p=st.integers(3, 9), C=st.integers(1, 3))
def test_T5_fixed_features_rank_and_nuclear_norm_solution(seed, p, C):
    rng = np.random.default_rng(seed)
    n, m, lam, mu = 10, 7, 0.3, 0.2
    Psi, Y = rng.standard_normal((p, n)) / np.sqrt(p), instances.real_labels(rng, n, C)
    U, W = fixed_feature_flow(theory.losses.squared(C), rng.standard_normal((m, p)), rng.standard_normal((C, m)),
                              Psi, Y, lam, mu)
    Phi = U @ Psi
    assert confirmed_rank(Phi.T @ Phi) <= C
    M = nuclear_norm_regression(Psi, Y, np.sqrt(lam * mu))
    assert relative_error(W @ U, M) <= TOL.closed_form_vs_solver


def test_T5_fixed_features_do_not_follow_the_water_filling_law():
    """docs/theory.md#t5: for a generic Ψ the spectrum is the nuclear-norm one, not T3's in Y (a difference, not an error)."""
    rng = np.random.default_rng(5)
    n, p, m, lam, mu = 10, 6, 8, 0.3, 0.2
    Psi, Y = rng.standard_normal((p, n)), instances.one_hot_labels(rng, n, 2)
    U, _ = fixed_feature_flow(theory.losses.squared(2), rng.standard_normal((m, p)), rng.standard_normal((2, m)), Psi,
                              Y, lam, mu)
    K = (U @ Psi).T @ (U @ Psi)
    assert relative_error(np.linalg.eigvalsh(K)[::-1], water_filling_spectrum(Y, lam, mu)) > 1e-3


def test_T5_cross_entropy_converges_and_collapses_to_C_minus_1():
    rng = np.random.default_rng(2)
    C, n, m = 4, 24, 16
    Y = instances.one_hot_labels(rng, n, C)
    state = coupled_flow(theory.losses.softmax_cross_entropy(C), rng.standard_normal((m, n)),
                         rng.standard_normal((C, m)), Y, 0.05, 0.05, return_info=True)
    assert state.stationarity <= TOL.stationarity
    assert confirmed_rank(state.Phi.T @ state.Phi) == C - 1  # equality observed here; the theorem is ≤
    assert np.abs(np.ones(C) @ state.W).max() <= 1e-8 * np.abs(state.W).max()


def test_T5_negative_control_no_feature_decay_keeps_the_rank():
    rng = np.random.default_rng(3)
    n, C = 10, 2
    Y = instances.one_hot_labels(rng, n, C)
    Phi, _ = integrate_coupled_flow(theory.losses.squared(C), rng.standard_normal((n, n)),
                                    rng.standard_normal((C, n)), Y, 0.2, 0.0, t=50.0)
    assert confirmed_rank(Phi.T @ Phi) > C


def test_T5_negative_control_perturbed_or_unfinished_states_are_not_stationary():
    """The same independent check (finite differences of L) rejects a nudged state and an early-stopped flow."""
    rng = np.random.default_rng(4)
    loss = theory.losses.huber(3)
    Y = instances.real_labels(rng, 9, 3)
    Phi0, W0 = rng.standard_normal((7, 9)), rng.standard_normal((3, 7))
    Phi, W = coupled_flow(loss, Phi0, W0, Y, 0.2, 0.3)
    assert finite_difference_stationarity(loss, Phi, W, Y, 0.2, 0.3) <= TOL.finite_differences
    nudged = Phi + 1e-4 * np.linalg.norm(Phi) * rng.standard_normal(Phi.shape) / np.sqrt(Phi.size)
    assert finite_difference_stationarity(loss, nudged, W, Y, 0.2, 0.3) > 100 * TOL.finite_differences
    Phi_t, W_t = integrate_coupled_flow(loss, Phi0, W0, Y, 0.2, 0.3, t=5.0)
    assert finite_difference_stationarity(loss, Phi_t, W_t, Y, 0.2, 0.3) > 100 * TOL.finite_differences


@pytest.mark.parametrize("step, wrong", [
    ("feature stationarity", lambda t5, nt: 2 * t5.Phi_stationary),
    ("readout stationarity", lambda t5, nt: 2 * t5.W_stationary),
    ("kernel rank", lambda t5, nt: t5.K_stationary + nt.I_n),
    ("readout in a hyperplane", lambda t5, nt: t5.step("readout in a hyperplane").rhs + sp.OneMatrix(1, nt.m)),
])
def test_T5_certificates_reject_a_mutated_derivation(step, wrong):
    """Certificates evaluate the step's own sides: a wrong rhs (a factor 2 slipped in, a full-rank term) fails."""
    from theory import notation as nt

    t5 = derive_coupled(theory.losses.softmax_cross_entropy(3))
    assert t5.step(step).certificate.passed
    assert not t5.step(step).recheck(rhs=wrong(t5, nt)).passed


def test_T5_coupled_flow_validates_its_arguments():
    loss = theory.losses.squared(2)
    Phi, W, Y = np.ones((3, 4)), np.ones((2, 3)), np.ones((2, 4))
    with pytest.raises(ValueError, match="W0"):
        coupled_flow(loss, Phi, np.ones((2, 5)), Y, 0.1, 0.1)
    with pytest.raises(ValueError, match="lam"):
        coupled_flow(loss, Phi, W, Y, 0.0, 0.1)
    with pytest.raises(ValueError, match="Y"):
        coupled_flow(loss, Phi, W, np.ones((3, 4)), 0.1, 0.1)
    with pytest.raises(TypeError, match="loss"):
        coupled_flow("squared", Phi, W, Y, 0.1, 0.1)


def test_T5_no_convergence_is_reported_not_returned():
    rng = np.random.default_rng(0)
    Y = instances.one_hot_labels(rng, 6, 2)
    with pytest.raises(ConvergenceError, match="coupled flow"):
        coupled_flow(theory.losses.squared(2), rng.standard_normal((4, 6)), rng.standard_normal((2, 4)), Y, 0.1, 0.1,
                     tol=1e-30)
