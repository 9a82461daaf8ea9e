"""The kernel ODE's shifted solve (σ − J)δ = F in n × C unknowns, and Newton's method built on it.

T2's steps "shifted solve" and "reduced equation" (``theory.derive_kernel_jacobian``): with R = (K + λI)⁻¹,
Z = R Yᵀ and Ẑ = (λI − K)Z (n × C), for any symmetric F

    δ(X) = (F + λ(XẐᵀ + ẐXᵀ))/(σ + 2μ)   solves   (σ − J)δ = F   once   (σ + 2μ)X − λR(XẐᵀ + ẐXᵀ)Z = R F Z,

an equation in n·C unknowns. Its operator costs O(n²C) per application after one Cholesky factorisation of
K + λI (X Ẑᵀ Z = X(ẐᵀZ) and Ẑ Xᵀ Z = Ẑ(XᵀZ) are n × C products through C × C matrices), so GMRES solves it
without ever forming the n² × n² Jacobian. The operator and δ(X) are generated from the certified expressions
(:func:`compiled_reduced`); the fast form here is held to them in the tests. :func:`kernel_newton` is Newton's
method on dK/dt = 0 with these exact steps (σ = 0), for steady states stable or not.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.sparse.linalg import LinearOperator, gmres

import theory
from theory import notation as nt
from verify.core import validation as v
from verify.core.errors import ConvergenceError
from verify.flows.codegen import generate
from verify.flows.kernel_ode import validate_problem
from verify.flows.scaling import safe_norm

#: GMRES tolerance of the reduced equation, relative to ‖RFZ‖
REDUCED_RTOL = 1e-12
#: most GMRES iterations (preconditioned, the equation needs about C² + 1)
MAX_KRYLOV = 200
#: most Newton steps of :func:`kernel_newton`
MAX_EXACT_NEWTON = 60


@lru_cache(maxsize=None)
def compiled_reduced(C: int):
    """(operator(K, X, Y, λ, μ, σ), candidate(K, F, X, Y, λ, μ, σ), right-hand side(K, F, Y, λ)) generated from the
    certified T2 expressions: (σ + 2μ)X − λR(XẐᵀ + ẐXᵀ)Z, δ(X) and R F Z."""
    from theory.t2_kernel_jacobian import F, R, X, Z, sigma

    jac = theory.derive_kernel_jacobian(C)
    operator = generate(jac.reduced_operator, (nt.K, X, nt.Y, nt.lam, nt.mu, sigma))
    candidate = generate(jac.shifted_candidate, (nt.K, F, X, nt.Y, nt.lam, nt.mu, sigma))
    right = generate(R * F * Z, (nt.K, F, nt.Y, nt.lam))
    return operator, candidate, right


class ReducedSystem:
    """The reduced equation at (K, Y, λ, μ, σ): one Cholesky factorisation of K + λI, then O(n²C) per product."""

    def __init__(self, K: np.ndarray, Y: np.ndarray, lam: float, mu: float, sigma: float):
        n = K.shape[0]
        self.factor = cho_factor(K + lam * np.eye(n), lower=True, check_finite=False)  # LinAlgError if not PD
        self.Z = cho_solve(self.factor, Y.T, check_finite=False)
        self.Z_hat = lam * self.Z - K @ self.Z
        self.lam, self.shift = lam, sigma + 2 * mu
        self.hat_Z = self.Z_hat.T @ self.Z  # ẐᵀZ (C × C)

    def preconditioner(self, K: np.ndarray):
        """X ↦ P⁻¹X for P(X) = (σ + 2μ)X − λR X (ẐᵀZ), the operator without its rank-C² part X ↦ λRẐ(XᵀZ):
        diagonal in K's eigenbasis (R = V diag(r) Vᵀ) times ẐᵀZ's (symmetric, C × C; ẐᵀZ = Zᵀ(λI − K)Z),
        P⁻¹X = V[(VᵀXW) / (σ + 2μ − λ r_i m_j)]Wᵀ — so GMRES on the preconditioned equation needs about C² + 1
        iterations whatever the spread of K's spectrum."""
        values, V = np.linalg.eigh(K)
        r = 1.0 / (np.clip(values, 0.0, None) + self.lam)
        m, W = np.linalg.eigh((self.hat_Z + self.hat_Z.T) / 2)
        denominator = self.shift - self.lam * np.outer(r, m)
        return lambda X: V @ ((V.T @ X @ W) / denominator) @ W.T

    def apply(self, X: np.ndarray) -> np.ndarray:
        """(σ + 2μ)X − λR(XẐᵀZ + ẐXᵀZ)."""
        inner = X @ self.hat_Z + self.Z_hat @ (X.T @ self.Z)
        return self.shift * X - self.lam * cho_solve(self.factor, inner, check_finite=False)

    def right_side(self, F: np.ndarray) -> np.ndarray:
        """R F Z."""
        return cho_solve(self.factor, F @ self.Z, check_finite=False)

    def delta(self, F: np.ndarray, X: np.ndarray) -> np.ndarray:
        """δ(X) = (F + λ(XẐᵀ + ẐXᵀ))/(σ + 2μ)."""
        cross = X @ self.Z_hat.T
        return (F + self.lam * (cross + cross.T)) / self.shift


