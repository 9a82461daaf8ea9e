"""The global-minimiser certificate of the SSL flow (T8, steps "resolvent form" and "convexity").

The SSL flow dK/dt = −(K∇E + ∇E K) descends E(K) = tr(LK) + μ tr K − β log det(K + εI), convex on K ⪰ 0 with
∇E = A − βR (A = L + μI, R = (K + εI)⁻¹), so K ⪰ 0 is E's global minimiser — the state the filter law
predicts — iff (KKT)

    ∇E·K = 0   and   ∇E ⪰ 0.

Both are measured against s = ‖A‖₂ + β‖R‖₂, the scale of the two terms that cancel in ∇E:

    stationarity = ‖∇E·K‖_F / (s · max(‖K‖_F, floor)),     dual gap = −λ_min(∇E)/s,

and the certificate passes when both are ≤ ``tol``. A fillable mode left empty (a state the flow leaves) has
λ_min(∇E) = ℓ + μ − β/ε < 0; its eigenvector is the direction along which the flow grows it. Cost: one
Cholesky factorisation and one symmetric eigenproblem of size n, in whatever basis K and L are given.

>>> import numpy as np
>>> L = np.array([[1.0, -1.0], [-1.0, 1.0]])
>>> cert = ssl_kkt_certificate(np.zeros((2, 2)), L, mu=0.1, beta=1.0, eps=0.1)   # ∇E = A − 10I: gap 9.9/12.1
>>> cert.passed, round(cert.dual_gap, 3)
(False, 0.818)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh

from verify.core import validation as v
from verify.core.tolerances import TOL
from verify.flows.kkt import KKTCertificate
from verify.flows.scaling import safe_norm


@dataclass(frozen=True)
class SSLCertificate(KKTCertificate):
    """Stationarity and dual gap of a kernel as a minimiser of the SSL energy (module docstring); ``direction`` is
    the unit eigenvector of ∇E for λ_min(∇E), along which an empty fillable mode grows."""

    label = "KKT (SSL energy)"


def ssl_units(L: np.ndarray, mu: float, beta: float, eps: float) -> tuple[float, float]:
    """(a, c) of the SSL flow's two exact symmetries, (K, β, ε) → (cK, cβ, cε) and (L, μ, β, t) → (aL, aμ, aβ, t/a):
    with a = ‖L‖₂ + μ and c = max(ε, β/a) the problem (L/a, μ/a, β/(ac), ε/c) has ‖A‖₂ = 1 and max(β, ε) = 1."""
    top = max(float(np.abs(L).max()), mu)
    a = float(np.linalg.norm(L / top, 2)) * top + mu
    return a, max(eps, beta / a)


def ssl_kkt_certificate(K, L, mu, beta, eps, *, tol: float | None = None) -> SSLCertificate:
    """Whether K ⪰ 0 minimises E(K) = tr(LK) + μ tr K − β log det(K + εI) (module docstring); ``tol`` defaults to
    10·TOL.steady_state. Computed in the flow's own units (:func:`ssl_units`), so any scale from 1e-300 to 1e300."""
    K = v.kernel("K", K)
    L = v.kernel("L", L)
    if L.shape != K.shape:
        raise ValueError(f"L must be {K.shape[0]} × {K.shape[0]} like K, got {L.shape}")
    mu, beta, eps = v.positive("mu", mu), v.nonnegative("beta", beta), v.positive("eps", eps)
    tol = 10 * TOL.steady_state if tol is None else v.positive("tol", tol)
    a, c = ssl_units(L, mu, beta, eps)
    return scaled_ssl_certificate(K / c, L / a, mu / a, beta / a / c, eps / c, tol=tol,
                                  floor=TOL.steady_state_floor * max(min(safe_norm(K / c), 1.0), 1e-250))


def scaled_ssl_certificate(K, L, mu, beta, eps, *, tol: float, floor: float) -> SSLCertificate:
    """The certificate of a problem already in the flow's units (arguments valid; see ssl_kkt_certificate)."""
    n = K.shape[0]
    try:
        factor = cho_factor(K + eps * np.eye(n), lower=True, check_finite=False)
    except LinAlgError:
        return SSLCertificate(np.inf, np.inf, tol, np.zeros(n))  # K + εI not PD: K is not even PSD
    R = cho_solve(factor, np.eye(n), check_finite=False)
    R = (R + R.T) / 2
    A = L + mu * np.eye(n)
    gradient = A - beta * R
    scale = np.linalg.norm(A, 2) + beta * np.linalg.norm(R, 2)
    values, vectors = eigh((gradient + gradient.T) / 2, check_finite=False)
    stationarity = safe_norm(gradient @ K) / scale / max(safe_norm(K), floor, np.finfo(float).tiny)
    return SSLCertificate(float(stationarity), float(-values[0] / scale), tol, vectors[:, 0])
