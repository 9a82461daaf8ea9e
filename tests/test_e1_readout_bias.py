"""E1 (worked extension) — a readout with a bias: the derivation, the rank bound rank(YH) (C − 1 for one-hot labels),
water-filling of HSH, against the direct minimiser of L(W, b, Φ); wrong formulas and the model without bias rejected."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import theory
from theory import notation as nt
from theory.e1_readout_bias import H, b as bias, ones
from verify import confirmed_rank, instances, steady_state, water_filling_spectrum
from verify.claims import REGISTRY, Context
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.flows.extensions import bias_law_spectrum, bias_rhs, centring, flow_steady_state
from verify.truth.direct_minimisers import minimise_bias_objective


@pytest.mark.parametrize("C", [1, 2, 3])
def test_E1_derivation_is_certified_for_every_C(C):
    derivation = theory.derive_readout_bias(C)
    assert derivation.certified, [s.name for s in derivation.steps if not s.holds]


def test_E1_drive_without_the_centring_is_rejected_by_the_rank_step():
    """T2's drive λRSR (no H) has rank C on one-hot labels: the bound C − 1 and the identity both reject it."""
    step = theory.derive_readout_bias(3).step("rank of the drive")
    R = (H * nt.K * H + nt.lam * nt.I_n).I
    assert not step.recheck(rhs=nt.lam * R * nt.S * R).passed


@pytest.mark.parametrize("wrong", ["half decay", "uncentred readout"])
def test_E1_feature_gradient_mutants_are_rejected(wrong):
    step = theory.derive_readout_bias(2).step("feature gradient")
    R = (H * nt.K * H + nt.lam * nt.I_n).I
    W_star, G_star = nt.Y * R * H * nt.Phi.T, -nt.lam * nt.Y * H * R
    if wrong == "half decay":
        rhs = W_star.T * G_star + nt.mu / 2 * nt.Phi
    else:
        rhs = (nt.Y * R * nt.Phi.T).T * G_star + nt.mu * nt.Phi
    assert step.certificate.passed and not step.recheck(rhs=rhs).passed


def test_E1_optimal_bias_with_the_wrong_sign_is_rejected():
    """∂L/∂b at b = (WΦ − Y)1/n (the sign flipped) is not 0: the same check rejects it."""
    derivation = theory.derive_readout_bias(2)
    step = derivation.step("optimal bias")
    wrong_b = (nt.W * nt.Phi - nt.Y) * ones / nt.n
    assert step.recheck().passed
    assert not step.recheck(lhs=derivation.step("bias gradient").rhs.xreplace({bias: wrong_b})).passed


def test_E1_generated_rhs_equals_a_direct_numpy_formula():
    rng = np.random.default_rng(1)
    Y, K = instances.real_labels(rng, 7, 2), instances.generic_kernel(rng, 7)
    Hn = centring(7)
    R = np.linalg.inv(Hn @ K @ Hn + 0.3 * np.eye(7))
    D = 0.3 * R @ Hn @ Y.T @ Y @ Hn @ R
    assert relative_error(bias_rhs(K, Y, 0.3, 0.05), K @ D + D @ K - 0.1 * K) < TOL.generated_code


@given(seed=st.integers(0, 2**16), C=st.integers(2, 4), extra=st.integers(2, 5))
def test_E1_steady_states_have_rank_at_most_C_minus_1_and_fill_HSH(seed, C, extra):
    rng = np.random.default_rng(seed)
    n = C + extra
    Y = instances.one_hot_labels(rng, n, C)
    lam, mu = instances.log_uniform(rng, 0.1, 1.0), instances.log_uniform(rng, 0.01, 0.1)
    K = flow_steady_state(bias_rhs, instances.generic_kernel(rng, n), Y, lam, mu)
    assert confirmed_rank(K) <= C - 1
    assert relative_error(np.linalg.eigvalsh(K)[::-1], bias_law_spectrum(Y, lam, mu)) < TOL.law
    assert np.linalg.norm(K.sum(axis=1)) < TOL.law * np.linalg.norm(K)


def test_E1_flow_agrees_with_the_direct_minimiser_and_the_model_without_bias_has_rank_C():
    rng = np.random.default_rng(5)
    Y, K0 = instances.one_hot_labels(rng, 8, 3), instances.generic_kernel(rng, 8)
    flow = flow_steady_state(bias_rhs, K0, Y, 0.4, 0.05)
    direct = minimise_bias_objective(Y, 0.4, 0.05, seed=2)
    assert relative_error(flow, direct) < TOL.law
    no_bias = steady_state(K0, Y, 0.4, 0.05)
    assert confirmed_rank(no_bias) == 3 > 3 - 1                      # the control breaks the bound C − 1
    assert relative_error(np.linalg.eigvalsh(direct)[::-1], water_filling_spectrum(Y, 0.4, 0.05)) > 1e-3


def test_E1_real_labels_reach_rank_C_not_less():
    """For real labels rank(YH) = C: the bound is C, and the flow fills all C modes (rank ≤ C, not ≤ C − 1)."""
    rng = np.random.default_rng(9)
    Y = instances.real_labels(rng, 9, 3) * 3
    K = flow_steady_state(bias_rhs, instances.generic_kernel(rng, 9), Y, 0.2, 0.01)
    assert confirmed_rank(K) == 3


def test_E1_arguments_are_validated():
    with pytest.raises(ValueError, match="K must be n × n"):
        bias_rhs(np.eye(3), np.ones((2, 4)), 0.1, 0.1)
    with pytest.raises(ValueError, match="lam must be"):
        bias_rhs(np.eye(4), np.ones((2, 4)), -1.0, 0.1)
    with pytest.raises(ValueError, match="K0"):
        flow_steady_state(bias_rhs, -np.eye(4), np.ones((2, 4)), 0.1, 0.1)


def test_E1_claim_passes_with_every_control_rejected():
    verdict = REGISTRY["E1"].check(Context())
    assert verdict.passed, verdict.reason
    assert all(c["rejected"] for c in verdict.details["controls"].values())


def test_E1_errors_name_the_argument_and_an_unconverged_flow_says_so():
    with pytest.raises(ValueError, match="mu must be"):
        bias_rhs(np.eye(4), np.ones((2, 4)), 0.1, -0.1)
    from verify import ConvergenceError

    rng = np.random.default_rng(0)
    with pytest.raises(ConvergenceError, match="no steady state by t = 0.01"):
        flow_steady_state(bias_rhs, instances.generic_kernel(rng, 5), instances.one_hot_labels(rng, 5, 2), 0.3,
                          0.05, max_time=0.01)


def test_E1_a_singular_resolvent_is_named_as_lam():
    K = np.array([[1.58080885e-22, -1.66095737e-22], [-1.66095737e-22, 1.74516949e-22]])
    with pytest.raises(ValueError, match=r"lam: HKH \+ λI is singular in float64 \(λ = 1e-300"):
        bias_rhs(K, np.array([[1e-300, 1e-300]]), 1e-300, 1e-300)
