"""The kernel flow in its own units: the scale symmetries, the residual floor, what float64 can resolve.

The flow has two exact symmetries, (K, Y, λ, μ, t) → (cK, cY, cλ, cμ, t/c) and (Y, μ, t) → (cY, c²μ, t/c²),
so the solvers work in units where λ = 1 and the labels' scale σ = max(‖Y‖₂, √(λμ)) is 1:

    K = λK̃,  Y = σỸ,  μ̃ = λμ/σ² ≤ 1,  dK̃/dτ = F(K̃, Ỹ, 1, μ̃)/ρ,  ρ = 1 + μ̃,  t = λτ/(σ²ρ),

and map the result back (:class:`ScaledProblem`). The residual cannot fall below about eps·cond(K̃ + I)
(:func:`attainable`), and below ``MIN_SCALED_DECAY`` the steady state lies beyond float64
(:func:`check_resolvable`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verify.core.tolerances import TOL

#: smallest scaled decay μ̃ = λμ/‖Y‖₂² for which steady states are computed: below it the filled modes
#: (κ̃ ≈ μ̃^(-1/2)) need ~1/μ̃ time units and K̃ + I is too ill-conditioned for the residual to reach tol
MIN_SCALED_DECAY = 1e-10
#: rounding floor of the residual: r cannot fall below about eps·cond(K̃ + I) ≈ eps·(1 + κ̃), so the
#: criterion is r < max(tol, RESIDUAL_NOISE·(1 + κ̃)) (≤ 2.2e-9 for μ̃ ≥ MIN_SCALED_DECAY, below TOL.law)
RESIDUAL_NOISE = 100 * np.finfo(float).eps


@dataclass(frozen=True)
class ScaledProblem:
    """The problem in the module's units: K̃0 = K0/λ, Ỹ = Y/σ, μ̃ = λμ/σ², time τ with t = λτ/(σ²ρ)."""

    K0: np.ndarray
    Y: np.ndarray
    mu: float
    lam: float
    sigma: float
    rho: float
    #: the kernel scale the flow ends at (floor = TOL.steady_state_floor · reference, in units of λ)
    reference: float

    #: ‖K̃0‖_F and the law's largest eigenvalue κ̃ (∞ with μ = 0)
    size: float
    law: float

    @classmethod
    def of(cls, K0, Y, lam, mu) -> "ScaledProblem":
        top = np.abs(Y).max()
        norm_Y = float(np.linalg.norm(Y / top, 2) * top) if top > 0 else 0.0
        # σ = max(‖Y‖₂, √(λμ)): then μ̃ ≤ 1 and ‖Ỹ‖₂ ≤ 1, whatever the scales (any σ > 0 is a symmetry)
        sigma = max(norm_Y, np.sqrt(lam) * np.sqrt(mu)) or np.sqrt(lam)
        Y_s = Y / sigma
        mu_s = min((lam / sigma) * (mu / sigma), 1.0)  # no λμ product: it underflows at 1e-162 scales
        s_top = (norm_Y / sigma) ** 2
        law = (np.sqrt(s_top / mu_s) - 1.0 if s_top > mu_s else 0.0) if mu_s > 0 else np.inf
        with np.errstate(over="ignore"):
            K0_s = K0 / lam
        if not np.all(np.isfinite(K0_s)):
            raise ValueError(f"K0: K0/λ overflows float64 (max|K0| = {np.abs(K0).max():.3g}, lam = {lam:.3g}); the flow is "
                             "solved in units of λ — rescale K0, or raise lam")
        size = safe_norm(K0_s)
        # kernels below 1e-250 (in units of λ) are 0 here: the integrators' absolute tolerances stay normal floats
        reference = max(min(size, max(1.0, law)) if law > 0 else min(size, 1.0), 1e-250)
        return cls(K0_s, Y_s, mu_s, lam, sigma, 1.0 + mu_s, reference, size, law)

    def rate(self, K: np.ndarray) -> float:
        """Bound on the scaled flow's rates at K̃: ‖J‖ ≤ (6‖D̃‖₂ + 2μ̃)/ρ, with ‖D̃‖₂ = ‖(K̃ + I)⁻¹Ỹᵀ‖₂²
        (J[E] = E(D̃ − μ̃) + (D̃ − μ̃)E + K̃D̃'[E] + D̃'[E]K̃, D̃' = −(RED̃ + D̃ER), ‖K̃R‖ ≤ 1)."""
        Z = np.linalg.solve(K + np.eye(K.shape[0]), self.Y.T)
        return (6 * np.linalg.norm(Z, 2) ** 2 + 2 * self.mu) / self.rho

    @property
    def slowest(self) -> float:
        """The scaled decay rate 2μ̃/ρ of every mode outside the labels' span: the residual's time unit."""
        return 2 * self.mu / self.rho if self.mu > 0 else 1.0

    def time(self, tau: float) -> float:
        """Original time of scaled time τ (t = λτ/(σ²ρ), computed without overflow)."""
        return tau * (self.lam / self.sigma) / self.sigma / self.rho

    def tau(self, t: float) -> float:
        return min(t * (self.sigma / self.lam) * self.sigma * self.rho, np.finfo(float).max)

    @property
    def floor(self) -> float:
        return TOL.steady_state_floor * self.reference


def safe_norm(x) -> float:
    """‖x‖_F without overflow or underflow in the sum of squares (entries up to the largest float)."""
    top = float(np.abs(x).max()) if np.size(x) else 0.0
    return top * float(np.linalg.norm(x / top)) if top > 0 and np.isfinite(top) else top


def attainable(tol: float, scaled: ScaledProblem) -> float:
    """``tol``, raised to the residual's rounding floor RESIDUAL_NOISE·(1 + κ̃) where that is larger."""
    return max(tol, RESIDUAL_NOISE * (1.0 + scaled.law)) if np.isfinite(scaled.law) else tol


def check_resolvable(scaled: ScaledProblem, mu: float) -> None:
    """Refuse a problem whose scaled decay μ̃ = λμ/‖Y‖₂² is below :data:`MIN_SCALED_DECAY` (for μ > 0): its filled
    modes need ~1/μ̃ time units and K̃ + I is too ill-conditioned for the steady-state residual to converge in
    float64.

    Raises ValueError saying how large the steady state would be and what to change; returns None otherwise."""
    if mu > 0 and scaled.mu < MIN_SCALED_DECAY:  # (λμ/σ² may underflow to 0)
        raise ValueError(f"mu: λμ/‖Y‖₂² = {scaled.mu:.3g} is below {MIN_SCALED_DECAY:g}; the steady state (modes near "
                         f"√(λs/μ) ≈ {scaled.lam * scaled.law:.3g}) lies beyond float64 integration; raise mu or lam, "
                         f"or shrink Y (the law of verify.water_filling_spectrum needs no integration)")
