"""The global-minimiser certificate of the kernel flow (T2, steps "gradient flow" and "convexity").

The kernel ODE descends L(K) = (λ/2)tr(S(K + λI)⁻¹) + (μ/2)tr K, which is convex on K ⪰ 0 with
∇L = (μI − D)/2, so K ⪰ 0 is its global minimiser — the water-filled steady state — iff (KKT)

    (D − μI)K = 0   and   λ_max(D) ≤ μ,        D = λZZᵀ,  Z = (K + λI)⁻¹Yᵀ  (n × C).

In this low-rank form the certificate costs one Cholesky factorisation of K + λI, O(n²C) for
(D − μI)K = λZ(ZᵀK) − μK, and a C × C eigenproblem for λ_max(D) = λ·λ_max(ZᵀZ). It needs no
integration and no Jacobian eigenvalue (the top eigenvector of D is the direction along which an
unfilled mode would grow). Both conditions are measured on the problem's own scales:

    stationarity = ‖(D − μI)K‖_F / (μ · max(‖K‖_F, floor)),     dual gap = (λ_max(D) − μ)/μ,

and the certificate passes when stationarity ≤ ``tol`` and the dual gap ≤ ``tol`` (a filled mode has
d = μ exactly, an empty one d < μ; a fillable mode left empty has d > μ).

>>> import numpy as np
>>> Y = np.array([[1.0, 1.0, 0.0]])
>>> K = kkt_certificate(np.diag([0.0, 0.0, 0.0]), Y, lam=0.5, mu=0.1)   # the empty kernel is no minimiser
>>> K.passed, round(K.dual_gap, 3)
(False, 39.0)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh

from verify.core import validation as v
from verify.core.tolerances import TOL
from verify.flows.scaling import ScaledProblem, safe_norm


@dataclass(frozen=True)
class KKTCertificate:
    """Stationarity and dual gap of a kernel as a minimiser of L (module docstring), and the growth direction."""

    stationarity: float
    dual_gap: float
    tolerance: float
    #: unit eigenvector of D for λ_max(D) (n,): the direction along which an empty fillable mode grows
    direction: np.ndarray
    #: what the certificate is about, as its text names it
    label = "KKT"

    @property
    def passed(self) -> bool:
        return bool(self.stationarity <= self.tolerance and self.dual_gap <= self.tolerance)

    def __str__(self) -> str:
        verdict = "global minimiser" if self.passed else "NOT the global minimiser"
        return (f"{self.label}: {verdict} (stationarity {self.stationarity:.3g}, dual gap {self.dual_gap:.3g}, "
                f"tolerance {self.tolerance:g})")


def label_factor(K: np.ndarray, Y: np.ndarray, lam: float) -> np.ndarray:
    """Z = (K + λI)⁻¹Yᵀ (n × C) by a Cholesky factorisation (K + λI is SPD for K ⪰ 0, λ > 0)."""
    try:
        factor = cho_factor(K + lam * np.eye(K.shape[0]), lower=True, check_finite=False)
    except LinAlgError:
        raise ValueError(f"K: K + λI is not positive definite (lam = {lam:g}); K must be a PSD kernel") from None
    return cho_solve(factor, Y.T, check_finite=False)


def kkt_certificate(K, Y, lam, mu, *, tol: float = TOL.steady_state, floor: float | None = None) -> KKTCertificate:
    """The KKT certificate of ``K`` as the minimiser of L (module docstring).

    ``K``: n × n PSD kernel; ``Y``: C × n labels; λ, μ > 0; ``tol``: bound on both measures; ``floor``:
    the smallest kernel norm stationarity is measured against (default TOL.steady_state_floor·λ). Evaluated in
    the flow's units (K/λ, Y/σ, λμ/σ²; :mod:`verify.flows.scaling`), where both measures are unchanged, so that
    kernels and labels from 1e-300 to 1e300 neither overflow nor underflow.
    """
    K = v.kernel("K", K)
    Y = v.matrix("Y", Y, cols=K.shape[0])
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    tol = v.positive("tol", tol)
    floor = TOL.steady_state_floor if floor is None else v.positive("floor", floor) / lam
    # both measures are invariant under the flow's symmetries: evaluate them in its units (λ = 1, ‖Ỹ‖₂ ≤ 1)
    scaled = ScaledProblem.of(K, Y, lam, mu)
    return scaled_kkt_certificate(scaled.K0, scaled.Y, scaled.mu, tol=tol, floor=max(floor, np.finfo(float).tiny))


def scaled_kkt_certificate(K, Y, mu: float, *, tol: float, floor: float) -> KKTCertificate:
    """The certificate in the flow's units (λ = 1; K, Y, μ already scaled, as :class:`ScaledProblem` holds them),
    for solvers that work in those units; ``floor`` in units of λ. No validation."""
    Z = label_factor(K, Y, 1.0)
    values, vectors = eigh(Z.T @ Z)
    direction = Z @ vectors[:, -1]
    norm = np.linalg.norm(direction)
    direction = direction / norm if norm > 0 else np.eye(K.shape[0])[0]
    excess = Z @ (Z.T @ K) - mu * K
    stationarity = safe_norm(excess) / (mu * max(safe_norm(K), floor))
    return KKTCertificate(float(stationarity), (float(values[-1]) - mu) / mu, tol, direction)
