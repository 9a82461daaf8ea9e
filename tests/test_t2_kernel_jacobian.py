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
from verify.core.tolerances import TOL
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


# --- the reduced shifted solve (steps "shifted solve" and "reduced equation") and Newton's method on it ---


def _shifted_instance(seed, n=9, C=3):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    F = rng.standard_normal((n, n))
    return B @ B.T / n, F + F.T, rng.standard_normal((C, n)), rng.standard_normal((n, C))


@pytest.mark.parametrize("seed", range(3))
def test_T2_reduced_system_is_the_generated_reduced_equation(seed):
    """The O(n²C) operator, right-hand side and δ(X) are the expressions certified in T2, generated into code."""
    from verify.flows.shifted_solve import ReducedSystem, compiled_reduced

    K, F, Y, X = _shifted_instance(seed)
    operator, candidate, right = compiled_reduced(3)
    system = ReducedSystem(K, Y, 0.3, 0.1, 0.7)
    pairs = ((system.apply(X), operator(K, X, Y, 0.3, 0.1, 0.7)), (system.right_side(F), right(K, F, Y, 0.3)),
             (system.delta(F, X), candidate(K, F, X, Y, 0.3, 0.1, 0.7)))
    for ours, generated in pairs:
        assert np.abs(ours - generated).max() <= TOL.generated_code * np.abs(generated).max()


@pytest.mark.parametrize("sigma", [0.7, 0.0, 5.0])
def test_T2_shifted_solve_solves_the_shifted_system_of_the_generated_jvp(sigma):
    """(σ − J)δ = F checked with the generated J[E]; a δ with the shift σ + μ (not σ + 2μ) in δ(X) fails the check."""
    from verify import kernel_ode_jvp, kernel_ode_shifted_solve
    from verify.flows.shifted_solve import ReducedSystem

    K, F, Y, _ = _shifted_instance(5)
    lam, mu = 0.3, 0.4
    delta = kernel_ode_shifted_solve(K, F, Y, lam, mu, sigma)
    residual = sigma * delta - kernel_ode_jvp(K, delta, Y, lam, mu) - F
    assert np.abs(residual).max() <= 1e-9 * np.abs(F).max()
    system = ReducedSystem(K, Y, lam, mu, sigma)
    X = np.linalg.lstsq(np.eye(9), np.zeros((9, 3)), rcond=None)[0]
    system.shift = sigma + mu  # the wrong shift
    wrong = system.delta(F, X)
    assert np.abs(sigma * wrong - kernel_ode_jvp(K, wrong, Y, lam, mu) - F).max() > 1e-3 * np.abs(F).max()


def test_T2_shifted_solve_names_its_bad_arguments():
    from verify import kernel_ode_shifted_solve

    K, F, Y, _ = _shifted_instance(0)
    with pytest.raises(ValueError, match="σ \\+ 2μ must be positive"):
        kernel_ode_shifted_solve(K, F, Y, 0.3, 0.1, -0.5)
    with pytest.raises(ValueError, match="F must be 9 × 9"):
        kernel_ode_shifted_solve(K, F[:8, :8], Y, 0.3, 0.1, 0.0)
    with pytest.raises(ValueError, match="sigma must be a finite real number"):
        kernel_ode_shifted_solve(K, F, Y, 0.3, 0.1, float("nan"))


def test_T2_exact_newton_returns_to_the_water_filled_state_quadratically():
    """From the water-filled state plus a 1e-3 perturbation, exact Newton steps reach the residual 1e-11 within 6
    steps (quadratic convergence: a wrong Jacobian would converge linearly at best)."""
    from verify import instances, steady_state
    from verify.flows.kernel_ode import compiled_rhs
    from verify.flows.shifted_solve import kernel_newton

    rng = np.random.default_rng(2)
    Y = instances.one_hot_labels(rng, 12, 3)
    K_inf = steady_state(instances.generic_kernel(rng, 12), Y, 1.0, 0.05)
    rhs = compiled_rhs(3)
    steps = []

    def residual(K):
        steps.append(K)
        return np.linalg.norm(rhs(K, Y, 1.0, 0.05)) / (0.1 * np.linalg.norm(K))

    B = rng.standard_normal((12, 12))
    start = K_inf + 1e-3 * np.linalg.norm(K_inf) * (B @ B.T) / 12
    root = kernel_newton(start, Y, 1.0, 0.05, 1e-11, residual, lambda K: rhs(K, Y, 1.0, 0.05))
    assert root is not None and len(steps) <= 7
    assert np.linalg.norm(root - K_inf) <= 1e-9 * np.linalg.norm(K_inf)


def test_T2_shifted_solve_at_ten_outputs_and_a_wide_spectrum_converges_through_its_preconditioner():
    """C = 10 needs about C² + 1 = 101 preconditioned GMRES iterations: a Krylov space of 20 (SciPy's default restart)
    or a preconditioner with the wrong resolvent would not reach the tolerance on this K (spectrum over 6 decades)."""
    from verify import kernel_ode_jvp, kernel_ode_shifted_solve

    rng = np.random.default_rng(8)
    n, C = 60, 10
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    K = (Q * np.logspace(-3, 3, n)) @ Q.T
    F = rng.standard_normal((n, n))
    F = F + F.T
    Y = rng.standard_normal((C, n))
    delta = kernel_ode_shifted_solve(K, F, Y, 1.0, 0.05, 0.2)
    assert np.abs(0.2 * delta - kernel_ode_jvp(K, delta, Y, 1.0, 0.05) - F).max() <= 1e-8 * np.abs(F).max()


def test_T2_shifted_solve_refuses_an_indefinite_kernel():
    from verify import kernel_ode_shifted_solve

    K, F, Y, _ = _shifted_instance(1)
    with pytest.raises(ValueError, match="K"):
        kernel_ode_shifted_solve(K - 10 * np.eye(9), F, Y, 0.3, 0.1, 0.0)


def test_T2_exact_newton_returns_none_when_its_step_budget_ends_short_of_the_tolerance(monkeypatch):
    """With exactly the steps it needs Newton returns the root; with one fewer it returns None, not the last iterate."""
    from verify import instances, steady_state
    from verify.flows import shifted_solve
    from verify.flows.kernel_ode import compiled_rhs

    rng = np.random.default_rng(2)
    Y = instances.one_hot_labels(rng, 12, 3)
    K_inf = steady_state(instances.generic_kernel(rng, 12), Y, 1.0, 0.05)
    rhs = compiled_rhs(3)
    B = rng.standard_normal((12, 12))
    start = K_inf + 1e-3 * np.linalg.norm(K_inf) * (B @ B.T) / 12

    def residual(K):
        return np.linalg.norm(rhs(K, Y, 1.0, 0.05)) / (0.1 * np.linalg.norm(K))

    solves = []
    solve = shifted_solve.solve_reduced
    monkeypatch.setattr(shifted_solve, "solve_reduced", lambda *a: solves.append(1) or solve(*a))

    def run(budget):
        monkeypatch.setattr(shifted_solve, "MAX_EXACT_NEWTON", budget)
        solves.clear()
        return shifted_solve.kernel_newton(start, Y, 1.0, 0.05, 1e-11, residual, lambda K: rhs(K, Y, 1.0, 0.05))

    needed = next(b for b in range(1, 10) if run(b) is not None)
    assert needed >= 2 and len(solves) == needed  # the root after the budget's last step is returned, not dropped
    assert run(needed - 1) is None
