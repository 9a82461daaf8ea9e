"""Judge a candidate kernel ODE against ground truth that never uses the derived formula.

Ground truth for dK/dt at K = ΦᵀΦ (fast readout): the reduced objective
L*(Φ) = min_W L(W, Φ) is evaluated numerically — W by a numerical minimiser of the objective
(a least-squares solve of the stacked system for the squared loss, BFGS otherwise) — and
differentiated by central finite differences in every entry of Φ; by the envelope theorem this is
∂L/∂Φ at the optimal readout. Then Φ̇ = −∇L*(Φ) and K̇ = Φ̇ᵀΦ + ΦᵀΦ̇.

>>> import numpy as np
>>> from verify.flows.kernel_ode import kernel_ode_rhs
>>> check_kernel_ode(kernel_ode_rhs, seed=0).passed
True
>>> check_kernel_ode(lambda K, Y, lam, mu: kernel_ode_rhs(K, Y, lam, 2 * mu), seed=0).passed
False
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

from verify.core.linalg import relative_error
from verify.core.loss_numeric import numeric_loss
from verify.core.tolerances import TOL
from verify.core.verdict import Verdict, judge
from verify.truth import instances

#: central-difference step, relative to max |Φ_ij|: truncation O(h²) ≈ 1e-12, rounding O(ε/h) ≈ 1e-10
FD_STEP = 1e-6


def _squared_total(F: np.ndarray, Y: np.ndarray) -> float:
    """Σ_i ½‖f_i − y_i‖², written here rather than taken from any loss object (the default loss)."""
    return 0.5 * float(np.sum((F - Y) ** 2))


def optimal_readout(loss, Phi: np.ndarray, Y: np.ndarray, lam: float) -> np.ndarray:
    """argmin_W Σ_i ℓ(Wφ_i, y_i) + (λ/2)‖W‖², numerically (no closed form from theory is used).

    ``loss``: a loss with a SymPy expression (``theory.losses.Loss``), or None for the squared loss."""
    m = Phi.shape[0]
    if loss is None or loss.name == "squared":
        # ridge regression as ordinary least squares on the stacked system [Φᵀ; √λ I] Wᵀ = [Yᵀ; 0]
        A = np.vstack([Phi.T, np.sqrt(lam) * np.eye(m)])
        b = np.vstack([Y.T, np.zeros((m, Y.shape[0]))])
        return np.linalg.lstsq(A, b, rcond=None)[0].T
    total, gradient = numeric_loss(loss)
    C = Y.shape[0]

    def objective(w):
        W = w.reshape(C, m)
        F = W @ Phi
        return total(F, Y) + lam / 2 * np.sum(W**2), (gradient(F, Y) @ Phi.T + lam * W).ravel()

    res = minimize(objective, np.zeros(C * m), jac=True, method="BFGS", options={"gtol": 1e-13, "maxiter": 10000})
    return res.x.reshape(C, m)


def reduced_objective(loss, Phi, Y, lam, mu) -> float:
    """L*(Φ) = min_W L(W, Φ) evaluated numerically (``loss`` None: the squared loss)."""
    total = _squared_total if loss is None else numeric_loss(loss)[0]
    W = optimal_readout(loss, Phi, Y, lam)
    return total(W @ Phi, Y) + lam / 2 * np.sum(W**2) + mu / 2 * np.sum(Phi**2)


def kernel_velocity_by_finite_differences(Phi, Y, lam, mu, loss=None) -> np.ndarray:
    """K̇ = Φ̇ᵀΦ + ΦᵀΦ̇ with Φ̇ = −∇_Φ L*(Φ) by central differences (2mn objective evaluations).

    ``loss`` None: the squared loss Σ_i ½‖f_i − y_i‖²."""
    h = FD_STEP * max(1.0, np.abs(Phi).max())
    grad = np.empty_like(Phi)
    for idx in np.ndindex(Phi.shape):
        up, down = Phi.copy(), Phi.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (reduced_objective(loss, up, Y, lam, mu) - reduced_objective(loss, down, Y, lam, mu)) / (2 * h)
    phi_dot = -grad
    return phi_dot.T @ Phi + Phi.T @ phi_dot


def default_instances(rng: np.random.Generator, count: int = 6):
    """(Φ, Y, λ, μ) with n = 3..8, m ≥ n and m < n, one-hot and real targets, λ, μ log-uniform."""
    for k in range(count):
        n = int(rng.integers(3, 9))
        C = int(rng.integers(1, min(n, 4) + 1))
        m = n + 2 if k % 3 else max(1, n - 1)
        Y = instances.one_hot_labels(rng, n, C) if k % 2 else instances.real_labels(rng, n, C)
        Phi = instances.features(rng, m, n, scale=1.5)
        yield Phi, Y, instances.log_uniform(rng, 0.05, 2.0), instances.log_uniform(rng, 0.01, 0.5)


def check_kernel_ode(candidate: Callable, *, loss=None, instances=None, seed: int = 0, count: int = 6,
                     tolerance: float = TOL.finite_differences) -> Verdict:
    """Judge ``candidate(K, Y, lam, mu) -> dK/dt`` against finite differences of the objective.

    ``instances``: iterable of (Φ, Y, λ, μ); default: ``count`` random ones drawn with ``seed``.
    The error per instance is ‖candidate − K̇_fd‖_F / ‖K̇_fd‖_F; the verdict passes when every
    error is at most ``tolerance`` (TOL.finite_differences). A candidate that raises or returns
    the wrong shape fails with the reason.
    """
    if not callable(candidate):
        raise TypeError(f"candidate must be callable as candidate(K, Y, lam, mu), got {type(candidate).__name__}")
    cases = list(instances if instances is not None else default_instances(np.random.default_rng(seed), count))
    errors = []
    for Phi, Y, lam, mu in cases:
        Phi, Y = np.asarray(Phi, dtype=float), np.asarray(Y, dtype=float)
        truth = kernel_velocity_by_finite_differences(Phi, Y, lam, mu, loss)
        try:
            value = np.asarray(candidate(Phi.T @ Phi, Y, lam, mu), dtype=float)
            errors.append(relative_error(value, truth))
        except Exception as exc:  # a candidate's failure is a verdict, not a crash
            return Verdict("T2", False, len(errors) + 1, float("inf"), tolerance, seed,
                           f"candidate raised {type(exc).__name__}: {exc}")
    return judge("T2", errors, tolerance, seed, what="relative error against finite differences")
