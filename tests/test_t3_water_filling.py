"""T3 water-filling: the derived mode law, steady states from generic non-commuting K(0), t(κ), controls."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st
from scipy.integrate import solve_ivp

import theory
from theory import notation as nt
from verify import ConvergenceError, instances, integrate_kernel_flow, steady_state, water_filling_spectrum
from verify.claims.t3_water_filling import law_kernel, no_cutoff_law
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.flows.stability import label_eigenbasis
from verify.flows.water_filling import label_spectrum, mode_rhs, time_to_reach

LAW = theory.derive_water_filling()
k, s, lam, mu = nt.kappa, nt.s, nt.lam, nt.mu


def test_T3_derived_law_equals_the_reference():
    """docs/theory.md#t3, compared after the derivation (never used by it)."""
    assert sp.simplify(LAW.mode_rhs - 2 * k * (lam * s / (k + lam) ** 2 - mu)) == 0
    assert sp.simplify(LAW.kappa_star - (sp.sqrt(lam * s / mu) - lam)) == 0
    assert sp.simplify(LAW.slopes[0] - 2 * (s / lam - mu)) == 0
    assert sp.simplify(LAW.slopes[1] - 4 * mu * (sp.sqrt(lam * mu / s) - 1)) == 0
    assert LAW.threshold == (s > lam * mu)


def test_T3_law_does_not_depend_on_C():
    assert sp.simplify(theory.derive_water_filling(theory.losses.squared(3)).mode_rhs - LAW.mode_rhs) == 0


def _labels(rng, n, C, kind, lam, mu):
    if kind == "one-hot":
        return instances.one_hot_labels(rng, n, C)
    if kind == "real":
        return instances.real_labels(rng, n, C)
    # modes on both sides of the threshold: s/λμ in [0.1, 0.6] for one, [2, 100] for the others
    ratios = np.concatenate([rng.uniform(0.1, 0.6, 1), np.exp(rng.uniform(np.log(2), np.log(100), C - 1))])
    return instances.labels_with_spectrum(rng, n, np.sqrt(lam * mu * ratios))


@given(n=st.integers(3, 30), C=st.integers(1, 4), kind=st.sampled_from(["one-hot", "real", "both sides"]),
       lam=st.floats(0.05, 1.0), mu=st.floats(0.02, 0.3), scale=st.floats(0.3, 3.0), seed=st.integers(0, 2**16))
def test_T3_steady_state_from_generic_kernel_obeys_the_law(n, C, kind, lam, mu, scale, seed):
    C = min(C, n)
    rng = np.random.default_rng(seed)
    Y = _labels(rng, n, C, kind, lam, mu)
    K0 = instances.generic_kernel(rng, n, scale)
    S = Y.T @ Y
    assert np.linalg.norm(K0 @ S - S @ K0) > 1e-3 * np.linalg.norm(K0) * np.linalg.norm(S)  # non-commuting start
    K = steady_state(K0, Y, lam, mu)
    assert relative_error(np.linalg.eigvalsh(K)[::-1], water_filling_spectrum(Y, lam, mu)) <= TOL.law
    # and on the right eigenvectors: K∞ = V diag(κ∞(s)) Vᵀ
    assert relative_error(K, law_kernel(Y, lam, mu)) <= TOL.law


def test_T3_steady_state_at_n_100():
    rng = np.random.default_rng(11)
    Y = instances.one_hot_labels(rng, 100, 4)
    K = steady_state(instances.generic_kernel(rng, 100), Y, 0.2, 0.05)
    assert relative_error(np.linalg.eigvalsh(K)[::-1], water_filling_spectrum(Y, 0.2, 0.05)) <= TOL.law


def test_T3_negative_control_law_without_threshold_is_rejected():
    rng = np.random.default_rng(5)
    lam, mu = 0.5, 0.1
    Y = _labels(rng, 8, 3, "both sides", lam, mu)
    K = steady_state(instances.generic_kernel(rng, 8), Y, lam, mu)
    eig = np.linalg.eigvalsh(K)[::-1]
    assert relative_error(eig, water_filling_spectrum(Y, lam, mu)) <= TOL.law
    assert relative_error(eig, no_cutoff_law(Y, lam, mu)) > 1e3 * TOL.law


