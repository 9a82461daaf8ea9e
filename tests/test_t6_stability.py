"""T6 stability: derived pair rates, full Jacobian at every commuting steady state."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import theory
from theory import notation as nt
from verify import (
    commuting_steady_states,
    instances,
    kernel_ode_jacobian,
    linear_stability,
    predicted_linearisation_spectrum,
    steady_state,
)
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.flows.kernel_ode import kernel_ode_rhs
from verify.truth.finite_differences import FD_STEP

LIN = theory.derive_linearisation()


def test_T6_empty_fillable_mode_rate_is_positive():
    """ρ_ii at κ = 0 is f'(0) = 2(s/λ − μ) > 0 above the threshold (derived, then compared)."""
    assert sp.simplify(LIN.diagonal_rate.subs(nt.kappa, 0) - 2 * (nt.s / nt.lam - nt.mu)) == 0


def _problem(rng, n, C, lam, mu):
    ratios = np.exp(rng.uniform(np.log(0.2), np.log(400.0), C))
    ratios[np.abs(np.log(ratios)) < 0.3] = 3.0  # keep modes off the threshold s = λμ
    return instances.labels_with_spectrum(rng, n, np.sqrt(lam * mu * ratios))


@given(n=st.integers(3, 9), C=st.integers(1, 3), lam=st.floats(0.1, 1.0), mu=st.floats(0.02, 0.2),
       seed=st.integers(0, 2**16))
def test_T6_water_filled_is_stable_and_every_partial_state_unstable(n, C, lam, mu, seed):
    rng = np.random.default_rng(seed)
    Y = _problem(rng, n, min(C, n), lam, mu)
    states = commuting_steady_states(Y, lam, mu)
    assert states[0].water_filled
    for state in states:
        residual = np.linalg.norm(kernel_ode_rhs(state.kernel, Y, lam, mu))
        assert residual <= TOL.steady_state * max(np.linalg.norm(state.kernel), np.linalg.norm(Y) ** 2)
        result = linear_stability(state.kernel, Y, lam, mu)
        assert result.classification == ("stable" if state.water_filled else "unstable"), state.filled
        predicted = predicted_linearisation_spectrum(state.kappas, state.labels, lam, mu)
        computed = np.sort(result.eigenvalues.real)[::-1]
        assert np.abs(computed - predicted).max() <= TOL.linearisation * np.abs(predicted).max()


def test_T6_negative_control_unstable_state_is_found_unstable_and_flow_leaves_it():
    rng = np.random.default_rng(0)
    lam, mu = 0.5, 0.05
    Y = instances.one_hot_labels(rng, 8, 3)
    partial = [s for s in commuting_steady_states(Y, lam, mu) if not s.water_filled][0]
    assert linear_stability(partial.kernel, Y, lam, mu).max_real > 0
    # a small generic perturbation grows away from it, to the water-filled state
    K = steady_state(partial.kernel + 1e-3 * instances.generic_kernel(rng, 8), Y, lam, mu)
    water = commuting_steady_states(Y, lam, mu)[0].kernel
    assert relative_error(K, water) <= TOL.law


def test_T6_theory_example_n8_C3():
    """docs/theory.md#t6: n=8, C=3, λ=0.5, μ=0.05 — water-filled max Re eig = −2μ = −0.1 (no labelled mode near the threshold)."""
    rng = np.random.default_rng(0)
    Y = instances.one_hot_labels(rng, 8, 3)
    states = commuting_steady_states(Y, 0.5, 0.05)
    assert linear_stability(states[0].kernel, Y, 0.5, 0.05).max_real == pytest.approx(-0.1, rel=TOL.linearisation)
    assert all(linear_stability(s.kernel, Y, 0.5, 0.05).max_real > 1 for s in states[1:])


def test_T6_jacobian_matches_finite_differences():
    """Complex-step Jacobian against central differences of the generated rhs (independent of the step)."""
    rng = np.random.default_rng(2)
    n = 4
    Y = instances.real_labels(rng, n, 2)
    K = instances.generic_kernel(rng, n)
    J = kernel_ode_jacobian(K, Y, 0.5, 0.1)
    rows, cols = np.triu_indices(n)
    h = FD_STEP
    for l in range(rows.size):
        E = np.zeros((n, n))
        E[rows[l], cols[l]] = E[cols[l], rows[l]] = 1.0
        fd = (kernel_ode_rhs(K + h * E, Y, 0.5, 0.1) - kernel_ode_rhs(K - h * E, Y, 0.5, 0.1)) / (2 * h)
        assert relative_error(J[:, l], fd[rows, cols]) <= TOL.finite_differences


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_T6_every_claim_problem_has_a_partially_filled_state(profile):
    """The T6 control "a partially filled state is stable" must check real states in both profiles: every
    problem of the claim has a fillable mode, hence a partially filled (e.g. the empty) steady state.
    Seeds 1028 and 2062 had no fillable mode in any quick problem before the generator fixed one."""
    from verify.claims import Context
    from verify.claims.t6_stability import problems
    from verify.flows.water_filling import label_spectrum

    for seed in (0, 1, 1028, 2062):
        for Y, lam, mu in problems(Context(profile, seed)):
            assert label_spectrum(Y).max() > 2 * lam * mu * (1 - 1e-12)  # at least 2λμ: far off the threshold
            assert any(not state.water_filled for state in commuting_steady_states(Y, lam, mu))