def kernel_ode_shifted_solve(K, F, Y, lam, mu, sigma) -> np.ndarray:
    """δ with (σ − J(K))δ = F for the kernel ODE's Jacobian J at K,

        J[E] = −2μE + λ(XẐᵀ + ẐXᵀ),  X = (K + λI)⁻¹E Z,  Ẑ = (λI − K)Z,  Z = (K + λI)⁻¹Yᵀ,

    for K ⪰ 0 and F symmetric n × n, Y C × n, λ > 0, μ ≥ 0 and σ + 2μ > 0: GMRES on the certified n × C reduced
    equation, then δ(X) (module docstring). ConvergenceError when GMRES does not reach REDUCED_RTOL (σ at an
    eigenvalue of J)."""
    K, Y, lam, mu = validate_problem(K, Y, lam, mu, psd=True)
    F = v.kernel("F", F)
    if F.shape != K.shape:
        raise ValueError(f"F must be {K.shape[0]} × {K.shape[0]} like K, got {F.shape}")
    if not isinstance(sigma, (int, float, np.floating, np.integer)) or not np.isfinite(sigma):
        raise ValueError(f"sigma must be a finite real number, got {sigma!r}")
    return solve_reduced(K, F, Y, lam, mu, float(sigma))


def solve_reduced(K, F, Y, lam: float, mu: float, sigma: float) -> np.ndarray:
    """:func:`kernel_ode_shifted_solve` without argument validation (for solvers whose iterates are valid)."""
    if not sigma + 2 * mu > 0:
        raise ValueError(f"sigma: σ + 2μ must be positive (the reduced equation divides by it), got σ = {sigma!r}, "
                         f"μ = {mu!r}")
    system = ReducedSystem(K, Y, lam, mu, sigma)
    n, C = Y.shape[1], Y.shape[0]
    shape = (n * C, n * C)
    right = system.right_side(F)
    scale = safe_norm(right)
    if scale == 0:
        return F / system.shift
    inverse = system.preconditioner(K)
    X, info = gmres(LinearOperator(shape, matvec=lambda x: system.apply(x.reshape(n, C)).ravel()),
                    (right / scale).ravel(), rtol=REDUCED_RTOL, atol=0.0, restart=MAX_KRYLOV, maxiter=1,
                    M=LinearOperator(shape, matvec=lambda x: inverse(x.reshape(n, C)).ravel()))
    if info != 0 or not np.all(np.isfinite(X)):
        raise ConvergenceError(f"kernel_ode_shifted_solve: GMRES did not solve the reduced equation (info {info}); "
                               f"σ = {sigma:g} may be an eigenvalue of the Jacobian")
    return system.delta(F, X.reshape(n, C) * scale)


def kernel_newton(K, Y, lam: float, mu: float, tol: float, residual, rhs) -> np.ndarray | None:
    """Newton's method on F(K) = 0 from K with exact steps δ = (−J)⁻¹F (:func:`kernel_ode_shifted_solve` at
    σ = 0), each halved until ‖F‖ decreases and K + λI stays positive definite; the root once
    ``residual(K) < tol``, None if that is not reached (no descent, or MAX_EXACT_NEWTON steps). ``rhs(K)`` is F;
    ``residual(K)`` the caller's criterion."""
    norm = safe_norm(rhs(K))
    for _ in range(MAX_EXACT_NEWTON):
        if residual(K) < tol:
            return K
        try:
            step = solve_reduced(K, rhs(K), Y, lam, mu, 0.0)
        except (ConvergenceError, LinAlgError):
            return None
        t = 1.0
        while t > 1e-4:
            trial = K + t * step
            trial = (trial + trial.T) / 2
            try:
                np.linalg.cholesky(trial + lam * np.eye(K.shape[0]))
                trial_norm = safe_norm(rhs(trial))
            except np.linalg.LinAlgError:
                trial_norm = np.inf
            if trial_norm < (1 - 1e-4 * t) * norm:
                break
            t /= 2
        else:
            return None
        K, norm = trial, trial_norm
    return K if residual(K) < tol else None