def test_T3_negative_control_mu_zero_has_no_steady_state():
    """Without decay, labelled modes grow without bound: the law's finite κ∞ is never reached."""
    rng = np.random.default_rng(2)
    Y = instances.one_hot_labels(rng, 6, 2)
    K0 = instances.generic_kernel(rng, 6)
    with pytest.raises(ConvergenceError, match="mu = 0"):
        steady_state(K0, Y, 0.5, 0.0, max_time=2000.0)
    trajectory = integrate_kernel_flow(K0, Y, 0.5, 0.0, [0.0, 100.0, 1000.0])
    top = trajectory.spectra()[:, 0]
    assert top[2] > top[1] > top[0]  # still growing


@given(ratio=st.floats(1.5, 200.0), start=st.sampled_from(["below", "above"]), lam=st.floats(0.05, 1.0),
       mu=st.floats(0.02, 0.3), fraction=st.floats(0.2, 0.95))
def test_T3_closed_form_time_matches_integrated_mode(ratio, start, lam, mu, fraction):
    s_val = ratio * lam * mu
    star = np.sqrt(lam * s_val / mu) - lam
    kappa0 = star * (0.05 if start == "below" else 2.5)
    target = kappa0 + fraction * (star - kappa0)
    event = lambda t, y: y[0] - target  # noqa: E731
    event.terminal = True
    sol = solve_ivp(lambda t, y: mode_rhs(y, s_val, lam, mu), (0, 1e7), [kappa0], method="LSODA", events=event,
                    rtol=1e-12, atol=1e-14 * star)
    t_numeric = sol.t_events[0][0]
    assert abs(time_to_reach(target, kappa0, s_val, lam, mu) - t_numeric) <= TOL.closed_form_time * t_numeric


def test_T3_commuting_start_stays_commuting_and_follows_the_modes():
    rng = np.random.default_rng(4)
    lam, mu = 0.5, 0.1
    Y = instances.one_hot_labels(rng, 6, 2)
    s_vals, V = label_eigenbasis(Y)
    kappa0 = rng.uniform(0.1, 2.0, 6)
    traj = integrate_kernel_flow((V * kappa0) @ V.T, Y, lam, mu, np.linspace(0, 30, 7))
    S = Y.T @ Y
    for K in traj.kernels:
        assert np.linalg.norm(K @ S - S @ K) <= 100 * TOL.integration * np.linalg.norm(K) * np.linalg.norm(S)
    modes = solve_ivp(lambda t, y: mode_rhs(y, s_vals, lam, mu), (0, 30), kappa0, t_eval=traj.times, rtol=1e-12,
                      atol=1e-14)
    predicted = np.stack([(V * col) @ V.T for col in modes.y.T])
    assert relative_error(traj.kernels, predicted) <= 100 * TOL.integration


