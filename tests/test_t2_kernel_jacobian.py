"""T2 continued: the Jacobian-vector product generated from the certified factored form, and the KKT
certificate of the global minimiser (theory/t2_kernel_jacobian.py, verify/flows/kkt.py).

Ground truth for J[E] is the complex-step derivative of the generated right-hand side (one complex
evaluation, exact to rounding for a rational function of K); a Jacobian with a wrong decay or a dropped
term is rejected by the same comparison. The KKT certificate passes at the flow's steady states and
rejects the start, a scaled steady state, an unstable steady state (a fillable mode left empty) and the
water-filled state of the wrong decay.
"""
from __future__ import annotations

import numpy as np
import pytest

import theory
from verify import steady_state
from verify.flows.kernel_ode import compiled_jvp, compiled_rhs, kernel_ode_jvp
from verify.flows.kkt import kkt_certificate, label_factor
from verify.flows.water_filling import mode_value
from verify.truth import instances

COMPLEX_STEP = 1e-30


def complex_step(K, E, Y, lam, mu):
    """d/dt F(K + tE) at t = 0 by one complex evaluation of the generated right-hand side."""
    return compiled_rhs(Y.shape[0])(K + 1j * COMPLEX_STEP * E, Y, lam, mu).imag / COMPLEX_STEP


def problem(seed, n=12, C=3, labels="real"):
    rng = np.random.default_rng(seed)
    K = instances.generic_kernel(rng, n)
    Y = instances.real_labels(rng, n, C) if labels == "real" else instances.one_hot_labels(rng, n, C)
    A = rng.standard_normal((n, n))
    return K, A + A.T, Y, instances.log_uniform(rng, 0.05, 2.0), instances.log_uniform(rng, 0.01, 0.5)


@pytest.mark.parametrize("seed", range(6))
def test_T2_generated_jvp_matches_the_complex_step_derivative(seed):
    K, E, Y, lam, mu = problem(seed, labels="real" if seed % 2 else "one-hot")
    truth = complex_step(K, E, Y, lam, mu)
    assert np.linalg.norm(kernel_ode_jvp(K, E, Y, lam, mu) - truth) <= 1e-12 * np.linalg.norm(truth)


@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_T2_jvp_at_extreme_label_scales_is_finite_and_scales_as_the_flow(scale):
    K, E, Y, lam, mu = problem(7)
    base = kernel_ode_jvp(K, E, Y, lam, mu)
    scaled = kernel_ode_jvp(K, E, Y * scale, lam, mu * scale**2)
    assert np.all(np.isfinite(scaled))
    assert np.linalg.norm(scaled / scale**2 - base) <= 1e-12 * np.linalg.norm(base)


def wrong_jvps():
    """Derivatives a derivation could get wrong: the decay halved, the drive's response dropped, a sign."""
    def half_decay(K, E, Y, lam, mu):
        return compiled_jvp(Y.shape[0])(K, E, Y, lam, mu) + mu * E

    def frozen_drive(K, E, Y, lam, mu):  # J[E] with D held fixed: E·D + D·E − 2μE
        Z = label_factor(K, Y, lam)
        D = lam * Z @ Z.T
        return E @ D + D @ E - 2 * mu * E

    def sign_flip(K, E, Y, lam, mu):
        return -compiled_jvp(Y.shape[0])(K, E, Y, lam, mu) - 4 * mu * E

    return [half_decay, frozen_drive, sign_flip]


@pytest.mark.parametrize("wrong", wrong_jvps(), ids=lambda f: f.__name__)
def test_T2_the_comparison_rejects_a_wrong_jacobian(wrong):
    K, E, Y, lam, mu = problem(3)
    truth = complex_step(K, E, Y, lam, mu)
    assert np.linalg.norm(wrong(K, E, Y, lam, mu) - truth) > 1e-3 * np.linalg.norm(truth)


def test_T2_jvp_refuses_bad_directions():
    K, E, Y, lam, mu = problem(0)
    with pytest.raises(ValueError, match="E"):
        kernel_ode_jvp(K, E[:3, :3], Y, lam, mu)
    with pytest.raises(ValueError, match="E"):
        kernel_ode_jvp(K, E + np.triu(np.ones_like(E)), Y, lam, mu)


