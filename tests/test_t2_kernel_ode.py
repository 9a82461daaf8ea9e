"""T2 kernel ODE: certified derivation, generated rhs against finite differences, wrong ODEs rejected."""
import random

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import theory
from theory import notation as nt
from theory.certify import evaluate, rational, rational_matrix
from verify import check_kernel_ode, drive_operator, instances, kernel_ode_rhs, numerical_rank
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.truth.finite_differences import kernel_velocity_by_finite_differences
from verify.truth.negative_controls import WRONG_KERNEL_ODES


def test_T2_structured_form_is_the_reference():
    """docs/theory.md#t2: dK/dt = K·D + D·K − 2μK with D = λ(K+λI)⁻¹S(K+λI)⁻¹."""
    from theory.certify import certify_identity
    from theory.t2_kernel_ode import D

    ode = theory.derive_kernel_ode(theory.losses.squared(2))
    assert ode.rhs_structured == nt.K * D + D * nt.K - 2 * nt.mu * nt.K
    R = (nt.K + nt.lam * nt.I_n).I
    assert certify_identity("D", ode.drive, nt.lam * R * nt.Y.T * nt.Y * R).passed


@given(n=st.integers(2, 6), m=st.integers(1, 6), C=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_T2_rhs_exact_against_entrywise_flow_of_the_loss(n, m, C, seed):
    """Exact arithmetic, random sizes: the closed form equals Φ̇ᵀΦ + ΦᵀΦ̇ with Φ̇ = −∂L/∂Φ at the exact W*."""
    ode = theory.derive_kernel_ode(theory.losses.squared(C))
    rng = random.Random(seed)
    Phi, Y = rational_matrix(rng, m, n), rational_matrix(rng, C, n)
    values = {nt.n: n, nt.m: m, nt.C: C, nt.Phi: Phi, nt.Y: Y, nt.K: Phi.T * Phi,
              nt.lam: rational(rng, positive=True), nt.mu: rational(rng, positive=True)}
    phi_dot = ode._exact_flow(values)
    assert evaluate(ode.rhs, values) == phi_dot.T * Phi + Phi.T * phi_dot


def test_T2_generated_rhs_passes_the_finite_difference_judge():
    verdict = check_kernel_ode(kernel_ode_rhs, seed=3, count=6)
    assert verdict.passed, verdict
    assert verdict.worst_error < TOL.finite_differences


@pytest.mark.parametrize("name", sorted(WRONG_KERNEL_ODES))
def test_T2_wrong_kernel_ode_is_rejected(name):
    verdict = check_kernel_ode(WRONG_KERNEL_ODES[name], seed=3, count=4)
    assert not verdict.passed
    assert verdict.worst_error > 100 * TOL.finite_differences, verdict


def test_T2_a_candidate_that_raises_fails_with_its_reason():
    def broken(K, Y, lam, mu):
        raise RuntimeError("not implemented")

    verdict = check_kernel_ode(broken, seed=0, count=2)
    assert not verdict.passed and "RuntimeError" in verdict.reason


@given(n=st.integers(2, 100), C=st.integers(1, 5), one_hot=st.booleans(), lam=st.floats(1e-2, 2.0),
       mu=st.floats(1e-3, 1.0), seed=st.integers(0, 2**16))
def test_T2_drive_is_psd_with_rank_at_most_C_and_rhs_symmetric(n, C, one_hot, lam, mu, seed):
    C = min(C, n)
    rng = np.random.default_rng(seed)
    Y = instances.one_hot_labels(rng, n, C) if one_hot else instances.real_labels(rng, n, C)
    K = instances.generic_kernel(rng, n)
    D = drive_operator(K, Y, lam)
    assert numerical_rank(D) <= C
    assert np.linalg.eigvalsh(D).min() >= -TOL.generated_code * np.abs(D).max()
    F = kernel_ode_rhs(K, Y, lam, mu)
    assert relative_error(F, F.T) <= TOL.generated_code


@given(n=st.integers(3, 7), extra=st.integers(-2, 3), C=st.integers(1, 3), one_hot=st.booleans(),
       seed=st.integers(0, 2**16))
def test_T2_rhs_against_finite_differences_on_random_instances(n, extra, C, one_hot, seed):
    C = min(C, n)
    rng = np.random.default_rng(seed)
    m = max(1, n + extra)
    Phi = instances.features(rng, m, n, scale=1.5)
    Y = instances.one_hot_labels(rng, n, C) if one_hot else instances.real_labels(rng, n, C)
    lam, mu = instances.log_uniform(rng, 0.05, 2.0), instances.log_uniform(rng, 0.01, 0.5)
    truth = kernel_velocity_by_finite_differences(Phi, Y, lam, mu)
    assert relative_error(kernel_ode_rhs(Phi.T @ Phi, Y, lam, mu), truth) <= TOL.finite_differences


def test_T2_closure_exact_at_n_16():
    """Exact arithmetic at n = m = 16: K̇ from the closed form equals Φ̇ᵀΦ + ΦᵀΦ̇ with the derived feature flow."""
    ode = theory.derive_kernel_ode(theory.losses.squared(3))
    flow = ode.step("feature flow").rhs
    from theory.certify import standard_instance

    values = standard_instance(random.Random(16), {nt.n: 16, nt.m: 16, nt.C: 3})
    phi_dot = evaluate(flow, values)
    assert evaluate(ode.rhs, values) == phi_dot.T * values[nt.Phi] + values[nt.Phi].T * phi_dot
    wrong = evaluate(ode.rhs, {**values, nt.mu: values[nt.mu] * 2})  # control: another μ is another flow
    assert wrong != phi_dot.T * values[nt.Phi] + values[nt.Phi].T * phi_dot


def test_T2_entrywise_flow_exact_at_n_11():
    """Sizes past 10 (entry symbols must stay distinct): the certificate route at n = 11, m = 2, C = 1."""
    ode = theory.derive_kernel_ode(theory.losses.squared(1))
    rng = random.Random(11)
    Phi, Y = rational_matrix(rng, 2, 11), rational_matrix(rng, 1, 11)
    values = {nt.n: 11, nt.m: 2, nt.C: 1, nt.Phi: Phi, nt.Y: Y, nt.K: Phi.T * Phi,
              nt.lam: sp.Rational(1, 2), nt.mu: sp.Rational(1, 7)}
    phi_dot = ode._exact_flow(values)
    assert evaluate(ode.rhs, values) == phi_dot.T * Phi + Phi.T * phi_dot