def test_label_spectrum_uses_singular_values():
    Y = np.array([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    assert np.allclose(label_spectrum(Y), [16.0, 9.0, 0.0])


def _commuting_start(Y, kappa0):
    s_vals, V = label_eigenbasis(Y)
    return (V * kappa0) @ V.T


def test_T3_slow_mode_just_above_threshold_is_filled_not_left_empty():
    """s/λμ = 1.1 grows at rate 2(s/λ − μ) only: from 1e-12 the residual criterion is met near the
    unstable state long before the mode grows; the solver must not report that saddle."""
    rng = np.random.default_rng(8)
    lam, mu = 0.5, 0.1
    Y = instances.labels_with_spectrum(rng, 5, np.sqrt(lam * mu * np.array([40.0, 1.1])))
    law = water_filling_spectrum(Y, lam, mu)
    info = steady_state(_commuting_start(Y, np.array([1.0, 1e-12, 0.3, 0.3, 0.3])), Y, lam, mu, return_info=True)
    assert relative_error(np.linalg.eigvalsh(info.kernel)[::-1], law) <= TOL.law
    assert info.max_real_eigenvalue < 0
    # the flow's own limit from a start exactly on the saddle's stable manifold (mode exactly 0) is the saddle
    saddle = steady_state(_commuting_start(Y, np.array([1.0, 0.0, 0.3, 0.3, 0.3])), Y, lam, mu,
                          escape_unstable=False, return_info=True)
    assert saddle.max_real_eigenvalue > 0
    assert relative_error(np.linalg.eigvalsh(saddle.kernel)[::-1], law) > 1e-3


def test_T3_every_mode_cut_off_gives_the_zero_kernel():
    rng = np.random.default_rng(9)
    lam, mu = 0.5, 0.1
    Y = instances.labels_with_spectrum(rng, 6, np.sqrt(lam * mu * np.array([0.5, 0.2])))
    assert not water_filling_spectrum(Y, lam, mu).any()
    K0 = instances.generic_kernel(rng, 6)
    K = steady_state(K0, Y, lam, mu)
    assert np.linalg.norm(K) <= TOL.steady_state_floor * np.linalg.norm(K0)


@pytest.mark.parametrize("kappa, kappa0, s, why", [
    (0.0, 1.0, 2.0, "kappa and kappa0 must be > 0"),
    (3.0, 0.1, 2.0, "same side of the fixed point"),   # κ* = √(0.5·2/0.1) − 0.5 ≈ 2.66 lies between
    (0.5, 0.1, 0.05, "threshold"),                    # s = λμ
])
def test_time_to_reach_refuses_what_the_mode_never_does(kappa, kappa0, s, why):
    with pytest.raises(ValueError, match=why):
        time_to_reach(kappa, kappa0, s, 0.5, 0.1)


# --- T3 against direct minimisation of the objective (verify.truth.direct_minimisers: no derivation, no flow) ---------

from verify.truth.direct_minimisers import minimise_full_objective, minimise_reduced_objective  # noqa: E402


@given(n=st.integers(3, 12), C=st.integers(1, 4), kind=st.sampled_from(["one-hot", "real", "both sides"]),
       lam=st.floats(0.05, 1.0), mu=st.floats(0.02, 0.3), seed=st.integers(0, 2**16))
def test_T3_direct_minimiser_of_the_reduced_objective_obeys_the_law(n, C, kind, lam, mu, seed):
    C = min(C, n)
    rng = np.random.default_rng(seed)
    Y = _labels(rng, n, C, kind, lam, mu)
    K = minimise_reduced_objective(Y, lam, mu, seed=seed)
    assert relative_error(np.linalg.eigvalsh(K)[::-1], water_filling_spectrum(Y, lam, mu)) <= TOL.direct_minimiser
    assert relative_error(K, law_kernel(Y, lam, mu)) <= TOL.direct_minimiser


def test_T3_integrated_steady_state_is_the_direct_minimiser_and_so_is_the_full_objective_minimiser():
    rng = np.random.default_rng(21)
    n, lam, mu = 10, 0.2, 0.05
    Y = _labels(rng, n, 3, "both sides", lam, mu)
    direct = minimise_reduced_objective(Y, lam, mu)
    assert relative_error(steady_state(instances.generic_kernel(rng, n), Y, lam, mu), direct) <= TOL.law
    assert relative_error(minimise_full_objective(Y, lam, mu), direct) <= TOL.direct_minimiser


def test_T3_negative_control_direct_minimiser_at_doubled_mu_is_rejected_by_the_law():
    rng = np.random.default_rng(22)
    Y = _labels(rng, 8, 2, "one-hot", 0.2, 0.05)
    K = minimise_reduced_objective(Y, 0.2, 0.1)
    assert relative_error(K, law_kernel(Y, 0.2, 0.05)) > TOL.direct_minimiser
    assert relative_error(np.linalg.eigvalsh(K)[::-1], water_filling_spectrum(Y, 0.2, 0.05)) > 1e3 * TOL.direct_minimiser