def test_T2_jacobian_derivation_is_certified_for_one_to_three_outputs():
    for C in (1, 2, 3):
        jac = theory.derive_kernel_jacobian(C)
        assert jac.certified, C
        assert [s.name for s in jac.steps if s.claim == "T2"][-7:] == [
            "Jacobian", "factored Jacobian", "shifted solve", "reduced equation", "objective gradient",
            "gradient flow", "convexity"]


# --------------------------------------------------------------------------------------------------
# the KKT certificate


@pytest.mark.parametrize("seed, labels", [(0, "one-hot"), (1, "real"), (2, "one-hot"), (3, "real")])
def test_T2_kkt_certifies_the_flows_steady_state(seed, labels):
    K0, _, Y, lam, mu = problem(seed, n=10, C=2 + seed % 2, labels=labels)
    K_inf = steady_state(K0, Y, lam, mu)
    certificate = kkt_certificate(K_inf, Y, lam, mu, tol=1e-9)
    assert certificate.passed, certificate


def test_T2_kkt_certifies_the_empty_kernel_when_every_mode_is_below_threshold():
    Y = np.array([[0.1, 0.0, 0.1, 0.0]])
    lam, mu = 0.5, 1.0  # s = 0.02 < λμ: nothing fills
    assert kkt_certificate(np.zeros((4, 4)), Y, lam, mu).passed


def commuting_state(Y, lam, mu, empty=()):
    """The water-filled kernel V diag(κ∞) Vᵀ in the labels' right singular basis, with modes ``empty`` left at 0."""
    _, sigma, Vt = np.linalg.svd(Y)
    kappa = mode_value(sigma**2, lam, mu)
    kappa[list(empty)] = 0.0
    return (Vt[: sigma.size].T * kappa) @ Vt[: sigma.size]


def test_T2_kkt_rejects_the_wrong_kernels_and_names_the_growth_direction():
    rng = np.random.default_rng(5)
    Y = instances.labels_with_spectrum(rng, 9, np.array([3.0, 2.0, 1.5]))
    lam, mu = 0.4, 0.2
    assert kkt_certificate(commuting_state(Y, lam, mu), Y, lam, mu).passed
    # an unstable steady state: stationary (F = 0) but its second mode, fillable, is empty
    unstable = commuting_state(Y, lam, mu, empty=[1])
    certificate = kkt_certificate(unstable, Y, lam, mu)
    assert certificate.stationarity <= 1e-12 and certificate.dual_gap > 0.1 and not certificate.passed
    _, _, Vt = np.linalg.svd(Y)
    assert abs(abs(certificate.direction @ Vt[1]) - 1) < 1e-10  # it grows along the empty mode
    # not stationary: the state scaled by 1.001, the start, the state of the wrong decay
    for wrong in (commuting_state(Y, lam, mu) * 1.001, instances.generic_kernel(rng, 9), commuting_state(Y, lam, 2 * mu)):
        assert not kkt_certificate(wrong, Y, lam, mu).passed


def test_T2_kkt_refuses_a_kernel_that_is_not_psd_and_names_it():
    Y = np.array([[1.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="K"):
        kkt_certificate(-2 * np.eye(3), Y, 0.5, 0.1)
    with pytest.raises(ValueError, match="Y"):
        kkt_certificate(np.eye(3), Y[:, :2], 0.5, 0.1)


@pytest.mark.parametrize("n, C", [(1, 1), (4, 2), (7, 3)])
def test_T2_one_pass_jacobian_is_the_complex_step_jacobian(n, C):
    """verify.flows.kernel_ode.factored_jacobian (the implicit integrators' Jacobian) against the complex step of the
    generated right-hand side, column by column; a wrong decay is told apart by the same comparison."""
    from verify.flows.kernel_ode import factored_jacobian, jacobian_unchecked

    K, _, Y, lam, mu = problem(n + C, n=n, C=C)
    reference = jacobian_unchecked(compiled_rhs(C), K, Y, lam, mu)
    assert np.abs(factored_jacobian(K, Y, lam, mu) - reference).max() <= 1e-12 * np.abs(reference).max()
    assert np.abs(factored_jacobian(K, Y, lam, mu / 2) - reference).max() > 1e-3 * np.abs(reference).max()
