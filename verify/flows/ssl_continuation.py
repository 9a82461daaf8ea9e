"""The SSL flow's steady state as the certified minimiser of its energy: Newton's method on a barrier path.

The SSL flow dK/dt = −(K∇E + ∇E K) descends E(K) = tr(AK) − β log det(K + εI) (A = L + μI), which is strictly
convex on K ⪰ 0 (T8, step "convexity": d²E[Δ, Δ] = β tr(RΔRΔ), R = (K + εI)⁻¹), so every positive definite
start flows to its unique minimiser over the PSD cone, characterised by KKT: ∇E·K = 0, ∇E ⪰ 0
(:mod:`verify.flows.ssl_kkt`). Modes with β/(ℓ + μ) ≤ ε are empty there, on the cone's boundary, so the
minimiser is followed along the barrier path

    φ_τ(K) = E(K) − τ log det K,     ∇φ_τ = A − βR − τK⁻¹,     τ → 0,

whose centre has ∇E = τK⁻¹, so the flow's residual there is exactly F = −(K∇E + ∇E K) = −2τI: ‖F‖/‖K‖ =
2τ√n/‖K‖ sets the last τ. The barrier is the energy's own log-det term with (β, ε) → (τ, 0), so its second
derivative is the same certified form, and both are diagonal in K's eigenbasis (K = U diag(w) Uᵀ, m = w + ε):

    d²φ_τ[Δ, Δ] = Σ_ij Δ̂_ij² (β/(m_i m_j) + τ/(w_i w_j)),   Δ̂ = UᵀΔU,

so each Newton step is exact — one ``eigh`` of K, Δ̂_ij = −Ĝ_ij/H_ij with Ĝ = Uᵀ∇φ_τU — damped by a backtracking
line search that keeps K ≻ 0 and decreases φ_τ. Nothing about L's eigenbasis is used: the answer is decided by
the flow's residual ‖F‖/‖K‖ < tol, generated from the derived right-hand side, and by the KKT certificate.
Cost: O(n³) per Newton step (an eigh and four products), typically 20–40 steps; no n² × n² matrix.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from verify.core.errors import ConvergenceError
from verify.flows.pseudo_transient import PSD_SLACK
from verify.flows.scaling import safe_norm
from verify.flows.ssl_kkt import SSLCertificate, scaled_ssl_certificate

#: the barrier weight τ is divided by this after each centring
TAU_DECREASE = 100.0
#: first barrier weight, relative to the energy's scale (‖A‖₂ · the law's largest eigenvalue)
FIRST_TAU = 0.1
#: most Newton steps in all before ConvergenceError (a generic problem needs 20–40)
MAX_NEWTON = 300
#: a start's eigenvalues are raised to at least this fraction of the law's scale (the barrier needs K ≻ 0)
START_FLOOR = 1e-3
#: the barrier's last shift of a filled mode, relative to tol (the answer is then as exact as the law's float64)
FINAL_SHIFT = 0.1
#: Newton steps on the flow's own equation after the path (each kept only if the residual falls)
POLISH_STEPS = 3
#: GMRES iterations per polishing step (K nearly commutes with L there: a handful suffice)
POLISH_KRYLOV = 50
#: Armijo fraction of the predicted decrease a damped step must achieve
ARMIJO = 0.25
#: Newton decrement², relative to φ's magnitude, below which full steps are taken without the Armijo test
ROUNDING_REGION = 1e-8


class BarrierPath:
    """φ_τ of the scaled SSL energy (‖A‖₂ = 1, max(β, ε) = 1), its exact Newton step and the flow's residual."""

    def __init__(self, A: np.ndarray, beta: float, eps: float, floor: float, rhs):
        self.A, self.beta, self.eps, self.floor, self.rhs = A, beta, eps, floor, rhs
        self.n = A.shape[0]

    def value(self, w: np.ndarray, A_hat: np.ndarray, tau: float) -> tuple[float, float]:
        """(φ_τ, the sum of its terms' magnitudes: its rounding scale) at K = U diag(w) Uᵀ with Â = UᵀAU (w > 0)."""
        trace = np.diag(A_hat) * w
        energy = self.beta * np.log1p(w / self.eps)  # log det(K + εI) − n log ε, exact for w ≪ ε
        barrier = tau * np.log(w)
        terms = trace - energy - barrier
        return float(np.sum(terms)), float(np.sum(np.abs(trace) + np.abs(energy) + np.abs(barrier)))

    def residual(self, K: np.ndarray) -> float:
        """‖F(K)‖_F / max(‖K‖_F, floor) with F the generated right-hand side of the SSL flow."""
        return safe_norm(self.rhs(K)) / max(safe_norm(K), self.floor, np.finfo(float).tiny)

    def newton(self, w: np.ndarray, U: np.ndarray, tau: float):
        """(w, U, Newton decrement², φ's magnitude) after one damped Newton step on φ_τ from K = U diag(w) Uᵀ.

        The state is kept factored: an empty mode's eigenvalue (≈ τ/(ℓ + μ − β/ε)) may lie far below the rounding
        of a dense K, and only the factored form keeps it positive."""
        A_hat = U.T @ self.A @ U
        m = w + self.eps
        gradient = A_hat - np.diag(self.beta / m + tau / w)
        hessian = self.beta / np.outer(m, m) + tau / np.outer(w, w)
        step = -gradient / hessian
        decrement = float(np.sum(gradient * gradient / hessian))
        value, magnitude = self.value(w, A_hat, tau)
        t = 1.0
        while t > 1e-12:
            moved = np.diag(w) + t * step
            w_new, V = np.linalg.eigh((moved + moved.T) / 2)
            if w_new[0] > 0:
                trial, _ = self.value(w_new, V.T @ A_hat @ V, tau)
                # near the centre φ's decrease (≈ decrement/2) is lost in the rounding of its n terms: there the
                # full Newton step is taken (the residual and the certificate judge the end, not φ)
                if trial <= value - ARMIJO * t * decrement or decrement <= ROUNDING_REGION * magnitude:
                    return w_new, U @ V, decrement, magnitude
            t /= 2
        raise ConvergenceError(f"ssl_steady_state: no damped Newton step decreases the barrier energy (τ = {tau:.3g}, "
                               f"Newton decrement² {decrement:.3g})")


    def jvp_in_eigenbasis(self, w: np.ndarray, A_hat: np.ndarray, E: np.ndarray) -> np.ndarray:
        """UᵀJ[UEUᵀ]U at K = U diag(w) Uᵀ (Â = UᵀAU): −(EÂ + ÂE) + 2βε r_i r_j E_ij with r = 1/(w + ε)."""
        r = 1.0 / (w + self.eps)
        return -(E @ A_hat + A_hat @ E) + 2 * self.beta * self.eps * np.outer(r, r) * E

    def polish(self, w: np.ndarray, U: np.ndarray, steps: int = POLISH_STEPS):
        """(w, U) after up to ``steps`` Newton steps on the flow's own equation F(K) = 0 (no barrier), each kept only
        if the residual falls and K stays PSD: the barrier's last shift of the filled modes (≈ τ/β) and the empty
        modes' τ-sized eigenvalues are removed to the rounding of the law. In K's eigenbasis (Â = UᵀAU,
        r = 1/(w + ε)) the step solves J[δ] = −F̂ with J[E] = −(EÂ + ÂE) + 2βε (r_i r_j E_ij) (T8's factored
        Jacobian) by GMRES, preconditioned by J's diagonal −(Â_ii + Â_jj) + 2βε r_i r_j — J itself where K commutes
        with L, as it nearly does here."""
        n, shape = self.n, (self.n * self.n,) * 2
        residual = self.residual((U * w) @ U.T)
        for _ in range(steps):
            A_hat = U.T @ self.A @ U
            r = 1.0 / (w + self.eps)
            F = -(w[:, None] * A_hat + A_hat * w[None, :]) + 2 * self.beta * np.diag(1.0 - self.eps * r)
            kronecker = 2 * self.beta * self.eps * np.outer(r, r)
            diagonal = np.diag(A_hat)
            preconditioner = (kronecker - diagonal[:, None] - diagonal[None, :]).ravel()
            if np.any(preconditioner >= 0):
                break  # not in the stable basin of a Newton step (a mode at its threshold): keep the path's end

            def apply(x):
                return self.jvp_in_eigenbasis(w, A_hat, x.reshape(n, n)).ravel()

            delta, _ = gmres(LinearOperator(shape, matvec=apply), -F.ravel(),
                                M=LinearOperator(shape, matvec=lambda x: x / preconditioner),
                                rtol=1e-10, atol=0.0, restart=POLISH_KRYLOV, maxiter=1)
            if not np.all(np.isfinite(delta)):  # an inexact solve is fine: the residual test below judges the step
                break
            moved = np.diag(w) + delta.reshape(n, n)
            w_new, V = np.linalg.eigh((moved + moved.T) / 2)
            U_new = U @ V
            new_residual = self.residual((U_new * w_new) @ U_new.T)
            if not new_residual < residual or w_new[0] < -PSD_SLACK * max(w_new[-1], self.floor):
                break
            w, U, residual = np.maximum(w_new, 0.0), U_new, new_residual
        return w, U


