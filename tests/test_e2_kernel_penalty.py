"""E2 (worked extension) — a penalty (ν/4)‖K‖²_F on the kernel: the derivation, rank ≤ C, T3's threshold and the
cubic level, against the direct minimiser; T3's law and wrong formulas rejected."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import theory
from theory import notation as nt
from theory.e2_kernel_penalty import nu
from verify import confirmed_rank, instances, water_filling_spectrum
from verify.claims import REGISTRY, Context
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.flows.extensions import flow_steady_state, penalty_law_spectrum, penalty_level, penalty_rhs
from verify.truth.direct_minimisers import minimise_penalised_objective

k, s, lam, mu = nt.kappa, nt.s, nt.lam, nt.mu


@pytest.mark.parametrize("C", [1, 2, 3])
def test_E2_derivation_is_certified_for_every_C(C):
    derivation = theory.derive_kernel_penalty(C)
    assert derivation.certified, [st_.name for st_ in derivation.steps if not st_.holds]


def test_E2_mode_law_equals_the_reference_and_reduces_to_T3_at_nu_0():
    """Compared after the derivation (never used by it): κ̇ = 2κ(λs/(κ + λ)² − μ − νκ)."""
    mode = theory.derive_kernel_penalty(2).results["mode_rhs"]
    assert sp.simplify(mode - 2 * k * (lam * s / (k + lam) ** 2 - mu - nu * k)) == 0
    assert sp.simplify(mode.subs(nu, 0) - theory.derive_water_filling().mode_rhs) == 0


def test_E2_kernel_ode_without_the_penalty_term_is_rejected():
    step = theory.derive_kernel_penalty(2).step("kernel ODE")
    D = nt.lam * (nt.K + nt.lam * nt.I_n).I * nt.S * (nt.K + nt.lam * nt.I_n).I
    for wrong in (nt.K * D + D * nt.K - 2 * nt.mu * nt.K, nt.K * D + D * nt.K - 2 * nt.mu * nt.K - nu * nt.K * nt.K):
        assert not step.recheck(rhs=wrong).passed


def test_E2_feature_gradient_with_the_wrong_penalty_weight_is_rejected():
    step = theory.derive_kernel_penalty(2).step("feature gradient")
    D = nt.lam * (nt.K + nt.lam * nt.I_n).I * nt.S * (nt.K + nt.lam * nt.I_n).I
    assert not step.recheck(rhs=nt.Phi * (nt.mu * nt.I_n + nu / 2 * nt.K - D)).passed


def test_E2_level_solves_the_cubic_below_T3_and_vanishes_below_the_threshold():
    lam_, mu_, nu_ = 0.3, 0.05, 0.7
    for s_ in (0.5 * lam_ * mu_, 2 * lam_ * mu_, 10.0, 1e4):
        level = penalty_level(s_, lam_, mu_, nu_)
        if s_ <= lam_ * mu_:
            assert level == 0.0
            continue
        assert abs((level + lam_) ** 2 * (mu_ + nu_ * level) - lam_ * s_) < 1e-12 * lam_ * s_
        assert 0 < level < np.sqrt(lam_ * s_ / mu_) - lam_


@given(seed=st.integers(0, 2**16), C=st.integers(1, 3), extra=st.integers(2, 5))
def test_E2_steady_states_have_rank_at_most_C_and_follow_the_cubic_law(seed, C, extra):
    rng = np.random.default_rng(seed)
    n = C + extra
    Y = instances.one_hot_labels(rng, n, C) if seed % 2 else instances.real_labels(rng, n, C)
    lam_, mu_ = instances.log_uniform(rng, 0.1, 1.0), instances.log_uniform(rng, 0.01, 0.1)
    nu_ = instances.log_uniform(rng, 0.01, 10.0)
    law = penalty_law_spectrum(Y, lam_, mu_, nu_)
    s_ = np.linalg.eigvalsh(Y @ Y.T)
    if np.min(np.abs(s_ / (lam_ * mu_) - 1)) < TOL.threshold_margin:
        return  # a mode at its threshold converges algebraically, not exponentially: not a steady-state test
    K = flow_steady_state(penalty_rhs, instances.generic_kernel(rng, n), Y, lam_, mu_, nu_)
    assert confirmed_rank(K) <= C
    assert relative_error(np.linalg.eigvalsh(K)[::-1], law) < TOL.law


def test_E2_flow_agrees_with_the_direct_minimiser_and_rejects_T3s_law():
    rng = np.random.default_rng(4)
    Y, K0 = instances.one_hot_labels(rng, 8, 3), instances.generic_kernel(rng, 8)
    flow = flow_steady_state(penalty_rhs, K0, Y, 0.3, 0.05, 0.5)
    direct = minimise_penalised_objective(Y, 0.3, 0.05, 0.5, seed=1)
    assert relative_error(flow, direct) < TOL.law
    assert relative_error(np.linalg.eigvalsh(direct)[::-1], water_filling_spectrum(Y, 0.3, 0.05)) > 1e-3


def test_E2_arguments_are_validated():
    with pytest.raises(ValueError, match="nu must be"):
        penalty_rhs(np.eye(4), np.ones((2, 4)), 0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match="nu must be"):
        penalty_level(1.0, 0.1, 0.1, float("nan"))


def test_E2_claim_passes_with_every_control_rejected():
    verdict = REGISTRY["E2"].check(Context())
    assert verdict.passed, verdict.reason
    assert all(c["rejected"] for c in verdict.details["controls"].values())


def test_E2_law_spectrum_is_the_level_of_each_label_eigenvalue_descending():
    rng = np.random.default_rng(2)
    Y = instances.one_hot_labels(rng, 7, 3)
    s_ = np.linalg.eigvalsh(Y.T @ Y)
    expected = sorted((penalty_level(max(x, 0.0), 0.3, 0.05, 0.4) for x in s_), reverse=True)
    law = penalty_law_spectrum(Y, 0.3, 0.05, 0.4)
    assert law.shape == (7,) and np.array_equal(law, np.sort(law)[::-1])
    assert relative_error(law, np.array(expected)) < 1e-15 and np.count_nonzero(law) == 3
    with pytest.raises(ValueError, match="Y must be"):
        penalty_law_spectrum(np.ones((8, 7)), 0.3, 0.05, 0.4)


def test_E2_errors_name_the_argument():
    with pytest.raises(ValueError, match="mu must be"):
        penalty_level(1.0, 0.1, -0.1, 1.0)
    with pytest.raises(ValueError, match=r"K0 must be n × n with n = 4"):
        flow_steady_state(penalty_rhs, np.eye(3), np.ones((2, 4)), 0.1, 0.1, 1.0)


def test_E2_level_refuses_a_penalty_whose_scale_overflows():
    with pytest.raises(ValueError, match=r"s, lam, mu, nu: the level's scale"):
        penalty_level(1.0, 1.0, 1e-300, 1e300)          # √(λs/μ) = 1e150 is finite, νU/μ is not