def ssl_continuation_steady_state(L, mu, beta, eps, K0, tol: float, floor: float, rhs
                                  ) -> tuple[np.ndarray, SSLCertificate, int]:
    """(K∞, certificate, Newton steps) of the SSL flow in its own units (‖L‖₂ + μ = 1, max(β, ε) = 1; arguments
    validated by the caller; ``rhs(K)`` the generated right-hand side at these parameters): the minimiser of the
    module docstring, from K0 with its eigenvalues raised to START_FLOOR of the law's scale."""
    n = L.shape[0]
    A = L + mu * np.eye(n)
    empty = np.zeros((n, n))
    certificate = scaled_ssl_certificate(empty, L, mu, beta, eps, tol=10 * tol, floor=floor)
    if certificate.passed:  # β/ε ≤ ℓ + μ for every mode: K = 0 is the minimiser (and F(0) = 0 exactly)
        return empty, certificate, 0
    reference = max(beta / mu - eps, eps)  # the law's largest eigenvalue (the constant mode), or ε
    w, U = np.linalg.eigh((K0 + K0.T) / 2)
    size = max(float(w[-1]), 0.0)
    if not 1e-3 * reference <= size <= 1e3 * reference:  # the minimiser does not depend on the start
        w = w * (reference / size) if size > 0 else np.zeros(n)
    w = np.maximum(w, START_FLOOR * reference)
    path = BarrierPath(A, beta, eps, floor, rhs)
    tau = FIRST_TAU * reference
    steps = 0

    def dense():
        return (U * w) @ U.T

    def final_tau():
        """τ with ‖F‖/‖K‖ = 2τ√n/‖K‖ ≤ tol/2 and a filled mode's barrier shift (≈ τ/β relative) ≤ tol·FINAL_SHIFT."""
        return tol * min(max(float(np.sqrt(np.sum(w * w))), floor) / (4 * np.sqrt(n)), FINAL_SHIFT * beta)

    while True:
        last = tau <= final_tau()
        while True:
            steps += 1
            if steps > MAX_NEWTON:
                raise ConvergenceError(f"ssl_steady_state: the barrier path did not reach ‖dK/dt‖/‖K‖ < {tol:g} in "
                                       f"{MAX_NEWTON} Newton steps (τ = {tau:.3g}, residual {path.residual(dense()):.3g})")
            w, U, decrement, magnitude = path.newton(w, U, tau)
            if last and path.residual(dense()) < tol:
                break
            if not last and (decrement <= 1e-2 * tau * n or decrement <= ROUNDING_REGION * magnitude):
                break  # centred well enough (or as well as rounding allows) to move on along the path
            if decrement <= 1e-3 * np.finfo(float).eps * magnitude and last:
                raise ConvergenceError(f"ssl_steady_state: centred at τ = {tau:.3g} but ‖dK/dt‖/‖K‖ = "
                                       f"{path.residual(dense()):.3g} ≥ {tol:g} (rounding)")
        if last:
            break
        tau = max(tau / TAU_DECREASE, final_tau() / 2)
    w, U = path.polish(w, U)
    K = dense()
    K = (K + K.T) / 2
    certificate = scaled_ssl_certificate(K, L, mu, beta, eps, tol=10 * tol, floor=floor)
    if not certificate.passed:
        raise ConvergenceError(f"ssl_steady_state: the barrier path's end is not the energy's minimiser ({certificate})")
    return K, certificate, steps
